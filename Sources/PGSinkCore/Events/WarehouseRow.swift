/// A value of a warehouse row, typed as RudderStack's transformer types it.
public enum WarehouseValue: Sendable, Equatable {
    case string(String)
    /// An integral number as plain decimal digits (`-12`, `1500` for `1.5e3`).
    case int(String)
    /// A number with a fraction, as its JSON literal.
    case float(String)
    case bool(Bool)
    /// UTC RFC 3339 with milliseconds, e.g. `2024-01-02T03:04:05.678Z`.
    case datetime(String)
    /// JSON text (a `jsonPaths` column or `rudder_event`).
    case json(String)

    /// RudderStack's name of the type: `string`, `int`, `float`, `boolean`, `datetime` or `json`.
    public var rudderType: String {
        switch self {
        case .string: return "string"
        case .int: return "int"
        case .float: return "float"
        case .bool: return "boolean"
        case .datetime: return "datetime"
        case .json: return "json"
        }
    }

    /// The PostgreSQL type RudderStack gives a new column of this type.
    public var postgresType: String {
        switch self {
        case .string: return "text"
        case .int: return "bigint"
        case .float: return "numeric"
        case .bool: return "boolean"
        case .datetime: return "timestamp with time zone"
        case .json: return "jsonb"
        }
    }

    /// The value as text (what a text column would hold).
    public var text: String {
        switch self {
        case .string(let s), .int(let s), .float(let s), .datetime(let s), .json(let s): return s
        case .bool(let b): return b ? "true" : "false"
        }
    }
}

/// The destination settings that shape the warehouse rows (RudderStack's PostgreSQL destination keys).
public struct WarehouseSettings: Sendable, Equatable {
    /// Write no `users` rows for identify events.
    public var skipUsersTable = false
    /// Write no `tracks` rows for track events (the per-event tables still get theirs).
    public var skipTracksTable = false
    /// Paths stored whole as one `jsonb` column instead of being flattened: `track.properties.a.b`
    /// (`<type>.<field>.<key>…`), or the legacy form `a.b` that names keys inside a track's `properties`
    /// or `userProperties`.
    public var jsonPaths: [String] = []
    /// Split numbers from words in names (`v3` → `v_3`).
    public var underscoreDivideNumbers = false
    /// Keep reserved words and the names of RudderStack's own tables without a `_` prefix.
    public var skipReservedKeywordsEscaping = false
    /// Add a `rudder_event` jsonb column with the whole event to `tracks`, `identifies`, `pages`,
    /// `screens`, `groups` and `aliases`.
    public var storeFullEvent = false
    /// Add an identify's `context.traits` to `identifies` and `users` without the `context_traits_` prefix too.
    public var allowUsersContextTraits = false
    /// Written into every event's context as `sourceId`, `sourceType`, `destinationId` and
    /// `destinationType` (so they become `context_source_id`, …); empty ones are left out.
    public var sourceID = ""
    public var sourceType = ""
    public var destinationID = ""
    public var destinationType = ""

    public init() {}
}

/// One row for one warehouse table.
public struct WarehouseRow: Sendable, Equatable {
    /// Already a safe table name.
    public var table: String
    /// Safe column names, sorted by their bytes, no duplicates.
    public var columns: [(name: String, value: WarehouseValue)]

    public init(table: String, columns: [(name: String, value: WarehouseValue)]) {
        self.table = table
        self.columns = columns
    }

    /// The value of one column.
    public subscript(column: String) -> WarehouseValue? {
        columns.first(where: { $0.name == column })?.value
    }

    public static func == (lhs: WarehouseRow, rhs: WarehouseRow) -> Bool {
        lhs.table == rhs.table && lhs.columns.count == rhs.columns.count
            && zip(lhs.columns, rhs.columns).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

/// Why an event was refused; `reason` is RudderStack's exact text where it has one.
public struct EventRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}
