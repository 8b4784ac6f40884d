import ArgumentParser
import Foundation
import Logging
import PGSink
import PGSinkCore

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Each pipeline: its last run, its next run (by its schedule), and how far behind its source it is where known.")

    @Option(help: ArgumentHelp("The pipeline file (default: ./pgsink.yaml).", valueName: "file"))
    var file: String?

    @Flag(help: "Print the pipelines as a JSON array.")
    var json = false

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var logging: LoggingOptions

    /// One pipeline's status.
    struct Line: Codable {
        var pipeline: String
        var source: String
        var schedule: String?
        var lastStatus: String?
        var lastStarted: String?
        var lastFinished: String?
        var nextRun: String?
        /// Seconds since the data was last brought up to date (the last succeeded run's start).
        var lagSeconds: Double?
        /// The source's own position against the destination's, where the source tells it.
        var sourceLag: SourceLag?
        /// Why the source's position could not be read (it is then unknown).
        var sourceLagError: String?
        var state: String?
    }

    func run() throws {
        let logger = LogSetup.bootstrap(logging.logLevel, fallback: .warning)
        let runners = try RunCommand.runners(file: file, secrets: [], names: [], connection: connection, logger: logger)
        let now = Date()
        let lines = try CommandFailure.wrapping(afterRollback: "") {
            try runners.map { runner -> Line in
                let ledger = try runner.ledger(prepared: false)
                let ran = try ledger.exists()
                let row = ran ? try ledger.pipelines().first { $0.name == runner.pipeline.name } : nil
                let lastGood = ran
                    ? try ledger.history(pipeline: runner.pipeline.name, limit: 50).first { $0.status == "succeeded" } : nil
                let schedule = runner.pipeline.schedule
                var sourceLag: SourceLag?
                var sourceLagError: String?
                do {
                    sourceLag = try runner.sourceLag(ledger: ledger)
                } catch {
                    sourceLagError = Secrets.redact("\(error)")
                }
                return Line(
                    pipeline: runner.pipeline.name, source: runner.pipeline.source.kind, schedule: schedule.map(Self.describe),
                    lastStatus: row?.lastStatus, lastStarted: row?.lastStarted.map(Self.text),
                    lastFinished: row?.lastFinished.map(Self.text),
                    nextRun: schedule.map { Self.text($0.nextDue(lastLoad: row?.lastStarted, now: now)) },
                    lagSeconds: lastGood.flatMap { Self.date($0.startedAt) }.map { (now.timeIntervalSince($0) * 10).rounded() / 10 },
                    sourceLag: sourceLag, sourceLagError: sourceLagError, state: row?.state)
            }
        }
        if json {
            try HistoryCommand.printJSON(lines)
            return
        }
        for line in lines {
            var text = "\(line.pipeline) (\(line.source)): "
            text += line.lastStatus.map { "last run \($0) at \(line.lastStarted ?? "?")" } ?? "never run"
            text += line.nextRun.map { ", next run \($0)" } ?? ", not scheduled"
            if let lag = line.sourceLag?.text, !lag.isEmpty {
                text += ", behind the source: \(lag)"
            } else if let lag = line.lagSeconds {
                text += ", \(String(format: "%.0f", lag))s since the last succeeded run"
            }
            if let error = line.sourceLagError { text += " (the source's position is unknown: \(error))" }
            print(text)
        }
    }

    static func describe(_ schedule: SyncSchedule) -> String {
        var text = schedule.cron.map { "cron \($0)" } ?? "every \(Int(schedule.frequency))s"
        if let start = schedule.startAt { text += " from \(start)" }
        if let window = schedule.excludeWindow { text += " except \(window)" }
        return text
    }

    static func text(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: date)
    }

    static func date(_ text: String) -> Date? { ISO8601DateFormatter().date(from: text) }
}
