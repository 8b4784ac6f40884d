/// What the producer needs to know of a load to build its steps.
public struct StepSettings: Sendable {
    public var mode: LoadMode
    /// Rows that may be set aside before the load fails (0: the first fails it).
    public var maxRejects: Int
    public var contract: SchemaContract
    /// Under `evolve`, a value that does not fit its column even after widening is dropped (the cell is
    /// NULL) and recorded as a discard with its row's `id` and `received_at`, instead of failing
    /// the load (RudderStack's `rudder_discards`).
    public var discardsMisfits: Bool

    public init(mode: LoadMode = .append, maxRejects: Int = 0, contract: SchemaContract = .evolve, discardsMisfits: Bool = false) {
        self.mode = mode
        self.maxRejects = maxRejects
        self.contract = contract
        self.discardsMisfits = discardsMisfits
    }
}

/// Builds the writer's steps from scanned batches, with no I/O: plans each table (names, types,
/// DDL as `SchemaChange` values), sets aside what a contract or `maxRejects` keeps out, numbers a
/// merge's rows, gives nested rows their ids, and encodes the COPY payloads. Every source's reader
/// feeds one (files through `BatchProducer`, streams per stream).
open class StepBuilder: @unchecked Sendable {
    public let settings: StepSettings
    public let root: TableStream
    /// A top-level column every child table gets too, with its root row's value (`--nested
    /// tables` under a table distributed by that column: the children are colocated with it).
    public var carriedToChildren: String?
    /// Child tables, by their index in `layout`.
    public private(set) var children: [TableStream] = []
    public let layout: NestedLayout?
    private let childPlanner: (NestedLayout.Child, TableName) -> SchemaPlanner
    /// Types a source declares for child tables' columns, by the child's path (a Parquet file's
    /// lists): given to each child's planner as it is created.
    public var childDeclaredTypes: [String: [String: ColumnType]] = [:]
    public var rows: Int { root.rows }
    public var format: CopyFormat { ([root] + children).contains { $0.format == .text } ? .text : .binary }
    public var planner: SchemaPlanner { root.planner }
    public var nulsRemoved: Int { ([root] + children).reduce(0) { $0 + $1.encoder.nulsRemoved } }
    public private(set) var rejected = 0
    public private(set) var discarded = 0
    private var sequence: Int64 = 0

    /// What `makeStep` counts as it goes: kept before a step is made and put back when the step is
    /// thrown away and made again (a reader of a parallel read whose plan went stale).
    public struct Tally: Sendable {
        public var sequence: Int64
        public var rows: Int
        public var nulsRemoved: Int
    }

    public var tally: Tally {
        get { Tally(sequence: sequence, rows: root.rows, nulsRemoved: root.encoder.nulsRemoved) }
        set {
            sequence = newValue.sequence
            root.rows = newValue.rows
            root.encoder.nulsRemoved = newValue.nulsRemoved
        }
    }

    /// Numbers a merge's rows from `first` on (a part of a parallel read numbers its rows after
    /// every earlier part's, so the last record of a key still wins).
    public func numberRows(from first: Int64) { sequence = first }
    /// Asked before a column of the table widens: values the server takes as they are keep the type.
    public var serverInput: ServerInput?
    private var random = SplitMix(seed: UInt64.random(in: 0...UInt64.max))

    public init(
        settings: StepSettings, planner: SchemaPlanner, sources: SourceColumns = SourceColumns(),
        layout: NestedLayout? = nil,
        childPlanner: @escaping (NestedLayout.Child, TableName) -> SchemaPlanner = { _, _ in fatalError("no child tables") }
    ) {
        self.settings = settings
        self.root = TableStream(sources: sources, planner: planner)
        self.layout = layout
        self.childPlanner = childPlanner
    }

    /// A hash of each written row's key bytes, in row order. Equal keys hash equal; different
    /// keys almost never do, so a repeat found by hash only costs work, never a wrong answer.
    /// A key in binary COPY form (`CellKind.wire`) hashes as its text would when it is an integer
    /// or text; of another type it hashes its binary bytes, and `raw` says so: those hashes
    /// compare only with hashes of the same form.
    public static func keyHashes(in batch: RecordBatch, columns: [CopyColumn]) -> (hashes: [Int], raw: Bool) {
        let keys = columns.filter(\.required).compactMap { column in column.source.map { ($0, column.type) } }
        var hashes: [Int] = []
        var raw = false
        hashes.reserveCapacity(batch.rowCount)
        for row in 0..<batch.rowCount where !batch.isSkipped(row) {
            var hasher = Hasher()
            for (slot, type) in keys {
                let cell = batch.cell(row: row, column: slot)
                let p = batch.pointer(cell)
                let n = Int(cell.length)
                if cell.kind == .wire, let value = wireInteger(p, n, type) {
                    // The decimal digits, as pgoutput's text form spells the same key.
                    RecordBatch.withDigits(of: value) { digits in
                        hasher.combine(digits.count)
                        hasher.combine(bytes: UnsafeRawBufferPointer(digits))
                    }
                    continue
                }
                if cell.kind == .wire && !type.binaryFormIsText { raw = true }
                hasher.combine(n)
                hasher.combine(bytes: UnsafeRawBufferPointer(start: p, count: n))
            }
            hashes.append(hasher.finalize())
        }
        return (hashes, raw)
    }

