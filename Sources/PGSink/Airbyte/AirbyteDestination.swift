import Foundation
import Logging
import PGSinkCore

/// A failure reported to Airbyte as a TRACE error.
public struct AirbyteFailure: Error, CustomStringConvertible {
    public enum Kind: String, Sendable { case config = "config_error", system = "system_error", transient = "transient_error" }
    public var kind: Kind
    public var message: String
    public var description: String { message }

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }
}

/// `pgsink airbyte write`: the configured catalog fixes the streams, their sync modes, keys and
/// cursors. It runs as the reader of a stream load (`StreamLoad`): RECORD messages are scanned in
/// place into their stream's batch, and every STATE is echoed, in order, once the records before it
/// are committed (a state that covers an overwrite stream once the overwrite has committed, at the
/// end of the sync).
public final class AirbyteDestination: StreamReading, @unchecked Sendable {
    let config: AirbyteConfig
    let engine: StreamTarget
    let logger: Logger
    /// Walks every message's envelope (`MessageWalk`).
    private let envelope = JSONLinesScanner(source: "stdin")
    private let messageColumns = SourceColumns()
    /// Catalog streams by "namespace.name" (namespace may be empty).
    private var catalog: [String: ConfiguredStream] = [:]
    private var ignored = Set<String>()
    @exclusivity(unchecked) private var lastStream: (token: [UInt8], stream: StreamTarget.Stream?)?
    @exclusivity(unchecked) public private(set) var line = 0

    struct ConfiguredStream {
        var name: String
        var table: TableName
        var mode: String
        var generation: Int64?
        var minimumGeneration: Int64
        var syncId: Int64?
    }

    init(config: AirbyteConfig, catalog: [String: Any], catalogText: [UInt8]?, engine: StreamTarget, logger: Logger) throws {
        self.config = config
        self.logger = logger
        self.engine = engine
        try configure(configuredCatalog: catalog, order: catalogText.map(Self.propertyOrder) ?? [:])
        let overwritten = Set(self.catalog.filter { $0.value.mode == "overwrite" }.map(\.key))
        engine.holdsState = { state in Self.holds(state, overwritten: overwritten) }
        engine.batchColumns = { [catalog = self.catalog] stream, started, _ in
            let configured = catalog[stream.definition.name]
            let micros = Int64((started.timeIntervalSince1970 * 1_000_000).rounded())
            let sync = configured?.syncId.map { "\"sync_id\":\($0)," } ?? ""
            return [
                SystemColumn(name: "_airbyte_raw_id", generated: .randomId),
                SystemColumn(
                    name: "_airbyte_extracted_at",
                    generated: .epochMilliseconds(slot: stream.envelope[0], fallback: micros)),
                SystemColumn(
                    name: "_airbyte_meta",
                    generated: .json(
                        prefix: Array("{\(sync)\"changes\":".utf8), slot: stream.envelope[1],
                        ifNull: Array("[]".utf8), suffix: [125]),
                    batchDefault: Self.metaDefault(schema: stream.definition.table.schema)),
                SystemColumn(
                    name: "_airbyte_generation_id",
                    generated: .constant(configured?.generation.map { .bigint($0) } ?? .null(.bigint))),
            ]
        }
    }

    /// Runs an Airbyte sync from `input` into PostgreSQL; returns the rows committed per table.
    public static func run(
        config: AirbyteConfig, catalog: [String: Any], catalogText: [UInt8]? = nil, input: Int32, connection: PGConnection,
        connector: Connector, retries: Int, logger: Logger, emit: @escaping (String) -> Void
    ) throws -> [String: Int] {
        let load = StreamLoad(
            settings: config.streams, connection: connection, connector: connector, retries: retries, logger: logger,
            keepEveryState: true, emitState: emit)
        let destination = try AirbyteDestination(
            config: config, catalog: catalog, catalogText: catalogText, engine: load.engine, logger: logger)
        let schemas = Set(destination.catalog.values.map(\.table.schema)).sorted()
        try load.writer.prepare(schemas: schemas, statements: schemas.map(Self.createMetaFunction))
        try load.run(reader: destination, input: input)
        return load.writer.rowsByTable
    }

