import Foundation
import Logging
import PGSinkCore

/// Settings shared by the protocol front ends (Singer, Airbyte).
public struct StreamSettings: Sendable {
    /// The schema streams without a namespace of their own land in.
    public var schema = "public"
    public var createSchema = true
    /// Records (all streams) before a flush.
    public var batchRows = 100_000
    public var batchBytes = 64 << 20
    /// Seconds a record may wait before its batch is flushed, so a slow source's data and state land.
    public var batchSeconds: Double = 60
    public var contract: SchemaContract = .evolve
    public var maxRejects = 0
    public var nested: NestedMode = .jsonb
    public var nestedSeparator = "__"
    public var naming = NamingRules()
    /// The row of `_pgsink_state` the state is kept in.
    public var stateId = "singer"

    public init() {}
}

/// A stream as a front end defines it: its table, columns, key and how it is written.
public struct StreamDefinition {
    public var name: String
    public var table: TableName
    public var keys: [String] = []
    /// Source property names in declared order (columns are created in this order).
    public var properties: [String] = []
    public var declared: [String: ColumnType] = [:]
    public var mode: LoadMode = .append
    /// Merge: records of one key are ordered by these columns (newest first) before the load order,
    /// and an existing row is only replaced by a newer one (Airbyte's cursor rule).
    public var newestBy: [String] = []
    /// Properties not in `properties` are ignored instead of becoming columns.
    public var onlyDeclared = false
    /// Load into this hidden table; the front end swaps it in at the end (overwrite).
    public var stagedAs: TableName? = nil
    /// Statements run after each flush of the stream (hard deletes).
    public var afterWrite: [String] = []
    /// Text that identifies the definition: the same again changes nothing.
    public var fingerprint: String = ""

    public init(name: String, table: TableName) {
        self.name = name
        self.table = table
    }

    /// The table rows go to while the stream loads.
    var loadTable: TableName { stagedAs ?? table }
}

/// The engine behind `pgsink singer` and `pgsink airbyte write`: streams of records in, batches
/// through the record path, one transaction per flush holding every stream's data, ledger rows
/// and the state, and states handed out only after that transaction commits.
public final class StreamTarget {
    public let settings: StreamSettings
    let connection: PGConnection
    let logger: Logger
    /// Receives each state line once what precedes it is committed.
    let emitState: (String) -> Void
    /// Airbyte echoes every state in order; Singer only the latest.
    let keepEveryState: Bool

    final class Stream {
        var definition: StreamDefinition
        var producer: BatchProducer?
        var loader: Loader
        var pending: RecordBatch
        var pendingLines: [Int] = []
        var rows = 0
        var needsWrite = true

        init(_ definition: StreamDefinition, loader: Loader) {
            self.definition = definition
            self.loader = loader
            self.pending = Self.newBatch()
        }

        static func newBatch() -> RecordBatch {
            RecordBatch(source: "stdin", bytes: ByteStorage(capacity: 1 << 20))
        }
    }

    private var streams: [String: Stream] = [:]
    private(set) var order: [String] = []
    private var pendingStates: [String] = []
    private(set) var lastEmitted: String?
    private var pendingRows = 0
    private var pendingBytes = 0
    private var oldestPending: Date?
    /// System columns of every flush (e.g. `_sdc_batched_at`), by the flush's start time.
    var flushColumns: ((Date) -> [SystemColumn])?

    public init(
        settings: StreamSettings, connection: PGConnection, logger: Logger, keepEveryState: Bool,
        emitState: @escaping (String) -> Void
    ) {
        self.settings = settings
        self.connection = connection
        self.logger = logger
        self.keepEveryState = keepEveryState
        self.emitState = emitState
    }

    /// Rows loaded per table so far.
    public var rowsByTable: [String: Int] {
        Dictionary(order.compactMap { streams[$0] }.map { ($0.definition.table.description, $0.rows) }, uniquingKeysWith: +)
    }

    func stream(_ name: String) -> Stream? { streams[name] }

    var hasPendingRecords: Bool { pendingRows > 0 }

    /// Defines or redefines a stream. A changed definition applies to what comes after it, so
    /// what came before is loaded first; the same definition again changes nothing.
    func define(_ definition: StreamDefinition) throws {
        if let existing = streams[definition.name] {
            if existing.definition.fingerprint == definition.fingerprint { return }
            try flush()
            existing.definition = definition
            existing.loader = Loader(request: request(for: definition), logger: logger)
            existing.producer = nil
            existing.needsWrite = true
            return
        }
        streams[definition.name] = Stream(definition, loader: Loader(request: request(for: definition), logger: logger))
        order.append(definition.name)
    }

    private func request(for definition: StreamDefinition) -> LoadRequest {
        var request = LoadRequest(inputs: [], table: definition.loadTable)
        request.mode = definition.mode
        request.primaryKey = definition.keys
        request.naming = settings.naming
        request.createSchema = settings.createSchema
        request.contract = settings.contract
        request.maxRejects = settings.maxRejects
        request.nested = settings.nested
        request.nestedSeparator = settings.nestedSeparator
        request.newestBy = definition.newestBy
        request.force = true
        return request
    }

