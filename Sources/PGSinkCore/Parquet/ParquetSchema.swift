/// One leaf column of a Parquet schema: its path, physical type, annotation and the highest
/// definition and repetition levels its values can have.
public struct ParquetLeaf: Sendable {
    public var path: [String]
    public var element: ParquetSchemaElement
    public var maxDefinition: Int
    public var maxRepetition: Int
    /// The top-level field it belongs to (its own element when the schema is flat).
    public var topLevel: String { path[0] }
    public var name: String { path.joined(separator: ".") }
    public var physical: ParquetPhysicalType { element.type ?? .boolean }
}

/// The schema tree, flattened into leaves in file order (the order of a row group's column chunks).
public struct ParquetSchema: Sendable {
    public var leaves: [ParquetLeaf] = []
    /// Top-level fields that are groups or repeated (LIST, MAP, structs), by name.
    public var nestedFields: [String] = []
    /// The top-level fields as trees, in schema order.
    public var fields: [ParquetNode] = []

    public init(_ elements: [ParquetSchemaElement]) throws(ParquetError) {
        guard let root = elements.first else { throw ParquetError("the footer has an empty schema") }
        var index = 1
        for _ in 0..<root.childCount {
            fields.append(try walk(elements, &index, path: [], definition: 0, repetition: 0))
        }
        guard index == elements.count else {
            throw ParquetError("the schema's child counts do not match its \(elements.count) elements")
        }
    }

    private mutating func walk(
        _ elements: [ParquetSchemaElement], _ index: inout Int, path: [String], definition: Int, repetition: Int
    ) throws(ParquetError) -> ParquetNode {
        guard index < elements.count else { throw ParquetError("the schema's child counts run past its elements") }
        let element = elements[index]
        index += 1
        let definition = definition + (element.repetition == 0 ? 0 : 1)
        let repetition = repetition + (element.repetition == 2 ? 1 : 0)
        let path = path + [element.name]
        if path.count == 1 && (element.childCount > 0 || element.repetition == 2) { nestedFields.append(element.name) }
        var node = ParquetNode(element: element, definition: definition, repetition: repetition)
        if element.childCount > 0 || element.type == nil {
            for _ in 0..<element.childCount {
                node.children.append(try walk(elements, &index, path: path, definition: definition, repetition: repetition))
            }
            return node
        }
        guard definition < 256, repetition < 256 else { throw ParquetError("the schema nests deeper than 255 levels") }
        node.leaf = leaves.count
        leaves.append(ParquetLeaf(path: path, element: element, maxDefinition: definition, maxRepetition: repetition))
        return node
    }
}

/// A node of the schema tree: a group or a leaf, with the definition and repetition levels that
/// mean it is present (counting itself).
public struct ParquetNode: Sendable {
    public var element: ParquetSchemaElement
    public var definition: Int
    public var repetition: Int
    public var children: [ParquetNode] = []
    /// The leaf's index among the schema's leaves; nil for a group.
    public var leaf: Int?

    public var isRepeated: Bool { element.repetition == 2 }
    public var isNested: Bool { leaf == nil || isRepeated }

    /// The leaves under this node, in order.
    public var leafIndices: [Int] {
        if let leaf { return [leaf] }
        return children.flatMap(\.leafIndices)
    }

    /// A LIST's repeated child, and whether that child's one child is the element (the
    /// three-level form's middle group) or the child is the element itself (the legacy forms,
    /// which repeat the element, named `array` or `…_tuple` when it is a one-field group).
    var listForm: (repeated: ParquetNode, unwrap: Bool)? {
        guard element.annotation == .list, children.count == 1, children[0].isRepeated else { return nil }
        let repeated = children[0]
        let unwrap = repeated.leaf == nil && repeated.children.count == 1 && repeated.element.name != "array"
            && !repeated.element.name.hasSuffix("_tuple")
        return (repeated, unwrap)
    }

    /// A MAP's repeated key-value group.
    var mapPair: ParquetNode? {
        guard element.annotation == .map, children.count == 1, children[0].isRepeated, children[0].children.count == 2
        else { return nil }
        return children[0]
    }
}

extension ParquetSchemaElement {
    /// The annotation: the logical type, else the legacy converted type.
    public var annotation: ParquetLogicalType? {
        if let logicalType { return logicalType }
        guard let convertedType else { return nil }
        switch convertedType {
        case 0: return .string
        case 1, 2: return .map
        case 3: return .list
        case 4: return .enumeration
        case 5: return .decimal(precision: precision, scale: scale)
        case 6: return .date
        case 7: return .time(utc: true, unit: .millis)
        case 8: return .time(utc: true, unit: .micros)
        case 9: return .timestamp(utc: true, unit: .millis)
        case 10: return .timestamp(utc: true, unit: .micros)
        case 11: return .integer(bits: 8, signed: false)
        case 12: return .integer(bits: 16, signed: false)
        case 13: return .integer(bits: 32, signed: false)
        case 14: return .integer(bits: 64, signed: false)
        case 15: return .integer(bits: 8, signed: true)
        case 16: return .integer(bits: 16, signed: true)
        case 17: return .integer(bits: 32, signed: true)
        case 18: return .integer(bits: 64, signed: true)
        case 19: return .json
        case 20: return .bson
        case 21: return .unsupported("INTERVAL")
        default: return .unsupported("converted type \(convertedType)")
        }
    }
}
