/// What a scanner learned about one cell's bytes.
public enum CellKind: UInt8, Sendable {
    case null
    /// CSV, unquoted.
    case raw
    /// CSV, quoted: an empty quoted cell is the empty string, not NULL.
    case quoted
    /// A JSON string, already unescaped in place.
    case jsonString
    case jsonNumber
    case jsonBool
    /// A JSON object or array, as its JSON text.
    case jsonNested
    /// A value already in the binary COPY form of its column's type (a source's own binary COPY
    /// OUT of the same type), written as it is: no parsing, no judging. A batch holding one is
    /// sent in binary (`RecordBatch.carriesWire`).
    case wire
}

/// A cell is a range of the batch's bytes; no `String` is made for it on the hot path.
public struct Cell: Sendable {
    public var offset: UInt32
    public var length: UInt32
    public var kind: CellKind

    public static let null = Cell(offset: 0, length: 0, kind: .null)

    @inline(__always)
    public init(offset: UInt32, length: UInt32, kind: CellKind) {
        self.offset = offset
        self.length = length
        self.kind = kind
    }

    @inline(__always)
    public var isNull: Bool { kind == .null }
}

/// Rows from one source, as byte ranges into the input bytes they were scanned from.
///
/// Column `j` of row `i` is `cells[rowStarts[i] + j]` when `j` is below that row's width; a row
/// that ended before a column existed (a JSON key first seen later) reads as NULL there.
/// A batch never spans two inputs, so `source` plus a row's line names where it came from.
/// One thread at a time builds or reads a batch, so its per-cell properties skip Swift's dynamic
/// exclusivity checks.
public final class RecordBatch: @unchecked Sendable {
    public let bytes: ByteStorage
    public let source: String
    @exclusivity(unchecked) public internal(set) var cells: [Cell] = []
    @exclusivity(unchecked) public internal(set) var rowStarts: [Int32] = [0]
    @exclusivity(unchecked) public internal(set) var rowLines: [Int] = []
    /// The number of load-level columns known when the batch was finished.
    public internal(set) var columnCount: Int = 0
    /// How many of `bytes` the scanner has turned into rows.
    @exclusivity(unchecked) public internal(set) var scanned: Int = 0

    public init(source: String, bytes: ByteStorage) {
        self.source = source
        self.bytes = bytes
    }

    public var rowCount: Int { rowLines.count }
    /// Some cell is `.wire`: the batch can only travel as binary COPY.
    @exclusivity(unchecked) public var carriesWire = false
    /// Every key of the batch is distinct, and none was written before by the load reading it: a
    /// snapshot of a table the source keys uniquely. A merge then needs neither the keys' hashes
    /// nor a load order (`LoadStep.keysAreNew`).
    @exclusivity(unchecked) public var keysAreNew = false
    /// Cells a change feed left NULL because the source did not send their value (an unchanged
    /// TOASTed column of an update), as (row, column): the upsert takes the value from the key's
    /// earlier change in the batch, or from the stored row (`LoadStep.unchanged`).
    public var unchanged: [(row: Int, column: Int)] = []

    /// Room for `rows` rows of `cells` cells in all, so that a batch about as big as the last
    /// one never copies its cells while it grows.
    public func reserve(rows: Int, cells count: Int) {
        cells.reserveCapacity(count)
        rowStarts.reserveCapacity(rows + 1)
        rowLines.reserveCapacity(rows)
    }

    @inline(__always)
    public func cell(row: Int, column: Int) -> Cell {
        let start = Int(rowStarts[row])
        let width = Int(rowStarts[row + 1]) - start
        return column < width ? cells[start + column] : .null
    }

    /// The cell's bytes. Valid while the batch lives.
    @inline(__always)
    public func pointer(_ cell: Cell) -> UnsafePointer<UInt8> {
        UnsafePointer(bytes.base + Int(cell.offset))
    }

