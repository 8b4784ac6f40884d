/// How Debezium's JSON converter writes one column, and what pgsink makes of it: the column's
/// PostgreSQL type and the text PostgreSQL reads for each value (../shared/reference/debezium.md
/// §6 and §8). The first piece of `pgsink cdc apply` (issue 12); pure, so that every encoding is
/// tested without a server.
public struct DebeziumType: Sendable, Equatable {
    /// How a value is turned into text PostgreSQL reads.
    public enum Decoding: Sendable, Equatable {
        /// The JSON value as it is (numbers, booleans, strings, JSON text).
        case asIs
        /// Days since 1970-01-01 (`io.debezium.time.Date`).
        case epochDays
        /// A time of day in milliseconds, microseconds or nanoseconds past midnight
        /// (`Time`, `MicroTime`, `NanoTime`).
        case timeOfDay(perSecond: Int64)
        /// A timestamp without time zone since the epoch in milliseconds, microseconds or
        /// nanoseconds (`Timestamp`, `MicroTimestamp`, `NanoTimestamp`).
        case epochTimestamp(perSecond: Int64)
        /// Microseconds of an interval (`MicroDuration`).
        case microseconds
        /// Kafka Connect's `Decimal`: the unscaled value as big-endian two's complement bytes in
        /// base64, with the schema's scale.
        case decimal(scale: Int)
        /// `VariableScaleDecimal`: `{"scale": s, "value": base64}`.
        case variableScaleDecimal
        /// Bytes in base64, to bytea.
        case base64Bytes
        /// JSON text in a JSON string (`io.debezium.data.Json`): the text is the value.
        case jsonText
    }

    public var columnType: ColumnType
    public var decoding: Decoding

    public init(columnType: ColumnType, decoding: Decoding = .asIs) {
        self.columnType = columnType
        self.decoding = decoding
    }

    /// The type of a field of Debezium's schema: its Kafka Connect `type`, its semantic `name`
    /// (nil when there is none) and its `parameters`.
    public init(connectType: String, name: String?, parameters: [String: String] = [:]) {
        switch name {
        case "io.debezium.time.Date", "org.apache.kafka.connect.data.Date":
            self.init(columnType: .date, decoding: .epochDays)
        case "io.debezium.time.Time":
            self.init(columnType: .other("time without time zone"), decoding: .timeOfDay(perSecond: 1_000))
        case "io.debezium.time.MicroTime":
            self.init(columnType: .other("time without time zone"), decoding: .timeOfDay(perSecond: 1_000_000))
        case "io.debezium.time.NanoTime":
            self.init(columnType: .other("time without time zone"), decoding: .timeOfDay(perSecond: 1_000_000_000))
        case "io.debezium.time.Timestamp", "org.apache.kafka.connect.data.Timestamp":
            self.init(columnType: .timestamp, decoding: .epochTimestamp(perSecond: 1_000))
        case "io.debezium.time.MicroTimestamp":
            self.init(columnType: .timestamp, decoding: .epochTimestamp(perSecond: 1_000_000))
        case "io.debezium.time.NanoTimestamp":
            self.init(columnType: .timestamp, decoding: .epochTimestamp(perSecond: 1_000_000_000))
        case "io.debezium.time.ZonedTimestamp":
            self.init(columnType: .timestamptz)
        case "io.debezium.time.ZonedTime":
            self.init(columnType: .other("time with time zone"))
        case "io.debezium.time.MicroDuration":
            self.init(columnType: .other("interval"), decoding: .microseconds)
        case "org.apache.kafka.connect.data.Decimal":
            let scale = parameters["scale"].flatMap { Int($0) } ?? 0
            self.init(columnType: .numeric, decoding: .decimal(scale: scale))
        case "io.debezium.data.VariableScaleDecimal":
            self.init(columnType: .numeric, decoding: .variableScaleDecimal)
        case "io.debezium.data.Json":
            self.init(columnType: .jsonb, decoding: .jsonText)
        case "io.debezium.data.Uuid":
            self.init(columnType: .uuid)
        default:
            switch connectType {
            case "int8", "int16": self.init(columnType: .smallint)
            case "int32": self.init(columnType: .integer)
            case "int64": self.init(columnType: .bigint)
            case "float32": self.init(columnType: .real)
            case "float64": self.init(columnType: .double)
            case "boolean": self.init(columnType: .boolean)
            case "bytes": self.init(columnType: .other("bytea"), decoding: .base64Bytes)
            case "struct", "array", "map": self.init(columnType: .jsonb)
            default: self.init(columnType: .text)
            }
        }
    }
}