    /// An integer key's value in binary form.
    private static func wireInteger(_ p: UnsafePointer<UInt8>, _ n: Int, _ type: ColumnType) -> Int64? {
        switch (type, n) {
        case (.smallint, 2): return Int64(BigEndian.int16(p))
        case (.integer, 4): return Int64(BigEndian.int32(p))
        case (.bigint, 8):
            var value: UInt64 = 0
            for k in 0..<8 { value = value << 8 | UInt64(p[k]) }
            return Int64(bitPattern: value)
        default: return nil
        }
    }

    /// Whether two rows of the batch may share a key: compares hashes of the key bytes, so a
    /// collision only costs the server a sort, never a wrong answer.
    public static func keysRepeat(in batch: RecordBatch, columns: [CopyColumn]) -> Bool {
        repeats(keyHashes(in: batch, columns: columns).hashes)
    }

    static func repeats(_ hashes: [Int]) -> Bool {
        var seen = Set<Int>(minimumCapacity: hashes.count)
        for hash in hashes where !seen.insert(hash).inserted { return true }
        return false
    }

    /// Plans and encodes a scanned batch (and its child-table rows) into one step for the connection.
    public func makeStep(_ batch: RecordBatch) throws -> LoadStep {
        batch.finish(columnCount: root.sources.count)
        var rejects: [Reject] = []
        var statements = try prepare(root, batch, &rejects)
        let merge = settings.mode == .merge
        if let layout {
            while children.count < layout.children.count {
                let child = layout.children[children.count]
                let parentTable = child.parent < 0 ? root.table : children[child.parent].table
                var planner = childPlanner(child, parentTable)
                if let name = carriedToChildren, let column = root.planner.copyColumns.first(where: { $0.name == name }),
                    let slot = column.source
                {
                    planner.systemColumns.append(SystemColumn(name: name, generated: .rootValue(slot: slot, type: column.type)))
                }
                if let declared = childDeclaredTypes[child.path] { planner.declaredTypes = declared }
                children.append(TableStream(sources: child.columns, planner: planner))
            }
            for (index, stream) in children.enumerated() {
                guard let childBatch = batch.children[index] else { continue }
                childBatch.finish(columnCount: stream.sources.count)
                statements += try prepare(stream, childBatch, &rejects)
            }
            if merge { supersedeRepeatedKeys(batch) }
            assignRowIds(batch)
        }
        // Columns whose default gives every row of this batch its value stay out of the COPY (not
        // in a merge: its upsert sets only the columns it copies).
        let defaulted = merge ? [] : root.planner.batchDefaults(in: batch)
        let keysAreNew = merge && batch.keysAreNew
        let leftOut = Set(defaulted.map(\.column))
        var parts: [StepPart] = []
        for (index, stream) in ([root] + children).enumerated() {
            let part = index == 0 ? batch : batch.children[index - 1]
            guard let part else { continue }
            let omitted = index == 0 ? leftOut : []
            // The top-level table of a merge carries the load order (unless no key can repeat);
            // child rows are appended.
            let (more, encoded) = try encode(
                stream, part, numbered: merge && index == 0 && !keysAreNew, leaving: omitted, &rejects)
            statements += more
            if encoded.format == .text { stream.format = .text }
            stream.rows += encoded.rows.count
            parts.append(
                StepPart(
                    table: stream.table, columns: stream.planner.copyColumns.filter { !omitted.contains($0.name) },
                    encoded: encoded, lines: part.rowLines,
                    child: index == 0 ? nil : index - 1,
                    rootRows: index == 0 ? nil : (0..<part.rowCount).map { part.rootRow(of: $0) }))
        }
        let rootPart = parts.removeFirst()
        let unchanged = merge && !keysAreNew ? Self.unchanged(in: batch, rootPart, first: sequence) : []
        let (keyHashes, rawKeys) = merge && !keysAreNew ? Self.keyHashes(in: batch, columns: rootPart.columns) : ([], false)
        sequence += Int64(rootPart.encoded.rows.count)
        defer { causes = [:] }
        return LoadStep(
            statements: statements, root: rootPart, children: parts, keysRepeat: Self.repeats(keyHashes), keyHashes: keyHashes,
            rawKeyHashes: rawKeys, keysAreNew: keysAreNew, rejects: rejects, rejectedSoFar: rejected, source: batch.source,
            causes: causes, settings: defaulted.map { ($0.setting, $0.value) }, unchanged: unchanged)
    }

