/// A column of the target table.
public struct TargetColumn: Sendable, Equatable {
    public var name: String
    public var type: ColumnType

    public init(name: String, type: ColumnType) {
        self.name = name
        self.type = type
    }
}

/// A change of a column's type, reported in the summary.
public struct Widening: Sendable, Equatable {
    public var column: String
    public var from: ColumnType
    public var to: ColumnType
}
