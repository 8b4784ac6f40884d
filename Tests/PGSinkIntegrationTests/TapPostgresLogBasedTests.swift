import Foundation
import PGSink
import PGSinkCore
import Testing

/// A second real change-data-capture client: MeltanoLabs tap-postgres (scripts/install-test-tools) in
/// LOG_BASED mode, reading the logical replication source (PGSINK_TEST_SOURCE_URL) through a wal2json
/// slot (Debian's postgresql-N-wal2json, scripts/install-deps), piped into `pgsink singer`.
@Suite("tap-postgres LOG_BASED into pgsink singer", .serialized)
struct TapPostgresLogBasedTests {
    struct MissingWal2json: Error, CustomStringConvertible {
        let underlying: Error
        var description: String {
            "the source cannot create a wal2json slot (\(underlying)): run scripts/install-deps, which installs postgresql-N-wal2json"
        }
    }

    /// The tap's columns as text, one row per line, in the same shape on both sides: the source's table
    /// (`destination` false) or a destination written by pgsink. A timestamp is compared in UTC, a
    /// number at the source's scale, and a jsonb value by its JSON: tap-postgres sends a jsonb value it
    /// read from the WAL as the value's text (a JSON string), the rows of its first full sync as JSON.
    static func liveRows(_ connection: PGConnection, _ table: String, destination: Bool) throws -> [String] {
        let doc = destination ? "(CASE jsonb_typeof(doc) WHEN 'string' THEN (doc #>> '{}')::jsonb ELSE doc END)" : "doc"
        let live = destination ? " WHERE _sdc_deleted_at IS NULL" : ""
        return try connection.execute(
            "SELECT id::text, name, qty::text, price::numeric(10,2)::text, (at AT TIME ZONE 'UTC')::text, ok::text, \(doc)::text "
                + "FROM \(table)\(live)"
        ).rows.map { row in row.map { $0 ?? "<null>" }.joined(separator: "|") }.sorted()
    }

    /// Both lists hold the same rows, as often (EXCEPT ALL in both directions).
    static func expectSame(_ theirs: [String], _ ours: [String], _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        var missing = theirs, extra = ours
        for row in ours { if let i = missing.firstIndex(of: row) { missing.remove(at: i) } }
        for row in theirs { if let i = extra.firstIndex(of: row) { extra.remove(at: i) } }
        #expect(missing.isEmpty, "\(what): rows missing: \(missing.prefix(5))", sourceLocation: sourceLocation)
        #expect(extra.isEmpty, "\(what): rows too many: \(extra.prefix(5))", sourceLocation: sourceLocation)
        #expect(theirs.count == ours.count, "\(what)", sourceLocation: sourceLocation)
    }

    /// The discovered catalog with every stream selected for LOG_BASED replication, bookmarked on the
    /// tap's `_sdc_lsn` (without the replication key the tap keeps no LSN bookmark and restarts at the
    /// slot's position).
    static func logBasedCatalog(_ discovered: Data) throws -> Data {
        var catalog = try #require(try JSONSerialization.jsonObject(with: discovered) as? [String: Any])
        var streams = try #require(catalog["streams"] as? [[String: Any]])
        #expect(streams.count == 1)
        for (s, stream) in streams.enumerated() {
            // tap-postgres chooses the stream class by this top-level key.
            streams[s]["replication_method"] = "LOG_BASED"
            streams[s]["replication_key"] = "_sdc_lsn"
            var metadata = try #require(stream["metadata"] as? [[String: Any]])
            for (m, entry) in metadata.enumerated() where (entry["breadcrumb"] as? [Any])?.isEmpty == true {
                var inner = entry["metadata"] as? [String: Any] ?? [:]
                inner["selected"] = true
                inner["replication-method"] = "LOG_BASED"
                inner["replication-key"] = "_sdc_lsn"
                metadata[m]["metadata"] = inner
            }
            streams[s]["metadata"] = metadata
        }
        catalog["streams"] = streams
        return try JSONSerialization.data(withJSONObject: catalog)
    }

