import ArgumentParser
import Foundation
import PGSink
import PGSinkCore
import Testing

@testable import pgsink

/// `pgsink load`'s flags as settings, over a config file and the environment, and the checks
/// that run once on what they resolve to. No server.
@Suite("Load flags")
struct LoadFlagsTests {
    @Test func noFlagsSayNothing() throws {
        #expect(try LoadCommand.parse(["x.csv"]).flagSettings == LoadSettings())
    }

    @Test func everyFlagBecomesItsSetting() throws {
        let command = try LoadCommand.parse([
            "x.csv", "--table", "s.t", "--mode", "merge", "--primary-key", "a, b", "--batch-rows", "7", "--batch-bytes", "9",
            "--batch-timeout", "0.5", "--skip-schema-creation", "--keep-case", "--allow-reserved-words", "--no-indexes",
            "--no-performance-indexes", "--schema-contract", "freeze", "--max-rejects", "3", "--nested", "flatten:2",
            "--no-metadata", "--no-delete-stale", "--jobs", "4", "--connect-retries", "0", "--log-level", "info",
            "--null-values", "NA, \\N",
        ])
        var expected = LoadSettings()
        expected.table = "s.t"
        expected.writeMode = WriteMode(.merge)
        expected.primaryKey = ColumnList(["a", "b"])
        expected.batchRows = 7
        expected.batchBytes = 9
        expected.batchTimeout = Seconds(0.5)
        expected.skipSchemaCreation = true
        expected.lowerCase = false
        expected.allowReservedWords = true
        expected.createIndexes = false
        expected.createPerformanceIndexes = false
        expected.schemaContract = .freeze
        expected.maxRejects = 3
        expected.nested = .flatten(depth: 2)
        expected.metadata = false
        expected.deleteStale = false
        expected.jobs = 4
        expected.connectRetries = 0
        expected.logLevel = .info
        expected.nullValues = NullValues(["NA", "\\N"])
        #expect(command.flagSettings == expected)
        let opposite = try LoadCommand.parse(["x.csv", "--create-schema", "--lower-case", "--indexes", "--metadata"])
        #expect(opposite.flagSettings.skipSchemaCreation == false)
        #expect(opposite.flagSettings.lowerCase == true)
        #expect(opposite.flagSettings.createIndexes == true)
        #expect(opposite.flagSettings.metadata == true)
    }

    @Test func csvDialectAndValueFlags() throws {
        let command = try LoadCommand.parse([
            "x.csv", "--delimiter", "|", "--quote", "'", "--escape", "\\", "--comment", "none", "--skip-lines", "2",
            "--header", "--decimal-separator", ",", "--thousands-separator", ".", "--date-format", "%d.%m.%Y",
            "--timestamp-format", "%m/%d/%Y %I:%M %p", "--null-values", "auto",
        ])
        let dialect = try command.dialectOptions()
        #expect(dialect.delimiter == 124)
        #expect(dialect.quote == 39)
        #expect(dialect.escape == .some(92))
        #expect(dialect.comment == .some(nil))
        #expect(dialect.skipLines == 2)
        #expect(dialect.hasHeader == true)
        let values = try command.valueOptions(nullValues: command.flagSettings.nullValues)
        #expect(values.autoNullValues)
        #expect(values.nullValues.isEmpty)
        #expect(values.decimalSeparator == 44)
        #expect(values.thousandsSeparator == 46)
        #expect(values.dateFormat?.description == "%d.%m.%Y")
        #expect(values.timestampFormat?.description == "%m/%d/%Y")
        // Nothing said: everything is sniffed.
        #expect(try LoadCommand.parse(["x.csv"]).dialectOptions() == CSVDialectOptions())
    }

    @Test(arguments: [
        (["--header", "--no-header"], "--header and --no-header contradict each other"),
        (["--quote", "ab"], "--quote takes one ASCII character (got \"ab\")"),
        (["--date-format", "%Y%m%d"], "--date-format %Y%m%d: unknown format"),
        (["--decimal-separator", ",", "--thousands-separator", ","], "cannot be the same character"),
        (["--skip-lines=-1"], "--skip-lines takes 0 or more lines"),
    ])
    func badCSVFlagsSayWhatToPass(_ flags: [String], _ message: String) {
        do {
            _ = try LoadCommand.parse(["x.csv"] + flags)
            Issue.record("\(flags) passed")
        } catch {
            #expect(LoadCommand.message(for: error).contains(message), "\(LoadCommand.message(for: error))")
        }
    }

    @Test func jobsTakeANumberOrAuto() throws {
        #expect(try LoadCommand.parse(["x.csv", "--jobs", "auto"]).flagSettings.jobs == .auto)
        #expect(try LoadCommand.parse(["x.csv", "--jobs", "3"]).flagSettings.jobs == 3)
        #expect(throws: (any Error).self) { try LoadCommand.parse(["x.csv", "--jobs", "many"]) }
        let path = try LoadSettingsTests.file("pgsink.yaml", "destination:\n  jobs: auto\n")
        let file = try #require(try DestinationConfig.load(config: path, secrets: [])).settings
        #expect(file.jobs == .auto)
        let environment = try LoadSettings.resolve(
            flags: LoadSettings(), file: LoadSettings(), environment: ["PGSINK_JOBS": "auto"])
        #expect(environment.effective(\.jobs) == .auto)
        #expect(try LoadSettings.resolve(flags: LoadSettings(), file: file, environment: [:]).effective(\.jobs) == .auto)
    }

