/// PostgreSQL's binary `numeric`: base-10000 digits with a weight, a sign and a display scale.
enum NumericEncoding {
    static let positive: Int16 = 0x0000
    static let negative: Int16 = 0x4000
    static let notANumber: Int16 = -0x4000  // 0xC000
    static let positiveInfinity: Int16 = -0x3000  // 0xD000
    static let negativeInfinity: Int16 = -0x1000  // 0xF000

    /// Writes the value's length-prefixed binary form to `out`. `scratch` needs room for `n` bytes.
    /// Returns false when the value is out of numeric's range.
    static func write(
        _ parts: ValueSyntax.DecimalParts, _ p: UnsafePointer<UInt8>, scratch: UnsafeMutablePointer<UInt8>,
        to out: ByteStorage
    ) -> Bool {
        // Significant decimal digits, and where the decimal point falls among them.
        var count = 0
        for k in parts.integerStart..<parts.integerEnd {
            scratch[count] = p[k] - 48
            count += 1
        }
        for k in parts.fractionStart..<parts.fractionEnd {
            scratch[count] = p[k] - 48
            count += 1
        }
        let fractionDigits = parts.fractionEnd - parts.fractionStart
        let displayScale = max(0, fractionDigits - parts.exponent)
        var point = (parts.integerEnd - parts.integerStart) + parts.exponent
        var first = 0
        while first < count && scratch[first] == 0 {
            first += 1
            point -= 1
        }
        var last = count
        while last > first && scratch[last - 1] == 0 { last -= 1 }
        guard displayScale <= 0x3FFF else { return false }
        if first == last {  // zero
            out.appendInt32(8)
            out.appendInt16(0)
            out.appendInt16(0)
            out.appendInt16(positive)
            out.appendInt16(Int16(displayScale))
            return true
        }
        // Pad on the left so the point falls on a group boundary.
        let leftPad = ((4 - point % 4) % 4 + 4) % 4
        let weight = (point + leftPad) / 4 - 1
        guard weight <= 0x7FFF / 4 * 4, weight >= -0x7FFF else { return false }
        let digitCount = last - first + leftPad
        let groups = (digitCount + 3) / 4
        out.appendInt32(Int32(8 + 2 * groups))
        out.appendInt16(Int16(groups))
        out.appendInt16(Int16(weight))
        out.appendInt16(parts.negative ? negative : positive)
        out.appendInt16(Int16(displayScale))
        var position = -leftPad
        for _ in 0..<groups {
            var group = 0
            for _ in 0..<4 {
                let index = first + position
                group = group * 10 + (position >= 0 && index < last ? Int(scratch[index]) : 0)
                position += 1
            }
            out.appendInt16(Int16(group))
        }
        return true
    }

    static func writeNaN(to out: ByteStorage) { writeSpecial(notANumber, to: out) }

    /// numeric 'Infinity' and '-Infinity' (PostgreSQL 14 and later).
    static func writeInfinity(negative: Bool, to out: ByteStorage) {
        writeSpecial(negative ? negativeInfinity : positiveInfinity, to: out)
    }

    private static func writeSpecial(_ sign: Int16, to out: ByteStorage) {
        out.appendInt32(8)
        out.appendInt16(0)
        out.appendInt16(0)
        out.appendInt16(sign)
        out.appendInt16(0)
    }
}
