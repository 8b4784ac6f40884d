#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Values written straight in PostgreSQL's binary COPY form (`CellKind.wire`), with no text
/// between the column buffer and the COPY: used when the target column has exactly the type the
/// file's schema declares, so the form is the one the server expects.
extension ParquetRowGroupRows {
    /// Whether values of `format` can be written in the binary form of `type`.
    public static func canWrite(_ format: ParquetCellFormat, binaryAs type: ColumnType) -> Bool {
        switch (format, type) {
        case (.boolean, .boolean), (.signed, .smallint), (.signed, .integer), (.signed, .bigint), (.unsigned32, .bigint),
            (.float, .real), (.float16, .real), (.double, .double), (.date, .date), (.text, .text), (.uuid, .uuid):
            return true
        case (.timestamp(let unit, let utc), .timestamp), (.timestamp(let unit, let utc), .timestamptz):
            return unit != .nanos && utc == (type == .timestamptz)
        case (.time(let unit), .other("time without time zone")):
            return unit != .nanos
        case (.bytea, .other("bytea")):
            return true
        case (.decimalInteger, .other(let name)), (.decimalBytes, .other(let name)):
            return name.hasPrefix("numeric(")
        case (.decimalInteger, .numeric), (.decimalBytes, .numeric):
            return true
        default:
            return false
        }
    }

    /// 2000-01-01, PostgreSQL's epoch, in days and microseconds after 1970-01-01.
    static let epochDays: Int64 = 10957
    static let epochMicros: Int64 = 946_684_800_000_000

    /// The width an integer column's values are written in: its column type's.
    enum WireWidth { case int16, int32, int64 }

    /// Writes value `i` of `values` in binary form (no length prefix), an integer in `integers`'
    /// width; false, having written nothing, when it has none (text holding NUL, a timestamp
    /// beyond the range). Static, with the column's values borrowed, so a cell copies no column
    /// state.
    static func writeWire(
        _ format: ParquetCellFormat, _ values: some ParquetValueSource, _ i: Int, integers: WireWidth,
        to out: ByteStorage
    ) -> Bool {
        switch format {
        case .boolean:
            out.append(values.boolean(i) ? 1 : 0)
        case .signed, .unsigned32:
            let value = format == .unsigned32 ? Int64(UInt32(truncatingIfNeeded: values.int(i))) : values.int(i)
            switch integers {
            case .int16: out.appendInt16(Int16(truncatingIfNeeded: value))
            case .int32: out.appendInt32(Int32(truncatingIfNeeded: value))
            case .int64: out.appendInt64(value)
            }
        case .float:
            out.appendInt32(Int32(bitPattern: values.float(i).bitPattern))
        case .float16:
            let bits = values.withBytes(i) { UInt16($0[0]) | UInt16($0[1]) << 8 }
            out.appendInt32(Int32(bitPattern: ParquetText.float16(bits).bitPattern))
        case .double:
            out.appendInt64(Int64(bitPattern: values.double(i).bitPattern))
        case .date:
            guard let days = Int32(exactly: values.int(i) - Self.epochDays) else { return false }
            out.appendInt32(days)
        case .timestamp(let unit, _), .time(let unit):
            let (micros, overflow) = values.int(i).multipliedReportingOverflow(by: unit == .millis ? 1000 : 1)
            guard !overflow else { return false }
            if case .time = format {
                out.appendInt64(micros)
            } else {
                let (shifted, under) = micros.subtractingReportingOverflow(Self.epochMicros)
                guard !under else { return false }
                out.appendInt64(shifted)
            }
        case .text, .uuid, .bytea:
            return values.withBytes(i) { p -> Bool in
                guard let start = p.baseAddress, !p.isEmpty else { return true }
                // Text holding NUL has no binary form (PostgreSQL refuses it either way).
                if format == .text && values.mayHoldNUL && memchr(start, 0, p.count) != nil { return false }
                out.append(start, count: p.count)
                return true
            }
        case .decimalInteger(let scale):
            return Self.writeNumeric(unscaled: values.int(i), scale: scale, to: out)
        case .decimalBytes(let scale):
            // Up to 8 bytes, the unscaled value fits an Int64 (sign-extended from its first byte);
            // wider ones go through their text.
            let narrow = values.withBytes(i) { b -> Int64? in
                guard b.count <= 8 else { return nil }
                guard let first = b.first else { return 0 }
                var unscaled = Int64(Int8(bitPattern: first))
                for byte in b.dropFirst() { unscaled = unscaled << 8 | Int64(byte) }
                return unscaled
            }
            if let unscaled = narrow { return Self.writeNumeric(unscaled: unscaled, scale: scale, to: out) }
            let text = ByteStorage(capacity: 64)
            writeText(format, values, i, to: text)
            guard let parts = ValueSyntax.parseDecimal(text.base, text.count, strictZeros: false) else { return false }
            let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: text.count + 1)
            defer { scratch.deallocate() }
            let encoded = ByteStorage(capacity: 64)
            guard NumericEncoding.write(parts, text.base, scratch: scratch, to: encoded), encoded.count >= 4 else {
                return false
            }
            out.append(encoded.base + 4, count: encoded.count - 4)
        default:
            return false
        }
        return true
    }

    /// Writes `unscaled` × 10^-`scale` as binary numeric (no length prefix): the form
    /// `NumericEncoding.write` gives the decimal's text, built from the integer with no digits
    /// in between. Base-10000 groups aligned on the decimal point, with no leading or trailing
    /// zero groups, and the display scale `scale`. False when numeric cannot hold it.
    static func writeNumeric(unscaled: Int64, scale: Int, to out: ByteStorage) -> Bool {
        guard scale >= 0, scale <= 0x3FFF else { return false }
        var rest = unscaled.magnitude
        if rest == 0 {
            out.appendInt16(0)
            out.appendInt16(0)
            out.appendInt16(NumericEncoding.positive)
            out.appendInt16(Int16(scale))
            return true
        }
        // The lowest group holds the last `4 - pad` digits, padded on the right so the point
        // falls on a group boundary; each group above holds four digits. At most 6 groups.
        let pad = (4 - scale % 4) % 4
        var unit: UInt64 = 1
        for _ in 0..<(4 - pad) { unit *= 10 }
        var fill: UInt64 = 1
        for _ in 0..<pad { fill *= 10 }
        var groups: (UInt64, UInt64) = (0, 0)  // 8 Int16 groups, least significant first
        return withUnsafeMutableBytes(of: &groups) { raw -> Bool in
            let group = raw.bindMemory(to: Int16.self)
            group[0] = Int16(rest % unit * fill)
            rest /= unit
            var count = 1
            while rest > 0 {
                group[count] = Int16(rest % 10000)
                rest /= 10000
                count += 1
            }
            var low = 0
            while group[low] == 0 { low += 1 }
            let weight = count - 1 - (scale + pad) / 4
            guard weight <= 0x7FFF / 4 * 4, weight >= -0x7FFF else { return false }
            out.reserve(8 + 2 * (count - low))
            out.appendInt16(Int16(count - low))
            out.appendInt16(Int16(weight))
            out.appendInt16(unscaled < 0 ? NumericEncoding.negative : NumericEncoding.positive)
            out.appendInt16(Int16(scale))
            var k = count - 1
            while k >= low {
                out.appendInt16(group[k])
                k -= 1
            }
            return true
        }
    }
}
