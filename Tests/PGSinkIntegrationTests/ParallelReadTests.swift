import Foundation
import PGSink
import PGSinkCore
import Testing

@testable import PGSink

/// `--jobs N` reads its inputs side by side: several files at once, and a large plain file cut at
/// row boundaries. Whatever the readers meet, the table ends as one reader leaves it.
@Suite("Parallel reads")
struct ParallelReadTests {
    /// A CSV file whose notes hold line breaks, delimiters and doubled quotes; `tag` marks the rows.
    static func csv(_ ids: ClosedRange<Int>, tag: String = "r") -> String {
        "id,note,amount,day\n"
            + ids.map { id in
                let note =
                    switch id % 4 {
                    case 0: "\"\(tag) \(id) line one\nline, two \"\"quoted\"\"\r\n\""
                    case 1: "\"\(tag) \(id),comma\""
                    default: "\(tag) \(id) plain"
                    }
                return "\(id),\(note),\(id).25,2024-01-\(String(format: "%02d", id % 28 + 1))"
            }.joined(separator: "\n") + "\n"
    }

    static func contents(_ db: TestDatabase, _ table: String) throws -> [[String?]] {
        try db.rows("SELECT id::text, note, amount::text, day::text FROM \(db.table(table).quoted) ORDER BY id, note")
    }

    /// Small parts, so a test's file is cut in several.
    static func small(_ request: inout LoadRequest) {
        request.readPartBytes = 16 << 10
        request.batchRows = 150
    }

    @Test(arguments: [LoadMode.append, .replace, .merge])
    func aLargeCSVFileCutInPartsLoadsWhatOneReaderLoads(_ mode: LoadMode) throws {
        // Keys 1...2500, then 1...400 again with new notes: in a merge the later record wins.
        let path = try TestDatabase.file("big.csv", Self.csv(1...2500) + Self.csv(1...400, tag: "again").drop { $0 != "\n" }.dropFirst())
        var results: [[[String?]]] = []
        for jobs in [1, 2, 3] {
            let db = try TestDatabase()
            for existing in [false, true] {
                if existing { try db.connection.execute("TRUNCATE \(db.table("t").quoted)") }
                let summary = try db.load(paths: [path], into: "t", mode: mode) {
                    Self.small(&$0)
                    $0.jobs = .count(jobs)
                    $0.readers = .count(jobs)
                    $0.primaryKey = mode == .merge ? ["id"] : []
                    $0.force = existing
                }
                #expect(summary.rows == 2900)
                // A merge into a table it creates runs on one connection, read by one reader.
                #expect(((summary.partsRead ?? 1) > 1) == (jobs > 1 && (existing || mode != .merge)), "\(summary)")
                #expect(try db.tables(startingWith: "_pgsink_parallel_").isEmpty)
                if existing { results.append(try Self.contents(db, "t")) }
            }
            #expect(try db.columnTypes("t") == ["id": "bigint", "note": "text", "amount": "numeric", "day": "date"])
            let fingerprints = try db.column("SELECT fingerprint FROM \(db.table("_pgsink_loads").quoted) ORDER BY id")
            #expect(Set(fingerprints).count == 1)
        }
        #expect(results[0] == results[1] && results[1] == results[2])
        #expect(results[0].count == (mode == .merge ? 2500 : 2900))
        if mode == .merge {
            #expect(results[0].filter { $0[1]?.hasPrefix("again") == true }.count == 400)
        }
    }

    @Test func partsAgreeOnColumnsAndTypesWhateverOrderTheyMeetThem() throws {
        // JSON Lines whose later lines bring a new key, keys in another order, and a value that
        // widens a column: each part may meet them first.
        var lines: [String] = []
        for id in 1...3000 {
            switch id {
            case 2200: lines.append("{\"amount\": 1.5, \"id\": \(id), \"extra\": \"late\"}")
            case 2900...: lines.append("{\"note\": \"n\\n\(id)\", \"id\": \(id), \"amount\": \(id)}")
            default: lines.append("{\"id\": \(id), \"amount\": \(id), \"note\": \"n \(id)\"}")
            }
        }
        let path = try TestDatabase.file("e.jsonl", lines.joined(separator: "\n") + "\n")
        var results: [[[String?]]] = []
        var types: [[String: String]] = []
        for jobs in [1, 2] {
            let db = try TestDatabase()
            let summary = try db.load(paths: [path], into: "e") {
                Self.small(&$0)
                $0.jobs = .count(jobs)
                $0.readers = .count(jobs)
            }
            #expect(summary.rows == 3000)
            types.append(try db.columnTypes("e"))
            results.append(
                try db.rows("SELECT id::text, amount::text, note, extra FROM \(db.table("e").quoted) ORDER BY id"))
        }
        #expect(types[0] == types[1])
        #expect(types[1]["amount"] == "numeric" && types[1]["extra"] == "text")
        #expect(results[0] == results[1])
    }

