import Foundation
import Logging
import PGSinkCore
import Testing

@testable import PGSink

/// Passwords in URIs as people paste them, and masking that never gives a password away.
@Suite("Secrets: unencoded URI passwords and masking")
struct SecretsTests {
    // MARK: the userinfo of a URI

    @Test(arguments: [
        ("postgresql://loader:Ab/cWrongPW+zz9==@host/db", "postgresql://loader:Ab%2FcWrongPW%2Bzz9%3D%3D@host/db"),
        ("postgresql://loader:p@ss@host:5432/db", "postgresql://loader:p%40ss@host:5432/db"),
        ("postgres://u:a/b@c:d#e?f@h1,h2:5433/db?sslmode=require", "postgres://u:a%2Fb%40c%3Ad%23e%3Ff@h1,h2:5433/db?sslmode=require"),
        ("postgresql://me@corp:pw@host/db", "postgresql://me%40corp:pw@host/db"),
        ("postgresql://u:50%off@host/db", "postgresql://u:50%25off@host/db"),
        ("postgresql://u:/lead@[::1]/db", "postgresql://u:%2Flead@[::1]/db"),
        // Already encoded, no userinfo, or an @ that belongs to the path or the query: unchanged.
        ("postgresql://loader:p%40ss%2F@host/db", "postgresql://loader:p%40ss%2F@host/db"),
        ("postgresql://host/db@x", "postgresql://host/db@x"),
        ("postgresql:///db?host=/var/run/postgresql&user=me@corp", "postgresql:///db?host=/var/run/postgresql&user=me@corp"),
        ("postgresql://u:pw@host/db?sslrootcert=/home/me@corp/ca.pem", "postgresql://u:pw@host/db?sslrootcert=/home/me@corp/ca.pem"),
        ("postgresql://host:5432/db?application_name=a@b", "postgresql://host:5432/db?application_name=a@b"),
        ("host=h user=u password=a/b@c dbname=d", "host=h user=u password=a/b@c dbname=d"),
    ])
    func userinfoIsEncodedForLibpq(_ given: String, _ expected: String) {
        #expect(ConnectionString.encodingUserinfo(given) == expected)
    }

    @Test func libpqReadsThePasswordThatWasMeant() throws {
        let password = "Ab/c@d:e#f?g%zz9=="
        let settings = try ConnectionSettings(string: "postgresql://loader:\(password)@db.example:6543/shop?search_path=raw")
        let options = try settings.effectiveOptions()
        #expect(options["password"] == password)
        #expect(options["user"] == "loader")
        #expect(options["host"] == "db.example")
        #expect(options["port"] == "6543")
        #expect(options["dbname"] == "shop")
        #expect(settings.schema == "raw")
        #expect(!settings.summary.contains("Ab") && !settings.summary.contains("zz9"))
    }

    // MARK: masking

    @Test func aPasswordThatIsAWordIsMaskedAsAValueOnly() {
        let libpq = #"connection to server at "127.0.0.1", port 5433 failed: FATAL:  password authentication failed for user "pwuser""#
        #expect(Secrets.mask("failed", in: libpq) == libpq)
        #expect(Secrets.mask("pass", in: libpq) == libpq)
        #expect(Secrets.mask("failed", in: "user=u password=failed host=h") == "user=u password=*** host=h")
        #expect(Secrets.mask("failed", in: "postgresql://u:failed@h/db") == "postgresql://u:***@h/db")
        #expect(Secrets.mask("failed", in: #"{"password":"failed"}"#) == #"{"password":"***"}"#)
        #expect(Secrets.mask("failed", in: "role 'failed' does not exist") == "role '***' does not exist")
        #expect(Secrets.redact(libpq, knownSecrets: ["failed"]) == libpq)
        #expect(Secrets.redact("password=failed and it failed", knownSecrets: ["failed"]) == "password=*** and it failed")
    }

    @Test func aPasswordWithOtherCharactersIsMaskedWherever() {
        #expect(Secrets.mask("Ab/cW", in: "a Ab/cW b xAb/cWx") == "a *** b x***x")
        #expect(Secrets.mask("s3cret", in: "it is s3cret.") == "it is ***.")
        #expect(Secrets.redact("postgresql://u:a/b@c@host/db", knownSecrets: []) == "postgresql://u:***@host/db")
        let json = #"{"source":"https://h:8080/x","owner":"a@b"}"#
        #expect(Secrets.redact(json, knownSecrets: []) == json, "a URI's mask ends with its quoted string")
    }

