import ArgumentParser
import Foundation
import Logging
import PGSink
import PGSinkCore

/// `pgsink cdc …`: change feeds.
struct CDCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cdc",
        abstract: "Keep tables in sync with change feeds (Debezium change events).",
        subcommands: [CDCApplyCommand.self, CDCStreamCommand.self, CDCStatusCommand.self, CDCDropCommand.self]
    )
}

struct CDCApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Apply Debezium change events (JSON Lines files or stdin) to PostgreSQL tables.",
        discussion: """
            kafka-console-consumer --topic db.public.customers --property print.key=true \\
              --property key.separator=… | pgsink cdc apply - --to postgresql://…
            Accepts bare envelopes, the JSON converter's {"schema","payload"} wrapper, {"key","value"} lines,
            tombstones and flattened rows (__deleted). See docs/cdc.md.
            """
    )

    @Argument(help: ArgumentHelp("JSON Lines files of change events; - or nothing reads stdin.", valueName: "file"))
    var inputs: [String] = []

    @Option(name: .customLong("table-format"), help: ArgumentHelp(
        "The destination table of an event, from {db}, {schema}, {table} (the event's source) and {topic} "
            + "(default {schema}.{table}). Without a schema part, tables land in --schema.",
        valueName: "format"))
    var tableFormat: String?

    @Option(help: ArgumentHelp(
        "The schema for table names without one, and of pgsink's state and ledger (default: the connection's, else public).",
        valueName: "name"))
    var schema: String?

    @Option(name: .customLong("primary-key"), help: ArgumentHelp(
        "Key columns of every table (comma-separated), instead of the Kafka key's fields.", valueName: "columns"))
    var primaryKey: String?

    @Option(help: ArgumentHelp("hard (delete the row, the default) or soft (keep it, set _pgsink_deleted_at).", valueName: "mode"))
    var deletes: String = "hard"

    @Flag(help: "Apply truncate events (op t) as TRUNCATE; without it they are skipped with a warning.")
    var truncate = false

    @Option(name: .customLong("unavailable-value"), help: ArgumentHelp(
        "Debezium's unavailable.value.placeholder: a column of an update holding it keeps its stored value "
            + "(default __debezium_unavailable_value; empty turns this off).",
        valueName: "text"))
    var unavailableValue: String?

    @Option(name: .customLong("batch-size"), help: ArgumentHelp("Changes per transaction at most (default 100000).", valueName: "n"))
    var batchSize: Int?

    @Option(name: .customLong("batch-seconds"), help: ArgumentHelp(
        "Seconds a change may wait before its transaction commits (default 1).", valueName: "s"))
    var batchSeconds: Double?

    @Flag(name: .customLong("from-beginning"), help: "Apply each file from its first line, even lines an earlier run applied.")
    var fromBeginning = false

    @Option(name: .customLong("state-id"), help: ArgumentHelp(
        "The row of _pgsink_state the positions are kept in (default cdc): one per feed.", valueName: "id"))
    var stateId: String?

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var config: ConfigOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard DeleteMode(rawValue: deletes) != nil else { throw ValidationError("--deletes takes hard or soft (got \"\(deletes)\")") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if let batchSeconds, batchSeconds <= 0 { throw ValidationError("--batch-seconds must be more than 0") }
        if let tableFormat, !tableFormat.contains("{") {
            throw ValidationError("--table-format needs a placeholder: {table}, {schema}, {db} or {topic}")
        }
    }

    func run() throws {
        let file = try config.load(requiring: .cdc, for: "pgsink cdc apply")
        let configured = try ConfigOptions.connection(of: file, replaced: connection.to != nil)
        let logger = LogSetup.bootstrap(logging.logLevel, fallback: .notice)
        let connector = try failing { try connection.connector(configured: configured, logger: logger) }
        defer { connector.close() }
        let pg = try failing { try connector.connect() }
        var resolved = settings(pipeline: file?.pipeline, connectionSchema: connector.settings.schema)
        resolved.streams.embeddings = file?.pgvector
        resolved.streams.distribution = file?.settings.distribution ?? Distribution()
        let summary = try failing {
            try ChangeApply.run(
                settings: resolved, inputs: inputs, connection: pg, connector: connector, retries: connection.retries,
                logger: logger)
        }
        let tables = summary.rows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        var text = "pgsink cdc apply: \(Wording.count(summary.upserts, "upsert")) and \(Wording.count(summary.deletes, "delete"))"
        text += tables.isEmpty ? "" : " (changes per table: \(tables.joined(separator: ", ")))"
        if summary.skipped > 0 { text += "; \(Wording.count(summary.skipped, "line")) already applied by an earlier run" }
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// The settings: a Nilus pipeline's, with the flags over them.
    func settings(pipeline: NilusPipeline?, connectionSchema: String?) -> CDCSettings {
        var settings = CDCSettings()
        pipeline?.configure(&settings)
        if let tableFormat { settings.tableFormat = tableFormat }
        settings.streams.schema = schema ?? connectionSchema ?? "public"
        settings.primaryKey = primaryKey.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        settings.deletes = DeleteMode(rawValue: deletes) ?? .hard
        settings.truncate = truncate
        if let unavailableValue { settings.unavailableValue = unavailableValue }
        settings.fromBeginning = fromBeginning
        settings.streams.batchSeconds = batchSeconds ?? 1
        if let batchSize { settings.streams.batchRows = batchSize }
        if let stateId { settings.streams.stateId = stateId }
        return settings
    }

    private func failing<T>(_ body: () throws -> T) throws -> T {
        try CommandFailure.wrapping(
            afterRollback: "the batch in progress was rolled back, changes committed before it stay (a rerun goes on after them)", body)
    }
}

