import Foundation
import PGSink
import PGSinkCore
import Testing

/// The Singer and Airbyte configs, decoded by the same decoder as pgsink.yaml: their keys,
/// aliases, lenient values, warnings for unknown keys and errors. No server.
@Suite("Singer and Airbyte configs")
struct StreamConfigTests {
    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func singerKeysAndAliases() throws {
        let config = try SingerConfig(try Self.json("""
            {"schema": "raw", "hard_delete": true, "add_record_metadata": "false", "activate_version": false,
             "batch_size_rows": "10", "batch_size_bytes": 2048, "batch_timeout": "90s", "load_method": "append-only",
             "flattening_enabled": true, "flattening_max_depth": 2, "nested_separator": "_", "state_id": "tap-x",
             "skip_schema_creation": true, "keep_case": true, "allow_reserved_words": true, "schema_contract": "freeze",
             "max_rejects": 0, "validate_records": true, "use_copy": true, "host": "db", "port": 1}
            """))
        let settings = config.settings
        #expect(settings.streams.schema == "raw")
        #expect(settings.hardDelete)
        #expect(!settings.addRecordMetadata)
        #expect(!settings.activateVersion)
        #expect(settings.appendOnly)
        #expect(settings.streams.batchRows == 10)
        #expect(settings.streams.batchBytes == 2048)
        #expect(settings.streams.batchSeconds == 90)
        #expect(settings.streams.nested == .flatten(depth: 2))
        #expect(settings.streams.nestedSeparator == "_")
        #expect(settings.streams.stateId == "tap-x")
        #expect(!settings.streams.createSchema)
        #expect(settings.streams.naming == NamingRules(keepCase: true, allowReservedWords: true))
        #expect(settings.streams.contract == .freeze)
        #expect(settings.streams.maxRejects == 0)
        #expect(config.warnings.isEmpty, "\(config.warnings)")
        #expect(try config.connection?.effectiveOptions()["port"] == "1")
        // nested wins over the flattening keys.
        let nested = try SingerConfig(["flattening_enabled": true, "nested": "jsonb"])
        #expect(nested.settings.streams.nested == .jsonb)
    }

    /// An empty config is target-postgres's defaults, which are `SingerSettings`'.
    @Test func singerDefaults() throws {
        let config = try SingerConfig([:])
        #expect(config.settings == SingerSettings())
        #expect(config.connection == nil)
    }

