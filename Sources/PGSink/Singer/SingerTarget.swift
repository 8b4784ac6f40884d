import Foundation
import Logging
import PGSinkCore

/// Settings of a Singer run: the keys of MeltanoLabs target-postgres and pgsink's own.
public struct SingerSettings: Sendable, Equatable {
    public var streams = StreamSettings()
    public var addRecordMetadata = true
    public var hardDelete = false
    public var activateVersion = true
    /// `upsert` (merge when the stream has key_properties, the default) or `append-only`.
    public var appendOnly = false

    public init() {}
}

/// A Singer target: SCHEMA, RECORD, STATE, ACTIVATE_VERSION and BATCH messages. It runs as the
/// reader of a stream load (`StreamLoad`): records are scanned in place into their stream's batch,
/// the `StreamWriter` commits them, and each state is printed once what precedes it is committed.
public final class SingerTarget: StreamReading, @unchecked Sendable {
    public let settings: SingerSettings
    let engine: StreamTarget
    let logger: Logger
    /// Walks every message's envelope (`MessageWalk`).
    private let envelope = JSONLinesScanner(source: "stdin")
    private let sequenceBase: Int64
    private var warnedTypes = Set<String>()
    private let messageColumns = SourceColumns()
    @exclusivity(unchecked) private var lastStream: (token: [UInt8], stream: StreamTarget.Stream)?
    @exclusivity(unchecked) public private(set) var line = 0

    init(settings: SingerSettings, engine: StreamTarget, logger: Logger) {
        self.settings = settings
        self.logger = logger
        self.engine = engine
        sequenceBase = Int64(Date().timeIntervalSince1970 * 1000) * 1000
        if settings.addRecordMetadata {
            let base = sequenceBase
            engine.batchColumns = { _, started, first in
                let micros = Int64((started.timeIntervalSince1970 * 1_000_000).rounded())
                let now = Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
                return [
                    SystemColumn(name: "_sdc_batched_at", generated: .constant(.timestamptz(unixMicroseconds: micros))),
                    SystemColumn(name: "_sdc_received_at", generated: .constant(.timestamptz(unixMicroseconds: now))),
                    SystemColumn(name: "_sdc_sequence", generated: .sequence(start: base + first + 1)),
                ]
            }
        }
    }

    /// Runs a Singer stream from `input` into PostgreSQL; returns the rows committed per table.
    public static func run(
        settings: SingerSettings, input: Int32, connection: PGConnection, connector: Connector, retries: Int,
        logger: Logger, emitState: @escaping (String) -> Void
    ) throws -> [String: Int] {
        let load = StreamLoad(
            settings: settings.streams, connection: connection, connector: connector, retries: retries, logger: logger,
            keepEveryState: false, emitState: emitState)
        let target = SingerTarget(settings: settings, engine: load.engine, logger: logger)
        try load.run(reader: target, input: input)
        return load.writer.rowsByTable
    }

    /// Handles one input line (a message), in the reader's buffer.
    func process(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) throws {
        line += 1
        if try !readRecord(bytes, count: count) {
            try process(message: Array(UnsafeBufferPointer(start: bytes, count: count)))
        }
        try engine.flushIfDue()
    }

    func idle() throws { try engine.idle() }

    /// The end of input: everything still pending is committed, and the last state printed.
    func finish() throws { try engine.finish() }

