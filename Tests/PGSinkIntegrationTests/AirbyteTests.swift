import Foundation
import PGSink
import PGSinkCore
import Testing

/// `pgsink airbyte spec|check|write` as Airbyte (or a hand-run source) drives it.
@Suite("Airbyte destination")
struct AirbyteTests {
    static func config(_ db: TestDatabase, _ extra: [String: Any] = [:]) throws -> String {
        let url = try #require(URLComponents(string: db.url))
        var config: [String: Any] = [
            "host": url.host ?? "127.0.0.1", "port": url.port ?? 5432, "database": String(url.path.dropFirst()),
            "schema": db.schema, "username": url.user ?? "pgsink", "password": url.password ?? "unused",
        ]
        config.merge(extra) { _, new in new }
        return try TestDatabase.file("destination.json", try JSONSerialization.data(withJSONObject: config))
    }

    static func stream(
        _ name: String, mode: String, properties: [String: Any], key: [[String]] = [], cursor: [String] = [],
        generation: Int = 1, minimumGeneration: Int = 0
    ) -> [String: Any] {
        [
            "stream": ["name": name, "json_schema": ["type": "object", "properties": properties]] as [String: Any],
            "sync_mode": "incremental", "destination_sync_mode": mode, "primary_key": key, "cursor_field": cursor,
            "generation_id": generation, "minimum_generation_id": minimumGeneration, "sync_id": 7,
        ]
    }

    static func catalog(_ streams: [[String: Any]]) throws -> String {
        try TestDatabase.file("catalog.json", try JSONSerialization.data(withJSONObject: ["streams": streams]))
    }

    static func record(_ stream: String, _ data: String, at emitted: Int = 1_700_000_000_000, meta: String = "") -> String {
        #"{"type":"RECORD","record":{"stream":"\#(stream)","data":\#(data),"emitted_at":\#(emitted)\#(meta)}}"#
    }

    static func state(_ n: Int) -> String {
        #"{"type":"STATE","state":{"type":"STREAM","stream":{"stream_descriptor":{"name":"s"},"stream_state":{"n":\#(n)}}}}"#
    }

    static func write(_ db: TestDatabase, config: String, catalog: String, _ lines: [String]) throws -> CommandLineTests.Run {
        try CommandLineTests.run(
            ["airbyte", "write", "--config", config, "--catalog", catalog], stdin: lines.joined(separator: "\n") + "\n")
    }

    static var userProperties: [String: Any] { [
        "id": ["type": "integer"], "name": ["type": ["null", "string"]],
        "updated_at": ["type": "string", "format": "date-time"],
        "_ab_cdc_deleted_at": ["type": ["null", "string"], "format": "date-time"],
    ] }

