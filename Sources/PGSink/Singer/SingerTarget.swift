import Foundation
import Logging
import PGSinkCore

/// Settings of a Singer run: the keys of MeltanoLabs target-postgres and pgsink's own.
public struct SingerSettings: Sendable {
    public var streams = StreamSettings()
    public var addRecordMetadata = true
    public var hardDelete = false
    public var activateVersion = true
    /// `upsert` (merge when the stream has key_properties, the default) or `append-only`.
    public var appendOnly = false

    public init() {}
}

/// A Singer target: SCHEMA, RECORD, STATE, ACTIVATE_VERSION and BATCH messages, each stream
/// loaded into its table by a `StreamTarget`; each state printed once what precedes it is committed.
public final class SingerTarget {
    public let settings: SingerSettings
    let engine: StreamTarget
    let logger: Logger
    private var latestState: String?
    private var sequence: Int64
    private var warnedTypes = Set<String>()
    private let messageColumns = SourceColumns()
    public private(set) var line = 0

    public init(
        settings: SingerSettings, connection: PGConnection, logger: Logger, emitState: @escaping (String) -> Void
    ) {
        self.settings = settings
        self.logger = logger
        engine = StreamTarget(
            settings: settings.streams, connection: connection, logger: logger, keepEveryState: false,
            emitState: emitState)
        sequence = Int64(Date().timeIntervalSince1970 * 1000) * 1000
        if settings.addRecordMetadata {
            engine.flushColumns = { started in
                let micros = Int64((started.timeIntervalSince1970 * 1_000_000).rounded())
                return [SystemColumn(name: "_sdc_batched_at", generated: .constant(.timestamptz(unixMicroseconds: micros)))]
            }
        }
    }

    /// Rows loaded per table so far.
    public var rowsByTable: [String: Int] { engine.rowsByTable }

    /// Handles one input line (a message).
    public func process(_ bytes: [UInt8]) throws {
        line += 1
        let message = try Message(bytes, line: line, columns: messageColumns)
        guard let type = message.string("type") else {
            if message.isBlank { return }
            throw fail("the message has no \"type\"; every Singer message needs one")
        }
        switch type.uppercased() {
        case "RECORD": try record(message)
        case "SCHEMA": try schema(message)
        case "STATE":
            guard let value = message.json("value") else { throw fail("the STATE has no \"value\"") }
            latestState = value
            try engine.state(value)
        case "ACTIVATE_VERSION": try activateVersion(message)
        case "BATCH": try batch(message)
        default:
            if warnedTypes.insert(type).inserted {
                logger.warning("line \(line): ignoring messages of unknown type \"\(type)\"")
            }
        }
        try engine.flushIfDue()
    }

    /// Flushes when a batch is old enough (called while waiting for input).
    public func flushIfDue() throws { try engine.flushIfDue() }

    /// The end of input: everything still pending is loaded, and the last state printed.
    public func finish() throws {
        try engine.flush()
        if let latestState, engine.lastEmitted != latestState {
            engine.emitState(latestState)
        }
    }

    private func fail(_ message: String) -> InputError {
        InputError(source: "stdin", line: line, message: message)
    }

    private func stream(named name: String) throws -> StreamTarget.Stream {
        guard let stream = engine.stream(name) else {
            throw fail("a message for stream \"\(name)\" arrived before the stream's SCHEMA; a tap must send SCHEMA first")
        }
        return stream
    }

    private func schema(_ message: Message) throws {
        guard let name = message.string("stream") else { throw fail("the SCHEMA has no \"stream\"") }
        guard let object = message.object(), let schema = object["schema"] as? [String: Any] else {
            throw fail("the SCHEMA for stream \"\(name)\" has no \"schema\" object")
        }
        guard let properties = schema["properties"] as? [String: Any] else {
            throw fail("the SCHEMA for stream \"\(name)\" has no \"properties\"; a stream's schema must list its fields")
        }
        let keys = (object["key_properties"] as? [String]) ?? (schema["key_properties"] as? [String]) ?? []
        for key in keys where properties[key] == nil {
            throw fail("the SCHEMA for stream \"\(name)\" names key property \"\(key)\", which is not in its properties")
        }
        let naming = settings.streams.naming
        var definition = StreamDefinition(
            name: name,
            table: TableName(
                schema: naming.normalize(settings.streams.schema), name: naming.normalize(name, fallback: "stream")))
        definition.keys = keys
        definition.mode = keys.isEmpty || settings.appendOnly ? .append : .merge
        definition.properties = message.keyOrder("schema", "properties") ?? properties.keys.sorted()
        for (property, value) in properties {
            let type = JSONSchemaTypes.columnType(of: value)
            definition.declared[property] = type == .other("null") ? .text : type
        }
        if settings.addRecordMetadata {
            for (column, type) in Self.metadataColumns where definition.declared[column] == nil {
                definition.declared[column] = type
                definition.properties.append(column)
            }
            if settings.hardDelete && !keys.isEmpty { definition.afterWrite = [SQL.deleteMarked(definition.table)] }
        }
        definition.fingerprint = message.raw("schema") + "|" + keys.joined(separator: ",")
        try engine.define(definition)
    }

