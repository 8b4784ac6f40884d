import Foundation
import Logging
import PGSinkCore

/// Settings of a Singer run: the keys of MeltanoLabs target-postgres and pgsink's own.
public struct SingerSettings: Sendable {
    public var schema = "public"
    public var createSchema = true
    public var addRecordMetadata = true
    public var hardDelete = false
    public var activateVersion = true
    /// Records per stream… in all streams before a flush (data, ledger and state commit).
    public var batchRows = 100_000
    public var batchBytes = 64 << 20
    /// Seconds a record may wait before its batch is flushed, so a slow tap's data and state land.
    public var batchSeconds: Double = 60
    /// `upsert` (merge when the stream has key_properties, the default) or `append-only`.
    public var appendOnly = false
    public var contract: SchemaContract = .evolve
    public var maxRejects = 0
    public var nested: NestedMode = .jsonb
    public var nestedSeparator = "__"
    public var naming = NamingRules()
    /// The row of `_pgsink_state` this run's state is kept in.
    public var stateId = "singer"

    public init() {}
}

/// A Singer target: reads SCHEMA, RECORD, STATE, ACTIVATE_VERSION and BATCH messages and loads
/// each stream into its table through the same record path as file loads. Every flush is one
/// transaction holding the data of all streams, their ledger rows and the latest state; the state
/// is printed only after that transaction commits.
public final class SingerTarget {
    public let settings: SingerSettings
    let connection: PGConnection
    let logger: Logger
    /// Receives each state line to print (bare JSON).
    let emitState: (String) -> Void

    final class Stream {
        let name: String
        let table: TableName
        var keys: [String]
        var properties: [String]
        var declared: [String: ColumnType]
        var schemaText: String
        var producer: BatchProducer?
        var loader: Loader
        var pending: RecordBatch
        var pendingLines: [Int] = []
        var rows = 0
        var needsWrite = false

        init(name: String, table: TableName, loader: Loader) {
            self.name = name
            self.table = table
            self.keys = []
            self.properties = []
            self.declared = [:]
            self.schemaText = ""
            self.loader = loader
            self.pending = Self.newBatch()
        }

        static func newBatch() -> RecordBatch {
            RecordBatch(source: "stdin", bytes: ByteStorage(capacity: 1 << 20))
        }
    }

    private var streams: [String: Stream] = [:]
    private var order: [String] = []
    private var pendingState: String?
    private var lastEmitted: String?
    private var latestState: String?
    private var pendingRows = 0
    private var pendingBytes = 0
    private var oldestPending: Date?
    private var sequence: Int64
    private var warnedTypes = Set<String>()
    private let messageColumns = SourceColumns()
    public private(set) var line = 0

    public init(
        settings: SingerSettings, connection: PGConnection, logger: Logger, emitState: @escaping (String) -> Void
    ) {
        self.settings = settings
        self.connection = connection
        self.logger = logger
        self.emitState = emitState
        sequence = Int64(Date().timeIntervalSince1970 * 1000) * 1000
    }

    /// Rows loaded per table so far.
    public var rowsByTable: [String: Int] {
        Dictionary(uniqueKeysWithValues: order.compactMap { streams[$0] }.map { ($0.table.description, $0.rows) })
    }

