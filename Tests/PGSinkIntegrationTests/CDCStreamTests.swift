import Foundation
import PGSink
import PGSinkCore
import Testing

/// `pgsink cdc stream` between two real clusters: the source (`wal_level=logical`, started by
/// scripts/test as PGSINK_TEST_SOURCE_URL) and the destination test server. After each run the
/// destination must equal the source, compared as multisets of rows (EXCEPT ALL both ways).
@Suite("CDC stream", .serialized)
struct CDCStreamTests {
    /// A private schema on the source, with its own publication and slot, dropped at the end.
    final class Source {
        let url: String
        let schema: String
        let connection: PGConnection
        var slot: String { "pgsink_\(schema)" }
        var publication: String { "pub_\(schema)" }

        struct Missing: Error, CustomStringConvertible {
            var description: String {
                "PGSINK_TEST_SOURCE_URL is not set: run the tests with `make test`, which starts a source cluster with wal_level=logical"
            }
        }

        init() throws {
            guard let url = ProcessInfo.processInfo.environment["PGSINK_TEST_SOURCE_URL"], !url.isEmpty else { throw Missing() }
            self.url = url
            schema = "s_" + UUID().uuidString.prefix(8).lowercased()
            connection = try PGConnection.connect(url)
            try connection.execute("CREATE SCHEMA \(schema)")
        }

        func sql(_ statements: String...) throws {
            for statement in statements { try connection.execute(statement) }
        }

        deinit {
            _ = try? connection.query(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", [slot])
            _ = try? connection.execute("DROP PUBLICATION IF EXISTS \(publication)")
            _ = try? connection.execute("DROP SCHEMA \(schema) CASCADE")
        }
    }

    static func stream(_ source: Source, _ db: TestDatabase, _ extra: [String] = []) throws -> CommandLineTests.Run {
        try CommandLineTests.run(arguments(source, db) + ["--once"] + extra)
    }

    /// `cdc stream` of the source's `items` into the database's schema (through `to`, when given).
    static func arguments(_ source: Source, _ db: TestDatabase, to: String? = nil) -> [String] {
        ["cdc", "stream", "--from", source.url, "--to", to ?? db.url, "--publication", source.publication, "--slot", source.slot,
         "--tables", "\(source.schema).items", "--schema-map", "\(source.schema)=\(db.schema)", "--schema", db.schema]
    }

    /// The rows of `columns` in a table, as text, sorted.
    static func rows(_ connection: PGConnection, _ table: String, _ columns: String) throws -> [String] {
        try connection.execute("SELECT \(columns) FROM \(table)").rows.map { row in
            row.map { $0 ?? "<null>" }.joined(separator: "|")
        }.sorted()
    }

    static func expectSame(_ source: Source, _ db: TestDatabase, _ columns: String, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        let theirs = try rows(source.connection, "\(source.schema).items", columns)
        let ours = try rows(db.connection, db.table("items").quoted, columns)
        // EXCEPT ALL in both directions: the same rows, as often.
        var missing = theirs, extra = ours
        for row in ours { if let i = missing.firstIndex(of: row) { missing.remove(at: i) } }
        for row in theirs { if let i = extra.firstIndex(of: row) { extra.remove(at: i) } }
        #expect(missing.isEmpty, "rows of the source missing at the destination: \(missing.prefix(5))", sourceLocation: sourceLocation)
        #expect(extra.isEmpty, "rows at the destination the source does not have: \(extra.prefix(5))", sourceLocation: sourceLocation)
        #expect(theirs.count == ours.count, sourceLocation: sourceLocation)
    }

