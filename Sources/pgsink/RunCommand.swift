import ArgumentParser
import Foundation
import Logging
import PGSink
import PGSinkCore

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the pipelines of a pgsink.yaml (or a pasted Nilus pipeline): each source into the destination.",
        discussion: "Without --watch every selected pipeline runs once, in order. With --watch each scheduled pipeline "
            + "runs when due until SIGTERM. History: pgsink history; see docs/pipelines.md."
    )

    @Argument(help: "The pipeline file (default: ./pgsink.yaml).")
    var file: String?

    @Option(name: .customLong("pipeline"), help: ArgumentHelp("Run only this pipeline (repeatable).", valueName: "name"))
    var pipelines: [String] = []

    @Flag(help: "Keep running: each pipeline runs on its schedule; SIGTERM stops after the running loads.")
    var watch = false

    @Option(help: ArgumentHelp(
        "--watch: seconds SIGTERM waits for running loads before cancelling them (default 30).", valueName: "seconds"))
    var grace: Double = 30

    @Option(name: .customLong("secrets"), help: ArgumentHelp("A secrets file merged into the pipeline file (repeatable).", valueName: "file"))
    var secretFiles: [String] = []

    @Flag(help: "Print each run as a JSON line.")
    var json = false

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let logger = LogSetup.bootstrap(logging.logLevel, fallback: watch ? .notice : .warning)
        let runners = try Self.runners(file: file, secrets: secretFiles, names: pipelines, connection: connection, logger: logger)
        let json = self.json
        if watch {
            let entries = runners.compactMap { runner in runner.pipeline.schedule.map { PipelineScheduler.Entry(runner: runner, schedule: $0) } }
            for runner in runners where runner.pipeline.schedule == nil {
                logger.warning("pipeline \(runner.pipeline.name) has no schedule:, so --watch does not run it")
            }
            guard !entries.isEmpty else {
                throw CommandFailure(description: "no pipeline has a schedule: (every: 15m or cron: \"0 * * * *\"); --watch has nothing to run")
            }
            let cancelled = try CommandFailure.wrapping(afterRollback: "the load in progress was rolled back") {
                try PipelineScheduler(entries: entries, grace: grace, logger: logger) { name, outcome in
                    FileHandle.standardOutput.write(Data((Self.line(name, outcome, json: json) + "\n").utf8))
                }.run()
            }
            if cancelled, let signal = WatchStop.signal { throw Interrupted(signal: signal) }
            return
        }
        var failed: [String] = []
        for runner in runners {
            let outcome = try CommandFailure.wrapping(afterRollback: "the load in progress was rolled back") { try runner.run() }
            print(Self.line(runner.pipeline.name, outcome, json: json))
            if outcome.status != .succeeded { failed.append(runner.pipeline.name) }
            if Interrupt.signal != nil { break }
        }
        if let signal = Interrupt.signal { throw Interrupted(signal: signal) }
        if !failed.isEmpty {
            throw CommandFailure(
                description: "\(Wording.count(failed.count, "pipeline")) failed (\(failed.joined(separator: ", "))); what each "
                    + "committed before its error stands, and its next run starts from there (pgsink history shows the errors)")
        }
    }

    /// The file's pipelines (those named), each with its destination connection resolved.
    static func runners(
        file: String?, secrets: [String], names: [String], connection: ConnectionOptions, logger: Logger
    ) throws -> [PipelineRunner] {
        do {
            let loaded = try PipelineFile.load(path: file, secrets: secrets)
            return try loaded.selected(names).map { pipeline in
                PipelineRunner(
                    pipeline: pipeline,
                    connection: try connection.resolve(
                        configured: try pipeline.destination.connection(replaced: connection.to != nil)),
                    logger: logger)
            }
        } catch let error as CommandFailure {
            throw error
        } catch {
            throw CommandFailure(description: "\(error)")
        }
    }

    /// One run as the user reads it, or as a JSON line.
    static func line(_ name: String, _ outcome: PipelineOutcome, json: Bool) -> String {
        if json {
            var object: [String: Any] = ["pipeline": name, "status": outcome.status.rawValue, "rows": outcome.rows, "rejected": outcome.rejected]
            if let code = outcome.errorCode { object["error_code"] = code }
            if let error = outcome.error { object["error"] = error }
            if let state = outcome.state { object["state"] = state }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            return Secrets.redact(String(decoding: data, as: UTF8.self))
        }
        let rows = outcome.rows.sorted { $0.key < $1.key }.map { "\($0.key) \(Wording.count($0.value, "row"))" }
        var text = "pipeline \(name): \(outcome.status.rawValue)"
        text += rows.isEmpty ? ", nothing new" : ": " + rows.joined(separator: ", ")
        if outcome.rejected > 0 { text += ", \(Wording.count(outcome.rejected, "row")) rejected" }
        if let error = outcome.error { text += " — \(outcome.errorCode ?? "error"): \(error)" }
        return Secrets.redact(text)
    }
}
