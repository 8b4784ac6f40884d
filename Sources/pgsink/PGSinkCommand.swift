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
            FileHandle.standardError.write(Data("pgsink: started a private PostgreSQL in \(server.location); connect with: \(server.psqlCommand)\n".utf8))
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
        SignalWatch.install()
        do {
            var command = try PGSinkCommand.parseAsRoot()
            try command.run()
        } catch {
            if let signal = Interrupt.signal { interrupted(Interrupted(signal: signal)) }
            report(error)
        }
    }

    private static func report(_ error: Error) -> Never {
        switch error {
        case let error as CommandFailure:
            FileHandle.standardError.write(Data("pgsink: \(Secrets.redact(error.description))\n".utf8))
            exit(1)
        case let code as ExitCode:
            // Already reported (an Airbyte TRACE message).
            exit(code.rawValue)
        default:
            let code = PGSinkCommand.exitCode(for: error)
            if code == .success {
                PGSinkCommand.exit(withError: error)
            }
            FileHandle.standardError.write(Data((Secrets.redact(PGSinkCommand.fullMessage(for: error)) + "\n").utf8))
            exit(2)
        }
    }

    /// The one line a load stopped by a signal ends with; 128 + the signal's number.
    static func interrupted(_ interruption: Interrupted) -> Never {
        FileHandle.standardError.write(Data(
            "pgsink: \(interruption): the transaction in progress was rolled back, so nothing of it was committed (what was committed and reported before stands)\n".utf8))
        exit(interruption.exitCode)
    }
}

/// Turns SIGINT and SIGTERM into `Interrupt.raise` on a thread of its own (a signal handler may do
/// little: it writes the signal's number to a pipe). A second signal ends the process at once.
enum SignalWatch {
    nonisolated(unsafe) static var writeEnd: Int32 = -1

    static func install() {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }
        writeEnd = ends[1]
        let readEnd = ends[0]
        for signal in [SIGINT, SIGTERM] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(SignalWatch.writeEnd, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            sigaction(signal, &action, nil)
        }
        // A parent's threads may have blocked them (a test runner does); this process wants them.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        let watcher = Thread {
            var seen = false
            while true {
                var byte: UInt8 = 0
                let n = read(readEnd, &byte, 1)
                if n < 0 && errno == EINTR { continue }
                guard n == 1 else { return }
                if seen { _exit(128 + Int32(byte)) }
                seen = true
                Interrupt.raise(Int32(byte))
            }
        }
        watcher.start()
    }
}