    /// The load order of the rows whose value of a column the source did not send, per column.
    static func unchanged(in batch: RecordBatch, _ part: StepPart, first: Int64) -> [(column: String, sequences: [Int64])] {
        guard !batch.unchanged.isEmpty else { return [] }
        var order: [Int: Int] = [:]
        for (index, row) in part.encoded.rows.enumerated() { order[row] = index }
        var bySlot: [Int: [Int64]] = [:]
        for (row, slot) in batch.unchanged {
            if let index = order[row] { bySlot[slot, default: []].append(first + Int64(index)) }
        }
        return part.columns.compactMap { column in
            guard let slot = column.source, let sequences = bySlot[slot] else { return nil }
            return (column.name, sequences)
        }
    }

    /// Plans the table for a batch and sets aside what the contract keeps out: rows or values of
    /// columns the table may not gain, and rows without a key.
    private func prepare(_ stream: TableStream, _ batch: RecordBatch, _ rejects: inout [Reject]) throws -> [SchemaChange] {
        let statements = try stream.planner.prepare(batch, sources: stream.sources)
        let discardRows = settings.contract == .discardRow
        for (slot, name) in stream.planner.discardedNames.sorted(by: { $0.key < $1.key }) where slot < batch.columnCount {
            for row in 0..<batch.rowCount where !batch.isSkipped(row) {
                let cell = batch.cell(row: row, column: slot)
                if cell.isNull { continue }
                rejects.append(
                    Reject(
                        source: batch.source, line: batch.rowLines[row], column: name, value: batch.string(cell),
                        reason: "\(stream.table) has no column \(name); --schema-contract \(settings.contract.rawValue) "
                            + (discardRows ? "set the row aside" : "dropped the value"),
                        discarded: true))
                discarded += 1
                if discardRows { batch.skip(row: row) }
            }
        }
        let keys = stream.planner.copyColumns.filter(\.required)
        if settings.maxRejects > 0 && !keys.isEmpty {
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
    /// aside the values of columns that may not widen. `leaving` names system columns the COPY
    /// leaves to their default (they come after every data column, so the misfits' column
    /// numbers stay those of `copyColumns`).
    private func encode(
        _ stream: TableStream, _ batch: RecordBatch, numbered: Bool, leaving: Set<String>, _ rejects: inout [Reject]
    ) throws -> ([SchemaChange], BatchEncoder.EncodedBatch) {
        var statements: [SchemaChange] = []
        var asked = Set<String>()
        var retold = Set<String>()
        while true {
            retellTimes(of: stream, in: batch, done: &retold)
            let columns = stream.planner.copyColumns.filter { !leaving.contains($0.name) }
            let format = batch.carriesWire ? .binary : CopyFormat.best(for: columns)
            switch try stream.encoder.encode(batch, columns: columns, format: format, sequenceStart: numbered ? sequence : nil) {
            case .encoded(let encoded):
                return (statements, encoded)
            case .misfits(let misfits):
                if stream === root, acceptedByServer(misfits, columns: columns, of: stream, in: batch, asked: &asked) {
                    continue
                }
                let (widened, stuck) = stream.planner.widen(misfits, in: batch)
                for change in widened { noteCause(of: change, in: stream, batch: batch, columns: columns) }
                statements += widened
                for column in stuck { try setAside(column, of: stream, in: batch, &rejects) }
            }
        }
    }

    /// Asks the server about the values of each misfit column that would otherwise become text
    /// (once per column and batch): when its input function takes them all, they are replaced by
    /// its spelling and the column keeps its type. Returns whether any column was mended.
    private func acceptedByServer(
        _ misfits: BatchEncoder.Misfits, columns: [CopyColumn], of stream: TableStream, in batch: RecordBatch,
        asked: inout Set<String>
    ) -> Bool {
        guard let serverInput else { return false }
        var replacements: [(row: Int, column: Int, text: [UInt8])] = []
        for index in misfits.keys.sorted() {
            let column = columns[index]
            guard let slot = column.source, column.type.serverInputIsWider, asked.insert(column.name).inserted else {
                continue
            }
            // A wider type that keeps every value (date → timestamp, integer → numeric) is better
            // than the server's reading, which may drop a part (a date takes a timestamp and
            // forgets its time); only a change to text, or none at all, is worth asking about.
            let wider = SchemaPlanner.widening(of: column.type, slot: slot, in: batch)
            guard wider == nil || wider == .text else { continue }
            var rowsOf: [String: [Int]] = [:]
            var order: [String] = []
            for row in 0..<batch.rowCount where !batch.isSkipped(row) {
                if stream.encoder.fits(batch, row: row, column: slot, as: column.type) { continue }
                let value = batch.string(batch.cell(row: row, column: slot)) ?? ""
                if rowsOf[value] == nil { order.append(value) }
                rowsOf[value, default: []].append(row)
            }
            guard !order.isEmpty, order.count <= Self.maxAskedValues,
                let spelled = serverInput.canonical(order, as: column.type), spelled.count == order.count
            else { continue }
            for (value, text) in zip(order, spelled) {
                for row in rowsOf[value]! { replacements.append((row, slot, Array(text.utf8))) }
            }
        }
        batch.replace(replacements)
        return !replacements.isEmpty
    }

    /// Causes of this batch's widenings, by column (see `LoadStep.causes`).
    private var causes: [String: String] = [:]

    private func noteCause(of change: SchemaChange, in stream: TableStream, batch: RecordBatch, columns: [CopyColumn]) {
        guard case .alterType(_, let name, let from, _) = change,
            let slot = columns.first(where: { $0.name == name })?.source
        else { return }
        for row in 0..<batch.rowCount where !batch.isSkipped(row) {
            if stream.encoder.fits(batch, row: row, column: slot, as: from) { continue }
            let value = batch.string(batch.cell(row: row, column: slot)) ?? ""
            causes[name] = "line \(batch.rowLines[row]) of \(batch.source): \(SchemaPlanner.excerpt(value))"
            return
        }
    }

    /// A time column that became text in this load gets its later values in the form its earlier
    /// ones were given (`ISOTime.textForm`), so the column does not mix two spellings of one time.
    private func retellTimes(of stream: TableStream, in batch: RecordBatch, done: inout Set<String>) {
        let times: Set<ColumnType> = [.date, .timestamp, .timestamptz]
        let retyped = stream.planner.widenings.filter { $0.to == .text && times.contains($0.from) }.map(\.column)
        guard !retyped.isEmpty else { return }
        var replacements: [(row: Int, column: Int, text: [UInt8])] = []
        for column in stream.planner.copyColumns where retyped.contains(column.name) && done.insert(column.name).inserted {
            guard let slot = column.source else { continue }
            for row in 0..<batch.rowCount where !batch.isSkipped(row) {
                let cell = batch.cell(row: row, column: slot)
                if cell.isNull { continue }
                if let text = ISOTime.textForm(batch.pointer(cell), Int(cell.length)) {
                    replacements.append((row, slot, Array(text.utf8)))
                }
            }
        }
        batch.replace(replacements)
    }

    /// Beyond this many different values in one batch, a column widens without asking the server.
    static let maxAskedValues = 10_000

    /// Rows (or, under discard-value, values) of a column that may not widen and whose values do not fit.
    private func setAside(
        _ stuck: SchemaPlanner.StuckColumn, of stream: TableStream, in batch: RecordBatch, _ rejects: inout [Reject]
    ) throws {
        let column = stuck.column
        guard let slot = column.source else { return }
        // A discard names its row by the row's own id and receipt time (RudderStack's layout).
        let copyColumns = stream.planner.copyColumns
        let rowIdSlot = copyColumns.first { $0.name == "id" }?.source
        let receivedAtSlot = copyColumns.first { $0.name == "received_at" }?.source
        for row in 0..<batch.rowCount where !batch.isSkipped(row) {
            if stream.encoder.fits(batch, row: row, column: slot, as: column.type) { continue }
            let value = batch.string(batch.cell(row: row, column: slot))
            let reason = "\(SchemaPlanner.excerpt(value ?? "")) is not a valid \(column.type.sqlName), and the column "
                + "cannot change type (\(stuck.reason))"
            switch settings.contract {
            case .evolve where settings.discardsMisfits:
                var entry = Reject(
                    source: batch.source, line: batch.rowLines[row], column: column.name, value: value,
                    reason: reason + "; the value was dropped", discarded: true)
                entry.rowId = rowIdSlot.flatMap { batch.string(batch.cell(row: row, column: $0)) }
                entry.receivedAt = receivedAtSlot.flatMap { batch.string(batch.cell(row: row, column: $0)) }
                rejects.append(entry)
                discarded += 1
                batch.setNull(row: row, column: slot)
            case .discardValue, .discardRow:
                let dropRow = settings.contract == .discardRow
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
        guard settings.maxRejects > 0 else {
            throw InputError(
                source: entry.source, line: entry.line, column: column,
                message: reason + "; fix the value, or pass --max-rejects N to set up to N such rows aside")
        }
        rejected += 1
        if rejected > settings.maxRejects { throw RejectLimit(limit: settings.maxRejects, last: entry) }
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
        let keySlots = settings.mode == .merge ? root.planner.copyColumns.filter(\.required).compactMap(\.source) : []
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