    public func string(_ cell: Cell) -> String? {
        if cell.isNull { return nil }
        return String(decoding: UnsafeBufferPointer(start: pointer(cell), count: Int(cell.length)), as: UTF8.self)
    }

    // MARK: building rows

    /// Starts a row of `width` NULL cells that `set` fills.
    @inline(__always)
    func beginRow(line: Int, width: Int) {
        if !rowImages.isEmpty { rowImages.removeAll() }
        rowLines.append(line)
        cells.append(contentsOf: repeatElement(Cell.null, count: width))
    }

    /// Sets column `column` of the row being built, widening the row if the column is new.
    @inline(__always)
    func set(_ cell: Cell, column: Int) {
        // A column of a tuple kept whole changes: the tuple no longer stands for the row.
        if column < imageFields { forgetImages() }
        let start = Int(rowStarts[rowStarts.count - 1])
        let index = start + column
        if index == cells.count {
            // The usual case: a record's members arrive in column order.
            cells.append(cell)
            return
        }
        if index > cells.count {
            cells.append(contentsOf: repeatElement(Cell.null, count: index - cells.count + 1))
        }
        cells[index] = cell
    }

    /// Whether the row being built has a value (not NULL) in `column`.
    @inline(__always)
    func isFilled(_ column: Int) -> Bool {
        let index = Int(rowStarts[rowStarts.count - 1]) + column
        return index < cells.count && !cells[index].isNull
    }

    @inline(__always)
    func endRow() {
        rowStarts.append(Int32(cells.count))
    }

    /// Drops the row being built (a blank line).
    func abandonRow() {
        let start = Int(rowStarts[rowStarts.count - 1])
        cells.removeSubrange(start...)
        rowLines.removeLast()
    }

    /// Starts an empty record that a reader fills with `setCell` (a replication stream's tuple).
    public func beginRecord(line: Int) { beginRow(line: line, width: 0) }

    /// Sets a cell of the record a protocol reader is building (see `JSONLinesScanner.beginRecord`).
    @inline(__always)
    public func setCell(_ cell: Cell, column: Int) { set(cell, column: column) }

    /// Ends the record a protocol reader is building.
    @inline(__always)
    public func endRecord() { endRow() }

    /// Starts a record from one tuple of a source's binary COPY OUT (`PGCOPY` format: a 16-bit
    /// field count, then each field's 32-bit length, -1 for NULL, and bytes), whose `fields`
    /// fields are the batch's columns 0..<fields in order: the tuple's bytes are copied into the
    /// batch once, each field becomes a `.wire` cell, and the tuple is kept whole as the row's
    /// image, which the encoder copies as it is when it sends exactly those columns
    /// (`rowImages`). The caller has checked that the tuple is `count` bytes long; it ends the
    /// record with `endRecord` after setting any further columns.
    public func beginWireRecord(_ tuple: UnsafePointer<UInt8>, count: Int, fields: Int, line: Int) {
        let base = bytes.count
        bytes.append(tuple, count: count)
        rowLines.append(line)
        if rowImages.count == rowLines.count - 1 && (imageFields == fields || rowImages.isEmpty) {
            rowImages.append(RowImage(start: UInt32(base), end: UInt32(base + count)))
            imageFields = fields
        } else {
            rowImages.removeAll()
        }
        let p = UnsafePointer(bytes.base + base)
        let first = cells.count
        cells.append(contentsOf: repeatElement(Cell.null, count: fields))
        cells.withUnsafeMutableBufferPointer { row in
            var at = 2
            for k in first..<(first + fields) {
                let length = BigEndian.int32(p + at)
                at += 4
                if length >= 0 {
                    row[k] = Cell(offset: UInt32(base + at), length: UInt32(length), kind: .wire)
                    at += Int(length)
                }
            }
        }
        carriesWire = true
    }

    /// Where one row's whole binary COPY tuple lies in `bytes`.
    public struct RowImage: Sendable {
        public var start: UInt32
        public var end: UInt32
    }

