import Foundation
import Logging
import PGSinkCore

/// Settings shared by the protocol front ends (Singer, Airbyte).
public struct StreamSettings: Sendable, Equatable {
    /// The schema streams without a namespace of their own land in.
    public var schema = "public"
    public var createSchema = true
    /// Records (all streams) before a commit.
    public var batchRows = 100_000
    public var batchBytes = 64 << 20
    /// Seconds a record may wait before its batch is committed, so a slow source's data and state land.
    public var batchSeconds: Double = 60
    public var contract: SchemaContract = .evolve
    public var maxRejects = 0
    public var nested: NestedMode = .jsonb
    public var nestedSeparator = "__"
    public var naming = NamingRules()
    /// The row of `_pgsink_state` the state is kept in.
    public var stateId = "singer"
    /// Records of one stream per step (one COPY) at most; several steps make a commit.
    public var stepRows = 50_000
    /// Values that do not fit their column even after widening go to this table (in each
    /// stream's schema, RudderStack's `rudder_discards` layout) instead of failing the load.
    public var discards: String?
    /// `pgvector_config`: the streams' tables it names get embeddings.
    public var embeddings: PgVectorConfig?
    /// Citus: how the tables the streams create are spread over the cluster (docs/scale-out.md).
    public var distribution = Distribution()

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
    /// Merge: a NULL never replaces a value (RudderStack's users table).
    public var keepsNonNull = false
    /// Properties not in `properties` are ignored instead of becoming columns.
    public var onlyDeclared = false
    /// Statements run before each commit that wrote the stream (hard deletes).
    public var afterWrite: [String] = []
    /// Text that identifies the definition: the same again changes nothing.
    public var fingerprint: String = ""
    /// Source names of the values a reader takes from the message around the record
    /// (`time_extracted` → `_sdc_extracted_at`), given slots once (`Stream.envelope`).
    public var envelope: [String] = []
    /// Source names that never become columns (values the reader keeps for itself), and a prefix
    /// of such names.
    public var ignored: Set<String> = []
    public var ignoredPrefix: String?
    /// Encodings to undo before a batch is planned, by source name (Debezium's dates, decimals …).
    public var decodings: [String: DebeziumType.Decoding] = [:]
    /// A change feed: batches hold deletes, marked by a value in the source column `deleteMark`.
    public var changes: ChangeApplication?
    public var deleteMark: String?

    public init(name: String, table: TableName) {
        self.name = name
        self.table = table
    }
}

/// The reader side of `pgsink singer` and `pgsink airbyte write`, on the producer thread: records
/// are scanned into their stream's batch as they arrive, batches are planned and encoded here and
/// handed to the `StreamWriter` on the connection's thread, so COPY overlaps reading. It decides
/// when to commit (rows, bytes, age, a state with nothing pending) and which states go with it.
final class StreamTarget: @unchecked Sendable {
    let settings: StreamSettings
    let logger: Logger
    /// To the writer (pushed by the encoder thread).
    let queue: WorkQueue<StreamOp>
    /// From the reader to the encoder thread: batches scanned, and the writer's operations in order.
    let stage = WorkQueue<Staged>(capacity: 1)
    /// Airbyte hands out every state in order; Singer only the latest of a commit.
    let keepEveryState: Bool
    /// States that must wait for the overwrite transaction (Airbyte's, naming an overwrite stream).
    var holdsState: (String) -> Bool = { _ in false }
    /// System columns of a stream's batch (`_sdc_batched_at`, `_sdc_sequence` …): the stream, the
    /// commit's start, and the first row's number among the stream's records.
    var batchColumns: ((Stream, Date, Int64) -> [SystemColumn])?

    /// A step is sent once a stream's batch holds this many records or bytes.
    private let stepRows: Int
    private let stepBytes: Int

    /// What the reader hands the encoder thread.
    enum Staged: @unchecked Sendable {
        /// A stream's scanned records; `columns` is the reader's column list when it let go of them.
        case batch(Stream, RecordBatch, columns: [[UInt8]], first: Int64, started: Date)
        /// An operation for the writer, in its place among the batches.
        case pass(StreamOp)
    }

    final class Stream {
        var definition: StreamDefinition
        let table: WriterTable
        let sources = SourceColumns()
        @exclusivity(unchecked) var scanner: JSONLinesScanner
        var producer: BatchProducer?
        @exclusivity(unchecked) var pending: RecordBatch
        @exclusivity(unchecked) var needsWrite = true
        /// Type changes a new definition asks of existing columns, sent with the next step.
        var redeclared: [SchemaChange] = []
        /// Whether the fields its schema does not list were reported (once per stream).
        var warnedUndeclared = false
        /// Records scanned so far (numbers `_sdc_sequence`).
        @exclusivity(unchecked) var records: Int64 = 0
        /// The slots of `definition.envelope`, in its order.
        let envelope: [Int]
        /// Bytes of the last batch sent, to size the next one.
        private var lastBatchBytes = 1 << 20