    @Test func insertsUpdatesAndDeletesFromTheWALMatchTheSource() throws {
        guard let tools = ProcessInfo.processInfo.environment["PGSINK_TEST_TOOLS"],
            FileManager.default.isExecutableFile(atPath: tools + "/tap-postgres")
        else { throw SingerTapTests.MissingTools() }
        let tap = tools + "/tap-postgres"
        let source = try CDCStreamTests.Source()
        let db = try TestDatabase()
        let items = "\(source.schema).items"
        try source.sql(
            "CREATE TABLE \(items) (id int PRIMARY KEY, name text, qty int, price numeric(10,2), at timestamptz, ok boolean, doc jsonb)")
        // tap-postgres expects the slot to exist; it does not create it. Dropped at the end: a
        // leftover slot holds the source's WAL.
        let slot = "tap_\(source.schema)"
        do {
            _ = try source.connection.query("SELECT pg_create_logical_replication_slot($1, 'wal2json')", [slot])
        } catch { throw MissingWal2json(underlying: error) }
        defer {
            _ = try? source.connection.query(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", [slot])
        }
        try source.sql(
            "INSERT INTO \(items) SELECT g, 'item ' || g, g, g * 1.25, '2024-01-01'::timestamptz + g * interval '1 minute', g % 2 = 0, "
                + "jsonb_build_object('k', g, 'tags', jsonb_build_array('a', g)) FROM generate_series(1, 30) g")

        let url = try #require(URLComponents(string: source.url))
        let tapConfig = try TestDatabase.file(
            "tap.json",
            try JSONSerialization.data(withJSONObject: [
                "host": url.host ?? "127.0.0.1", "port": url.port ?? 5432, "user": url.user ?? "pgsink",
                "password": url.password ?? "unused", "database": String(url.path.dropFirst()),
                "filter_schemas": [source.schema], "replication_slot_name": slot,
                // One replication connection; a stream without a bookmark first copies the table
                // (FULL_TABLE) and then reads the WAL from the LSN taken before the copy.
                "log_based_single_connection": true, "auto_bootstrap_log_based": true,
                // The tap stops reading the WAL after this many seconds without a change.
                "replication_idle_exit_seconds": 5, "replication_max_run_seconds": 120,
            ]))
        let catalog = try TestDatabase.file(
            "catalog.json", try Self.logBasedCatalog(try SingerTapTests.run(tap, ["--config", tapConfig, "--discover"])))
        let targetConfig = try TestDatabase.file(
            "target.json", try JSONSerialization.data(withJSONObject: ["default_target_schema": db.schema]))
        let table = db.table("\(source.schema)_items").quoted

        /// One tap run piped into pgsink singer; returns the last state pgsink printed and the number
        /// of RECORD messages the tap sent.
        func sync(state: String?) throws -> (state: String, records: Int) {
            var arguments = ["--config", tapConfig, "--catalog", catalog]
            if let state { arguments += ["--state", try TestDatabase.file("state.json", state)] }
            let messages = String(decoding: try SingerTapTests.run(tap, arguments), as: UTF8.self)
            let run = try CommandLineTests.run(["singer", "--config", targetConfig, "--to", db.url], stdin: messages)
            #expect(run.status == 0, "\(run.stderr)")
            let records = messages.split(separator: "\n").filter { $0.hasPrefix("{\"type\":\"RECORD\"") }.count
            return (String(try #require(run.stdout.split(separator: "\n").last)), records)
        }

        /// The LSN bookmark of a state pgsink printed.
        func bookmark(_ state: String) throws -> Int {
            let value = try #require(try JSONSerialization.jsonObject(with: Data(state.utf8)) as? [String: Any])
            let bookmarks = try #require(value["bookmarks"] as? [String: [String: Any]])
            return try #require(bookmarks["\(source.schema)-items"]?["replication_key_value"] as? Int)
        }

        let (firstState, _) = try sync(state: nil)
        let firstLSN = try bookmark(firstState)
        Self.expectSame(
            try Self.liveRows(source.connection, items, destination: false), try Self.liveRows(db.connection, table, destination: true),
            "after the first run")
        #expect(try db.column("SELECT count(*)::text FROM \(table)") == ["30"])
        // The other client: pgsink's own logical replication of the same table (pgoutput, a snapshot).
        let mirror = try TestDatabase()
        let snapshot = try CDCStreamTests.stream(source, mirror)
        #expect(snapshot.status == 0, "\(snapshot.stderr)")

        // Changes in several transactions; the tap reads them from the WAL.
        try source.sql(
            "INSERT INTO \(items) (id, name, qty, price, at, ok, doc) VALUES "
                + "(100, E'tab\\there \"quoted\" ünï', 1, 12345678.91, '2025-06-01 12:00:00.123456+02', true, "
                + "'{\"a\": [1, 2.5, null], \"s\": \"x\\\\ny\"}'), (101, 'plain', 2, -0.01, '1999-12-31 23:59:59+00', false, '\"a string\"'), "
                + "(102, NULL, NULL, NULL, NULL, NULL, NULL), (103, '', 0, 0, 'infinity', false, '[]')",
            "UPDATE \(items) SET qty = qty + 1000, name = NULL WHERE id <= 3",
            "DELETE FROM \(items) WHERE id BETWEEN 10 AND 12",
            "BEGIN; INSERT INTO \(items) (id) VALUES (104); UPDATE \(items) SET doc = 'null', price = 7.5 WHERE id = 104; "
                + "DELETE FROM \(items) WHERE id = 100; UPDATE \(items) SET ok = NOT ok, doc = doc || '{\"v\": 2}' WHERE id = 20; COMMIT")
        let (secondState, changes) = try sync(state: firstState)
        // 4 + 3 + 3 + 4 row changes.
        #expect(changes == 14)
        #expect(try bookmark(secondState) > firstLSN, "\(secondState)")
        let theirs = try Self.liveRows(source.connection, items, destination: false)
        Self.expectSame(theirs, try Self.liveRows(db.connection, table, destination: true), "after the changes")
        // The columns keep the types of the tap's SCHEMA (a WAL timestamp such as `infinity` too).
        let types = try db.columnTypes("\(source.schema)_items")
        #expect(types["id"] == "bigint" && types["at"] == "timestamp with time zone" && types["ok"] == "boolean", "\(types)")
        #expect(types["price"] == "numeric" && types["doc"] == "jsonb" && types["_sdc_lsn"] == "bigint", "\(types)")
        // A deleted key stays at the destination, marked.
        #expect(
            try db.column("SELECT string_agg(id::text, ',' ORDER BY id) FROM \(table) WHERE _sdc_deleted_at IS NOT NULL") == ["10,11,12,100"])
        #expect(try db.column("SELECT count(*)::text FROM \(table) WHERE _sdc_deleted_at IS NULL") == ["31"])
        // Both clients agree.
        let streamed = try CDCStreamTests.stream(source, mirror)
        #expect(streamed.status == 0, "\(streamed.stderr)")
        Self.expectSame(theirs, try Self.liveRows(mirror.connection, mirror.table("items").quoted, destination: false), "pgsink cdc stream")

        // Nothing changed: a third run from the last state sends no row again.
        let (thirdState, again) = try sync(state: secondState)
        #expect(again == 0)
        #expect(try bookmark(thirdState) >= bookmark(secondState))
        Self.expectSame(theirs, try Self.liveRows(db.connection, table, destination: true), "after a run without changes")
    }
}
