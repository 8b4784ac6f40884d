import Foundation
import PGSink
import PGSinkCore
import Testing

/// `pgsink cdc apply` against a model: random change feeds (creates, updates, deletes, key changes,
/// replays of older events) applied in batches of every size must leave exactly the rows the
/// model says, after a lost connection, after kill -9 and a rerun. The Debezium formats and
/// encodings themselves are corpus cases (Tests/Corpus/12-cdc-*).
@Suite("CDC apply")
struct CDCApplyTests {
    /// A Debezium feed and what applying it in order must leave.
    struct Feed {
        var lines: [String] = []
        /// Key → (name, qty, deleted): the model's rows.
        var rows: [Int: (name: String, qty: Int, deleted: Bool)] = [:]
        var lsn: Int64 = 1000

        /// An envelope in a console-consumer line.
        mutating func event(
            _ op: String, key: Int, before: String = "null", after: String = "null", table: String = "items",
            lsn fixed: Int64? = nil
        ) {
            if fixed == nil { lsn += 10 }
            let position = fixed ?? lsn
            lines.append(
                #"{"key":{"id":\#(key)},"value":{"before":\#(before),"after":\#(after),"source":{"connector":"postgresql","#
                    + #""db":"shop","schema":"public","table":"\#(table)","lsn":\#(position),"ts_ms":\#(1_700_000_000_000 + position)},"#
                    + #""op":"\#(op)","ts_ms":\#(1_700_000_000_000 + position + 5)}}"#)
        }

        static func row(_ key: Int, _ name: String, _ qty: Int) -> String {
            #"{"id":\#(key),"name":"\#(name)","qty":\#(qty)}"#
        }

        /// `count` random changes to keys 1...`keys`: creates of missing keys, updates, deletes
        /// (followed by a tombstone, as Debezium sends them) and key changes (Debezium's delete of the
        /// old key plus create of the new one, or an update whose `before` holds the old key).
        static func random(seed: UInt64, count: Int, keys: Int, soft: Bool = false, replays: Bool = false) -> Feed {
            var feed = Feed()
            var random = SplitMix(seed: seed)
            var history: [(String, Int64)] = []
            func pick(_ n: Int) -> Int { Int(random.next() % UInt64(n)) }
            for step in 0..<count {
                let key = 1 + pick(keys)
                let name = "n\(step)"
                let qty = pick(1000)
                if replays, !history.isEmpty, pick(10) == 0 {
                    // An at-least-once replay of an older event: the model ignores it (soft deletes keep
                    // the row's position, hard deletes a tombstone, so nothing older can come back).
                    feed.lines.append(history[pick(history.count)].0)
                    continue
                }
                guard let current = feed.rows[key], !current.deleted else {
                    feed.event("c", key: key, after: row(key, name, qty))
                    feed.rows[key] = (name, qty, false)
                    history.append((feed.lines.last!, feed.lsn))
                    continue
                }
                switch pick(10) {
                case 0..<6:
                    feed.event("u", key: key, before: row(key, current.name, current.qty), after: row(key, name, qty))
                    feed.rows[key] = (name, qty, false)
                case 6..<8:
                    feed.event("d", key: key, before: row(key, current.name, current.qty))
                    // A replay takes the delete, not its tombstone: a tombstone replayed alone has no
                    // position and counts as the newest change (docs/cdc.md).
                    history.append((feed.lines.last!, feed.lsn))
                    feed.lines.append(#"{"key":{"id":\#(key)},"value":null}"#)
                    feed.rows[key] = soft ? (current.name, current.qty, true) : nil
                    continue
                default:
                    // The key moves to one no live row holds.
                    let moved = keys + 1 + step
                    if pick(2) == 0 {
                        feed.event("d", key: key, before: row(key, current.name, current.qty))
                        feed.lines.append(#"{"key":{"id":\#(key)},"value":null}"#)
                        feed.event("c", key: moved, after: row(moved, name, qty))
                    } else {
                        feed.event("u", key: moved, before: row(key, current.name, current.qty), after: row(moved, name, qty))
                    }
                    feed.rows[key] = soft ? (current.name, current.qty, true) : nil
                    feed.rows[moved] = (name, qty, false)
                }
                history.append((feed.lines.last!, feed.lsn))
            }
            return feed
        }

        var text: String { lines.joined(separator: "\n") + "\n" }

        /// The model's rows as `id|name|qty|deleted`, ordered.
        var expected: [String] {
            rows.keys.sorted().map { key in
                let row = rows[key]!
                return "\(key)|\(row.name)|\(row.qty)|\(row.deleted)"
            }
        }
    }

    static func rows(_ db: TestDatabase, _ table: String = "items") throws -> [String] {
        try db.column(
            "SELECT concat_ws('|', id, name, qty, (_pgsink_deleted_at IS NOT NULL)::text) FROM \(db.table(table).quoted) ORDER BY id"
        ).map { $0 ?? "" }
    }

    static func apply(_ db: TestDatabase, _ arguments: [String], url: String? = nil, stdin: String? = nil) throws
        -> CommandLineTests.Run
    {
        try CommandLineTests.run(
            ["cdc", "apply"] + arguments + ["--to", url ?? db.url, "--schema", db.schema, "--table-format", "{table}"],
            stdin: stdin)
    }

    @Test(arguments: [(1, 1, false), (2, 7, false), (3, 50, false), (4, 100_000, false), (5, 3, true), (6, 40, true)])
    func randomFeedsLeaveWhatTheModelSays(_ seed: Int, _ batch: Int, _ soft: Bool) throws {
        let db = try TestDatabase()
        let feed = Feed.random(seed: UInt64(seed), count: 400, keys: 25, soft: soft, replays: true)
        let path = try TestDatabase.file("feed.jsonl", feed.text)
        let run = try Self.apply(db, [path, "--batch-size", String(batch), "--deletes", soft ? "soft" : "hard"])
        #expect(run.status == 0, "\(run.stderr)")
        let got = try Self.rows(db)
        #expect(got == feed.expected, "\(Set(got).symmetricDifference(feed.expected).sorted())")
        // The same feed again (a replay of everything, from stdin: no position to resume from) changes nothing.
        let again = try Self.apply(db, ["-", "--batch-size", String(batch), "--deletes", soft ? "soft" : "hard"], stdin: feed.text)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Self.rows(db) == feed.expected)
    }

    @Test func aReplayedOlderChangeNeverOverwritesANewerOne() throws {
        let db = try TestDatabase()
        var feed = Feed()
        feed.event("c", key: 1, after: Feed.row(1, "first", 1), lsn: 100)
        feed.event("u", key: 1, after: Feed.row(1, "newest", 3), lsn: 300)
        #expect(try Self.apply(db, ["-"], stdin: feed.text).status == 0)
        var replay = Feed()
        replay.event("u", key: 1, after: Feed.row(1, "older", 2), lsn: 200)
        replay.event("c", key: 1, after: Feed.row(1, "first", 1), lsn: 100)
        let run = try Self.apply(db, ["-"], stdin: replay.text)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Self.rows(db) == ["1|newest|3|false"])
        #expect(try db.column("SELECT _pgsink_lsn::text FROM \(db.table("items").quoted)") == ["300"])
        // Within one batch too: the newest by position wins, not the last to arrive.
        var mixed = Feed()
        mixed.event("u", key: 2, after: Feed.row(2, "b-new", 2), lsn: 500)
        mixed.event("c", key: 2, after: Feed.row(2, "b-old", 1), lsn: 400)
        #expect(try Self.apply(db, ["-"], stdin: mixed.text).status == 0)
        #expect(try Self.rows(db) == ["1|newest|3|false", "2|b-new|2|false"])
    }