        /// The input errors name.
        let source: String

        init(_ definition: StreamDefinition, table: WriterTable, nesting: Nesting, source: String) {
            self.definition = definition
            self.table = table
            self.source = source
            self.scanner = JSONLinesScanner(source: source, nesting: nesting)
            self.pending = RecordBatch(source: source, bytes: ByteStorage(capacity: 1 << 20))
            let sources = self.sources
            for property in definition.properties { _ = sources.slot(for: property) }
            envelope = definition.envelope.map { sources.slot(for: $0) }
        }

        /// A fresh batch, as big as the last one was (bytes, rows and cells).
        func renew() {
            lastBatchBytes = max(pending.bytes.count, 64 << 10)
            let rows = pending.rowCount, cells = pending.cells.count
            pending = RecordBatch(source: source, bytes: ByteStorage(capacity: lastBatchBytes + lastBatchBytes / 8))
            pending.reserve(rows: rows + rows / 8, cells: cells + cells / 8)
        }
    }

    private var streams: [String: Stream] = [:]
    private(set) var order: [String] = []
    private var pendingStates: [String] = []
    @exclusivity(unchecked) private var pendingRows = 0
    @exclusivity(unchecked) private var pendingBytes = 0
    /// `pendingRows` when `flushIfDue` last read the clock.
    @exclusivity(unchecked) private var rowsAtClock = 0
    @exclusivity(unchecked) private var oldestPending: Date?
    private var commitStarted = Date()
    private var holding = false
    /// Steps went to the writer since the last commit (a batch full before a commit was due).
    private var sentSinceCommit = false

    /// Asked before a stream's column widens (see `ServerInputCheck`); shared by the streams, on the encoder thread.
    var serverInput: ServerInput?
    /// The input errors name (a file, or stdin).
    var inputName = "stdin"
    /// A reader whose position is its state (a change feed): the state each commit saves.
    var checkpoint: (() -> String?)?

    init(settings: StreamSettings, logger: Logger, queue: WorkQueue<StreamOp>, keepEveryState: Bool) {
        self.settings = settings
        self.logger = logger
        self.queue = queue
        self.keepEveryState = keepEveryState
        stepRows = min(settings.batchRows, settings.stepRows)
        stepBytes = min(settings.batchBytes, 8 << 20)
    }

    func stream(_ name: String) -> Stream? { streams[name] }

    var allStreams: [Stream] { order.compactMap { streams[$0] } }

    /// Defines or redefines a stream. A changed definition applies to what comes after it, so
    /// what came before is committed first; the same definition again changes nothing.
    func define(_ definition: StreamDefinition, replaces: Bool = false) throws {
        if let existing = streams[definition.name] {
            if existing.definition.fingerprint == definition.fingerprint { return }
            try flush()
        } else {
            order.append(definition.name)
        }
        let loader = Loader(request: request(for: definition), logger: logger)
        let table = WriterTable(
            loader: loader, name: definition.name, afterWrite: definition.afterWrite, replaces: replaces)
        streams[definition.name] = Stream(definition, table: table, nesting: nesting, source: inputName)
    }

    private func request(for definition: StreamDefinition) -> LoadRequest {
        var request = LoadRequest(inputs: [], table: definition.table)
        request.mode = definition.mode
        request.primaryKey = definition.keys
        request.naming = settings.naming
        request.createSchema = settings.createSchema
        request.contract = settings.contract
        request.maxRejects = settings.maxRejects
        request.nested = settings.nested
        request.nestedSeparator = settings.nestedSeparator
        request.newestBy = definition.newestBy
        request.keepsNonNull = definition.keepsNonNull
        request.discards = settings.discards.map { TableName(schema: definition.table.schema, name: $0) }
        request.changes = definition.changes
        request.embeddings = settings.embeddings
        request.distribution = settings.distribution
        request.force = true
        request.switchesKey = true
        request.commitsInBatches = true
        return request
    }

    var nesting: Nesting {
        switch settings.nested {
        case .jsonb, .tables: .none
        case .flatten(let depth): Nesting(flattenDepth: depth, separator: settings.nestedSeparator)
        }
    }

    /// Ends the record a reader built in `stream.pending`: values the message carries around it
    /// become its cells (`first` for `stream.envelope[0]`, `second` for `[1]` when it is of
    /// `secondKind`), then it is counted. A value that does not scan drops the record.
    func endRecord(
        _ stream: Stream, _ first: MessageWalk.Taken, _ second: MessageWalk.Taken, secondKind: CellKind,
        of line: UnsafeMutablePointer<UInt8>, scanner: JSONLinesScanner, bytes: Int
    ) throws {
        let batch = stream.pending
        func set(_ value: MessageWalk.Taken, _ kind: CellKind?, _ index: Int) throws(InputError) {
            guard let cell = try MessageWalk.cell(value, of: line, in: batch, scanner: scanner),
                kind == nil || cell.kind == kind
            else { return }
            batch.setCell(cell, column: stream.envelope[index])
        }
        do {
            try set(first, nil, 0)
            try set(second, secondKind, 1)
        } catch {
            batch.abandonRecord()
            throw error
        }
        batch.endRecord()
        try recorded(stream, bytes: bytes)
    }