    /// A RECORD, read in place (see `MessageWalk`). Returns false, with the bytes untouched, for
    /// any other message.
    private func readRecord(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) throws -> Bool {
        var walk = MessageWalk(bytes, count: count, number: line, scanner: envelope)
        guard try walk.enter() else { return false }
        var isRecord = false
        var stream: StreamTarget.Stream?
        var name: MessageWalk.Taken = .none
        var record: MessageWalk.Taken = .none
        var extracted: MessageWalk.Taken = .none
        var version: MessageWalk.Taken = .none
        var began = false
        var first = true
        do {
            while let key = try walk.nextKey(first: first) {
                first = false
                if walk.keyIs(key, "type") && walk.batch == nil {
                    isRecord = walk.tokenIs(try walk.take(), "RECORD")
                    if !isRecord { return false }
                } else if walk.keyIs(key, "stream") && walk.batch == nil {
                    name = try walk.take()
                    if isRecord { stream = try resolve(name, walk) }
                } else if walk.keyIs(key, "record"), isRecord, let stream, walk.batch == nil, walk.atObject {
                    walk.move(into: stream.pending)
                    let end = walk.end
                    try stream.scanner.beginRecord(in: stream.pending, &walk.i, end, line: line, columns: stream.sources)
                    began = true
                } else if walk.keyIs(key, "record") {
                    record = try walk.take()
                } else if walk.keyIs(key, "time_extracted") {
                    extracted = try walk.take()
                } else if walk.keyIs(key, "version") {
                    version = try walk.take()
                } else {
                    try walk.skip()
                }
            }
            try walk.expectEnd()
        } catch {
            if began { stream?.pending.abandonRecord() }
            throw error
        }
        guard isRecord else { return false }
        if stream == nil {
            guard case .token = name else { throw fail("the RECORD has no \"stream\"") }
            stream = try resolve(name, walk)
        }
        guard let stream else { return false }
        if !began {
            guard case .token(let start, let end) = record, bytes[start] == 123 else {
                throw fail("the RECORD for stream \"\(stream.definition.name)\" has no \"record\" object")
            }
            try MessageWalk.beginRecord(start, end, of: bytes, number: line, stream: stream)
        }
        guard settings.addRecordMetadata else {
            stream.pending.endRecord()
            try engine.recorded(stream, bytes: count)
            return true
        }
        try engine.endRecord(
            stream, extracted, version, secondKind: .jsonNumber, of: bytes, scanner: walk.scanner, bytes: count)
        return true
    }

    /// The stream a name token names (the last one is remembered by its bytes).
    private func resolve(_ token: MessageWalk.Taken, _ walk: MessageWalk) throws -> StreamTarget.Stream {
        if case .token(let start, let end) = token, let last = lastStream, last.token.count == end - start,
            memcmp(walk.line + start, last.token, end - start) == 0
        {
            return last.stream
        }
        guard let name = walk.string(token) else { throw fail("the RECORD's \"stream\" must be a string") }
        let stream = try self.stream(named: name)
        if case .token(let start, let end) = token {
            lastStream = (Array(UnsafeBufferPointer(start: walk.line + start, count: end - start)), stream)
        }
        return stream
    }

    /// Any message but a RECORD read in place.
    private func process(message bytes: [UInt8]) throws {
        let message = try Message(bytes, line: line, columns: messageColumns)
        guard let type = message.string("type") else {
            if message.isBlank { return }
            throw fail("the message has no \"type\"; every Singer message needs one")
        }
        switch type.uppercased() {
        case "RECORD":
            // A RECORD whose members could not be read in place (an escaped member name).
            guard let name = message.string("stream") else { throw fail("the RECORD has no \"stream\"") }
            let stream = try stream(named: name)
            guard let record = message.cell("record"), record.kind == .jsonNested, message.firstByte(record) == 123 else {
                throw fail("the RECORD for stream \"\(name)\" has no \"record\" object")
            }
            var object = Array(message.bytes(record))
            try object.withUnsafeMutableBufferPointer { buffer in
                try MessageWalk.beginRecord(0, buffer.count, of: buffer.baseAddress!, number: line, stream: stream)
            }
            stream.pending.endRecord()
            try engine.recorded(stream, bytes: bytes.count)
        case "SCHEMA": try schema(message)
        case "STATE":
            guard let value = message.json("value") else { throw fail("the STATE has no \"value\"") }
            try engine.state(value)
        case "ACTIVATE_VERSION": try activateVersion(message)
        case "BATCH": try batch(message)
        default:
            if warnedTypes.insert(type).inserted {
                logger.warning("line \(line): ignoring messages of unknown type \"\(type)\"")
            }
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
            // These are the writer's own columns: a property of the same name would become a second column.
            let system: Set<String> = ["_sdc_batched_at", "_sdc_received_at", "_sdc_sequence"]
            definition.properties.removeAll { system.contains($0) }
            for name in system { definition.declared[name] = nil }
            definition.envelope = ["_sdc_extracted_at", "_sdc_table_version"]
        }
        definition.fingerprint = message.raw("schema") + "|" + keys.joined(separator: ",")
        try engine.define(definition)
        lastStream = nil  // a redefined stream is a new object

    }