    /// Each row's tuple (`beginWireRecord`), when every row of the batch came as one with
    /// `imageFields` fields and none was changed since; otherwise fewer than `rowCount` (empty).
    @exclusivity(unchecked) public private(set) var rowImages: [RowImage] = []
    @exclusivity(unchecked) public private(set) var imageFields = 0

    /// Every row has its image: encoding the rows' columns 0..<`imageFields` in binary writes
    /// exactly the images.
    public var imagesCoverRows: Bool { !rowImages.isEmpty && rowImages.count == rowCount }

    /// A row's cells changed: the images no longer stand for the rows.
    @inline(__always)
    func forgetImages() {
        if !rowImages.isEmpty { rowImages.removeAll() }
    }

    /// Drops the record being built, and the child rows it started (a record that failed to scan).
    public func abandonRecord() {
        let row = rowCount - 1
        // Counted before any row goes: a grandchild finds its record through its parent row.
        let drops = children.values.map { child in
            (child, (0..<child.rowCount).reversed().prefix { child.rootRow(of: $0) == row }.count)
        }
        for (child, count) in drops {
            for _ in 0..<count { child.dropLastRow() }
        }
        dropLastRow()
    }

    /// Removes the last row, finished or not.
    private func dropLastRow() {
        if rowLines.count < rowStarts.count { rowStarts.removeLast() }
        cells.removeSubrange(Int(rowStarts[rowStarts.count - 1])...)
        if rowImages.count == rowLines.count { rowImages.removeLast() } else { forgetImages() }
        rowLines.removeLast()
        if parent != nil {
            parentRows.removeLast()
            listIndex.removeLast()
        }
    }

    /// Replaces the rows' line numbers (a reader that scanned records out of messages names the
    /// message lines).
    public func relabel(lines: [Int]) {
        precondition(lines.count == rowLines.count, "one line per row")
        rowLines = lines
    }

    public func finish(columnCount: Int) {
        self.columnCount = columnCount
    }

    /// Replaces a value of a finished row with `bytes`, appended to the batch's bytes (a reader's
    /// conversion of a value's encoding, e.g. Debezium's days since 1970 to a date).
    public func replace(row: Int, column: Int, with bytes: [UInt8], kind: CellKind) {
        let start = Int(rowStarts[row])
        guard column < Int(rowStarts[row + 1]) - start else { return }
        let offset = self.bytes.count
        self.bytes.append(contentsOf: bytes)
        cells[start + column] = Cell(offset: UInt32(offset), length: UInt32(bytes.count), kind: kind)
        forgetImages()
    }

    /// A number cell holding `value`, its digits appended to the batch's bytes (a reader's
    /// position values), without a String per value.
    public func numberCell(_ value: Int64) -> Cell {
        Self.withDigits(of: value) { digits in
            let offset = bytes.count
            bytes.append(digits.baseAddress!, count: digits.count)
            return Cell(offset: UInt32(offset), length: UInt32(digits.count), kind: .jsonNumber)
        }
    }