    @Test func specAndCheck() throws {
        let db = try TestDatabase()
        let spec = try CommandLineTests.run(["airbyte", "spec"])
        #expect(spec.status == 0)
        let message = try #require(try JSONSerialization.jsonObject(with: Data(spec.stdout.utf8)) as? [String: Any])
        #expect(message["type"] as? String == "SPEC")
        let body = try #require(message["spec"] as? [String: Any])
        #expect(body["supported_destination_sync_modes"] as? [String] == ["overwrite", "append", "append_dedup"])
        #expect((body["connectionSpecification"] as? [String: Any])?["properties"] != nil)

        let ok = try CommandLineTests.run(["airbyte", "check", "--config", try Self.config(db)])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains(#""status":"SUCCEEDED""#), "\(ok.stdout)")
        let bad = try CommandLineTests.run([
            "airbyte", "check", "--config", try Self.config(db, ["port": 1, "password": "s3cret-pw"]),
        ])
        #expect(bad.status == 0)
        #expect(bad.stdout.contains(#""status":"FAILED""#))
        #expect(!bad.stdout.contains("s3cret-pw"))
    }

    @Test func checkAndWriteThroughTheTunnelMethodOfTheConfig() throws {
        let env = ProcessInfo.processInfo.environment
        guard let port = env["PGSINK_TEST_SSH_PORT"], let keyPath = env["PGSINK_TEST_SSH_KEY_ECDSA"],
            let knownHosts = env["PGSINK_TEST_SSH_KNOWN_HOSTS"], let user = env["PGSINK_TEST_SSH_USER"]
        else { throw ConnectionTests.SSHMissing() }
        let db = try TestDatabase()
        let key = try String(contentsOfFile: keyPath, encoding: .utf8)
        let tunnel: [String: Any] = [
            "tunnel_method": "SSH_KEY_AUTH", "tunnel_host": "127.0.0.1", "tunnel_port": Int(port)!, "tunnel_user": user,
            "ssh_key": key, "known_hosts": try String(contentsOfFile: knownHosts, encoding: .utf8),
        ]
        let config = try Self.config(db, ["tunnel_method": tunnel])
        let check = try CommandLineTests.run(["airbyte", "check", "--config", config])
        #expect(check.stdout.contains(#""status":"SUCCEEDED""#), "\(check.stdout) \(check.stderr)")
        #expect(!check.stdout.contains("PRIVATE KEY") && !check.stderr.contains("PRIVATE KEY"))
        let catalog = try Self.catalog([Self.stream("tunneled", mode: "append", properties: ["id": ["type": "integer"]])])
        let run = try Self.write(db, config: config, catalog: catalog, [Self.record("tunneled", #"{"id":1}"#), Self.state(1)])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == Self.state(1) + "\n")
        #expect(try db.count("tunneled") == 1)
    }

    @Test func appendDedupKeepsTheNewestByCursorAndDeletesCDCDeletes() throws {
        let db = try TestDatabase()
        let config = try Self.config(db)
        let catalog = try Self.catalog([
            Self.stream("users", mode: "append_dedup", properties: Self.userProperties, key: [["id"]], cursor: ["updated_at"])
        ])
        let run = try Self.write(db, config: config, catalog: catalog, [
            Self.record("users", #"{"id":1,"name":"new","updated_at":"2024-02-01T00:00:00Z","extra":"ignored"}"#),
            Self.record("users", #"{"id":1,"name":"old","updated_at":"2024-01-01T00:00:00Z"}"#),
            Self.record("users", #"{"id":2,"name":"gone","updated_at":"2024-01-01T00:00:00Z"}"#),
            Self.state(1),
            Self.record("unknown", #"{"id":9}"#),
            "this line is not a message",
            Self.record("users", #"{"id":2,"name":"gone","updated_at":"2024-01-02T00:00:00Z","_ab_cdc_deleted_at":"2024-01-02T00:00:00Z"}"#),
            Self.state(2),
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.split(separator: "\n").map(String.init) == [Self.state(1), Self.state(2)])
        #expect(try db.rows("SELECT id::text, name FROM \(db.table("users").quoted)") == [["1", "new"]])
        #expect(try db.columnTypes("users")["extra"] == nil)
        #expect(try db.columnTypes("users")["_airbyte_meta"] == "jsonb")
        #expect(try !db.exists("unknown"))
        // A later sync with an older record for id 1 does not overwrite the newer row.
        let late = try Self.write(db, config: config, catalog: catalog, [
            Self.record("users", #"{"id":1,"name":"stale","updated_at":"2023-12-01T00:00:00Z"}"#, at: 1_800_000_000_000),
            Self.record("users", #"{"id":3,"name":"third","updated_at":"2024-03-01T00:00:00Z"}"#),
        ])
        #expect(late.status == 0, "\(late.stderr)")
        #expect(try db.rows("SELECT id::text, name FROM \(db.table("users").quoted) t ORDER BY t.id") == [["1", "new"], ["3", "third"]])
        #expect(
            try db.rows("SELECT _airbyte_generation_id::text, _airbyte_meta->>'sync_id' FROM \(db.table("users").quoted) WHERE id = 3")
                == [["1", "7"]])
    }

    @Test func typesNamesUnionsNULAndIntegersBeyond64Bits() throws {
        let db = try TestDatabase()
        let properties: [String: Any] = [
            "userID": ["type": "integer"], "first:Name!": ["type": "string"],
            "at": ["type": "string", "format": "date-time", "airbyte_type": "timestamp_without_timezone"],
            "clock": ["type": "string", "format": "time", "airbyte_type": "time_with_timezone"],
            "day": ["type": "string", "format": "date"], "price": ["type": "number"],
            "either": ["oneOf": [["type": "integer"], ["type": "string"]]],
            "maybe": ["anyOf": [["type": "null"], ["type": "boolean"]]],
            "tags": ["type": "array", "items": [["type": "string"], ["type": "integer"]]],
            "address": ["type": "object", "properties": ["zip": ["type": "string"]]],
        ]
        let catalog = try Self.catalog([Self.stream("Camel-Case Stream", mode: "append", properties: properties)])
        let run = try Self.write(db, config: try Self.config(db), catalog: catalog, [
            Self.record("Camel-Case Stream", #"{"userID":1,"first:Name!":"a\u0000b","at":"2024-03-01T10:00:00","clock":"10:00:00+02:00","day":"2024-03-01","price":1.10,"either":5,"maybe":true,"tags":["x",1],"address":{"zip":"1\u0000"}}"#),
            Self.record("Camel-Case Stream", #"{"userID":123456789012345678901234567890,"either":"text","price":0.000000001}"#),
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let table = "camel_case_stream"
        let types = try db.columnTypes(table)
        #expect(types["userid"] == "numeric", "a value beyond 64 bits widens bigint")
        #expect(types["first_name_"] == "text")
        #expect(types["at"] == "timestamp without time zone")
        #expect(types["clock"] == "time with time zone")
        #expect(types["day"] == "date")
        #expect(types["price"] == "numeric")
        #expect(types["either"] == "text")
        #expect(types["maybe"] == "boolean")
        #expect(types["tags"] == "jsonb")
        #expect(types["address"] == "jsonb")
        #expect(try db.rows("""
            SELECT userid::text, first_name_, at::text, price::text, either, maybe::text, tags::text, address->>'zip'
            FROM \(db.table(table).quoted) t ORDER BY t.userid
            """) == [
                ["1", "ab", "2024-03-01 10:00:00", "1.10", "5", "true", #"["x", 1]"#, "1"],
                ["123456789012345678901234567890", nil, nil, "0.000000001", "text", nil, nil, nil],
            ])
    }

    @Test func overwriteKeepsTheOldTableVisibleUntilTheEndOfTheSync() throws {
        let db = try TestDatabase()
        let config = try Self.config(db, ["batch_size_rows": 1])
        let properties: [String: Any] = ["id": ["type": "integer"], "v": ["type": "string"]]
        let catalog = try Self.catalog([Self.stream("snap", mode: "overwrite", properties: properties)])
        let first = try Self.write(db, config: config, catalog: catalog, [Self.record("snap", #"{"id":1,"v":"old"}"#)])
        #expect(first.status == 0, "\(first.stderr)")
        try db.connection.execute("GRANT SELECT ON \(db.table("snap").quoted) TO PUBLIC")

        let process = Process()
        process.executableURL = CommandLineTests.executable
        process.arguments = ["airbyte", "write", "--config", config, "--catalog", catalog]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let lines = [Self.record("snap", #"{"id":2,"v":"new"}"#), Self.record("snap", #"{"id":3,"v":"new"}"#), Self.state(1)]
        input.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        // The state comes back once the new rows are committed, into the hidden table.
        var echoed = Data()
        while !String(decoding: echoed, as: UTF8.self).contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            echoed += chunk
        }
        #expect(String(decoding: echoed, as: UTF8.self) == Self.state(1) + "\n")
        #expect(try db.rows("SELECT id::text, v FROM \(db.table("snap").quoted)") == [["1", "old"]])
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(try db.rows("SELECT id::text, v FROM \(db.table("snap").quoted) t ORDER BY t.id") == [["2", "new"], ["3", "new"]])
        #expect(try db.tables(startingWith: "_pgsink_ow_").isEmpty)
    }

    @Test func aRefreshRemovesOlderGenerations() throws {
        let db = try TestDatabase()
        let config = try Self.config(db)
        let properties: [String: Any] = ["id": ["type": "integer"]]
        let first = try Self.write(
            db, config: config, catalog: try Self.catalog([Self.stream("gen", mode: "append", properties: properties)]),
            [Self.record("gen", #"{"id":1}"#)])
        #expect(first.status == 0, "\(first.stderr)")
        let refresh = try Self.write(
            db, config: config,
            catalog: try Self.catalog([
                Self.stream("gen", mode: "append", properties: properties, generation: 2, minimumGeneration: 2)
            ]), [Self.record("gen", #"{"id":2}"#)])
        #expect(refresh.status == 0, "\(refresh.stderr)")
        #expect(try db.rows("SELECT id::text, _airbyte_generation_id::text FROM \(db.table("gen").quoted)") == [["2", "2"]])
    }

    @Test func failuresAreTraceErrorsWithAFailureType() throws {
        let db = try TestDatabase()
        let properties: [String: Any] = ["id": ["type": "integer"]]
        let badCatalog = try Self.catalog([Self.stream("d", mode: "append_dedup", properties: properties)])
        let run = try Self.write(db, config: try Self.config(db), catalog: badCatalog, [])
        #expect(run.status == 1)
        #expect(run.stdout.contains(#""type":"TRACE""#))
        #expect(run.stdout.contains(#""failure_type":"config_error""#))
        #expect(run.stdout.contains("needs a primary_key"))
        let unreachable = try Self.write(
            db, config: try Self.config(db, ["port": 1, "password": "s3cret-pw"]),
            catalog: try Self.catalog([Self.stream("d", mode: "append", properties: properties)]), [])
        #expect(unreachable.status == 1)
        #expect(unreachable.stdout.contains(#""failure_type":"config_error""#))
        #expect(!unreachable.stdout.contains("s3cret-pw"))
        // A key missing from a record fails the sync, and no state after it is echoed.
        let keyed = try Self.catalog([Self.stream("k", mode: "append_dedup", properties: properties, key: [["id"]])])
        let missing = try Self.write(db, config: try Self.config(db, ["batch_size_rows": 1]), catalog: keyed, [
            Self.record("k", #"{"id":1}"#), Self.state(1), Self.record("k", #"{}"#), Self.state(2),
        ])
        #expect(missing.status == 1)
        #expect(missing.stdout.contains(Self.state(1)))
        #expect(!missing.stdout.contains(Self.state(2)))
        #expect(missing.stdout.contains(#""failure_type":"system_error""#))
    }

    @Test func sourceFakerSyncsAndResyncsWithoutDuplicates() throws {
        let db = try TestDatabase()
        guard let tools = ProcessInfo.processInfo.environment["PGSINK_TEST_TOOLS"],
            FileManager.default.isExecutableFile(atPath: tools + "/source-faker")
        else { throw SingerTapTests.MissingTools() }
        let faker = tools + "/source-faker"
        let sourceConfig = try TestDatabase.file(
            "faker.json", try JSONSerialization.data(withJSONObject: ["count": 30, "seed": 11, "records_per_slice": 10, "parallelism": 1]))
        var discovered: [String: Any] = [:]
        for line in String(decoding: try SingerTapTests.run(faker, ["discover", "--config", sourceConfig]), as: UTF8.self).split(separator: "\n") {
            if let message = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                message["type"] as? String == "CATALOG"
            {
                discovered = message["catalog"] as? [String: Any] ?? [:]
            }
        }
        let modes = ["users": "append_dedup", "products": "overwrite", "purchases": "append"]
        let streams = try #require(discovered["streams"] as? [[String: Any]]).map { stream -> [String: Any] in
            let name = stream["name"] as? String ?? ""
            return [
                "stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": modes[name] ?? "append",
                "cursor_field": ["updated_at"], "primary_key": [["id"]], "generation_id": 1, "minimum_generation_id": 0,
                "sync_id": 1,
            ]
        }
        let catalog = try Self.catalog(streams)
        let config = try Self.config(db)
        func sync() throws -> (states: Int, echoed: Int) {
            let messages = String(decoding: try SingerTapTests.run(faker, ["read", "--config", sourceConfig, "--catalog", catalog]), as: UTF8.self)
            let run = try CommandLineTests.run(["airbyte", "write", "--config", config, "--catalog", catalog], stdin: messages)
            #expect(run.status == 0, "\(run.stderr)")
            let sent = messages.split(separator: "\n").filter { $0.contains(#""type":"STATE""#) }.map(String.init)
            let echoed = run.stdout.split(separator: "\n").map(String.init)
            #expect(echoed == sent, "every state echoed once, in order")
            return (sent.count, echoed.count)
        }
        let first = try sync()
        #expect(first.states > 0)
        #expect(try db.count("users") == 30)
        #expect(try db.count("products") > 0)
        let products = try db.count("products")
        let purchases = try db.count("purchases")
        #expect(try db.columnTypes("users")["created_at"] == "timestamp with time zone")
        _ = try sync()
        #expect(try db.count("users") == 30)
        #expect(try db.count("products") == products)
        #expect(try db.count("purchases") == 2 * purchases)
    }

    /// Columns come in the order the stream's json_schema lists its properties (as Singer's do),
    /// and fields the schema does not list are ignored with one warning per stream.
    @Test func columnsKeepSchemaOrderAndUndeclaredFieldsAreReported() throws {
        let db = try TestDatabase()
        let catalog = try TestDatabase.file(
            "catalog.json",
            #"{"streams":[{"stream":{"name":"s","json_schema":{"type":"object","properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"},"mid":{"type":"string"}}}},"sync_mode":"full_refresh","destination_sync_mode":"append","primary_key":[]}]}"#)
        let run = try Self.write(db, config: try Self.config(db), catalog: catalog, [
            Self.record("s", #"{"alpha":1,"zeta":"z","mid":"m","extra":"dropped","more":2}"#),
            Self.record("s", #"{"alpha":2,"zeta":"y","extra":"again"}"#),
            Self.state(1),
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let columns = try db.column(
            "SELECT attname::text FROM pg_attribute WHERE attrelid = '\(db.schema).s'::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum")
        #expect(Array(columns.prefix(3)) == ["zeta", "alpha", "mid"])
        #expect(run.stderr.contains("stream s: fields not in its schema are ignored: extra, more"), "\(run.stderr)")
        #expect(run.stderr.components(separatedBy: "fields not in its schema").count == 2)
        #expect(try db.count("s") == 2)
    }

    /// `_airbyte_meta` is the same for every record of a batch without `meta.changes`: such a
    /// batch leaves it to the column's default (a function that returns what the sync set for its
    /// transaction), so the server parses it once, not per row. The values are those of a batch
    /// that sends it: each sync's own sync_id, a record's changes.
    @Test func metaOfABatchWithoutChangesComesFromTheDefault() throws {
        let db = try TestDatabase()
        let config = try Self.config(db, ["batch_size_rows": 2])
        func catalog(sync: Int) throws -> String {
            var stream = Self.stream("ev", mode: "append", properties: ["id": ["type": "integer"]])
            stream["sync_id"] = sync
            return try Self.catalog([stream])
        }
        let change = #","meta":{"changes":[{"field":"id","change":"NULLED","reason":"SOURCE_RETRIEVAL_ERROR"}]}"#
        let lines = [1, 2, 3, 4, 5].map { Self.record("ev", #"{"id":\#($0)}"#, meta: $0 == 3 ? change : "") }
        let first = try CommandLineTests.run(
            ["airbyte", "write", "--config", config, "--catalog", try catalog(sync: 7), "--log-level", "debug"],
            stdin: lines.joined(separator: "\n") + "\n")
        #expect(first.status == 0, "\(first.stderr)")
        // Batches (1, 2) and (5) leave it out; (3, 4) sends it, for record 3's changes.
        #expect(first.stderr.components(separatedBy: "leaves to the column default").count - 1 == 2, "\(first.stderr)")
        let second = try Self.write(db, config: config, catalog: try catalog(sync: 8), [Self.record("ev", #"{"id":6}"#)])
        #expect(second.status == 0, "\(second.stderr)")
        try db.connection.execute("INSERT INTO \(db.table("ev").quoted) (id) VALUES (99)")
        let empty = #"{"changes": [], "sync_id": 7}"#
        #expect(
            try db.rows("SELECT id::text, _airbyte_meta::text FROM \(db.table("ev").quoted) ORDER BY id") == [
                ["1", empty], ["2", empty],
                ["3", #"{"changes": [{"field": "id", "change": "NULLED", "reason": "SOURCE_RETRIEVAL_ERROR"}], "sync_id": 7}"#],
                ["4", empty], ["5", empty], ["6", #"{"changes": [], "sync_id": 8}"#], ["99", #"{"changes": []}"#],
            ])
        #expect(
            try db.column(
                """
                SELECT column_default FROM information_schema.columns
                WHERE table_schema = '\(db.schema)' AND table_name = 'ev' AND column_name = '_airbyte_meta'
                """) == ["\(db.schema)._pgsink_airbyte_meta()"])
        // An overwrite writes on a connection of its own: its batches set the meta there.
        var overwrite = Self.stream("ev", mode: "overwrite", properties: ["id": ["type": "integer"]])
        overwrite["sync_id"] = 9
        let third = try Self.write(
            db, config: config, catalog: try Self.catalog([overwrite]), [Self.record("ev", #"{"id":7}"#), Self.record("ev", #"{"id":8}"#)])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(
            try db.rows("SELECT id::text, _airbyte_meta::text FROM \(db.table("ev").quoted) ORDER BY id")
                == [["7", #"{"changes": [], "sync_id": 9}"#], ["8", #"{"changes": [], "sync_id": 9}"#]])
    }
}
