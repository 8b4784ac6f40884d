import Logging
import PGSinkCore

/// What the server knows about a target table.
enum Catalog {
    /// Creates the schema when it is missing. `CREATE SCHEMA IF NOT EXISTS` alone would need
    /// CREATE on the database even when the schema exists, which a loader's user often lacks.
    static func ensureSchema(_ schema: String, on connection: PGConnection) throws {
        let exists = try connection.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]).rows.isEmpty == false
        if !exists { try createConcurrently(SQL.createSchema(schema), on: connection) }
    }

    /// Runs a CREATE … IF NOT EXISTS that another load may be running at the same moment: the
    /// loser of that race gets a unique violation once the winner commits, which means the
    /// object exists now. A savepoint keeps the load's transaction alive through it.
    /// Outside a transaction (a parallel load's setup) the statement fails alone and needs none.
    static func createConcurrently(_ sql: String, on connection: PGConnection) throws {
        try Transaction.savepoint("pgsink_create", on: connection, { _ = try connection.execute(sql) }) { error in
            guard ["23505", "42P06", "42P07", "42710"].contains(error.sqlState ?? "") else { throw error }
        }
    }

    /// The table's columns, or nil when there is no such table.
    static func columns(of table: TableName, on connection: PGConnection) throws -> [TargetColumn]? {
        guard let relkind = try kind(of: table, on: connection) else { return nil }
        guard relkind == "r" || relkind == "p" else {
            throw LoadError("\(table) exists but is not a table (relkind \(relkind)); choose another --table")
        }
        let sources = try columnSources(of: table, on: connection)
        return try connection.query(SQL.tableColumns, [table.schema, table.name]).rows.map {
            let name = $0[0] ?? ""
            return TargetColumn(
                name: name, type: ColumnType(parsing: $0[1] ?? "text"), source: sources[name], defaultExpression: $0[2])
        }
    }

    /// The source names recorded for a table's columns (`_pgsink_columns`), by column.
    static func columnSources(of table: TableName, on connection: PGConnection) throws -> [String: String] {
        let record = TableName(schema: table.schema, name: SQL.columnSourcesName)
        guard try kind(of: record, on: connection) != nil else { return [:] }
        let rows = try connection.query(SQL.readColumnSources(schema: table.schema), [table.quoted]).rows
        return Dictionary(rows.compactMap { row in row[0].flatMap { c in row[1].map { (c, $0) } } }, uniquingKeysWith: { a, _ in a })
    }

    /// Records the source names of columns a schema change made, after it ran.
    static func recordColumnSources(_ change: SchemaChange, on connection: PGConnection) throws {
        let table = change.table
        let columns: [TargetColumn]
        switch change {
        case .createTable(_, let all, _):
            columns = all
            if try kind(of: TableName(schema: table.schema, name: SQL.columnSourcesName), on: connection) != nil {
                try connection.query(SQL.clearColumnSources(schema: table.schema), [table.quoted])
            }
        case .addColumn(_, let column): columns = [column]
        case .alterType: return
        }
        let named = columns.compactMap { column in column.source.map { (column.name, $0) } }
        guard !named.isEmpty else { return }
        try createConcurrently(SQL.createColumnSources(schema: table.schema), on: connection)
        for (column, source) in named {
            try connection.query(SQL.recordColumnSource(schema: table.schema), [table.quoted, column, source])
        }
    }

    /// pg_class.relkind of the table (`r` table, `p` partitioned table), or nil when missing.
    static func kind(of table: TableName, on connection: PGConnection) throws -> String? {
        try connection.query(SQL.tableKind, [table.schema, table.name]).rows.first?.first ?? nil
    }

    struct Index {
        var columns: [String]
        var unique: Bool
        var primary: Bool
    }

    static func indexes(of table: TableName, on connection: PGConnection) throws -> [Index] {
        try connection.query(SQL.tableIndexes, [table.schema, table.name]).rows.map { row in
            Index(
                columns: (row[0] ?? "").split(separator: ",").map(String.init), unique: row[1] == "t",
                primary: row[2] == "t")
        }
    }

    /// Checks that an existing table can take rows keyed on `key` (as the table names the
    /// columns): a partitioned table's unique keys must contain its partition columns, a table's
    /// primary key is never changed, and a merge needs a unique index on exactly the key.
    static func checkKey(
        _ key: [String], of table: TableName, mode: LoadMode, switching: Bool = false, on connection: PGConnection,
        logger: Logger? = nil
    ) throws {
        let wanted = Set(key)
        if try kind(of: table, on: connection) == "p" {
            let partitionColumns = try connection.query(SQL.partitionKey, [table.schema, table.name]).rows.compactMap { $0[0] }
            let missing = partitionColumns.filter { !wanted.contains($0) }
            if mode == .merge && !missing.isEmpty {
                throw LoadError(
                    "\(table) is partitioned by (\(partitionColumns.joined(separator: ", "))), and --primary-key "
                        + "(\(key.joined(separator: ", "))) lacks \(missing.joined(separator: ", ")): PostgreSQL's unique "
                        + "indexes on a partitioned table must include the partition columns, so merge cannot find rows by "
                        + "this key. Use --primary-key \((key + missing).joined(separator: ","))")
            }
        }
        let indexes = try indexes(of: table, on: connection)
        if indexes.contains(where: { $0.unique && Set($0.columns) == wanted }) { return }
        if let primary = indexes.first(where: \.primary) {
            if switching {
                try switchPrimaryKey(of: table, from: primary.columns, to: key, on: connection)
                logger?.notice("\(table): primary key moved from (\(primary.columns.joined(separator: ", "))) to (\(key.joined(separator: ", ")))")
                return
            }
            throw LoadError(
                "\(table) has primary key (\(primary.columns.joined(separator: ", "))), and --primary-key asks for "
                    + "(\(key.joined(separator: ", "))); pgsink never drops or rebuilds a table to change its key. Load "
                    + "with --primary-key \(primary.columns.joined(separator: ",")), or add a unique index on the new key: "
                    + "CREATE UNIQUE INDEX ON \(table.quoted) (\(SQL.list(key)))")
        }
        guard mode == .merge else { return }
        throw LoadError(
            "\(table) has no primary key or unique index on (\(key.joined(separator: ", "))), which --mode merge "
                + "needs to find existing rows; create one, e.g. CREATE UNIQUE INDEX ON \(table.quoted) "
                + "(\(SQL.list(key)))")
    }

    /// Moves a table's primary key to `key` in the load's transaction, after checking that the new
    /// key holds for every row already there (no NULLs, no value twice); otherwise names the
    /// values that break it.
    static func switchPrimaryKey(of table: TableName, from old: [String], to key: [String], on connection: PGConnection) throws {
        let columns = try Self.columns(of: table, on: connection)?.map(\.name) ?? []
        let refused = "\(table) has primary key (\(old.joined(separator: ", "))), and the stream's key is now "
            + "(\(key.joined(separator: ", ")))"
        let missing = key.filter { !columns.contains($0) }
        guard missing.isEmpty else {
            throw LoadError(
                refused + ", but the table has no column \(missing.joined(separator: ", ")) yet; load the stream's "
                    + "records under the old key first, or add the column")
        }
        let list = SQL.list(key)
        let nulls = try connection.query(
            "SELECT count(*) FROM \(table.quoted) WHERE " + key.map { "\(quoteIdentifier($0)) IS NULL" }.joined(separator: " OR "),
            []
        ).rows.first?.first ?? "0"
        if let nulls, nulls != "0" {
            throw LoadError(
                refused + ", and \(Wording.count(Int(nulls) ?? 0, "row")) have no value for it; a primary key needs one in every row. Fill them, "
                    + "or keep the old key_properties")
        }
        let repeated = try connection.query(
            "SELECT concat_ws(', ', \(key.map { "\(quoteIdentifier($0))::text" }.joined(separator: ", "))), count(*) FROM "
                + "\(table.quoted) GROUP BY \(list) HAVING count(*) > 1 ORDER BY count(*) DESC LIMIT 3", []
        ).rows
        if !repeated.isEmpty {
            let values = repeated.map { "(\($0[0] ?? "")) \($0[1] ?? "?") times" }.joined(separator: "; ")
            throw LoadError(
                refused + ", which is not unique over the rows already there: \(values). pgsink never drops rows to "
                    + "change a key; remove the duplicates, or keep the old key_properties")
        }
        let name = try connection.query(
            "SELECT conname::text FROM pg_constraint WHERE conrelid = to_regclass($1) AND contype = 'p'", [table.quoted]
        ).rows.first?.first ?? nil
        guard let name else { return }
        try connection.execute(
            "ALTER TABLE \(table.quoted) DROP CONSTRAINT \(quoteIdentifier(name)), ADD PRIMARY KEY (\(list))")
    }

    /// The child tables of a `--nested tables` table that already exist, with their columns.
    static func childTables(of table: TableName, separator: String, on connection: PGConnection) throws
        -> [String: [TargetColumn]]
    {
        var result: [String: [TargetColumn]] = [:]
        for row in try connection.query(SQL.childTables, [table.schema, table.name + separator]).rows {
            guard let name = row[0] else { continue }
            result[name] = try columns(of: TableName(schema: table.schema, name: name), on: connection)
        }
        return result
    }

    // MARK: hidden tables

    /// The name of a parallel load's hidden table starts so: `_pgsink_parallel_<table>_<id>`.
    static let hiddenPrefix = "_pgsink_parallel_"

    /// Says on the hidden table what it is, and which backend's session owns it, so that a later
    /// load can tell a table left by a killed run from one a live load is filling.
    static func markHidden(_ hidden: TableName, of target: TableName, owner: Backend, on connection: PGConnection) throws {
        let note = "pgsink parallel load into \(target); pid=\(owner.pid); backend_start=\(owner.started); "
            + "dropped by the next load of that table once that backend is gone"
        try connection.execute("COMMENT ON TABLE \(hidden.quoted) IS \(SQL.literal(note))")
    }

    /// A server process, as pg_stat_activity names it.
    struct Backend {
        var pid: String
        var started: String
    }

    static func backend(of connection: PGConnection) throws -> Backend {
        let row = try connection.execute(
            "SELECT pg_backend_pid()::text, backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()")
        return Backend(pid: row.value(0, 0) ?? "0", started: row.value(0, 1) ?? "")
    }

    /// Drops the hidden tables of parallel loads into `table` whose backend is gone (a killed
    /// run's). Tables of live loads, and tables without pgsink's note, stay. Returns the names
    /// dropped and those a live load still fills.
    @discardableResult
    static func dropAbandonedHiddenTables(of table: TableName, on connection: PGConnection, logger: Logger) throws
        -> (dropped: [String], live: [String])
    {
        var dropped: [String] = []
        var live: [String] = []
        for row in try connection.query(SQL.hiddenTables, [table.schema, hiddenPrefix]).rows {
            guard let name = row[0], let note = row[1], note.hasPrefix("pgsink parallel load into \(table);"),
                let pid = field("pid", of: note), let started = field("backend_start", of: note)
            else { continue }
            if try connection.query(SQL.backendAlive, [pid, started]).rows.isEmpty == false {
                live.append(name)
                continue
            }
            let hidden = TableName(schema: table.schema, name: name)
            logger.warning("dropping \(hidden), the hidden table of a parallel load into \(table) whose run is gone")
            try connection.execute("DROP TABLE IF EXISTS \(hidden.quoted)")
            dropped.append(name)
        }
        return (dropped, live)
    }

    /// `value` of `key=value;` in a hidden table's note.
    private static func field(_ key: String, of note: String) -> String? {
        guard let range = note.range(of: key + "=") else { return nil }
        let value = note[range.upperBound...].prefix { $0 != ";" }
        return value.isEmpty ? nil : String(value)
    }
}
