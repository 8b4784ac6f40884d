import PGSinkCore

public enum InputFormat: String, Sendable, CaseIterable {
    case csv
    case jsonl

    /// The format a file's name says: `.csv`, `.tsv`, `.jsonl`, `.ndjson`, each optionally `.gz`.
    public static func from(path: String) -> InputFormat? {
        var name = path.lowercased()
        if name.hasSuffix(".gz") { name.removeLast(3) }
        if name.hasSuffix(".csv") || name.hasSuffix(".tsv") { return .csv }
        if name.hasSuffix(".jsonl") || name.hasSuffix(".ndjson") { return .jsonl }
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
    /// The CSV delimiter; nil means a tab for `.tsv` files and a comma otherwise.
    public var delimiter: UInt8? = nil
    public var header = true
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
    /// Connections that COPY in parallel into a new table (1 = the load's own connection only).
    public var jobs = 1
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
    /// A change feed (CDC): merge batches carry deletes as well as upserts (`SQL.applyChanges`).
    public var changes: ChangeApplication?

    public init(inputs: [String], table: TableName) {
        self.inputs = inputs
        self.table = table
    }

    /// The delimiter for one CSV input.
    public func delimiter(of input: String) -> UInt8 {
        if let delimiter { return delimiter }
        var name = input.lowercased()
        if name.hasSuffix(".gz") { name.removeLast(3) }
        return name.hasSuffix(".tsv") ? 9 : 44
    }

    /// The format of one input: `--format`, else its extension.
    public func format(of input: String) throws(InputError) -> InputFormat {
        if let format { return format }
        if let format = InputFormat.from(path: input) { return format }
        throw InputError(
            source: input == "-" ? "stdin" : input, line: 0,
            message: "cannot tell the format from the name; pass --format csv or --format jsonl")
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
    public var copyFormat: String
    /// Connections that copied data (more than one with --jobs into a new table).
    public var connections: Int
    public var seconds: Double
    public var rowsPerSecond: Double
    public var server: String
}

/// Progress as the load reads: bytes of the inputs read so far and in all (when known), rows.
public struct LoadProgress: Sendable {
    public var bytesRead: Int
    public var bytesTotal: Int?
    public var rows: Int
}
