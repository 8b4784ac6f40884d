import ArgumentParser
import Foundation
import Logging
import PGSink
import PGSinkCore

struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load CSV or JSON Lines files (optionally .gz) into PostgreSQL tables.",
        discussion: "Each file goes to the table named after it, created with inferred types when missing. "
            + "A load is one transaction: all of it commits, or none of it."
    )

    @Argument(help: "Files to load, or - for standard input.")
    var files: [String] = []

    @OptionGroup var connection: ConnectionOptions

    @Option(help: ArgumentHelp("Target table; all files go to it. Default: each file's base name.", valueName: "[schema.]table"))
    var table: String?

    @Option(help: "Target schema.")
    var schema: String = "public"

    @Option(help: "Input format; needed for standard input (csv, jsonl).")
    var format: InputFormat?

    @Option(help: "append, replace or merge.")
    var mode: LoadMode = .append

    @Option(name: .customLong("primary-key"), help: ArgumentHelp("Key columns for merge.", valueName: "col[,col...]"))
    var primaryKey: String?

    @Flag(name: .customLong("no-header"), help: "The CSV has no header row; columns are named column_1, column_2, ….")
    var noHeader = false

    @Option(help: "CSV field delimiter: one ASCII character, or \\t for tab. Default: tab for .tsv files, else a comma.")
    var delimiter: String?

    @Option(name: .customLong("type"), help: ArgumentHelp("Column type override, e.g. --type zip=text.", valueName: "col=type"))
    var types: [String] = []

    @Flag(name: .customLong("skip-schema-creation"), help: "Do not CREATE SCHEMA IF NOT EXISTS.")
    var skipSchemaCreation = false

    @Flag(name: .customLong("allow-reserved-words"), help: "Keep names like \"order\" instead of prefixing them with _.")
    var allowReservedWords = false

    @Flag(name: .customLong("keep-case"), help: "Keep upper case in names (they are always quoted).")
    var keepCase = false

    @Flag(help: "Load even if the same data was already appended to the table.")
    var force = false

    @Option(name: .customLong("batch-rows"), help: "Rows per batch (one COPY each).")
    var batchRows: Int = 50_000

    @Option(name: .customLong("batch-bytes"), help: "Input bytes per batch.")
    var batchBytes: Int = 16 << 20

    @Option(help: ArgumentHelp(
        "Connections that COPY in parallel into a new table.",
        discussion: "The data goes to a hidden table that one final transaction renames to the target. "
            + "Loads into existing tables and merges use one connection."))
    var jobs: Int = 1

    @Flag(help: "No progress bar and no summary.")
    var quiet = false

    @Flag(help: "Print the summary as one JSON object per load.")
    var json = false

    @Flag(help: "Log each schema change.")
    var verbose = false

    func validate() throws {
        if mode == .merge && (primaryKey ?? "").isEmpty {
            throw ValidationError("--mode merge needs --primary-key COL[,COL...] to know which rows are the same")
        }
        if files.isEmpty { throw ValidationError("name at least one file to load, or - for standard input") }
        if files.contains("-") {
            guard format != nil else { throw ValidationError("reading standard input needs --format csv or --format jsonl") }
            guard table != nil else { throw ValidationError("reading standard input needs --table") }
        }
        if delimiter != nil && parseDelimiter() == nil {
            throw ValidationError("--delimiter must be one ASCII character, or \\t")
        }
        _ = try parseTypes()
        guard batchRows > 0, batchBytes > 0 else { throw ValidationError("--batch-rows and --batch-bytes must be positive") }
        guard (1...32).contains(jobs) else { throw ValidationError("--jobs takes 1 to 32 connections") }
    }

    private func parseDelimiter() -> UInt8? {
        guard let delimiter else { return nil }
        if delimiter == "\\t" || delimiter == "tab" { return 9 }
        let bytes = Array(delimiter.utf8)
        guard bytes.count == 1, bytes[0] < 128, bytes[0] != 34, bytes[0] != 10, bytes[0] != 13 else { return nil }
        return bytes[0]
    }

    private func parseTypes() throws -> [String: ColumnType] {
        var result: [String: ColumnType] = [:]
        for entry in types {
            guard let eq = entry.firstIndex(of: "=") else {
                throw ValidationError("--type takes COLUMN=TYPE, e.g. --type zip=text (got \"\(entry)\")")
            }
            let type = ColumnType(parsing: String(entry[entry.index(after: eq)...]))
            guard type.isKnownSpelling else {
                throw ValidationError(
                    "--type \(entry): unknown type; use one of boolean, smallint, integer, bigint, numeric, real, "
                        + "double, date, timestamp, timestamptz, uuid, json, jsonb, text")
            }
            result[String(entry[..<eq])] = type
        }
        return result
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = verbose ? .info : .warning
            return handler
        }
        let logger = Logger(label: "pgsink")
        let rules = NamingRules(keepCase: keepCase, allowReservedWords: allowReservedWords)
        let requests = try plannedRequests(rules: rules)
        for file in files where file != "-" && !FileManager.default.isReadableFile(atPath: file) {
            let reason = FileManager.default.fileExists(atPath: file) ? "it is not readable" : "no such file"
            throw CommandFailure(description: "cannot read \(file): \(reason); nothing was loaded")
        }
        let (conninfo, _) = try withFailure { try connection.resolve() }
        let pg = try withFailure { try PGConnection.connect(conninfo, logger: logger) }
        let showProgress = !quiet && !json && isatty(2) == 1
        for request in requests {
            let bar = showProgress ? ProgressBar() : nil
            var report: (@Sendable (LoadProgress) -> Void)? = nil
            if let bar { report = { bar.update($0) } }
            let loader = Loader(request: request, logger: logger)
            let connect = { try PGConnection.connect(conninfo, logger: logger) }
            let summary = try withFailure { try loader.run(on: pg, connect: connect, progress: report) }
            bar?.clear()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(summary), as: UTF8.self))
            } else if !quiet {
                print(SummaryText.render(summary, jobsRequested: jobs))
            }
        }
    }

    /// One request per target table: files that land in the same table load in one transaction.
    private func plannedRequests(rules: NamingRules) throws -> [LoadRequest] {
        let overrides = try parseTypes()
        let key = (primaryKey ?? "").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        var order: [TableName] = []
        var grouped: [TableName: [String]] = [:]
        for file in files {
            let target = targetTable(for: file, rules: rules)
            if grouped[target] == nil { order.append(target) }
            grouped[target, default: []].append(file)
        }
        return order.map { target in
            var request = LoadRequest(inputs: grouped[target]!, table: target)
            request.format = format
            request.mode = mode
            request.primaryKey = key
            request.delimiter = parseDelimiter()
            request.header = !noHeader
            request.naming = rules
            request.typeOverrides = overrides
            request.createSchema = !skipSchemaCreation
            request.force = force
            request.batchRows = batchRows
            request.batchBytes = batchBytes
            request.jobs = jobs
            return request
        }
    }

    private func targetTable(for file: String, rules: NamingRules) -> TableName {
        var schemaName = schema
        var tableName = TableName.baseName(ofPath: file)
        if let table {
            if let dot = table.firstIndex(of: ".") {
                schemaName = String(table[..<dot])
                tableName = String(table[table.index(after: dot)...])
            } else {
                tableName = table
            }
        }
        return TableName(schema: rules.normalize(schemaName), name: rules.normalize(tableName, fallback: "data"))
    }

    /// Turns any failure into the one-line message the user sees.
    private func withFailure<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ValidationError {
            throw error
        } catch {
            throw CommandFailure(description: "\(error)" + (error is InputError || error is LoadError || error is PGError ? "; nothing was committed" : ""))
        }
    }
}

extension InputFormat: ExpressibleByArgument {}
extension LoadMode: ExpressibleByArgument {}
