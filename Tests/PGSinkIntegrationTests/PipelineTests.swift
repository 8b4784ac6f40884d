import Foundation
import PGSink
import PGSinkCore
import Testing

/// `pgsink run`, `history`, `status` and `init` as a user runs them, with real sources: files, a
/// source PostgreSQL (binary COPY with a cursor), Singer's tap-postgres, Airbyte's source-faker, a
/// pasted Nilus pipeline and CloudQuery spec, and `--watch` on a two-second schedule.
@Suite("Pipelines", .serialized)
struct PipelineTests {
    /// A project directory holding `pgsink.yaml` with `yaml` (and more files).
    static func project(_ yaml: String, files: [String: Data] = [:]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pgsink-pipes-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(yaml.utf8).write(to: directory.appendingPathComponent("pgsink.yaml"))
        for (name, data) in files {
            let url = directory.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url)
        }
        return directory
    }

    /// The destination section every test uses: the test server, the test's schema.
    static func destination(_ db: TestDatabase) -> String {
        "destination:\n  url: \"\(db.url)\"\n  schema: \(db.schema)\n"
    }

    static func run(_ arguments: [String], in directory: URL) throws -> CommandLineTests.Run {
        try CommandLineTests.run(arguments, in: directory)
    }

    static func history(_ db: TestDatabase, in directory: URL, _ pipeline: String? = nil) throws -> [[String: Any]] {
        let run = try Self.run(["history", "--json"] + (pipeline.map { [$0] } ?? []), in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [[String: Any]])
    }

    /// `pgsink run --watch` in `directory` for `seconds`, then SIGTERM: its exit status and stderr.
    static func watch(in directory: URL, grace: Int, for seconds: Double) throws -> (status: Int32, log: String) {
        let process = Process()
        process.executableURL = CommandLineTests.executable
        process.arguments = ["run", "--watch", "--grace", String(grace)]
        process.currentDirectoryURL = directory
        let errors = try TestDatabase.file("watch.log", "")
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errors))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: seconds)
        process.terminate()
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")
    }

    static func sourceURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["PGSINK_TEST_SOURCE_URL"], !url.isEmpty else {
            throw TestDatabase.Missing(variable: "PGSINK_TEST_SOURCE_URL")
        }
        return url
    }

    static func gzip(_ text: String) throws -> Data {
        let path = try TestDatabase.file("g.jsonl", text)
        _ = try SingerTapTests.run("/usr/bin/gzip", ["-kf", path])
        return try #require(FileManager.default.contents(atPath: path + ".gz"))
    }

    @Test func filesLoadOnceByFingerprintAndEveryRunIsInTheHistory() throws {
        let db = try TestDatabase()
        let directory = try Self.project(
            Self.destination(db) + """
                pipelines:
                  - name: people
                    source: {type: files, paths: ["in/*.csv", "in/*.jsonl.gz"], table: people}
                """,
            files: ["in/a.csv": Data("id,name\n1,Ada\n2,Grace\n".utf8)])
        let first = try Self.run(["run"], in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("pipeline people: succeeded: \(db.schema).people 2 rows"), "\(first.stdout)")
        let again = try Self.run(["run", "--json"], in: directory)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains(#""rows":{}"#), "\(again.stdout)")
        try Self.gzip("{\"id\": 3, \"name\": \"Linus\"}\n").write(to: directory.appendingPathComponent("in/b.jsonl.gz"))
        let third = try Self.run(["run", "pgsink.yaml", "--pipeline", "people"], in: directory)
        #expect(third.status == 0, "\(third.stderr)")
        #expect(try db.count("people") == 3)
        let runs = try Self.history(db, in: directory, "people")
        #expect(runs.count == 3)
        #expect(runs.map { $0["status"] as? String } == ["succeeded", "succeeded", "succeeded"])
        #expect((runs[0]["rows"] as? [String: Int]) == ["\(db.schema).people": 1])
        let status = try Self.run(["status", "--json"], in: directory)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains(#""last_status":"succeeded""#), "\(status.stdout)")
    }

    @Test func aFailedRunRecordsItsErrorAndCode() throws {
        let db = try TestDatabase()
        let directory = try Self.project(
            Self.destination(db) + """
                pipelines:
                  - name: broken
                    source: {type: singer, command: /bin/false}
                """)
        let run = try Self.run(["run"], in: directory)
        #expect(run.status == 1)
        #expect(run.stdout.contains("pipeline broken: failed"), "\(run.stdout)")
        #expect(run.stdout.contains("exited with status 1"), "\(run.stdout)")
        let runs = try Self.history(db, in: directory)
        #expect(runs.first?["status"] as? String == "failed")
        #expect(runs.first?["error_code"] as? String != nil)
    }

    @Test func postgresSourceCopiesFromItsCursorWithoutLosingOrDoublingTies() throws {
        let db = try TestDatabase()
        let source = try PGConnection.connect(try Self.sourceURL())
        let schema = db.schema + "_src"
        try source.execute("CREATE SCHEMA \(quoteIdentifier(schema))")
        defer { _ = try? source.execute("DROP SCHEMA \(quoteIdentifier(schema)) CASCADE") }
        let orders = "\(quoteIdentifier(schema)).orders"
        try source.execute(
            "CREATE TABLE \(orders) (id integer PRIMARY KEY, version integer NOT NULL, amount numeric(10,2), note text)")
        try source.execute("INSERT INTO \(orders) VALUES (1, 1, 1.50, 'a'), (2, 2, 2.50, 'b'), (3, 2, 3.50, NULL)")
        let directory = try Self.project(
            Self.destination(db) + """
                pipelines:
                  - name: orders
                    source:
                      type: postgres
                      url: "\(try Self.sourceURL())"
                      tables: [\(schema).orders]
                      cursor: version
                """)
        let first = try Self.run(["run"], in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try db.count("orders") == 3)
        #expect(
            try db.column("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '\(db.table("orders").quoted)'::regclass AND attname = 'amount'")
                == ["numeric(10,2)"])
        // A copy, not a change feed: no position columns.
        #expect(Set(try db.columnTypes("orders").keys) == ["id", "version", "amount", "note"])
        // A row sharing the last cursor value (2) arrives after the run, one with a newer value,
        // and a change to a row already copied.
        try source.execute("INSERT INTO \(orders) VALUES (4, 2, 4.50, 'tie'), (5, 3, 5.50, 'new')")
        try source.execute("UPDATE \(orders) SET version = 3, note = 'changed' WHERE id = 1")
        let second = try Self.run(["run", "--json"], in: directory)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try db.count("orders") == 5)
        #expect(try db.column("SELECT count(DISTINCT id)::text FROM \(db.table("orders").quoted)") == ["5"])
        #expect(try db.column("SELECT note FROM \(db.table("orders").quoted) WHERE id = 1") == ["changed"])
        #expect(try db.column("SELECT note FROM \(db.table("orders").quoted) WHERE id = 4") == ["tie"])
        // The second run copied only rows at or after the cursor (2): ids 2, 3, 4 (ties), 1, 5.
        let runs = try Self.history(db, in: directory, "orders")
        #expect((runs[0]["rows"] as? [String: Int])?.values.first == 5)
        #expect((runs[0]["state"] as? String)?.contains(#""\#(schema).orders": "3""#) == true, "\(runs[0])")
        // Nothing new: only the rows at the cursor come again, and change nothing.
        #expect(try Self.run(["run"], in: directory).status == 0)
        #expect(try db.count("orders") == 5)
    }

    @Test func postgresFullRefreshLeavesTheDestinationEqualToTheSourceAndKeepsItsViews() throws {
        let db = try TestDatabase()
        let source = try CDCStreamTests.Source()
        let items = "\(source.schema).items"
        try source.sql("CREATE TABLE \(items) (id integer PRIMARY KEY, name text)", "INSERT INTO \(items) VALUES (1, 'a'), (2, 'b'), (3, 'c')")
        let directory = try Self.project(
            Self.destination(db) + """
                pipelines:
                  - name: items
                    source: {type: postgres, url: "\(source.url)", tables: [\(items)]}
                """)
        let first = try Self.run(["run"], in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try db.count("items") == 3)
        #expect(Set(try db.columnTypes("items").keys) == ["id", "name"])
        let view = "\(quoteIdentifier(db.schema)).item_names"
        try db.connection.execute("CREATE VIEW \(view) AS SELECT id, name FROM \(db.table("items").quoted)")
        try source.sql(
            "DELETE FROM \(items) WHERE id = 2", "UPDATE \(items) SET name = 'changed' WHERE id = 3", "INSERT INTO \(items) VALUES (4, 'd')")
        let second = try Self.run(["run"], in: directory)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try db.column("SELECT id || ':' || name FROM \(view) ORDER BY id") == ["1:a", "3:changed", "4:d"])
        // A source table emptied empties the destination's.
        try source.sql("DELETE FROM \(items)")
        let third = try Self.run(["run"], in: directory)
        #expect(third.status == 0, "\(third.stderr)")
        #expect(try db.count("items") == 0)
    }

    /// 60,000 rows of many types (NULLs, arrays, jsonb, bytea, intervals, far dates) copied whole:
    /// into the new table the run creates, the source's binary tuples go as they are, joined many
    /// to a message and spread over several steps; into an existing table with the columns in
    /// another order they are encoded from their cells. Both times the destination's rows are the
    /// source's, value for value.
    @Test func postgresSourceRowsOfEveryTypeArriveValueForValueWholeOrReordered() throws {
        let db = try TestDatabase()
        let origin = try CDCStreamTests.Source()
        let source = origin.connection
        let wide = "\(origin.schema).wide"
        let columns = "id, n, f, b, d, ts, iv, j, arr, bin, u, t"
        try source.execute(
            "CREATE TABLE \(wide) (id bigint PRIMARY KEY, n numeric(12,3), f double precision, b boolean, d date, "
                + "ts timestamptz, iv interval, j jsonb, arr integer[], bin bytea, u uuid, t text)")
        try source.execute(
            """
            INSERT INTO \(wide)
            SELECT g, CASE WHEN g % 7 = 0 THEN NULL ELSE g * 1.125 - 5000 END, CASE WHEN g % 11 = 0 THEN 'NaN' ELSE g / 3.0 END,
                   CASE WHEN g % 5 = 0 THEN NULL ELSE g % 2 = 0 END,
                   CASE WHEN g % 13 = 0 THEN '4713-01-01 BC'::date WHEN g % 17 = 0 THEN 'infinity'::date ELSE '2024-02-29'::date + g END,
                   '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 second', g * interval '1 day 3 min',
                   CASE WHEN g % 3 = 0 THEN NULL ELSE jsonb_build_object('g', g, 'tags', jsonb_build_array('a', g)) END,
                   CASE WHEN g % 4 = 0 THEN '{}'::integer[] ELSE ARRAY[g, NULL, -g] END, decode(md5(g::text), 'hex'),
                   md5(g::text)::uuid, CASE WHEN g % 9 = 0 THEN '' ELSE 'ünï ' || repeat('x', g % 300) || E'\\t\\n' END
            FROM generate_series(1, 60000) g
            """)
        let fingerprint = "SELECT md5(string_agg(row(\(columns))::text, '|' ORDER BY id)) FROM "
        let expected = try source.execute(fingerprint + wide).value(0, 0)
        let directory = try Self.project(
            Self.destination(db) + """
                pipelines:
                  - name: wide
                    source: {type: postgres, url: "\(origin.url)", tables: [\(wide)]}
                """)
        let first = try Self.run(["run"], in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        let target = db.table("wide").quoted
        #expect(try db.column(fingerprint + target) == [expected])
        let types = try db.column(
            "SELECT string_agg(format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute "
                + "WHERE attrelid = '\(target)'::regclass AND attnum > 0 AND NOT attisdropped")
        #expect(
            types == [
                "bigint, numeric(12,3), double precision, boolean, date, timestamp with time zone, interval, jsonb, integer[], "
                    + "bytea, uuid, text"
            ])

        // The same table made by hand with its columns in another order: the rows are replaced.
        try db.connection.execute("DROP TABLE \(target)")
        try db.connection.execute(
            "CREATE TABLE \(target) (t text, u uuid, bin bytea, arr integer[], j jsonb, iv interval, ts timestamptz, "
                + "d date, b boolean, f double precision, n numeric(12,3), id bigint PRIMARY KEY)")
        try db.connection.execute("INSERT INTO \(target) (id, t) VALUES (-1, 'gone')")
        let second = try Self.run(["run"], in: directory)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try db.column(fingerprint + target) == [expected])
    }

    @Test func statusReadsTheLagFromEachSourcesOwnPosition() throws {
        let db = try TestDatabase()
        let source = try CDCStreamTests.Source()
        try source.sql(
            "CREATE TABLE \(source.schema).orders (id integer PRIMARY KEY, version integer NOT NULL)",
            "INSERT INTO \(source.schema).orders VALUES (1, 1), (2, 2)",
            "CREATE TABLE \(source.schema).items (id integer PRIMARY KEY, name text)",
            "INSERT INTO \(source.schema).items VALUES (1, 'a')")
        let directory = try Self.project(
            Self.destination(db) + """
                pipelines:
                  - name: orders
                    source: {type: postgres, url: "\(source.url)", tables: [\(source.schema).orders], cursor: version}
                  - name: changes
                    source:
                      type: cdc
                      url: "\(source.url)"
                      tables: [\(source.schema).items]
                      slot: \(source.slot)
                      publication: \(source.publication)
                  - name: people
                    source: {type: files, paths: ["in/*.csv"], table: people}
                  - name: copy
                    source: {type: postgres, url: "\(source.url)", tables: [\(source.schema).items]}
                """,
            files: ["in/a.csv": Data("id\n1\n".utf8)])
        let first = try Self.run(["run"], in: directory)
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        try source.sql(
            "INSERT INTO \(source.schema).orders VALUES (3, 3), (4, 4), (5, 2)",
            "INSERT INTO \(source.schema).items SELECT i, repeat('x', 100) FROM generate_series(2, 200) i")
        try Data("id\n2\n".utf8).write(to: directory.appendingPathComponent("in/b.csv"))
        try Data("id\n3\n".utf8).write(to: directory.appendingPathComponent("in/c.csv"))
        let status = try Self.run(["status", "--json"], in: directory)
        #expect(status.status == 0, "\(status.stderr)")
        let lines = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [[String: Any]])
        func lag(_ name: String) -> [String: Any]? {
            lines.first { $0["pipeline"] as? String == name }?["source_lag"] as? [String: Any]
        }
        // Rows after the stored cursor (2): the two newer ones, not the one that ties it.
        let cursors = lag("orders")?["cursors"] as? [[String: Any]]
        #expect(cursors?.first?["rows_after"] as? Int == 2, "\(status.stdout)")
        #expect(cursors?.first?["stored"] as? String == "2" && cursors?.first?["source"] as? String == "4", "\(status.stdout)")
        #expect((lag("changes")?["bytes"] as? Int ?? 0) > 0, "\(status.stdout)")
        #expect(lag("people")?["files"] as? Int == 2, "\(status.stdout)")
        // A full refresh has no position of its own: its lag stays the age of its last run.
        #expect(lag("copy") == nil)
        #expect(lines.first { $0["pipeline"] as? String == "copy" }?["lag_seconds"] as? Double != nil, "\(status.stdout)")
        let text = try Self.run(["status"], in: directory)
        #expect(text.stdout.contains("orders (postgres)") && text.stdout.contains("2 rows after the stored cursor"), "\(text.stdout)")
        #expect(text.stdout.contains("2 files not loaded"), "\(text.stdout)")
        // Once the runs catch up, nothing is behind.
        #expect(try Self.run(["run"], in: directory).status == 0)
        let caughtUp = try Self.run(["status", "--json"], in: directory)
        #expect(caughtUp.stdout.contains(#""rows_after":0"#) && caughtUp.stdout.contains(#""files":0"#), "\(caughtUp.stdout)")
    }

    @Test func postgresSourceCopiesAQueryIntoOneTable() throws {
        let db = try TestDatabase()
        let source = try PGConnection.connect(try Self.sourceURL())
        let schema = db.schema + "_q"
        try source.execute("CREATE SCHEMA \(quoteIdentifier(schema))")
        defer { _ = try? source.execute("DROP SCHEMA \(quoteIdentifier(schema)) CASCADE") }
        let items = "\(quoteIdentifier(schema)).items"
        try source.execute("CREATE TABLE \(items) (id integer, price numeric(8,2), at timestamptz NOT NULL)")
        try source.execute("INSERT INTO \(items) SELECT i, i * 1.5, '2026-01-01'::timestamptz + i * interval '1 day' FROM generate_series(1, 6) i")
        let directory = try Self.project(
            Self.destination(db) + """
                pipelines:
                  - name: priced
                    source:
                      type: postgres
                      url: "\(try Self.sourceURL())"
                      query: SELECT id, price * 2 AS doubled, at FROM \(schema).items WHERE id % 2 = 0
                      cursor: at
                      primary_key: [id]
                """)
        let first = try Self.run(["run"], in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try db.column("SELECT doubled::text FROM \(db.table("priced").quoted) ORDER BY id") == ["6.00", "12.00", "18.00"])
        try source.execute("INSERT INTO \(items) VALUES (8, 1, '2026-02-01')")
        let second = try Self.run(["run"], in: directory)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try db.count("priced") == 4)
        #expect((try Self.history(db, in: directory).first?["rows"] as? [String: Int])?.values.first == 2, "the tie at the cursor and the new row")
    }

    @Test func aPastedNilusPipelineAndACloudQuerySpecRunUnchanged() throws {
        let db = try TestDatabase()
        let source = try PGConnection.connect(try Self.sourceURL())
        let schema = db.schema + "_nilus"
        try source.execute("CREATE SCHEMA \(quoteIdentifier(schema))")
        defer { _ = try? source.execute("DROP SCHEMA \(quoteIdentifier(schema)) CASCADE") }
        try source.execute("CREATE TABLE \(quoteIdentifier(schema)).orders AS SELECT i AS id, 'o' || i AS label FROM generate_series(1, 7) i")
        try source.execute("ALTER TABLE \(quoteIdentifier(schema)).orders ADD PRIMARY KEY (id)")
        let nilus = try TestDatabase.file(
            "nilus.yaml",
            """
            name: nilus-postgres-batch
            version: v1alpha
            type: nilus
            spec:
              type: batch
              compute: universe-compute
              source:
                address: \(try Self.sourceURL())
                options:
                  source_table: \(schema).orders
              sink:
                address: \(db.url)
                options:
                  dest_table: \(db.schema).orders_copy
                  incremental_strategy: merge
            """)
        let run = try CommandLineTests.run(["run", nilus])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("pipeline nilus-postgres-batch: succeeded"), "\(run.stdout)")
        #expect(try db.count("orders_copy") == 7)

        let directory = try Self.project(
            Self.destination(db) + """
                pipelines:
                  - name: cq
                    source: {type: files, paths: [rows.jsonl]}
                    destination:
                      kind: destination
                      spec:
                        name: postgresql
                        path: cloudquery/postgresql
                        registry: cloudquery
                        version: "v8.0.0"
                        spec:
                          connection_string: "\(db.url)"
                          write_mode: append
                          batch_size: 1000
                """,
            files: ["rows.jsonl": Data("{\"a\": 1}\n{\"a\": 2}\n".utf8)])
        let cq = try Self.run(["run"], in: directory)
        #expect(cq.status == 0, "\(cq.stderr)")
        #expect(try db.count("rows") == 2)
    }

    @Test func watchRunsOnScheduleWithoutOverlapAndStopsCleanlyOnSIGTERM() throws {
        let db = try TestDatabase()
        let directory = try Self.project(
            Self.destination(db) + """
                pipelines:
                  - name: tick
                    source: {type: files, paths: ["*.csv"]}
                    schedule: {every: 2s}
                """,
            files: ["t.csv": Data("a\n1\n".utf8)])
        let watched = try Self.watch(in: directory, grace: 10, for: 7)
        #expect(watched.status == 0, "\(watched.log)")
        let runs = try db.rows(
            "SELECT extract(epoch FROM started_at)::float8::text, extract(epoch FROM finished_at)::float8::text, status "
                + "FROM \(db.table("_pgsink_runs").quoted) ORDER BY id")
        #expect(runs.count >= 3, "\(runs)")
        #expect(runs.allSatisfy { $0[2] == "succeeded" }, "\(runs)")
        for (earlier, later) in zip(runs, runs.dropFirst()) {
            #expect(Double(earlier[1] ?? "")! <= Double(later[0] ?? "")!, "runs overlap: \(runs)")
        }
        #expect(try db.count("t") == 1)
    }

    @Test func watchCancelsALoadThatOutlastsTheGracePeriodAndRollsItBack() throws {
        let db = try TestDatabase()
        let directory = try Self.project(
            Self.destination(db) + """
                pipelines:
                  - name: slow
                    source: {type: singer, command: ./slow-tap}
                    schedule: {every: 1h}
                """,
            files: [
                "slow-tap": Data(
                    """
                    #!/bin/sh
                    echo '{"type": "SCHEMA", "stream": "slow", "schema": {"properties": {"id": {"type": "integer"}}}, "key_properties": ["id"]}'
                    echo '{"type": "RECORD", "stream": "slow", "record": {"id": 1}}'
                    exec sleep 60
                    """.utf8)
            ])
        chmod(directory.appendingPathComponent("slow-tap").path, 0o755)
        let began = Date()
        let watched = try Self.watch(in: directory, grace: 1, for: 2)
        #expect(watched.status == 143, "\(watched.log)")
        #expect(Date().timeIntervalSince(began) < 15, "the tap's sleep did not hold the stop up")
        #expect(try db.column("SELECT status FROM \(db.table("_pgsink_runs").quoted)") == ["cancelled"])
        #expect(try !db.exists("slow") || db.count("slow") == 0)
    }

    @Test func tapPostgresResumesFromTheStateThePipelineStored() throws {
        let db = try TestDatabase()
        let tap = try testTool("tap-postgres")
        let sourceURL = try Self.sourceURL()
        let source = try PGConnection.connect(sourceURL)
        let schema = db.schema + "_tap"
        try source.execute("CREATE SCHEMA \(quoteIdentifier(schema))")
        defer { _ = try? source.execute("DROP SCHEMA \(quoteIdentifier(schema)) CASCADE") }
        let items = "\(quoteIdentifier(schema)).items"
        try source.execute("CREATE TABLE \(items) (id integer PRIMARY KEY, name text)")
        try source.execute("INSERT INTO \(items) SELECT i, 'n' || i FROM generate_series(1, 20) i")
        let url = try #require(URLComponents(string: sourceURL))
        let tapConfig = try JSONSerialization.data(withJSONObject: [
            "host": url.host ?? "127.0.0.1", "port": url.port ?? 5432, "user": url.user ?? "pgsink",
            "password": url.password ?? "unused", "database": String(url.path.dropFirst()), "filter_schemas": [schema],
        ])
        let configPath = try TestDatabase.file("tap.json", tapConfig)
        let catalog = try SingerTapTests.selectingIncremental(
            try #require(
                try JSONSerialization.jsonObject(with: try SingerTapTests.run(tap, ["--config", configPath, "--discover"]))
                    as? [String: Any]),
            key: "id")
        let directory = try Self.project(
            Self.destination(db) + """
                pipelines:
                  - name: tap
                    source: {type: singer, command: "\(tap)", config: tap.json, catalog: catalog.json}
                """,
            files: ["tap.json": tapConfig, "catalog.json": try JSONSerialization.data(withJSONObject: catalog)])
        let table = "\(schema)_items"
        let first = try Self.run(["run"], in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try db.count(table) == 20)
        try source.execute("INSERT INTO \(items) SELECT i, 'new' || i FROM generate_series(21, 25) i")
        let second = try Self.run(["run", "--json"], in: directory)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try db.count(table) == 25)
        // Only the new rows (and the last one again, as the tap resends the bookmark's row).
        let rows = try #require(Self.history(db, in: directory, "tap").first?["rows"] as? [String: Int])
        #expect((rows.values.first ?? 0) <= 6, "\(rows)")
        #expect((try Self.history(db, in: directory, "tap").first?["state"] as? String)?.contains("25") == true)
    }

    @Test func tapJSONLGetsItsStateBack() throws {
        let db = try TestDatabase()
        let tap = try testTool("tap-jsonl")
        let directory = try Self.project(
            Self.destination(db) + """
                pipelines:
                  - name: lines
                    source: {type: singer, command: "\(tap)", config: tap.json}
                """,
            files: ["in/a.jsonl": Data("{\"id\": 1, \"v\": \"a\"}\n{\"id\": 2, \"v\": \"b\"}\n{\"id\": 3, \"v\": \"c\"}\n".utf8)])
        let config = ["path": directory.path + "/in/*.jsonl", "stream_name": "lines", "primary_keys": ["id"]] as [String: Any]
        try JSONSerialization.data(withJSONObject: config).write(to: directory.appendingPathComponent("tap.json"))
        let first = try Self.run(["run"], in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try db.count("lines") == 3)
        let handle = try FileHandle(forWritingTo: directory.appendingPathComponent("in/a.jsonl"))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"id\": 4, \"v\": \"d\"}\n{\"id\": 5, \"v\": \"e\"}\n".utf8))
        try handle.close()
        let second = try Self.run(["run", "--log-level", "info"], in: directory)
        #expect(second.status == 0, "\(second.stderr)")
        // The stored STATE went back with --state (the tap logs its bookmark). tap-jsonl 0.3.1
        // bookmarks a file by its modification time, so the changed file is read whole again:
        // the merge by key keeps one row each.
        #expect(second.stderr.contains("Starting incremental sync with bookmark value"), "\(second.stderr)")
        #expect(try db.count("lines") == 5)
        #expect(try db.column("SELECT count(DISTINCT id)::text FROM \(db.table("lines").quoted)") == ["5"])
        let state = try #require(try Self.history(db, in: directory, "lines").first?["state"] as? String)
        #expect(state.contains("bookmarks"), "\(state)")
    }

    @Test func sourceFakerPassesItsStateBackSoASecondSyncAddsOnlyWhatIsNew() throws {
        let db = try TestDatabase()
        let faker = try testTool("source-faker")
        let config = try JSONSerialization.data(withJSONObject: ["count": 20, "seed": 5, "records_per_slice": 10, "parallelism": 1, "always_updated": false])
        let configPath = try TestDatabase.file("faker.json", config)
        var discovered: [String: Any] = [:]
        for line in String(decoding: try SingerTapTests.run(faker, ["discover", "--config", configPath]), as: UTF8.self)
            .split(separator: "\n")
        {
            if let message = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                message["type"] as? String == "CATALOG"
            {
                discovered = message["catalog"] as? [String: Any] ?? [:]
            }
        }
        let streams = try #require(discovered["streams"] as? [[String: Any]]).filter { $0["name"] as? String == "users" }.map {
            stream -> [String: Any] in
            [
                "stream": stream, "sync_mode": "incremental", "destination_sync_mode": "append",
                "cursor_field": ["updated_at"], "primary_key": [["id"]],
            ]
        }
        let directory = try Self.project(
            Self.destination(db) + """
                pipelines:
                  - name: faker
                    source: {type: airbyte, command: "\(faker)", config: faker.json, catalog: catalog.json}
                """,
            files: ["faker.json": config, "catalog.json": try JSONSerialization.data(withJSONObject: ["streams": streams])])
        let first = try Self.run(["run"], in: directory)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try db.count("users") == 20)
        let state = try #require(Self.history(db, in: directory, "faker").first?["state"] as? String)
        #expect(state.contains("users"), "\(state)")
        let second = try Self.run(["run"], in: directory)
        #expect(second.status == 0, "\(second.stderr)")
        // Full refresh would append all 20 again; with the state passed back nothing is new.
        #expect(try db.count("users") == 20)
    }

    @Test func initScaffoldsEveryTemplateAndTheFilesOneRuns() throws {
        let db = try TestDatabase()
        for template in ["files", "singer", "airbyte", "postgres", "cdc", "events"] {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pgsink-init-" + UUID().uuidString)
            let run = try CommandLineTests.run(["init", template, directory.path])
            #expect(run.status == 0, "\(template): \(run.stderr)")
            for name in ["pgsink.yaml", ".env.example", "README.md"] {
                #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent(name).path), "\(template): \(name)")
            }
            #expect(try String(contentsOf: directory.appendingPathComponent("pgsink.yaml"), encoding: .utf8).contains("pipelines:"))
        }
        let listed = try CommandLineTests.run(["init"])
        #expect(listed.status == 0)
        #expect(listed.stdout.contains("files") && listed.stdout.contains("airbyte"), "\(listed.stdout)")

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("pgsink-init-" + UUID().uuidString)
        #expect(try CommandLineTests.run(["init", "files", directory.path, "--to", db.url]).status == 0)
        let yaml = directory.appendingPathComponent("pgsink.yaml")
        let text = try String(contentsOf: yaml, encoding: .utf8)
        if let password = URLComponents(string: db.url)?.password, !password.isEmpty {
            #expect(!text.contains(password), "the password stays out of the file")
        }
        try Data(text.replacingOccurrences(of: "schema: public", with: "schema: \(db.schema)").utf8).write(to: yaml)
        let run = try CommandLineTests.run(
            ["run"], environment: ["PGSINK_PASSWORD": URLComponents(string: db.url)?.password ?? ""], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.count("sample") == 3)

        // The events scaffold runs too: with nothing staged yet, its one load finds nothing.
        let events = FileManager.default.temporaryDirectory.appendingPathComponent("pgsink-init-" + UUID().uuidString)
        #expect(try CommandLineTests.run(["init", "events", events.path, "--to", db.url]).status == 0)
        let eventsYAML = events.appendingPathComponent("pgsink.yaml")
        let eventsText = try String(contentsOf: eventsYAML, encoding: .utf8)
        #expect(eventsText.contains("type: events") && eventsText.contains("${WEB_WRITE_KEY}"), "\(eventsText)")
        try Data(eventsText.replacingOccurrences(of: "schema: public", with: "schema: \(db.schema)").utf8).write(to: eventsYAML)
        let eventsRun = try CommandLineTests.run(
            ["run", "--json"],
            environment: ["PGSINK_PASSWORD": URLComponents(string: db.url)?.password ?? "", "WEB_WRITE_KEY": "wk_scaffold"],
            in: events)
        #expect(eventsRun.status == 0, "\(eventsRun.stderr)")
        #expect(eventsRun.stdout.contains(#""pipeline":"web""#) && eventsRun.stdout.contains(#""status":"succeeded""#), "\(eventsRun.stdout)")
    }
}
