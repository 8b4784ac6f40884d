import Foundation
import PGSink
import PGSinkCore
import Testing

@testable import PGSink

/// `--jobs` into existing tables: each connection stages its batches, one transaction publishes.
@Suite("Parallel loads into existing tables")
struct StagedParallelLoadTests {
    /// `id,label,amount` rows `first...last`, labelled with `tag`.
    static func rows(_ first: Int, _ last: Int, tag: String = "row") -> String {
        "id,label,amount\n" + (first...last).map { "\($0),\(tag) \($0),\($0).5" }.joined(separator: "\n") + "\n"
    }

    static func contents(_ db: TestDatabase, _ table: String) throws -> [[String?]] {
        try db.rows("SELECT id::text, label, amount::text FROM \(db.table(table).quoted) ORDER BY id, label")
    }

    @Test(arguments: [LoadMode.append, .replace, .merge])
    func twoConnectionsWriteWhatOneWrites(_ mode: LoadMode) throws {
        var results: [[[String?]]] = []
        for jobs in [1, 2] {
            let db = try TestDatabase()
            try db.load(Self.rows(1, 400), as: "first.csv", into: "t") { $0.uniqueIndexes = mode == .merge ? [["id"]] : [] }
            let summary = try db.load(Self.rows(201, 900, tag: "new"), as: "second.csv", into: "t", mode: mode) {
                $0.jobs = .count(jobs)
                $0.batchRows = 60
                $0.primaryKey = mode == .merge ? ["id"] : []
            }
            #expect(summary.connections == jobs)
            #expect(summary.rows == 700)
            #expect(try db.tables(startingWith: "_pgsink_parallel_").isEmpty)
            #expect(try db.column("SELECT rows::text FROM \(db.table("_pgsink_loads").quoted) ORDER BY id") == ["400", "700"])
            results.append(try Self.contents(db, "t"))
        }
        #expect(results[0] == results[1])
        #expect(results[1].count == [.append: 1100, .replace: 700, .merge: 900][mode])
    }

    @Test func autoTakesTheFewerOfTheServersWorkersAndTheClientsCores() throws {
        #expect(AutoJobs.choose(server: 8, client: 2) == 2)
        #expect(AutoJobs.choose(server: 2, client: 16) == 2)
        #expect(AutoJobs.choose(server: 64, client: 64) == 8)
        #expect(AutoJobs.choose(server: 0, client: 4) == 1)
        // Into an existing table, each row is written twice: fewer than 4 would be slower than one.
        #expect(AutoJobs.choose(server: 8, client: 2, staged: true) == 1)
        #expect(AutoJobs.choose(server: 8, client: 4, staged: true) == 4)
        #expect(AutoJobs.choose(server: 8, client: 2, staged: false) == 2)
        let db = try TestDatabase()
        let settings = try db.rows("SELECT least(current_setting('max_worker_processes')::int, current_setting('max_parallel_workers')::int)::text")
        let expected = AutoJobs.choose(
            server: Int(settings[0][0] ?? "") ?? 0, client: ProcessInfo.processInfo.activeProcessorCount, staged: true)
        #expect(try AutoJobs.serverHint(on: db.connection).count == Int(settings[0][0] ?? ""))
        try db.load(Self.rows(1, 10), as: "first.csv", into: "t")
        let summary = try db.load(Self.rows(11, 500), as: "second.csv", into: "t") {
            $0.jobs = .auto
            $0.batchRows = 50
        }
        #expect(summary.autoJobs == expected)
        #expect(summary.connections == expected)
        #expect(try db.count("t") == 500)
    }

