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

    /// Writes value `i` of leaf `c` in binary form (no length prefix); false, having written
    /// nothing, when it has none (text holding NUL, a timestamp beyond the range).
    mutating func writeWire(_ c: Int, _ i: Int, type: ColumnType, to out: ByteStorage) -> Bool {
        let values = columns[c].values
        switch formats[c] {
        case .boolean:
            out.append(values.booleans[i] ? 1 : 0)
        case .signed, .unsigned32:
            let value = formats[c] == .unsigned32 ? Int64(UInt32(truncatingIfNeeded: values.ints[i])) : values.ints[i]
            switch type {
            case .smallint: out.appendInt16(Int16(truncatingIfNeeded: value))
            case .integer: out.appendInt32(Int32(truncatingIfNeeded: value))
            default: out.appendInt64(value)
            }
        case .float:
            out.appendInt32(Int32(bitPattern: values.floats[i].bitPattern))
        case .float16:
            let r = values.range(i)
            let bits = UInt16(values.bytes[r.lowerBound]) | UInt16(values.bytes[r.lowerBound + 1]) << 8
            out.appendInt32(Int32(bitPattern: ParquetText.float16(bits).bitPattern))
        case .double:
            out.appendInt64(Int64(bitPattern: values.doubles[i].bitPattern))
        case .date:
            guard let days = Int32(exactly: values.ints[i] - Self.epochDays) else { return false }
            out.appendInt32(days)
        case .timestamp(let unit, _), .time(let unit):
            let (micros, overflow) = values.ints[i].multipliedReportingOverflow(by: unit == .millis ? 1000 : 1)
            guard !overflow else { return false }
            if case .time = formats[c] {
                out.appendInt64(micros)
            } else {
                let (shifted, under) = micros.subtractingReportingOverflow(Self.epochMicros)
                guard !under else { return false }
                out.appendInt64(shifted)
            }
        case .text, .uuid, .bytea:
            let r = values.range(i)
            if r.isEmpty { return true }
            let hasNUL = formats[c] == .text && values.bytes[r].contains(0)
            guard !hasNUL else { return false }
            values.bytes.withUnsafeBufferPointer { out.append($0.baseAddress! + r.lowerBound, count: r.count) }
        case .decimalInteger, .decimalBytes:
            let text = ByteStorage(capacity: 64)
            Self.writeText(formats[c], values, i, to: text)
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
}
