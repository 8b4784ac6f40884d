import Foundation
import PGSinkCore

/// One table's share of a step: its COPY payload and the rows it came from.
struct StepPart: @unchecked Sendable {
    var table: TableName
    var columns: [CopyColumn]
    var encoded: BatchEncoder.EncodedBatch
    /// The input line of every row of the batch (indexed by batch row).
    var lines: [Int]
    /// The index of the child table (nil for the top-level table).
    var child: Int?
    /// A child table's rows: the top-level batch row each descends from.
    var rootRows: [Int]?

    var format: CopyFormat { encoded.format }
}

/// One unit of work for the connection: DDL to run, then the COPY payloads of one batch.
struct LoadStep: @unchecked Sendable {
    var statements: [String]
    var root: StepPart
    /// Child-table rows of the same records (--nested tables), parents before children.
    var children: [StepPart]
    /// Merge: whether a key occurs more than once in the batch (the upsert must then pick the last).
    var keysRepeat: Bool
    /// Rows and values the producer set aside in this batch.
    var rejects: [Reject]
    /// Rejected rows (not discards) the producer has set aside so far in the whole load.
    var rejectedSoFar: Int
    /// The input the batch came from, to name the line a server error points at.
    var source: String

    var rows: Int { root.encoded.rows.count }
}

/// A table the load writes: the top-level table or a child table, with its own columns, planner
/// and encoder.
final class TableStream: @unchecked Sendable {
    let sources: SourceColumns
    var planner: SchemaPlanner
    var encoder = BatchEncoder()
    var rows = 0
    var format: CopyFormat = .binary

    init(sources: SourceColumns, planner: SchemaPlanner) {
        self.sources = sources
        self.planner = planner
    }

    deinit { encoder.release() }

    var table: TableName { planner.table }
}

/// Reads the inputs, scans them into batches, plans the schema and encodes COPY payloads.
/// Runs on its own thread; everything it owns is touched by that thread alone until it finishes.
final class BatchProducer: @unchecked Sendable {
    let request: LoadRequest
    let root: TableStream
    /// Child tables, by their index in `layout`.
    private(set) var children: [TableStream] = []
    let layout: NestedLayout?
    private let childPlanner: (NestedLayout.Child, TableName) -> SchemaPlanner
    var fingerprints: [String] = []
    var sourceNames: [String] = []
    /// The content fingerprint of all inputs, for the ledger (known once every input is read).
    var fingerprint: String { fingerprints.joined(separator: "+") }
    /// The input names, for the ledger and messages.
    var sourceText: String { sourceNames.joined(separator: ", ") }
    var rows: Int { root.rows }
    var format: CopyFormat { ([root] + children).contains { $0.format == .text } ? .text : .binary }
    var planner: SchemaPlanner { root.planner }
    var nulsRemoved: Int { ([root] + children).reduce(0) { $0 + $1.encoder.nulsRemoved } }
    private(set) var rejected = 0
    private(set) var discarded = 0
    private var sequence: Int64 = 0
    private var random = SplitMix(seed: UInt64.random(in: 0...UInt64.max))
    private let progress: (@Sendable (LoadProgress) -> Void)?
    private let readSize = 1 << 20

    init(
        request: LoadRequest, planner: SchemaPlanner, sources: SourceColumns = SourceColumns(), layout: NestedLayout? = nil,
        childPlanner: @escaping (NestedLayout.Child, TableName) -> SchemaPlanner = { _, _ in fatalError("no child tables") },
        progress: (@Sendable (LoadProgress) -> Void)?
    ) {
        self.request = request
        self.root = TableStream(sources: sources, planner: planner)
        self.layout = layout
        self.childPlanner = childPlanner
        self.progress = progress
    }