    @Test func singerWarnsOfUnknownKeysWithTheNearestOne() throws {
        let config = try SingerConfig(["flatening_enabled": true, "defualt_target_schema": "x", "sslmode": "require"])
        #expect(config.warnings == [
            #"unknown config key "defualt_target_schema" ignored (did you mean "default_target_schema"?)"#,
            #"unknown config key "flatening_enabled" ignored (did you mean "flattening_enabled"?)"#,
            #"unknown config key "sslmode" ignored (did you mean "ssl_mode"?)"#,
        ])
    }

    @Test(arguments: [
        (#"{"batch_size_rows": 0}"#, #"config key "batch_size_rows" must be positive"#),
        (#"{"batch_size_rows": "many"}"#, #"config key "batch_size_rows" must be a whole number"#),
        (#"{"batch_timeout": 0}"#, #"config key "batch_timeout" must be positive"#),
        (#"{"max_rejects": -1}"#, #"config key "max_rejects" must be 0 or more"#),
        (#"{"hard_delete": 1}"#, #"config key "hard_delete" must be true or false"#),
        (#"{"nested": "tables"}"#, #"config key "nested" takes jsonb, flatten or flatten:DEPTH (got "tables")"#),
        (#"{"schema_contract": "strict"}"#,
         #"config key "schema_contract" takes evolve, freeze, discard-row or discard-value (got "strict")"#),
        (#"{"load_method": "overwrite"}"#,
         #"config key "load_method" takes upsert (merge on key_properties) or append-only (got "overwrite"); for a full refresh, have the tap send ACTIVATE_VERSION and set hard_delete"#),
        (#"{"schema": "a", "default_target_schema": "b"}"#,
         #"config key "default_target_schema" is also given as schema; keep one of them"#),
    ])
    func singerErrorsNameTheKey(_ text: String, _ message: String) throws {
        let object = try Self.json(text)
        #expect { try SingerConfig(object) } throws: { ($0 as? LoadError)?.message == message }
    }

    @Test func airbyteKeysAndLenientValues() throws {
        let config = try AirbyteConfig(try Self.json("""
            {"host": "db", "port": 5432, "database": "d", "username": "u", "schema": "landing",
             "batch_size_rows": "5000", "batch_size_bytes": 1, "batch_timeout": 0.5, "max_rejects": 0,
             "cdc_deletion_mode": "Soft delete", "nested": "flatten", "schema_contract": "discard-value",
             "state_id": "sync-1", "drop_cascade": true, "unconstrained_number": true, "raw_data_schema": "x"}
            """))
        #expect(config.streams.schema == "landing")
        #expect(config.streams.batchRows == 5000)
        #expect(config.streams.batchBytes == 1)
        #expect(config.streams.batchSeconds == 0.5)
        #expect(config.streams.maxRejects == 0)
        #expect(config.streams.nested == .flatten(depth: 1000))
        #expect(config.streams.contract == .discardValue)
        #expect(config.streams.stateId == "sync-1")
        #expect(!config.hardDeleteCDC)
        #expect(config.warnings.isEmpty, "\(config.warnings)")
    }

    @Test func airbyteDefaultsAndWarnings() throws {
        let config = try AirbyteConfig(["host": "db", "disable_type_dedupe": true, "batch_size_row": 5])
        var expected = StreamSettings()
        expected.stateId = "airbyte"
        #expect(config.streams == expected)
        #expect(config.hardDeleteCDC)
        #expect(config.warnings == [
            #"unknown config key "batch_size_row" ignored (did you mean "batch_size_rows"?)"#,
            "disable_type_dedupe is ignored: pgsink writes typed tables directly",
        ])
    }

    /// A bad value is a config error (Airbyte's config_error), naming the key; before, a string
    /// where a number belongs was silently ignored.
    @Test(arguments: [
        (#"{"batch_size_rows": "lots"}"#, #"config key "batch_size_rows" must be a whole number"#),
        (#"{"batch_size_rows": 0}"#, #"config key "batch_size_rows" must be positive"#),
        (#"{"cdc_deletion_mode": "Sotf delete"}"#, #"config key "cdc_deletion_mode" takes Hard delete or Soft delete (got "Sotf delete")"#),
        (#"{"nested": "tables"}"#, #"config key "nested" takes jsonb, flatten or flatten:DEPTH (got "tables")"#),
    ])
    func airbyteErrorsAreConfigErrors(_ text: String, _ message: String) throws {
        let object = try Self.json(text)
        #expect { try AirbyteConfig(object) } throws: {
            guard let failure = $0 as? AirbyteFailure else { return false }
            return failure.kind == .config && failure.message == message
        }
    }

    @Test func frontEndOptionsRoundTripAsText() throws {
        var singer = SingerOptions()
        singer.loadMethod = .appendOnly
        singer.stream.nested = StreamNesting(.flatten(depth: 2))
        singer.stream.batchTimeout = Seconds(90)
        let data = try JSONEncoder().encode(singer)
        let tree = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(tree["load_method"] as? String == "append-only")
        #expect(tree["nested"] as? String == "flatten:2")
        #expect(tree["batch_timeout"] as? String == "90s")
        #expect(try TreeDecoder().decode(SingerOptions.self, from: tree) == singer)
        var airbyte = AirbyteOptions()
        airbyte.cdcDeletionMode = .soft
        let back = try JSONDecoder().decode(AirbyteOptions.self, from: try JSONEncoder().encode(airbyte))
        #expect(back == airbyte)
    }
}