    /// The `_sdc_` columns that come with each record (`_sdc_batched_at` is one value per flush).
    static let metadataColumns: [(String, ColumnType)] = [
        ("_sdc_extracted_at", .timestamptz), ("_sdc_received_at", .timestamptz), ("_sdc_deleted_at", .timestamptz),
        ("_sdc_sequence", .bigint), ("_sdc_table_version", .bigint),
    ]

    /// The `_sdc_` members added to a record.
    private func metadata(extractedAt: String?, version: String?) -> [String] {
        guard settings.addRecordMetadata else { return [] }
        sequence += 1
        return [
            "\"_sdc_extracted_at\":" + (extractedAt.map(StreamTarget.quoted) ?? "null"),
            "\"_sdc_received_at\":\"\(StreamTarget.isoNow())\"", "\"_sdc_sequence\":\(sequence)",
            "\"_sdc_table_version\":" + (version ?? "null"),
        ]
    }

    private func record(_ message: Message) throws {
        guard let name = message.string("stream") else { throw fail("the RECORD has no \"stream\"") }
        let stream = try stream(named: name)
        guard let record = message.cell("record"), record.kind == .jsonNested, message.firstByte(record) == 123 else {
            throw fail("the RECORD for stream \"\(name)\" has no \"record\" object")
        }
        let extra = metadata(extractedAt: message.string("time_extracted"), version: message.numberText("version"))
        engine.append(message.bytes(record), extra: extra, to: stream, line: line)
    }

    private func activateVersion(_ message: Message) throws {
        guard let name = message.string("stream"), let version = message.numberText("version") else {
            throw fail("ACTIVATE_VERSION needs \"stream\" and \"version\"")
        }
        let table = try stream(named: name).definition.table
        try engine.flush()
        guard settings.activateVersion else { return }
        guard settings.addRecordMetadata else {
            logger.warning("ACTIVATE_VERSION for \(name) ignored: it needs add_record_metadata (the _sdc_table_version column)")
            return
        }
        let hard = settings.hardDelete
        try engine.transaction {
            guard let columns = try Catalog.columns(of: table, on: engine.connection),
                columns.contains(where: { $0.name == "_sdc_table_version" })
            else { return }
            let statement = hard ? SQL.deleteOlderVersions(table) : SQL.softDeleteOlderVersions(table)
            let changed = try engine.connection.query(statement, [version]).affectedRows
            logger.info("ACTIVATE_VERSION \(version) of \(name): \(hard ? "deleted" : "marked deleted") \(changed) older rows")
        }
    }

    private func batch(_ message: Message) throws {
        guard let name = message.string("stream") else { throw fail("the BATCH has no \"stream\"") }
        let stream = try stream(named: name)
        guard let object = message.object() else { throw fail("the BATCH message is not valid JSON") }
        let encoding = object["encoding"] as? [String: Any]
        guard (encoding?["format"] as? String ?? "jsonl") == "jsonl" else {
            throw fail("BATCH files in format \"\(encoding?["format"] ?? "")\" are not supported; use jsonl")
        }
        let version = (object["version"] as? NSNumber).map { "\($0.int64Value)" }
        for url in object["manifest"] as? [String] ?? [] {
            guard url.hasPrefix("file://") else { throw fail("BATCH file \(url): only local file:// manifests are supported") }
            let path = String(url.dropFirst("file://".count)).removingPercentEncoding ?? String(url.dropFirst(7))
            let data = try Self.readWhole(path)
            try data.withUnsafeBufferPointer { buffer in
                var start = 0
                for k in 0...buffer.count where k == buffer.count || buffer[k] == 10 {
                    defer { start = k + 1 }
                    var first = start
                    while first < k && (buffer[first] == 32 || buffer[first] == 13 || buffer[first] == 9) { first += 1 }
                    guard first < k else { continue }
                    guard buffer[first] == 123 else { throw fail("BATCH file \(path): each line must be one JSON object") }
                    var end = k
                    while end > first && (buffer[end - 1] == 13 || buffer[end - 1] == 32) { end -= 1 }
                    engine.append(
                        UnsafeBufferPointer(rebasing: buffer[first..<end]), extra: metadata(extractedAt: nil, version: version),
                        to: stream, line: line)
                }
            }
        }
    }

    static func readWhole(_ path: String) throws -> [UInt8] {
        let file = try InputFile(path: path)
        let storage = ByteStorage(capacity: 1 << 20)
        while try file.read(into: storage, count: 1 << 20) > 0 {}
        return Array(UnsafeBufferPointer(start: storage.base, count: storage.count))
    }
}