    func run(into queue: WorkQueue<LoadStep>) throws {
        let files = try request.inputs.map { path throws(InputError) in try InputFile(path: path) }
        let total: Int? = files.reduce(0 as Int?) { sum, file in sum.flatMap { s in file.size.map { s + $0 } } }
        var doneBefore = 0
        for (file, path) in zip(files, request.inputs) {
            sourceNames.append(file.name)
            var scanner: any RecordScanner =
                switch try request.format(of: path) {
                case .csv: CSVScanner(source: file.name, delimiter: request.delimiter(of: path), hasHeader: request.header)
                case .jsonl: JSONLinesScanner(source: file.name, nesting: nesting)
                }
            var batch = newBatch(file)
            var eof = false
            scanning: while true {
                if queue.isCancelled { throw WorkQueue<LoadStep>.Cancelled() }
                let status = try scanner.scan(into: batch, columns: root.sources, isEOF: eof, maxRows: request.batchRows)
                switch status {
                case .needMore:
                    if batch.bytes.count >= request.batchBytes && batch.rowCount > 0 {
                        batch = try emit(batch, continuing: file, into: queue)
                    } else if try file.read(into: batch.bytes, count: readSize) == 0 {
                        eof = true
                    }
                    progress?(LoadProgress(bytesRead: doneBefore + file.position, bytesTotal: total, rows: rows + batch.rowCount))
                case .batchFull:
                    batch = try emit(batch, continuing: file, into: queue)
                case .endOfInput:
                    if batch.rowCount > 0 || root.sources.count > root.planner.targetOf.count {
                        _ = try emit(batch, continuing: nil, into: queue)
                    }
                    break scanning
                }
            }
            doneBefore += file.size ?? file.position
            fingerprints.append(file.fingerprint)
        }
        progress?(LoadProgress(bytesRead: doneBefore, bytesTotal: total, rows: rows))
    }

    private var nesting: Nesting {
        let separator = request.nestedSeparator
        let keep = request.jsonColumns.map { $0.split(separator: ".").joined(separator: separator) }
        switch request.nested {
        case .jsonb: return .none
        case .flatten(let depth): return Nesting(flattenDepth: depth, separator: separator, keepWhole: keep)
        case .tables: return Nesting(flattenDepth: 1000, separator: separator, keepWhole: keep, layout: layout)
        }
    }

    /// Whether two rows of the batch may share a key: compares hashes of the key bytes, so a
    /// collision only costs the server a sort, never a wrong answer.
    static func keysRepeat(in batch: RecordBatch, columns: [CopyColumn]) -> Bool {
        let keySlots = columns.filter(\.required).compactMap(\.source)
        var seen = Set<Int>(minimumCapacity: batch.rowCount)
        for row in 0..<batch.rowCount where !batch.isSkipped(row) {
            var hasher = Hasher()
            for slot in keySlots {
                let cell = batch.cell(row: row, column: slot)
                hasher.combine(Int(cell.length))
                hasher.combine(bytes: UnsafeRawBufferPointer(start: batch.pointer(cell), count: Int(cell.length)))
            }
            if !seen.insert(hasher.finalize()).inserted { return true }
        }
        return false
    }

    private func newBatch(_ file: InputFile) -> RecordBatch {
        RecordBatch(source: file.name, bytes: ByteStorage(capacity: request.batchBytes + readSize + 1024))
    }

    /// Plans and encodes a finished batch, hands it to the connection, and starts the next batch
    /// with the bytes this one did not scan.
    private func emit(_ batch: RecordBatch, continuing file: InputFile?, into queue: WorkQueue<LoadStep>) throws
        -> RecordBatch
    {
        try queue.push(try makeStep(batch))
        guard let file else { return batch }
        let next = newBatch(file)
        batch.handOverUnscanned(to: next)
        return next
    }

