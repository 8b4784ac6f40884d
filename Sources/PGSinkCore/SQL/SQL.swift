/// SQL text for every statement pgsink runs. Names enter only through `quoteIdentifier`;
/// values never enter at all (they travel as COPY data or bound parameters).
public enum SQL {
    public static func createSchema(_ schema: String) -> String {
        "CREATE SCHEMA IF NOT EXISTS \(quoteIdentifier(schema))"
    }

    public static func createTable(_ table: TableName, columns: [TargetColumn], primaryKey: [String]) -> String {
        var parts = columns.map { definition(of: $0) }
        if !primaryKey.isEmpty { parts.append("PRIMARY KEY (\(list(primaryKey)))") }
        return "CREATE TABLE \(table.quoted) (\(parts.joined(separator: ", ")))"
    }

    public static func addPrimaryKey(_ table: TableName, _ key: [String]) -> String {
        "ALTER TABLE \(table.quoted) ADD PRIMARY KEY (\(list(key)))"
    }

    /// Of rows that share a key, all but the last written go: for a table this transaction
    /// created and only appended to, physical order (ctid) is the order of writing.
    public static func deleteEarlierDuplicates(_ table: TableName, _ key: [String]) -> String {
        """
        DELETE FROM \(table.quoted) WHERE ctid IN (SELECT ctid FROM (SELECT ctid, row_number() OVER \
        (PARTITION BY \(list(key)) ORDER BY ctid DESC) AS n FROM \(table.quoted)) AS d WHERE d.n > 1)
        """
    }

    public static func addColumn(_ table: TableName, _ column: TargetColumn) -> String {
        "ALTER TABLE \(table.quoted) ADD COLUMN \(definition(of: column))"
    }

    /// `name type [DEFAULT expression]`.
    static func definition(of column: TargetColumn) -> String {
        "\(quoteIdentifier(column.name)) \(column.type.sqlName)" + (column.defaultExpression.map { " DEFAULT \($0)" } ?? "")
    }

    /// Sets a server setting until the end of the transaction. Parameters: name, value.
    public static let setLocal = "SELECT set_config($1, $2, true)"

    public static func alterType(_ table: TableName, column: String, from: ColumnType? = nil, to type: ColumnType) -> String {
        let name = quoteIdentifier(column)
        return "ALTER TABLE \(table.quoted) ALTER COLUMN \(name) TYPE \(type.sqlName) USING "
            + ((type == .text ? from.flatMap { timeAsText(name, $0) } : nil) ?? "\(name)::\(type.sqlName)")
    }

    /// A time column's values as text in the form later values get too (`ISOTime.textForm`):
    /// `2024-01-04T08:00:00Z`, not the session's `2024-01-04 08:00:00+00`.
    static func timeAsText(_ name: String, _ from: ColumnType) -> String? {
        let pattern: String
        switch from {
        case .date: return "CASE WHEN isfinite(\(name)) THEN to_char(\(name), 'YYYY-MM-DD') ELSE \(name)::text END"
        case .timestamp: pattern = "to_char(\(name), 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
        case .timestamptz: pattern = "to_char(\(name) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
        default: return nil
        }
        let zone = from == .timestamptz ? " || 'Z'" : ""
        return "CASE WHEN isfinite(\(name)) THEN regexp_replace(\(pattern), '\\.?0+$', '')\(zone) ELSE \(name)::text END"
    }

    public static func copy(_ table: TableName, columns: [String], format: CopyFormat) -> String {
        "COPY \(table.quoted) (\(list(columns))) FROM STDIN (FORMAT \(format.rawValue))"
    }