    /// A record the reader finished in `stream.pending`: counted, and sent once the batch is big.
    func recorded(_ stream: Stream, bytes: Int) throws {
        stream.needsWrite = true
        stream.records += 1
        pendingRows += 1
        pendingBytes += bytes
        if oldestPending == nil { oldestPending = Date() }
        // A stream's first rows in the source's binary form (whose types the source fixed) go in a
        // smaller step, so that the table is made and the first COPY runs while more is read.
        let batch = stream.pending
        let ramp = batch.carriesWire && stream.records == Int64(batch.rowCount) ? 8 : 1
        if batch.rowCount * ramp >= stepRows || batch.bytes.count * ramp >= stepBytes { try send(stream) }
    }

    /// A state to hand out once everything before it is committed.
    func state(_ text: String) throws {
        if keepEveryState { pendingStates.append(text) } else { pendingStates = [text] }
        // With nothing waiting, the state is saved and handed out at once.
        if pendingRows == 0 { try flush() }
    }

    /// Commits when the records waiting are many, big or old enough. Past the first 1,024 records
    /// the clock is read once per 1,024 more (and whenever input pauses: `idle`), not per record.
    func flushIfDue() throws {
        if pendingRows >= settings.batchRows || pendingBytes >= settings.batchBytes {
            try flush()
        } else if pendingRows < 1024 || pendingRows - rowsAtClock >= 1024, let oldest = oldestPending {
            rowsAtClock = pendingRows
            if Date().timeIntervalSince(oldest) >= settings.batchSeconds { try flush() }
        }
    }

    /// No input for a while: commits what is old enough.
    func idle() throws {
        if let oldest = oldestPending, Date().timeIntervalSince(oldest) >= settings.batchSeconds { try flush() }
    }

    /// Sends every stream's pending records and commits them with the latest state.
    func flush() throws {
        let dirty = allStreams.filter(\.needsWrite)
        guard !dirty.isEmpty || !pendingStates.isEmpty || sentSinceCommit else { return }
        for stream in dirty { try send(stream) }
        if let checkpoint, let position = checkpoint() { pendingStates = [position] }
        // Once one state waits for the overwrite, every later one waits too: states keep their order.
        if !holding, let firstHeld = pendingStates.firstIndex(where: holdsState) {
            holding = true
            try stage.push(.pass(.commit(states: Array(pendingStates[..<firstHeld]), held: Array(pendingStates[firstHeld...]))))
        } else {
            try stage.push(.pass(.commit(states: holding ? [] : pendingStates, held: holding ? pendingStates : [])))
        }
        pendingStates = []
        sentSinceCommit = false
        pendingRows = 0
        pendingBytes = 0
        rowsAtClock = 0
        oldestPending = nil
        commitStarted = Date()
    }

    /// A source's change to a table's rows, committed with what came before it.
    func operation(_ operation: TableOperation) throws {
        try flush()
        try stage.push(.pass(.operation(operation)))
        try stage.push(.pass(.commit(states: [], held: [])))
    }

    /// The end of the input.
    func finish(operations: [TableOperation] = []) throws {
        try flush()
        for operation in operations { try stage.push(.pass(.operation(operation))) }
        if !operations.isEmpty { try stage.push(.pass(.commit(states: [], held: []))) }
        try stage.push(.pass(.finish))
    }

    /// Hands one stream's pending records to the encoder thread.
    private func send(_ stream: Stream) throws {
        let batch = stream.pending
        let first = stream.records - Int64(batch.rowCount)
        try stage.push(.batch(stream, batch, columns: stream.sources.snapshot, first: first, started: commitStarted))
        sentSinceCommit = true
        stream.renew()
        stream.needsWrite = false
    }

    /// The encoder thread: plans and encodes each batch into a step and passes everything on to
    /// the writer in order, while the reader scans the next records.
    func encodeAll() {
        do {
            while let staged = try stage.pop() {
                switch staged {
                case .batch(let stream, let batch, let columns, let first, let started):
                    try queue.push(.step(stream.table, try encode(stream, batch, columns: columns, first: first, started: started)))
                case .pass(let op):
                    try queue.push(op)
                }
            }
            queue.finish()
        } catch {
            stage.cancel()
            queue.finish(error: error)
        }
    }

