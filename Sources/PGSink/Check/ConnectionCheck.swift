import Foundation
import Logging
import PGSinkCore

/// `pgsink check`: can this configuration load into this table in this mode? One line per check,
/// and for every failure what to do about it.
public struct CheckResult: Sendable, Equatable {
    public var passed: Bool
    public var name: String
    public var detail: String
    /// For a failure: what to do (a GRANT statement, a setting to change).
    public var fix: String?

    public init(passed: Bool, name: String, detail: String, fix: String? = nil) {
        self.passed = passed
        self.name = name
        self.detail = detail
        self.fix = fix
    }

    public var text: String {
        var line = "\(passed ? "✓" : "✗") \(name): \(detail)"
        if let fix, !passed { line += "\n    fix: \(fix)" }
        return Secrets.redact(line)
    }
}

public enum ConnectionCheck {
    /// What a load needs of the table: the write mode, and whether it deletes stale rows.
    public struct Target: Sendable {
        public var schema: String
        public var table: String?
        public var mode: LoadMode
        public var deleteStale: Bool
        /// `pgvector_config` is set: the vector extension must be there or be creatable.
        public var embeddings: Bool
        /// The Citus options: asked for, the server must be a Citus coordinator.
        public var distribution: Distribution

        public init(
            schema: String, table: String?, mode: LoadMode, deleteStale: Bool = false, embeddings: Bool = false,
            distribution: Distribution = Distribution()
        ) {
            self.schema = schema
            self.table = table
            self.mode = mode
            self.deleteStale = deleteStale
            self.embeddings = embeddings
            self.distribution = distribution
        }
    }

    /// Runs every check it can: after a failed connection, only that failure is reported.
    public static func run(_ connector: Connector, target: Target) -> [CheckResult] {
        let started = Date()
        let connection: PGConnection
        do {
            connection = try connector.connect()
        } catch {
            return [diagnose(error, settings: connector.settings)]
        }
        let millis = Int(Date().timeIntervalSince(started) * 1000)
        var results = [
            CheckResult(passed: true, name: "reachable", detail: "\(connection.option("host") ?? "?"):\(connection.option("port") ?? "?") answered in \(millis) ms"),
            tls(connection),
            CheckResult(
                passed: true, name: "authenticated",
                detail: "as \(connection.user)\(connection.usedPassword ? " with a password" : " without a password (trust, peer or certificate)")"),
        ]
        // The connector refuses servers older than PostgreSQL 12 (see the rule in `diagnose`).
        results.append(CheckResult(
            passed: true, name: "server",
            detail: "PostgreSQL \(connection.parameter("server_version") ?? String(connection.serverVersion))"))
        do {
            results += try privileges(on: connection, target: target)
        } catch {
            results.append(CheckResult(passed: false, name: "privileges", detail: "could not be read: \(error)"))
        }
        if let table = target.table { results.append(hiddenTables(of: TableName(schema: target.schema, name: table), on: connection)) }
        if target.embeddings { results.append(pgvector(on: connection)) }
        if let citus = citus(on: connection, target: target) { results.append(citus) }
        return results
    }

