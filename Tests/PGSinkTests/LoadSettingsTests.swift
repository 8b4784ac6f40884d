import Foundation
import PGSink
import PGSinkCore
import Testing

/// `pgsink load`'s options from every source (YAML, TOML, JSON, the environment, flags), their
/// precedence, aliases and lenient values, and errors that name the file and key. No server.
@Suite("Load settings")
struct LoadSettingsTests {
    static func file(_ name: String, _ content: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgsink-settings-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try content.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func destination(_ name: String, _ content: String) throws -> DestinationConfig {
        try #require(try DestinationConfig.load(config: try file(name, content), secrets: []))
    }

    /// The message a config file's destination section fails with.
    static func failure(_ name: String, _ content: String) throws -> String {
        let path = try file(name, content)
        do {
            _ = try DestinationConfig.load(config: path, secrets: [])
        } catch {
            return "\(error)".replacingOccurrences(of: path, with: name)
        }
        Issue.record("\(name) was accepted")
        return ""
    }

    @Test func yamlGivesOptionsAndConnectionApart() throws {
        let config = try Self.destination("pgsink.yaml", """
            destination:
              host: db.example.com
              dest_table: analytics.orders
              incremental_strategy: merge
              primary_key: [id, region]
              batch_size: "5000"
              batch_timeout: 500ms
              lower_case: "false"
              pgx_log_level: debug
            """)
        let settings = config.settings
        #expect(settings.table == "analytics.orders")
        #expect(settings.writeMode == WriteMode(.merge))
        #expect(settings.primaryKey == ColumnList(["id", "region"]))
        #expect(settings.batchRows == 5000)
        #expect(settings.batchTimeout == Seconds(0.5))
        #expect(settings.lowerCase == false)
        #expect(settings.logLevel == .debug)
        #expect(settings.jobs == nil)
        #expect(try config.connection?.effectiveOptions()["host"] == "db.example.com")
    }

    @Test func tomlGivesTheSameOptions() throws {
        let config = try Self.destination("pgsink.toml", """
            [destination]
            table = "events"
            write_disposition = "replace"
            primary_key = "a, b"
            batch_size = 10
            create_indexes = false
            schema_contract = "freeze"
            nested = "flatten:2"
            """)
        #expect(config.connection == nil)
        #expect(config.settings.table == "events")
        #expect(config.settings.writeMode == WriteMode(.replace))
        #expect(config.settings.primaryKey == ColumnList(["a", "b"]))
        #expect(config.settings.batchRows == 10)
        #expect(config.settings.createIndexes == false)
        #expect(config.settings.schemaContract == .freeze)
        #expect(config.settings.nested == .flatten(depth: 2))
    }

    /// Foundation's JSON 0 and 1 also cast to Bool; as options they are numbers, and a boolean
    /// key does not take them.
    @Test func jsonZeroAndOneAreNumbers() throws {
        let config = try Self.destination(
            "pgsink.json", #"{"destination": {"max_rejects": 0, "jobs": 1, "batch_size": 1, "metadata": true, "delete_stale": false}}"#)
        #expect(config.settings.maxRejects == 0)
        #expect(config.settings.jobs == 1)
        #expect(config.settings.batchRows == 1)
        #expect(config.settings.metadata == true)
        #expect(config.settings.deleteStale == false)
        #expect(try Self.failure("one.json", #"{"destination": {"metadata": 1}}"#)
            == "one.json: destination.metadata must be true or false")
        #expect(try Self.failure("flag.json", #"{"destination": {"batch_size": true}}"#)
            == "flag.json: destination.batch_size must be a whole number")
    }

    @Test func theEnvironmentGivesEveryOptionAsPGSINKKey() throws {
        let settings = try LoadSettings(environment: [
            "PGSINK_BATCH_SIZE": "5000", "PGSINK_WRITE_MODE": "overwrite-delete-stale", "PGSINK_PRIMARY_KEY": "id, day",
            "PGSINK_BATCH_TIMEOUT": "2m", "PGSINK_METADATA": "TRUE", "PGSINK_TABLE": "", "PGSINK_URL": "postgresql://x",
            "PGSINK_DEST_TABLE": "aliases are not read from the environment",
        ])
        #expect(settings.batchRows == 5000)
        #expect(settings.writeMode == WriteMode(.merge, deletesStale: true))
        #expect(settings.deleteStale == true)
        #expect(settings.primaryKey == ColumnList(["id", "day"]))
        #expect(settings.batchTimeout == Seconds(120))
        #expect(settings.metadata == true)
        #expect(settings.table == nil, "an empty variable is unset")
        #expect(throws: SettingError.self) { try LoadSettings(environment: ["PGSINK_JOBS": "four"]) }
        do {
            _ = try LoadSettings(environment: ["PGSINK_JOBS": "four"])
        } catch {
            #expect(error.description == "environment: PGSINK_JOBS takes a number of connections, or auto")
        }
    }