    /// Plans and encodes a scanned batch (and its child-table rows) into one step for the connection.
    func makeStep(_ batch: RecordBatch) throws -> LoadStep {
        batch.finish(columnCount: root.sources.count)
        var rejects: [Reject] = []
        var statements = try prepare(root, batch, &rejects)
        let merge = request.mode == .merge
        if let layout {
            while children.count < layout.children.count {
                let child = layout.children[children.count]
                let parentTable = child.parent < 0 ? root.table : children[child.parent].table
                children.append(TableStream(sources: child.columns, planner: childPlanner(child, parentTable)))
            }
            for (index, stream) in children.enumerated() {
                guard let childBatch = batch.children[index] else { continue }
                childBatch.finish(columnCount: stream.sources.count)
                statements += try prepare(stream, childBatch, &rejects)
            }
            if merge { supersedeRepeatedKeys(batch) }
            assignRowIds(batch)
        }
        var parts: [StepPart] = []
        for (index, stream) in ([root] + children).enumerated() {
            let part = index == 0 ? batch : batch.children[index - 1]
            guard let part else { continue }
            // The top-level table of a merge carries the load order; child rows are appended.
            let (more, encoded) = try encode(stream, part, numbered: merge && index == 0, &rejects)
            statements += more
            if encoded.format == .text { stream.format = .text }
            stream.rows += encoded.rows.count
            parts.append(
                StepPart(
                    table: stream.table, columns: stream.planner.copyColumns, encoded: encoded, lines: part.rowLines,
                    child: index == 0 ? nil : index - 1,
                    rootRows: index == 0 ? nil : (0..<part.rowCount).map { part.rootRow(of: $0) }))
        }
        let rootPart = parts.removeFirst()
        let keysRepeat = merge && Self.keysRepeat(in: batch, columns: rootPart.columns)
        sequence += Int64(rootPart.encoded.rows.count)
        return LoadStep(
            statements: statements, root: rootPart, children: parts, keysRepeat: keysRepeat, rejects: rejects,
            rejectedSoFar: rejected, source: batch.source)
    }

    /// Plans the table for a batch and sets aside what the contract keeps out: rows or values of
    /// columns the table may not gain, and rows without a key.
    private func prepare(_ stream: TableStream, _ batch: RecordBatch, _ rejects: inout [Reject]) throws -> [String] {
        let statements = try stream.planner.prepare(batch, sources: stream.sources)
        let discardRows = request.contract == .discardRow
        for (slot, name) in stream.planner.discardedNames.sorted(by: { $0.key < $1.key }) where slot < batch.columnCount {
            for row in 0..<batch.rowCount where !batch.isSkipped(row) {
                let cell = batch.cell(row: row, column: slot)
                if cell.isNull { continue }
                rejects.append(
                    Reject(
                        source: batch.source, line: batch.rowLines[row], column: name, value: batch.string(cell),
                        reason: "\(stream.table) has no column \(name); --schema-contract \(request.contract.rawValue) "
                            + (discardRows ? "set the row aside" : "dropped the value"),
                        discarded: true))
                discarded += 1
                if discardRows { batch.skip(row: row) }
            }
        }
        let keys = stream.planner.copyColumns.filter(\.required)
        if request.maxRejects > 0 && !keys.isEmpty {
            for row in 0..<batch.rowCount where !batch.isSkipped(row) {
                guard let empty = keys.first(where: { batch.cell(row: row, column: $0.source!).isNull }) else { continue }
                try reject(
                    row, of: batch, column: empty.name, value: nil,
                    reason: "the key column is empty; every record needs a value for each --primary-key column",
                    into: &rejects)
            }
        }
        return statements
    }

    /// Encodes a batch for its table, widening columns whose values no longer fit and setting
    /// aside the values of columns that may not widen.
    private func encode(_ stream: TableStream, _ batch: RecordBatch, numbered: Bool, _ rejects: inout [Reject]) throws
        -> ([String], BatchEncoder.EncodedBatch)
    {
        var statements: [String] = []
        while true {
            let columns = stream.planner.copyColumns
            let format = CopyFormat.best(for: columns)
            switch try stream.encoder.encode(batch, columns: columns, format: format, sequenceStart: numbered ? sequence : nil) {
            case .encoded(let encoded):
                return (statements, encoded)
            case .misfits(let misfits):
                let (widened, stuck) = stream.planner.widen(misfits, in: batch)
                statements += widened
                for column in stuck { try setAside(column, of: stream, in: batch, &rejects) }
            }
        }
    }

