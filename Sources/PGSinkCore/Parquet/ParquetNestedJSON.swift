/// Assembles nested top-level fields (LIST, MAP, groups, repeated fields) into JSON text for a
/// jsonb column, from their leaves' definition and repetition levels (the record shredding of
/// Dremel, undone): a LIST is a JSON array, a MAP an object keyed by its keys' text, a group an
/// object of its fields; an absent value at any level is `null`, an empty list `[]`.
struct ParquetNestedJSON {
    let leaves: [ParquetLeaf]
    let formats: [ParquetCellFormat]
    let columns: [ParquetColumnData]
    /// Per leaf of a nested field: the level entry each row starts at (and the end), and the
    /// value index of each entry (-1 where the entry is not a value).
    private var rowStarts: [Int: [Int]] = [:]
    private var valueAt: [Int: [Int32]] = [:]
    private let scratch = ByteStorage(capacity: 256)

    init(leaves: [ParquetLeaf], formats: [ParquetCellFormat], columns: [ParquetColumnData], nested: [ParquetNode],
         rowCount: Int) throws(ParquetError)
    {
        self.leaves = leaves
        self.formats = formats
        self.columns = columns
        for leaf in nested.flatMap(\.leafIndices) {
            let column = columns[leaf]
            let maxDefinition = UInt8(leaves[leaf].maxDefinition)
            var starts: [Int] = []
            var values: [Int32] = []
            starts.reserveCapacity(rowCount + 1)
            values.reserveCapacity(column.count)
            var next: Int32 = 0
            for k in 0..<column.count {
                if leaves[leaf].maxRepetition == 0 || column.repetitionLevels[k] == 0 { starts.append(k) }
                if leaves[leaf].maxDefinition == 0 || column.definitionLevels[k] == maxDefinition {
                    values.append(next)
                    next += 1
                } else {
                    values.append(-1)
                }
            }
            guard starts.count == rowCount else {
                throw ParquetError("column \(leaves[leaf].name) holds \(starts.count) rows in a row group of \(rowCount)")
            }
            starts.append(column.count)
            rowStarts[leaf] = starts
            valueAt[leaf] = values
        }
    }

    /// Writes row `row` of the top-level field `node` as JSON.
    func write(_ node: ParquetNode, row: Int, to out: ByteStorage) {
        var ranges: [Int: Range<Int>] = [:]
        for leaf in node.leafIndices {
            let starts = rowStarts[leaf]!
            ranges[leaf] = starts[row]..<starts[row + 1]
        }
        value(node, ranges, to: out)
    }

    private func definition(_ leaf: Int, _ k: Int) -> Int {
        leaves[leaf].maxDefinition == 0 ? 0 : Int(columns[leaf].definitionLevels[k])
    }

    /// A node's value: a list of its instances when it is repeated.
    private func value(_ node: ParquetNode, _ ranges: [Int: Range<Int>], to out: ByteStorage) {
        guard node.isRepeated else { return single(node, ranges, to: out) }
        out.append(91)
        for (n, instance) in instances(node, ranges).enumerated() {
            if n > 0 { out.append(44) }
            single(node, instance, to: out)
        }
        out.append(93)
    }

    /// The ranges of each instance of a repeated node within its parent's ranges.
    private func instances(_ node: ParquetNode, _ ranges: [Int: Range<Int>]) -> [[Int: Range<Int>]] {
        let leafIndices = node.leafIndices
        guard let first = leafIndices.first, let range = ranges[first], !range.isEmpty,
            definition(first, range.lowerBound) >= node.definition
        else { return [] }
        var result: [[Int: Range<Int>]] = []
        for leaf in leafIndices {
            let range = ranges[leaf]!
            var start = range.lowerBound
            var n = 0
            func add(_ r: Range<Int>) {
                if n == result.count { result.append([:]) }
                result[n][leaf] = r
                n += 1
            }
            for k in range.dropFirst() where Int(columns[leaf].repetitionLevels[k]) <= node.repetition {
                add(start..<k)
                start = k
            }
            add(start..<range.upperBound)
        }
        return result
    }

    /// One instance of a node: null when its definition level says it is absent.
    private func single(_ node: ParquetNode, _ ranges: [Int: Range<Int>], to out: ByteStorage) {
        let leafIndices = node.leafIndices
        guard let first = leafIndices.first, let range = ranges[first], !range.isEmpty,
            definition(first, range.lowerBound) >= node.definition
        else { return out.append(contentsOf: "null".utf8) }
        if let leaf = node.leaf {
            let index = valueAt[leaf]![range.lowerBound]
            guard index >= 0 else { return out.append(contentsOf: "null".utf8) }
            return scalar(leaf, Int(index), to: out)
        }
        if let (repeated, unwrap) = node.listForm {
            out.append(91)
            for (n, instance) in instances(repeated, ranges).enumerated() {
                if n > 0 { out.append(44) }
                if unwrap { value(repeated.children[0], instance, to: out) } else { single(repeated, instance, to: out) }
            }
            out.append(93)
        } else if let pair = node.mapPair {
            out.append(123)
            for (n, instance) in instances(pair, ranges).enumerated() {
                if n > 0 { out.append(44) }
                let key = ByteStorage(capacity: 64)
                value(pair.children[0], instance, to: key)
                if key.count > 0 && key.base[0] == 34 {
                    out.append(key.base, count: key.count)
                } else {
                    var nuls = 0
                    JSONText.appendQuoted(key.base, key.count, to: out, nuls: &nuls)
                }
                out.append(58)
                value(pair.children[1], instance, to: out)
            }
            out.append(125)
        } else {
            out.append(123)
            for (n, child) in node.children.enumerated() {
                if n > 0 { out.append(44) }
                Self.appendKey(child.element.name, to: out)
                value(child, ranges, to: out)
            }
            out.append(125)
        }
    }

    /// A field's name as a JSON object key, with its colon (an empty name is `""`).
    static func appendKey(_ name: String, to out: ByteStorage) {
        let bytes = Array(name.utf8)
        if bytes.isEmpty {
            out.append(contentsOf: "\"\"".utf8)
        } else {
            var nuls = 0
            bytes.withUnsafeBufferPointer { JSONText.appendQuoted($0.baseAddress!, $0.count, to: out, nuls: &nuls) }
        }
        out.append(58)
    }

    /// A leaf value as JSON: numbers and booleans as themselves, JSON as it is, the rest as strings
    /// of their PostgreSQL text.
    private func scalar(_ leaf: Int, _ i: Int, to out: ByteStorage) {
        let values = columns[leaf].values
        switch formats[leaf] {
        case .boolean, .signed, .unsigned32, .unsigned64, .decimalInteger, .decimalBytes:
            ParquetRowGroupRows.writeText(formats[leaf], values, i, to: out)
        case .float, .double, .float16:
            let start = out.count
            ParquetRowGroupRows.writeText(formats[leaf], values, i, to: out)
            let last = out.base[out.count - 1]
            if !(last >= 48 && last <= 57) {  // NaN, Infinity: not JSON numbers
                let text = Array(UnsafeBufferPointer(start: out.base + start, count: out.count - start))
                out.count = start
                out.append(34)
                out.append(contentsOf: text)
                out.append(34)
            }
        case .json:
            ParquetRowGroupRows.writeText(formats[leaf], values, i, to: out)
        default:
            scratch.count = 0
            ParquetRowGroupRows.writeText(formats[leaf], values, i, to: scratch)
            var nuls = 0
            JSONText.appendQuoted(scratch.base, scratch.count, to: out, nuls: &nuls)
        }
    }
}