    @Test func flagsBeatTheFileWhichBeatsTheEnvironmentWhichBeatsDefaults() throws {
        var flags = LoadSettings()
        flags.batchRows = 1
        var file = LoadSettings()
        file.batchRows = 2
        file.batchBytes = 20
        let environment = ["PGSINK_BATCH_SIZE": "3", "PGSINK_BATCH_SIZE_BYTES": "30", "PGSINK_JOBS": "3"]
        let settings = try LoadSettings.resolve(flags: flags, file: file, environment: environment)
        #expect(settings.batchRows == 1)
        #expect(settings.batchBytes == 20)
        #expect(settings.jobs == 3)
        #expect(settings.effective(\.maxRejects) == 0)
        #expect(settings.effective(\.batchTimeout) == Seconds(1))
        #expect(settings.effective(\.writeMode) == WriteMode(.append))
        let none = try LoadSettings.resolve(flags: LoadSettings(), file: nil, environment: [:])
        #expect(none == LoadSettings())
        #expect(none.effective(\.batchRows) == 50_000)
        #expect(none.effective(\.connectRetries) == 5)
        #expect(none.logLevel == nil)
    }

    /// `--mode` replaces the file's mode together with the stale-row deletion that goes with it;
    /// a layer without a mode keeps the lower layer's.
    @Test func aLayerThatSetsTheModeAlsoDecidesDeleteStale() throws {
        let cloudquery = try Self.destination("cq.yaml", "destination:\n  write_mode: overwrite-delete-stale\n").settings
        var mode = LoadSettings()
        mode.writeMode = WriteMode(.merge)
        let replaced = try LoadSettings.resolve(flags: mode, file: cloudquery, environment: [:])
        #expect(replaced.effective(\.writeMode) == WriteMode(.merge))
        #expect(replaced.effective(\.deleteStale) == false)
        let kept = try LoadSettings.resolve(flags: LoadSettings(), file: cloudquery, environment: [:])
        #expect(kept.effective(\.deleteStale) == true)
        var off = LoadSettings()
        off.deleteStale = false
        #expect(try LoadSettings.resolve(flags: off, file: cloudquery, environment: [:]).effective(\.deleteStale) == false)
        // The same layer may say otherwise.
        let explicit = try Self.destination("cq2.yaml", "destination:\n  mode: overwrite-delete-stale\n  delete_stale: false\n")
        #expect(explicit.settings.deleteStale == false)
        // The file's mode decides the environment's delete_stale too.
        let file = try Self.destination("m.yaml", "destination:\n  write_mode: append\n").settings
        let fromEnvironment = try LoadSettings.resolve(
            flags: LoadSettings(), file: file, environment: ["PGSINK_DELETE_STALE": "true"])
        #expect(fromEnvironment.effective(\.deleteStale) == false)
        let withoutMode = try LoadSettings.resolve(
            flags: LoadSettings(), file: LoadSettings(), environment: ["PGSINK_DELETE_STALE": "true"])
        #expect(withoutMode.effective(\.deleteStale) == true)
    }

    @Test(arguments: [
        ("append", WriteMode(.append)), ("replace", WriteMode(.replace)), ("overwrite", WriteMode(.replace)),
        ("truncate-insert", WriteMode(.replace)), ("merge", WriteMode(.merge)), ("UPSERT", WriteMode(.merge)),
        ("overwrite-delete-stale", WriteMode(.merge, deletesStale: true)),
    ])
    func everySpellingOfAWriteMode(_ text: String, _ mode: WriteMode) throws {
        for key in ["write_mode", "incremental_strategy", "write_disposition", "mode"] {
            let settings = try Self.destination("w.yaml", "destination:\n  \(key): \(text)\n").settings
            #expect(settings.writeMode == mode, "\(key): \(text)")
        }
    }

    @Test(arguments: [("60", 60.0), ("60s", 60), ("500ms", 0.5), ("5m", 300), ("1h", 3600), ("0.25", 0.25), ("\"90\"", 90)])
    func durations(_ text: String, _ seconds: Double) throws {
        let settings = try Self.destination("d.yaml", "destination:\n  batch_timeout: \(text)\n").settings
        #expect(settings.batchTimeout == Seconds(seconds))
    }

