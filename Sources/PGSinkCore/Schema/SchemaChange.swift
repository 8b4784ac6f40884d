/// One change the planner asks of a table, as a value: the writer runs its SQL and knows what it
/// is running (a widening that a view blocks gets its own explanation, a new table its own note).
public enum SchemaChange: Sendable, Equatable, CustomStringConvertible {
    case createTable(TableName, columns: [TargetColumn], primaryKey: [String])
    case addColumn(TableName, TargetColumn)
    case alterType(TableName, column: String, from: ColumnType, to: ColumnType)

    public var table: TableName {
        switch self {
        case .createTable(let table, _, _), .addColumn(let table, _), .alterType(let table, _, _, _): table
        }
    }

    public var sql: String {
        switch self {
        case .createTable(let table, let columns, let key): SQL.createTable(table, columns: columns, primaryKey: key)
        case .addColumn(let table, let column): SQL.addColumn(table, column)
        case .alterType(let table, let column, let from, let type): SQL.alterType(table, column: column, from: from, to: type)
        }
    }

    public var description: String { sql }
}
