/// Parquet's value and level encodings, each a pure function from a page's bytes to values.
public enum ParquetEncodings {
    /// Reads `count` values of `bitWidth` bits, packed least significant bit first, at `pos`.
    @inline(__always)
    static func unpack(
        _ p: UnsafeRawBufferPointer, _ pos: Int, bitWidth: Int, count: Int, into out: inout [UInt64]
    ) throws(ParquetError) {
        if bitWidth == 0 {
            out.append(contentsOf: repeatElement(0, count: count))
            return
        }
        let bytesNeeded = (count * bitWidth + 7) / 8
        guard pos + bytesNeeded <= p.count else { throw ParquetError("bit-packed values run past the end of the page") }
        let mask: UInt64 = bitWidth == 64 ? ~0 : (1 << UInt64(bitWidth)) - 1
        var bit = 0
        var done = 0
        // Up to 56 bits, a value lies within the 8 bytes from its first byte: one unaligned load
        // and a shift, while those 8 bytes are inside the page.
        if bitWidth <= 56 && p.count - pos >= 8 {
            let fast = min(count, ((p.count - pos - 8) * 8) / bitWidth + 1)
            let base = p.baseAddress! + pos
            while done < fast {
                let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: bit >> 3, as: UInt64.self))
                out.append(word >> UInt64(bit & 7) & mask)
                bit += bitWidth
                done += 1
            }
        }
        for _ in done..<count {
            var value: UInt64 = 0
            var got = 0
            while got < bitWidth {
                let byteIndex = pos + (bit >> 3)
                let offset = bit & 7
                let take = min(8 - offset, bitWidth - got)
                let piece = (UInt64(p[byteIndex]) >> UInt64(offset)) & ((1 << UInt64(take)) - 1)
                value |= piece << UInt64(got)
                got += take
                bit += take
            }
            out.append(value & mask)
        }
    }

    static func varint(_ p: UnsafeRawBufferPointer, _ pos: inout Int) throws(ParquetError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard pos < p.count else { throw ParquetError("a varint runs past the end of the page") }
            let b = p[pos]
            pos += 1
            if shift < 64 { result |= UInt64(b & 0x7F) << shift }
            if b & 0x80 == 0 { return result }
            shift += 7
            guard shift < 70 else { throw ParquetError("a varint is longer than 10 bytes") }
        }
    }

    static func zigzag(_ p: UnsafeRawBufferPointer, _ pos: inout Int) throws(ParquetError) -> Int64 {
        let v = try varint(p, &pos)
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    /// The RLE / bit-packed hybrid (levels, dictionary indices, booleans): `count` values from
    /// `p[start..<end]`.
    public static func rleHybrid(
        _ p: UnsafeRawBufferPointer, start: Int, end: Int, bitWidth: Int, count: Int
    ) throws(ParquetError) -> [UInt64] {
        guard (0...64).contains(bitWidth) else { throw ParquetError("RLE bit width \(bitWidth) is out of range") }
        guard end <= p.count, start <= end else { throw ParquetError("RLE data runs past the end of the page") }
        let region = UnsafeRawBufferPointer(rebasing: p[..<end])
        var out: [UInt64] = []
        out.reserveCapacity(min(count, 1 << 20))
        var pos = start
        let valueBytes = (bitWidth + 7) / 8
        while out.count < count {
            guard pos < end else { throw ParquetError("RLE data ends after \(out.count) of \(count) values") }
            let header = try varint(region, &pos)
            if header & 1 == 0 {
                let run = Int(header >> 1)
                guard pos + valueBytes <= end else { throw ParquetError("an RLE run runs past the end of the page") }
                var value: UInt64 = 0
                for k in 0..<valueBytes { value |= UInt64(region[pos + k]) << UInt64(8 * k) }
                pos += valueBytes
                out.append(contentsOf: repeatElement(value, count: min(run, count - out.count)))
            } else {
                // Clamped: a corrupt count of groups must not overflow (only `need` values are read).
                let values = Int(min(header >> 1, UInt64(Int32.max))) * 8
                let need = min(values, count - out.count)
                guard (need * bitWidth + 7) / 8 <= end - pos else {
                    throw ParquetError("a bit-packed run runs past the end of the page")
                }
                try unpack(region, pos, bitWidth: bitWidth, count: need, into: &out)
                pos += values * bitWidth / 8
            }
        }
        return out
    }

    /// DELTA_BINARY_PACKED: the values, and where the encoded data ended.
    public static func deltaBinaryPacked(
        _ p: UnsafeRawBufferPointer, start: Int
    ) throws(ParquetError) -> (values: [Int64], end: Int) {
        var pos = start
        // Read as they come (a corrupt value may not fit an Int: it wraps, and the guard refuses it).
        let blockSize = Int(truncatingIfNeeded: try varint(p, &pos))
        let miniblocks = Int(truncatingIfNeeded: try varint(p, &pos))
        let total = Int(truncatingIfNeeded: try varint(p, &pos))
        var last = try zigzag(p, &pos)
        guard miniblocks > 0, blockSize > 0, blockSize <= 1 << 20, blockSize % miniblocks == 0, (blockSize / miniblocks) % 8 == 0,
            total >= 0, total <= p.count * 64 + 1
        else {
            throw ParquetError("a DELTA_BINARY_PACKED header is invalid (block \(blockSize), miniblocks \(miniblocks))")
        }
        let perMiniblock = blockSize / miniblocks
        var values: [Int64] = []
        values.reserveCapacity(total)
        if total > 0 { values.append(last) }
        var deltas: [UInt64] = []
        deltas.reserveCapacity(perMiniblock)
        while values.count < total {
            let minDelta = try zigzag(p, &pos)
            guard pos + miniblocks <= p.count else { throw ParquetError("a DELTA_BINARY_PACKED block runs past the page") }
            let widthsAt = pos
            pos += miniblocks
            for m in 0..<miniblocks where values.count < total {
                let width = Int(p[widthsAt + m])
                guard width <= 64 else { throw ParquetError("a DELTA_BINARY_PACKED bit width of \(width)") }
                deltas.removeAll(keepingCapacity: true)
                let need = min(perMiniblock, total - values.count)
                try unpack(p, pos, bitWidth: width, count: need, into: &deltas)
                pos += perMiniblock * width / 8
                for d in deltas {
                    last = last &+ minDelta &+ Int64(bitPattern: d)
                    values.append(last)
                }
            }
        }
        return (values, pos)
    }

    /// BYTE_STREAM_SPLIT: the bytes of `count` values of `width` bytes, put back together.
    public static func byteStreamSplit(
        _ p: UnsafeRawBufferPointer, start: Int, count: Int, width: Int
    ) throws(ParquetError) -> [UInt8] {
        guard start + count * width <= p.count else { throw ParquetError("BYTE_STREAM_SPLIT data runs past the page") }
        var out = [UInt8](repeating: 0, count: count * width)
        for k in 0..<width {
            let stream = start + k * count
            for i in 0..<count { out[i * width + k] = p[stream + i] }
        }
        return out
    }
}