    @Test func theSummarySaysHowTheRowsWentIn() throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("t.csv", Self.rows(1, 300))
        let load = ["load", path, "--to", db.url, "--schema", db.schema, "--table", "t", "--batch-rows", "50"]
        #expect(try CommandLineTests.run(load).status == 0)
        let auto = try CommandLineTests.run(load + ["--force", "--jobs", "auto"])
        #expect(auto.status == 0, "\(auto.stderr)")
        let chosen = AutoJobs.choose(
            server: try AutoJobs.serverHint(on: db.connection).count, client: ProcessInfo.processInfo.activeProcessorCount,
            staged: true)
        #expect(auto.stdout.contains("--jobs auto chose \(Wording.count(chosen, "connection"))"), "\(auto.stdout)")
        if chosen > 1 {
            #expect(auto.stdout.contains("into staging tables, then published them in one transaction"), "\(auto.stdout)")
        }
        let merge = try CommandLineTests.run(
            ["load", path, "--to", db.url, "--schema", db.schema, "--table", "m", "--mode", "merge", "--primary-key", "id",
             "--jobs", "2"])
        #expect(merge.stdout.contains("copied over one connection: these load in one transaction (a merge into a table it creates"), "\(merge.stdout)")
    }

    @Test func aMergeKeepsTheLastRecordOfAKeyRepeatedAcrossBatches() throws {
        let db = try TestDatabase()
        try db.load(Self.rows(1, 50), as: "first.csv", into: "t", mode: .merge) { $0.primaryKey = ["id"] }
        // Keys 1...100, each three times, in batches of 40 spread over both connections.
        let lines = (1...300).map { "\(($0 - 1) % 100 + 1),v\($0),\($0).5" }
        let summary = try db.load("id,label,amount\n" + lines.joined(separator: "\n") + "\n", as: "repeats.csv", into: "t", mode: .merge) {
            $0.jobs = 2
            $0.batchRows = 40
            $0.primaryKey = ["id"]
        }
        #expect(summary.connections == 2)
        let table = db.table("t").quoted
        #expect(try db.rows("SELECT count(*)::text, min(label), count(*) FILTER (WHERE label = 'v' || (id + 200))::text FROM \(table)") == [["100", "v201", "100"]])
    }

    @Test func replaceKeepsAViewOnTheTable() throws {
        let db = try TestDatabase()
        try db.load(Self.rows(1, 100), as: "first.csv", into: "t")
        try db.connection.execute("CREATE VIEW \(db.table("v").quoted) AS SELECT id, label FROM \(db.table("t").quoted) WHERE id > 10")
        let summary = try db.load(Self.rows(5, 30, tag: "new"), as: "second.csv", into: "t", mode: .replace) {
            $0.jobs = 2
            $0.batchRows = 5
        }
        #expect(summary.connections == 2)
        #expect(try db.rows("SELECT count(*)::text, min(label) FROM \(db.table("v").quoted)") == [["20", "new 11"]])
        #expect(try db.count("t") == 26)
    }

    @Test func aNewColumnAndAWideningReachTheTable() throws {
        let db = try TestDatabase()
        try db.load((1...20).map { #"{"id": \#($0), "n": \#($0)}"# }.joined(separator: "\n") + "\n", as: "a.jsonl", into: "t")
        let lines = (21...400).map { i -> String in
            i < 250 ? #"{"id": \#(i), "n": \#(i)}"# : #"{"id": \#(i), "n": \#(i).25, "note": "n\#(i)"}"#
        }
        let summary = try db.load(lines.joined(separator: "\n") + "\n", as: "b.jsonl", into: "t") {
            $0.jobs = 2
            $0.batchRows = 30
        }
        #expect(summary.connections == 2)
        #expect(summary.columnsAdded == ["note"])
        #expect(summary.columnsWidened == ["n: bigint → numeric"])
        #expect(try db.columnTypes("t") == ["id": "bigint", "n": "numeric", "note": "text"])
        #expect(
            try db.rows("SELECT count(*)::text, count(note)::text, sum(n)::text FROM \(db.table("t").quoted)")
                == [["400", "151", "\(Double((1...400).reduce(0, +)) + 0.25 * 151)"]])
        #expect(try db.tables(startingWith: "_pgsink_parallel_").isEmpty)
    }

    @Test func aValueTheServerRefusesCommitsNothing() throws {
        let db = try TestDatabase()
        try db.connection.execute("CREATE DOMAIN \(quoteIdentifier(db.schema)).positive AS int CHECK (VALUE > 0)")
        try db.connection.execute("CREATE TABLE \(db.table("t").quoted) (id bigint, n \(quoteIdentifier(db.schema)).positive)")
        try db.load("id,n\n1,1\n", as: "first.csv", into: "t")
        let lines = (1...500).map { "\($0),\($0 == 420 ? -5 : $0)" }
        #expect(throws: InputError.self) {
            try db.load("id,n\n" + lines.joined(separator: "\n") + "\n", as: "bad.csv", into: "t") {
                $0.jobs = 2
                $0.batchRows = 40
            }
        }
        #expect(try db.count("t") == 1)
        #expect(try db.tables(startingWith: "_pgsink_parallel_").isEmpty)
        #expect(try db.column("SELECT count(*)::text FROM \(db.table("_pgsink_loads").quoted)") == ["1"])
    }

    @Test func aKilledLoadLeavesNothingAndTheNextRunCleansUp() throws {
        let db = try TestDatabase()
        try db.load(Self.rows(1, 10), as: "first.csv", into: "big")
        let path = try TestDatabase.file("big.csv", Self.rows(11, 400_010))
        let (process, input, _) = try InterruptTests.start(
            ["load", path, "--to", db.url, "--schema", db.schema, "--table", "big", "--jobs", "2", "--batch-rows", "10000"])
        let staged = {
            try db.tables(startingWith: "_pgsink_parallel_big_").reduce(0) { sum, name in
                sum + (Int(try db.column("SELECT count(*) FROM \(db.table(name).quoted)").first?.flatMap { $0 } ?? "0") ?? 0)
            }
        }
        #expect(try ExactlyOnceTests.eventually { try staged() > 0 })
        #expect(InterruptTests.finish(process, after: SIGKILL) == SIGKILL)
        try? input.close()
        #expect(try db.count("big") == 10)
        #expect(try ExactlyOnceTests.eventually {
            try db.column("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE '%\(db.schema)%'") == ["0"]
        })
        let summary = try db.load(paths: [path], into: "big") { $0.jobs = 2 }
        #expect(summary.connections == 2)
        #expect(try db.tables(startingWith: "_pgsink_parallel_").isEmpty)
        #expect(try db.rows("SELECT count(*)::text, sum(id)::text FROM \(db.table("big").quoted)") == [["400010", "\((1...400_010).reduce(0, +))"]])
    }
}
