import Foundation
import Logging
import PGSinkCore

/// A failure reported to Airbyte as a TRACE error.
public struct AirbyteFailure: Error, CustomStringConvertible {
    public enum Kind: String { case config = "config_error", system = "system_error", transient = "transient_error" }
    public var kind: Kind
    public var message: String
    public var description: String { message }

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }
}

/// `pgsink airbyte write`: the configured catalog fixes the streams, their sync modes, keys and
/// cursors; RECORD messages are loaded through a `StreamTarget`; every STATE is echoed, in order,
/// once the records before it are committed.
public final class AirbyteDestination {
    let config: AirbyteConfig
    let engine: StreamTarget
    let logger: Logger
    private let messageColumns = SourceColumns()
    private let recordColumns = SourceColumns()
    /// Catalog streams by "namespace.name" (namespace may be empty).
    private var catalog: [String: ConfiguredStream] = [:]
    private var ignored = Set<String>()
    public private(set) var line = 0

    struct ConfiguredStream {
        var name: String
        var table: TableName
        var mode: String
        var generation: Int64?
        var minimumGeneration: Int64
        var syncId: Int64?
        var hidden: TableName?
    }

    public init(
        config: AirbyteConfig, catalog: [String: Any], connection: PGConnection, logger: Logger,
        emit: @escaping (String) -> Void
    ) throws {
        self.config = config
        self.logger = logger
        engine = StreamTarget(
            settings: config.streams, connection: connection, logger: logger, keepEveryState: true, emitState: emit)
        try configure(configuredCatalog: catalog)
    }

    public var rowsByTable: [String: Int] { engine.rowsByTable }

    static let metadataColumns: [(String, ColumnType)] = [
        ("_airbyte_raw_id", .uuid), ("_airbyte_extracted_at", .timestamptz), ("_airbyte_meta", .jsonb),
        ("_airbyte_generation_id", .bigint),
    ]

    private func configure(configuredCatalog: [String: Any]) throws {
        guard let streams = configuredCatalog["streams"] as? [[String: Any]] else {
            throw AirbyteFailure(kind: .config, message: "the catalog has no \"streams\" list")
        }
        let naming = config.streams.naming
        for entry in streams {
            guard let stream = entry["stream"] as? [String: Any], let name = stream["name"] as? String else {
                throw AirbyteFailure(kind: .config, message: "a catalog stream has no stream.name")
            }
            let namespace = stream["namespace"] as? String
            let schemaName = naming.normalize(namespace ?? config.streams.schema)
            let table = TableName(schema: schemaName, name: naming.normalize(name, fallback: "stream"))
            let mode = entry["destination_sync_mode"] as? String ?? "append"
            guard ["append", "overwrite", "append_dedup"].contains(mode) else {
                throw AirbyteFailure(
                    kind: .config, message: "stream \(name): destination_sync_mode \(mode) is not supported (append, overwrite, append_dedup)")
            }
            let keys = try (entry["primary_key"] as? [[String]] ?? []).map { path -> String in
                guard path.count == 1 else {
                    throw AirbyteFailure(
                        kind: .config,
                        message: "stream \(name): primary key path \(path.joined(separator: ".")) is nested; use a top-level field")
                }
                return path[0]
            }
            if mode == "append_dedup" && keys.isEmpty {
                throw AirbyteFailure(kind: .config, message: "stream \(name): append_dedup needs a primary_key")
            }
            let cursor = (entry["cursor_field"] as? [String]) ?? []
            let schema = stream["json_schema"] as? [String: Any] ?? [:]
            let properties = schema["properties"] as? [String: Any] ?? [:]
            var definition = StreamDefinition(name: Self.key(namespace, name), table: table)
            definition.onlyDeclared = true
            definition.properties = properties.keys.sorted()
            for (property, value) in properties { definition.declared[property] = Self.columnType(value) }
            for (column, type) in Self.metadataColumns {
                definition.declared[column] = type
                definition.properties.append(column)
            }
            var configured = ConfiguredStream(
                name: name, table: table, mode: mode, generation: (entry["generation_id"] as? NSNumber)?.int64Value,
                minimumGeneration: (entry["minimum_generation_id"] as? NSNumber)?.int64Value ?? 0,
                syncId: (entry["sync_id"] as? NSNumber)?.int64Value)
            switch mode {
            case "append_dedup":
                definition.mode = .merge
                definition.keys = keys
                definition.newestBy = (cursor.count == 1 && properties[cursor[0]] != nil ? cursor : []) + ["_airbyte_extracted_at"]
                if config.hardDeleteCDC && properties["_ab_cdc_deleted_at"] != nil {
                    definition.afterWrite = [SQL.deleteCDCDeleted(table)]
                }
            case "overwrite":
                let hidden = TableName(
                    schema: schemaName, name: NamingRules.fitting("_pgsink_ow_" + table.name + "_" + String(UUID().uuidString.prefix(8)).lowercased()))
                definition.stagedAs = hidden
                configured.hidden = hidden
            default:
                break
            }
            definition.fingerprint = definition.name
            catalog[definition.name] = configured
            try engine.define(definition)
        }
    }

    static func key(_ namespace: String?, _ name: String) -> String { namespace.map { $0 + "." + name } ?? name }

    /// Airbyte's type hints on top of JSON Schema.
    static func columnType(_ property: Any) -> ColumnType {
        let base = JSONSchemaTypes.columnType(of: property)
        guard let schema = property as? [String: Any], let hint = schema["airbyte_type"] as? String else {
            return base == .other("null") ? .text : base
        }
        switch hint {
        case "timestamp_without_timezone": return .timestamp
        case "timestamp_with_timezone": return .timestamptz
        case "time_with_timezone": return .other("time with time zone")
        case "time_without_timezone": return .other("time without time zone")
        case "integer", "big_integer": return .bigint
        default: return base == .other("null") ? .text : base
        }
    }

