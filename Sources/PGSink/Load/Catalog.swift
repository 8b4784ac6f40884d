import PGSinkCore

/// What the server knows about a target table.
enum Catalog {
    /// The table's columns, or nil when there is no such table.
    static func columns(of table: TableName, on connection: PGConnection) throws -> [TargetColumn]? {
        let kind = try connection.query(SQL.tableKind, [table.schema, table.name])
        guard let relkind = kind.rows.first?.first ?? nil else { return nil }
        guard relkind == "r" || relkind == "p" else {
            throw LoadError("\(table) exists but is not a table (relkind \(relkind)); choose another --table")
        }
        return try connection.query(SQL.tableColumns, [table.schema, table.name]).rows.map {
            TargetColumn(name: $0[0] ?? "", type: ColumnType(parsing: $0[1] ?? "text"))
        }
    }

    /// Merge upserts with ON CONFLICT, which needs a unique index on exactly the key columns.
    static func requireUniqueIndex(on table: TableName, key: [String], _ connection: PGConnection) throws {
        let keys = try connection.query(SQL.uniqueKeys, [table.schema, table.name]).rows
        let wanted = Set(key)
        let found = keys.contains { row in Set((row[0] ?? "").split(separator: ",").map(String.init)) == wanted }
        guard found else {
            throw LoadError(
                "\(table) has no primary key or unique index on (\(key.joined(separator: ", "))), which --mode merge "
                    + "needs to find existing rows; create one, e.g. CREATE UNIQUE INDEX ON \(table.quoted) "
                    + "(\(SQL.list(key)))")
        }
    }
}
