/// A column of the target table.
public struct TargetColumn: Sendable, Equatable {
    public var name: String
    public var type: ColumnType
    /// The source name the column was made for, when it differs from the column's name (recorded
    /// in `_pgsink_columns`): `ID` for a column `id`. The same source always lands in it again.
    public var source: String?
    /// The column's DEFAULT expression, as the catalog prints it (or as pgsink creates it).
    public var defaultExpression: String?

    public init(name: String, type: ColumnType, source: String? = nil, defaultExpression: String? = nil) {
        self.name = name
        self.type = type
        self.source = source
        self.defaultExpression = defaultExpression
    }

    /// The source name whose values this column holds.
    public var owner: String { source ?? name }
}

/// A change of a column's type, reported in the summary.
public struct Widening: Sendable, Equatable {
    public var column: String
    public var from: ColumnType
    public var to: ColumnType
}
