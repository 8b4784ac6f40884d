import Foundation
import PGSink
import PGSinkCore
import Testing

/// Widening, schema contracts and rejects (docs/schema-evolution.md), against the real server.
@Suite("Schema evolution, contracts and rejects")
struct SchemaEvolutionTests {
    /// Creates `name` with the given column definitions and one row.
    private func makeTable(_ db: TestDatabase, _ name: String, _ columns: String, row: String) throws {
        try db.connection.execute("CREATE TABLE \(db.table(name).quoted) (\(columns))")
        try db.connection.execute("INSERT INTO \(db.table(name).quoted) VALUES (\(row))")
    }

    @Test func integersWidenStepByStepKeepingEveryValue() throws {
        let db = try TestDatabase()
        try makeTable(db, "n", "v smallint", row: "7")
        var summary = try db.load("v\n40000\n", as: "a.csv", into: "n")
        #expect(summary.columnsWidened == ["v: smallint → integer"])
        #expect(try db.columnTypes("n")["v"] == "integer")
        summary = try db.load("v\n3000000000\n", as: "b.csv", into: "n")
        #expect(summary.columnsWidened == ["v: integer → bigint"])
        summary = try db.load("v\n1.25\n", as: "c.csv", into: "n")
        #expect(summary.columnsWidened == ["v: bigint → numeric"])
        summary = try db.load("v\n12345678901234567890123.5\n", as: "d.csv", into: "n")
        #expect(summary.columnsWidened.isEmpty)
        #expect(try db.columnTypes("n")["v"] == "numeric")
        #expect(
            try db.column("SELECT v::text FROM \(db.table("n").quoted) t ORDER BY t.v")
                == ["1.25", "7", "40000", "3000000000", "12345678901234567890123.5"])
    }

    @Test func floatsWidenWhenAValueWouldOverflow() throws {
        let db = try TestDatabase()
        try makeTable(db, "f", "v real", row: "1.5")
        var summary = try db.load("v\n1e39\n", as: "a.csv", into: "f")
        #expect(summary.columnsWidened == ["v: real → double precision"])
        summary = try db.load("v\n1e400\n", as: "b.csv", into: "f")
        #expect(summary.columnsWidened == ["v: double precision → numeric"])
        #expect(try db.column("SELECT v::text FROM \(db.table("f").quoted) t ORDER BY t.v") == ["1.5", "1" + String(repeating: "0", count: 39), "1" + String(repeating: "0", count: 400)])
    }

    @Test func timesWidenFromDateToTimestampToTimestamptz() throws {
        let db = try TestDatabase()
        try makeTable(db, "d", "v date", row: "'2024-01-01'")
        var summary = try db.load("v\n2024-01-02T03:04:05\n", as: "a.csv", into: "d")
        #expect(summary.columnsWidened == ["v: date → timestamp without time zone"])
        summary = try db.load("v\n2024-01-03T00:00:00+02:00\n", as: "b.csv", into: "d")
        #expect(summary.columnsWidened == ["v: timestamp without time zone → timestamp with time zone"])
        #expect(
            try db.column("SELECT v::text FROM \(db.table("d").quoted) t ORDER BY t.v")
                == ["2024-01-01 00:00:00+00", "2024-01-02 03:04:05+00", "2024-01-02 22:00:00+00"])
    }

    @Test func booleansNumbersAndTimesBecomeTextWhenTextArrives() throws {
        let db = try TestDatabase()
        try makeTable(db, "x", "b boolean, n bigint, t timestamptz", row: "true, 42, '2024-05-06 07:08:09+00'")
        let summary = try db.load("b,n,t\nmaybe,forty,soon\n", as: "a.csv", into: "x")
        #expect(Set(summary.columnsWidened) == ["b: boolean → text", "n: bigint → text", "t: timestamp with time zone → text"])
        #expect(
            try db.rows("SELECT b, n, t FROM \(db.table("x").quoted) ORDER BY b DESC")
                == [["true", "42", "2024-05-06T07:08:09Z"], ["maybe", "forty", "soon"]])
    }

    @Test func aViewOnAWidenedColumnIsNamedInTheError() throws {
        let db = try TestDatabase()
        try makeTable(db, "base", "id integer, n integer", row: "1, 2")
        try db.connection.execute("CREATE VIEW \(db.table("base_view").quoted) AS SELECT n FROM \(db.table("base").quoted)")
        let error = #expect(throws: LoadError.self) { try db.load("id,n\n2,3.5\n", as: "a.csv", into: "base") }
        #expect(error?.message.contains("base_view") == true)
        #expect(error?.message.contains("cannot widen column n of \(db.schema).base from integer to numeric") == true)
        #expect(error?.message.contains("line 2 of ") == true)
        #expect(try db.count("base") == 1)
        #expect(try db.columnTypes("base")["n"] == "integer")
    }

    // MARK: contracts

    @Test func freezeRefusesNewTablesColumnsAndTypesAndCommitsNothing() throws {
        let db = try TestDatabase()
        let noTable = #expect(throws: PlanError.self) {
            try db.load("a\n1\n", as: "a.csv", into: "frozen") { $0.contract = .freeze }
        }
        #expect(noTable?.message.contains("freeze creates no tables") == true)
        #expect(try !db.exists("frozen"))

        try makeTable(db, "frozen", "a bigint", row: "1")
        let newColumn = #expect(throws: PlanError.self) {
            try db.load("a,extra\n2,x\n", as: "b.csv", into: "frozen") { $0.contract = .freeze }
        }
        #expect(newColumn?.message.contains("has no column extra") == true)
        let badType = #expect(throws: InputError.self) {
            try db.load("a\n3\nnot a number\n", as: "c.csv", into: "frozen") { $0.contract = .freeze }
        }
        #expect(badType?.line == 3)
        #expect(badType?.column == "a")
        #expect(badType?.message.contains("--max-rejects") == true)
        #expect(try db.column("SELECT a::text FROM \(db.table("frozen").quoted)") == ["1"])
        #expect(try db.columnTypes("frozen") == ["a": "bigint"])
    }

    @Test func freezeWithRejectsSetsWrongTypesAside() throws {
        let db = try TestDatabase()
        try makeTable(db, "frozen", "a bigint", row: "1")
        let summary = try db.load("a\n2\nnope\n4\n", as: "c.csv", into: "frozen") {
            $0.contract = .freeze
            $0.maxRejects = 5
        }
        #expect(summary.rows == 2)
        #expect(summary.rejected == 1)
        #expect(try db.column("SELECT a::text FROM \(db.table("frozen").quoted) ORDER BY a") == ["1", "2", "4"])
        let rejects = try db.rows(
            "SELECT load_id::text, table_name, source, line::text, column_name, value, kind FROM "
                + "\(db.table("_pgsink_rejects").quoted)")
        #expect(rejects.count == 1)
        #expect(rejects.first?[2]?.hasSuffix("/c.csv") == true)
        #expect(rejects.first.map { [$0[0], $0[1], $0[3], $0[4], $0[5], $0[6]] } == [String(summary.loadId), "frozen", "3", "a", "nope", "rejected"])
    }

    @Test func discardRowSetsAsideRowsThatWouldChangeTheTable() throws {
        let db = try TestDatabase()
        try makeTable(db, "dr", "id bigint, n integer", row: "1, 1")
        let summary = try db.load(
            #"{"id":2,"n":2}\#n{"id":3,"n":3,"extra":"x"}\#n{"id":4,"n":"four"}\#n{"id":5}\#n"#, as: "e.jsonl",
            into: "dr"
        ) { $0.contract = .discardRow }
        #expect(summary.rows == 2)
        #expect(summary.discarded == 2)
        #expect(try db.column("SELECT id::text FROM \(db.table("dr").quoted) ORDER BY id") == ["1", "2", "5"])
        #expect(try db.columnTypes("dr") == ["id": "bigint", "n": "integer"])
        let rejects = try db.rows(
            "SELECT line::text, column_name, value, kind FROM \(db.table("_pgsink_rejects").quoted) ORDER BY line")
        #expect(rejects == [["2", "extra", "x", "discarded"], ["3", "n", "four", "discarded"]])
    }

    @Test func discardValueKeepsTheRowWithoutTheValue() throws {
        let db = try TestDatabase()
        try makeTable(db, "dv", "id bigint, n integer", row: "1, 1")
        let summary = try db.load(
            #"{"id":2,"n":2,"extra":"x"}\#n{"id":3,"n":"three"}\#n"#, as: "e.jsonl", into: "dv"
        ) { $0.contract = .discardValue }
        #expect(summary.rows == 2)
        #expect(summary.discarded == 2)
        #expect(
            try db.rows("SELECT id::text, n::text FROM \(db.table("dv").quoted) ORDER BY id")
                == [["1", "1"], ["2", "2"], ["3", nil]])
        #expect(
            try db.rows("SELECT column_name, value FROM \(db.table("_pgsink_rejects").quoted) ORDER BY line")
                == [["extra", "x"], ["n", "three"]])
    }

    @Test func aTypeOverridePinsTheColumn() throws {
        let db = try TestDatabase()
        let error = #expect(throws: InputError.self) {
            try db.load("n\n1\n2.5\n", as: "p.csv", into: "pinned") { $0.typeOverrides = ["n": .integer] }
        }
        #expect(error?.message.contains("--type fixes its type") == true)
        let summary = try db.load("n\n1\n2.5\n3\n", as: "p.csv", into: "pinned") {
            $0.typeOverrides = ["n": .integer]
            $0.maxRejects = 1
        }
        #expect(summary.rejected == 1)
        #expect(try db.columnTypes("pinned")["n"] == "integer")
        #expect(try db.column("SELECT n::text FROM \(db.table("pinned").quoted) ORDER BY n") == ["1", "3"])
    }

    // MARK: rejects

    @Test func rowsTheServerRefusesAreRejectedUnderTheLimit() throws {
        let db = try TestDatabase()
        try db.connection.execute(
            "CREATE TABLE \(db.table("checked").quoted) (id bigint PRIMARY KEY, n integer CHECK (n > 0), doc json)")
        let csv = "id,n,doc\n1,5,{}\n2,-1,{}\n3,7,{oops\n1,9,{}\n4,8,\"[1]\"\n"
        let summary = try db.load(csv, as: "server.csv", into: "checked") { $0.maxRejects = 3 }
        #expect(summary.rows == 2)
        #expect(summary.rejected == 3)
        #expect(try db.column("SELECT id::text FROM \(db.table("checked").quoted) ORDER BY id") == ["1", "4"])
        let rejects = try db.rows(
            "SELECT line::text, kind, reason FROM \(db.table("_pgsink_rejects").quoted) ORDER BY line")
        #expect(rejects.map { $0[0] } == ["3", "4", "5"])
        #expect(rejects[0][2]?.contains("check constraint") == true)
        #expect(rejects[1][2]?.contains("json") == true)
        #expect(rejects[2][2]?.contains("23505") == true)
    }

    @Test func overTheLimitNothingIsCommitted() throws {
        let db = try TestDatabase()
        try makeTable(db, "limited", "n bigint", row: "0")
        let error = #expect(throws: RejectLimit.self) {
            try db.load("n\n1\nx\n2\ny\n3\nz\n", as: "many.csv", into: "limited") {
                $0.contract = .freeze
                $0.maxRejects = 2
            }
        }
        #expect(error?.description.contains("more than 2 rows were rejected") == true)
        #expect(error?.description.contains("many.csv:7") == true)
        #expect(try db.count("limited") == 1)
        #expect(try !db.exists("_pgsink_rejects"))
    }

    @Test func emptyKeysAreRejectedRowsWithALimit() throws {
        let db = try TestDatabase()
        let summary = try db.load("id,v\n1,a\n,b\n2,c\n", as: "k.csv", into: "keyed", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.maxRejects = 1
        }
        #expect(summary.rows == 2)
        #expect(try db.column("SELECT reason FROM \(db.table("_pgsink_rejects").quoted)").first??.contains("key column is empty") == true)
    }

    // MARK: keys

    @Test func aPrimaryKeyChangeIsAnErrorNamingBothKeys() throws {
        let db = try TestDatabase()
        try makeTable(db, "people", "id bigint PRIMARY KEY, email text", row: "1, 'a@x'")
        let error = #expect(throws: LoadError.self) {
            try db.load("id,email\n2,b@x\n", as: "p.csv", into: "people", mode: .merge) { $0.primaryKey = ["email"] }
        }
        #expect(error?.message.contains("primary key (id)") == true)
        #expect(error?.message.contains("(email)") == true)
        #expect(error?.message.contains("never drops") == true)
        // The same key works, and so does a key with its own unique index.
        try db.load("id,email\n1,c@x\n", as: "p.csv", into: "people", mode: .merge) { $0.primaryKey = ["id"] }
        try db.connection.execute("CREATE UNIQUE INDEX ON \(db.table("people").quoted) (email)")
        try db.load("id,email\n9,c@x\n", as: "q.csv", into: "people", mode: .merge) { $0.primaryKey = ["email"] }
        #expect(try db.rows("SELECT id::text, email FROM \(db.table("people").quoted)") == [["9", "c@x"]])
    }
}
