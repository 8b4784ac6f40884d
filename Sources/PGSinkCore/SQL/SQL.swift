/// SQL text for every statement pgsink runs. Names enter only through `quoteIdentifier`;
/// values never enter at all (they travel as COPY data or bound parameters).
public enum SQL {
    public static func createSchema(_ schema: String) -> String {
        "CREATE SCHEMA IF NOT EXISTS \(quoteIdentifier(schema))"
    }

    public static func createTable(_ table: TableName, columns: [TargetColumn], primaryKey: [String]) -> String {
        var parts = columns.map { "\(quoteIdentifier($0.name)) \($0.type.sqlName)" }
        if !primaryKey.isEmpty { parts.append("PRIMARY KEY (\(list(primaryKey)))") }
        return "CREATE TABLE \(table.quoted) (\(parts.joined(separator: ", ")))"
    }

    public static func addColumn(_ table: TableName, _ column: TargetColumn) -> String {
        "ALTER TABLE \(table.quoted) ADD COLUMN \(quoteIdentifier(column.name)) \(column.type.sqlName)"
    }

    public static func alterType(_ table: TableName, column: String, to type: ColumnType) -> String {
        let name = quoteIdentifier(column)
        return "ALTER TABLE \(table.quoted) ALTER COLUMN \(name) TYPE \(type.sqlName) USING \(name)::\(type.sqlName)"
    }

    public static func copy(_ table: TableName, columns: [String], format: CopyFormat) -> String {
        "COPY \(table.quoted) (\(list(columns))) FROM STDIN (FORMAT \(format.rawValue))"
    }

    public static func list(_ names: [String]) -> String {
        names.map(quoteIdentifier).joined(separator: ", ")
    }

    // MARK: merge

    /// The staging table a merge batch is copied into: the target's column types, no constraints,
    /// plus the load order of each row.
    public static func createStage(_ stage: String, like table: TableName, columns: [String]) -> String {
        "CREATE TEMP TABLE \(quoteIdentifier(stage)) ON COMMIT DROP AS SELECT \(list(columns)), "
            + "NULL::bigint AS \(quoteIdentifier(sequenceColumn)) FROM \(table.quoted) WITH NO DATA"
    }

    public static let sequenceColumn = "_pgsink_seq"

    /// Room for a batch's staging table and its sort, for this transaction only.
    public static let mergeSessionSettings = "SET LOCAL work_mem = '64MB'"

    /// Upserts a staging table into the target. With `deduplicate`, the last row for each key
    /// wins (a sort the caller skips when it knows the keys are distinct). A row whose values
    /// are all unchanged is left alone, so re-merging the same data writes nothing.
    public static func mergeFromStage(
        _ stage: String, into table: TableName, columns: [CopyColumn], key: [String], deduplicate: Bool
    ) -> String {
        let names = columns.map(\.name)
        let updated = columns.filter { !key.contains($0.name) }
        let selection =
            deduplicate
            ? "SELECT DISTINCT ON (\(list(key))) \(list(names)) FROM \(quoteIdentifier(stage)) "
                + "ORDER BY \(list(key)), \(quoteIdentifier(sequenceColumn)) DESC"
            : "SELECT \(list(names)) FROM \(quoteIdentifier(stage))"
        let action: String
        if updated.isEmpty {
            action = "DO NOTHING"
        } else {
            let sets = updated.map { "\(quoteIdentifier($0.name)) = EXCLUDED.\(quoteIdentifier($0.name))" }
            let changed = updated.map { column in
                // Types without an equality operator (json, most unknown types) compare as text.
                let cast = column.type.hasEquality ? "" : "::text"
                let name = quoteIdentifier(column.name)
                return "t.\(name)\(cast) IS DISTINCT FROM EXCLUDED.\(name)\(cast)"
            }
            action = "DO UPDATE SET \(sets.joined(separator: ", ")) WHERE \(changed.joined(separator: " OR "))"
        }
        return "INSERT INTO \(table.quoted) AS t (\(list(names))) \(selection) ON CONFLICT (\(list(key))) \(action)"
    }

    public static func rename(_ table: TableName, to name: String) -> String {
        "ALTER TABLE \(table.quoted) RENAME TO \(quoteIdentifier(name))"
    }

    public static func dropTable(_ name: String) -> String { "DROP TABLE IF EXISTS \(quoteIdentifier(name))" }

    public static func deleteAll(_ table: TableName) -> String { "DELETE FROM \(table.quoted)" }

    public static func truncate(_ table: TableName) -> String { "TRUNCATE \(table.quoted)" }

    // MARK: catalog

    /// Columns of a table with their declared types, in order. Parameters: schema, table.
    public static let tableColumns = """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod)
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """

    /// Whether the table exists and its kind. Parameters: schema, table.
    public static let tableKind = """
        SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = $2
        """

    /// The column sets of a table's unique indexes (primary key included), one row per index
    /// as a comma-separated list. Parameters: schema, table.
    public static let uniqueKeys = """
        SELECT string_agg(a.attname, ',' ORDER BY k.ord)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
        WHERE n.nspname = $1 AND c.relname = $2 AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
        GROUP BY i.indexrelid
        """

    // MARK: ledger

    public static let ledgerName = "_pgsink_loads"

    public static func createLedger(schema: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(quoteIdentifier(schema)).\(quoteIdentifier(ledgerName)) (
            id bigserial PRIMARY KEY,
            table_name text NOT NULL,
            mode text NOT NULL,
            source text NOT NULL,
            fingerprint text NOT NULL,
            rows bigint NOT NULL,
            started_at timestamptz NOT NULL,
            finished_at timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """
    }

    /// The latest earlier load of the same data into the same table that a new append would
    /// duplicate: one not undone by a later replace of other data. Parameters: table, fingerprint.
    public static func earlierLoad(schema: String) -> String {
        let ledger = quoteIdentifier(schema) + "." + quoteIdentifier(ledgerName)
        return """
            SELECT id, mode, to_char(finished_at, 'YYYY-MM-DD HH24:MI:SS TZ') FROM \(ledger)
            WHERE table_name = $1 AND fingerprint = $2
              AND id > COALESCE((SELECT max(id) FROM \(ledger)
                                 WHERE table_name = $1 AND mode = 'replace' AND fingerprint <> $2), 0)
            ORDER BY id DESC LIMIT 1
            """
    }

    /// Records a load. Parameters: table, mode, source, fingerprint, rows, started_at.
    public static func recordLoad(schema: String) -> String {
        let ledger = quoteIdentifier(schema) + "." + quoteIdentifier(ledgerName)
        return """
            INSERT INTO \(ledger) (table_name, mode, source, fingerprint, rows, started_at)
            VALUES ($1, $2, $3, $4, $5::bigint, $6::timestamptz) RETURNING id
            """
    }

    /// Serializes loads into one table, for the length of the transaction. Parameter: the table.
    public static let lockTable = "SELECT pg_advisory_xact_lock(hashtext($1))"
}