    /// `a.k1 = b.k1 AND a.k2 = b.k2 …`: rows of two aliases with the same key.
    static func sameKey(_ key: [String], _ a: String, _ b: String) -> String {
        key.map { "\(a).\(quoteIdentifier($0)) = \(b).\(quoteIdentifier($0))" }.joined(separator: " AND ")
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

    /// Room for a batch's staging table and its sort, and for the sort of a deferred primary key's
    /// index build (a new table keyed at the end: in memory rather than spilled), for this
    /// transaction only.
    public static let mergeSessionSettings =
        "SET LOCAL work_mem = '64MB'; SET LOCAL maintenance_work_mem = '256MB'; SET LOCAL jit = off"

    /// Upserts a staging table into the target. With `deduplicate`, the last row for each key
    /// wins (a sort the caller skips when it knows the keys are distinct). A row whose values
    /// are all unchanged is left alone, so re-merging the same data writes nothing.
    ///
    /// With `newestBy` (Airbyte's cursor, then extraction time), the newest record of a key wins
    /// rather than the last, and an existing row is replaced only by a newer one.
    ///
    /// With `keepsNonNull`, a NULL never replaces a value: each column takes its latest non-null
    /// value among the key's rows, and a stored value stays where the batch has none.
    public static func mergeFromStage(
        _ stage: TableName, into table: TableName, columns: [CopyColumn], key: [String], deduplicate: Bool,
        ignoredForChange: Set<String> = [], newestBy: [String] = [], keepsNonNull: Bool = false
    ) -> String {
        let names = columns.map(\.name)
        let updated = columns.filter { !key.contains($0.name) }
        let compared = updated.filter { !ignoredForChange.contains($0.name) }
        let newest = newestBy.map { "\(quoteIdentifier($0)) DESC NULLS LAST, " }.joined()
        let seq = quoteIdentifier(sequenceColumn)
        let selection: String
        if deduplicate && keepsNonNull {
            // Each column's latest value that is not NULL, per key.
            let latest = names.map { name in
                let c = quoteIdentifier(name)
                return key.contains(name) ? c : "(array_agg(\(c) ORDER BY \(newest)\(seq) DESC) FILTER (WHERE \(c) IS NOT NULL))[1] AS \(c)"
            }
            selection = "SELECT \(latest.joined(separator: ", ")) FROM \(stage.quoted) GROUP BY \(list(key))"
        } else if deduplicate {
            selection = "SELECT DISTINCT ON (\(list(key))) \(list(names)) FROM \(stage.quoted) "
                + "ORDER BY \(list(key)), \(newest)\(seq) DESC"
        } else {
            selection = "SELECT \(list(names)) FROM \(stage.quoted)"
        }
        // keepsNonNull: a NULL keeps the stored value (RudderStack's users table: latest non-null traits).
        func incoming(_ name: String) -> String {
            let c = quoteIdentifier(name)
            return keepsNonNull ? "COALESCE(EXCLUDED.\(c), t.\(c))" : "EXCLUDED.\(c)"
        }
        let action: String
        if compared.isEmpty {
            action = "DO NOTHING"
        } else {
            let sets = updated.map { "\(quoteIdentifier($0.name)) = \(incoming($0.name))" }
            let changed = compared.map { column in
                // Types without an equality operator (json, most unknown types) compare as text.
                let cast = column.type.hasEquality ? "" : "::text"
                let name = quoteIdentifier(column.name)
                return "t.\(name)\(cast) IS DISTINCT FROM \(incoming(column.name))\(cast)"
            }
            let condition = "(" + changed.joined(separator: " OR ") + ")"
            let guarded = newestBy.isEmpty ? condition : condition + " AND " + newer(newestBy)
            action = "DO UPDATE SET \(sets.joined(separator: ", ")) WHERE \(guarded)"
        }
        return "INSERT INTO \(table.quoted) AS t (\(list(names))) \(selection) ON CONFLICT (\(list(key))) \(action)"
    }

    /// Whether the incoming row (EXCLUDED) is newer than the stored one (t) by `columns`, in order;
    /// a value beats NULL, and equal values defer to the next column.
    static func newer(_ columns: [String]) -> String {
        guard let first = columns.first else { return "false" }
        let c = quoteIdentifier(first)
        let rest = newer(Array(columns.dropFirst()))
        return "(t.\(c) < EXCLUDED.\(c) OR (t.\(c) IS NULL AND EXCLUDED.\(c) IS NOT NULL) OR "
            + "(t.\(c) IS NOT DISTINCT FROM EXCLUDED.\(c) AND \(rest)))"
    }

    /// Deletes the child rows of the records a merge batch brings again (found by key in the
    /// target), before the merge writes them: their lists are replaced whole.
    public static func deleteChildren(
        of table: TableName, child: TableName, stage: String, key: [String]
    ) -> String {
        "DELETE FROM \(child.quoted) WHERE \(quoteIdentifier(rootIdColumn)) IN (SELECT t.\(quoteIdentifier(rowIdColumn)) "
            + "FROM \(table.quoted) t JOIN \(quoteIdentifier(stage)) s ON \(sameKey(key, "t", "s")))"
    }

    // MARK: bookkeeping columns

    public static let rowIdColumn = "_pgsink_id"
    public static let parentIdColumn = "_pgsink_parent_id"
    public static let rootIdColumn = "_pgsink_root_id"
    public static let listIndexColumn = "_pgsink_list_idx"
    public static let loadIdColumn = "_pgsink_load_id"
    public static let loadedAtColumn = "_pgsink_loaded_at"
    public static let sourceColumn = "_pgsink_source"
    public static let syncedAtColumn = "_pgsink_synced_at"

    /// Rows of the same source that the current sync did not write. Parameters: source, sync time.
    public static func deleteStale(_ table: TableName) -> String {
        "DELETE FROM \(table.quoted) WHERE \(quoteIdentifier(sourceColumn)) = $1 "
            + "AND \(quoteIdentifier(syncedAtColumn)) IS DISTINCT FROM $2::timestamptz"
    }

    /// The child rows of stale top-level rows (deleted before them). Parameters: source, sync time.
    public static func deleteStaleChildren(_ child: TableName, root: TableName) -> String {
        "DELETE FROM \(child.quoted) c USING \(root.quoted) r WHERE c.\(quoteIdentifier(rootIdColumn)) = "
            + "r.\(quoteIdentifier(rowIdColumn)) AND r.\(quoteIdentifier(sourceColumn)) = $1 "
            + "AND r.\(quoteIdentifier(syncedAtColumn)) IS DISTINCT FROM $2::timestamptz"
    }

    // MARK: indexes

    public static func createIndex(_ name: String, on table: TableName, columns: [String], unique: Bool) -> String {
        "CREATE \(unique ? "UNIQUE " : "")INDEX \(quoteIdentifier(name)) ON \(table.quoted) (\(list(columns)))"
    }

    /// Every index of a table: its column list (comma-separated) and whether it is unique.
    /// Parameters: schema, table.
    public static let tableIndexes = """
        SELECT string_agg(a.attname, ',' ORDER BY k.ord), bool_and(i.indisunique), bool_and(i.indisprimary)
        FROM pg_index i
        JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
        WHERE n.nspname = $1 AND c.relname = $2 AND i.indpred IS NULL AND i.indexprs IS NULL
        GROUP BY i.indexrelid
        """

    /// Whether a relation of that name exists in the schema. Parameters: schema, name.
    public static let relationExists = """
        SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2
        """

    /// The columns a partitioned table is partitioned by, in order. Parameters: schema, table.
    public static let partitionKey = """
        SELECT a.attname FROM pg_partitioned_table p
        JOIN pg_class c ON c.oid = p.partrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL unnest(p.partattrs) WITH ORDINALITY AS k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
        WHERE n.nspname = $1 AND c.relname = $2
        ORDER BY k.ord
        """

    /// Tables of a schema whose name starts with a prefix and that have a `_pgsink_root_id`
    /// column: the child tables of a `--nested tables` table. Parameters: schema, prefix.
    public static let childTables = """
        SELECT c.relname FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = '_pgsink_root_id' AND NOT a.attisdropped
        WHERE n.nspname = $1 AND starts_with(c.relname, $2) AND c.relkind IN ('r', 'p')
        ORDER BY c.relname
        """

    // MARK: Singer

    /// ACTIVATE_VERSION, hard: rows of older versions (or none) go. Parameter: the version.
    public static func deleteOlderVersions(_ table: TableName) -> String {
        "DELETE FROM \(table.quoted) WHERE _sdc_table_version IS NULL OR _sdc_table_version < $1::bigint"
    }

    /// ACTIVATE_VERSION, soft: rows of older versions are marked once. Parameter: the version.
    public static func softDeleteOlderVersions(_ table: TableName) -> String {
        "UPDATE \(table.quoted) SET _sdc_deleted_at = now() WHERE (_sdc_table_version IS NULL OR "
            + "_sdc_table_version < $1::bigint) AND _sdc_deleted_at IS NULL"
    }

    /// hard_delete: records that arrived with `_sdc_deleted_at` delete their key.
    public static func deleteMarked(_ table: TableName) -> String {
        "DELETE FROM \(table.quoted) WHERE _sdc_deleted_at IS NOT NULL"
    }

    /// Airbyte CDC, hard delete: rows whose latest change is a delete go.
    public static func deleteCDCDeleted(_ table: TableName) -> String {
        "DELETE FROM \(table.quoted) WHERE _ab_cdc_deleted_at IS NOT NULL"
    }

    /// Airbyte refresh: rows of generations before the minimum. Parameter: the minimum.
    public static func deleteOlderGenerations(_ table: TableName) -> String {
        "DELETE FROM \(table.quoted) WHERE _airbyte_generation_id IS NULL OR _airbyte_generation_id < $1::bigint"
    }

    /// Whether the user may create tables in the schema (or the schema, when it is missing) and
    /// temporary tables. Parameter: the schema.
    public static let writePrivileges = """
        SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)
                    THEN has_schema_privilege($1, 'CREATE')
                    ELSE has_database_privilege(current_database(), 'CREATE') END,
               has_database_privilege(current_database(), 'TEMPORARY')
        """

    /// What `pgsink check` reads in one round trip. Parameters: the schema, the table (or NULL).
    /// Columns: database, CONNECT, schema exists, USAGE, CREATE on the schema, CREATE on the
    /// database, table exists, TEMPORARY, INSERT, SELECT, UPDATE, DELETE on the table, owns it.
    public static let checkPrivileges = """
        WITH s AS (SELECT oid FROM pg_namespace WHERE nspname = $1),
             t AS (SELECT c.oid, c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE n.nspname = $1 AND c.relname = $2::text)
        SELECT current_database(),
               has_database_privilege(current_database(), 'CONNECT'),
               EXISTS (SELECT 1 FROM s),
               (SELECT has_schema_privilege(s.oid, 'USAGE') FROM s),
               (SELECT has_schema_privilege(s.oid, 'CREATE') FROM s),
               has_database_privilege(current_database(), 'CREATE'),
               EXISTS (SELECT 1 FROM t),
               has_database_privilege(current_database(), 'TEMPORARY'),
               (SELECT has_table_privilege(t.oid, 'INSERT') FROM t),
               (SELECT has_table_privilege(t.oid, 'SELECT') FROM t),
               (SELECT has_table_privilege(t.oid, 'UPDATE') FROM t),
               (SELECT has_table_privilege(t.oid, 'DELETE') FROM t),
               (SELECT pg_has_role(t.relowner, 'USAGE') FROM t)
        """

    public static let stateName = "_pgsink_state"

    // MARK: tombstones

    /// Hard deletes a change feed remembers (`ChangeApplication.remembersDeletes`), in the
    /// table's schema: per table and key (its `ROW(…)::text`), the delete's position.
    public static let deletesName = "_pgsink_deletes"

    public static func deletesTable(schema: String) -> TableName { TableName(schema: schema, name: deletesName) }

    public static func createDeletes(schema: String) -> String {
        "CREATE TABLE IF NOT EXISTS \(own(deletesName, in: schema)) (table_name text NOT NULL, key text NOT NULL, "
            + "_pgsink_lsn bigint, _pgsink_source_ts timestamptz, deleted_at timestamptz NOT NULL DEFAULT clock_timestamp(), "
            + "PRIMARY KEY (table_name, key))"
    }

    /// Parameter: the table's name. Whether it has tombstones (the table of them must exist).
    public static func hasDeletes(schema: String) -> String {
        "SELECT EXISTS (SELECT 1 FROM \(own(deletesName, in: schema)) WHERE table_name = $1)::text"
    }

    /// Parameter: the table's name. A table made anew starts without tombstones.
    public static func forgetDeletes(schema: String) -> String {
        "DELETE FROM \(own(deletesName, in: schema)) WHERE table_name = $1"
    }

    public static func createStateTable(schema: String) -> String {
        "CREATE TABLE IF NOT EXISTS \(own(stateName, in: schema)) (id text PRIMARY KEY, "
            + "state jsonb NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())"
    }

    /// Parameters: id, state (JSON text).
    public static func saveState(schema: String) -> String {
        "INSERT INTO \(own(stateName, in: schema)) (id, state) VALUES ($1, $2::jsonb) "
            + "ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state, updated_at = clock_timestamp()"
    }

    // MARK: rejects

    public static let rejectsName = "_pgsink_rejects"

    public static func createRejects(schema: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(own(rejectsName, in: schema)) (
            id bigserial PRIMARY KEY,
            load_id bigint NOT NULL,
            table_name text NOT NULL,
            source text NOT NULL,
            line bigint,
            column_name text,
            value text,
            reason text NOT NULL,
            kind text NOT NULL,
            rejected_at timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """
    }

    public static func copyRejects(schema: String) -> String {
        "COPY \(own(rejectsName, in: schema)) "
            + "(load_id, table_name, source, line, column_name, value, reason, kind) FROM STDIN (FORMAT text)"
    }

    /// RudderStack's `rudder_discards`: values that could not be stored in their column.
    public static func createDiscards(_ table: TableName) -> String {
        "CREATE TABLE IF NOT EXISTS \(table.quoted) (table_name text, row_id text, column_name text, column_value text, "
            + "received_at timestamptz, uuid_ts timestamptz DEFAULT now(), reason text)"
    }

    public static func copyDiscards(_ table: TableName) -> String {
        "COPY \(table.quoted) (table_name, row_id, column_name, column_value, received_at, reason) FROM STDIN (FORMAT text)"
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
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
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

    /// One of pgsink's own tables (ledger, state, rejects, column sources) in `schema`, quoted.
    static func own(_ name: String, in schema: String) -> String { TableName(schema: schema, name: name).quoted }

    public static func createLedger(schema: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(own(ledgerName, in: schema)) (
            id bigserial PRIMARY KEY,
            table_name text NOT NULL,
            mode text NOT NULL,
            source text NOT NULL,
            fingerprint text NOT NULL,
            rows bigint NOT NULL,
            started_at timestamptz NOT NULL,
            finished_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            run_id text,
            files text[],
            table_oid oid
        )
        """
    }

    /// Whether a ledger has every column older pgsink versions did not make (one row when it has). Parameter: the schema.
    public static let ledgerIsCurrent = """
        SELECT 1 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = '\(ledgerName)' AND a.attname IN ('run_id', 'files', 'table_oid')
          AND NOT a.attisdropped HAVING count(*) = 3
        """

    /// Brings an older ledger up to date: run ids, then per-file fingerprints and the table's oid.
    public static func upgradeLedger(schema: String) -> String {
        "ALTER TABLE \(own(ledgerName, in: schema)) ADD COLUMN IF NOT EXISTS run_id text, "
            + "ADD COLUMN IF NOT EXISTS files text[], ADD COLUMN IF NOT EXISTS table_oid oid"
    }

    /// The load a run wrote, if it committed. Parameter: the run id.
    public static func loadOfRun(schema: String) -> String {
        "SELECT id, rows FROM \(own(ledgerName, in: schema)) WHERE run_id = $1"
    }

    /// The latest earlier load into this very table (its oid: a table dropped and created again
    /// starts afresh) of a file a new append would duplicate, one not undone by a later replace.
    /// Returns id, mode, finish time and the fingerprints it shares (space-separated). Parameters:
    /// table, the new load's file fingerprints (text[]), the quoted schema.table.
    public static func earlierLoad(schema: String) -> String {
        let ledger = own(ledgerName, in: schema)
        return """
            SELECT id, mode, to_char(finished_at, 'YYYY-MM-DD HH24:MI:SS TZ'),
                   array_to_string(ARRAY(SELECT f FROM unnest(files) f WHERE f = ANY($2::text[])), ' ')
            FROM \(ledger)
            WHERE table_name = $1 AND table_oid = to_regclass($3)::oid AND files && $2::text[]
              AND id >= COALESCE((SELECT max(id) FROM \(ledger)
                                  WHERE table_name = $1 AND table_oid = to_regclass($3)::oid AND mode = 'replace'), 0)
            ORDER BY id DESC LIMIT 1
            """
    }

    /// Records a load under the id reserved for it. Parameters: id, table, mode, source,
    /// fingerprint, rows, started_at, run id (or NULL), the files' fingerprints (text[]), the
    /// table (its oid is looked up).
    public static func recordLoad(schema: String) -> String {
        let ledger = own(ledgerName, in: schema)
        return """
            INSERT INTO \(ledger) (id, table_name, mode, source, fingerprint, rows, started_at, run_id, files, table_oid)
            VALUES ($1::bigint, $2, $3, $4, $5, $6::bigint, $7::timestamptz, $8, $9::text[], to_regclass($10)::oid)
            RETURNING id
            """
    }

    /// Takes the next load id from the ledger's sequence (rows and rejects carry it before the
    /// ledger row is written).
    public static func reserveLoadId(schema: String) -> String {
        let ledger = own(ledgerName, in: schema)
        return "SELECT nextval(pg_get_serial_sequence('\(ledger.replacing("'", with: "''"))', 'id'))"
    }

