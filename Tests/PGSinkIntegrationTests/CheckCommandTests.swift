import Foundation
import PGSink
import PGSinkCore
import Testing

/// `pgsink check` against a real server, for users that lack one privilege at a time.
@Suite("pgsink check")
struct CheckCommandTests {
    /// A role of its own, logging in without a password (the test server trusts 127.0.0.1).
    static func role(_ db: TestDatabase) throws -> (name: String, url: String) {
        let name = "chk_" + db.schema
        try db.connection.execute("CREATE ROLE \(quoteIdentifier(name)) LOGIN")
        var url = try #require(URLComponents(string: db.url))
        url.user = name
        return (name, url.string!)
    }

    static func lines(_ run: CommandLineTests.Run) -> [String] { run.stdout.split(separator: "\n").map(String.init) }

    @Test func everyCheckPassesForAUserWithWhatTheModeNeeds() throws {
        let db = try TestDatabase()
        let (role, url) = try Self.role(db)
        try db.connection.execute("GRANT USAGE, CREATE ON SCHEMA \(quoteIdentifier(db.schema)) TO \(quoteIdentifier(role))")
        try db.connection.execute("CREATE TABLE \(db.table("t").quoted) (id int)")
        try db.connection.execute("ALTER TABLE \(db.table("t").quoted) OWNER TO \(quoteIdentifier(role))")
        let run = try CommandLineTests.run(["check", "--to", url, "--table", "\(db.schema).t", "--mode", "merge"])
        #expect(run.status == 0, "\(run.stdout)")
        let lines = Self.lines(run)
        #expect(lines.allSatisfy { $0.hasPrefix("✓") }, "\(run.stdout)")
        for name in ["reachable", "TLS", "authenticated", "server", "CONNECT", "USAGE", "CREATE", "TEMPORARY", "INSERT, SELECT, UPDATE", "owner"] {
            #expect(lines.contains { $0.hasPrefix("✓ \(name):") }, "missing \(name) in \(run.stdout)")
        }
    }

    @Test func eachMissingPrivilegeIsAFailureWithItsGrant() throws {
        let db = try TestDatabase()
        let (role, url) = try Self.role(db)
        let schema = quoteIdentifier(db.schema), user = quoteIdentifier(role)
        // No USAGE, no CREATE on the schema.
        let bare = try CommandLineTests.run(["check", "--to", url, "--schema", db.schema])
        #expect(bare.status == 1)
        #expect(bare.stdout.contains("✗ USAGE: on schema \(db.schema)"), "\(bare.stdout)")
        #expect(bare.stdout.contains("fix: GRANT USAGE ON SCHEMA \(schema) TO \(user);"))
        #expect(bare.stdout.contains("fix: GRANT CREATE ON SCHEMA \(schema) TO \(user);"))
        // The table exists; append needs INSERT, replace DELETE, merge UPDATE.
        try db.connection.execute("GRANT USAGE, CREATE ON SCHEMA \(schema) TO \(user)")
        try db.connection.execute("CREATE TABLE \(db.table("t").quoted) (id int)")
        try db.connection.execute("GRANT SELECT ON \(db.table("t").quoted) TO \(user)")
        for (mode, missing) in [("append", "INSERT"), ("replace", "INSERT, DELETE"), ("merge", "INSERT, UPDATE")] {
            let run = try CommandLineTests.run(["check", "--to", url, "--table", "\(db.schema).t", "--mode", mode])
            #expect(run.status == 1)
            #expect(run.stdout.contains("fix: GRANT \(missing) ON \(db.table("t").quoted) TO \(user);"), "\(mode): \(run.stdout)")
            #expect(run.stdout.contains("✗ owner: of table \(db.schema).t"), "\(run.stdout)")
        }
        // A missing schema needs CREATE on the database.
        let missingSchema = try CommandLineTests.run(["check", "--to", url, "--table", "nowhere_\(db.schema).t"])
        #expect(missingSchema.status == 1)
        #expect(missingSchema.stdout.contains("✗ CREATE: on database pgsink_test (schema nowhere_\(db.schema) is missing"), "\(missingSchema.stdout)")
    }