    /// The `_sdc_` columns read from each message (`_sdc_batched_at`, `_sdc_received_at` and
    /// `_sdc_sequence` are system columns the writer fills).
    static let metadataColumns: [(String, ColumnType)] = [
        ("_sdc_extracted_at", .timestamptz), ("_sdc_deleted_at", .timestamptz), ("_sdc_table_version", .bigint),
    ]

    private func activateVersion(_ message: Message) throws {
        guard let name = message.string("stream"), let version = message.numberText("version") else {
            throw fail("ACTIVATE_VERSION needs \"stream\" and \"version\"")
        }
        let table = try stream(named: name).definition.table
        guard settings.activateVersion else { return try engine.flush() }
        guard settings.addRecordMetadata else {
            logger.warning("ACTIVATE_VERSION for \(name) ignored: it needs add_record_metadata (the _sdc_table_version column)")
            return try engine.flush()
        }
        try engine.operation(.activateVersion(table, stream: name, version: version, hard: settings.hardDelete))
    }

    private func batch(_ message: Message) throws {
        guard let name = message.string("stream") else { throw fail("the BATCH has no \"stream\"") }
        let stream = try stream(named: name)
        guard let object = message.object() else { throw fail("the BATCH message is not valid JSON") }
        let encoding = object["encoding"] as? [String: Any]
        guard (encoding?["format"] as? String ?? "jsonl") == "jsonl" else {
            throw fail("BATCH files in format \"\(encoding?["format"] ?? "")\" are not supported; use jsonl")
        }
        var version = Array(((object["version"] as? NSNumber).map { "\($0.int64Value)" } ?? "null").utf8)
        for url in object["manifest"] as? [String] ?? [] {
            guard url.hasPrefix("file://") else { throw fail("BATCH file \(url): only local file:// manifests are supported") }
            let path = String(url.dropFirst("file://".count)).removingPercentEncoding ?? String(url.dropFirst(7))
            var data = try Self.readWhole(path)
            try data.withUnsafeMutableBufferPointer { buffer in
                var start = 0
                for k in 0...buffer.count where k == buffer.count || buffer[k] == 10 {
                    defer { start = k + 1 }
                    var first = start
                    while first < k && (buffer[first] == 32 || buffer[first] == 13 || buffer[first] == 9) { first += 1 }
                    guard first < k else { continue }
                    guard buffer[first] == 123 else { throw fail("BATCH file \(path): each line must be one JSON object") }
                    var end = k
                    while end > first && (buffer[end - 1] == 13 || buffer[end - 1] == 32) { end -= 1 }
                    try MessageWalk.beginRecord(first, end, of: buffer.baseAddress!, number: line, stream: stream)
                    if settings.addRecordMetadata {
                        let cell = try version.withUnsafeMutableBufferPointer { text in
                            try MessageWalk.cell(
                                .token(start: 0, end: text.count), of: text.baseAddress!, in: stream.pending,
                                scanner: JSONLinesScanner(source: "stdin"))
                        }
                        if let cell { stream.pending.setCell(cell, column: stream.envelope[1]) }
                    }
                    stream.pending.endRecord()
                    try engine.recorded(stream, bytes: end - first)
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