/// `--from`: the source server of a logical replication stream.
struct SourceOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The source PostgreSQL: a postgresql:// URI or a libpq key=value string (its role needs the REPLICATION attribute); "
            + "default: a Nilus pipeline's spec.source.address.",
        valueName: "conn"))
    var from: String?

    /// `--from`, else the pipeline's `spec.source.address`.
    func connector(pipeline: NilusPipeline?, logger: Logger, retries: Int) throws -> Connector {
        if let from { return Connector(try ConnectionSettings(string: from), logger: logger, retries: retries) }
        if let configured = try pipeline?.sourceConnection() { return Connector(configured, logger: logger, retries: retries) }
        throw CommandFailure(
            description: "no source: pass --from postgresql://… (a role with the REPLICATION attribute), or give a Nilus "
                + "pipeline's spec.source.address in --config")
    }
}

struct CDCStreamCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Replicate a PostgreSQL source's tables into the destination (logical replication, pgoutput).",
        discussion: """
            pgsink cdc stream --from postgresql://replicator@source/shop --to postgresql://loader@warehouse/dw \\
              --publication shop --slot shop_to_dw --tables public.orders,public.customers
            A new slot's snapshot is copied first; then changes stream until interrupted (or, with --once, up to the
            source's WAL position at the start). See docs/cdc.md.
            A DataOS Nilus CDC pipeline file works as the config: pgsink cdc stream --config nilus.yaml (flags win).
            """
    )

    @OptionGroup var source: SourceOptions

    @Option(help: ArgumentHelp(
        "The publication to read (created for --tables, or FOR ALL TABLES, when missing; default pgsink).", valueName: "name"))
    var publication: String?

    @Option(help: ArgumentHelp("The replication slot (created when missing; default pgsink).", valueName: "name"))
    var slot: String?

    @Option(help: ArgumentHelp("schema.table names to replicate (comma-separated); default: all of the publication's.", valueName: "list"))
    var tables: String?

    @Option(name: .customLong("schema-map"), help: ArgumentHelp(
        "Source schema to destination schema, e.g. public=mirror (repeatable).", valueName: "src=dst"))
    var schemaMap: [String] = []

    @Flag(inversion: .prefixedNo, help: "Copy the existing rows at the new slot's snapshot first (default: when the slot is new).")
    var snapshot: Bool?

    @Flag(help: "Apply everything up to the source's current WAL position, then exit.")
    var once = false

    @Option(help: ArgumentHelp("hard (the default) or soft (keep the row, set _pgsink_deleted_at).", valueName: "mode"))
    var deletes: String = "hard"

    @Option(help: ArgumentHelp("Schema of pgsink's state and ledger (default: the connection's, else public).", valueName: "name"))
    var schema: String?

    @Option(name: .customLong("batch-seconds"), help: ArgumentHelp(
        "Seconds a change may wait before its transaction commits (default 1).", valueName: "s"))
    var batchSeconds: Double?

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var config: ConfigOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard DeleteMode(rawValue: deletes) != nil else { throw ValidationError("--deletes takes hard or soft (got \"\(deletes)\")") }
        for pair in schemaMap where pair.split(separator: "=").count != 2 {
            throw ValidationError("--schema-map takes src=dst (got \"\(pair)\")")
        }
    }

    func run() throws {
        let file = try config.load(requiring: .cdc, for: "pgsink cdc stream")
        let pipeline = file?.pipeline
        let configured = try ConfigOptions.connection(of: file, replaced: connection.to != nil)
        let logger = LogSetup.bootstrap(logging.logLevel, fallback: .notice)
        let sourceConnector = try CDCFailure.wrap {
            try source.connector(pipeline: pipeline, logger: logger, retries: connection.retries)
        }
        defer { sourceConnector.close() }
        let connector = try CDCFailure.wrap { try connection.connector(configured: configured, logger: logger) }
        defer { connector.close() }
        var resolved = try CDCFailure.wrap { try settings(pipeline: pipeline, connectionSchema: connector.settings.schema) }
        resolved.streams.embeddings = file?.pgvector
        resolved.streams.distribution = file?.settings.distribution ?? Distribution()
        let pg = try CDCFailure.wrap { try connector.connect() }
        let summary = try CDCFailure.wrap {
            try LogicalReplication.run(
                settings: resolved, source: sourceConnector, connection: pg, connector: connector, retries: connection.retries,
                logger: logger)
        }
        let tables = summary.rows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        var text = "pgsink cdc stream: \(Wording.count(summary.changes, "change")) applied"
        if summary.snapshot { text += " (with the snapshot)" }
        text += ", up to source LSN \(summary.lastLSN)"
        if !tables.isEmpty { text += " (rows per table: \(tables.joined(separator: ", ")))" }
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// The settings: a Nilus pipeline's, with the flags over them; `--tables` replaces the
    /// pipeline's table and schema lists.
    func settings(pipeline: NilusPipeline?, connectionSchema: String?) throws -> LogicalSettings {
        var settings = LogicalSettings()
        pipeline?.configure(&settings)
        if let slot { settings.slot = slot }
        if let publication { settings.publication = publication }
        if let tables {
            settings.tables = tables.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            settings.schemas = []
        }
        for pair in schemaMap {
            let parts = pair.split(separator: "=").map(String.init)
            settings.schemaMap[parts[0]] = parts[1]
        }
        if let snapshot { settings.snapshot = snapshot }
        settings.once = once
        settings.deletes = DeleteMode(rawValue: deletes) ?? .hard
        settings.streams.schema = schema ?? connectionSchema ?? "public"
        if let batchSeconds { settings.streams.batchSeconds = batchSeconds }
        try pipeline?.check(settings)
        return settings
    }
}