    @Test func aliasesAndTheirConflicts() throws {
        let nilus = try Self.destination("n.yaml", "destination:\n  dest_table: raw.orders\n  pgx_log_level: warn\n")
        #expect(nilus.settings.table == "raw.orders")
        #expect(nilus.settings.logLevel == .warn)
        #expect(try Self.failure("both.yaml", "destination:\n  table: a\n  dest_table: b\n")
            == "both.yaml: destination.table is also given as dest_table; keep one of them")
    }

    @Test(arguments: [
        ("batch_size: many", "destination.batch_size must be a whole number"),
        ("batch_size: 0", "destination.batch_size must be positive"),
        ("jobs: -2", "destination.jobs must be positive, or auto"),
        ("batch_size: 1.5", "destination.batch_size must be a whole number"),
        ("metadata: yes please", "destination.metadata must be true or false"),
        ("table: [a, b]", "destination.table must be text"),
        ("primary_key: [1, {a: b}]", "destination.primary_key must list column names"),
        ("batch_timeout: soon", "destination.batch_timeout must be a duration such as 60s, 5m or 500ms (got \"soon\")"),
        ("write_mode: sideways", "destination.write_mode takes append, replace, merge or overwrite-delete-stale (got \"sideways\")"),
        ("mode: sideways", "destination.mode takes append, replace, merge or overwrite-delete-stale (got \"sideways\")"),
        ("schema_contract: frozen", "destination.schema_contract takes evolve, freeze, discard-row or discard-value (got \"frozen\")"),
        ("nested: deep", "destination.nested takes jsonb, flatten, flatten:DEPTH (DEPTH ≥ 1) or tables (got \"deep\")"),
        ("log_level: loud", "destination.log_level takes error, warn, info, debug or trace (got \"loud\")"),
        ("batch_sise: 10", #"destination: unknown key "batch_sise" (did you mean "batch_size"?); see docs/configuration.md"#),
        ("write_mod: merge", #"destination: unknown key "write_mod" (did you mean "write_mode"?); see docs/configuration.md"#),
    ])
    func badValuesNameTheFileAndKey(_ line: String, _ message: String) throws {
        #expect(try Self.failure("pgsink.yaml", "destination:\n  host: db\n  \(line)\n") == "pgsink.yaml: " + message)
    }

    @Test func settingsRoundTripThroughJSON() throws {
        var settings = LoadSettings()
        settings.table = "s.t"
        settings.writeMode = WriteMode(.merge, deletesStale: true)
        settings.deleteStale = true
        settings.primaryKey = ColumnList(["a", "b"])
        settings.batchTimeout = Seconds(0.5)
        settings.nested = .flatten(depth: 3)
        settings.schemaContract = .discardRow
        settings.lowerCase = false
        settings.maxRejects = 0
        settings.logLevel = .trace
        let data = try JSONEncoder().encode(settings)
        let tree = try JSONSerialization.jsonObject(with: data)
        #expect(try TreeDecoder().decode(LoadSettings.self, from: tree) == settings)
        #expect(try JSONDecoder().decode(LoadSettings.self, from: data).primaryKey == settings.primaryKey)
        let keys = Set(try #require(tree as? [String: Any]).keys)
        #expect(keys == ["table", "write_mode", "delete_stale", "primary_key", "batch_timeout", "nested", "schema_contract",
            "lower_case", "max_rejects", "log_level"])
    }

    /// A load built from no settings at all is the load `LoadRequest` describes by default.
    @Test func defaultsAgreeWithTheLoadRequest() {
        let table = TableName(schema: "public", name: "t")
        let plain = LoadRequest(inputs: ["x.csv"], table: table)
        let resolved = LoadRequest(inputs: ["x.csv"], table: table, settings: LoadSettings())
        #expect(resolved.mode == plain.mode)
        #expect(resolved.deleteStale == plain.deleteStale)
        #expect(resolved.primaryKey == plain.primaryKey)
        #expect(resolved.batchRows == plain.batchRows)
        #expect(resolved.batchBytes == plain.batchBytes)
        #expect(resolved.batchSeconds == plain.batchSeconds)
        #expect(resolved.createSchema == plain.createSchema)
        #expect(resolved.naming == plain.naming)
        #expect(resolved.createIndexes == plain.createIndexes)
        #expect(resolved.performanceIndexes == plain.performanceIndexes)
        #expect(resolved.contract == plain.contract)
        #expect(resolved.maxRejects == plain.maxRejects)
        #expect(resolved.nested == plain.nested)
        #expect(resolved.metadata == plain.metadata)
        #expect(resolved.jobs == plain.jobs)
    }

    @Test func settingsReachTheLoadRequest() throws {
        let config = try Self.destination("r.yaml", """
            destination:
              write_mode: overwrite-delete-stale
              primary_key: id
              skip_schema_creation: true
              lower_case: false
              allow_reserved_words: true
              create_performance_indexes: true
              nested: tables
              batch_size_bytes: 1024
            """)
        let request = LoadRequest(inputs: ["x.csv"], table: TableName(schema: "public", name: "t"), settings: config.settings)
        #expect(request.mode == .merge)
        #expect(request.deleteStale)
        #expect(request.primaryKey == ["id"])
        #expect(!request.createSchema)
        #expect(request.naming == NamingRules(keepCase: true, allowReservedWords: true))
        #expect(request.performanceIndexes)
        #expect(request.nested == .tables)
        #expect(request.batchBytes == 1024)
    }
}