    /// Handles one input line. Lines that are not Airbyte messages are dropped with a warning.
    public func process(_ bytes: [UInt8]) throws {
        line += 1
        let message: Message
        do {
            message = try Message(bytes, line: line, columns: messageColumns)
        } catch {
            logger.warning("line \(line) is not an Airbyte message and was dropped: \(error)")
            return
        }
        switch message.string("type")?.uppercased() {
        case "RECORD": try record(message)
        case "STATE": try engine.state(String(decoding: bytes, as: UTF8.self))
        case nil:
            if !message.isBlank { logger.warning("line \(line) has no \"type\" and was dropped") }
        default:
            break  // LOG, TRACE, CONTROL … from the source are not the destination's business
        }
        try engine.flushIfDue()
    }

    public func flushIfDue() throws { try engine.flushIfDue() }

    private func record(_ message: Message) throws {
        guard let cell = message.cell("record"), cell.kind == .jsonNested else {
            logger.warning("line \(line): a RECORD without a record object was dropped")
            return
        }
        let record = try Message(Array(message.bytes(cell)), line: line, columns: recordColumns)
        guard let name = record.string("stream") else {
            logger.warning("line \(line): a RECORD without record.stream was dropped")
            return
        }
        let key = Self.key(record.string("namespace"), name)
        guard let configured = catalog[key] ?? catalog[Self.key(nil, name)], let stream = engine.stream(
            catalog[key] == nil ? Self.key(nil, name) : key)
        else {
            if ignored.insert(key).inserted { logger.warning("records of stream \(key) are not in the catalog and are ignored") }
            return
        }
        guard let data = record.cell("data"), data.kind == .jsonNested, record.firstByte(data) == 123 else {
            throw InputError(source: "stdin", line: line, message: "the RECORD for stream \(name) has no data object")
        }
        let emitted = Int64(record.numberText("emitted_at").flatMap { Double($0) } ?? Date().timeIntervalSince1970 * 1000)
        let changes = record.cell("meta").flatMap { _ in Self.changes(record) } ?? "[]"
        let sync = configured.syncId.map { "\"sync_id\":\($0)," } ?? ""
        let extra = [
            "\"_airbyte_raw_id\":\"\(UUID().uuidString.lowercased())\"",
            "\"_airbyte_extracted_at\":\"\(StreamTarget.iso(microseconds: emitted * 1000))\"",
            "\"_airbyte_meta\":{\(sync)\"changes\":\(changes)}",
            "\"_airbyte_generation_id\":" + (configured.generation.map(String.init) ?? "null"),
        ]
        engine.append(record.bytes(data), extra: extra, to: stream, line: line)
    }

    /// `record.meta.changes` as JSON text.
    private static func changes(_ record: Message) -> String? {
        guard let meta = record.cell("meta") else { return nil }
        let inner = SourceColumns()
        guard let parsed = try? Message(Array(record.bytes(meta)), line: 0, columns: inner),
            let changes = parsed.cell("changes"), changes.kind == .jsonNested
        else { return nil }
        return String(decoding: parsed.bytes(changes), as: UTF8.self)
    }

    /// The end of input: the last records and states, then overwrite streams swapped in and old
    /// generations removed, each stream in one transaction.
    public func finish() throws {
        try engine.flush()
        for configured in catalog.values.sorted(by: { $0.table.description < $1.table.description }) {
            if let hidden = configured.hidden {
                try publish(hidden, as: configured.table)
            } else if configured.minimumGeneration > 0 {
                try engine.transaction {
                    guard try Catalog.columns(of: configured.table, on: engine.connection) != nil else { return }
                    let deleted = try engine.connection.query(
                        SQL.deleteOlderGenerations(configured.table), [String(configured.minimumGeneration)]
                    ).affectedRows
                    logger.info("\(configured.table): removed \(deleted) rows of generations before \(configured.minimumGeneration)")
                }
            }
        }
    }

    /// Overwrite: the table this sync wrote replaces the old one in one transaction; readers
    /// saw the old rows until then.
    private func publish(_ hidden: TableName, as table: TableName) throws {
        let connection = engine.connection
        try engine.transaction {
            try connection.query(SQL.lockTable, [table.description])
            guard try Catalog.columns(of: hidden, on: connection) != nil else {
                // Nothing arrived: a full refresh of nothing empties the table.
                if try Catalog.columns(of: table, on: connection) != nil { try connection.execute(SQL.deleteAll(table)) }
                return
            }
            do {
                try connection.execute("DROP TABLE IF EXISTS \(table.quoted)\(config.dropCascade ? " CASCADE" : "")")
            } catch let error as PGError where error.sqlState == "2BP01" {
                throw AirbyteFailure(
                    kind: .config,
                    message: "cannot replace \(table): \(error.detail ?? error.message). Set drop_cascade to drop the "
                        + "dependent objects with it, or drop them yourself")
            }
            try connection.execute(SQL.rename(hidden, to: table.name))
        }
    }

    /// After a failure: drops this sync's hidden overwrite tables (each sync uses fresh names, so
    /// nothing of an earlier failed sync is ever published).
    public func abandon() {
        for configured in catalog.values {
            guard let hidden = configured.hidden else { continue }
            _ = try? engine.connection.execute("DROP TABLE IF EXISTS \(hidden.quoted)")
        }
    }
}
