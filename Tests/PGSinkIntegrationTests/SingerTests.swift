import Foundation
import PGSink
import PGSinkCore
import Testing

/// `pgsink singer` as a tap's output reaches it: messages on stdin, states on stdout.
@Suite("Singer target")
struct SingerTests {
    /// Runs `pgsink singer` on `messages` (one JSON message per element) into this test's schema.
    static func target(_ db: TestDatabase, _ messages: [String], config: [String: Any] = [:]) throws -> CommandLineTests.Run {
        var settings: [String: Any] = ["default_target_schema": db.schema]
        settings.merge(config) { _, new in new }
        let file = try TestDatabase.file("target.json", try JSONSerialization.data(withJSONObject: settings))
        return try CommandLineTests.run(
            ["singer", "--config", file, "--to", db.url], stdin: messages.joined(separator: "\n") + "\n")
    }

    static func schema(_ stream: String, _ properties: String, keys: [String] = ["id"]) -> String {
        let keyList = keys.map { "\"\($0)\"" }.joined(separator: ",")
        return #"{"type":"SCHEMA","stream":"\#(stream)","schema":{"type":"object","properties":{\#(properties)}},"key_properties":[\#(keyList)]}"#
    }

    static func record(_ stream: String, _ record: String, extra: String = "") -> String {
        #"{"type":"RECORD","stream":"\#(stream)","record":\#(record)\#(extra)}"#
    }