    /// Adds one record object, plus extra members (`"k":v` texts), as a row of the stream's batch.
    func append(_ object: UnsafeBufferPointer<UInt8>, extra: [String], to stream: Stream, line: Int) {
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

    /// A state to hand out once everything before it is committed.
    func state(_ text: String) throws {
        if keepEveryState { pendingStates.append(text) } else { pendingStates = [text] }
        // With nothing waiting, the state is saved and handed out at once.
        if pendingRows == 0 { try flush() }
    }

    /// Flushes when the batch is big or old enough.
    public func flushIfDue() throws {
        if pendingRows >= settings.batchRows || pendingBytes >= settings.batchBytes {
            try flush()
        } else if let oldest = oldestPending, Date().timeIntervalSince(oldest) >= settings.batchSeconds {
            try flush()
        }
    }

    /// Loads every stream's pending records, saves the latest state, commits, then hands out the states.
    public func flush() throws {
        let dirty = order.compactMap { streams[$0] }.filter(\.needsWrite)
        guard !dirty.isEmpty || !pendingStates.isEmpty else { return }
        try transaction {
            for stream in dirty { try write(stream) }
            if let latest = pendingStates.last {
                let schema = settings.naming.normalize(settings.schema)
                try Catalog.ensureSchema(schema, on: connection)
                try connection.execute(SQL.createStateTable(schema: schema))
                try connection.query(SQL.saveState(schema: schema), [settings.stateId, latest])
            }
        }
        pendingRows = 0
        pendingBytes = 0
        oldestPending = nil
        for state in pendingStates {
            emitState(state)
            lastEmitted = state
        }
        pendingStates = []
    }

    func transaction(_ body: () throws -> Void) throws {
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
        let definition = stream.definition
        let table = definition.loadTable
        let loader = stream.loader
        if settings.createSchema { try Catalog.ensureSchema(table.schema, on: connection) }
        try connection.query(SQL.lockTable, [table.description])
        try Loader.prepareLedger(schema: table.schema, on: connection)
        let started = Date()
        let session = Loader.Session(loadId: try loader.reserveLoadId(on: connection), started: started)
        var statements: [String] = []
        let producer: BatchProducer
        if let existing = stream.producer {
            producer = existing
        } else {
            let columns = try Catalog.columns(of: table, on: connection)
            if let columns, !definition.keys.isEmpty {
                try Catalog.checkKey(loader.keyNames(columns), of: table, mode: loader.request.mode, on: connection)
            }
            producer = loader.makeProducer(existing: columns, session: session, progress: nil)
            producer.sourceNames = [definition.name]
            for property in definition.properties { _ = producer.root.sources.slot(for: property) }
            producer.root.planner.onlyDeclared = definition.onlyDeclared
            statements = producer.root.planner.redeclare(definition.declared)
            stream.producer = producer
        }
        if let flushColumns { producer.root.planner.systemColumns = flushColumns(started) }
        if loader.request.mode == .merge { try connection.execute(SQL.mergeSessionSettings) }
        let batch = stream.pending
        var scanner = JSONLinesScanner(source: "stdin", nesting: nesting)
        do {
            _ = try scanner.scan(into: batch, columns: producer.root.sources, isEOF: true, maxRows: Int.max)
        } catch {
            let index = max(0, min(error.line - 1, stream.pendingLines.count - 1))
            throw InputError(
                source: "stdin", line: stream.pendingLines.isEmpty ? 0 : stream.pendingLines[index], message: error.message)
        }
        batch.relabel(lines: stream.pendingLines)
        try requireKeys(batch, stream, producer)
        var step = try producer.makeStep(batch)
        step.statements = statements + step.statements
        try loader.applySchemaChanges(step, on: connection)
        let rows = try loader.send(step, on: connection, session: session)
        for statement in definition.afterWrite { try connection.execute(statement) }
        _ = try loader.record(producer, rows: rows, into: table, started: started, on: connection, session: session)
        stream.rows += rows
        stream.pending = Stream.newBatch()
        stream.pendingLines = []
        stream.needsWrite = false
    }

    private var nesting: Nesting {
        switch settings.nested {
        case .jsonb, .tables: .none
        case .flatten(let depth): Nesting(flattenDepth: depth, separator: settings.nestedSeparator)
        }
    }

    /// Every record of a stream with a key must have it.
    private func requireKeys(_ batch: RecordBatch, _ stream: Stream, _ producer: BatchProducer) throws {
        let keys = stream.definition.keys.map { ($0, producer.root.sources.existingSlot($0)) }
        for row in 0..<batch.rowCount {
            for (key, slot) in keys where slot.map({ batch.cell(row: row, column: $0).isNull }) ?? true {
                throw InputError(
                    source: "stdin", line: batch.rowLines[row], column: key,
                    message: "the record for stream \"\(stream.definition.name)\" has no value for key property "
                        + "\"\(key)\"; every record of a stream with a primary key needs it")
            }
        }
    }

    /// The time now as ISO 8601 in UTC with microseconds.
    static func isoNow() -> String { iso(microseconds: Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())) }

    static func iso(microseconds: Int64) -> String {
        ISOTime.format(microseconds).replacingOccurrences(of: " ", with: "T").replacingOccurrences(of: "+00", with: "Z")
    }

    /// A string as a JSON string literal.
    static func quoted(_ text: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])
        let array = data.map { String(decoding: $0, as: UTF8.self) } ?? "[\"\"]"
        return String(array.dropFirst().dropLast())
    }
}
