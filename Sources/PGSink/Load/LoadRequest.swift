import PGSinkCore

public enum InputFormat: String, Sendable, CaseIterable {
    case csv
    case jsonl
    /// A JSON document: an array of objects, one object, or an array inside it (`--records-path`).
    case json
    /// Apache Parquet (`docs/formats.md`): read at offsets, footer first, never through gzip.
    case parquet

    /// The format a file's name says: `.csv`, `.tsv`, `.jsonl`, `.ndjson`, `.json`, each optionally
    /// `.gz`, and `.parquet`.
    public static func from(path: String) -> InputFormat? {
        var name = path.lowercased()
        if name.hasSuffix(".parquet") { return .parquet }
        if name.hasSuffix(".gz") { name.removeLast(3) }
        if name.hasSuffix(".csv") || name.hasSuffix(".tsv") { return .csv }
        if name.hasSuffix(".jsonl") || name.hasSuffix(".ndjson") { return .jsonl }
        if name.hasSuffix(".json") { return .json }
        return nil
    }
}

/// Everything one load needs to know: inputs, target, mode and the knobs of the record path.
public struct LoadRequest: Sendable {
    public var inputs: [String]
    public var format: InputFormat?
    public var table: TableName
    public var mode: LoadMode = .append
    public var primaryKey: [String] = []
    /// The CSV dialect as flags give it; nil parts are sniffed from each file's first MiB.
    public var dialect = CSVDialectOptions()
    /// Null markers, local numbers and dates (CSV; null markers also for JSON strings).
    public var values = ValueOptions()
    /// The inputs' character set (`latin1`, `windows-1252`, `utf-16`, …); nil: UTF-8, or UTF-16
    /// with a byte order mark.
    public var encoding: String? = nil
    /// Told the bytes read of an input when its first batch goes to the writer (a test's view of
    /// how much the sniffer read ahead).
    public var firstBatchObserver: (@Sendable (_ source: String, _ bytesRead: Int) -> Void)? = nil
    public var naming = NamingRules()
    public var typeOverrides: [String: ColumnType] = [:]
    public var createSchema = true
    public var force = false
    /// A stream whose key changed (a Singer SCHEMA with new key_properties) moves the table's
    /// primary key to it, when the new key is unique over the table's rows.
    public var switchesKey = false
    /// The load commits more than once (a stream): a merge into a table it created remembers the
    /// keys it wrote (`KeysWritten`), so later batches of new keys skip the upsert.
    public var commitsInBatches = false
    public var batchRows = 50_000
    public var batchBytes = 16 << 20
    /// Seconds rows read from a pipe or standard input wait for their batch to fill before it is sent.
    public var batchSeconds: Double = 1
    /// Connections that COPY in parallel (1 = the load's own connection only; `auto`: `AutoJobs`).
    public var jobs: Jobs = 1
    /// Threads that read the inputs of a load over several connections (`ParallelRead`); `auto`:
    /// `AutoJobs.readers`.
    public var readers: Jobs = .auto
    /// With --jobs above 1, a plain input at least twice this big is cut at row boundaries into
    /// parts of about this size (or of the inputs' total over twice the jobs, when larger), read
    /// side by side (`ParallelRead`).
    public var readPartBytes = 8 << 20
    /// How a table this load creates is spread over a Citus cluster (nothing requested: a plain table).
    public var distribution = Distribution()
    /// Written to the ledger row, so that a load retried after a lost connection can tell
    /// whether its first attempt committed.
    public var runId: String?

    // Schema evolution and bad data (docs/schema-evolution.md).
    public var contract: SchemaContract = .evolve
    /// Rows that may be set aside in `_pgsink_rejects` before the load fails (0: the first fails it).
    public var maxRejects = 0
    public var nested: NestedMode = .jsonb
    /// Joins a nested key to its parent's name (`address__city`) when flattening, and names child tables.
    public var nestedSeparator = "__"
    /// Paths (`a.b`) kept as one jsonb column when flattening.
    public var jsonColumns: [String] = []
    /// JSON documents: the keys leading to the records array inside the top-level object
    /// (`data.items` is `["data", "items"]`); empty: the document itself.
    public var recordsPath: [String] = []
    /// Parquet: the top-level columns to load (`--columns`); only their column chunks are read.
    /// nil: every column.
    public var columns: [String]? = nil

