/// The rows of one row group, written into record batches as the text of each value
/// (`ParquetCellFormat`), with NULL where a definition level says so. A flat column is decoded a
/// page at a time as its rows are written (`ParquetPageStream`); a nested field's leaves are
/// decoded whole and assembled into JSON (`ParquetNestedJSON`).
public struct ParquetRowGroupRows {
    public let leaves: [ParquetLeaf]
    let formats: [ParquetCellFormat]
    let slots: [Int]
    /// A flat leaf's current page, or a nested leaf's whole chunk.
    var columns: [ParquetColumnData]
    /// Per leaf, the column type its values are written in binary COPY form as (nil: as text),
    /// for the batches written next (`canWrite(_:binaryAs:)`).
    public var binaryTypes: [ColumnType?]
    private var streams: [ParquetPageStream?]
    /// A flat leaf's next level entry in its current page.
    private var entry: [Int]
    public let rowCount: Int
    /// The next row to write, and each column's next value.
    public private(set) var row = 0
    private var valueIndex: [Int]

    /// The top-level fields; a flat one is its own leaf, a nested one is written as JSON.
    let fields: [ParquetNode]
    private let nested: ParquetNestedJSON?
    /// Per field, its leaf when it is flat (nil: nested, written as JSON), and per leaf its
    /// maximum definition level: what the row loop needs of `fields` and `leaves`, kept apart so
    /// it copies no schema structs (and retains none of their references) per cell.
    private let flatLeaf: [Int?]
    private let maxDefinition: [UInt8]

    /// `fields`: the schema's top-level fields; `slots`: each field's source column slot in the batch.
    public init(
        leaves: [ParquetLeaf], fields: [ParquetNode], formats: [ParquetCellFormat], slots: [Int],
        columns: [ParquetColumnData], streams: [ParquetPageStream?], rowCount: Int
    ) throws(ParquetError) {
        for index in Set(fields.flatMap(\.leafIndices)) {
            let leaf = leaves[index]
            let column = columns[index]
            if let stream = streams[index] {
                guard stream.meta.valueCount == rowCount else {
                    throw ParquetError("column \(leaf.name) has \(stream.meta.valueCount) values in a row group of \(rowCount) rows")
                }
                continue
            }
            let (stored, present) = Self.valueCounts(column, leaf)
            guard stored == present else {
                throw ParquetError("column \(leaf.name) holds \(stored) values where its levels say \(present)")
            }
            if leaf.maxRepetition == 0 && column.count != rowCount {
                throw ParquetError("column \(leaf.name) has \(column.count) values in a row group of \(rowCount) rows")
            }
        }
        self.leaves = leaves
        self.fields = fields
        self.formats = formats
        self.slots = slots
        self.columns = columns
        self.rowCount = rowCount
        self.valueIndex = Array(repeating: 0, count: leaves.count)
        self.streams = streams
        self.binaryTypes = Array(repeating: nil, count: leaves.count)
        self.entry = Array(repeating: 0, count: leaves.count)
        self.flatLeaf = fields.map { $0.isRepeated ? nil : $0.leaf }
        self.maxDefinition = leaves.map { UInt8($0.maxDefinition) }
        let nestedFields = fields.filter(\.isNested)
        nested = nestedFields.isEmpty
            ? nil
            : try ParquetNestedJSON(
                leaves: leaves, formats: formats, columns: columns, nested: nestedFields, rowCount: rowCount)
    }

    public var isDone: Bool { row >= rowCount }

    /// Writes rows into `batch` until it holds `maxRows` rows or `maxBytes` bytes, or the group
    /// ends. `firstLine` is the file's row number (1-based) of the group's first row.
    public mutating func write(into batch: RecordBatch, maxRows: Int, maxBytes: Int, firstLine: Int) throws {
        let out = batch.bytes
        // Per leaf, whether it is written in binary form (and the width of an integer so
        // written), read from `binaryTypes` once here rather than copied out per cell.
        let binary = binaryTypes.map { type -> WireWidth? in
            switch type {
            case nil: nil
            case .smallint?: .int16
            case .integer?: .int32
            default: .int64
            }
        }
        while row < rowCount && batch.rowCount < maxRows && out.count < maxBytes {
            batch.beginRecord(line: firstLine + row)
            for f in 0..<flatLeaf.count {
                guard let c = flatLeaf[f] else {
                    let start = out.count
                    nested!.write(fields[f], row: row, to: out)
                    if out.count - start == 4 && out.base[start] == 110 {  // null
                        out.count = start
                        continue
                    }
                    batch.setCell(Cell(offset: UInt32(start), length: UInt32(out.count - start), kind: .quoted), column: slots[f])
                    continue
                }
                while entry[c] == columns[c].count { try nextPage(c) }
                let k = entry[c]
                entry[c] = k + 1
                let top = maxDefinition[c]
                if top > 0 && columns[c].definitionLevels[k] != top { continue }
                let i = valueIndex[c]
                valueIndex[c] = i + 1
                let start = out.count
                // The values are reached through the buffer, borrowed: passed as `columns[c].values`
                // they were copied per cell, retaining and releasing each of their arrays.
                if let width = binary[c],
                    columns.withUnsafeBufferPointer({ Self.writeWire(formats[c], $0[c].values, i, integers: width, to: out) })
                {
                    batch.setCell(Cell(offset: UInt32(start), length: UInt32(out.count - start), kind: .wire), column: slots[f])
                    batch.carriesWire = true
                    continue
                }
                out.count = start
                write(c, i, to: out)
                batch.setCell(Cell(offset: UInt32(start), length: UInt32(out.count - start), kind: .quoted), column: slots[f])
            }
            batch.endRecord()
            row += 1
        }
        batch.scanned = out.count
    }

