import ArgumentParser
import Foundation
import Logging
import PGSink
import PGSinkCore

struct HistoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history",
        abstract: "List pipeline runs, newest first: start, duration, rows per table, rejects, error, state after.")

    @Argument(help: "Only this pipeline's runs.")
    var pipeline: String?

    @Option(help: ArgumentHelp("The pipeline file (default: ./pgsink.yaml).", valueName: "file"))
    var file: String?

    @Option(help: "The most runs to list (default 20).")
    var limit = 20

    @Flag(help: "Print the runs as a JSON array.")
    var json = false

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let logger = LogSetup.bootstrap(logging.logLevel, fallback: .warning)
        let runners = try RunCommand.runners(file: file, secrets: [], names: [], connection: connection, logger: logger)
        if let pipeline, !runners.contains(where: { $0.pipeline.name == pipeline }) {
            throw CommandFailure(description: "the pipeline file has no pipeline \(pipeline)")
        }
        var records: [PipelineRunRecord] = []
        var seen = Set<String>()
        try CommandFailure.wrapping(afterRollback: "") {
            // Each ledger once (pipelines may write to different schemas or servers).
            for runner in runners where pipeline == nil || runner.pipeline.name == pipeline {
                let ledger = try runner.ledger(prepared: false)
                guard seen.insert("\(runner.connection.summary) \(ledger.schema)").inserted, try ledger.exists() else { continue }
                records += try ledger.history(pipeline: pipeline, limit: limit)
            }
        }
        records.sort { ($0.startedAt, $0.id) > ($1.startedAt, $1.id) }
        records = Array(records.prefix(limit))
        if json {
            try HistoryCommand.printJSON(records)
            return
        }
        if records.isEmpty {
            print("no runs yet (pgsink run records them)")
            return
        }
        for record in records {
            var line = "\(record.startedAt)  \(record.pipeline)  \(record.status)  \(String(format: "%.1f", record.seconds))s"
            let rows = record.rows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            line += rows.isEmpty ? "  no rows" : "  " + rows.joined(separator: ", ")
            if record.rejected > 0 { line += "  \(record.rejected) rejected" }
            if let error = record.error { line += "  \(record.errorCode ?? "error"): \(error)" }
            if let state = record.state { line += "  state \(state.count > 200 ? state.prefix(200) + "…" : Substring(state))" }
            print(Secrets.redact(line))
        }
    }

    /// Prints `value` as one line of JSON with snake_case keys, secrets redacted.
    static func printJSON(_ value: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        print(Secrets.redact(String(decoding: try encoder.encode(value), as: UTF8.self)))
    }
}