    /// Plans and encodes one stream's batch as a step for the writer.
    private func encode(_ stream: Stream, _ batch: RecordBatch, columns: [[UInt8]], first: Int64, started: Date) throws
        -> LoadStep
    {
        let producer = try producer(for: stream)
        producer.root.sources.catchUp(to: columns)
        if let batchColumns { producer.root.planner.systemColumns = batchColumns(stream, started, first) }
        try requireKeys(batch, stream, producer)
        for (name, decoding) in stream.definition.decodings {
            if let slot = columns.firstIndex(of: Array(name.utf8)) {
                try ChangeDecoding.apply(
                    decoding, column: slot, name: name, to: batch, keeping: stream.definition.changes?.unavailable.map { Array($0.utf8) })
            }
        }
        var step = try producer.makeStep(batch)
        if let mark = stream.definition.deleteMark, let slot = columns.firstIndex(of: Array(mark.utf8)) {
            step.hasDeletes = (0..<batch.rowCount).contains { !batch.cell(row: $0, column: slot).isNull }
        }
        // (Values in binary COPY form came from a snapshot, which holds every value.)
        if let placeholder = stream.definition.changes?.unavailable, !placeholder.isEmpty, !batch.carriesWire {
            // As text, or (bytea) its bytes in base64.
            let base64 = Data(placeholder.utf8).base64EncodedString().prefix { $0 != "=" }
            step.keepsUnavailable = [Array(placeholder.utf8), Array(base64.utf8)].contains { Self.contains(batch.bytes, $0) }
        }
        // The envelope's own values (emitted_at, meta.changes) are cells the system columns read.
        let undeclared = producer.root.planner.undeclared.filter { !stream.definition.envelope.contains($0) }
        if !stream.warnedUndeclared && !undeclared.isEmpty {
            stream.warnedUndeclared = true
            logger.warning(
                "stream \(stream.definition.name): fields not in its schema are ignored: \(undeclared.joined(separator: ", "))")
        }
        if !stream.redeclared.isEmpty {
            step.statements = stream.redeclared + step.statements
            stream.redeclared = []
        }
        return step
    }

    /// The stream's planner and encoder, made once the writer has opened its table.
    private func producer(for stream: Stream) throws -> BatchProducer {
        if let producer = stream.producer { return producer }
        try queue.push(.open(stream.table))
        try stream.table.waitUntilOpened(queue)
        let loader = stream.table.loader
        // The encoder's own copy of the columns: the reader goes on adding to `stream.sources`.
        let session = Loader.Session(loadId: 0, started: Date())
        session.fixedTypes = stream.table.fixedTypes
        let producer = loader.makeProducer(existing: stream.table.existing, session: session, progress: nil)
        producer.root.planner.onlyDeclared = stream.definition.onlyDeclared
        producer.root.planner.ignored = stream.definition.ignored
        producer.root.planner.ignoredPrefix = stream.definition.ignoredPrefix
        producer.serverInput = serverInput
        stream.redeclared = producer.root.planner.redeclare(stream.definition.declared)
        stream.producer = producer
        return producer
    }

    /// Every record of a stream with a key must have it.
    private func requireKeys(_ batch: RecordBatch, _ stream: Stream, _ producer: BatchProducer) throws {
        let keys = stream.definition.keys.map { ($0, producer.root.sources.existingSlot($0)) }
        guard !keys.isEmpty else { return }
        for row in 0..<batch.rowCount {
            for (key, slot) in keys where slot.map({ batch.cell(row: row, column: $0).isNull }) ?? true {
                throw InputError(
                    source: stream.source, line: batch.rowLines[row], column: key,
                    message: "the record for stream \"\(stream.definition.name)\" has no value for key property "
                        + "\"\(key)\"; every record of a stream with a primary key needs it")
            }
        }
    }

    /// Whether `needle` occurs in `bytes`.
    static func contains(_ bytes: ByteStorage, _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, bytes.count >= needle.count else { return false }
        // memchr looks for a byte of the needle that text rarely holds ("_" is in every other key).
        let rare = Array("zqxjZQXJKVkv".utf8)
        let anchor = needle.firstIndex { rare.contains($0) } ?? 0
        var start = anchor
        let last = bytes.count - needle.count + anchor
        while start <= last, let hit = memchr(bytes.base + start, Int32(needle[anchor]), last - start + 1) {
            let at = bytes.base.distance(to: hit.assumingMemoryBound(to: UInt8.self)) - anchor
            if memcmp(bytes.base + at, needle, needle.count) == 0 { return true }
            start = at + anchor + 1
        }
        return false
    }

    /// A string as a JSON string literal.
    static func quoted(_ text: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [text], options: [.fragmentsAllowed])
        let array = data.map { String(decoding: $0, as: UTF8.self) } ?? "[\"\"]"
        return String(array.dropFirst().dropLast())
    }
}
