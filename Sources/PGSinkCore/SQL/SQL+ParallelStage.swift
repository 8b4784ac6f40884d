/// The SQL of a parallel load into an existing table (`Loader.runStaged`).
extension SQL {
    /// A staging table of one connection: the target's column types (no constraints, no
    /// defaults), unlogged because its rows only pass through; with `numbered`, the load order
    /// of each row too (a merge's last record wins across every connection's rows).
    public static func createParallelStage(_ stage: TableName, like table: TableName, columns: [String], numbered: Bool)
        -> String
    {
        let order = numbered ? ", NULL::bigint AS \(quoteIdentifier(sequenceColumn))" : ""
        return "CREATE UNLOGGED TABLE \(stage.quoted) AS SELECT \(list(columns))\(order) FROM \(table.quoted) WITH NO DATA"
    }

    /// The staging tables of every connection as one temporary view named `name`, which the
    /// final transaction reads as it would read one merge's staging table.
    public static func createStageView(_ name: String, over stages: [TableName], columns: [String]) -> String {
        "CREATE TEMP VIEW \(quoteIdentifier(name)) AS "
            + stages.map { "SELECT \(list(columns)) FROM \($0.quoted)" }.joined(separator: " UNION ALL ")
    }

    /// Unqualified: temporary relations come first in the search path, and Citus cannot drop a
    /// view named `pg_temp.…` ("schema pg_temp does not exist").
    public static func dropStageView(_ name: String) -> String { "DROP VIEW \(quoteIdentifier(name))" }

    /// Appends the rows of a staging table (or view) to the table.
    public static func insertFromStage(_ stage: TableName, into table: TableName, columns: [String]) -> String {
        "INSERT INTO \(table.quoted) (\(list(columns))) SELECT \(list(columns)) FROM \(stage.quoted)"
    }
}

extension SchemaChange {
    /// The same change made to another table (a staging table that mirrors the target).
    public func moved(to other: TableName) -> SchemaChange {
        switch self {
        case .createTable(_, let columns, let key): .createTable(other, columns: columns, primaryKey: key)
        case .addColumn(_, let column): .addColumn(other, column)
        case .alterType(_, let column, let from, let to): .alterType(other, column: column, from: from, to: to)
        }
    }
}

/// What `--jobs auto` reads of the server.
extension SQL {
    public static let parallelWorkerSettings =
        "SELECT current_setting('max_worker_processes'), current_setting('max_parallel_workers')"
}
