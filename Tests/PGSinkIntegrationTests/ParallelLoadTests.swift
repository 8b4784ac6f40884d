import Foundation
import PGSink
import PGSinkCore
import Testing

/// `--jobs`: several connections COPY into a hidden table that one transaction publishes.
@Suite("Parallel loads")
struct ParallelLoadTests {
    static func numbers(_ count: Int, extra: (Int) -> String = { _ in "" }) -> String {
        "id,label,amount\n" + (1...count).map { "\($0),row \($0),\($0).5\(extra($0))" }.joined(separator: "\n") + "\n"
    }

    @Test func newTableOverSeveralConnections() throws {
        let db = try TestDatabase()
        let summary = try db.load(Self.numbers(1000), as: "wide.csv", into: "wide") {
            $0.jobs = 3
            $0.batchRows = 70
        }
        #expect(summary.connections == 3)
        #expect(summary.rows == 1000)
        #expect(summary.tableCreated)
        #expect(try db.rows("SELECT count(*)::text, sum(id)::text, sum(amount)::text FROM \(db.table("wide").quoted)") == [["1000", "500500", "501000.0"]])
        #expect(try db.columnTypes("wide") == ["id": "bigint", "label": "text", "amount": "numeric"])
        #expect(try db.tables(startingWith: "_pgsink_parallel_").isEmpty)
        #expect(try db.rows("SELECT table_name, rows::text FROM \(db.table("_pgsink_loads").quoted)") == [["wide", "1000"]])
    }

    @Test func indexesAndMetadataArePublishedWithTheTable() throws {
        let db = try TestDatabase()
        let summary = try db.load(Self.numbers(300), as: "indexed.csv", into: "indexed") {
            $0.jobs = 2
            $0.batchRows = 50
            $0.uniqueIndexes = [["id"]]
            $0.metadata = true
        }
        #expect(summary.connections == 2)
        #expect(summary.indexesCreated == ["indexed_id_key"])
        #expect(
            try db.column("SELECT indexdef FROM pg_indexes WHERE schemaname = '\(db.schema)' AND tablename = 'indexed'")
                .first??.contains("UNIQUE INDEX indexed_id_key") == true)
        #expect(
            try db.column("SELECT DISTINCT _pgsink_load_id::text FROM \(db.table("indexed").quoted)")
                == [String(summary.loadId)])
    }

    @Test func loadsThatMustCommitTogetherUseOneConnection() throws {
        let db = try TestDatabase()
        let summary = try db.load(Self.numbers(100), as: "single.csv", into: "single") {
            $0.jobs = 3
            $0.maxRejects = 5
        }
        #expect(summary.connections == 1)
        #expect(summary.rows == 100)
    }

    @Test func schemaChangesMidLoadWaitForCopiesInFlight() throws {
        let db = try TestDatabase()
        let lines = (1...600).map { i -> String in
            i < 400 ? #"{"id": \#(i)}"# : #"{"id": \#(i).5, "note": "n\#(i)", "day": "2024-01-0\#(i % 9 + 1)"}"#
        }
        let summary = try db.load(lines.joined(separator: "\n") + "\n", as: "shift.jsonl", into: "shift") {
            $0.jobs = 2
            $0.batchRows = 50
        }
        #expect(summary.connections == 2)
        #expect(summary.columnsWidened == ["id: bigint → numeric"])
        #expect(try db.columnTypes("shift") == ["id": "numeric", "note": "text", "day": "date"])
        #expect(try db.rows("SELECT count(*)::text, count(note)::text FROM \(db.table("shift").quoted)") == [["600", "201"]])
    }

    @Test func aFailureLeavesNoTableBehind() throws {
        let db = try TestDatabase()
        let bad = Self.numbers(500) + "501,\"unterminated\n"
        #expect(throws: InputError.self) {
            try db.load(bad, as: "broken.csv", into: "broken") {
                $0.jobs = 2
                $0.batchRows = 40
            }
        }
        #expect(try db.exists("broken") == false)
        #expect(try db.tables(startingWith: "_pgsink_parallel_").isEmpty)
    }

    @Test func aMergeIntoANewTableUsesOneConnection() throws {
        let db = try TestDatabase()
        let merge = try db.load(Self.numbers(5), as: "m.csv", into: "merged", mode: .merge) {
            $0.jobs = 2
            $0.primaryKey = ["id"]
        }
        #expect(merge.connections == 1)
        #expect(try db.count("merged") == 5)
    }
}