    @Test func aSnapshotThenEveryKindOfChangeLeavesTheDestinationEqualToTheSource() throws {
        let source = try Source()
        let db = try TestDatabase()
        let items = "\(source.schema).items"
        try source.sql(
            "CREATE TABLE \(items) (id int PRIMARY KEY, name text, qty int, price numeric(10,2), at timestamptz, tags text[], doc jsonb, big text)",
            "ALTER TABLE \(items) ALTER COLUMN big SET STORAGE EXTERNAL",
            "INSERT INTO \(items) SELECT g, 'item ' || g, g, g * 1.25, '2024-01-01'::timestamptz + g * interval '1 minute', "
                + "ARRAY['a', 'b\tc'], jsonb_build_object('k', g), CASE WHEN g % 100 = 0 THEN repeat('x', 9000) END "
                + "FROM generate_series(1, 2000) g")
        let first = try Self.stream(source, db)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("with the snapshot"), "\(first.stderr)")
        let columns = "id, name, qty, price, at, tags, doc, md5(big)"
        try Self.expectSame(source, db, columns)
        // The source's exact types.
        #expect(
            try db.column(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '\(db.table("items").quoted)'::regclass "
                    + "AND attname IN ('price', 'tags', 'at') ORDER BY attname")
                == ["timestamp with time zone", "numeric(10,2)", "text[]"])

