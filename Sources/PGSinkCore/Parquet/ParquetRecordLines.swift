/// Parquet rows as JSON objects, one per line, for `--nested flatten|tables`: the JSON Lines
/// scanner reads them, so a Parquet file's groups, lists and maps become columns and child tables
/// by exactly the rules JSON input follows, and the types still come from the file's schema
/// (`ParquetRecordLayout`). Flat files, and `--nested jsonb`, never come here: they keep the
/// binary fast path of `ParquetRowGroupRows`.
public struct ParquetRecordLayout: Sendable {
    public let fields: [ParquetNode]
    public let nesting: Nesting
    /// Types by source name, for the top-level table's planner.
    public private(set) var rootTypes: [String: ColumnType] = [:]
    /// Types by source name per child table, by the child's path (keys joined with the separator,
    /// as `NestedLayout.Child.path`).
    public private(set) var childTypes: [String: [String: ColumnType]] = [:]
    /// `nesting` with the paths that must stay one jsonb cell added: MAPs (their keys are data,
    /// not columns) and JSON-annotated strings (their text is a document of its own).
    public private(set) var scannerNesting: Nesting

    private var separator: String { String(decoding: nesting.separator, as: UTF8.self) }

    public init(fields: [ParquetNode], leaves: [ParquetLeaf], nesting: Nesting) throws(ParquetError) {
        self.fields = fields
        self.nesting = nesting
        scannerNesting = nesting
        for field in fields {
            try declare(field, path: field.element.name, table: nil, depth: 0, leaves: leaves)
        }
        members = fields.map { plan($0, whole: $0.element.name, depth: 0) }
    }

    /// How a row's object is written, worked out once: each member's quoted key (with its colon),
    /// and either its flattened members or its node, written as one JSON value.
    struct Member: Sendable {
        let key: [UInt8]
        let node: ParquetNode
        let children: [Member]?
        /// An absent array that becomes a child table is left out of the object.
        let omitsNull: Bool
    }

    private(set) var members: [Member] = []

    private func plan(_ node: ParquetNode, whole: String, depth: Int) -> Member {
        let key = ByteStorage(capacity: 64)
        ParquetNestedJSON.appendKey(node.element.name, to: key)
        let children = flattens(node, whole: whole, depth: depth)
            ? node.children.map { plan($0, whole: whole + separator + $0.element.name, depth: depth + 1) } : nil
        return Member(
            key: Array(UnsafeBufferPointer(start: key.base, count: key.count)), node: node, children: children,
            omitsNull: becomesTable(node, whole: whole))
    }

    /// What a node is once its own repetition is set aside (a repeated node's instances are
    /// written as a list of such values).
    enum Shape { case leaf(Int), list(element: ParquetNode), map, group }

    static func shape(of node: ParquetNode) -> Shape {
        if let leaf = node.leaf { return .leaf(leaf) }
        if let (repeated, unwrap) = node.listForm {
            // As `ParquetNestedJSON` writes it: a repeated element itself stands for one instance.
            var element = unwrap ? repeated.children[0] : repeated
            if !unwrap { element.element.repetition = 0 }
            return .list(element: element)
        }
        return node.mapPair == nil ? .group : .map
    }

    /// Whether the node's JSON is an array (a LIST, or a legacy repeated field).
    static func isArray(_ node: ParquetNode) -> Bool {
        if node.isRepeated { return true }
        if case .list = shape(of: node) { return true }
        return false
    }

    /// The element of an array node: a LIST's element, or a repeated node's single instance.
    static func element(of node: ParquetNode) -> ParquetNode? {
        if node.isRepeated {
            var single = node
            single.element.repetition = 0
            return single
        }
        if case .list(let element) = shape(of: node) { return element }
        return nil
    }

    /// Whether the group at `whole` is written as `parent__child` members (else one jsonb cell).
    func flattens(_ node: ParquetNode, whole: String, depth: Int) -> Bool {
        guard !node.isRepeated, case .group = Self.shape(of: node) else { return false }
        return depth < nesting.flattenDepth && !scannerNesting.keepWhole.contains(Array(whole.utf8))
    }

    /// Whether the array at `whole` becomes a child table (else one jsonb cell).
    func becomesTable(_ node: ParquetNode, whole: String) -> Bool {
        Self.isArray(node) && nesting.layout != nil && !scannerNesting.keepWhole.contains(Array(whole.utf8))
    }

    /// Source names two fields declare with different types (a top-level `s__d` beside a group
    /// `s` with a member `d`): they get no declared type, so each column is inferred from its values.
    private var clashing: Set<String> = []

