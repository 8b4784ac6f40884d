import ArgumentParser
import Foundation
import Logging
import PGSink
import PGSinkCore

struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Load CSV, JSON Lines or JSON files (optionally .gz) into PostgreSQL tables.",
        discussion: "Each file goes to the table named after it, created with inferred types when missing. "
            + "A load is one transaction: all of it commits, or none of it."
    )

    @Argument(help: "Files to load, or - for standard input.")
    var files: [String] = []

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var logging: LoggingOptions

    @OptionGroup var config: ConfigOptions

    @Option(help: ArgumentHelp("Target table; all files go to it. Default: each file's base name.", valueName: "[schema.]table"))
    var table: String?

    @Option(help: "Target schema. Default: the connection's search_path or schema, else public.")
    var schema: String?

    @Option(help: "Input format; needed for standard input (csv, jsonl, json, parquet).")
    var format: InputFormat?

    @Option(name: .customLong("embed-concurrency"), help: ArgumentHelp(
        "pgvector_config with the openai provider: requests in flight at once (default: embedding.concurrency, 4).",
        valueName: "n"))
    var embedConcurrency: Int?

    @Option(name: .customLong("records-path"), help: ArgumentHelp(
        "JSON documents: the array of records inside the top-level object, as keys joined by dots (data.items).",
        valueName: "path"))
    var recordsPath: String?

    @Option(name: .customLong("columns"), help: ArgumentHelp(
        "Parquet: load only these top-level columns (comma-separated); only their column chunks are read.",
        valueName: "col[,col...]"))
    var columns: String?

    @Option(help: "append, replace or merge (default append).")
    var mode: LoadMode?

    @Option(name: .customLong("primary-key"), help: ArgumentHelp("Key columns for merge.", valueName: "col[,col...]"))
    var primaryKey: String?

    @Flag(name: .customLong("no-header"), help: "The CSV has no header row; columns are named column_1, column_2, ….")
    var noHeader = false

    @Flag(name: .customLong("header"), help: "The CSV's first record is a header row (default: sniffed).")
    var header = false

    @Option(help: ArgumentHelp(
        "CSV field delimiter: one ASCII character, or \\t for tab. Default: sniffed among , ; tab | (tab for .tsv files).",
        valueName: "c"))
    var delimiter: String?

    @Option(help: ArgumentHelp("CSV quote character (default: sniffed, \" or ').", valueName: "c"))
    var quote: String?

    @Option(help: ArgumentHelp(
        "Character that escapes a quote inside quotes, e.g. \\\\; none: quotes are doubled (default: sniffed).",
        valueName: "c|none"))
    var escape: String?

    @Option(help: ArgumentHelp("Skip CSV lines starting with this character, or none (default: # when the file starts with it).",
        valueName: "c|none"))
    var comment: String?

    @Option(name: .customLong("skip-lines"), help: ArgumentHelp(
        "Lines to skip before the CSV header (default: sniffed junk lines).", valueName: "n"))
    var skipLines: Int?

    @Option(help: ArgumentHelp(
        "Character set of the input: latin1, windows-1252, utf-16, or any name iconv -l lists (default: UTF-8; "
            + "UTF-16 with a byte order mark is detected).", valueName: "name"))
    var encoding: String?

    @Option(name: .customLong("null-values"), help: ArgumentHelp(
        "Strings that mean NULL in CSV fields and JSON strings, e.g. NA,NULL,\\N; auto: the common markers, in columns "
            + "whose other values share a type.", valueName: "list|auto"))
    var nullValues: String?

    @Option(name: .customLong("decimal-separator"), help: ArgumentHelp(
        "Decimal separator of CSV numbers, e.g. , (default: sniffed for ;-delimited files).", valueName: "c"))
    var decimalSeparator: String?

    @Option(name: .customLong("thousands-separator"), help: ArgumentHelp(
        "Thousands separator of CSV numbers, e.g. . (default: none; . with a sniffed decimal comma).", valueName: "c"))
    var thousandsSeparator: String?

    @Option(name: .customLong("date-format"), help: ArgumentHelp(
        "Date format of CSV columns, e.g. %d/%m/%Y (default: sniffed among %d/%m/%Y, %m/%d/%Y, %d.%m.%Y, %Y/%m/%d).",
        valueName: "format"))
    var dateFormat: String?

    @Option(name: .customLong("timestamp-format"), help: ArgumentHelp(
        "Date and time format of CSV columns, e.g. \"%m/%d/%Y %I:%M %p\".", valueName: "format"))
    var timestampFormat: String?

    @Option(name: .customLong("type"), help: ArgumentHelp("Column type override, e.g. --type zip=text.", valueName: "col=type"))
    var types: [String] = []

    // On/off settings are optional, each with its opposite, so a flag can switch off what a config
    // file switched on (and the other way round): flags beat the file.
    @Flag var schemaCreation: SchemaCreation?

    @Flag(inversion: .prefixedNo, help: "Keep names like \"order\" instead of prefixing them with _.")
    var allowReservedWords: Bool?

    @Flag var nameCase: NameCase?

    @Flag(help: "Load even if the same data was already appended to the table.")
    var force = false

    @Option(name: .customLong("batch-rows"), help: "Rows per batch (one COPY each; default 50000).")
    var batchRows: Int?

    @Option(name: .customLong("batch-bytes"), help: "Input bytes per batch (default 16 MiB).")
    var batchBytes: Int?

    @Option(name: .customLong("batch-timeout"), help: ArgumentHelp(
        "Seconds rows from standard input or a pipe wait for their batch to fill before it is sent (default 1).",
        valueName: "seconds"))
    var batchTimeout: Double?

    @Option(help: ArgumentHelp(
        "Connections that COPY in parallel, or auto.",
        discussion: "Into a new table the data goes to a hidden table that one final transaction renames to the target; "
            + "into an existing table (append, replace, merge) each connection fills a staging table, and one final "
            + "transaction moves the rows in. A merge into a new table, --max-rejects, --nested tables and "
            + "--delete-stale use one connection. auto takes the server's parallel workers (on Citus, its worker "
            + "nodes) and this machine's cores, whichever is fewer, and at most 8.", valueName: "N|auto"))
    var jobs: Jobs?

    @Option(help: ArgumentHelp(
        "With --jobs, threads that read the input, or auto (the default).",
        discussion: "Several files are read side by side, and a large plain CSV or JSON Lines file is cut at row "
            + "boundaries into parts read side by side. auto: one per connection within this machine's cores; when "
            + "the server runs on this machine, only the cores its COPYs leave free.", valueName: "N|auto"))
    var readers: Jobs?

    @Option(name: .customLong("distribute-by"), help: ArgumentHelp(
        "Citus: distribute a table pgsink creates by this column (create_distributed_table).", valueName: "column"))
    var distributeBy: String?

    @Flag(name: .customLong("reference-table"), help: "Citus: make a table pgsink creates a reference table (one copy per node).")
    var referenceTable = false

    @Option(name: .customLong("colocate-with"), help: ArgumentHelp(
        "Citus: place the new distributed table's shards beside those of this table.", valueName: "table"))
    var colocateWith: String?

    @Option(name: .customLong("shard-count"), help: ArgumentHelp(
        "Citus: shards of the new distributed table (default: the server's citus.shard_count).", valueName: "n"))
    var shardCount: Int?

    @Option(name: .customLong("schema-contract"), help: ArgumentHelp(
        "What may change in an existing table: evolve (add columns, widen types), freeze (nothing; a value of the "
            + "wrong type is a rejected row), discard-row, discard-value.", valueName: "contract"))
    var schemaContract: SchemaContract?

    @Option(name: .customLong("max-rejects"), help: ArgumentHelp(
        "Rows that may be set aside in _pgsink_rejects instead of failing the load (0: the first bad row fails it).",
        valueName: "n"))
    var maxRejects: Int?

    @Option(help: ArgumentHelp(
        "Nested JSON: jsonb (one column), flatten[:DEPTH] (parent__child columns), tables (arrays become child tables).",
        valueName: "mode"))
    var nested: String?

    @Option(name: .customLong("nested-separator"), help: "Joins nested names: address__city, users__pets.")
    var nestedSeparator: String = "__"

    @Option(name: .customLong("json-column"), help: ArgumentHelp(
        "Keep this path (a.b) as one jsonb column when flattening.", valueName: "path"))
    var jsonColumns: [String] = []

    @Flag(inversion: .prefixedNo, help: "Add _pgsink_load_id and _pgsink_loaded_at columns.")
    var metadata: Bool?

    @Flag(inversion: .prefixedNo, help: ArgumentHelp(
        "After the load, delete rows of the same --source-name that this load did not write.",
        discussion: "Adds _pgsink_source and _pgsink_synced_at columns."))
    var deleteStale: Bool?

    @Option(name: .customLong("source-name"), help: "The source --delete-stale keeps apart. Default: the inputs' names.")
    var sourceName: String?

    @Flag(inversion: .prefixedNo, help: "Index (_pgsink_source, _pgsink_synced_at) for --delete-stale.")
    var performanceIndexes: Bool?

    @Option(name: .customLong("unique"), help: ArgumentHelp("Create a unique index (repeatable).", valueName: "col[,col...]"))
    var uniqueIndexes: [String] = []

    @Option(name: .customLong("index"), help: ArgumentHelp("Create an index (repeatable).", valueName: "col[,col...]"))
    var plainIndexes: [String] = []

    @Flag var indexing: Indexing?

    @Flag(help: "No progress bar and no summary.")
    var quiet = false

    @Flag(help: "Print the summary as one JSON object per load.")
    var json = false

    @Flag(help: "Log each schema change.")
    var verbose = false

    func validate() throws {
        if let embedConcurrency, embedConcurrency < 1 { throw ValidationError("--embed-concurrency must be at least 1") }
        if files.isEmpty { throw ValidationError("name at least one file to load, or - for standard input") }
        if delimiter != nil && parseDelimiter() == nil {
            throw ValidationError("--delimiter must be one ASCII character, or \\t")
        }
        if header && noHeader { throw ValidationError("--header and --no-header contradict each other; pass one of them") }
        _ = try dialectOptions()
        _ = try valueOptions(nullValues: nil)
        if let nested, NestedMode(parsing: nested) == nil {
            throw ValidationError("--nested \(NestedMode.expected) (got \"\(nested)\")")
        }
        _ = try parseTypes()
        if let recordsPath, JSONDocumentScanner.parsePath(recordsPath) == nil {
            throw ValidationError("--records-path takes keys joined by dots, e.g. data.items (got \"\(recordsPath)\")")
        }
        if recordsPath != nil && !files.contains(where: { (format ?? InputFormat.from(path: $0)) == .json }) {
            throw ValidationError("--records-path applies to JSON documents (.json files, or --format json)")
        }
        if let columns {
            guard !files.contains(where: { (format ?? InputFormat.from(path: $0)) != .parquet }) else {
                throw ValidationError("--columns applies to Parquet files (.parquet, or --format parquet)")
            }
            guard !Self.columnList(columns).isEmpty, !Self.columnList(columns).contains("") else {
                throw ValidationError("--columns takes column names joined by commas, e.g. id,name (got \"\(columns)\")")
            }
        }
    }

    /// What the flags say, as settings: nil where no flag was given.
    var flagSettings: LoadSettings {
        var flags = LoadSettings()
        flags.table = table
        flags.writeMode = mode.map { WriteMode($0) }
        flags.deleteStale = deleteStale
        flags.primaryKey = primaryKey.map(ColumnList.init(parsing:))
        flags.batchRows = batchRows
        flags.batchBytes = batchBytes
        flags.batchTimeout = batchTimeout.map(Seconds.init)
        flags.skipSchemaCreation = schemaCreation.map { $0 == .skipSchemaCreation }
        flags.lowerCase = nameCase.map { $0 == .lowerCase }
        flags.allowReservedWords = allowReservedWords
        flags.createIndexes = indexing.map { $0 == .indexes }
        flags.createPerformanceIndexes = performanceIndexes
        flags.schemaContract = schemaContract
        flags.maxRejects = maxRejects
        flags.nested = nested.flatMap(NestedMode.init(parsing:))
        flags.metadata = metadata
        flags.jobs = jobs
        flags.readers = readers
        flags.citus.distributionColumn = distributeBy
        flags.citus.referenceTable = referenceTable ? true : nil
        flags.citus.colocateWith = colocateWith
        flags.citus.shardCount = shardCount
        flags.nullValues = nullValues.map(NullValues.init(parsing:))
        flags.recordsPath = recordsPath
        flags.columns = columns.map(ColumnList.init(parsing:))
        flags.connectRetries = connection.connectRetries
        flags.logLevel = logging.logLevel.flatMap(LogLevel.init(rawValue:))
        return flags
    }

    /// Checks that hold for flags, the config file and the environment alike, run once on the
    /// resolved settings.
    func checkCombination(_ settings: LoadSettings) throws {
        let mode = settings.effective(\.writeMode).mode
        let deleteStale = settings.effective(\.deleteStale)
        if deleteStale && mode == .replace {
            throw ValidationError("--delete-stale applies to --mode append and merge; replace already removes every old row")
        }
        if mode == .merge && settings.effective(\.primaryKey).names.isEmpty {
            throw ValidationError("--mode merge needs --primary-key COL[,COL...] to know which rows are the same")
        }
        if files.contains("-") {
            guard format != nil else { throw ValidationError("reading standard input needs --format csv, jsonl, json or parquet") }
            guard settings.table != nil else { throw ValidationError("reading standard input needs --table") }
        }
        guard settings.effective(\.batchRows) > 0, settings.effective(\.batchBytes) > 0 else {
            throw ValidationError("--batch-rows and --batch-bytes must be positive")
        }
        guard settings.effective(\.batchTimeout).seconds > 0 else {
            throw ValidationError("--batch-timeout takes a positive number of seconds")
        }
        if let count = settings.effective(\.jobs).count, !(1...32).contains(count) {
            throw ValidationError("--jobs takes 1 to 32 connections, or auto")
        }
        if let count = settings.effective(\.readers).count, !(1...32).contains(count) {
            throw ValidationError("--readers takes 1 to 32 threads, or auto")
        }
        if let problem = settings.distribution.problem {
            throw ValidationError(problem)
        }
        guard settings.effective(\.maxRejects) >= 0 else { throw ValidationError("--max-rejects takes 0 or more rows") }
        guard !nestedSeparator.isEmpty else { throw ValidationError("--nested-separator cannot be empty") }
        if !jsonColumns.isEmpty && settings.effective(\.nested) == .jsonb {
            throw ValidationError("--json-column applies with --nested flatten or --nested tables")
        }
        let asked = plainIndexes.map { "--index \($0)" } + uniqueIndexes.map { "--unique \($0)" }
            + (settings.effective(\.createPerformanceIndexes) ? ["--performance-indexes"] : [])
        if !settings.effective(\.createIndexes) && !asked.isEmpty {
            throw ValidationError(
                "--no-indexes and \(asked.joined(separator: ", ")) contradict each other; drop one of them "
                    + "(a config file's create_indexes: false counts as --no-indexes)")
        }
        if sourceName != nil && !deleteStale {
            throw ValidationError("--source-name applies with --delete-stale")
        }
    }

    private func parseDelimiter() -> UInt8? {
        guard let delimiter else { return nil }
        if delimiter == "\\t" || delimiter == "tab" { return 9 }
        let bytes = Array(delimiter.utf8)
        guard bytes.count == 1, bytes[0] < 128, bytes[0] != 34, bytes[0] != 10, bytes[0] != 13 else { return nil }
        return bytes[0]
    }

    /// One ASCII byte for `flag`, or nil for `none` when `allowsNone`.
    private static func byte(_ text: String, _ flag: String, allowsNone: Bool = false) throws -> UInt8? {
        if allowsNone && text.lowercased() == "none" { return nil }
        if text == "\\t" || text == "tab" { return 9 }
        let bytes = Array(text.utf8)
        guard bytes.count == 1, bytes[0] < 128, bytes[0] != 10, bytes[0] != 13 else {
            throw ValidationError("\(flag) takes one ASCII character\(allowsNone ? " or none" : "") (got \"\(text)\")")
        }
        return bytes[0]
    }

    /// What the CSV flags say of the dialect; nil parts are sniffed.
    func dialectOptions() throws -> CSVDialectOptions {
        var options = CSVDialectOptions()
        options.delimiter = parseDelimiter()
        options.quote = try quote.map { try Self.byte($0, "--quote") ?? 34 }
        if let escape { options.escape = .some(try Self.byte(escape, "--escape", allowsNone: true)) }
        if let comment { options.comment = .some(try Self.byte(comment, "--comment", allowsNone: true)) }
        if let skipLines {
            guard skipLines >= 0 else { throw ValidationError("--skip-lines takes 0 or more lines") }
            options.skipLines = skipLines
        }
        options.hasHeader = noHeader ? false : header ? true : nil
        if let q = options.quote, q == options.delimiter {
            throw ValidationError("--quote and --delimiter cannot be the same character")
        }
        return options
    }

    /// What the value flags say (null markers from the resolved settings, which a config file may set).
    func valueOptions(nullValues resolved: NullValues?) throws -> ValueOptions {
        var options = ValueOptions()
        let markers = resolved ?? nullValues.map(NullValues.init(parsing:)) ?? NullValues([])
        options.nullValues = markers.auto ? [] : markers.values
        options.autoNullValues = markers.auto
        options.decimalSeparator = try decimalSeparator.map { try Self.byte($0, "--decimal-separator")! }
        options.thousandsSeparator = try thousandsSeparator.map { text in
            text == " " ? 32 : try Self.byte(text, "--thousands-separator")!
        }
        if let d = options.decimalSeparator, d == options.thousandsSeparator {
            throw ValidationError("--decimal-separator and --thousands-separator cannot be the same character")
        }
        for (flag, text) in [("--date-format", dateFormat), ("--timestamp-format", timestampFormat)] {
            guard let text else { continue }
            guard let format = LocalDateFormat(spelling: text) else {
                throw ValidationError(
                    "\(flag) \(text): unknown format; use %d, %m and %Y joined by / . or -, optionally followed by "
                        + "%H:%M, %H:%M:%S or %I:%M %p, e.g. \(flag) %d/%m/%Y")
            }
            if flag == "--date-format" { options.dateFormat = format } else { options.timestampFormat = format }
        }
        return options
    }

    private func parseTypes() throws -> [String: ColumnType] {
        var result: [String: ColumnType] = [:]
        for entry in types {
            guard let eq = entry.firstIndex(of: "=") else {
                throw ValidationError("--type takes COLUMN=TYPE, e.g. --type zip=text (got \"\(entry)\")")
            }
            let spelling = String(entry[entry.index(after: eq)...])
            var type = ColumnType(parsing: spelling)
            // A length, precision or scale (varchar(3), numeric(12,2), timestamp(3)) is kept in the
            // table's DDL; the server applies it, so such a column travels in text COPY.
            if type.isKnownSpelling, let declared = ColumnType.withModifier(spelling) { type = .other(declared) }
            guard type.isKnownSpelling || ColumnType.withModifier(spelling) != nil else {
                throw ValidationError(
                    "--type \(entry): unknown type; use one of boolean, smallint, integer, bigint, numeric, real, "
                        + "double, date, timestamp, timestamptz, uuid, json, jsonb, text")
            }
            result[String(entry[..<eq])] = type
        }
        return result
    }

    func run() throws {
        let file = try config.load(requiring: .batch, for: "pgsink load")
        let settings: LoadSettings
        do {
            settings = try LoadSettings.resolve(
                flags: flagSettings, file: file?.settings, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw CommandFailure(description: "\(error)")
        }
        do {
            try checkCombination(settings)
        } catch let error as ValidationError {
            throw UsageFailure(command: Self.self, error: error)
        }
        try load(
            settings, configured: try ConfigOptions.connection(of: file, replaced: connection.to != nil),
            embeddings: file?.pgvector.map { config in
                var config = config
                if let embedConcurrency { config.openAI.concurrency = embedConcurrency }
                return config
            })
    }

    private func load(_ settings: LoadSettings, configured: ConnectionSettings?, embeddings: PgVectorConfig?) throws {
        let logger = LogSetup.bootstrap(settings.logLevel?.rawValue, fallback: verbose ? .info : .warning)
        let retries = max(0, settings.effective(\.connectRetries))
        let resolved = try beforeLoading { try connection.resolve(configured: configured) }
        let requests = try beforeLoading { try plannedRequests(settings, connectionSchema: resolved.schema) }
        // The flag is refused for such inputs (validate); the config file's key may serve other loads.
        if let path = settings.recordsPath, !requests.contains(where: { request in
            request.inputs.contains { (try? request.format(of: $0)) == .json }
        }) {
            logger.warning("records_path (\(path)) applies to JSON documents; these inputs are not JSON documents, so it is not used")
        }
        if let columns = settings.columns, !requests.contains(where: { request in
            request.inputs.contains { (try? request.format(of: $0)) == .parquet }
        }) {
            logger.warning(
                "columns (\(columns.names.joined(separator: ","))) applies to Parquet files; these inputs are not Parquet, so it is not used")
        }
        for file in files where file != "-" && !FileManager.default.isReadableFile(atPath: file) {
            let reason = FileManager.default.fileExists(atPath: file) ? "it is not readable" : "no such file"
            if json { print(FailureReport(InputError(source: file, line: 0, message: "cannot read the input: \(reason)")).json) }
            throw CommandFailure(description: "cannot read \(file): \(reason); nothing was loaded")
        }
        let connector = Connector(resolved, logger: logger, retries: retries)
        defer { connector.close() }
        var pg = try beforeLoading { try connector.connect() }
        let showProgress = !quiet && !json && isatty(2) == 1
        for request in requests {
            let bar = showProgress ? ProgressBar() : nil
            var report: (@Sendable (LoadProgress) -> Void)? = nil
            if let bar { report = { bar.update($0) } }
            var request = request
            request.runId = UUID().uuidString
            request.embeddings = embeddings
            let loader = Loader(request: request, logger: logger)
            let summary: LoadSummary
            do {
                summary = try loader.run(on: &pg, connector: connector, retries: retries, progress: report)
            } catch {
                bar?.clear()
                if json { print(FailureReport(error).json) }
                try withFailure { throw error }  // the one-line message of any failed load
                continue
            }
            bar?.clear()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(Secrets.redact(String(decoding: try encoder.encode(summary), as: UTF8.self)))
            } else if !quiet {
                print(Secrets.redact(SummaryText.render(summary, jobsRequested: settings.effective(\.jobs))))
            }
        }
    }

    /// One request per target table: files that land in the same table load in one transaction.
    private func plannedRequests(_ settings: LoadSettings, connectionSchema: String?) throws -> [LoadRequest] {
        let overrides = try parseTypes()
        let dialect = try dialectOptions()
        let values = try valueOptions(nullValues: settings.nullValues)
        var order: [TableName] = []
        var grouped: [TableName: [String]] = [:]
        for file in files {
            let target = targetTable(
                for: file, table: settings.table, rules: settings.naming, defaultSchema: schema ?? connectionSchema ?? "public")
            if grouped[target] == nil { order.append(target) }
            grouped[target, default: []].append(file)
        }
        return order.map { target in
            var request = LoadRequest(inputs: grouped[target]!, table: target, settings: settings)
            // What only flags say.
            request.format = format
            request.dialect = dialect
            request.values = values
            request.encoding = encoding
            request.typeOverrides = overrides
            request.force = force
            request.nestedSeparator = nestedSeparator
            request.jsonColumns = jsonColumns
            request.sourceName = sourceName
            request.uniqueIndexes = uniqueIndexes.map(Self.columnList)
            request.plainIndexes = plainIndexes.map(Self.columnList)
            return request
        }
    }

    static func columnList(_ text: String) -> [String] { ColumnList(parsing: text).names }

    private func targetTable(for file: String, table: String?, rules: NamingRules, defaultSchema: String) -> TableName {
        var schemaName = defaultSchema
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
    /// A failure before any load starts (the connection, a missing file): under --json it is
    /// printed as JSON too, as a failed load is.
    private func beforeLoading<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            if json { print(FailureReport(error).json) }
            return try withFailure { throw error }
        }
    }

    private func withFailure<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ValidationError {
            throw error
        } catch {
            let failedLoad = error is InputError || error is LoadError || error is PGError || error is RejectLimit
            throw CommandFailure(description: "\(error)" + (failedLoad ? "; nothing was committed" : ""))
        }
    }
}