        try source.sql(
            "INSERT INTO \(items) (id, name, qty) VALUES (5000, 'new', 1)",
            "UPDATE \(items) SET qty = qty + 1000 WHERE id <= 50",
            "DELETE FROM \(items) WHERE id BETWEEN 51 AND 80",
            "UPDATE \(items) SET id = 6000 WHERE id = 90",
            // An unchanged TOASTed value (pgoutput sends 'u'): the destination keeps it.
            "UPDATE \(items) SET qty = 7 WHERE id = 100",
            "BEGIN; INSERT INTO \(items) (id, name) VALUES (7000, 'in a transaction'); UPDATE \(items) SET name = 'changed' WHERE id = 7000; COMMIT",
            "ALTER TABLE \(items) ADD COLUMN note text",
            "UPDATE \(items) SET note = 'noted ' || id WHERE id BETWEEN 200 AND 210")
        let second = try Self.stream(source, db)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(!second.stderr.contains("with the snapshot"))
        try Self.expectSame(source, db, columns + ", note")
        // The slot was told what the destination committed.
        let lag = try source.connection.query(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn) < 1000000 FROM pg_replication_slots WHERE slot_name = $1",
            [source.slot]
        ).rows.first?[0]
        #expect(lag == "t")

        try source.sql("TRUNCATE \(items)", "INSERT INTO \(items) (id, name) VALUES (1, 'after the truncate')")
        let third = try Self.stream(source, db)
        #expect(third.status == 0, "\(third.stderr)")
        try Self.expectSame(source, db, columns + ", note")
        #expect(try db.count("items") == 1)
    }

    /// The snapshot's binary COPY goes to the destination untouched, for every built-in type,
    /// NULLs and values the text form spells awkwardly; a destination table whose types differ
    /// from the source's gets the rows read as text instead, and the same values.
    @Test func aBinarySnapshotCarriesEveryBuiltInTypeAndFallsBackToTextWhenTheTypesDiffer() throws {
        let source = try Source()
        let db = try TestDatabase()
        let items = "\(source.schema).items"
        try source.sql(
            "CREATE TABLE \(items) (id bigint PRIMARY KEY, s smallint, i int, r real, d double precision, n numeric, "
                + "n2 numeric(12,3), b boolean, dt date, t time, tz timetz, ts timestamp, tstz timestamptz, iv interval, "
                + "u uuid, by bytea, j json, jb jsonb, ta text[], ia int[], ip inet, vc varchar(10), ch char(3), "
                + "tx text, pt point, rg int4range, bits bit varying(8), mo money)",
            "INSERT INTO \(items) SELECT g, (g % 30000)::smallint, -g, g / 3.0, 'NaN', 'Infinity', g * 1.5, g % 2 = 0, "
                + "'infinity'::date, '23:59:59.999999', '01:02:03+05:30', '0001-01-01 00:00:00', '2024-02-29 12:00:00+00', "
                + "'1 year -2 days 03:00', gen_random_uuid(), '\\x00ff0a'::bytea, '{\"a\": [1, 2]}', '{\"b\": null}', "
                + "ARRAY['x', NULL, 'tab\there', ''], ARRAY[1, NULL, 3], '10.0.0.1/8', 'é' || g, 'ab', "
                + "E'line\\nnext \\\\ back', point(g, -g), int4range(g, g + 10), B'1011', g * 0.01 "
                + "FROM generate_series(1, 3000) g",
            "INSERT INTO \(items) (id) VALUES (0)")
        let first = try Self.stream(source, db, ["--log-level", "info"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("copying \"\(source.schema)\".\"items\" in binary"), "\(first.stderr)")
        let columns = "id, s, i, r, d, n, n2, b, dt, t, tz, ts, tstz, iv, u, by, j::text, jb, ta, ia, ip, vc, ch, tx, pt::text, rg, bits, mo"
        try Self.expectSame(source, db, columns)
        // After the snapshot, a change to a row it copied is an update, not a second row.
        try source.sql("UPDATE \(items) SET tx = 'changed' WHERE id = 7", "DELETE FROM \(items) WHERE id = 8")
        let second = try Self.stream(source, db)
        #expect(second.status == 0, "\(second.stderr)")
        try Self.expectSame(source, db, columns)

        // A destination whose column types differ: the rows travel as text and are typed as usual.
        let other = try Source()
        let otherItems = "\(other.schema).items"
        try other.sql(
            "CREATE TABLE \(otherItems) (id int PRIMARY KEY, qty int, at timestamptz)",
            "INSERT INTO \(otherItems) SELECT g, g * 2, '2024-01-01'::timestamptz + g * interval '1 hour' FROM generate_series(1, 500) g")
        let db2 = try TestDatabase()
        try db2.connection.execute("CREATE TABLE \(db2.table("items").quoted) (id int PRIMARY KEY, qty bigint, at timestamptz)")
        let third = try Self.stream(other, db2, ["--log-level", "info"])
        #expect(third.status == 0, "\(third.stderr)")
        let copying = "copying \"\(other.schema)\".\"items\""
        #expect(third.stderr.contains(copying) && !third.stderr.contains(copying + " in binary"), "\(third.stderr)")
        try Self.expectSame(other, db2, "id, qty, at")

        // Columns whose names differ only by case: each lands in its own column, with its own values.
        let cased = try Source()
        let casedItems = "\(cased.schema).items"
        try cased.sql(
            "CREATE TABLE \(casedItems) (id int PRIMARY KEY, \"V\" bigint, v text)",
            "INSERT INTO \(casedItems) SELECT g, g * 10, 'v' || g FROM generate_series(1, 50) g")
        let db3 = try TestDatabase()
        let fourth = try Self.stream(cased, db3)
        #expect(fourth.status == 0, "\(fourth.stderr)")
        // "V" came first and is v; "v" is v_2 (as for a file load).
        #expect(try db3.column("SELECT v || '|' || v_2 FROM \(db3.table("items").quoted) WHERE id = 7") == ["70|v7"])
        #expect(try db3.count("items") == 50)
    }

    @Test func killedMidStreamAResumeAppliesEverythingOnce() throws {
        let source = try Source()
        let db = try TestDatabase()
        let items = "\(source.schema).items"
        try source.sql("CREATE TABLE \(items) (id int PRIMARY KEY, v int)", "INSERT INTO \(items) VALUES (0, 0)")
        #expect(try Self.stream(source, db).status == 0)
        // Many small source transactions, then pgsink killed while it applies them.
        for block in 0..<20 {
            try source.sql(
                "INSERT INTO \(items) SELECT g, g FROM generate_series(\(block * 1000 + 1), \(block * 1000 + 1000)) g",
                "UPDATE \(items) SET v = v + 1 WHERE id % 7 = 0", "DELETE FROM \(items) WHERE id % 11 = 0 AND id > \(block * 500)")
        }
        let (process, _, _) = try InterruptTests.start(
            Self.arguments(source, db) + ["--once", "--batch-seconds", "0.05"])
        #expect(try ExactlyOnceTests.eventually { try db.count("items") > 1 })
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let resumed = try Self.stream(source, db)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        try Self.expectSame(source, db, "id, v")
    }

    /// Types of the source's own (an enum, an array of it, domains) land as what the destination
    /// surely has: text, text[], the domain's base type; the values are the same text.
    @Test func enumsAndDomainsOfTheSourceLandAsTextAndTheirBaseTypes() throws {
        let source = try Source()
        let db = try TestDatabase()
        let items = "\(source.schema).items"
        try source.sql(
            "CREATE TYPE \(source.schema).mood AS ENUM ('sad', 'ok', 'happy')",
            "CREATE DOMAIN \(source.schema).positive AS numeric(8,2) CHECK (VALUE > 0)",
            "CREATE DOMAIN \(source.schema).code AS varchar(5)",
            "CREATE TABLE \(items) (id int PRIMARY KEY, m \(source.schema).mood, ms \(source.schema).mood[], "
                + "p \(source.schema).positive, c \(source.schema).code)",
            "INSERT INTO \(items) VALUES (1, 'happy', '{sad,ok}', 12.5, 'ab'), (2, NULL, '{}', 1, NULL)")
        let first = try Self.stream(source, db)
        #expect(first.status == 0, "\(first.stderr)")
        try source.sql(
            "INSERT INTO \(items) VALUES (3, 'ok', '{happy}', 99.99, 'xyz')", "UPDATE \(items) SET m = 'sad' WHERE id = 1")
        let second = try Self.stream(source, db)
        #expect(second.status == 0, "\(second.stderr)")
        try Self.expectSame(source, db, "id, m::text, ms::text, p, c")
        #expect(
            try db.column(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '\(db.table("items").quoted)'::regclass "
                    + "AND attname IN ('m', 'ms', 'p', 'c') ORDER BY attname")
                == ["character varying(5)", "text", "text[]", "numeric(8,2)"])
    }

    /// The next run after a snapshot that did not commit: it drops the slot, copies a new
    /// snapshot, and the destination equals the source.
    static func expectANewSnapshot(_ source: Source, _ db: TestDatabase, _ columns: String, sourceLocation: SourceLocation = #_sourceLocation)
        throws
    {
        let again = try stream(source, db)
        #expect(again.status == 0, "\(again.stderr)", sourceLocation: sourceLocation)
        #expect(
            again.stderr.contains("dropping the slot to start again with a new snapshot"), "\(again.stderr)",
            sourceLocation: sourceLocation)
        try expectSame(source, db, columns, sourceLocation: sourceLocation)
    }

    /// kill -9 during the snapshot, which commits as one transaction: nothing of it is at the
    /// destination, the slot stays on the source, and the next run drops it and copies a new
    /// snapshot (streaming from the old slot would miss the snapshot's rows).
    @Test func killedDuringTheSnapshotTheNextRunCopiesItAgain() throws {
        let source = try Source()
        let db = try TestDatabase()
        let items = "\(source.schema).items"
        try source.sql(
            "CREATE TABLE \(items) (id int PRIMARY KEY, v text)",
            "INSERT INTO \(items) SELECT g, repeat('v', 50) || g FROM generate_series(1, 300000) g")
        let (process, _, _) = try InterruptTests.start(
            Self.arguments(source, db))
        // Killed once the snapshot's COPY runs (the slot is made by then: one killed while it is
        // still being made is gone, and the next run just makes one).
        #expect(try ExactlyOnceTests.eventually {
            try !source.connection.query(
                "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT %' AND query LIKE $1", ["%\(source.schema)%"]
            ).rows.isEmpty
        })
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(try !db.exists("items"), "the snapshot had committed before the kill: the test did not test a kill during it")
        try source.sql("DELETE FROM \(items) WHERE id % 3 = 0", "INSERT INTO \(items) VALUES (400000, 'after')")
        try Self.expectANewSnapshot(source, db, "id, v")
    }

    /// The destination's connection lost at the end of a snapshot too big to keep for a second
    /// try (over the writer's 32 MB): the run fails saying so, nothing is committed, and the next
    /// run copies the snapshot again.
    @Test func aConnectionLostDuringABigSnapshotFailsTheRunAndTheNextCopiesItAgain() throws {
        let source = try Source()
        let db = try TestDatabase()
        let items = "\(source.schema).items"
        try source.sql(
            "CREATE TABLE \(items) (id int PRIMARY KEY, v text)",
            "INSERT INTO \(items) SELECT g, repeat(md5(g::text), 13) FROM generate_series(1, 100000) g")
        let proxy = try ExactlyOnceTests.Proxy(db, match: "ADD PRIMARY KEY")
        let lost = try CommandLineTests.run(
            Self.arguments(source, db, to: proxy.url) + ["--once"])
        #expect(lost.status != 0)
        #expect(proxy.drops == 1)
        #expect(lost.stderr.contains("too big to run again from memory"), "\(lost.stderr)")
        #expect(try !db.exists("items"))
        try Self.expectANewSnapshot(source, db, "id, v")
    }

    @Test func aRunningStreamAppliesChangesAsTheyCommitAndStopsOnSIGTERM() throws {
        let source = try Source()
        let db = try TestDatabase()
        let items = "\(source.schema).items"
        try source.sql("CREATE TABLE \(items) (id int PRIMARY KEY, v text)", "INSERT INTO \(items) VALUES (1, 'a')")
        let (process, _, errors) = try InterruptTests.start(
            Self.arguments(source, db) + ["--batch-seconds", "0.2"])
        #expect(try ExactlyOnceTests.eventually { try db.exists("items") && db.count("items") == 1 })
        try source.sql("INSERT INTO \(items) VALUES (2, 'b')", "UPDATE \(items) SET v = 'c' WHERE id = 1")
        // Applied while it runs, within about a second.
        #expect(try ExactlyOnceTests.eventually {
            try db.column("SELECT string_agg(id || v, ',' ORDER BY id) FROM \(db.table("items").quoted)") == ["1c,2b"]
        })
        #expect(InterruptTests.finish(process, after: SIGTERM) == 143, "\((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
        try source.sql("DELETE FROM \(items) WHERE id = 2")
        #expect(try Self.stream(source, db).status == 0)
        try Self.expectSame(source, db, "id, v")
    }

    /// pgoutput does not resend a TOASTed value an update left alone. Whatever the column's type
    /// (an integer array, tsvector, numeric, jsonb, bytea, text), the destination keeps the stored
    /// value, and within one batch the key's earlier change gives it; no placeholder is ever stored.
    @Test func unchangedToastedValuesOfEveryTypeKeepTheirValue() throws {
        let source = try Source()
        let db = try TestDatabase()
        let items = "\(source.schema).items"
        let big = ["ints int[]", "words tsvector", "num numeric", "doc jsonb", "raw bytea", "body text"]
        try source.sql(
            "CREATE TABLE \(items) (id int PRIMARY KEY, qty int, \(big.joined(separator: ", ")))",
            "ALTER TABLE \(items) " + big.map { "ALTER COLUMN \($0.split(separator: " ")[0]) SET STORAGE EXTERNAL" }.joined(separator: ", "),
            "INSERT INTO \(items) SELECT g, g, (SELECT array_agg(i * g) FROM generate_series(1, 3000) i), "
                + "(SELECT string_agg('w' || i || 'x' || g, ' ') FROM generate_series(1, 800) i)::tsvector, "
                + "(repeat('9', 6000) || '.' || g)::numeric, (SELECT jsonb_agg(i + g) FROM generate_series(1, 1500) i), "
                + "convert_to(repeat('b' || g, 2000), 'UTF8'), repeat('t' || g, 3000) FROM generate_series(1, 20) g")
        #expect(try Self.stream(source, db).status == 0)
        let columns = "id, qty, md5(ints::text), md5(words::text), md5(num::text), md5(doc::text), md5(raw), md5(body)"
        try Self.expectSame(source, db, columns)
        try source.sql(
            // In later batches: only qty changes.
            "UPDATE \(items) SET qty = qty + 100 WHERE id <= 10",
            // In one transaction (one batch): a key whose big values change, then are left alone twice.
            "BEGIN; UPDATE \(items) SET ints = ARRAY[1, 2, 3], body = 'short now' WHERE id = 15; "
                + "UPDATE \(items) SET qty = -1 WHERE id = 15; UPDATE \(items) SET qty = -2 WHERE id = 15; COMMIT",
            "BEGIN; UPDATE \(items) SET qty = -3 WHERE id = 16; UPDATE \(items) SET qty = -4 WHERE id = 16; COMMIT")
        let run = try Self.stream(source, db)
        #expect(run.status == 0, "\(run.stderr)")
        try Self.expectSame(source, db, columns)
        #expect(try db.column("SELECT count(*) FROM \(db.table("items").quoted) WHERE body LIKE '%unchanged%' OR ints IS NULL") == ["0"])
    }

    @Test func aTableWithoutAKeyIsRefusedWithTheFix() throws {
        let source = try Source()
        let db = try TestDatabase()
        try source.sql("CREATE TABLE \(source.schema).items (a int, b text)", "INSERT INTO \(source.schema).items VALUES (1, 'x')")
        let run = try Self.stream(source, db)
        #expect(run.status == 1)
        #expect(run.stderr.contains("REPLICA IDENTITY FULL"), "\(run.stderr)")
        // With it, the table replicates (all columns are its key).
        try source.sql("ALTER TABLE \(source.schema).items REPLICA IDENTITY FULL")
        _ = try source.connection.query("SELECT pg_drop_replication_slot($1)", [source.slot])
        let again = try Self.stream(source, db)
        #expect(again.status == 0, "\(again.stderr)")
        try source.sql("UPDATE \(source.schema).items SET b = 'y'", "INSERT INTO \(source.schema).items VALUES (2, 'z')")
        #expect(try Self.stream(source, db).status == 0)
        try Self.expectSame(source, db, "a, b")
    }

    /// A snapshot's keys are new to the load only when the source keys its rows uniquely: then
    /// they go in unhashed and unordered. A new snapshot into a table that already has the rows
    /// (the slot dropped by hand) upserts them; a REPLICA IDENTITY FULL table's identical rows
    /// share their key (every column), and reduce to one, into a new table and an existing one.
    @Test func aNewSnapshotIntoAnExistingTableUpsertsAndRepeatedFullIdentityRowsReduceToOne() throws {
        let source = try Source()
        let db = try TestDatabase()
        let items = "\(source.schema).items"
        try source.sql(
            "CREATE TABLE \(items) (id int PRIMARY KEY, v text)",
            "INSERT INTO \(items) SELECT g, 'v' || g FROM generate_series(1, 3000) g")
        #expect(try Self.stream(source, db).status == 0)
        try source.sql("UPDATE \(items) SET v = 'changed' WHERE id % 7 = 0", "DELETE FROM \(items) WHERE id = 5")
        _ = try source.connection.query("SELECT pg_drop_replication_slot($1)", [source.slot])
        let again = try Self.stream(source, db)
        #expect(again.status == 0, "\(again.stderr)")
        // The snapshot upserts: row 5, deleted while no slot kept the change, stays (no feed said so).
        #expect(try db.count("items") == 3000)
        #expect(try db.column("SELECT count(*) FROM \(db.table("items").quoted) WHERE v = 'changed'") == ["428"])

        let dupes = "\(source.schema).dupes"
        try source.sql(
            "CREATE TABLE \(dupes) (a int, b text)", "ALTER TABLE \(dupes) REPLICA IDENTITY FULL",
            "INSERT INTO \(dupes) VALUES (1, 'x'), (1, 'x'), (2, 'y')")
        let arguments = ["cdc", "stream", "--from", source.url, "--to", db.url, "--publication", source.publication + "_d",
                         "--slot", source.slot + "_d", "--tables", dupes, "--schema-map", "\(source.schema)=\(db.schema)",
                         "--schema", db.schema, "--once"]
        defer { _ = try? source.connection.query("SELECT pg_drop_replication_slot($1)", [source.slot + "_d"]) }
        let first = try CommandLineTests.run(arguments)
        #expect(first.status == 0, "\(first.stderr)")
        let expected = ["1x,2y"]
        let query = "SELECT string_agg(a || b, ',' ORDER BY a) FROM \(db.table("dupes").quoted)"
        #expect(try db.column(query) == expected)
        _ = try source.connection.query("SELECT pg_drop_replication_slot($1)", [source.slot + "_d"])
        let second = try CommandLineTests.run(arguments)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try db.column(query) == expected)
    }

    @Test func aSourceWithoutLogicalWALSaysHowToTurnItOn() throws {
        let db = try TestDatabase()
        let level = try db.column("SHOW wal_level").first ?? nil
        try #require(level != "logical", "the destination test server must not have wal_level=logical for this test")
        let run = try CommandLineTests.run(["cdc", "stream", "--from", db.url, "--to", db.url, "--once"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("wal_level = logical"), "\(run.stderr)")
    }

    @Test func checkFromSaysWhatTheSourceLacks() throws {
        let source = try Source()
        let db = try TestDatabase()
        let good = try CommandLineTests.run(["check", "--from", source.url, "--slot", source.slot, "--publication", source.publication])
        #expect(good.status == 0, "\(good.stdout)\(good.stderr)")
        #expect(good.stdout.contains("✓ wal_level: logical"), "\(good.stdout)")
        #expect(good.stdout.contains("✓ replication role"), "\(good.stdout)")
        let bad = try CommandLineTests.run(["check", "--from", db.url])
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("✗ wal_level"), "\(bad.stdout)")
        #expect(bad.stdout.contains("fix: on the source: ALTER SYSTEM SET wal_level = logical"), "\(bad.stdout)")
    }

    @Test func statusAndDropNameTheSlot() throws {
        let source = try Source()
        let db = try TestDatabase()
        try source.sql("CREATE TABLE \(source.schema).items (id int PRIMARY KEY)")
        #expect(try Self.stream(source, db).status == 0)
        let status = try CommandLineTests.run(["cdc", "status", "--from", source.url, "--slot", source.slot])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("confirmed_flush_lsn: "), "\(status.stdout)")
        #expect(status.stdout.contains("lag_bytes: "), "\(status.stdout)")
        let drop = try CommandLineTests.run(["cdc", "drop", "--from", source.url, "--slot", source.slot])
        #expect(drop.status == 0, "\(drop.stderr)")
        #expect(try source.connection.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [source.slot]).rows.isEmpty)
        // A new slot of the same name starts over from its own snapshot, whatever the old one had applied.
        try source.sql("INSERT INTO \(source.schema).items VALUES (1), (2)")
        let again = try Self.stream(source, db)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("with the snapshot"), "\(again.stderr)")
        try source.sql("INSERT INTO \(source.schema).items VALUES (3)")
        #expect(try Self.stream(source, db).status == 0)
        try Self.expectSame(source, db, "id")
    }
}