    // Bookkeeping columns and stale rows.
    /// `_pgsink_load_id` and `_pgsink_loaded_at` on every row.
    public var metadata = false
    /// Delete rows of the same source that this load did not write (needs `_pgsink_source`, `_pgsink_synced_at`).
    public var deleteStale = false
    /// The `_pgsink_source` value; nil means the inputs' names.
    public var sourceName: String? = nil
    /// An index on (`_pgsink_source`, `_pgsink_synced_at`) for --delete-stale.
    public var performanceIndexes = false

    // Indexes.
    /// Column lists that get a unique index, and a plain one.
    public var uniqueIndexes: [[String]] = []
    public var plainIndexes: [[String]] = []
    /// false: create no index except the primary key a merge needs (`--no-indexes`).
    public var createIndexes = true
    /// Merge: the newest record of a key by these columns wins, and only a newer one replaces a row.
    public var newestBy: [String] = []
    /// Merge: a NULL never replaces a value (`SQL.mergeFromStage(keepsNonNull:)`).
    public var keepsNonNull = false
    /// Values that do not fit their column even after widening (a view fixes its type) are
    /// dropped and recorded here, in RudderStack's `rudder_discards` layout, instead of failing
    /// the load.
    public var discards: TableName?
    /// A change feed (CDC): merge batches carry deletes as well as upserts (`SQL.applyChanges`).
    public var changes: ChangeApplication?
    /// `pgvector_config`: tables whose rows get `<table>_embeddings`, written before the ledger
    /// row of every write into them (`Loader.writeEmbeddings`).
    public var embeddings: PgVectorConfig?

    public init(inputs: [String], table: TableName) {
        self.inputs = inputs
        self.table = table
    }

    /// The CSV delimiter; nil means sniffed (a tab for `.tsv` files).
    public var delimiter: UInt8? {
        get { dialect.delimiter }
        set { dialect.delimiter = newValue }
    }

    /// Whether CSV inputs have a header row; nil means sniffed.
    public var header: Bool? {
        get { dialect.hasHeader }
        set { dialect.hasHeader = newValue }
    }

    /// The dialect options for one CSV input: a `.tsv` file is tab-separated unless told otherwise.
    public func dialect(of input: String) -> CSVDialectOptions {
        var options = dialect
        var name = input.lowercased()
        if name.hasSuffix(".gz") { name.removeLast(3) }
        if options.delimiter == nil && name.hasSuffix(".tsv") { options.delimiter = 9 }
        return options
    }

    /// The format of one input: `--format`, else its extension.
    public func format(of input: String) throws(InputError) -> InputFormat {
        if let format { return format }
        if let format = InputFormat.from(path: input) { return format }
        throw InputError(
            source: input == "-" ? "stdin" : input, line: 0,
            message: "cannot tell the format from the name; pass --format csv, --format jsonl, --format json or --format parquet")
    }
}