    /// Whether a state must wait for the overwrite transaction: a stream state of an overwrite
    /// stream, or a global or legacy state while any stream is overwritten.
    static func holds(_ line: String, overwritten: Set<String>) -> Bool {
        guard !overwritten.isEmpty else { return false }
        guard let message = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let state = message["state"] as? [String: Any], (state["type"] as? String)?.uppercased() == "STREAM",
            let descriptor = (state["stream"] as? [String: Any])?["stream_descriptor"] as? [String: Any],
            let name = descriptor["name"] as? String
        else { return true }
        let namespace = descriptor["namespace"] as? String
        return overwritten.contains(key(namespace, name)) || overwritten.contains(key(nil, name))
    }

    static let metadataColumns = ["_airbyte_raw_id", "_airbyte_extracted_at", "_airbyte_meta", "_airbyte_generation_id"]

    /// `_airbyte_meta`'s default in the tables pgsink creates: a function that returns the meta a
    /// sync set for its transaction, so a batch without `meta.changes` leaves the column out of
    /// its COPY and the server parses the jsonb once per batch instead of once per row.
    static func metaDefault(schema: String) -> BatchDefault {
        BatchDefault(expression: metaCall(schema: schema), function: metaFunction, setting: metaSetting)
    }

    /// `"schema"."_pgsink_airbyte_meta"()`.
    static func metaCall(schema: String) -> String { TableName(schema: schema, name: metaFunction).quoted + "()" }

    static let metaFunction = "_pgsink_airbyte_meta"
    static let metaSetting = "pgsink.airbyte_meta"

    /// Creates the meta function in a schema unless it is there (also when another load creates
    /// it at the same moment, or when the role may not create in the schema: it then creates no
    /// table there either, and existing tables are written without the default). It is declared IMMUTABLE, although it reads a setting, so that the
    /// server evaluates a default that calls it once when it plans a COPY or INSERT, not per row;
    /// pgsink sets the setting before each such statement. Outside a sync it returns
    /// `{"changes": []}`.
    static func createMetaFunction(schema: String) -> String {
        let name = metaCall(schema: schema)
        return """
            DO $do$ BEGIN
            CREATE FUNCTION \(name) RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
            SELECT COALESCE(NULLIF(current_setting('\(metaSetting)', true), ''), '{"changes": []}')::jsonb $fn$;
            COMMENT ON FUNCTION \(name) IS 'pgsink: the default of _airbyte_meta; returns the meta pgsink set for the '
                'running sync (setting \(metaSetting)), so the server reads it once per batch, not per row';
            EXCEPTION WHEN duplicate_function OR unique_violation OR insufficient_privilege THEN NULL;
            END $do$
            """
    }

    /// Each catalog stream's properties in the order its json_schema lists them, by stream key:
    /// columns are created in that order, as Singer's are (Foundation's dictionaries have none).
    static func propertyOrder(_ text: [UInt8]) -> [String: [String]] {
        guard let streams = Message.member("streams", of: text).flatMap(Message.elements(ofArray:)) else { return [:] }
        var result: [String: [String]] = [:]
        for entry in streams {
            guard let stream = Message.member("stream", of: entry),
                let object = try? JSONSerialization.jsonObject(with: Data(stream)) as? [String: Any],
                let name = object["name"] as? String,
                let order = Message.keyOrder(in: stream, ["json_schema", "properties"])
            else { continue }
            result[key(object["namespace"] as? String, name)] = order
        }
        return result
    }

