import ArgumentParser
import Foundation
import Logging
import PGSink
import PGSinkCore
import ServiceLifecycle
import UnixSignals

struct PGSinkCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pgsink",
        abstract: "Land CSV and JSON Lines in PostgreSQL: typed, deduplicated, evolving tables.",
        version: "0.1.0",
        subcommands: [
            LoadCommand.self, CheckCommand.self, SingerCommand.self, AirbyteCommand.self, CDCCommand.self, ServeCommand.self,
            EmbedCommand.self, DatabaseCommand.self, InitCommand.self, RunCommand.self, HistoryCommand.self, StatusCommand.self,
        ]
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
        if let configured, configured.namesAServer { return configured }
        // The file named no server (only a schema, say): the environment's server, the file's schema.
        func withFileSchema(_ settings: ConnectionSettings) -> ConnectionSettings {
            var settings = settings
            settings.schema = settings.schema ?? configured?.schema
            return settings
        }
        let env = ProcessInfo.processInfo.environment
        for name in ["PGSINK_URL", "DATABASE_URL"] {
            if let value = env[name], !value.isEmpty { return withFileSchema(try ConnectionSettings(string: value)) }
        }
        if env["PGHOST"] != nil || env["PGDATABASE"] != nil || env["PGSERVICE"] != nil {
            return withFileSchema(try ConnectionSettings(string: ""))
        }
        let server = EmbeddedServer()
        if try server.start() {
            FileHandle.standardError.write(Data("pgsink: started a private PostgreSQL in \(server.location); connect with: \(server.psqlCommand)\n".utf8))
        }
        return withFileSchema(try ConnectionSettings(string: server.connectionString))
    }

    func connector(configured: ConnectionSettings? = nil, logger: Logger) throws -> Connector {
        Connector(try resolve(configured: configured), logger: logger, retries: retries)
    }
}

/// The error CLI users see: one line saying what went wrong and what to do; exit status 1.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
}

/// A usage error found after parsing (once the config file and the environment are read),
/// reported as one found while parsing: the message, the command's usage; exit status 2.
struct UsageFailure: Error {
    var command: ParsableCommand.Type
    var error: ValidationError

    var text: String {
        let usage = PGSinkCommand.usageString(for: command).replacingOccurrences(of: "\n", with: "\n       ")
        let name = "pgsink " + (command.configuration.commandName ?? "")
        return "Error: \(error.message)\nUsage: \(usage)\n  See '\(name) --help' for more information."
    }
}

/// The process: the parsed command runs as one service of a `ServiceGroup`, beside a service that
/// turns SIGINT and SIGTERM into `Interrupt.raise` (PQcancel on every connection, readers stop,
/// the transaction rolls back, exit 130 or 143). The long-running server and scheduler to come
/// are more services in the same group.
@main
enum Main {
    static func main() async {
        unblockSignals()
        let command: ParsableCommand
        do {
            command = try PGSinkCommand.parseAsRoot()
        } catch {
            report(error)
        }
        let outcome = CommandService.Outcome()
        var logger = Logger(label: "pgsink.lifecycle")
        logger.logLevel = .critical
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(
                        service: CommandService(command: command, outcome: outcome),
                        successTerminationBehavior: .gracefullyShutdownGroup,
                        failureTerminationBehavior: .gracefullyShutdownGroup),
                    .init(service: SignalService()),
                ],
                logger: logger))
        do {
            try await group.run()
        } catch {
            outcome.fail(error)
        }
        if let error = outcome.error {
            if let signal = Interrupt.signal { interrupted(Interrupted(signal: signal)) }
            report(error)
        }
    }

    /// A parent's threads may have blocked SIGINT and SIGTERM (a test runner does); this process
    /// wants them. Threads made later inherit the main thread's mask.
    private static func unblockSignals() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    private static func report(_ error: Error) -> Never {
        switch error {
        case let error as CommandFailure:
            FileHandle.standardError.write(Data("pgsink: \(Secrets.redact(error.description))\n".utf8))
            exit(1)
        case let usage as UsageFailure:
            FileHandle.standardError.write(Data((Secrets.redact(usage.text) + "\n").utf8))
            exit(2)
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

/// Runs the parsed command. Commands block (libpq, file reads, COPY), so each runs on a thread of
/// its own rather than on the concurrency pool; the service ends when the command does.
struct CommandService: Service {
    /// How the command ended; read by `Main` once the group has stopped.
    final class Outcome: @unchecked Sendable {
        private let lock = NSLock()
        private var failure: Error?
        var error: Error? { lock.withLock { failure } }
        func fail(_ error: Error) { lock.withLock { if failure == nil { failure = error } } }
    }

    private struct Box: @unchecked Sendable { var command: ParsableCommand }
    private let box: Box
    let outcome: Outcome

    init(command: ParsableCommand, outcome: Outcome) {
        self.box = Box(command: command)
        self.outcome = outcome
    }

    func run() async throws {
        let box = self.box
        let outcome = self.outcome
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let thread = Thread {
                var command = box.command
                do {
                    try command.run()
                } catch {
                    outcome.fail(error)
                }
                done.resume()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
    }
}

/// SIGINT and SIGTERM: the first cancels what runs (`Interrupt.raise`); a second ends the process
/// at once. Under `pgsink run --watch` the scheduler takes the first (`WatchStop`: the running
/// loads may finish) and the next one cancels. Ends when the group shuts down (the command finished).
struct SignalService: Service {
    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm)
        for await signal in signals.cancelOnGracefulShutdown() {
            if Interrupt.signal != nil { _exit(128 + signal.rawValue) }
            if WatchStop.request(signal.rawValue) { continue }
            Interrupt.raise(signal.rawValue)
        }
    }
}

extension CommandFailure {
    /// Runs `body`; any error becomes one line for the user. An error of a load that rolls its
    /// transaction back (bad input, the server, a limit, a lost COMMIT) adds `afterRollback`.
    static func wrapping<T>(afterRollback: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CommandFailure {
            throw error
        } catch {
            let rolledBack = error is InputError || error is PGError || error is PlanError || error is RejectLimit
                || error is LoadError || error is CommitUncertain
            throw CommandFailure(description: "\(error)" + (rolledBack ? "; " + afterRollback : ""))
        }
    }
}
