import ArgumentParser
import Foundation
import Logging
import PGSink

struct PGSinkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pgsink",
        abstract: "Land CSV and JSON Lines in PostgreSQL: typed, deduplicated, evolving tables.",
        version: "0.1.0",
        subcommands: [LoadCommand.self, SingerCommand.self, AirbyteCommand.self, DatabaseCommand.self]
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

    /// The connection string, and the embedded server when that is what it points at.
    func resolve() throws -> (conninfo: String, embedded: EmbeddedServer?) {
        if let to { return (to, nil) }
        let env = ProcessInfo.processInfo.environment
        for name in ["PGSINK_URL", "DATABASE_URL"] {
            if let value = env[name], !value.isEmpty { return (value, nil) }
        }
        if env["PGHOST"] != nil || env["PGDATABASE"] != nil { return ("", nil) }
        let server = EmbeddedServer()
        if try server.start() {
            FileHandle.standardError.write(Data("pgsink: started a private PostgreSQL in \(server.directory.path); connect with: \(server.psqlCommand)\n".utf8))
        }
        return (server.connectionString, server)
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
            FileHandle.standardError.write(Data("pgsink: \(error.description)\n".utf8))
            exit(1)
        } catch let code as ExitCode {
            // Already reported (an Airbyte TRACE message).
            exit(code.rawValue)
        } catch {
            let code = PGSinkCommand.exitCode(for: error)
            if code == .success {
                PGSinkCommand.exit(withError: error)
            }
            FileHandle.standardError.write(Data((PGSinkCommand.fullMessage(for: error) + "\n").utf8))
            exit(2)
        }
    }
}
