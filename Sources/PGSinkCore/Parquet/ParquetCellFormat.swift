/// How a leaf column's values become PostgreSQL values: the column type the reader declares
/// (from the file's schema, never inferred) and the text each value is written as.
public enum ParquetCellFormat: Sendable, Equatable {
    case boolean
    case signed
    case unsigned32
    case unsigned64
    case float
    case double
    case float16
    case date
    case time(ParquetLogicalType.TimeUnit)
    case timestamp(ParquetLogicalType.TimeUnit, utc: Bool)
    case int96
    case decimalInteger(scale: Int)
    case decimalBytes(scale: Int)
    case text
    case json
    case uuid
    case bytea

    /// The format and column type of a leaf, or why pgsink cannot read it.
    public static func of(_ leaf: ParquetLeaf) throws(ParquetError) -> (ParquetCellFormat, ColumnType) {
        let element = leaf.element
        let annotation = element.annotation
        func unsupported() -> ParquetError {
            let what = annotation.map { "\($0)" } ?? "no annotation"
            return ParquetError("column \(leaf.name): \(leaf.physical.name) with \(what) is not supported")
        }
        if case .unsupported(let name)? = annotation {
            throw ParquetError("column \(leaf.name): the \(name) logical type is not supported")
        }
        if case .decimal(let precision, let scale)? = annotation {
            let type: ColumnType =
                (1...1000).contains(precision) && scale >= 0 && scale <= precision
                ? .other("numeric(\(precision),\(scale))") : .numeric
            switch leaf.physical {
            case .int32, .int64: return (.decimalInteger(scale: scale), type)
            case .byteArray, .fixedLenByteArray: return (.decimalBytes(scale: scale), type)
            default: throw unsupported()
            }
        }
        switch leaf.physical {
        case .boolean:
            return (.boolean, .boolean)
        case .int32, .int64:
            switch annotation {
            case nil, .unknown?:
                return (.signed, leaf.physical == .int32 ? .integer : .bigint)
            case .integer(let bits, let signed)?:
                switch (bits, signed) {
                case (8, _), (16, true): return (.signed, .smallint)
                case (16, false), (32, true): return (.signed, .integer)
                case (32, false): return (.unsigned32, .bigint)
                case (64, true): return (.signed, .bigint)
                case (64, false): return (.unsigned64, .numeric)
                default: throw unsupported()
                }
            case .date?: return (.date, .date)
            case .time(_, let unit)?: return (.time(unit), .other("time without time zone"))
            case .timestamp(let utc, let unit)?: return (.timestamp(unit, utc: utc), utc ? .timestamptz : .timestamp)
            default: throw unsupported()
            }
        case .int96:
            return (.int96, .timestamptz)
        case .float:
            return (.float, .real)
        case .double:
            return (.double, .double)
        case .byteArray:
            switch annotation {
            case nil, .unknown?, .bson?: return (.bytea, .other("bytea"))
            case .string?, .enumeration?: return (.text, .text)
            case .json?: return (.json, .jsonb)
            default: throw unsupported()
            }
        case .fixedLenByteArray:
            switch annotation {
            case nil, .unknown?: return (.bytea, .other("bytea"))
            case .uuid? where element.typeLength == 16: return (.uuid, .uuid)
            case .float16? where element.typeLength == 2: return (.float16, .real)
            case .string?: return (.text, .text)
            default: throw unsupported()
            }
        }
    }
}

/// Writes values as the text PostgreSQL reads for their column types.
enum ParquetText {
    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    @inline(__always)
    static func appendInt(_ value: Int64, to out: ByteStorage) {
        RecordBatch.withDigits(of: value) { out.append($0.baseAddress!, count: $0.count) }
    }

    static func appendUInt(_ value: UInt64, to out: ByteStorage) {
        if let signed = Int64(exactly: value) { return appendInt(signed, to: out) }
        out.append(contentsOf: String(value).utf8)
    }

    /// `value` in at least `width` digits (a year past 9999 keeps all of its digits).
    @inline(__always)
    static func appendPadded(_ value: Int, width: Int, to out: ByteStorage) {
        var width = width
        var limit = 1
        for _ in 0..<width { limit *= 10 }
        while value >= limit {
            width += 1
            limit *= 10
        }
        var digits = [UInt8](repeating: 48, count: width)
        var rest = value
        var k = width - 1
        while k >= 0 {
            digits[k] = UInt8(48 + rest % 10)
            rest /= 10
            k -= 1
        }
        out.append(contentsOf: digits)
    }