extension InputFormat: ExpressibleByArgument {}
extension LoadMode: ExpressibleByArgument {}
extension Jobs: ExpressibleByArgument {
    public init?(argument: String) { self.init(parsing: argument) }
}
extension SchemaContract: ExpressibleByArgument {}

/// `--skip-schema-creation` or `--create-schema` (the default).
enum SchemaCreation: String, EnumerableFlag {
    case skipSchemaCreation, createSchema

    static func help(for value: SchemaCreation) -> ArgumentHelp? {
        value == .skipSchemaCreation ? "Do not CREATE SCHEMA IF NOT EXISTS." : "Create the schema when it is missing (the default)."
    }
}

/// `--keep-case` or `--lower-case` (the default).
enum NameCase: String, EnumerableFlag {
    case keepCase, lowerCase

    static func help(for value: NameCase) -> ArgumentHelp? {
        value == .keepCase ? "Keep upper case in names (they are always quoted)." : "Lower-case names (the default)."
    }
}

/// `--no-indexes` or `--indexes` (the default).
enum Indexing: String, EnumerableFlag {
    case indexes, noIndexes

    static func help(for value: Indexing) -> ArgumentHelp? {
        value == .noIndexes
            ? "Create no index (a merge's primary key is still created)." : "Create the indexes asked for (the default)."
    }
}