    /// Tables of a schema whose name starts with a prefix, with their comments. Parameters: schema, prefix.
    public static let hiddenTables = """
        SELECT c.relname::text, obj_description(c.oid, 'pg_class') FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r' AND starts_with(c.relname::text, $2)
        """

    /// Whether a backend still runs (a NULL start: another user's session we may not see). Parameters: pid, start.
    public static let backendAlive = """
        SELECT 1 FROM pg_stat_activity WHERE pid = $1::int AND (backend_start IS NULL OR backend_start = $2::timestamptz)
        """

    /// What keeps a column from changing type: views, CHECK constraints, foreign keys, expression
    /// or partial indexes, generated columns and partition keys that use it. Rows: kind, name,
    /// definition, column. Parameters: the quoted schema.table, the column (NULL: every column).
    public static let columnDependents = """
        WITH col AS (SELECT attrelid, attnum, attname FROM pg_attribute
                     WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped AND ($2::text IS NULL OR attname = $2))
        SELECT DISTINCT 'view', v.oid::regclass::text, NULL::text, col.attname::text FROM col
          JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.refobjid = col.attrelid AND d.refobjsubid = col.attnum
          JOIN pg_rewrite r ON r.oid = d.objid JOIN pg_class v ON v.oid = r.ev_class AND v.oid <> col.attrelid
        UNION ALL
        SELECT 'CHECK constraint', c.conname::text, pg_get_constraintdef(c.oid), col.attname::text FROM col
          JOIN pg_constraint c ON c.conrelid = col.attrelid AND c.contype = 'c' AND col.attnum = ANY(c.conkey)
        UNION ALL
        SELECT 'foreign key', c.conname::text, pg_get_constraintdef(c.oid), col.attname::text FROM col
          JOIN pg_constraint c ON c.contype = 'f' AND ((c.conrelid = col.attrelid AND col.attnum = ANY(c.conkey))
                                                    OR (c.confrelid = col.attrelid AND col.attnum = ANY(c.confkey)))
        UNION ALL
        SELECT 'index', i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), col.attname::text FROM col
          JOIN pg_index i ON i.indrelid = col.attrelid AND (i.indexprs IS NOT NULL OR i.indpred IS NOT NULL)
          WHERE EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid
                        AND d.refobjid = col.attrelid AND d.refobjsubid = col.attnum)
        UNION ALL
        SELECT 'generated column', a.attname::text, pg_get_expr(ad.adbin, ad.adrelid), col.attname::text FROM col
          JOIN pg_attrdef ad ON ad.adrelid = col.attrelid
          JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum AND a.attgenerated = 's'
          WHERE EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid
                        AND d.refobjid = col.attrelid AND d.refobjsubid = col.attnum)
        UNION ALL
        SELECT 'partition key', col.attrelid::regclass::text, pg_get_partkeydef(col.attrelid), col.attname::text FROM col
          JOIN pg_partitioned_table p ON p.partrelid = col.attrelid AND col.attnum = ANY(p.partattrs::int2[])
        """

