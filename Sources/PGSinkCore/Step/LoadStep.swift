/// What the producer hands the writer: one batch's schema changes and COPY payloads, per table.

/// How rows reach the table.
public enum LoadMode: String, Sendable, CaseIterable, Codable {
    /// COPY into the table; the whole load is one transaction.
    case append
    /// Swap the contents: readers see the old rows until the commit; what depends on the table stays.
    case replace
    /// Upsert on the primary key; the last record for a key wins.
    case merge
}

/// What becomes of nested JSON objects and arrays.
public enum NestedMode: Sendable, Equatable, CustomStringConvertible {
    /// Objects and arrays in one jsonb column.
    case jsonb
    /// Objects become `parent__child` columns down to `depth` levels; arrays and deeper values stay jsonb.
    case flatten(depth: Int)
    /// Objects are flattened; arrays become child tables linked by `_pgsink_parent_id`.
    case tables

    /// `jsonb`, `flatten`, `flatten:2`, `tables`.
    public init?(parsing text: String) {
        switch text {
        case "jsonb": self = .jsonb
        case "tables": self = .tables
        case "flatten": self = .flatten(depth: 1000)
        default:
            guard text.hasPrefix("flatten:"), let depth = Int(text.dropFirst(8)), depth >= 1 else { return nil }
            self = .flatten(depth: depth)
        }
    }

    public var description: String {
        switch self {
        case .jsonb: "jsonb"
        case .tables: "tables"
        case .flatten(let depth): depth >= 1000 ? "flatten" : "flatten:\(depth)"
        }
    }
}

/// A row or value set aside instead of failing the load, as `_pgsink_rejects` keeps it.
public struct Reject: Sendable, Equatable {
    public init(source: String, line: Int, column: String?, value: String?, reason: String, discarded: Bool) {
        self.source = source
        self.line = line
        self.column = column
        self.value = value
        self.reason = reason
        self.discarded = discarded
    }

    public var source: String
    public var line: Int
    public var column: String?
    public var value: String?
    public var reason: String
    /// A schema contract discarded it (not counted against --max-rejects).
    public var discarded: Bool
    /// A discarded value's row, by its `id` and `received_at` values (`StepSettings.discardsMisfits`).
    public var rowId: String?
    public var receivedAt: String?
}

/// One table's share of a step: its COPY payload and the rows it came from.
public struct StepPart: @unchecked Sendable {
    public var table: TableName
    public var columns: [CopyColumn]
    public var encoded: BatchEncoder.EncodedBatch
    /// The input line of every row of the batch (indexed by batch row).
    public var lines: [Int]
    /// The index of the child table (nil for the top-level table).
    public var child: Int?
    /// A child table's rows: the top-level batch row each descends from.
    public var rootRows: [Int]?

    public var format: CopyFormat { encoded.format }

    /// The columns a COPY of this part names, in payload order: a merge's staged payload ends with
    /// its load order (`SQL.sequenceColumn`).
    public func copyColumnNames(sequence: Bool) -> [String] {
        columns.map(\.name) + (sequence ? [SQL.sequenceColumn] : [])
    }
}

/// One unit of work for the connection: DDL to run, then the COPY payloads of one batch.
public struct LoadStep: @unchecked Sendable {
    public var statements: [SchemaChange]
    public var root: StepPart
    /// Child-table rows of the same records (--nested tables), parents before children.
    public var children: [StepPart]
    /// Merge: whether a key occurs more than once in the batch (the upsert must then pick the last).
    public var keysRepeat: Bool
    /// Merge: a hash of each written row's key (`StepBuilder.keyHashes`), so the writer can tell a
    /// batch of keys a table it created has never held.
    public var keyHashes: [Int] = []
    /// Some key was hashed in binary form (`StepBuilder.keyHashes`): its hashes match only
    /// hashes of binary keys.
    public var rawKeyHashes = false
    /// Merge: the batch's keys are distinct and new to the load (`RecordBatch.keysAreNew`), so
    /// they were not hashed, and the rows carry no load order (nothing in the batch to order).
    public var keysAreNew = false
    /// A change feed's batch holds deletes (rows that must not be copied straight in).
    public var hasDeletes = false
    /// A change feed's batch holds a source's placeholder for values it did not read
    /// (`ChangeApplication.unavailable`): its upsert keeps the stored values there.
    public var keepsUnavailable = false
    /// Rows and values the producer set aside in this batch.
    public var rejects: [Reject]
    /// Rejected rows (not discards) the producer has set aside so far in the whole load.
    public var rejectedSoFar: Int
    /// The input the batch came from, to name the line a server error points at.
    public var source: String
    /// For each column a statement widens: the first value that did not fit, and where it is
    /// (`line 3 of t.csv: "abc"`), so a widening the server refuses can say what asked for it.
    public var causes: [String: String] = [:]
    /// Server settings (name, value) to set for the transaction before the step's COPY: what the
    /// defaults of columns the COPY leaves out return (`BatchDefault`).
    public var settings: [(String, String)] = []
    /// Values the source did not send (`RecordBatch.unchanged`): per column, the load order
    /// (`_pgsink_seq`) of the rows that lack it, which are NULL in the COPY.
    public var unchanged: [(column: String, sequences: [Int64])] = []

    public var rows: Int { root.encoded.rows.count }
}

/// A table the load writes: the top-level table or a child table, with its own columns, planner
/// and encoder.
public final class TableStream: @unchecked Sendable {
    public let sources: SourceColumns
    public var planner: SchemaPlanner
    public var encoder = BatchEncoder()
    public var rows = 0
    public var format: CopyFormat = .binary

    public init(sources: SourceColumns, planner: SchemaPlanner) {
        self.sources = sources
        self.planner = planner
    }

    deinit { encoder.release() }

    public var table: TableName { planner.table }
}

/// More rows were rejected than --max-rejects allows.
public struct RejectLimit: Error, CustomStringConvertible {
    public var limit: Int
    public var last: Reject

    public init(limit: Int, last: Reject) {
        self.limit = limit
        self.last = last
    }

    public var description: String {
        let place = last.line > 0 ? "\(last.source):\(last.line)" : last.source
        let column = last.column.map { ", column \"\($0)\"" } ?? ""
        return "more than \(Wording.count(limit, "row")) \(limit == 1 ? "was" : "were") rejected (--max-rejects \(limit)); the last: \(place)\(column): "
            + "\(Wording.clause(last.reason)). Fix the input or raise --max-rejects"
    }
}