    /// A hard delete leaves a tombstone: a replayed create or update older than the delete stays out
    /// (in a later batch, a later run, or the same batch), a newer create brings the key back, and a
    /// table made anew starts without the tombstones of the one before.
    @Test func aHardDeleteKeepsAReplayedOlderCreateOut() throws {
        let db = try TestDatabase()
        var feed = Feed()
        feed.event("c", key: 1, after: Feed.row(1, "one", 1), lsn: 100)
        feed.event("c", key: 2, after: Feed.row(2, "two", 2), lsn: 110)
        feed.event("d", key: 1, before: Feed.row(1, "one", 1), lsn: 200)
        feed.lines.append(#"{"key":{"id":1},"value":null}"#)
        #expect(try Self.apply(db, ["-"], stdin: feed.text).status == 0)
        #expect(try Self.rows(db) == ["2|two|2|false"])
        let tombstone = "SELECT key || '@' || _pgsink_lsn FROM \(db.table("_pgsink_deletes").quoted) WHERE table_name = 'items'"
        #expect(try db.column(tombstone) == ["(1)@200"])
        var replay = Feed()
        replay.event("c", key: 1, after: Feed.row(1, "one", 1), lsn: 100)
        replay.event("u", key: 1, after: Feed.row(1, "one-b", 5), lsn: 150)
        let run = try Self.apply(db, ["-"], stdin: replay.text)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Self.rows(db) == ["2|two|2|false"])
        // A replay in the same batch as the delete, and an older delete replayed: neither changes anything.
        var mixed = Feed()
        mixed.event("d", key: 2, before: Feed.row(2, "two", 2), lsn: 300)
        mixed.event("c", key: 2, after: Feed.row(2, "two", 2), lsn: 110)
        mixed.event("d", key: 1, before: Feed.row(1, "one", 1), lsn: 120)
        #expect(try Self.apply(db, ["-"], stdin: mixed.text).status == 0)
        #expect(try Self.rows(db) == [])
        #expect(try db.column(tombstone + " ORDER BY key") == ["(1)@200", "(2)@300"])
        // A create newer than the delete brings the key back.
        var newer = Feed()
        newer.event("c", key: 1, after: Feed.row(1, "again", 9), lsn: 400)
        #expect(try Self.apply(db, ["-"], stdin: newer.text).status == 0)
        #expect(try Self.rows(db) == ["1|again|9|false"])
        // The table dropped and the feed applied from its start: the old table's tombstones are gone.
        try db.connection.execute("DROP TABLE \(db.table("items").quoted)")
        var start = Feed()
        start.event("c", key: 2, after: Feed.row(2, "two", 2), lsn: 110)
        #expect(try Self.apply(db, ["-"], stdin: start.text).status == 0)
        #expect(try Self.rows(db) == ["2|two|2|false"])
        #expect(try db.column(tombstone) == [])
    }

