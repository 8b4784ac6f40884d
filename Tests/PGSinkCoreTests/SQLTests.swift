import Testing

@testable import PGSinkCore

@Suite("SQL text")
struct SQLTests {
    static let table = TableName(schema: "s", name: "t")

    @Test func ddl() {
        #expect(SQL.createSchema("my\"schema") == "CREATE SCHEMA IF NOT EXISTS \"my\"\"schema\"")
        #expect(
            SQL.createTable(
                Self.table, columns: [TargetColumn(name: "a", type: .bigint), TargetColumn(name: "b c", type: .timestamptz)],
                primaryKey: ["a", "b c"])
                == "CREATE TABLE \"s\".\"t\" (\"a\" bigint, \"b c\" timestamp with time zone, PRIMARY KEY (\"a\", \"b c\"))")
        #expect(
            SQL.addColumn(Self.table, TargetColumn(name: "x", type: .double))
                == "ALTER TABLE \"s\".\"t\" ADD COLUMN \"x\" double precision")
        #expect(
            SQL.alterType(Self.table, column: "n", to: .numeric)
                == "ALTER TABLE \"s\".\"t\" ALTER COLUMN \"n\" TYPE numeric USING \"n\"::numeric")
        #expect(SQL.dropTable("st\"age") == "DROP TABLE IF EXISTS \"st\"\"age\"")
        #expect(SQL.truncate(Self.table) == "TRUNCATE \"s\".\"t\"")
        #expect(SQL.deleteAll(Self.table) == "DELETE FROM \"s\".\"t\"")
    }

    /// A `postgres` source's cursor reads: the column quoted, the stored value only ever a
    /// parameter or a setting of the transaction.
    @Test func pipelineCursor() {
        #expect(SQL.highestCursor("up\"dated", from: "\"s\".\"t\"") == "SELECT max(\"up\"\"dated\")::text FROM \"s\".\"t\"")
        #expect(
            SQL.cursorFilter("at", setting: "pgsink.cursor_0", type: "timestamp with time zone")
                == "\"at\" >= current_setting('pgsink.cursor_0')::timestamp with time zone")
        #expect(
            SQL.cursorLag("id", type: "bigint", from: "(select 1 id) q")
                == "SELECT max(\"id\")::text, (count(*) FILTER (WHERE $1::bigint IS NULL OR \"id\" > $1::bigint))::text FROM (select 1 id) q")
        #expect(SQL.eventsAfter(Self.table).hasSuffix("FROM \"s\".\"t\" WHERE id > $1"))
    }

    @Test func copy() {
        #expect(SQL.copy(Self.table, columns: ["a", "b"], format: .binary) == "COPY \"s\".\"t\" (\"a\", \"b\") FROM STDIN (FORMAT binary)")
        #expect(SQL.copy(Self.table, columns: ["a"], format: .text) == "COPY \"s\".\"t\" (\"a\") FROM STDIN (FORMAT text)")
    }

    static let stage = TableName(schema: "pg_temp", name: "stage")

    @Test func merge() {
        let columns = [
            CopyColumn(name: "k", type: .bigint, source: 0, required: true),
            CopyColumn(name: "v", type: .text, source: 1), CopyColumn(name: "w", type: .json, source: 2),
        ]
        let sql = SQL.mergeFromStage(Self.stage, into: Self.table, columns: columns, key: ["k"], deduplicate: true)
        #expect(
            sql
                == "INSERT INTO \"s\".\"t\" AS t (\"k\", \"v\", \"w\") SELECT DISTINCT ON (\"k\") \"k\", \"v\", \"w\" FROM \"pg_temp\".\"stage\" "
                + "ORDER BY \"k\", \"_pgsink_seq\" DESC ON CONFLICT (\"k\") DO UPDATE SET \"v\" = EXCLUDED.\"v\", "
                + "\"w\" = EXCLUDED.\"w\" WHERE (t.\"v\" IS DISTINCT FROM EXCLUDED.\"v\" "
                + "OR t.\"w\"::text IS DISTINCT FROM EXCLUDED.\"w\"::text)")
        // Airbyte's rule: the newest by cursor, then extraction time, and never an older one over a newer.
        let newest = SQL.mergeFromStage(
            Self.stage, into: Self.table, columns: columns, key: ["k"], deduplicate: true, newestBy: ["v"])
        #expect(newest.contains("ORDER BY \"k\", \"v\" DESC NULLS LAST, \"_pgsink_seq\" DESC"))
        #expect(
            newest.hasSuffix(
                "AND (t.\"v\" < EXCLUDED.\"v\" OR (t.\"v\" IS NULL AND EXCLUDED.\"v\" IS NOT NULL) OR "
                    + "(t.\"v\" IS NOT DISTINCT FROM EXCLUDED.\"v\" AND false))"))
        let distinct = SQL.mergeFromStage(Self.stage, into: Self.table, columns: columns, key: ["k"], deduplicate: false)
        #expect(distinct.contains("SELECT \"k\", \"v\", \"w\" FROM \"pg_temp\".\"stage\" ON CONFLICT"))
        #expect(!distinct.contains("DISTINCT ON"))
        let keysOnly = SQL.mergeFromStage(Self.stage, into: Self.table, columns: [columns[0]], key: ["k"], deduplicate: true)
        #expect(keysOnly.hasSuffix("ON CONFLICT (\"k\") DO NOTHING"))
        // A NULL keeps the stored value; each column's latest non-null value per key.
        let nonNull = SQL.mergeFromStage(Self.stage, into: Self.table, columns: columns, key: ["k"], deduplicate: true, keepsNonNull: true)
        #expect(nonNull.contains("(array_agg(\"v\" ORDER BY \"_pgsink_seq\" DESC) FILTER (WHERE \"v\" IS NOT NULL))[1] AS \"v\""), "\(nonNull)")
        #expect(nonNull.contains("GROUP BY \"k\""))
        #expect(nonNull.contains("\"v\" = COALESCE(EXCLUDED.\"v\", t.\"v\")"), "\(nonNull)")
        #expect(
            SQL.createStage("stage", like: Self.table, columns: ["k", "v"])
                == "CREATE TEMP TABLE \"stage\" ON COMMIT DROP AS SELECT \"k\", \"v\", NULL::bigint AS \"_pgsink_seq\" "
                + "FROM \"s\".\"t\" WITH NO DATA")
    }

    @Test func ledgerStatementsQuoteTheSchema() {
        let ledger = "\"odd\"\"schema\".\"_pgsink_loads\""
        #expect(SQL.createLedger(schema: "odd\"schema").contains("CREATE TABLE IF NOT EXISTS \(ledger) ("))
        #expect(SQL.recordLoad(schema: "odd\"schema").hasPrefix("INSERT INTO \(ledger) "))
        let earlier = SQL.earlierLoad(schema: "odd\"schema")
        #expect(earlier.ranges(of: ledger).count == 2)
        #expect(earlier.contains("$1") && earlier.contains("$2") && earlier.contains("$3") && !earlier.contains("$4"))
        #expect(SQL.textArray(["a", "b\"c", "d\\e"]) == #"{"a","b\"c","d\\e"}"#)
    }

    @Test func namesNeverEnterUnquoted() {
        let evil = "x\"; DROP TABLE t; --"
        let sql = SQL.copy(TableName(schema: evil, name: evil), columns: [evil], format: .binary)
        let quoted = quoteIdentifier(evil)
        #expect(quoted == "\"x\"\"; DROP TABLE t; --\"")
        #expect(sql == "COPY \(quoted).\(quoted) (\(quoted)) FROM STDIN (FORMAT binary)")
    }
}