    private func configure(configuredCatalog: [String: Any], order: [String: [String]]) throws {
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
            let listed = order[Self.key(namespace, name)].map { $0.filter { properties[$0] != nil } }
            definition.properties = (listed?.count == properties.count ? listed! : properties.keys.sorted())
                .filter { !Self.metadataColumns.contains($0) }
            for property in definition.properties { definition.declared[property] = Self.columnType(properties[property]!) }
            let configured = ConfiguredStream(
                name: name, table: table, mode: mode, generation: (entry["generation_id"] as? NSNumber)?.int64Value,
                minimumGeneration: (entry["minimum_generation_id"] as? NSNumber)?.int64Value ?? 0,
                syncId: (entry["sync_id"] as? NSNumber)?.int64Value)
            if mode == "append_dedup" {
                definition.mode = .merge
                definition.keys = keys
                definition.newestBy = (cursor.count == 1 && properties[cursor[0]] != nil ? cursor : []) + ["_airbyte_extracted_at"]
                if config.hardDeleteCDC && properties["_ab_cdc_deleted_at"] != nil {
                    definition.afterWrite = [SQL.deleteCDCDeleted(table)]
                }
            }
            definition.fingerprint = definition.name
            // Named so that no field of a record can be taken for them.
            definition.envelope = ["\u{1}emitted_at", "\u{1}changes"]
            catalog[definition.name] = configured
            try engine.define(definition, replaces: mode == "overwrite")
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

    /// Handles one input line, in the reader's buffer. Lines that are not Airbyte messages are
    /// dropped with a warning.
    func process(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) throws {
        line += 1
        let read: Bool
        do {
            read = try readRecord(bytes, count: count)
        } catch let error as InputError {
            logger.warning("line \(line) is not an Airbyte message and was dropped: \(error)")
            return
        }
        if !read { try process(message: Array(UnsafeBufferPointer(start: bytes, count: count))) }
        try engine.flushIfDue()
    }

    func idle() throws { try engine.idle() }

    /// A RECORD, read in place (see `MessageWalk`): `{"type":"RECORD","record":{"stream":…,
    /// "namespace":…,"data":{…},"emitted_at":…,"meta":{"changes":[…]}}}`. Returns false, with the
    /// bytes untouched, for any other message.
    private func readRecord(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) throws -> Bool {
        var walk = MessageWalk(bytes, count: count, number: line, scanner: envelope)
        guard try walk.enter() else { return false }
        var isRecord = false
        var sawRecord = false
        var name: MessageWalk.Taken = .none
        var namespace: MessageWalk.Taken = .none
        var data: MessageWalk.Taken = .none
        var emitted: MessageWalk.Taken = .none
        var meta: MessageWalk.Taken = .none
        var fast: StreamTarget.Stream?
        var first = true
        do {
            while let key = try walk.nextKey(first: first) {
                first = false
                if walk.keyIs(key, "type") && walk.batch == nil {
                    isRecord = walk.tokenIs(try walk.take(), "RECORD")
                    if !isRecord { return false }
                } else if walk.keyIs(key, "record") && walk.atObject && !sawRecord {
                    sawRecord = true
                    walk.i += 1
                    var inner = true
                    while let key = try walk.nextKey(first: inner) {
                        inner = false
                        if walk.keyIs(key, "stream") && walk.batch == nil {
                            name = try walk.take()
                        } else if walk.keyIs(key, "namespace") && walk.batch == nil {
                            namespace = try walk.take()
                        } else if walk.keyIs(key, "data"), isRecord, walk.batch == nil, walk.atObject,
                            case .token = name, let stream = try resolve(name, namespace, walk)
                        {
                            walk.move(into: stream.pending)
                            let end = walk.end
                            try stream.scanner.beginRecord(
                                in: stream.pending, &walk.i, end, line: line, columns: stream.sources)
                            fast = stream
                        } else if walk.keyIs(key, "data") {
                            data = try walk.take()
                        } else if walk.keyIs(key, "emitted_at") {
                            emitted = try walk.take()
                        } else if walk.keyIs(key, "meta") && walk.batch != nil && walk.atObject {
                            meta = try changes(&walk)
                        } else if walk.keyIs(key, "meta") {
                            meta = try walk.take()
                        } else {
                            try walk.skip()
                        }
                    }
                } else {
                    try walk.skip()
                }
            }
            try walk.expectEnd()
        } catch {
            fast?.pending.abandonRecord()
            throw error
        }
        guard isRecord else { return false }
        guard sawRecord else {
            logger.warning("line \(line): a RECORD without a record object was dropped")
            return true
        }
        let stream: StreamTarget.Stream
        if let fast {
            stream = fast
        } else {
            guard case .token = name else {
                logger.warning("line \(line): a RECORD without record.stream was dropped")
                return true
            }
            guard let found = try resolve(name, namespace, walk) else { return true }
            guard case .token(let start, let end) = data, bytes[start] == 123 else {
                throw InputError(
                    source: "stdin", line: line, message: "the RECORD for stream \(found.definition.name) has no data object")
            }
            try MessageWalk.beginRecord(start, end, of: bytes, number: line, stream: found)
            stream = found
        }
        do {
            if case .token(let start, let end) = meta, bytes[start] == 123 {
                var inner = MessageWalk(bytes + start, count: end - start, number: line, scanner: envelope)
                inner.move(into: stream.pending)
                _ = try inner.enter()
                meta = try changesMembers(&inner)
            }
        } catch {
            stream.pending.abandonRecord()
            throw error
        }
        try engine.endRecord(stream, emitted, meta, secondKind: .jsonNested, of: bytes, scanner: walk.scanner, bytes: count)
        return true
    }

    /// `meta`'s `changes` array, read in the batch (the walk is on `meta`'s `{`).
    private func changes(_ walk: inout MessageWalk) throws(InputError) -> MessageWalk.Taken {
        walk.i += 1
        return try changesMembers(&walk)
    }

    private func changesMembers(_ walk: inout MessageWalk) throws(InputError) -> MessageWalk.Taken {
        var found: MessageWalk.Taken = .none
        var first = true
        while let key = try walk.nextKey(first: first) {
            first = false
            if walk.keyIs(key, "changes") { found = try walk.take() } else { try walk.skip() }
        }
        return found
    }

    /// The catalog stream a RECORD names; nil (warned once) for a stream not in the catalog.
    private func resolve(_ name: MessageWalk.Taken, _ namespace: MessageWalk.Taken, _ walk: MessageWalk) throws
        -> StreamTarget.Stream?
    {
        let spaced: Bool
        if case .none = namespace { spaced = false } else { spaced = true }
        if !spaced, case .token(let start, let end) = name, let last = lastStream, last.token.count == end - start,
            memcmp(walk.line + start, last.token, end - start) == 0
        {
            return last.stream
        }
        guard let streamName = walk.string(name) else { return nil }
        let space = spaced ? walk.string(namespace) : nil
        let key = Self.key(space, streamName)
        let found = catalog[key] != nil ? engine.stream(key) : engine.stream(Self.key(nil, streamName))
        if found == nil, ignored.insert(key).inserted {
            logger.warning("records of stream \(key) are not in the catalog and are ignored")
        }
        if !spaced, case .token(let start, let end) = name {
            lastStream = (Array(UnsafeBufferPointer(start: walk.line + start, count: end - start)), found)
        }
        return found
    }

    /// Any message but a RECORD read in place.
    private func process(message bytes: [UInt8]) throws {
        let message: Message
        do {
            message = try Message(bytes, line: line, columns: messageColumns)
        } catch {
            logger.warning("line \(line) is not an Airbyte message and was dropped: \(error)")
            return
        }
        switch message.string("type")?.uppercased() {
        case "RECORD":
            logger.warning("line \(line): a RECORD whose members could not be read was dropped")
        case "STATE": try engine.state(String(decoding: bytes, as: UTF8.self))
        case nil:
            if !message.isBlank { logger.warning("line \(line) has no \"type\" and was dropped") }
        default:
            break  // LOG, TRACE, CONTROL … from the source are not the destination's business
        }
    }

    /// The end of input: the last records and states, old generations removed, then the
    /// overwrite transaction committed and the states it held echoed.
    func finish() throws {
        let cleanups = catalog.values.filter { $0.mode != "overwrite" && $0.minimumGeneration > 0 }
            .sorted { $0.table.description < $1.table.description }
            .map { TableOperation.deleteOlderGenerations($0.table, minimum: $0.minimumGeneration) }
        try engine.finish(operations: cleanups)
    }
}