    /// Decodes flat leaf `c`'s next page.
    /// The values a decoded column (or page) holds, and how many its definition levels say are
    /// there: a corrupt count shows as the two differing.
    static func valueCounts(_ data: ParquetColumnData, _ leaf: ParquetLeaf) -> (stored: Int, present: Int) {
        let present = leaf.maxDefinition == 0
            ? data.count : data.definitionLevels.reduce(0) { $0 + ($1 == UInt8(leaf.maxDefinition) ? 1 : 0) }
        switch leaf.physical {
        case .boolean: return (data.values.booleans.count, present)
        case .int32, .int64: return (data.values.ints.count, present)
        case .float: return (data.values.floats.count, present)
        case .double: return (data.values.doubles.count, present)
        case .byteArray, .fixedLenByteArray, .int96: return (data.values.offsets.count - 1, present)
        }
    }

    private mutating func nextPage(_ c: Int) throws {
        let leaf = leaves[c]
        guard let page = try streams[c]?.next() else {
            throw ParquetError("column \(leaf.name) ends before row \(row) of its row group of \(rowCount) rows")
        }
        let (stored, present) = Self.valueCounts(page, leaf)
        guard stored == present else {
            throw ParquetError("column \(leaf.name): a page holds \(stored) values where its levels say \(present)")
        }
        columns[c] = page
        entry[c] = 0
        valueIndex[c] = 0
    }

    @inline(__always)
    private func write(_ c: Int, _ i: Int, to out: ByteStorage) {
        columns.withUnsafeBufferPointer { Self.writeText(formats[c], $0[c].values, i, to: out) }
    }

    /// Value `i` of `values` as the text PostgreSQL reads for the format's column type.
    @inline(__always)
    static func writeText(_ format: ParquetCellFormat, _ values: ParquetValues, _ i: Int, to out: ByteStorage) {
        switch format {
        case .boolean:
            out.append(contentsOf: values.booleans[i] ? "true".utf8 : "false".utf8)
        case .signed:
            ParquetText.appendInt(values.ints[i], to: out)
        case .unsigned32:
            ParquetText.appendInt(Int64(UInt32(truncatingIfNeeded: values.ints[i])), to: out)
        case .unsigned64:
            ParquetText.appendUInt(UInt64(bitPattern: values.ints[i]), to: out)
        case .float:
            ParquetText.appendFloat(values.floats[i], to: out)
        case .double:
            ParquetText.appendDouble(values.doubles[i], to: out)
        case .float16:
            let r = values.range(i)
            let bits = UInt16(values.bytes[r.lowerBound]) | UInt16(values.bytes[r.lowerBound + 1]) << 8
            ParquetText.appendFloat(ParquetText.float16(bits), to: out)
        case .date:
            ParquetText.appendDate(days: values.ints[i], to: out)
        case .time(let unit):
            ParquetText.appendTimeOfDay(values.ints[i], unit: unit, to: out)
        case .timestamp(let unit, let utc):
            ParquetText.appendTimestamp(values.ints[i], unit: unit, utc: utc, to: out)
        case .int96:
            let r = values.range(i)
            var nanos: UInt64 = 0
            for k in 0..<8 { nanos |= UInt64(values.bytes[r.lowerBound + k]) << UInt64(8 * k) }
            var julian: UInt32 = 0
            for k in 0..<4 { julian |= UInt32(values.bytes[r.lowerBound + 8 + k]) << UInt32(8 * k) }
            ParquetText.appendDateTime(
                days: Int64(julian) - 2_440_588, timeOfDay: Int64(bitPattern: nanos), unit: .nanos, utc: true, to: out)
        case .decimalInteger(let scale):
            let (digits, negative) = ParquetText.decimalDigits(values.ints[i])
            ParquetText.appendDecimal(unscaled: digits, negative: negative, scale: scale, to: out)
        case .decimalBytes(let scale):
            let (digits, negative) = ParquetText.decimalDigits(bigEndian: values.bytes[values.range(i)])
            ParquetText.appendDecimal(unscaled: digits, negative: negative, scale: scale, to: out)
        case .text, .json:
            let r = values.range(i)
            if !r.isEmpty { values.bytes.withUnsafeBufferPointer { out.append($0.baseAddress! + r.lowerBound, count: r.count) } }
        case .uuid:
            ParquetText.appendUUID(values.bytes[values.range(i)], to: out)
        case .bytea:
            ParquetText.appendBytea(values.bytes[values.range(i)], to: out)
        }
    }
}