    // MARK: column sources


    /// Which source name each column was made for, when the two differ (`ID` → `id`, `id` → `id_2`),
    /// so the same source lands in the same column in every later load. Keyed by the table's oid:
    /// a renamed table keeps its record, a table dropped and created again starts afresh.
    public static let columnSourcesName = "_pgsink_columns"

    public static func createColumnSources(schema: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(own(columnSourcesName, in: schema)) (
            table_oid oid NOT NULL,
            column_name text NOT NULL,
            source_name text NOT NULL,
            PRIMARY KEY (table_oid, column_name)
        )
        """
    }

    /// Column → source name of a table. Parameter: the quoted schema.table.
    public static func readColumnSources(schema: String) -> String {
        "SELECT column_name, source_name FROM \(own(columnSourcesName, in: schema)) "
            + "WHERE table_oid = to_regclass($1)::oid"
    }

    /// Forgets what an earlier table with the same oid recorded. Parameter: the quoted schema.table.
    public static func clearColumnSources(schema: String) -> String {
        "DELETE FROM \(own(columnSourcesName, in: schema)) WHERE table_oid = to_regclass($1)::oid"
    }

    /// Records a column's source name. Parameters: the quoted schema.table, column, source.
    public static func recordColumnSource(schema: String) -> String {
        "INSERT INTO \(own(columnSourcesName, in: schema)) (table_oid, column_name, source_name) "
            + "VALUES (to_regclass($1)::oid, $2, $3) "
            + "ON CONFLICT (table_oid, column_name) DO UPDATE SET source_name = EXCLUDED.source_name"
    }

    /// Strings as a text[] parameter value: `{"a","b\\"c"}`.
    public static func textArray(_ items: [String]) -> String {
        let quoted = items.map { item in
            "\"" + String(item.flatMap { $0 == "\\" || $0 == "\"" ? ["\\", $0] : [$0] }) + "\""
        }
        return "{" + quoted.joined(separator: ",") + "}"
    }

    /// A string as an SQL literal (for COMMENT, which takes no parameters).
    public static func literal(_ text: String) -> String {
        "'" + String(text.filter { $0 != "\0" }.flatMap { $0 == "'" ? ["'", "'"] : [$0] }) + "'"
    }

    /// Serializes loads into one table, for the length of the transaction. Parameter: the table.
    public static let lockTable = "SELECT pg_advisory_xact_lock(hashtext($1))"
}