    @Test func flagsOverTheFileOverTheEnvironment() throws {
        let path = try LoadSettingsTests.file("pgsink.yaml", """
            destination:
              write_mode: overwrite-delete-stale
              primary_key: [id]
              batch_size: 100
              metadata: true
              jobs: 2
            """)
        let file = try #require(try DestinationConfig.load(config: path, secrets: [])).settings
        let environment = ["PGSINK_BATCH_SIZE": "300", "PGSINK_JOBS": "3", "PGSINK_MAX_REJECTS": "9"]
        let command = try LoadCommand.parse(["x.csv", "--mode", "merge", "--no-metadata"])
        let settings = try LoadSettings.resolve(flags: command.flagSettings, file: file, environment: environment)
        #expect(settings.effective(\.writeMode) == WriteMode(.merge))
        #expect(settings.effective(\.deleteStale) == false, "--mode replaces the file's overwrite-delete-stale")
        #expect(settings.effective(\.metadata) == false)
        #expect(settings.effective(\.batchRows) == 100)
        #expect(settings.effective(\.jobs) == 2)
        #expect(settings.effective(\.maxRejects) == 9)
        #expect(settings.effective(\.batchBytes) == 16 << 20)
        // The file's primary key serves --mode merge: checks run on what the layers resolve to.
        try command.checkCombination(settings)
    }

    @Test func nullValuesFromTheFileAsAListOrTextAndFlagsWin() throws {
        for (yaml, expected) in [
            ("null_values: [NA, \"-\"]", NullValues(["NA", "-"])), ("null_values: NA,NULL", NullValues(["NA", "NULL"])),
            ("null_values: auto", NullValues([], auto: true)),
        ] {
            let path = try LoadSettingsTests.file("pgsink.yaml", "destination:\n  " + yaml + "\n")
            let file = try #require(try DestinationConfig.load(config: path, secrets: [])).settings
            let settings = try LoadSettings.resolve(flags: LoadSettings(), file: file, environment: [:])
            #expect(settings.effective(\.nullValues) == expected, "\(yaml)")
            let command = try LoadCommand.parse(["x.csv"])
            let values = try command.valueOptions(nullValues: settings.nullValues)
            #expect(values.autoNullValues == expected.auto)
            #expect(values.nullValues == expected.values)
        }
        let path = try LoadSettingsTests.file("pgsink.yaml", "destination:\n  null_values: [NA]\n")
        let file = try #require(try DestinationConfig.load(config: path, secrets: [])).settings
        let command = try LoadCommand.parse(["x.csv", "--null-values", "auto"])
        let settings = try LoadSettings.resolve(flags: command.flagSettings, file: file, environment: [:])
        #expect(settings.effective(\.nullValues) == NullValues([], auto: true))
        #expect(LoadSettings().effective(\.nullValues) == NullValues([]))
    }

    @Test func checksRunOnTheResolvedSettingsWithTheFlagsWording() throws {
        func failure(_ arguments: [String], file: String = "", environment: [String: String] = [:]) throws -> String {
            let command = try LoadCommand.parse(arguments)
            var fileSettings: LoadSettings?
            if !file.isEmpty {
                let path = try LoadSettingsTests.file("pgsink.yaml", "destination:\n" + file)
                fileSettings = try DestinationConfig.load(config: path, secrets: [])?.settings
            }
            let settings = try LoadSettings.resolve(flags: command.flagSettings, file: fileSettings, environment: environment)
            do {
                try command.checkCombination(settings)
            } catch let error as ValidationError {
                return error.message
            }
            Issue.record("\(arguments) \(file) \(environment) passed the checks")
            return ""
        }
        #expect(try failure(["x.csv", "--delete-stale"], file: "  write_mode: replace\n").hasPrefix("--delete-stale applies to"))
        #expect(try failure(["x.csv"], environment: ["PGSINK_WRITE_MODE": "merge"]).hasPrefix("--mode merge needs --primary-key"))
        #expect(try failure(["x.csv", "--index", "a"], file: "  create_indexes: false\n").hasPrefix("--no-indexes and --index a"))
        #expect(try failure(["x.csv"], environment: ["PGSINK_JOBS": "40"]) == "--jobs takes 1 to 32 connections, or auto")
        #expect(try failure(["x.csv"], file: "  max_rejects: -1\n") == "--max-rejects takes 0 or more rows")
        #expect(try failure(["x.csv", "--json-column", "a.b"], file: "  nested: jsonb\n").hasPrefix("--json-column applies"))
        #expect(try failure(["-", "--format", "csv"]) == "reading standard input needs --table")
        #expect(throws: (any Error).self) { try LoadCommand.parse(["x.csv", "--nested", "deep"]) }
    }
}