    // MARK: messages

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
        case "SCHEMA": try schema(message, bytes)
        case "STATE": try state(message)
        case "ACTIVATE_VERSION": try activateVersion(message)
        case "BATCH": try batch(message)
        default:
            if warnedTypes.insert(type).inserted {
                logger.warning("line \(line): ignoring messages of unknown type \"\(type)\"")
            }
        }
        try flushIfDue()
    }

    /// Flushes when a batch is old enough (called between messages and while waiting for input).
    public func flushIfDue() throws {
        if pendingRows >= settings.batchRows || pendingBytes >= settings.batchBytes {
            try flush()
        } else if let oldest = oldestPending, Date().timeIntervalSince(oldest) >= settings.batchSeconds {
            try flush()
        }
    }

    /// The end of input: everything still pending is loaded, and the last state printed.
    public func finish() throws {
        try flush()
        if let latestState, lastEmitted != latestState || pendingState != nil {
            emitState(latestState)
            lastEmitted = latestState
        }
    }

    private func fail(_ message: String) -> InputError {
        InputError(source: "stdin", line: line, message: message)
    }

    private func stream(named name: String) throws -> Stream {
        guard let stream = streams[name] else {
            throw fail(
                "a \(name.isEmpty ? "message" : "RECORD for stream \"\(name)\"") arrived before the stream's SCHEMA; "
                    + "a tap must send SCHEMA first")
        }
        return stream
    }

    private func schema(_ message: Message, _ bytes: [UInt8]) throws {
        guard let name = message.string("stream") else { throw fail("the SCHEMA has no \"stream\"") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            let schema = object["schema"] as? [String: Any]
        else { throw fail("the SCHEMA for stream \"\(name)\" has no \"schema\" object") }
        guard let properties = schema["properties"] as? [String: Any] else {
            throw fail(
                "the SCHEMA for stream \"\(name)\" has no \"properties\"; a stream's schema must list its fields")
        }
        let keys = (object["key_properties"] as? [String]) ?? (schema["key_properties"] as? [String]) ?? []
        for key in keys where properties[key] == nil {
            throw fail("the SCHEMA for stream \"\(name)\" names key property \"\(key)\", which is not in its properties")
        }
        let text = message.raw("schema") + "|" + keys.joined(separator: ",")
        if let existing = streams[name], existing.schemaText == text { return }  // the same SCHEMA again
        // A changed schema applies to what comes after it: load what came before first.
        if streams[name] != nil { try flush() }
        let ordered = message.keyOrder("schema", "properties") ?? properties.keys.sorted()
        var declared: [String: ColumnType] = [:]
        for (property, definition) in properties { declared[property] = JSONSchemaTypes.columnType(of: definition) }
        for (property, type) in declared where type == .other("null") { declared[property] = .text }
        var names = ordered
        if settings.addRecordMetadata {
            for (column, type) in Self.metadataColumns where declared[column] == nil {
                declared[column] = type
                names.append(column)
            }
        }
        let stream: Stream
        if let existing = streams[name] {
            stream = existing
        } else {
            let table = TableName(
                schema: settings.naming.normalize(settings.schema),
                name: settings.naming.normalize(name, fallback: "stream"))
            stream = Stream(name: name, table: table, loader: Loader(request: LoadRequest(inputs: [], table: table), logger: logger))
            streams[name] = stream
            order.append(name)
        }
        stream.keys = keys
        stream.properties = names
        stream.declared = declared
        stream.schemaText = text
        stream.loader = Loader(request: request(for: stream), logger: logger)
        stream.producer = nil
        stream.needsWrite = true
    }

    /// The `_sdc_` columns that come with each record (`_sdc_batched_at` is one value per flush,
    /// written as a system column).
    static let metadataColumns: [(String, ColumnType)] = [
        ("_sdc_extracted_at", .timestamptz), ("_sdc_received_at", .timestamptz), ("_sdc_deleted_at", .timestamptz),
        ("_sdc_sequence", .bigint), ("_sdc_table_version", .bigint),
    ]

    private func request(for stream: Stream) -> LoadRequest {
        var request = LoadRequest(inputs: [], table: stream.table)
        request.mode = stream.keys.isEmpty || settings.appendOnly ? .append : .merge
        request.primaryKey = stream.keys
        request.naming = settings.naming
        request.createSchema = settings.createSchema
        request.contract = settings.contract
        request.maxRejects = settings.maxRejects
        request.nested = settings.nested
        request.nestedSeparator = settings.nestedSeparator
        request.force = true
        return request
    }

    private func record(_ message: Message) throws {
        guard let name = message.string("stream") else { throw fail("the RECORD has no \"stream\"") }
        let stream = try stream(named: name)
        guard let record = message.cell("record"), record.kind == .jsonNested, message.firstByte(record) == 123 else {
            throw fail("the RECORD for stream \"\(name)\" has no \"record\" object")
        }
        var extra: [String] = []
        if settings.addRecordMetadata {
            let now = Self.isoNow()
            extra.append("\"_sdc_extracted_at\":" + (message.string("time_extracted").map(Self.quoted) ?? "null"))
            extra.append("\"_sdc_received_at\":\"\(now)\"")
            sequence += 1
            extra.append("\"_sdc_sequence\":\(sequence)")
            extra.append("\"_sdc_table_version\":" + (message.numberText("version") ?? "null"))
        }
        append(message.bytes(record), extra: extra, to: stream)
    }

    /// Adds one record object (and extra members) as a line of the stream's pending batch.
    private func append(_ object: UnsafeBufferPointer<UInt8>, extra: [String], to stream: Stream) {
        let out = stream.pending.bytes
        if extra.isEmpty {
            out.append(object.baseAddress!, count: object.count)
        } else {
            // Before the closing brace; no comma after an empty object.
            var close = object.count - 1
            while close > 0 && object[close] != 125 { close -= 1 }
            out.append(object.baseAddress!, count: close)
            var k = close - 1
            while k > 0 && (object[k] == 32 || object[k] == 9 || object[k] == 13 || object[k] == 10) { k -= 1 }
            let empty = object[k] == 123
            out.append(contentsOf: Array(((empty ? "" : ",") + extra.joined(separator: ",") + "}").utf8))
        }
        out.append(10)
        stream.pendingLines.append(line)
        stream.needsWrite = true
        pendingRows += 1
        pendingBytes += object.count
        if oldestPending == nil { oldestPending = Date() }
    }

    private func state(_ message: Message) throws {
        guard let value = message.json("value") else { throw fail("the STATE has no \"value\"") }
        latestState = value
        pendingState = value
        // With nothing waiting, the state is saved and printed at once.
        if pendingRows == 0 { try flush() }
    }

    private func activateVersion(_ message: Message) throws {
        guard let name = message.string("stream"), let version = message.numberText("version") else {
            throw fail("ACTIVATE_VERSION needs \"stream\" and \"version\"")
        }
        let stream = try stream(named: name)
        try flush()
        guard settings.activateVersion else { return }
        guard settings.addRecordMetadata else {
            logger.warning("ACTIVATE_VERSION for \(name) ignored: it needs add_record_metadata (the _sdc_table_version column)")
            return
        }
        try transaction {
            guard let columns = try Catalog.columns(of: stream.table, on: connection),
                columns.contains(where: { $0.name == "_sdc_table_version" })
            else { return }
            let statement = settings.hardDelete ? SQL.deleteOlderVersions(stream.table) : SQL.softDeleteOlderVersions(stream.table)
            let changed = try connection.query(statement, [version]).affectedRows
            logger.info(
                "ACTIVATE_VERSION \(version) of \(name): \(settings.hardDelete ? "deleted" : "marked deleted") \(changed) rows of older versions")
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
            guard url.hasPrefix("file://") else {
                throw fail("BATCH file \(url): only local file:// manifests are supported")
            }
            let path = String(url.dropFirst("file://".count)).removingPercentEncoding ?? String(url.dropFirst(7))
            let data = try readWhole(path)
            try data.withUnsafeBufferPointer { buffer in
                var start = 0
                for k in 0...buffer.count where k == buffer.count || buffer[k] == 10 {
                    defer { start = k + 1 }
                    var first = start
                    while first < k && (buffer[first] == 32 || buffer[first] == 13 || buffer[first] == 9) { first += 1 }
                    guard first < k else { continue }
                    guard buffer[first] == 123 else { throw fail("BATCH file \(path): each line must be one JSON object") }
                    var extra: [String] = []
                    if settings.addRecordMetadata {
                        sequence += 1
                        extra = [
                            "\"_sdc_received_at\":\"\(Self.isoNow())\"", "\"_sdc_sequence\":\(sequence)",
                            "\"_sdc_table_version\":" + (version ?? "null"),
                        ]
                    }
                    var end = k
                    while end > first && (buffer[end - 1] == 13 || buffer[end - 1] == 32) { end -= 1 }
                    append(UnsafeBufferPointer(rebasing: buffer[first..<end]), extra: extra, to: stream)
                }
            }
        }
    }

    private func readWhole(_ path: String) throws -> [UInt8] {
        let file = try InputFile(path: path)
        let storage = ByteStorage(capacity: 1 << 20)
        while try file.read(into: storage, count: 1 << 20) > 0 {}
        return Array(UnsafeBufferPointer(start: storage.base, count: storage.count))
    }

    // MARK: flushing

    /// Loads every stream's pending records, writes the state, commits, then prints the state.
    public func flush() throws {
        let dirty = order.compactMap { streams[$0] }.filter(\.needsWrite)
        guard !dirty.isEmpty || pendingState != nil else { return }
        try transaction {
            for stream in dirty { try write(stream) }
            if let pendingState {
                try connection.execute(SQL.createSchema(settings.naming.normalize(settings.schema)))
                try connection.execute(SQL.createStateTable(schema: settings.naming.normalize(settings.schema)))
                try connection.query(SQL.saveState(schema: settings.naming.normalize(settings.schema)), [settings.stateId, pendingState])
            }
        }
        pendingRows = 0
        pendingBytes = 0
        oldestPending = nil
        if let state = pendingState {
            emitState(state)
            lastEmitted = state
            pendingState = nil
        }
    }

    private func transaction(_ body: () throws -> Void) throws {
        try connection.execute("BEGIN")
        do {
            try body()
            try connection.execute("COMMIT")
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// One stream's part of a flush: the table made ready, the records copied or merged, the
    /// ledger row written.
    private func write(_ stream: Stream) throws {
        let table = stream.table
        let loader = stream.loader
        if settings.createSchema { try connection.execute(SQL.createSchema(table.schema)) }
        try connection.query(SQL.lockTable, [table.description])
        try connection.execute(SQL.createLedger(schema: table.schema))
        let started = Date()
        let session = Loader.Session(loadId: try loader.reserveLoadId(on: connection), started: started)
        var statements: [String] = []
        let producer: BatchProducer
        if let existing = stream.producer {
            producer = existing
        } else {
            let columns = try Catalog.columns(of: table, on: connection)
            if let columns, !stream.keys.isEmpty {
                try Catalog.checkKey(loader.keyNames(columns), of: table, mode: loader.request.mode, on: connection)
            }
            producer = loader.makeProducer(existing: columns, session: session, progress: nil)
            producer.sourceNames = ["singer:\(stream.name)"]
            for property in stream.properties { _ = producer.root.sources.slot(for: property) }
            statements = producer.root.planner.redeclare(stream.declared)
            stream.producer = producer
        }
        if settings.addRecordMetadata {
            let now = Int64((started.timeIntervalSince1970 * 1_000_000).rounded())
            producer.root.planner.systemColumns = [
                SystemColumn(name: "_sdc_batched_at", generated: .constant(.timestamptz(unixMicroseconds: now)))
            ]
        }
        if loader.request.mode == .merge { try connection.execute(SQL.mergeSessionSettings) }
        let batch = stream.pending
        var scanner = JSONLinesScanner(source: "stdin", nesting: Self.nesting(settings))
        do {
            _ = try scanner.scan(into: batch, columns: producer.root.sources, isEOF: true, maxRows: Int.max)
        } catch {
            throw InputError(source: "stdin", line: stream.pendingLines[max(0, min(error.line - 1, stream.pendingLines.count - 1))], message: error.message)
        }
        batch.relabel(lines: stream.pendingLines)
        try requireKeys(batch, stream, producer)
        var step = try producer.makeStep(batch)
        step.statements = statements + step.statements
        try loader.applySchemaChanges(step, on: connection)
        let rows = try loader.send(step, on: connection, session: session)
        if settings.hardDelete && !stream.keys.isEmpty && settings.addRecordMetadata {
            try connection.execute(SQL.deleteMarked(table))
        }
        _ = try loader.record(producer, rows: rows, into: table, started: started, on: connection, session: session)
        stream.rows += rows
        stream.pending = Stream.newBatch()
        stream.pendingLines = []
        stream.needsWrite = false
    }

    private static func nesting(_ settings: SingerSettings) -> Nesting {
        switch settings.nested {
        case .jsonb, .tables: .none
        case .flatten(let depth): Nesting(flattenDepth: depth, separator: settings.nestedSeparator)
        }
    }

    /// Every record of a stream with key_properties must have them.
    private func requireKeys(_ batch: RecordBatch, _ stream: Stream, _ producer: BatchProducer) throws {
        let keys = stream.keys.map { ($0, producer.root.sources.existingSlot($0)) }
        for row in 0..<batch.rowCount {
            for (key, slot) in keys where slot.map({ batch.cell(row: row, column: $0).isNull }) ?? true {
                throw InputError(
                    source: "stdin", line: batch.rowLines[row], column: key,
                    message: "the RECORD for stream \"\(stream.name)\" has no value for key property \"\(key)\"; "
                        + "every record of a stream with key_properties needs them")
            }
        }
    }

    static func isoNow() -> String {
        let micros = Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
        return ISOTime.format(micros).replacingOccurrences(of: " ", with: "T").replacingOccurrences(of: "+00", with: "Z")
    }

    static func quoted(_ text: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])
        let array = data.map { String(decoding: $0, as: UTF8.self) } ?? "[\"\"]"
        return String(array.dropFirst().dropLast())
    }
}
