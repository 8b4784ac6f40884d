import ArgumentParser
import Foundation
import Logging
import PGSink

struct PGSinkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pgsink",
        abstract: "Land CSV and JSON Lines in PostgreSQL: typed, deduplicated, evolving tables.",
        version: "0.1.0",
        subcommands: [LoadCommand.self, CheckCommand.self, SingerCommand.self, AirbyteCommand.self, DatabaseCommand.self]
    )
}

/// Options every command that talks to a server shares.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Connection: a postgresql:// URI or a libpq key=value string.",
        discussion: "Without it: PGSINK_URL, then DATABASE_URL, then libpq's PG* variables if PGHOST or "
            + "PGDATABASE is set, then a private server under ./.pgsink/.",
        valueName: "conn"))
    var to: String?

    @Option(name: .customLong("connect-retries"), help: ArgumentHelp(
        "Retries of a connection that fails for a passing reason (refused, server starting), with backoff (default 5).",
        valueName: "n"))
    var connectRetries: Int?

    var retries: Int { max(0, connectRetries ?? 5) }

    /// The connection: `--to`, else what a config file gives (`configured`), else PGSINK_URL,
    /// DATABASE_URL, libpq's PG* variables, and last the private server (started if needed).
    func resolve(configured: ConnectionSettings? = nil) throws -> ConnectionSettings {
        if let to {
            var settings = try ConnectionSettings(string: to)
            if let configured {
                // The tunnel and a schema from the file still apply to a --to string.
                settings.ssh = configured.ssh
                settings.schema = settings.schema ?? configured.schema
            }
            return settings
        }
        if let configured { return configured }
        let env = ProcessInfo.processInfo.environment
        for name in ["PGSINK_URL", "DATABASE_URL"] {
            if let value = env[name], !value.isEmpty { return try ConnectionSettings(string: value) }
        }
        if env["PGHOST"] != nil || env["PGDATABASE"] != nil || env["PGSERVICE"] != nil {
            return try ConnectionSettings(string: "")
        }
        let server = EmbeddedServer()
        if try server.start() {
            FileHandle.standardError.write(Data("pgsink: started a private PostgreSQL in \(server.directory.path); connect with: \(server.psqlCommand)\n".utf8))
        }
        return try ConnectionSettings(string: server.connectionString)
    }

    func connector(configured: ConnectionSettings? = nil, logger: Logger) throws -> Connector {
        Connector(try resolve(configured: configured), logger: logger, retries: retries)
    }
}

/// The error CLI users see: one line saying what went wrong and what to do; exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
}

@main
enum Main {
    static func main() {
        do {
            var command = try PGSinkCommand.parseAsRoot()
            try command.run()
        } catch let error as CommandFailure {
            FileHandle.standardError.write(Data("pgsink: \(Secrets.redact(error.description))\n".utf8))
            exit(1)
        } catch let code as ExitCode {
            // Already reported (an Airbyte TRACE message).
            exit(code.rawValue)
        } catch {
            let code = PGSinkCommand.exitCode(for: error)
            if code == .success {
                PGSinkCommand.exit(withError: error)
            }
            FileHandle.standardError.write(Data((Secrets.redact(PGSinkCommand.fullMessage(for: error)) + "\n").utf8))
            exit(2)
        }
    }
}