    // MARK: real servers

    /// A role on the password-checking TLS server whose password needs every kind of escaping.
    static let awkward = "Ab/c@d:e#f?g+zz9=="

    @Test func anUnencodedPasswordConnectsFromEveryPlaceAURIComesFrom() throws {
        let services = try TestServices()
        let role = "raw_" + UUID().uuidString.prefix(8).lowercased()
        try TLSTestRoles.create(role, password: Self.awkward, services: services)
        let uri = "postgresql://\(role):\(Self.awkward)@127.0.0.1:\(services.tlsPort)/pgsink_test?sslmode=require"
        #expect(try TestServices.connect(uri).user == role)
        // --to, PGSINK_URL, DATABASE_URL and a config file's url, through the command line.
        let authenticated = "✓ authenticated: as \(role) with a password"
        let to = try CommandLineTests.run(["check", "--to", uri])
        #expect(to.stdout.contains(authenticated), "\(to.stdout)\(to.stderr)")
        for name in ["PGSINK_URL", "DATABASE_URL"] {
            let run = try CommandLineTests.run(["check"], environment: [name: uri], removing: ["PGSINK_URL", "DATABASE_URL"].filter { $0 != name })
            #expect(run.stdout.contains(authenticated), "\(name): \(run.stdout)\(run.stderr)")
        }
        let yaml = try TestDatabase.file("pgsink.yaml", "destination:\n  url: '\(uri)'\n")
        let config = try CommandLineTests.run(["check", "--config", yaml])
        #expect(config.stdout.contains(authenticated), "\(config.stdout)\(config.stderr)")
        for run in [to, config] { #expect(!run.stdout.contains(Self.awkward) && !run.stderr.contains(Self.awkward)) }
        // Singer's sqlalchemy_url.
        let singer = try SingerConfig([
            "sqlalchemy_url": "postgresql+psycopg2://\(role):\(Self.awkward)@127.0.0.1:\(services.tlsPort)/pgsink_test"
        ])
        let connection = try #require(singer.connection)
        #expect(try Connector(connection, logger: Logger(label: "test"), retries: 0).connect().user == role)
    }

    /// The whole of what the command line says for a wrong password, for a password that is an
    /// English word and one full of URI delimiters.
    @Test(arguments: ["failed", "Q1/Q2@Q3:Q4#Q5?Q6"])
    func aWrongPasswordIsReportedWithoutIt(_ password: String) throws {
        let services = try TestServices()
        let uri = "postgresql://pwuser:\(password)@127.0.0.1:\(services.tlsPort)/pgsink_test?sslmode=require"
        let expected = "pgsink: could not connect to PostgreSQL: connection to server at \"127.0.0.1\", port \(services.tlsPort) "
            + "failed: FATAL:  password authentication failed for user \"pwuser\"; nothing was committed\n"
        let run = try CommandLineTests.run(["load", "/etc/hostname", "--format", "csv", "--to", uri])
        #expect(run.status == 1)
        #expect(run.stderr == expected)
        // The same password in key=value form, and pgsink check.
        let pairs = "host=127.0.0.1 port=\(services.tlsPort) user=pwuser dbname=pgsink_test sslmode=require password=\(ConnectionString.quote(password))"
        let keyValue = try CommandLineTests.run(["load", "/etc/hostname", "--format", "csv", "--to", pairs])
        #expect(keyValue.stderr == expected)
        let check = try CommandLineTests.run(["check", "--to", uri])
        #expect(check.status == 1)
        #expect(check.stdout.contains("password authentication failed for user \"pwuser\""), "\(check.stdout)")
        for output in [run.stderr, keyValue.stderr, check.stdout, check.stderr] {
            #expect(!output.contains("***"), "nothing here is a value to mask: \(output)")
            if password != "failed" {
                #expect(!output.contains(password))
                for part in password.split(whereSeparator: { "/@:#?".contains($0) }) { #expect(!output.contains(part)) }
            }
            #expect(!output.contains("pwuser:"))
        }
    }
}