    /// `YYYY-MM-DD` for days since 1970-01-01 (proleptic Gregorian; years before 1 get ` BC`).
    static func appendDate(days: Int64, to out: ByteStorage) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        var year = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        if month <= 2 { year += 1 }
        let bc = year <= 0
        appendPadded(Int(bc ? 1 - year : year), width: 4, to: out)
        out.append(45)
        appendPadded(Int(month), width: 2, to: out)
        out.append(45)
        appendPadded(Int(day), width: 2, to: out)
        if bc { out.append(contentsOf: " BC".utf8) }
    }

    /// `HH:MM:SS.fraction` for a time of day in `unit`s (the fraction in the unit's digits).
    static func appendTimeOfDay(_ value: Int64, unit: ParquetLogicalType.TimeUnit, to out: ByteStorage) {
        let (perSecond, digits): (Int64, Int) =
            switch unit {
            case .millis: (1000, 3)
            case .micros: (1_000_000, 6)
            case .nanos: (1_000_000_000, 9)
            }
        let seconds = value / perSecond
        let fraction = value % perSecond
        appendPadded(Int(seconds / 3600), width: 2, to: out)
        out.append(58)
        appendPadded(Int(seconds / 60 % 60), width: 2, to: out)
        out.append(58)
        appendPadded(Int(seconds % 60), width: 2, to: out)
        if fraction != 0 {
            out.append(46)
            appendPadded(Int(fraction), width: digits, to: out)
        }
    }

    static func appendTimestamp(_ value: Int64, unit: ParquetLogicalType.TimeUnit, utc: Bool, to out: ByteStorage) {
        let perDay: Int64 =
            switch unit {
            case .millis: 86_400_000
            case .micros: 86_400_000_000
            case .nanos: 86_400_000_000_000
            }
        var days = value / perDay
        var rest = value % perDay
        if rest < 0 {
            days -= 1
            rest += perDay
        }
        appendDateTime(days: days, timeOfDay: rest, unit: unit, utc: utc, to: out)
    }

    static func appendDateTime(
        days: Int64, timeOfDay: Int64, unit: ParquetLogicalType.TimeUnit, utc: Bool, to out: ByteStorage
    ) {
        appendDate(days: days, to: out)
        let bc = out.count >= 3 && out.base[out.count - 1] == 67 && out.base[out.count - 2] == 66
        if bc { out.count -= 3 }
        out.append(32)
        appendTimeOfDay(timeOfDay, unit: unit, to: out)
        if utc { out.append(contentsOf: "+00".utf8) }
        if bc { out.append(contentsOf: " BC".utf8) }
    }

    /// An unscaled integer with `scale` digits after the point.
    static func appendDecimal(unscaled digits: [UInt8], negative: Bool, scale: Int, to out: ByteStorage) {
        if negative { out.append(45) }
        if scale <= 0 {
            out.append(contentsOf: digits)
            for _ in 0..<(-scale) { out.append(48) }
            return
        }
        if digits.count <= scale {
            out.append(48)
            out.append(46)
            for _ in 0..<(scale - digits.count) { out.append(48) }
            out.append(contentsOf: digits)
            return
        }
        out.append(contentsOf: digits[..<(digits.count - scale)])
        out.append(46)
        out.append(contentsOf: digits[(digits.count - scale)...])
    }

    static func decimalDigits(_ value: Int64) -> ([UInt8], Bool) {
        (Array(String(value.magnitude).utf8), value < 0)
    }

    /// The decimal digits of a big-endian two's-complement integer of any width.
    static func decimalDigits(bigEndian bytes: some Collection<UInt8>) -> ([UInt8], Bool) {
        guard let first = bytes.first else { return ([48], false) }
        let negative = first & 0x80 != 0
        var magnitude = Array(bytes)
        if negative {
            // Two's complement: invert and add one.
            for k in magnitude.indices { magnitude[k] = ~magnitude[k] }
            var k = magnitude.count - 1
            while k >= 0 {
                magnitude[k] &+= 1
                if magnitude[k] != 0 { break }
                k -= 1
            }
        }
        var digits: [UInt8] = []
        var start = 0
        while start < magnitude.count && magnitude[start] == 0 { start += 1 }
        while start < magnitude.count {
            var remainder = 0
            for k in start..<magnitude.count {
                let current = remainder * 256 + Int(magnitude[k])
                magnitude[k] = UInt8(current / 10)
                remainder = current % 10
            }
            digits.append(UInt8(48 + remainder))
            while start < magnitude.count && magnitude[start] == 0 { start += 1 }
        }
        if digits.isEmpty { digits = [48] }
        return (digits.reversed(), negative)
    }

    static func appendFloat(_ value: Float, to out: ByteStorage) {
        if value.isNaN { return out.append(contentsOf: "NaN".utf8) }
        if value.isInfinite { return out.append(contentsOf: (value < 0 ? "-Infinity" : "Infinity").utf8) }
        out.append(contentsOf: value.description.utf8)
    }

    static func appendDouble(_ value: Double, to out: ByteStorage) {
        if value.isNaN { return out.append(contentsOf: "NaN".utf8) }
        if value.isInfinite { return out.append(contentsOf: (value < 0 ? "-Infinity" : "Infinity").utf8) }
        out.append(contentsOf: value.description.utf8)
    }

    /// IEEE 754 half precision to single.
    static func float16(_ bits: UInt16) -> Float {
        let sign: Float = bits & 0x8000 != 0 ? -1 : 1
        let exponent = Int((bits >> 10) & 0x1F)
        let mantissa = Float(bits & 0x3FF)
        switch exponent {
        case 0: return sign * mantissa * Float(sign: .plus, exponent: -24, significand: 1)
        case 31: return mantissa == 0 ? sign * .infinity : .nan
        default: return sign * (1 + mantissa / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }

    static func appendUUID(_ p: some Collection<UInt8>, to out: ByteStorage) {
        for (k, byte) in p.enumerated() {
            if k == 4 || k == 6 || k == 8 || k == 10 { out.append(45) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 15)])
        }
    }

    static func appendBytea(_ p: some Collection<UInt8>, to out: ByteStorage) {
        out.reserve(2 + 2 * p.count)
        out.append(92)
        out.append(120)
        for byte in p {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 15)])
        }
    }
}
