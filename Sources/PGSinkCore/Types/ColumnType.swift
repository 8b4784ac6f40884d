/// A PostgreSQL column type as pgsink sees it: the types it infers and encodes in binary,
/// plus `other` for anything an existing table holds that pgsink passes through as text.
public enum ColumnType: Hashable, Sendable, CustomStringConvertible {
    case boolean
    case smallint
    case integer
    case bigint
    case numeric
    case real
    case double
    case date
    case timestamp
    case timestamptz
    case uuid
    case json
    case jsonb
    case text
    /// A type pgsink has no binary encoder for (its `format_type` text).
    case other(String)

    /// The SQL spelling used in DDL.
    public var sqlName: String {
        switch self {
        case .boolean: "boolean"
        case .smallint: "smallint"
        case .integer: "integer"
        case .bigint: "bigint"
        case .numeric: "numeric"
        case .real: "real"
        case .double: "double precision"
        case .date: "date"
        case .timestamp: "timestamp without time zone"
        case .timestamptz: "timestamp with time zone"
        case .uuid: "uuid"
        case .json: "json"
        case .jsonb: "jsonb"
        case .text: "text"
        case .other(let name): name
        }
    }

    public var description: String { sqlName }

    /// Whether pgsink can write this type in COPY's binary format.
    public var hasBinaryEncoder: Bool {
        if case .other = self { return false }
        return true
    }

    /// Whether the value's binary COPY form is its text (text and json, and types pgsink sends as
    /// text), so a payload can be read back as the value the server saw.
    public var binaryFormIsText: Bool {
        switch self {
        case .text, .json, .other: true
        default: false
        }
    }

    /// Whether `IS DISTINCT FROM` works on the type (json and unknown types have no `=`).
    public var hasEquality: Bool {
        switch self {
        case .json, .other: false
        default: true
        }
    }

    /// Maps a user's spelling (`--type col=int`) or the server's `format_type` text to a type.
    public init(parsing raw: String) {
        let name = raw.trimmingSpaces().lowercased()
        switch name {
        case "bool", "boolean": self = .boolean
        case "int2", "smallint": self = .smallint
        case "int", "int4", "integer": self = .integer
        case "int8", "bigint": self = .bigint
        case "numeric", "decimal": self = .numeric
        case "real", "float4": self = .real
        case "double", "double precision", "float8", "float": self = .double
        case "date": self = .date
        case "timestamp", "timestamp without time zone": self = .timestamp
        case "timestamptz", "timestamp with time zone": self = .timestamptz
        case "uuid": self = .uuid
        case "json": self = .json
        case "jsonb": self = .jsonb
        case "text", "string": self = .text
        default:
            // Arrays (`varchar(10)[]`, `integer[]`) have no binary encoder here.
            if name.hasSuffix("]") {
                self = .other(name)
                return
            }
            // Declared modifiers (varchar(10), numeric(12,2), timestamp(3)) change nothing on the
            // wire: the server applies them when it receives the value.
            let base = name.split(separator: "(", maxSplits: 1).first.map(String.init)?.trimmingSpaces() ?? name
            let withoutPrecision = name.replacingPrecision()
            switch (base, withoutPrecision) {
            case ("character varying", _), ("varchar", _), ("character", _), ("char", _), ("bpchar", _),
                ("name", _), ("citext", _):
                self = .text
            case ("numeric", _), ("decimal", _):
                self = .numeric
            case (_, "timestamp without time zone"), (_, "timestamp"):
                self = .timestamp
            case (_, "timestamp with time zone"), (_, "timestamptz"):
                self = .timestamptz
            default:
                self = .other(name)
            }
        }
    }

    /// A built-in type spelled with a modifier (`varchar(3)`, `numeric(12, 2)`, `timestamp(3) with
    /// time zone`), lowercased and checked to be nothing else (it goes into DDL as written); nil
    /// for a spelling without one.
    public static func withModifier(_ raw: String) -> String? {
        let name = raw.trimmingSpaces().lowercased()
        guard let open = name.firstIndex(of: "("), let close = name.firstIndex(of: ")"), open < close else { return nil }
        let base = String(name[..<open]).trimmingSpaces()
        let digits = name[name.index(after: open)..<close].split(separator: ",", omittingEmptySubsequences: false)
            .map { String($0).trimmingSpaces() }
        let rest = String(name[name.index(after: close)...]).trimmingSpaces()
        let known = ["varchar", "character varying", "char", "character", "bpchar", "numeric", "decimal", "timestamp",
                     "timestamptz", "time", "timetz", "interval", "bit", "varbit", "bit varying"]
        guard known.contains(base), (1...2).contains(digits.count),
            digits.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) && $0.count < 6 }),
            ["", "with time zone", "without time zone"].contains(rest)
        else { return nil }
        return base + "(" + digits.joined(separator: ",") + ")" + (rest.isEmpty ? "" : " " + rest)
    }

    /// Whether `--type` may name this type for a new column.
    public var isKnownSpelling: Bool {
        if case .other = self { return false }
        return true
    }
}

extension String {
    /// `timestamp(3) with time zone` → `timestamp with time zone`.
    func replacingPrecision() -> String {
        guard let open = firstIndex(of: "("), let close = self[open...].firstIndex(of: ")") else { return self }
        return (String(self[..<open]).trimmingSpaces() + " " + String(self[index(after: close)...]).trimmingSpaces())
            .trimmingSpaces()
    }

    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