    @Test func temporaryAndConnectOnADatabaseThatWithholdsThem() throws {
        let db = try TestDatabase()
        let (role, url) = try Self.role(db)
        let database = "chkdb_" + db.schema
        try db.connection.execute("CREATE DATABASE \(quoteIdentifier(database))")
        let other = url.replacingOccurrences(of: "/pgsink_test", with: "/" + database)
        let admin = try PGConnection.connect(db.url.replacingOccurrences(of: "/pgsink_test", with: "/" + database))
        try admin.execute("REVOKE TEMPORARY ON DATABASE \(quoteIdentifier(database)) FROM PUBLIC")
        try admin.execute("GRANT CREATE ON SCHEMA public TO \(quoteIdentifier(role))")
        let merge = try CommandLineTests.run(["check", "--to", other, "--mode", "merge"])
        #expect(merge.status == 1)
        #expect(merge.stdout.contains("✗ TEMPORARY"), "\(merge.stdout)")
        #expect(merge.stdout.contains("fix: GRANT TEMPORARY ON DATABASE \(quoteIdentifier(database)) TO \(quoteIdentifier(role));"))
        #expect(try CommandLineTests.run(["check", "--to", other, "--mode", "append"]).status == 0)
        try admin.execute("REVOKE CONNECT ON DATABASE \(quoteIdentifier(database)) FROM PUBLIC")
        let refused = try CommandLineTests.run(["check", "--to", other])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("✗ CONNECT"), "\(refused.stdout)")
        #expect(refused.stdout.contains("GRANT CONNECT ON DATABASE"), "\(refused.stdout)")
    }

    @Test func connectionFailuresSayWhatToDoAndNeverThePassword() throws {
        let services = try TestServices()
        let wrongPassword = try CommandLineTests.run([
            "check", "--to", "postgresql://pwuser:not-the-pw-9@127.0.0.1:\(services.tlsPort)/pgsink_test",
        ])
        #expect(wrongPassword.status == 1)
        #expect(wrongPassword.stdout.contains("✗ authenticated"), "\(wrongPassword.stdout)")
        #expect(wrongPassword.stdout.contains("fix: check the user name and password"))
        #expect(!wrongPassword.stdout.contains("not-the-pw-9") && !wrongPassword.stderr.contains("not-the-pw-9"))
        let plain = try CommandLineTests.run([
            "check", "--to", "host=127.0.0.1 port=\(services.tlsPort) user=sslonly dbname=pgsink_test sslmode=disable password=\(services.password)",
        ])
        #expect(plain.status == 1)
        #expect(plain.stdout.contains("✗ TLS"), "\(plain.stdout)")
        #expect(plain.stdout.contains("sslmode=require"))
        #expect(!plain.stdout.contains(services.password))
        let verified = try CommandLineTests.run([
            "check", "--to", services.tls("sslmode=verify-full sslrootcert=\(services.ca) password=\(services.password)"),
        ])
        #expect(verified.stdout.contains("✓ TLS: TLSv1"), "\(verified.stdout)")
        #expect(verified.stdout.contains("host name verified"))
        let refused = try CommandLineTests.run(["check", "--to", "postgresql://x@127.0.0.1:1/db"])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("✗ reachable"))
        #expect(refused.stdout.contains("is the server running"))
        // A port that accepts connections and never answers: connect_timeout expires.
        let (silent, port) = ConnectionTests.boundSocket(listening: true)
        defer { close(silent) }
        let timeout = try CommandLineTests.run(["check", "--to", "host=127.0.0.1 port=\(port) user=x dbname=x connect_timeout=1"])
        #expect(timeout.status == 1)
        #expect(timeout.stdout.contains("✗ reachable") && timeout.stdout.contains("timeout expired"), "\(timeout.stdout)")
        #expect(timeout.stdout.contains("firewalls"))
        let noSchema = try CommandLineTests.run(["check", "--to", "postgresql://x@127.0.0.1:1/db?bogus=1"])
        #expect(noSchema.status == 1)
        #expect(noSchema.stdout.contains("✗ configuration"))
    }
}