/// What a load did, for the summary line and `--json`.
public struct LoadSummary: Codable, Sendable {
    public var loadId: Int64
    public var table: String
    public var mode: LoadMode
    public var rows: Int
    public var sources: [String]
    public var tableCreated: Bool
    public var columnsCreated: [String]
    public var columnsAdded: [String]
    public var columnsWidened: [String]
    /// Source names that collided after normalization → the name they got.
    public var columnsRenamed: [String: String]
    public var nulsRemoved: Int
    /// Lone UTF-16 surrogates (`\\ud800`) in JSON strings, stored as U+FFFD.
    public var surrogatesReplaced: Int = 0
    /// Rows set aside because they could not be stored (counted against --max-rejects).
    public var rejected: Int
    /// Rows or values a schema contract kept out.
    public var discarded: Int
    /// Rows --delete-stale deleted.
    public var staleDeleted: Int
    /// Indexes this load created.
    public var indexesCreated: [String]
    /// Child tables (--nested tables) and their row counts.
    public var childTables: [String: Int]
    /// How each CSV input was read (sniffed or as told); nil for other formats.
    public var csvDialects: [CSVDialectReport]? = nil
    /// Options that would give columns a better type (null markers, date formats).
    public var hints: [String]? = nil
    public var copyFormat: String
    /// Connections that copied data (more than one with --jobs).
    public var connections: Int
    /// The connections `--jobs auto` chose (`AutoJobs`); nil when --jobs gave a number.
    public var autoJobs: Int? = nil
    /// The parts the inputs were read in side by side, and by how many readers (`ParallelRead`);
    /// nil when one reader read them in order.
    public var partsRead: Int? = nil
    public var readers: Int? = nil
    public var seconds: Double
    public var rowsPerSecond: Double
    public var server: String
    /// What the load did to the table's embeddings (`pgvector_config`).
    public var embeddings: EmbeddingOutcome? = nil
    /// On a Citus coordinator: how the table is placed (`distributed by id`, `reference table`).
    public var distribution: String? = nil
    /// Shards and workers the rows were sent to directly, past the coordinator (`ShardRouter`).
    public var shardsWritten: Int? = nil
    public var workersWritten: Int? = nil
}

/// Progress as the load reads: bytes of the inputs read so far and in all (when known), rows.
public struct LoadProgress: Sendable {
    public var bytesRead: Int
    public var bytesTotal: Int?
    public var rows: Int
}

/// How one CSV input was read, for the summary and `--json`.
public struct CSVDialectReport: Codable, Sendable, Equatable {
    public var source: String
    public var delimiter: String
    public var quote: String
    /// The byte that escapes a quote inside quotes; nil: quotes are doubled.
    public var escape: String?
    public var header: Bool
    public var comment: String?
    public var skipLines: Int
    /// The character set transcoded from; nil for UTF-8.
    public var encoding: String?
    /// Columns read with a local number format, and the format (`decimal ',' thousands '.'`).
    public var numberFormat: String?
    public var numberColumns: [String]
    /// Columns read with a local date format, and the format.
    public var dateFormats: [String: String]
    /// Strings read as NULL in every column, and the columns where `--null-values auto` applied markers.
    public var nullValues: [String]
    public var nullMarkerColumns: [String]

    public init(source: String, dialect: CSVDialect, encoding: String?) {
        self.source = source
        delimiter = CSVDialect.spelling(dialect.delimiter)
        quote = CSVDialect.spelling(dialect.quote)
        escape = dialect.escape.map(CSVDialect.spelling)
        header = dialect.hasHeader
        comment = dialect.comment.map(CSVDialect.spelling)
        skipLines = dialect.skipLines
        self.encoding = encoding
        numberFormat = nil
        numberColumns = []
        dateFormats = [:]
        nullValues = []
        nullMarkerColumns = []
    }

    /// One line for the summary: `delimiter ';', quote '"', header, decimal comma in price, …`.
    public var text: String {
        var parts = ["delimiter '\(delimiter)'", "quote '\(quote)'"]
        if let escape { parts.append("escape '\(escape)'") }
        parts.append(header ? "header" : "no header")
        if let comment { parts.append("comment lines '\(comment)'") }
        if skipLines > 0 { parts.append("skipped \(skipLines) line\(skipLines == 1 ? "" : "s") before the header") }
        if let encoding { parts.append("encoding \(encoding)") }
        if let numberFormat, !numberColumns.isEmpty {
            parts.append("\(numberFormat) in \(numberColumns.joined(separator: ", "))")
        }
        for (column, format) in dateFormats.sorted(by: { $0.key < $1.key }) { parts.append("\(column) as \(format)") }
        if !nullValues.isEmpty { parts.append("NULL for \(nullValues.joined(separator: ", "))") }
        if !nullMarkerColumns.isEmpty { parts.append("null markers in \(nullMarkerColumns.joined(separator: ", "))") }
        return "\(source): " + parts.joined(separator: ", ")
    }
}