    /// Rows (or, under discard-value, values) of a column that may not widen and whose values do not fit.
    private func setAside(
        _ stuck: SchemaPlanner.StuckColumn, of stream: TableStream, in batch: RecordBatch, _ rejects: inout [Reject]
    ) throws {
        let column = stuck.column
        guard let slot = column.source else { return }
        for row in 0..<batch.rowCount where !batch.isSkipped(row) {
            if stream.encoder.fits(batch, row: row, column: slot, as: column.type) { continue }
            let value = batch.string(batch.cell(row: row, column: slot))
            let reason = "\(SchemaPlanner.excerpt(value ?? "")) is not a valid \(column.type.sqlName), and the column "
                + "cannot change type (\(stuck.reason))"
            switch request.contract {
            case .discardValue, .discardRow:
                let dropRow = request.contract == .discardRow
                rejects.append(
                    Reject(
                        source: batch.source, line: batch.rowLines[row], column: column.name, value: value,
                        reason: reason + (dropRow ? "; the row was set aside" : "; the value was dropped"), discarded: true))
                discarded += 1
                if dropRow { batch.skip(row: row) } else { batch.setNull(row: row, column: slot) }
            case .evolve, .freeze:
                try reject(row, of: batch, column: column.name, value: value, reason: reason, into: &rejects)
            }
        }
    }

    /// Sets a row aside as rejected, or fails the load when --max-rejects allows no more.
    private func reject(
        _ row: Int, of batch: RecordBatch, column: String?, value: String?, reason: String, into rejects: inout [Reject]
    ) throws {
        let entry = Reject(
            source: batch.source, line: batch.rowLines[row], column: column, value: value, reason: reason, discarded: false)
        guard request.maxRejects > 0 else {
            throw InputError(
                source: entry.source, line: entry.line, column: column,
                message: reason + "; fix the value, or pass --max-rejects N to set up to N such rows aside")
        }
        rejected += 1
        if rejected > request.maxRejects { throw RejectLimit(limit: request.maxRejects, last: entry) }
        rejects.append(entry)
        batch.skip(row: row)
    }

    /// Merge into a table with child tables: of rows that share a key, only the last is sent, so
    /// the children of the earlier ones never reach the tables.
    private func supersedeRepeatedKeys(_ batch: RecordBatch) {
        let keySlots = root.planner.copyColumns.filter(\.required).compactMap(\.source)
        guard !keySlots.isEmpty else { return }
        var last: [[UInt8]: Int] = [:]
        for row in 0..<batch.rowCount where !batch.isSkipped(row) {
            var key: [UInt8] = []
            for slot in keySlots {
                let cell = batch.cell(row: row, column: slot)
                withUnsafeBytes(of: cell.length) { key += $0 }
                key += UnsafeBufferPointer(start: batch.pointer(cell), count: Int(cell.length))
            }
            if let earlier = last[key] { batch.skip(row: earlier) }
            last[key] = row
        }
    }

    /// `_pgsink_id` for every row of the batch and its children: a hash of the key for a merge
    /// (so a record keeps its id across loads), random otherwise; a child's id is a hash of its
    /// parent's id, its table and its position.
    private func assignRowIds(_ batch: RecordBatch) {
        let keySlots = request.mode == .merge ? root.planner.copyColumns.filter(\.required).compactMap(\.source) : []
        batch.rowIds = (0..<batch.rowCount).map { row in
            guard !keySlots.isEmpty else { return RowId(high: random.next(), low: random.next()) }
            return StableHash.rowId { hash in
                for slot in keySlots {
                    let cell = batch.cell(row: row, column: slot)
                    hash.combine(UInt64(cell.length))
                    hash.combine(batch.pointer(cell), Int(cell.length))
                }
            }
        }
        for (index, _) in children.enumerated() {
            guard let child = batch.children[index], let parent = child.parent else { continue }
            child.rowIds = (0..<child.rowCount).map { row in
                let parentId = parent.rowIds[Int(child.parentRows[row])]
                return StableHash.rowId { hash in
                    hash.combine(parentId.high)
                    hash.combine(parentId.low)
                    hash.combine(UInt64(index))
                    hash.combine(UInt64(child.listIndex[row]))
                }
            }
        }
    }
}

/// More rows were rejected than --max-rejects allows.
public struct RejectLimit: Error, CustomStringConvertible {
    public var limit: Int
    public var last: Reject

    public var description: String {
        let place = last.line > 0 ? "\(last.source):\(last.line)" : last.source
        let column = last.column.map { ", column \"\($0)\"" } ?? ""
        return "more than \(limit) rows were rejected (--max-rejects \(limit)); the last: \(place)\(column): "
            + "\(last.reason). Fix the input or raise --max-rejects"
    }
}