    @Test func typesComeFromTheJSONSchema() throws {
        let db = try TestDatabase()
        let properties = """
            "id":{"type":"integer","minimum":-32768,"maximum":32767},"n":{"type":["null","integer"],"minimum":0,"maximum":100000},\
            "big":{"type":"integer"},"price":{"type":"number"},"ok":{"type":"boolean"},"at":{"type":"string","format":"date-time"},\
            "day":{"type":"string","format":"date"},"t":{"type":"string","format":"time"},"u":{"type":"string","format":"uuid"},\
            "doc":{"type":"object"},"list":{"type":["array","null"]},"any":{},"either":{"anyOf":[{"type":"string"},{"type":"null"}]},\
            "mixed":{"type":["integer","string"]},"dec":{"type":"string","format":"x-singer.decimal"}
            """
        let run = try Self.target(db, [
            Self.schema("typed", properties),
            Self.record("typed", #"{"id":1,"n":5,"big":12345678901234567890123,"price":0.1,"ok":true,"at":"2024-01-01T10:00:00+02:00","day":"2024-02-03","t":"10:11:12","u":"6f1c2d3e-4b5a-4c6d-8e7f-0123456789ab","doc":{"a":1},"list":[1,"x"],"any":{"k":[1]},"either":"e","mixed":"7","dec":"1.10"}"#),
        ], config: ["add_record_metadata": false])
        #expect(run.status == 0, "\(run.stderr)")
        let types = try db.columnTypes("typed")
        #expect(types == [
            "id": "smallint", "n": "integer", "big": "numeric", "price": "numeric", "ok": "boolean",
            "at": "timestamp with time zone", "day": "date", "t": "time without time zone", "u": "uuid", "doc": "jsonb",
            "list": "jsonb", "_any": "jsonb", "either": "text", "mixed": "text", "dec": "numeric",
        ])
        #expect(
            try db.rows("SELECT big::text, price::text, at::text, t::text, list::text, dec::text FROM \(db.table("typed").quoted)")
                == [["12345678901234567890123", "0.1", "2024-01-01 08:00:00+00", "10:11:12", "[1, \"x\"]", "1.10"]])
    }

    /// tap-postgres sends a timestamp it read from the WAL as PostgreSQL prints it, `infinity`
    /// too; `epoch` only the server reads (and is asked about): every column keeps its type, and
    /// the other values of the records stay theirs.
    @Test func aValueOnlyTheServerReadsKeepsEveryColumnsType() throws {
        let db = try TestDatabase()
        let run = try Self.target(db, [
            Self.schema("times", #""id":{"type":"integer"},"at":{"type":["string","null"],"format":"date-time"},"n":{"type":"integer"},"s":{"type":"string"}"#),
            Self.record("times", #"{"id":1,"at":"2024-01-01 00:01:00+00","n":5,"s":"first"}"#),
            Self.record("times", #"{"id":2,"at":"infinity","n":6,"s":"second"}"#),
            Self.record("times", #"{"id":3,"at":"epoch","n":7,"s":"third"}"#),
        ], config: ["add_record_metadata": false])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.columnTypes("times") == ["id": "bigint", "at": "timestamp with time zone", "n": "bigint", "s": "text"])
        #expect(
            try db.rows("SELECT id::text, at::text, n::text, s FROM \(db.table("times").quoted) ORDER BY id")
                == [["1", "2024-01-01 00:01:00+00", "5", "first"], ["2", "infinity", "6", "second"],
                    ["3", "1970-01-01 00:00:00+00", "7", "third"]])
    }

    @Test func statesArePrintedAfterTheirRecordsCommitAndTheLastAtTheEnd() throws {
        let db = try TestDatabase()
        let run = try Self.target(db, [
            Self.schema("events", #""id":{"type":"integer"},"v":{"type":"string"}"#),
            Self.record("events", #"{"id":1,"v":"a"}"#),
            #"{"type":"STATE","value":{"bookmarks":{"events":{"id":1}}}}"#,
            Self.record("events", #"{"id":2,"v":"b"}"#),
            Self.record("events", #"{"id":2,"v":"c"}"#),
            #"{"type":"STATE","value":{"bookmarks":{"events":{"id":2}}}}"#,
            Self.record("events", #"{"id":3,"v":"after the last state"}"#),
        ], config: ["batch_size_rows": 2])
        #expect(run.status == 0, "\(run.stderr)")
        let states = run.stdout.split(separator: "\n").map(String.init)
        #expect(states == [#"{"bookmarks":{"events":{"id":1}}}"#, #"{"bookmarks":{"events":{"id":2}}}"#])
        #expect(try db.rows("SELECT id::text, v FROM \(db.table("events").quoted) t ORDER BY t.id") == [["1", "a"], ["2", "c"], ["3", "after the last state"]])
        #expect(try db.column("SELECT state->'bookmarks'->'events'->>'id' FROM \(db.table("_pgsink_state").quoted)") == ["2"])
        // One ledger row per stream per flush, each counting the records it copied.
        #expect(try db.column("SELECT sum(rows)::text FROM \(db.table("_pgsink_loads").quoted)").first == "4")
    }

    @Test func duplicatesInABatchKeepTheLastAndNamesAreNormalized() throws {
        let db = try TestDatabase()
        let run = try Self.target(db, [
            Self.schema("tap-x-CamelUsers", #""userID":{"type":"integer"},"first:Name!":{"type":"string"},"note":{"type":"string"}"#, keys: ["userID"]),
            Self.record("tap-x-CamelUsers", #"{"userID":1,"first:Name!":"A","note":"x\u0000y"}"#),
            Self.record("tap-x-CamelUsers", #"{"userID":1,"first:Name!":"B"}"#),
            Self.record("tap-x-CamelUsers", #"{"userID":2,"first:Name!":"C"}"#),
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.rows("SELECT userid::text, first_name_, note FROM \(db.table("tap_x_camelusers").quoted) t ORDER BY t.userid") == [["1", "B", nil], ["2", "C", nil]])
        let again = try Self.target(db, [
            Self.schema("tap-x-CamelUsers", #""userID":{"type":"integer"},"first:Name!":{"type":"string"},"note":{"type":"string"}"#, keys: ["userID"]),
            Self.record("tap-x-CamelUsers", #"{"userID":3,"first:Name!":"D","note":"x\u0000y"}"#),
        ])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try db.column("SELECT note FROM \(db.table("tap_x_camelusers").quoted) WHERE userid = 3") == ["xy"])
        #expect(try db.count("tap_x_camelusers") == 3)
    }

    @Test func aLaterSchemaEvolvesTheTableMidStream() throws {
        let db = try TestDatabase()
        let run = try Self.target(db, [
            Self.schema("grow", #""id":{"type":"integer"}"#),
            Self.record("grow", #"{"id":1}"#),
            Self.schema("grow", #""id":{"type":"integer"},"flag":{"type":"boolean"},"meta":{"type":"object"}"#),
            Self.record("grow", #"{"id":2,"flag":true,"meta":{"k":1}}"#),
            Self.schema("grow", #""id":{"type":"integer"},"flag":{"type":"boolean"},"meta":{"type":"object"},"count":{"type":"string"}"#),
            Self.record("grow", #"{"id":3,"count":"many"}"#),
        ], config: ["add_record_metadata": false])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.columnTypes("grow") == ["id": "bigint", "flag": "boolean", "meta": "jsonb", "count": "text"])
        #expect(try db.rows("SELECT id::text, flag::text, count FROM \(db.table("grow").quoted) t ORDER BY t.id") == [["1", nil, nil], ["2", "true", nil], ["3", nil, "many"]])
    }

    @Test func badInputFailsWithTheLineAndCommitsNothingOfThatBatch() throws {
        let db = try TestDatabase()
        let early = try Self.target(db, [Self.record("nope", #"{"id":1}"#)])
        #expect(early.status == 1)
        #expect(early.stderr.contains("stdin:1"))
        #expect(early.stderr.contains("before the stream's SCHEMA"))
        let noKey = try Self.target(db, [Self.schema("k", #""id":{"type":"integer"},"v":{"type":"string"}"#), Self.record("k", #"{"v":"x"}"#)])
        #expect(noKey.status == 1)
        #expect(noKey.stderr.contains("stdin:2"))
        #expect(noKey.stderr.contains("no value for key property \"id\""))
        let noProperties = try Self.target(db, [#"{"type":"SCHEMA","stream":"s","schema":{"type":"object"},"key_properties":[]}"#])
        #expect(noProperties.status == 1)
        #expect(noProperties.stderr.contains("has no \"properties\""))
        let malformed = try Self.target(db, [Self.schema("m", #""id":{"type":"integer"}"#), #"{"type":"RECORD","stream":"m","record":{"id":1}"#])
        #expect(malformed.status == 1)
        #expect(malformed.stderr.contains("stdin:2"))
        #expect(try !db.exists("m"))
        #expect(try !db.exists("k"))
    }

    @Test func activateVersionDeletesOlderVersionsHardOrSoft() throws {
        for hard in [true, false] {
            let db = try TestDatabase()
            let v1 = #","version":1"#, v2 = #","version":2"#
            let run = try Self.target(db, [
                Self.schema("fullsync", #""id":{"type":"integer"},"v":{"type":"string"}"#),
                #"{"type":"ACTIVATE_VERSION","stream":"fullsync","version":1}"#,
                Self.record("fullsync", #"{"id":1,"v":"a"}"#, extra: v1),
                Self.record("fullsync", #"{"id":2,"v":"b"}"#, extra: v1),
                #"{"type":"ACTIVATE_VERSION","stream":"fullsync","version":1}"#,
                Self.record("fullsync", #"{"id":1,"v":"a2"}"#, extra: v2),
                #"{"type":"ACTIVATE_VERSION","stream":"fullsync","version":2}"#,
            ], config: ["hard_delete": hard])
            #expect(run.status == 0, "\(run.stderr)")
            let rows = try db.rows(
                "SELECT id::text, v, _sdc_table_version::text, (_sdc_deleted_at IS NOT NULL)::text FROM \(db.table("fullsync").quoted) t ORDER BY t.id")
            if hard {
                #expect(rows == [["1", "a2", "2", "false"]])
            } else {
                #expect(rows == [["1", "a2", "2", "false"], ["2", "b", "1", "true"]])
            }
        }
    }

    @Test func hardDeleteRemovesRecordsMarkedDeleted() throws {
        let db = try TestDatabase()
        let run = try Self.target(db, [
            Self.schema("cdc", #""id":{"type":"integer"},"_sdc_deleted_at":{"type":["null","string"],"format":"date-time"}"#),
            Self.record("cdc", #"{"id":1}"#),
            Self.record("cdc", #"{"id":2}"#),
            #"{"type":"STATE","value":1}"#,
            Self.record("cdc", #"{"id":2,"_sdc_deleted_at":"2024-01-01T00:00:00Z"}"#),
        ], config: ["hard_delete": true])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.column("SELECT id::text FROM \(db.table("cdc").quoted)") == ["1"])
        #expect(run.stdout == "1\n")
    }

    @Test func batchMessagesLoadLocalJSONLFiles() throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("part-1.jsonl", "{\"id\":1,\"v\":\"a\"}\n\n{\"id\":2,\"v\":\"b\"}\n")
        let run = try Self.target(db, [
            Self.schema("bulk", #""id":{"type":"integer"},"v":{"type":"string"}"#),
            #"{"type":"BATCH","stream":"bulk","encoding":{"format":"jsonl","compression":"none"},"manifest":["file://\#(path)"]}"#,
            Self.record("bulk", #"{"id":3,"v":"c"}"#),
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.column("SELECT v FROM \(db.table("bulk").quoted) t ORDER BY t.id") == ["a", "b", "c"])
    }

    @Test func aKilledRunKeepsCommittedStateAndReRunningDuplicatesNothing() throws {
        let db = try TestDatabase()
        let config = try TestDatabase.file(
            "t.json", try JSONSerialization.data(withJSONObject: ["default_target_schema": db.schema, "batch_size_rows": 2]))
        let process = Process()
        process.executableURL = CommandLineTests.executable
        process.arguments = ["singer", "--config", config, "--to", db.url]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let first = [
            Self.schema("orders", #""id":{"type":"integer"},"v":{"type":"string"}"#),
            Self.record("orders", #"{"id":1,"v":"a"}"#),
            #"{"type":"STATE","value":{"at":1}}"#,
            Self.record("orders", #"{"id":2,"v":"b"}"#),
            Self.record("orders", #"{"id":3,"v":"c"}"#),
        ]
        input.fileHandleForWriting.write(Data((first.joined(separator: "\n") + "\n").utf8))
        // The flush after two records commits them and prints the state; then the target dies mid-stream.
        var printed = Data()
        while !String(decoding: printed, as: UTF8.self).contains("\n") {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            printed += chunk
        }
        input.fileHandleForWriting.write(Data((Self.record("orders", #"{"id":4,"v":"lost"}"#) + "\n").utf8))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(String(decoding: printed, as: UTF8.self) == "{\"at\":1}\n")
        let committed = try db.column("SELECT id::text FROM \(db.table("orders").quoted) t ORDER BY t.id")
        #expect(committed.count >= 2 && committed.count <= 3)
        #expect(try db.column("SELECT state::text FROM \(db.table("_pgsink_state").quoted)") == ["{\"at\": 1}"])
        // The tap resumes from {"at":1} and sends everything after it again.
        let rerun = try CommandLineTests.run(
            ["singer", "--config", config, "--to", db.url],
            stdin: [
                Self.schema("orders", #""id":{"type":"integer"},"v":{"type":"string"}"#),
                Self.record("orders", #"{"id":2,"v":"b"}"#), Self.record("orders", #"{"id":3,"v":"c"}"#),
                Self.record("orders", #"{"id":4,"v":"d"}"#), #"{"type":"STATE","value":{"at":4}}"#,
            ].joined(separator: "\n") + "\n")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout == "{\"at\":4}\n")
        #expect(try db.rows("SELECT id::text, v FROM \(db.table("orders").quoted) t ORDER BY t.id") == [["1", "a"], ["2", "b"], ["3", "c"], ["4", "d"]])
    }

    @Test func configKeysOfTargetPostgresAreUnderstood() throws {
        let config = try SingerConfig([
            "host": "db.internal", "port": 5433, "user": "loader", "password": "p w'x", "database": "dw",
            "default_target_schema": "raw", "hard_delete": true, "add_record_metadata": false, "batch_size_rows": 10,
            "ssl_enable": true, "ssl_mode": "verify-ca", "validate_records": true, "flatening_enabled": true,
        ])
        let options = try #require(try config.connection?.effectiveOptions())
        #expect(options["host"] == "db.internal")
        #expect(options["port"] == "5433")
        #expect(options["user"] == "loader")
        #expect(options["password"] == "p w'x")
        #expect(options["dbname"] == "dw")
        #expect(options["sslmode"] == "verify-ca")
        #expect(config.settings.streams.schema == "raw")
        #expect(config.settings.hardDelete)
        #expect(!config.settings.addRecordMetadata)
        #expect(config.settings.streams.batchRows == 10)
        #expect(config.warnings == [#"unknown config key "flatening_enabled" ignored (did you mean "flattening_enabled"?)"#])
        let url = try SingerConfig(["sqlalchemy_url": "postgresql+psycopg2://u:p@h:5432/db"])
        #expect(url.connection?.base == "postgresql://u:p@h:5432/db")
        #expect(throws: LoadError.self) { try SingerConfig(["load_method": "overwrite"]) }
    }

    @Test func jsonNumbersZeroAndOneAreNumbersNotFlags() throws {
        // JSONSerialization's 0 and 1 also cast to Bool; they must still read as numbers.
        let parsed = try JSONSerialization.jsonObject(
            with: Data(#"{"max_rejects":0,"batch_size_rows":1,"batch_timeout":1,"port":1}"#.utf8)) as! [String: Any]
        let config = try SingerConfig(parsed)
        #expect(config.settings.streams.maxRejects == 0)
        #expect(config.settings.streams.batchRows == 1)
        #expect(config.settings.streams.batchSeconds == 1)
        #expect(try config.connection?.effectiveOptions()["port"] == "1")
        let db = try TestDatabase()
        let run = try Self.target(
            db, [Self.schema("ones", #""id":{"type":"integer"}"#), Self.record("ones", #"{"id":1}"#),
                 Self.record("ones", #"{"id":2}"#)],
            config: ["max_rejects": 0, "batch_size_rows": 1, "batch_timeout": 1])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.count("ones") == 2)
    }

    /// singer-sdk's `pk_updates`: a stream that changes key_properties mid-stream moves the
    /// table's primary key in the same transaction when the new key is unique over its rows.
    @Test func aChangedKeyMovesThePrimaryKeyWhenItIsUnique() throws {
        let db = try TestDatabase()
        let properties = #""id":{"type":"integer"},"code":{"type":"string"},"v":{"type":"string"}"#
        let run = try Self.target(db, [
            Self.schema("items", properties, keys: ["id"]),
            Self.record("items", #"{"id":1,"code":"a","v":"one"}"#),
            Self.record("items", #"{"id":2,"code":"b","v":"two"}"#),
            #"{"type":"STATE","value":{"at":1}}"#,
            Self.schema("items", properties, keys: ["code"]),
            Self.record("items", #"{"id":3,"code":"a","v":"one again"}"#),
            #"{"type":"STATE","value":{"at":2}}"#,
        ], config: ["add_record_metadata": false])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains(#"{"at":2}"#))
        let key = try db.column(
            """
            SELECT a.attname::text FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
            WHERE c.conrelid = '\(db.schema).items'::regclass AND c.contype = 'p'
            """)
        #expect(key == ["code"])
        #expect(try db.rows("SELECT code, id::text, v FROM \(db.table("items").quoted) ORDER BY code") == [["a", "3", "one again"], ["b", "2", "two"]])
    }

    @Test func aChangedKeyThatIsNotUniqueNamesTheRepeatedValues() throws {
        let db = try TestDatabase()
        let properties = #""id":{"type":"integer"},"grp":{"type":"string"}"#
        let run = try Self.target(db, [
            Self.schema("items", properties, keys: ["id"]),
            Self.record("items", #"{"id":1,"grp":"x"}"#),
            Self.record("items", #"{"id":2,"grp":"x"}"#),
            #"{"type":"STATE","value":{"at":1}}"#,
            Self.schema("items", properties, keys: ["grp"]),
            Self.record("items", #"{"id":3,"grp":"y"}"#),
        ], config: ["add_record_metadata": false])
        #expect(run.status == 1)
        #expect(run.stderr.contains("the stream's key is now (grp), which is not unique over the rows already there: (x) 2 times"), "\(run.stderr)")
        #expect(!run.stderr.contains("never drops or rebuilds"))
        #expect(try db.count("items") == 2)
    }

    /// A keyed stream into a table the transaction creates is copied straight in and keyed once
    /// before the commit: the last record of a key wins across batches, and the table ends with
    /// its primary key and none of the load-order column.
    @Test func aNewKeyedTableIsKeyedOnceAndTheLastRecordWinsAcrossBatches() throws {
        let db = try TestDatabase()
        let properties = #""id":{"type":"integer"},"v":{"type":"string"}"#
        var messages = [Self.schema("keyed", properties)]
        for n in 1...7 { messages.append(Self.record("keyed", #"{"id":\#(n % 3),"v":"v\#(n)"}"#)) }
        messages.append(#"{"type":"STATE","value":{"at":1}}"#)
        messages.append(Self.record("keyed", #"{"id":1,"v":"after the commit"}"#))
        let run = try Self.target(db, messages, config: ["add_record_metadata": false, "batch_size_rows": 2])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.rows("SELECT id::text, v FROM \(db.table("keyed").quoted) ORDER BY id") == [["0", "v6"], ["1", "after the commit"], ["2", "v5"]])
        let key = try db.column(
            """
            SELECT a.attname::text FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
            WHERE c.conrelid = '\(db.schema).keyed'::regclass AND c.contype = 'p'
            """)
        #expect(key == ["id"])
        #expect(try db.columnTypes("keyed")["_pgsink_seq"] == nil)
    }

    /// Once a keyed table the stream created is committed, a batch of keys it has never written
    /// is copied straight in rather than upserted; a key someone else wrote meanwhile sends that
    /// batch the upsert way after all, and a key written before is upserted as always.
    @Test func newKeysAreCopiedStraightInAndAForeignRowFallsBackToTheUpsert() throws {
        let db = try TestDatabase()
        let config = try TestDatabase.file(
            "direct.json",
            try JSONSerialization.data(withJSONObject: [
                "default_target_schema": db.schema, "batch_size_rows": 2, "add_record_metadata": false,
            ]))
        let process = Process()
        process.executableURL = CommandLineTests.executable
        process.arguments = ["singer", "--config", config, "--to", db.url, "--log-level", "debug"]
        let input = Pipe(), output = Pipe()
        let logPath = try TestDatabase.file("direct.log", "")
        process.standardInput = input
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try process.run()
        func send(_ lines: [String]) { input.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n").utf8)) }
        var echoed = ""
        func waitForState(_ n: Int) {
            while !echoed.contains(#""at":\#(n)"#) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { return }
                echoed += String(decoding: chunk, as: UTF8.self)
            }
        }
        let properties = #""id":{"type":"integer"},"v":{"type":"string"}"#
        send([Self.schema("direct", properties), Self.record("direct", #"{"id":1,"v":"a"}"#),
            Self.record("direct", #"{"id":2,"v":"a"}"#), #"{"type":"STATE","value":{"at":1}}"#])
        waitForState(1)
        // Committed and keyed; another writer adds a row the stream is about to bring.
        try db.connection.execute("INSERT INTO \(db.table("direct").quoted) (id, v) VALUES (4, 'theirs')")
        send([Self.record("direct", #"{"id":3,"v":"b"}"#), Self.record("direct", #"{"id":5,"v":"b"}"#),
            #"{"type":"STATE","value":{"at":2}}"#])
        waitForState(2)
        send([Self.record("direct", #"{"id":4,"v":"b"}"#), Self.record("direct", #"{"id":6,"v":"b"}"#),
            Self.record("direct", #"{"id":1,"v":"c"}"#), Self.record("direct", #"{"id":7,"v":"c"}"#)])
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        let log = try String(contentsOfFile: logPath, encoding: .utf8)
        #expect(process.terminationStatus == 0, "\(log)")
        #expect(
            try db.rows("SELECT id::text, v FROM \(db.table("direct").quoted) ORDER BY id")
                == [["1", "c"], ["2", "a"], ["3", "b"], ["4", "b"], ["5", "b"], ["6", "b"], ["7", "c"]])
        // (3, 5) went straight in; (4, 6) tried and fell back on the foreign row 4; (1, 7) holds a
        // key written before, so it never tried.
        #expect(log.components(separatedBy: "with new keys copied straight into").count - 1 == 1, "\(log)")
        #expect(log.components(separatedBy: "upserting the batch instead").count - 1 == 1, "\(log)")
    }
}