    private mutating func set(_ type: ColumnType, _ name: String, table: String?) {
        let key = (table ?? "") + "\u{0}" + name
        guard !clashing.contains(key) else { return }
        let earlier = table.map { childTypes[$0]?[name] } ?? rootTypes[name]
        if let earlier, earlier != type {
            clashing.insert(key)
            if let table { childTypes[table]?[name] = nil } else { rootTypes[name] = nil }
            return
        }
        if let table { childTypes[table, default: [:]][name] = type } else { rootTypes[name] = type }
    }

    private mutating func keepWhole(_ whole: String) {
        scannerNesting.keepWhole.insert(Array(whole.utf8))
    }

    /// Declares the columns `node` becomes, under the name `path` in `table` (nil: the top level),
    /// `depth` object levels below the table's rows.
    private mutating func declare(
        _ node: ParquetNode, path: String, table: String?, depth: Int, leaves: [ParquetLeaf]
    ) throws(ParquetError) {
        let whole = table.map { $0 + separator + path } ?? path
        if Self.isArray(node) {
            guard becomesTable(node, whole: whole), let element = Self.element(of: node) else {
                return set(.jsonb, path, table: table)
            }
            return try declareElement(element, table: whole, leaves: leaves)
        }
        switch Self.shape(of: node) {
        case .leaf(let leaf):
            let (format, type) = try ParquetCellFormat.of(leaves[leaf])
            if format == .json { keepWhole(whole) }
            set(type, path, table: table)
        case .map:
            keepWhole(whole)
            set(.jsonb, path, table: table)
        case .list:
            return  // an array, above
        case .group:
            guard flattens(node, whole: whole, depth: depth) else { return set(.jsonb, path, table: table) }
            for child in node.children {
                try declare(
                    child, path: path + separator + child.element.name, table: table, depth: depth + 1, leaves: leaves)
            }
        }
    }

    /// A child table's columns: an element group's members, or one `value` column.
    private mutating func declareElement(_ element: ParquetNode, table: String, leaves: [ParquetLeaf]) throws(ParquetError) {
        if case .group = Self.shape(of: element), !element.isRepeated {
            for child in element.children {
                try declare(child, path: child.element.name, table: table, depth: 0, leaves: leaves)
            }
            return
        }
        if case .leaf(let leaf) = Self.shape(of: element), !element.isRepeated {
            set(try ParquetCellFormat.of(leaves[leaf]).1, "value", table: table)
            return
        }
        if Self.isArray(element) { set(.jsonb, "value", table: table) }
        // A MAP element is an object: its keys become the child table's columns, as a JSON object's would.
    }
}

/// The rows of one row group as JSON object lines (see `ParquetRecordLayout`). Every leaf the
/// fields use is decoded whole.
public struct ParquetRecordLines {
    let layout: ParquetRecordLayout
    let json: ParquetNestedJSON
    public let rowCount: Int
    public private(set) var row = 0

    public init(
        layout: ParquetRecordLayout, leaves: [ParquetLeaf], formats: [ParquetCellFormat], columns: [ParquetColumnData],
        rowCount: Int
    ) throws(ParquetError) {
        for index in Set(layout.fields.flatMap(\.leafIndices)) {
            try ParquetRowGroupRows.check(columns[index], leaves[index], rowCount: rowCount)
        }
        self.layout = layout
        self.rowCount = rowCount
        json = try ParquetNestedJSON(
            leaves: leaves, formats: formats, columns: columns, nested: layout.fields, rowCount: rowCount)
    }

    public var isDone: Bool { row >= rowCount }

    /// Appends rows, each a JSON object and a newline, until `out` holds `maxBytes` bytes or the
    /// group ends.
    public mutating func write(to out: ByteStorage, maxBytes: Int) {
        while row < rowCount && out.count < maxBytes {
            write(layout.members, to: out)
            out.append(10)
            row += 1
        }
    }

    /// An object of the current row's `members`. A flattened group is written member by member
    /// even when absent (its columns then hold NULL), so the table's columns follow the schema
    /// rather than the data; an absent array that becomes a child table is left out (it has no rows).
    private func write(_ members: [ParquetRecordLayout.Member], to out: ByteStorage) {
        out.append(123)
        var first = true
        for member in members {
            let start = out.count
            if !first { out.append(44) }
            member.key.withUnsafeBufferPointer { out.append($0.baseAddress!, count: $0.count) }
            if let children = member.children {
                write(children, to: out)
            } else {
                let value = out.count
                json.write(member.node, row: row, to: out)
                if member.omitsNull && out.count - value == 4 && out.base[value] == 110 {
                    out.count = start
                    continue
                }
            }
            first = false
        }
        out.append(125)
    }
}