/// The conversions themselves, on the values a JSON parser hands out.
public enum DebeziumValue {
    /// `YYYY-MM-DD` of a day count since 1970-01-01.
    public static func date(epochDays days: Int64) -> String {
        String(ISOTime.iso(days * 86_400_000_000).prefix(10))
    }

    /// `HH:MM:SS[.ffffff]` of a time past midnight in units of 1/`perSecond` s (nanoseconds are
    /// cut to microseconds, PostgreSQL's precision). nil outside one day.
    public static func time(_ value: Int64, perSecond: Int64) -> String? {
        let micros = value.multipliedReportingOverflow(by: 1_000_000 / min(perSecond, 1_000_000))
        guard !micros.overflow else { return nil }
        let exact = perSecond > 1_000_000 ? value / (perSecond / 1_000_000) : micros.partialValue
        guard exact >= 0, exact <= 86_400_000_000 else { return nil }
        if exact == 86_400_000_000 { return "24:00:00" }
        return String(ISOTime.iso(exact).dropFirst(11))
    }

    /// `YYYY-MM-DDTHH:MM:SS[.ffffff]` of a timestamp since the epoch in units of 1/`perSecond` s.
    public static func timestamp(_ value: Int64, perSecond: Int64) -> String? {
        let micros: Int64
        if perSecond > 1_000_000 {
            micros = value / (perSecond / 1_000_000) - (value % (perSecond / 1_000_000) < 0 ? 1 : 0)
        } else {
            let scaled = value.multipliedReportingOverflow(by: 1_000_000 / perSecond)
            guard !scaled.overflow else { return nil }
            micros = scaled.partialValue
        }
        return ISOTime.iso(micros)
    }

    /// An interval of `micros` microseconds, as PostgreSQL reads it.
    public static func interval(microseconds micros: Int64) -> String { "\(micros) microseconds" }

    /// The decimal text of a big-endian two's complement integer scaled by 10^-`scale`; nil for
    /// no bytes or a negative scale.
    public static func decimal(twosComplement bytes: [UInt8], scale: Int) -> String? {
        guard !bytes.isEmpty, scale >= 0 else { return nil }
        let negative = bytes[0] & 0x80 != 0
        var magnitude = bytes
        if negative {
            // Two's complement: invert and add one.
            for i in magnitude.indices { magnitude[i] = ~magnitude[i] }
            var i = magnitude.count - 1
            while i >= 0 {
                let (sum, carry) = magnitude[i].addingReportingOverflow(1)
                magnitude[i] = sum
                if !carry { break }
                i -= 1
            }
        }
        // Base 256 → base 10, by repeated division.
        var digits: [UInt8] = []
        var number = Array(magnitude.drop { $0 == 0 })
        while !number.isEmpty {
            var remainder = 0
            var quotient: [UInt8] = []
            quotient.reserveCapacity(number.count)
            for byte in number {
                let current = remainder * 256 + Int(byte)
                let q = current / 10
                remainder = current % 10
                if !(quotient.isEmpty && q == 0) { quotient.append(UInt8(q)) }
            }
            digits.append(UInt8(remainder) + 48)
            number = quotient
        }
        if digits.isEmpty { digits = [48] }
        while digits.count <= scale { digits.append(48) }
        var text = String(decoding: digits.reversed(), as: UTF8.self)
        if scale > 0 { text.insert(".", at: text.index(text.endIndex, offsetBy: -scale)) }
        return (negative ? "-" : "") + text
    }

    /// Standard base64 (with or without padding; the URL-safe alphabet too), nil when it is not.
    public static func base64(_ text: some StringProtocol) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count * 3 / 4)
        var buffer: UInt32 = 0
        var bits = 0
        var padding = 0
        for c in text.utf8 {
            let value: UInt32
            switch c {
            case 65...90: value = UInt32(c - 65)
            case 97...122: value = UInt32(c - 71)
            case 48...57: value = UInt32(c + 4)
            case 43, 45: value = 62
            case 47, 95: value = 63
            case 61:
                padding += 1
                continue
            case 10, 13: continue
            default: return nil
            }
            guard padding == 0 else { return nil }
            buffer = buffer << 6 | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        guard bits < 6, padding <= 2 else { return nil }
        return out
    }

    /// bytea's text form (`\x0102ff`).
    public static func byteaText(_ bytes: [UInt8]) -> String {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var text: [UInt8] = [92, 120]
        for byte in bytes {
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 15)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