    /// pgvector_config needs the vector extension: installed, or creatable by this role.
    static func pgvector(on connection: PGConnection) -> CheckResult {
        do {
            let database = try connection.execute("SELECT current_database()").value(0, 0) ?? "?"
            if let version = try connection.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'").value(0, 0) {
                return CheckResult(passed: true, name: "pgvector", detail: "extension vector \(version) installed in \(database)")
            }
            guard let available = try connection.execute(
                "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'").value(0, 0)
            else {
                return CheckResult(
                    passed: false, name: "pgvector", detail: "the server has no pgvector extension (pgvector_config needs it)",
                    fix: "install pgvector on the server (Debian: apt install postgresql-<version>-pgvector), then run "
                        + "CREATE EXTENSION vector; in \(database)")
            }
            if try connection.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").value(0, 0) == "t" {
                return CheckResult(
                    passed: true, name: "pgvector",
                    detail: "vector \(available) is available; the first load creates it (CREATE EXTENSION vector)")
            }
            return CheckResult(
                passed: false, name: "pgvector",
                detail: "vector \(available) is available but not installed in \(database), and \(connection.user) cannot create it",
                fix: "as a superuser, run CREATE EXTENSION vector; in \(database)")
        } catch {
            return CheckResult(passed: false, name: "pgvector", detail: "could not be read: \(error)")
        }
    }

    /// Hidden tables killed parallel loads into the table left behind: dropped here, as the next
    /// load of the table would.
    static func hiddenTables(of table: TableName, on connection: PGConnection) -> CheckResult {
        do {
            let (dropped, live) = try Catalog.dropAbandonedHiddenTables(
                of: table, on: connection, logger: Logger(label: "pgsink.check"))
            var detail = dropped.isEmpty ? "none left by killed parallel loads" : "dropped \(dropped.joined(separator: ", ")), left by killed parallel loads"
            if !live.isEmpty { detail += "; \(live.joined(separator: ", ")) in use by a running parallel load" }
            return CheckResult(passed: true, name: "hidden tables", detail: detail)
        } catch {
            return CheckResult(
                passed: false, name: "hidden tables", detail: "a table left by a killed parallel load could not be dropped: \(error)",
                fix: "drop the _pgsink_parallel_\(table.name)_… tables of \(table.schema) as their owner")
        }
    }

    static func tls(_ connection: PGConnection) -> CheckResult {
        let mode = connection.option("sslmode") ?? "prefer"
        guard let proto = connection.tlsProtocol else {
            return CheckResult(
                passed: true, name: "TLS", detail: "not in use (sslmode=\(mode)); set sslmode=verify-full to encrypt and verify")
        }
        let verified: String
        switch mode {
        case "verify-full": verified = "the server's certificate and host name verified"
        case "verify-ca": verified = "the server's certificate verified (not its host name)"
        default: verified = "the server's certificate not verified (sslmode=\(mode)); use verify-full with sslrootcert to verify it"
        }
        return CheckResult(passed: true, name: "TLS", detail: "\(proto), \(verified)")
    }

    /// A failed connection, explained in the spirit of Nilus's troubleshooting table.
    static func diagnose(_ error: Error, settings: ConnectionSettings) -> CheckResult {
        let message = Secrets.redact("\(error)")
        if message.contains("permission denied for database") {
            let options = (try? settings.effectiveOptions()) ?? [:]
            let database = quoteIdentifier(options["dbname"] ?? "DATABASE"), user = quoteIdentifier(options["user"] ?? "USER")
            return CheckResult(
                passed: false, name: "CONNECT", detail: message, fix: "GRANT CONNECT ON DATABASE \(database) TO \(user);")
        }
        let rules: [(String, String, String)] = [
            ("needs PostgreSQL 12 or newer", "server", "upgrade the server to PostgreSQL 12 or newer"),
            ("password authentication failed", "authenticated",
             "check the user name and password (the password field, PGPASSWORD or ~/.pgpass); the password may have been rotated"),
            ("no password supplied", "authenticated", "give a password (password field, PGPASSWORD or ~/.pgpass)"),
            ("certificate authentication failed", "authenticated",
             "the client certificate's CN must be the user name; give sslcert and sslkey for that user"),
            ("role", "authenticated", "the user does not exist: CREATE ROLE … LOGIN, or fix the user name"),
            ("does not exist", "database", "create the database (CREATE DATABASE …) or fix the database name"),
            ("timeout expired", "reachable",
             "the network path is blocked or the host is wrong: check host and port, firewalls and security groups, and that this machine's address is allowed"),
            ("Connection refused", "reachable", "nothing listens there: is the server running, and are host and port right?"),
            ("could not translate host name", "reachable", "the host name does not resolve: check the host field"),
            ("No such file or directory", "reachable", "no server socket there: is the server running, and is host the right socket folder?"),
            ("does not match host name", "TLS",
             "under verify-full the certificate must name the host you connect to: connect by the name in the certificate, or use sslmode=verify-ca"),
            ("certificate verify failed", "TLS",
             "the server's certificate does not chain to sslrootcert: give the CA that signed it (sslrootcert), or use sslmode=require to encrypt without verifying"),
            ("root certificate file", "TLS", "sslrootcert names a file that does not exist: give the CA bundle's path"),
            ("server does not support SSL", "TLS", "the server has no TLS: use sslmode=prefer or disable, or enable ssl on the server"),
            ("SSL connection has been closed unexpectedly", "TLS",
             "sslmode does not match what the server requires: set sslmode=require (or verify-full with a CA bundle)"),
            ("SSL SYSCALL error", "TLS", "sslmode does not match what the server requires: set sslmode=require (or verify-full with a CA bundle)"),
            ("no encryption", "TLS", "the server accepts only encrypted connections from here: set sslmode=require or stronger"),
            ("pg_hba.conf", "authenticated", "the server's pg_hba.conf has no line for this user, database and address: ask the DBA to add one"),
            ("host key", "SSH tunnel", "the bastion's host key is not the one in known_hosts; if it changed on purpose, update known_hosts"),
            ("SSH", "SSH tunnel", "check the ssh section: host, port, user, key and known_hosts"),
        ]
        for (needle, name, fix) in rules where message.localizedCaseInsensitiveContains(needle) {
            return CheckResult(passed: false, name: name, detail: message, fix: fix)
        }
        return CheckResult(passed: false, name: "connection", detail: "\(message) (to \(settings.summary))")
    }
}
