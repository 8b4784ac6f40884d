import Foundation
import PGSink
import PGSinkCore
import Testing

/// Exactly-once for every source: a connection lost right after COMMIT was sent (the server
/// committed, the client never heard), a connection lost inside a transaction, and kill -9 in the
/// middle of a parallel load or an Airbyte overwrite.
@Suite("Exactly once")
struct ExactlyOnceTests {
    /// scripts/commit-drop-proxy in front of the test server: it forwards everything, but the first
    /// `drops` times a client sends a query matching `match` (default COMMIT) it swallows the
    /// server's reply and resets the connection.
    final class Proxy {
        let process = Process()
        let url: String
        let errorPath: String

        init(_ db: TestDatabase, match: String? = nil, drops: Int = 1) throws {
            let root = CommandLineTests.executable.deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let components = try #require(URLComponents(string: db.url))
            let portFile = try TestDatabase.file("proxy.port", "")
            try FileManager.default.removeItem(atPath: portFile)
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", root.appendingPathComponent("scripts/commit-drop-proxy").path,
                "--target", "\(components.host ?? "127.0.0.1"):\(components.port ?? 5432)", "--port-file", portFile,
                "--drop-commits", String(drops)] + (match.map { ["--match", $0] } ?? [])
            errorPath = try TestDatabase.file("proxy.log", "")
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
            try process.run()
            var port: String?
            for _ in 0..<100 {
                if let text = try? String(contentsOfFile: portFile, encoding: .utf8), !text.isEmpty {
                    port = text.trimmingCharacters(in: .whitespacesAndNewlines)
                    break
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
            var through = components
            through.host = "127.0.0.1"
            through.port = Int(try #require(port))
            let query = (through.query.map { $0 + "&" } ?? "") + "sslmode=disable&gssencmode=disable"
            through.query = query
            url = try #require(through.string)
        }

        /// What the proxy dropped, from its log.
        var drops: Int {
            (try? String(contentsOfFile: errorPath, encoding: .utf8))?.components(separatedBy: "dropped the reply").count
                .advanced(by: -1) ?? 0
        }

        deinit {
            // SIGKILL: relay threads of open connections would keep a terminated proxy alive.
            kill(process.processIdentifier, SIGKILL)
            for _ in 0..<50 where process.isRunning { Thread.sleep(forTimeInterval: 0.02) }
        }
    }

    @Test func aLoadWhoseCommitReplyIsLostIsNotLoadedAgainAndPrintsItsSummary() throws {
        let db = try TestDatabase()
        let proxy = try Proxy(db)
        let path = try TestDatabase.file("lost.csv", "id,name\n1,a\n2,b\n3,c\n")
        let run = try CommandLineTests.run(["load", path, "--to", proxy.url, "--schema", db.schema, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(proxy.drops == 1)
        let summary = try JSONDecoder().decode(LoadSummary.self, from: Data(run.stdout.utf8))
        #expect(summary.rows == 3)
        #expect(try db.count("lost") == 3)
        #expect(try db.column("SELECT count(*) FROM \(db.table("_pgsink_loads").quoted)") == ["1"])
        #expect(run.stderr.contains("had committed"))
    }

    @Test func aLoadThatLosesItsConnectionBeforeCommitIsLoadedOnce() throws {
        let db = try TestDatabase()
        // The ledger row's INSERT is the transaction's last statement before COMMIT.
        let proxy = try Proxy(db, match: "INSERT INTO")
        let path = try TestDatabase.file("retried.csv", "id\n1\n2\n")
        let run = try CommandLineTests.run(["load", path, "--to", proxy.url, "--schema", db.schema])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(proxy.drops == 1)
        #expect(try db.count("retried") == 2)
    }

    static func singerMessages(_ stream: String) -> [String] {
        [SingerTests.schema(stream, #""id":{"type":"integer"},"v":{"type":"string"}"#, keys: [])]
            + (1...3).map { SingerTests.record(stream, #"{"id":\#($0),"v":"x"}"#) }
            + [#"{"type":"STATE","value":{"n":3}}"#]
            + (4...5).map { SingerTests.record(stream, #"{"id":\#($0),"v":"y"}"#) }
            + [#"{"type":"STATE","value":{"n":5}}"#]
    }

    static func singer(_ db: TestDatabase, _ url: String, _ messages: [String]) throws -> CommandLineTests.Run {
        let settings: [String: Any] = ["default_target_schema": db.schema, "batch_size_rows": 3]
        let file = try TestDatabase.file("target.json", try JSONSerialization.data(withJSONObject: settings))
        return try CommandLineTests.run(
            ["singer", "--config", file, "--to", url], stdin: messages.joined(separator: "\n") + "\n")
    }

    /// Where the connection is lost: after COMMIT, at the ledger row (before COMMIT), and inside
    /// the transaction's first step (its CREATE TABLE; the ledger exists beforehand, so the step's
    /// is the first CREATE TABLE "…" sent), which must then run once on the new connection.
    static let drops: [String?] = [nil, "INSERT INTO", "CREATE TABLE \""]

    @Test(arguments: drops)
    func aSingerStreamLosingItsConnectionLoadsEveryRecordOnce(_ match: String?) throws {
        let db = try TestDatabase()
        try db.load("x\n1\n", as: "ledger.csv", into: "ledger")
        let proxy = try Proxy(db, match: match)
        let run = try Self.singer(db, proxy.url, Self.singerMessages("events"))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(proxy.drops == 1)
        #expect(try db.count("events") == 5)
        #expect(try db.column("SELECT id::text FROM \(db.table("events").quoted) ORDER BY id") == ["1", "2", "3", "4", "5"])
        // Each state once, after its records.
        #expect(run.stdout == #"{"n":3}"# + "\n" + #"{"n":5}"# + "\n")
    }

    static func airbyteLines() -> [String] {
        (1...3).map { AirbyteTests.record("s", #"{"id":\#($0)}"#) } + [AirbyteTests.state(3)]
            + (4...5).map { AirbyteTests.record("s", #"{"id":\#($0)}"#) } + [AirbyteTests.state(5)]
    }

    @Test(arguments: drops)
    func anAirbyteSyncLosingItsConnectionLoadsEveryRecordOnce(_ match: String?) throws {
        let db = try TestDatabase()
        try db.load("x\n1\n", as: "ledger.csv", into: "ledger")
        let proxy = try Proxy(db, match: match)
        let config = try AirbyteTests.config(db, ["batch_size_rows": 3])
        let catalog = try AirbyteTests.catalog([
            AirbyteTests.stream("s", mode: "append", properties: ["id": ["type": "integer"]])
        ])
        let run = try CommandLineTests.run(
            ["airbyte", "write", "--config", config, "--catalog", catalog, "--to", proxy.url],
            stdin: Self.airbyteLines().joined(separator: "\n") + "\n")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(proxy.drops == 1)
        #expect(try db.count("s") == 5)
        let states = run.stdout.split(separator: "\n").filter { $0.contains("\"STATE\"") }
        #expect(states.count == 2)
        #expect(states.first?.contains("\"n\":3") == true)
    }

    @Test func anOverwriteKeepsViewsAndGrantsAndEchoesItsStatesOnlyAfterTheSwap() throws {
        let db = try TestDatabase()
        let table = db.table("s").quoted
        try db.connection.execute("CREATE TABLE \(table) (id bigint)")
        try db.connection.execute("INSERT INTO \(table) SELECT generate_series(1, 10)")
        try db.connection.execute("CREATE VIEW \(db.table("s_view").quoted) AS SELECT id FROM \(table)")
        try db.connection.execute("GRANT SELECT ON \(table) TO PUBLIC")
        let config = try AirbyteTests.config(db, ["batch_size_rows": 2])
        let catalog = try AirbyteTests.catalog([
            AirbyteTests.stream("s", mode: "overwrite", properties: ["id": ["type": "integer"]])
        ])
        let run = try AirbyteTests.write(db, config: config, catalog: catalog, Self.airbyteLines())
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.count("s") == 5)
        #expect(try db.column("SELECT count(*) FROM \(db.table("s_view").quoted)") == ["5"])
        #expect(try db.column("SELECT has_table_privilege('public', '\(db.schema).s', 'SELECT')::text") == ["true"])
        #expect(run.stdout.split(separator: "\n").filter { $0.contains("\"STATE\"") }.count == 2)
        #expect(try db.tables(startingWith: "_pgsink_ow").isEmpty)
    }

    /// Waits until `condition` holds (at most 20 s).
    static func eventually(_ condition: () throws -> Bool) throws -> Bool {
        for _ in 0..<200 {
            if try condition() { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    @Test func killingAnOverwriteMidwayLeavesTheOldRowsAndNothingElse() throws {
        let db = try TestDatabase()
        let table = db.table("s").quoted
        try db.connection.execute("CREATE TABLE \(table) (id bigint)")
        try db.connection.execute("INSERT INTO \(table) SELECT generate_series(1, 10)")
        let config = try AirbyteTests.config(db, ["batch_size_rows": 2])
        let catalog = try AirbyteTests.catalog([
            AirbyteTests.stream("s", mode: "overwrite", properties: ["id": ["type": "integer"]])
        ])
        let (process, input, _) = try InterruptTests.start(
            ["airbyte", "write", "--config", config, "--catalog", catalog], input: Self.airbyteLines())
        // The overwrite's transaction has deleted the old rows and copied new ones (not yet committed).
        #expect(try Self.eventually {
            try db.column("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 's' AND l.mode = 'RowExclusiveLock'") != ["0"]
        })
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? input.close()
        #expect(try Self.eventually { try db.column("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 's'") == ["0"] })
        #expect(try db.count("s") == 10)
        #expect(try db.column("SELECT count(*) FROM pg_tables WHERE schemaname = '\(db.schema)' AND tablename LIKE '\\_pgsink\\_%' AND tablename NOT IN ('_pgsink_loads', '_pgsink_state')") == ["0"])
        let again = try AirbyteTests.write(db, config: config, catalog: catalog, Self.airbyteLines())
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try db.count("s") == 5)
    }

    /// What drops the hidden table a killed parallel load left: the next load of the table, or `pgsink check`.
    @Test(arguments: ["load", "check"])
    func aParallelLoadKilledMidwayLeavesAHiddenTableTheNextLoadDrops(_ dropper: String) throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("big.csv", ParallelLoadTests.numbers(400_000))
        let (process, _, _) = try InterruptTests.start(
            ["load", path, "--to", db.url, "--schema", db.schema, "--table", "big", "--jobs", "2", "--batch-rows", "5000"])
        #expect(try Self.eventually { try !db.tables(startingWith: "_pgsink_parallel_big_").isEmpty })
        // Some batches committed into the hidden table.
        _ = try Self.eventually {
            guard let hidden = try db.tables(startingWith: "_pgsink_parallel_big_").first else { return false }
            return try db.count(hidden) > 0
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let leftover = try db.tables(startingWith: "_pgsink_parallel_big_")
        #expect(leftover.count == 1)
        #expect(try !db.exists("big"))
        // Once the backend the hidden table names is gone, the next load of the table drops it.
        let note = try db.column(
            "SELECT obj_description('\(db.schema).\(leftover[0])'::regclass, 'pg_class')")[0] ?? ""
        let pid = try #require(note.split(separator: ";").first { $0.hasPrefix(" pid=") }?.dropFirst(5))
        #expect(try Self.eventually { try db.column("SELECT count(*) FROM pg_stat_activity WHERE pid = \(pid)") == ["0"] })
        if dropper == "check" {
            let run = try CommandLineTests.run(["check", "--to", db.url, "--table", "\(db.schema).big"])
            #expect(run.stdout.contains("✓ hidden tables: dropped \(leftover[0]), left by killed parallel loads"), "\(run.stdout)")
            #expect(try db.tables(startingWith: "_pgsink_parallel_").isEmpty)
            let again = try CommandLineTests.run(["check", "--to", db.url, "--table", "\(db.schema).big"])
            #expect(again.stdout.contains("✓ hidden tables: none left by killed parallel loads"), "\(again.stdout)")
            return
        }
        let small = try TestDatabase.file("small.csv", "n\n1\n2\n")
        let run = try CommandLineTests.run(["load", small, "--to", db.url, "--schema", db.schema, "--table", "big"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.tables(startingWith: "_pgsink_parallel_").isEmpty)
        #expect(try db.count("big") == 2)
        #expect(run.stderr.contains("whose run is gone"))
    }
}
