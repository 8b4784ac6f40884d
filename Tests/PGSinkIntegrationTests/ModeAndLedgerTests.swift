import Foundation
import PGSink
import PGSinkCore
import Testing

@Suite("Modes, ledger and failures")
struct ModeAndLedgerTests {
    @Test func appendingTheSameFileTwiceIsRefusedUnlessForced() throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("events.csv", "id,v\n1,a\n2,b\n")
        let first = try db.load(paths: [path], into: "events")
        do {
            try db.load(paths: [path], into: "events")
            Issue.record("the second append should have been refused")
        } catch let error as LoadError {
            #expect(error.message.contains("already loaded"))
            #expect(error.message.contains("load \(first.loadId)"))
            #expect(error.message.contains("--force"))
        }
        #expect(try db.count("events") == 2)
        try db.load(paths: [path], into: "events") { $0.force = true }
        #expect(try db.count("events") == 4)
        let ledger = try db.rows("SELECT table_name, mode, rows::text FROM \(db.table("_pgsink_loads").quoted) ORDER BY id")
        #expect(ledger == [["events", "append", "2"], ["events", "append", "2"]])
    }

    @Test func reloadingIntoADroppedTableIsNotADuplicate() throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("again.csv", "id\n1\n")
        try db.load(paths: [path], into: "again")
        try db.connection.execute("DROP TABLE \(db.table("again").quoted)")
        let summary = try db.load(paths: [path], into: "again")
        #expect(summary.tableCreated)
        #expect(try db.count("again") == 1)
    }

    @Test func replaceSwapsContentsAndKeepsWhatDependsOnTheTable() throws {
        let db = try TestDatabase()
        try db.load("id,v\n1,a\n2,b\n3,c\n", as: "items.csv", into: "items")
        let t = db.table("items").quoted
        try db.connection.execute("CREATE UNIQUE INDEX items_id ON \(t) (id)")
        try db.connection.execute("CREATE VIEW \(db.table("items_view").quoted) AS SELECT id, v FROM \(t)")
        try db.connection.execute("GRANT SELECT ON \(t) TO PUBLIC")
        let summary = try db.load("id,v\n7,x\n8,y\n", as: "items.csv", into: "items", mode: .replace)
        #expect(summary.rows == 2)
        #expect(try db.rows("SELECT id::text, v FROM \(db.table("items_view").quoted) ORDER BY id") == [["7", "x"], ["8", "y"]])
        #expect(try db.column("SELECT indexname FROM pg_indexes WHERE schemaname = '\(db.schema)' AND tablename = 'items'") == ["items_id"])
        #expect(try db.column("SELECT count(*) FROM information_schema.role_table_grants WHERE table_schema = '\(db.schema)' AND table_name = 'items' AND grantee = 'PUBLIC'") == ["1"])
        // Re-running the same replace is idempotent.
        try db.load("id,v\n7,x\n8,y\n", as: "items.csv", into: "items", mode: .replace)
        #expect(try db.count("items") == 2)
    }

    @Test func replaceIsInvisibleToReadersUntilCommit() throws {
        let db = try TestDatabase()
        try db.load("id\n1\n2\n", as: "live.csv", into: "live")
        let reader = try PGConnection.connect(db.url)
        try reader.execute("SET lock_timeout = '2s'")
        // A file that fails at its last line: the replace must leave the old rows for everyone.
        do {
            try db.load("id\n5\n6\n\"7\n", as: "live.csv", into: "live", mode: .replace)
            Issue.record("the malformed file should fail")
        } catch is InputError {}
        #expect(try reader.query("SELECT count(*) FROM \(db.table("live").quoted)", []).value(0, 0) == "2")
    }

    @Test func mergeUpdatesInsertsAndLastRecordWins() throws {
        let db = try TestDatabase()
        let first = try db.load("id,name,score\n1,ann,10\n2,bob,20\n", as: "scores.csv", into: "scores", mode: .merge) {
            $0.primaryKey = ["id"]
        }
        #expect(first.tableCreated)
        let second = "id,name,score\n2,bob,21\n3,cy,30\n2,bob,22\n"
        try db.load(second, as: "scores.csv", into: "scores", mode: .merge) { $0.primaryKey = ["id"]; $0.batchRows = 2 }
        let expected: [[String?]] = [["1", "ann", "10"], ["2", "bob", "22"], ["3", "cy", "30"]]
        let query = "SELECT id::text, name, score::text FROM \(db.table("scores").quoted) ORDER BY id"
        #expect(try db.rows(query) == expected)
        // Merging the same data again changes nothing.
        try db.load(second, as: "scores.csv", into: "scores", mode: .merge) { $0.primaryKey = ["id"] }
        #expect(try db.rows(query) == expected)
        #expect(try db.column("SELECT indexdef FROM pg_indexes WHERE schemaname = '\(db.schema)' AND tablename = 'scores'")[0]?.contains("(id)") == true)
    }

    @Test func reMergingUnchangedRowsRewritesNothing() throws {
        let db = try TestDatabase()
        try db.connection.execute("CREATE TABLE \(db.table("docs").quoted) (id bigint PRIMARY KEY, body json, n int)")
        let data = "{\"id\": 1, \"body\": {\"a\": 1}, \"n\": 5}\n{\"id\": 2, \"body\": [1], \"n\": 6}\n"
        try db.load(data, as: "docs.jsonl", into: "docs", mode: .merge) { $0.primaryKey = ["id"] }
        let query = "SELECT id::text, xmin::text FROM \(db.table("docs").quoted) ORDER BY id"
        let before = try db.rows(query)
        try db.load(data, as: "docs.jsonl", into: "docs", mode: .merge) { $0.primaryKey = ["id"] }
        #expect(try db.rows(query) == before)
        try db.load("{\"id\": 2, \"body\": [2], \"n\": 6}\n", as: "docs.jsonl", into: "docs", mode: .merge) {
            $0.primaryKey = ["id"]
        }
        let after = try db.rows(query)
        #expect(after[0] == before[0])
        #expect(after[1] != before[1])
        #expect(try db.column("SELECT body::text FROM \(db.table("docs").quoted) WHERE id = 2") == ["[2]"])
    }

    @Test func mergeWithCompositeKeyAndOnlyKeyColumns() throws {
        let db = try TestDatabase()
        try db.load("a,b\n1,x\n1,y\n1,x\n", as: "pairs.csv", into: "pairs", mode: .merge) { $0.primaryKey = ["a", "b"] }
        #expect(try db.count("pairs") == 2)
    }

    @Test func mergeIntoTableWithoutUniqueKeyExplainsTheFix() throws {
        let db = try TestDatabase()
        try db.connection.execute("CREATE TABLE \(db.table("nokey").quoted) (id bigint, v text)")
        do {
            try db.load("id,v\n1,a\n", as: "nokey.csv", into: "nokey", mode: .merge) { $0.primaryKey = ["id"] }
            Issue.record("merge without a unique index should fail")
        } catch let error as LoadError {
            #expect(error.message.contains("CREATE UNIQUE INDEX ON"))
            #expect(error.message.contains("\"id\""))
        }
    }

    @Test func mergeNeedsAKeyValueOnEveryRecord() throws {
        let db = try TestDatabase()
        do {
            try db.load("id,v\n1,a\n,b\n", as: "holes.csv", into: "holes", mode: .merge) { $0.primaryKey = ["id"] }
            Issue.record("a record without its key should fail")
        } catch let error as InputError {
            #expect(error.line == 3)
            #expect(error.column == "id")
        }
        #expect(try db.exists("holes") == false)
    }

    @Test func malformedInputCommitsNothingAndNamesTheLine() throws {
        let db = try TestDatabase()
        do {
            try db.load("a,b\n1,2\n3,4,5\n", as: "bad.csv", into: "bad")
            Issue.record("a row with an extra field should fail")
        } catch let error as InputError {
            #expect(error.line == 3)
            #expect(error.source.hasSuffix("bad.csv"))
        }
        #expect(try db.exists("bad") == false)
        #expect(try db.exists("_pgsink_loads") == false)
        do {
            try db.load("{\"a\": 1}\n{\"a\": 2,}\n", as: "bad.jsonl", into: "badjson")
            Issue.record("malformed JSON should fail")
        } catch let error as InputError {
            #expect(error.line == 2)
        }
        #expect(try db.exists("badjson") == false)
    }

    @Test func failureInALaterBatchRollsBackEarlierBatches() throws {
        let db = try TestDatabase()
        try db.load("id,code\n1,ab\n", as: "codes.csv", into: "codes")
        try db.connection.execute("ALTER TABLE \(db.table("codes").quoted) ALTER COLUMN code TYPE varchar(2)")
        let rows = (2...10).map { "\($0),ok" } + ["11,too long"]
        do {
            try db.load("id,code\n" + rows.joined(separator: "\n") + "\n", as: "codes.csv", into: "codes") { $0.batchRows = 3 }
            Issue.record("a value too long for varchar(2) should fail")
        } catch let error as InputError {
            #expect(error.line == 11)
            #expect(error.message.contains("22001"))
        }
        #expect(try db.count("codes") == 1)
    }

    @Test func anExistingColumnWidensWhenAValueDoesNotFit() throws {
        let db = try TestDatabase()
        try db.connection.execute("CREATE TABLE \(db.table("nums").quoted) (n uuid)")
        do {
            try db.load("n\nnot-a-uuid\n", as: "nums.csv", into: "nums")
        } catch {
            Issue.record("a uuid column widens to text: \(error)")
        }
        #expect(try db.columnTypes("nums")["n"] == "text")
    }

    @Test func severalFilesForOneTableLoadInOneTransaction() throws {
        let db = try TestDatabase()
        let a = try TestDatabase.file("part1.csv", "id,v\n1,a\n")
        let b = try TestDatabase.file("part2.csv", "v,id,extra\nb,2,x\n")
        let summary = try db.load(paths: [a, b], into: "parts", mode: .replace)
        #expect(summary.rows == 2)
        #expect(summary.sources.count == 2)
        #expect(try db.rows("SELECT id::text, v, extra FROM \(db.table("parts").quoted) ORDER BY id") == [["1", "a", nil], ["2", "b", "x"]])
    }
}
