import ArgumentParser
import Foundation
import PGSink
import PGSinkCore

/// `pgsink embed --table T`: fills in or refreshes a table's embeddings without loading.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed or refresh an existing table's rows as pgvector_config describes (no load).",
        discussion: "Rows whose text is unchanged cost no provider call; pending rows (on_error: defer) are filled in; "
            + "chunks of deleted rows go. See docs/pgvector.md."
    )

    @Option(name: .long, help: ArgumentHelp("The table: name or schema.name.", valueName: "table"))
    var table: String

    @Option(name: .long, help: ArgumentHelp("The schema of --table when it names none (default: the connection's, or public).", valueName: "schema"))
    var schema: String?

    @Option(name: .customLong("embed-concurrency"), help: ArgumentHelp(
        "pgvector_config with the openai provider: requests in flight at once (default: embedding.concurrency, 4).",
        valueName: "n"))
    var embedConcurrency: Int?

    @Flag(name: .long, help: "Print the outcome as JSON.")
    var json = false

    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var config: ConfigOptions
    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let file = try config.load()
        guard var pgvector = file?.pgvector else {
            throw CommandFailure(
                description: "pgsink embed needs pgvector_config (under destination: in pgsink.yaml, or a CloudQuery spec); "
                    + "give it with --config FILE, see docs/pgvector.md")
        }
        if let embedConcurrency {
            guard embedConcurrency >= 1 else { throw CommandFailure(description: "--embed-concurrency must be at least 1") }
            pgvector.openAI.concurrency = embedConcurrency
        }
        let configured = try ConfigOptions.connection(of: file, replaced: connection.to != nil)
        let logger = LogSetup.bootstrap(logging.logLevel, fallback: .notice)
        let outcome = try CommandFailure.wrapping(afterRollback: "nothing was changed") {
            let connector = try connection.connector(configured: configured, logger: logger)
            defer { connector.close() }
            let pg = try connector.connect()
            let parts = table.split(separator: ".", maxSplits: 1).map(String.init)
            let target = parts.count == 2
                ? TableName(schema: parts[0], name: parts[1])
                : TableName(schema: schema ?? connector.settings.schema ?? "public", name: table)
            return try EmbedTable.run(target, config: pgvector, on: pg, logger: logger)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(outcome), as: UTF8.self))
        } else {
            var text = "pgsink embed: \(outcome.table): \(Wording.count(outcome.rowsEmbedded, "row")) embedded "
                + "(\(Wording.count(outcome.chunks, "chunk"))), \(outcome.rowsChecked - outcome.rowsEmbedded) unchanged"
            if outcome.orphansDeleted > 0 { text += ", \(Wording.count(outcome.orphansDeleted, "orphan chunk")) deleted" }
            if outcome.pending > 0 { text += ", \(outcome.pending) still pending" }
            print(text)
        }
    }
}