    /// The decimal digits of `value` (with a `-`), in a buffer on the stack.
    @inline(__always)
    static func withDigits<R>(of value: Int64, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &digits) { raw -> R in
            let buffer = raw.bindMemory(to: UInt8.self)
            var k = buffer.count
            var rest = value.magnitude
            repeat {
                k -= 1
                buffer[k] = UInt8(48 + rest % 10)
                rest /= 10
            } while rest > 0
            if value < 0 {
                k -= 1
                buffer[k] = 45
            }
            return body(UnsafeBufferPointer(rebasing: buffer[k...]))
        }
    }

    // MARK: setting rows and values aside

    /// Rows set aside (rejected or discarded); the encoder leaves them out. Empty until the first.
    @exclusivity(unchecked) public private(set) var skipped: [Bool] = []
    public private(set) var skippedCount = 0

    @inline(__always)
    public func isSkipped(_ row: Int) -> Bool { !skipped.isEmpty && skipped[row] }

    /// Leaves a row out of the COPY.
    public func skip(row: Int) {
        if skipped.isEmpty { skipped = Array(repeating: false, count: rowCount) }
        if !skipped[row] {
            skipped[row] = true
            skippedCount += 1
        }
    }

    /// Replaces one value with NULL.
    public func setNull(row: Int, column: Int) {
        let start = Int(rowStarts[row])
        if column < Int(rowStarts[row + 1]) - start { cells[start + column] = .null }
        forgetImages()
    }

    // MARK: child tables

    /// Each row's `_pgsink_id`, when the table has one.
    @exclusivity(unchecked) public var rowIds: [RowId] = []
    /// A child table's rows: the row of `parent` each came from, and its position in the list.
    @exclusivity(unchecked) public internal(set) var parentRows: [Int32] = []
    @exclusivity(unchecked) public internal(set) var listIndex: [Int32] = []
    /// The batch of the parent table (nil for a top-level batch) and the top-level batch.
    public internal(set) weak var parent: RecordBatch?
    /// Child batches by child-table index (see `NestedLayout`).
    public internal(set) var children: [Int: RecordBatch] = [:]

    /// The batch of child table `index` (kept by the top-level batch), made when first needed.
    func childBatch(_ index: Int, parent: RecordBatch) -> RecordBatch {
        if let existing = children[index] { return existing }
        let batch = RecordBatch(source: source, bytes: bytes)
        batch.parent = parent
        children[index] = batch
        return batch
    }

    /// Starts a row of a child table.
    @inline(__always)
    func beginChildRow(line: Int, parentRow: Int32, listIndex index: Int32) {
        beginRow(line: line, width: 0)
        parentRows.append(parentRow)
        listIndex.append(index)
    }

    /// The top-level row a row descends from.
    public func rootRow(of row: Int) -> Int {
        var batch = self
        var current = row
        while let parent = batch.parent {
            current = Int(batch.parentRows[current])
            batch = parent
        }
        return current
    }

    /// Whether this row, or a row it descends from, was set aside.
    public func isSkippedWithAncestors(_ row: Int) -> Bool {
        if isSkipped(row) { return true }
        guard let parent else { return false }
        return parent.isSkippedWithAncestors(Int(parentRows[row]))
    }
}

/// A 128-bit row id, sent as a `uuid`.
public struct RowId: Sendable, Hashable {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// As a UUID (version 8, RFC 9562's custom layout), so it prints like any other uuid.
    public var uuidBytes: (UInt64, UInt64) {
        ((high & ~0xF000) | 0x8000, (low & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000)
    }
}


extension RecordBatch {
    /// Moves the bytes this batch has not scanned into `next`, which continues the same input.
    public func handOverUnscanned(to next: RecordBatch) {
        let rest = bytes.count - scanned
        next.bytes.append(bytes.base + scanned, count: rest)
        bytes.count = scanned
    }
}

/// SplitMix64, a small, fast generator: random row ids (uniqueness, not secrecy), and seeded
/// test data that is the same on every machine.
public struct SplitMix: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A value in 0..<n.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

extension RecordBatch {
    /// Moves each row's column `k` to column `map[k]`: a batch one reader scanned with columns of
    /// its own, put in the numbering its load shares (`SourceColumns.numbering(from:)`).
    public func renumber(_ map: [Int]) {
        var moved: [Cell] = []
        moved.reserveCapacity(cells.count)
        var starts: [Int32] = [0]
        starts.reserveCapacity(rowStarts.count)
        for row in 0..<rowCount {
            let start = Int(rowStarts[row])
            let width = Int(rowStarts[row + 1]) - start
            let first = moved.count
            for k in 0..<width {
                let target = map[k]
                if first + target >= moved.count {
                    moved.append(contentsOf: repeatElement(Cell.null, count: first + target - moved.count + 1))
                }
                moved[first + target] = cells[start + k]
            }
            starts.append(Int32(moved.count))
        }
        cells = moved
        rowStarts = starts
        if map.indices.contains(where: { map[$0] != $0 }) { forgetImages() }
    }
}
