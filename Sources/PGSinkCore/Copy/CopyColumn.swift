/// One column of a COPY: its type on the server and where its values come from.
public struct CopyColumn: Sendable, Equatable {
    public var name: String
    public var type: ColumnType
    /// The load-level source column; `nil` sends NULL (a column the data does not have) or, with
    /// `generated`, a value pgsink makes.
    public var source: Int?
    /// A NULL here is an input error (merge keys).
    public var required: Bool
    /// A value pgsink writes itself: bookkeeping columns and the links of child tables.
    public var generated: Generated?

    public init(name: String, type: ColumnType, source: Int?, required: Bool = false, generated: Generated? = nil) {
        self.name = name
        self.type = type
        self.source = source
        self.required = required
        self.generated = generated
    }
}

/// Values pgsink writes into columns of its own.
public enum Generated: Sendable, Equatable, Hashable {
    /// The same value in every row (load id, load time, source name).
    case constant(ConstantValue)
    /// The row's `_pgsink_id`.
    case rowId
    /// A child row's parent's `_pgsink_id`.
    case parentId
    /// A child row's top-level row's `_pgsink_id`.
    case rootId
    /// A child row's position in its list.
    case listIndex
    /// `start` plus the row's position in its batch (Singer's `_sdc_sequence`).
    case sequence(start: Int64)
    /// A fresh random uuid per row (Airbyte's `_airbyte_raw_id`).
    case randomId
    /// A point in time from the source slot's number of milliseconds since the Unix epoch
    /// (Airbyte's `emitted_at`, Debezium's `source.ts_ms`); `fallback` when the slot is empty or
    /// not such a number, NULL when there is no fallback.
    case epochMilliseconds(slot: Int, fallback: Int64?)
    /// The source slot's whole number as a bigint, NULL when it is empty or not one (a change
    /// event's `source.lsn`).
    case integer(slot: Int)
    /// A child row's top-level row's value of a root column (source `slot` of the root batch),
    /// as `type`: a Citus distribution column carried into child tables so that they are colocated
    /// with their parent.
    case rootValue(slot: Int, type: ColumnType)
    /// jsonb text made of `prefix`, the slot's JSON text (or `ifNull`) and `suffix`
    /// (Airbyte's `_airbyte_meta` around a record's `meta.changes`).
    case json(prefix: [UInt8], slot: Int, ifNull: [UInt8], suffix: [UInt8])

    /// The column's type on the server.
    public var type: ColumnType {
        switch self {
        case .constant(let value): value.type
        case .rowId, .parentId, .rootId, .randomId: .uuid
        case .listIndex: .integer
        case .sequence, .integer: .bigint
        case .epochMilliseconds: .timestamptz
        case .json: .jsonb
        case .rootValue(_, let type): type
        }
    }
}

/// One value, encoded once for both COPY formats.
public struct ConstantValue: Sendable, Equatable, Hashable {
    public var type: ColumnType
    /// The field as binary COPY sends it, length prefix included.
    public var binary: [UInt8]
    /// The field as text COPY sends it (already escaped).
    public var text: [UInt8]

    public static func bigint(_ value: Int64) -> ConstantValue {
        var binary: [UInt8] = [0, 0, 0, 8]
        withUnsafeBytes(of: value.bigEndian) { binary += $0 }
        return ConstantValue(type: .bigint, binary: binary, text: Array(String(value).utf8))
    }

    /// A point in time as microseconds since the Unix epoch; the text form is ISO 8601 in UTC.
    public static func timestamptz(unixMicroseconds: Int64) -> ConstantValue {
        let postgres = unixMicroseconds - 946_684_800_000_000
        var binary: [UInt8] = [0, 0, 0, 8]
        withUnsafeBytes(of: postgres.bigEndian) { binary += $0 }
        return ConstantValue(type: .timestamptz, binary: binary, text: Array(ISOTime.format(unixMicroseconds).utf8))
    }

    /// NULL in a column of `type`.
    public static func null(_ type: ColumnType) -> ConstantValue {
        ConstantValue(type: type, binary: [255, 255, 255, 255], text: [92, 78])
    }

    public static func text(_ value: String) -> ConstantValue {
        let bytes = Array(value.utf8).filter { $0 != 0 }
        var binary: [UInt8] = []
        withUnsafeBytes(of: Int32(bytes.count).bigEndian) { binary += $0 }
        binary += bytes
        var text: [UInt8] = []
        for c in bytes {
            switch c {
            case 92: text += [92, 92]
            case 9: text += [92, 116]
            case 10: text += [92, 110]
            case 13: text += [92, 114]
            default: text.append(c)
            }
        }
        return ConstantValue(type: .text, binary: binary, text: text)
    }
}

/// UTC timestamps as text without Foundation.
public enum ISOTime {
    /// `YYYY-MM-DD HH:MM:SS.ffffff+00`, PostgreSQL's own output form.
    public static func format(_ unixMicroseconds: Int64) -> String {
        text(unixMicroseconds, separator: " ", fullFraction: true) + "+00"
    }

    /// The one form a time column's values take once the column has become text (docs/loading.md):
    /// ISO 8601 with a `T`, fractions only as long as they need to be, and `Z` for an instant
    /// (UTC). A date stays `YYYY-MM-DD`. nil when the text is no date or time pgsink reads.
    public static func textForm(_ p: UnsafePointer<UInt8>, _ n: Int) -> String? {
        // Years outside 1–9999 (PostgreSQL's ` BC`, five digits) have no ISO 8601 spelling here:
        // they stay as they are.
        guard n >= 10, p[4] == 45, !ValueSyntax.era(p, n).bc else { return nil }
        if n == 10, let days = ValueSyntax.parseDate(p, n) {
            return String(text(Int64(days) * 86_400_000_000 + postgresEpochOffset, separator: "T").prefix(10))
        }
        guard let ts = ValueSyntax.parseTimestamp(p, n) else { return nil }
        return text(ts.microseconds + postgresEpochOffset, separator: "T") + (ts.hasZone ? "Z" : "")
    }

    /// `YYYY-MM-DDTHH:MM:SS` and a fraction only as long as it needs to be, without a zone.
    public static func iso(_ unixMicroseconds: Int64) -> String { text(unixMicroseconds, separator: "T") }

    /// Microseconds from 1970-01-01 to 2000-01-01.
    static let postgresEpochOffset: Int64 = 946_684_800_000_000

    /// `YYYY-MM-DD<separator>HH:MM:SS` and the fraction: all six digits, or only as many as needed.
    private static func text(_ unixMicroseconds: Int64, separator: String, fullFraction: Bool = false) -> String {
        let micros = ((unixMicroseconds % 1_000_000) + 1_000_000) % 1_000_000
        let seconds = (unixMicroseconds - micros) / 1_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (y, m, d) = ValueSyntax.civil(fromDays: days)
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        var text = "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))\(separator)\(pad(secondOfDay / 3600, 2)):"
            + "\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2))"
        if fullFraction || micros > 0 {
            var fraction = pad(micros, 6)
            while !fullFraction && fraction.hasSuffix("0") { fraction.removeLast() }
            text += "." + fraction
        }
        return text
    }
}

/// COPY's wire formats.
public enum CopyFormat: String, Sendable {
    case binary
    case text

    /// Binary when every column has a binary encoder, text otherwise.
    public static func best(for columns: [CopyColumn]) -> CopyFormat {
        columns.allSatisfy { $0.type.hasBinaryEncoder } ? .binary : .text
    }
}
