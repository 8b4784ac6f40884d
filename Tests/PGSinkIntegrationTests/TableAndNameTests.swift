import Foundation
import PGSink
import PGSinkCore
import Testing

@Suite("Tables and names")
struct TableAndNameTests {
    @Test func reservedAndLongNamesAreNormalized() throws {
        let db = try TestDatabase()
        let long = String(repeating: "very_long_column_name_", count: 4)
        let csv = "Order,select,\(long)a,\(long)b,2nd Col,a b,a_b\n1,2,3,4,5,6,7\n"
        let summary = try db.load(csv, as: "names.csv", into: "names")
        let columns = try db.column(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = '\(db.schema)' AND table_name = 'names' ORDER BY ordinal_position")
        #expect(columns.count == 7)
        #expect(columns[0] == "_order")
        #expect(columns[1] == "_select")
        #expect(columns[2]!.utf8.count <= 63 && columns[3]!.utf8.count <= 63 && columns[2] != columns[3])
        #expect(columns[4] == "_2nd_col")
        #expect(columns[5] == "a_b")
        #expect(columns[6] == "a_b_2")
        #expect(summary.columnsRenamed == ["a_b": "a_b_2"])
    }

    @Test func allowReservedWordsAndKeepCase() throws {
        let db = try TestDatabase()
        try db.load("Order,Name\n1,x\n", as: "kept.csv", into: "kept") {
            $0.naming = NamingRules(keepCase: true, allowReservedWords: true)
        }
        #expect(try db.columnTypes("kept").keys.sorted() == ["Name", "Order"])
    }

    @Test func reservedWordListCoversTheServers() throws {
        let db = try TestDatabase()
        let serverWords = try db.column("SELECT word FROM pg_get_keywords() WHERE catcode IN ('R', 'T')")
        #expect(!serverWords.isEmpty)
        let missing = serverWords.compactMap { $0 }.filter { !ReservedWords.contains($0) }
        #expect(missing.isEmpty, "reserved on the server but not in ReservedWords: \(missing)")
    }

    @Test func existingTableGetsNewColumnsAndNullsForAbsentOnes() throws {
        let db = try TestDatabase()
        try db.connection.execute("CREATE TABLE \(db.table("people").quoted) (id integer, name varchar(20), note text)")
        let summary = try db.load("ID,Name,Age\n1,Ann,30\n2,Bob,\n", as: "people.csv", into: "people")
        #expect(summary.columnsAdded == ["age"])
        #expect(summary.tableCreated == false)
        let rows = try db.rows("SELECT id::text, name, note, age::text FROM \(db.table("people").quoted) ORDER BY id")
        #expect(rows == [["1", "Ann", nil, "30"], ["2", "Bob", nil, nil]])
        #expect(try db.columnTypes("people")["id"] == "integer")
    }

    @Test func laterBatchesWidenColumns() throws {
        let db = try TestDatabase()
        let csv = "n,d,flag\n1,2024-01-01,true\n2,2024-01-02,false\n3.5,2024-01-03T10:00:00,maybe\n"
        let summary = try db.load(csv, as: "widen.csv", into: "widen") { $0.batchRows = 2 }
        let types = try db.columnTypes("widen")
        #expect(types["n"] == "numeric")
        #expect(types["d"] == "timestamp without time zone")
        #expect(types["flag"] == "text")
        #expect(summary.columnsWidened.count == 3)
        #expect(
            try db.rows("SELECT n::text, d::text, flag FROM \(db.table("widen").quoted) ORDER BY n")
                == [["1", "2024-01-01 00:00:00", "true"], ["2", "2024-01-02 00:00:00", "false"], ["3.5", "2024-01-03 10:00:00", "maybe"]])
    }

    @Test func jsonKeysFirstSeenInLaterBatchesBecomeColumns() throws {
        let db = try TestDatabase()
        let jsonl = (1...5).map { #"{"id": \#($0)}"# }.joined(separator: "\n") + "\n" + #"{"id": 6, "late": "yes", "seen_on": "2024-05-01"}"# + "\n"
        let summary = try db.load(jsonl, as: "late.jsonl", into: "late") { $0.batchRows = 2 }
        #expect(summary.rows == 6)
        #expect(summary.columnsAdded == ["late", "seen_on"])
        #expect(try db.columnTypes("late")["seen_on"] == "date")
        #expect(try db.rows("SELECT late, seen_on::text FROM \(db.table("late").quoted) WHERE id = 6") == [["yes", "2024-05-01"]])
        #expect(try db.count("late") == 6)
    }

    @Test func typeOverridesWin() throws {
        let db = try TestDatabase()
        try db.load("zip,n\n02134,1\n10001,2\n", as: "zips.csv", into: "zips") {
            $0.typeOverrides = ["n": .integer, "zip": .text]
        }
        let types = try db.columnTypes("zips")
        #expect(types["zip"] == "text")
        #expect(types["n"] == "integer")
        #expect(try db.column("SELECT zip FROM \(db.table("zips").quoted) ORDER BY n") == ["02134", "10001"])
    }

    @Test func tableWithTypesWithoutBinaryEncoderUsesTextCopy() throws {
        let db = try TestDatabase()
        try db.connection.execute("CREATE TABLE \(db.table("hosts").quoted) (addr inet, seen interval, n integer, tags varchar(5)[])")
        let summary = try db.load("addr,seen,n,tags\n10.0.0.1,1 day,5,\"{a,b}\"\n::1,02:00:00,,\n", as: "hosts.csv", into: "hosts")
        #expect(summary.copyFormat == "text")
        #expect(try db.rows("SELECT addr::text, seen::text, n::text, tags::text FROM \(db.table("hosts").quoted) ORDER BY n NULLS LAST") == [["10.0.0.1/32", "1 day", "5", "{a,b}"], ["::1/128", "02:00:00", nil, nil]])
    }

    @Test func schemaIsCreatedUnlessSkipped() throws {
        let db = try TestDatabase()
        let schema = db.schema + "_new"
        var request = LoadRequest(inputs: [try TestDatabase.file("x.csv", "a\n1\n")], table: TableName(schema: schema, name: "x"))
        request.createSchema = false
        #expect(throws: PGError.self) { try Loader(request: request).run(on: db.connection) }
        request.createSchema = true
        let summary = try Loader(request: request).run(on: db.connection)
        #expect(summary.rows == 1)
        try db.connection.execute("DROP SCHEMA \(quoteIdentifier(schema)) CASCADE")
    }
}
