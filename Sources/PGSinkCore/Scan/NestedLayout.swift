/// How nested JSON is turned into columns and tables, for the JSON Lines scanner.
public struct Nesting: Sendable {
    /// Object levels flattened into `parent__child` columns (0: objects stay one jsonb cell).
    public var flattenDepth: Int
    /// Joins a key to its parent's name.
    public var separator: [UInt8]
    /// Source paths (keys joined with `separator`) kept whole as one jsonb cell.
    public var keepWhole: Set<[UInt8]>
    /// With a layout, arrays become rows of child tables instead of jsonb cells.
    public var layout: NestedLayout?

    public init(flattenDepth: Int = 0, separator: String = "__", keepWhole: [String] = [], layout: NestedLayout? = nil) {
        self.flattenDepth = flattenDepth
        self.separator = Array(separator.utf8)
        self.keepWhole = Set(keepWhole.map { Array($0.utf8) })
        self.layout = layout
    }

    public static let none = Nesting()
}

/// The child tables of a `--nested tables` load, in the order their arrays were first seen (a
/// parent always comes before its children), each with its own source columns.
public final class NestedLayout: @unchecked Sendable {
    public struct Child: Sendable {
        /// The parent's child index, or -1 for the top-level table.
        public let parent: Int
        /// The path of keys from the top-level record, joined with the separator.
        public let path: String
        public let columns: SourceColumns
    }

    public private(set) var children: [Child] = []
    private var byPath: [[UInt8]: Int] = [:]

    public init() {}

    /// The child table for the array at `path` under `parent`, created when first seen.
    public func child(parent: Int, path: [UInt8]) -> Int {
        if let index = byPath[path] { return index }
        let index = children.count
        children.append(Child(parent: parent, path: String(decoding: path, as: UTF8.self), columns: SourceColumns()))
        byPath[path] = index
        return index
    }
}
