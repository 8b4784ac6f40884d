/// The rows of one row group, written into record batches as the text of each value
/// (`ParquetCellFormat`), with NULL where a definition level says so. A flat column is decoded a
/// page at a time as its rows are written (`ParquetPageStream`, its current page read through a
/// `ParquetPageView`); a nested field's leaves are decoded whole and assembled into JSON (`ParquetNestedJSON`).
public struct ParquetRowGroupRows {
    public let leaves: [ParquetLeaf]
    let formats: [ParquetCellFormat]
    let slots: [Int]
    /// A nested leaf's whole chunk (a flat leaf's is empty: its current page is in `pages`).
    var columns: [ParquetColumnData]
    private let pages: ParquetPageBuffers
    /// Per leaf, the column type its values are written in binary COPY form as (nil: as text),
    /// for the batches written next (`canWrite(_:binaryAs:)`).
    public var binaryTypes: [ColumnType?]
    private var streams: [ParquetPageStream?]
    public let rowCount: Int
    /// The next row to write.
    public private(set) var row = 0

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
            try Self.check(column, leaf, rowCount: rowCount)
        }
        self.leaves = leaves
        self.fields = fields
        self.formats = formats
        self.slots = slots
        self.columns = columns
        self.rowCount = rowCount
        self.streams = streams
        self.binaryTypes = Array(repeating: nil, count: leaves.count)
        self.pages = ParquetPageBuffers(leaves: leaves.count)
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
        let formats = self.formats
        let pages = self.pages.views
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
                while pages[c].entry == pages[c].count { try nextPage(c) }
                let k = pages[c].entry
                pages[c].entry = k + 1
                let top = maxDefinition[c]
                if top > 0 && pages[c].levels[k] != top { continue }
                let i = pages[c].valueIndex
                pages[c].valueIndex = i + 1
                let page = pages[c]
                let start = out.count
                if let width = binary[c], Self.writeWire(formats[c], page, i, integers: width, to: out) {
                    batch.setCell(Cell(offset: UInt32(start), length: UInt32(out.count - start), kind: .wire), column: slots[f])
                    batch.carriesWire = true
                    continue
                }
                out.count = start
                Self.writeText(formats[c], page, i, to: out)
                batch.setCell(Cell(offset: UInt32(start), length: UInt32(out.count - start), kind: .quoted), column: slots[f])
            }
            batch.endRecord()
            row += 1
        }
        batch.scanned = out.count
    }

    /// Throws unless a column chunk decoded whole holds the values its levels say, and (when not
    /// repeated) one entry per row of its group: what a corrupt chunk shows as.
    static func check(_ column: ParquetColumnData, _ leaf: ParquetLeaf, rowCount: Int) throws(ParquetError) {
        let (stored, present) = valueCounts(column, leaf)
        guard stored == present else {
            throw ParquetError("column \(leaf.name) holds \(stored) values where its levels say \(present)")
        }
        if leaf.maxRepetition == 0 && column.count != rowCount {
            throw ParquetError("column \(leaf.name) has \(column.count) values in a row group of \(rowCount) rows")
        }
    }

    /// The values a decoded column (or page) holds, and how many its definition levels say are
    /// there: a corrupt count shows as the two differing.
    static func valueCounts(_ data: ParquetColumnData, _ leaf: ParquetLeaf) -> (stored: Int, present: Int) {
        let present = leaf.maxDefinition == 0
            ? data.count : data.definitionLevels.reduce(0) { $0 + ($1 == UInt8(leaf.maxDefinition) ? 1 : 0) }
        if let indices = data.dictionaryIndices { return (indices.count, present) }
        switch leaf.physical {
        case .boolean: return (data.values.booleans.count, present)
        case .int32, .int64: return (data.values.ints.count, present)
        case .float: return (data.values.floats.count, present)
        case .double: return (data.values.doubles.count, present)
        case .byteArray, .fixedLenByteArray, .int96: return (data.values.offsets.count - 1, present)
        }
    }

    /// Decodes flat leaf `c`'s next page and makes it the leaf's current one.
    private mutating func nextPage(_ c: Int) throws {
        let leaf = leaves[c]
        guard let page = try streams[c]?.next() else {
            throw ParquetError("column \(leaf.name) ends before row \(row) of its row group of \(rowCount) rows")
        }
        let (stored, present) = Self.valueCounts(page, leaf)
        guard stored == present else {
            throw ParquetError("column \(leaf.name): a page holds \(stored) values where its levels say \(present)")
        }
        pages.load(c, page, leaf.physical, dictionary: streams[c]?.dictionary)
    }

    /// Value `i` of `values` as the text PostgreSQL reads for the format's column type.
    @inline(__always)
    static func writeText(_ format: ParquetCellFormat, _ values: some ParquetValueSource, _ i: Int, to out: ByteStorage) {
        switch format {
        case .boolean:
            out.append(contentsOf: values.boolean(i) ? "true".utf8 : "false".utf8)
        case .signed:
            ParquetText.appendInt(values.int(i), to: out)
        case .unsigned32:
            ParquetText.appendInt(Int64(UInt32(truncatingIfNeeded: values.int(i))), to: out)
        case .unsigned64:
            ParquetText.appendUInt(UInt64(bitPattern: values.int(i)), to: out)
        case .float:
            ParquetText.appendFloat(values.float(i), to: out)
        case .double:
            ParquetText.appendDouble(values.double(i), to: out)
        case .float16:
            let bits = values.withBytes(i) { UInt16($0[0]) | UInt16($0[1]) << 8 }
            ParquetText.appendFloat(ParquetText.float16(bits), to: out)
        case .date:
            ParquetText.appendDate(days: values.int(i), to: out)
        case .time(let unit):
            ParquetText.appendTimeOfDay(values.int(i), unit: unit, to: out)
        case .timestamp(let unit, let utc):
            ParquetText.appendTimestamp(values.int(i), unit: unit, utc: utc, to: out)
        case .int96:
            let (nanos, julian) = values.withBytes(i) { b -> (UInt64, UInt32) in
                var nanos: UInt64 = 0
                for k in 0..<8 { nanos |= UInt64(b[k]) << UInt64(8 * k) }
                var julian: UInt32 = 0
                for k in 0..<4 { julian |= UInt32(b[8 + k]) << UInt32(8 * k) }
                return (nanos, julian)
            }
            ParquetText.appendDateTime(
                days: Int64(julian) - 2_440_588, timeOfDay: Int64(bitPattern: nanos), unit: .nanos, utc: true, to: out)
        case .decimalInteger(let scale):
            let (digits, negative) = ParquetText.decimalDigits(values.int(i))
            ParquetText.appendDecimal(unscaled: digits, negative: negative, scale: scale, to: out)
        case .decimalBytes(let scale):
            let (digits, negative) = ParquetText.decimalDigits(bigEndian: values.byteString(i))
            ParquetText.appendDecimal(unscaled: digits, negative: negative, scale: scale, to: out)
        case .text, .json:
            values.withBytes(i) { if !$0.isEmpty { out.append($0.baseAddress!, count: $0.count) } }
        case .uuid:
            ParquetText.appendUUID(values.byteString(i), to: out)
        case .bytea:
            ParquetText.appendBytea(values.byteString(i), to: out)
        }
    }
}