    /// Where the connection is lost: after COMMIT, at the ledger row (before COMMIT), and inside
    /// the first batch's CREATE TABLE.
    @Test(arguments: ExactlyOnceTests.drops)
    func aFeedLosingItsConnectionIsAppliedOnce(_ match: String?) throws {
        let db = try TestDatabase()
        try db.load("x\n1\n", as: "ledger.csv", into: "ledger")
        let proxy = try ExactlyOnceTests.Proxy(db, match: match)
        let feed = Feed.random(seed: 42, count: 300, keys: 20)
        let path = try TestDatabase.file("feed.jsonl", feed.text)
        let run = try Self.apply(db, [path, "--batch-size", "40"], url: proxy.url)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(proxy.drops == 1)
        #expect(try Self.rows(db) == feed.expected)
        let state = try db.column("SELECT state->'inputs'->'\(path)'->>'line' FROM \(db.table("_pgsink_state").quoted) WHERE id = 'cdc'")
        #expect(state == [String(feed.lines.count)])
    }

    @Test func killedMidFeedARerunGoesOnAfterTheLastCommit() throws {
        let db = try TestDatabase()
        let feed = Feed.random(seed: 7, count: 3000, keys: 200)
        let half = feed.lines.count / 2
        // The first run reads a FIFO at the path the second run finds the whole feed at: the same
        // input, cut where the first run was killed.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pgsink-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("feed.jsonl").path
        #expect(mkfifo(path, 0o600) == 0)
        let (process, _, errors) = try InterruptTests.start(
            ["cdc", "apply", path, "--to", db.url, "--schema", db.schema, "--table-format", "{table}", "--batch-size", "100",
             "--batch-seconds", "0.2"])
        let writer = try #require(FileHandle(forWritingAtPath: path))
        writer.write(Data((feed.lines[..<half].joined(separator: "\n") + "\n").utf8))
        let stateTable = db.table("_pgsink_state").quoted
        let saved = "SELECT coalesce((SELECT (state->'inputs'->'\(path)'->>'line')::int FROM \(stateTable) WHERE id = 'cdc'), 0)"
        #expect(try ExactlyOnceTests.eventually {
            try db.exists("_pgsink_state") && (Int(try db.column(saved).first.flatMap { $0 } ?? "0") ?? 0) == half
        })
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? writer.close()
        #expect(process.terminationReason == .uncaughtSignal, "\((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
        try FileManager.default.removeItem(atPath: path)
        try feed.text.write(toFile: path, atomically: true, encoding: .utf8)
        let run = try Self.apply(db, [path, "--batch-size", "100"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("going on from line \(half + 1)"), "\(run.stderr)")
        #expect(try Self.rows(db) == feed.expected)
    }

    @Test func truncatesApplyOnlyWhenAskedAndKeepTheirPlace() throws {
        let db = try TestDatabase()
        var feed = Feed()
        feed.event("c", key: 1, after: Feed.row(1, "a", 1))
        feed.event("c", key: 2, after: Feed.row(2, "b", 2))
        feed.lines.append(#"{"key":null,"value":{"source":{"schema":"public","table":"items","lsn":5000,"ts_ms":1},"op":"t","ts_ms":2}}"#)
        feed.event("c", key: 3, after: Feed.row(3, "c", 3))
        let skipped = try Self.apply(db, ["-"], stdin: feed.text)
        #expect(skipped.status == 0, "\(skipped.stderr)")
        #expect(skipped.stderr.contains("pass --truncate"), "\(skipped.stderr)")
        #expect(try Self.rows(db).count == 3)
        try db.connection.execute("DROP TABLE \(db.table("items").quoted)")
        let applied = try Self.apply(db, ["-", "--truncate"], stdin: feed.text)
        #expect(applied.status == 0, "\(applied.stderr)")
        #expect(try Self.rows(db) == ["3|c|3|false"])
    }

    @Test func aBadLineFailsNamingItAndCommitsNothingOfItsBatch() throws {
        let db = try TestDatabase()
        var feed = Feed()
        feed.event("c", key: 1, after: Feed.row(1, "a", 1))
        feed.lines.append(#"{"key":{"id":2},"value":{"after":{"id":2},"op":"x","source":{"table":"items","schema":"s"}}}"#)
        let path = try TestDatabase.file("bad.jsonl", feed.text)
        let run = try Self.apply(db, [path])
        #expect(run.status == 1)
        #expect(run.stderr.contains("bad.jsonl:2"), "\(run.stderr)")
        #expect(run.stderr.contains("unknown op \"x\""), "\(run.stderr)")
        #expect(try !db.exists("items"))
    }
}