/// `--from` and `--slot`, for the commands about one slot; a Nilus pipeline file gives both too.
struct SlotOptions: ParsableArguments {
    @OptionGroup var source: SourceOptions

    @Option(help: ArgumentHelp("The replication slot (default: a Nilus pipeline's slot.name, else pgsink).", valueName: "name"))
    var slot: String?

    @OptionGroup var config: ConfigOptions

    /// Runs `body` with the slot's name and a connector to the source; errors become one line.
    func withSource<T>(_ command: String, _ body: (String, Connector) throws -> T) throws -> T {
        let pipeline = try config.load(requiring: .cdc, for: command)?.pipeline
        let logger = LogSetup.bootstrap(nil, fallback: .warning)
        let connector = try CDCFailure.wrap { try source.connector(pipeline: pipeline, logger: logger, retries: 2) }
        defer { connector.close() }
        let name = slot ?? pipeline?.slot ?? "pgsink"
        return try CDCFailure.wrap { try body(name, connector) }
    }
}

struct CDCStatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "A replication slot's lag on the source.")

    @OptionGroup var options: SlotOptions

    func run() throws {
        for (name, value) in try options.withSource("pgsink cdc status", { try LogicalReplication.status(slot: $0, source: $1) }) {
            print("\(name): \(value)")
        }
    }
}

struct CDCDropCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drop", abstract: "Drop a replication slot, so the source keeps no more WAL for it.")

    @OptionGroup var options: SlotOptions

    func run() throws {
        let (slot, dropped) = try options.withSource("pgsink cdc drop") { ($0, try LogicalReplication.drop(slot: $0, source: $1)) }
        print(dropped ? "dropped replication slot \(slot)" : "no replication slot \(slot); nothing to drop")
    }
}

/// Errors of the cdc commands as one line each.
enum CDCFailure {
    static func wrap<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CommandFailure {
            throw error
        } catch {
            throw CommandFailure(description: "\(error)")
        }
    }
}