    @Test func severalFilesLoadSideBySideAndAreFingerprintedAsOneReaderDoes() throws {
        let a = try TestDatabase.file("a.csv", Self.csv(1...300))
        let b = try TestDatabase.file("b.jsonl", (301...600).map { "{\"id\": \($0), \"note\": \"j\($0)\"}" }.joined(separator: "\n"))
        let gz = try TestDatabase.file("c.csv.gz", try InputIntegrityTests.gzip(Data(Self.csv(601...900).utf8)))
        var ledgers: [[[String?]]] = []
        var results: [[[String?]]] = []
        for jobs in [1, 2] {
            let db = try TestDatabase()
            let summary = try db.load(paths: [a, b, gz], into: "t") {
                $0.jobs = .count(jobs)
                $0.readers = .count(jobs)
                $0.batchRows = 100
            }
            #expect(summary.rows == 900)
            #expect(summary.sources == [a, b, gz])
            ledgers.append(try db.rows("SELECT source, fingerprint, files::text FROM \(db.table("_pgsink_loads").quoted)"))
            results.append(try Self.contents(db, "t"))
            // The same files again are refused as already loaded.
            #expect(throws: LoadError.self) {
                try db.load(paths: [b], into: "t") { $0.jobs = .count(jobs) }
            }
        }
        #expect(ledgers[0] == ledgers[1])
        #expect(results[0] == results[1])
    }

    @Test func anErrorInALaterPartNamesTheFilesOwnLineAndCommitsNothing() throws {
        var text = Self.csv(1...3000)
        // The record of id 2500 gets a fifth field.
        let range = try #require(text.range(of: "\n2500,"))
        let lineOf2500 = text[..<range.lowerBound].utf8.filter { $0 == 10 }.count + 2
        text.replaceSubrange(range, with: "\n2500,x,1,2024-01-01,extra\n2500b,")
        let path = try TestDatabase.file("bad.csv", text)
        for existing in [false, true] {
            let db = try TestDatabase()
            if existing { try db.load("id,note,amount,day\n0,z,1,2024-01-01\n", as: "seed.csv", into: "t") }
            let error = try #require(throws: InputError.self) {
                try db.load(paths: [path], into: "t") {
                    Self.small(&$0)
                    $0.jobs = .count(2)
                    $0.readers = .count(2)
                }
            }
            #expect(error.line == lineOf2500, "\(error)")
            #expect(error.description.contains("expected 4 fields"), "\(error)")
            #expect(try db.tables(startingWith: "_pgsink_parallel_").isEmpty)
            #expect(try db.exists("t") == existing)
            if existing { #expect(try db.count("t") == 1) }
        }
    }

    @Test func theSummarySaysHowTheInputWasRead() throws {
        // Twice the default part size: cut in two.
        let db = try TestDatabase()
        let path = try TestDatabase.file("t.csv", Self.csv(1...400_000))
        let run = try CommandLineTests.run(["load", path, "--to", db.url, "--schema", db.schema, "--table", "t", "--jobs", "2", "--readers", "2"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("read in 2 parts by 2 readers"), "\(run.stdout)")
        #expect(try db.count("t") == 400_000)
    }

    @Test func aPartOfAFileThatShrankFailsInsteadOfLosingRows() throws {
        let path = try TestDatabase.file("short.csv", "id\n1\n2\n")
        let file = try InputFile(path: path, range: 3..<40)
        let storage = ByteStorage(capacity: 64)
        let error = try #require(throws: InputError.self) {
            while try file.read(into: storage, count: 64) > 0 {}
        }
        #expect(error.description.contains("shorter than when the load started"), "\(error)")
        let whole = try InputFile(path: path, range: 3..<7)
        #expect(try whole.read(into: storage, count: 64) == 4)
        #expect(try whole.read(into: storage, count: 64) == 0)
    }

    @Test func autoReadsWithTheCoresTheConnectionsLeave() throws {
        #expect(AutoJobs.readers(jobs: 4, client: 16, serverIsLocal: false) == 4)
        #expect(AutoJobs.readers(jobs: 4, client: 2, serverIsLocal: false) == 2)
        #expect(AutoJobs.readers(jobs: 4, client: 16, serverIsLocal: true) == 4)
        #expect(AutoJobs.readers(jobs: 2, client: 2, serverIsLocal: true) == 1)
        #expect(AutoJobs.readers(jobs: 2, client: 3, serverIsLocal: true) == 1)
        #expect(AutoJobs.readers(jobs: 2, client: 4, serverIsLocal: true) == 2)
        // The test server is on this machine: auto reads with what the connections leave.
        let db = try TestDatabase()
        #expect(db.connection.serverLooksLocal)
        let path = try TestDatabase.file("t.csv", Self.csv(1...3000))
        let summary = try db.load(paths: [path], into: "t") {
            Self.small(&$0)
            $0.jobs = .count(2)
        }
        let expected = AutoJobs.readers(jobs: 2, client: ProcessInfo.processInfo.activeProcessorCount, serverIsLocal: true)
        #expect(summary.readers == (expected > 1 ? expected : nil))
    }

    @Test func emptyFilesHeaderOnlyFilesAndNamesThatDifferByCaseEndAsWithOneReader() throws {
        let paths = try [
            TestDatabase.file("empty.csv", ""), TestDatabase.file("header.csv", "id,name\n"),
            TestDatabase.file("rows.csv", "id,name\n1,a\n2,b\n"), TestDatabase.file("case.csv", "ID,Name,extra\n3,c,x\n"),
            TestDatabase.file("j.jsonl", "{\"id\": 5, \"NAME\": \"e\"}\n"),
        ]
        var tables: [[[String?]]] = []
        // Several times with two readers: which reader gets ahead differs from run to run.
        for jobs in [1, 2, 2, 2, 2, 2] {
            let db = try TestDatabase()
            let summary = try db.load(paths: paths, into: "t") {
                $0.jobs = .count(jobs)
                $0.readers = .count(jobs)
            }
            #expect(summary.rows == 4)
            #expect(summary.partsRead == (jobs == 1 ? nil : 5))
            let columns = try db.rows(
                "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = '\(db.schema)' "
                    + "AND table_name = 't' ORDER BY ordinal_position")
            tables.append(columns + (try db.rows("SELECT t::text FROM \(db.table("t").quoted) t ORDER BY 1")))
        }
        for table in tables.dropFirst() { #expect(table == tables[0]) }
    }

    @Test func oneSmallFileIsReadByOneReaderAndReportedOnce() throws {
        let db = try TestDatabase()
        let summary = try db.load(Self.csv(1...50), as: "small.csv", into: "t") {
            $0.jobs = .count(2)
            $0.readers = .count(2)
        }
        #expect(summary.partsRead == nil)
        #expect(summary.csvDialects?.count == 1)
        #expect(summary.rows == 50)
    }

    @Test func aLaterSmallFileDoesNotTypeAColumnBeforeTheFirstFileDoes() throws {
        // The first file's first batch is slow to make and has no value for `a` (text, as one
        // reader types it); the second is quick and has a number there.
        let first = try TestDatabase.file("first.csv", "a,b\n" + String(repeating: ",some text to scan\n", count: 20_000))
        let second = try TestDatabase.file("second.csv", "a,b\n1,x\n")
        for _ in 0..<3 {
            let db = try TestDatabase()
            try db.load(paths: [first, second], into: "t") {
                $0.jobs = .count(2)
                $0.readers = .count(2)
            }
            #expect(try db.columnTypes("t") == ["a": "text", "b": "text"])
        }
    }
}
