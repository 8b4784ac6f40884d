/// PostgreSQL's hash functions as Citus applies them to a distribution column (`hashint8`,
/// `hashint4`, `hashint2`, `hashtext` under a deterministic collation, `uuid_hash`, date as
/// `hashint4`), computed from a value's binary COPY form: which shard of a hash-distributed
/// table a row belongs to, without asking the coordinator. (docs/scale-out.md)
public enum CitusHash {
    /// The types whose hash is known here, by pgsink's column type.
    public static func supports(_ type: ColumnType) -> Bool {
        switch type {
        case .smallint, .integer, .bigint, .text, .uuid, .date: true
        default: false
        }
    }

    /// The hash of one binary COPY value of `type` (its bytes after the length), as Citus compares
    /// it with the shards' ranges; nil for a type `supports` refuses or a malformed value.
    public static func hash(_ p: UnsafePointer<UInt8>, _ n: Int, as type: ColumnType) -> Int32? {
        func bigEndian(_ width: Int) -> UInt64 {
            var value: UInt64 = 0
            for k in 0..<width { value = value << 8 | UInt64(p[k]) }
            return value
        }
        switch type {
        case .smallint:
            guard n == 2 else { return nil }
            return Int32(bitPattern: uint32(UInt32(bitPattern: Int32(Int16(bitPattern: UInt16(bigEndian(2)))))))
        case .integer, .date:
            guard n == 4 else { return nil }
            return Int32(bitPattern: uint32(UInt32(bigEndian(4))))
        case .bigint:
            guard n == 8 else { return nil }
            let value = Int64(bitPattern: bigEndian(8))
            var low = UInt32(truncatingIfNeeded: value)
            let high = UInt32(truncatingIfNeeded: value >> 32)
            low ^= value >= 0 ? high : ~high
            return Int32(bitPattern: uint32(low))
        case .text, .uuid:
            guard type != .uuid || n == 16 else { return nil }
            return Int32(bitPattern: bytes(p, n))
        default:
            return nil
        }
    }

    @inline(__always) private static func rotate(_ x: UInt32, _ k: UInt32) -> UInt32 { (x << k) | (x >> (32 - k)) }

    /// The last mixing of Bob Jenkins' lookup3, as PostgreSQL's `final` macro.
    @inline(__always) private static func final(_ a: inout UInt32, _ b: inout UInt32, _ c: inout UInt32) {
        c ^= b; c &-= rotate(b, 14)
        a ^= c; a &-= rotate(c, 11)
        b ^= a; b &-= rotate(a, 25)
        c ^= b; c &-= rotate(b, 16)
        a ^= c; a &-= rotate(c, 4)
        b ^= a; b &-= rotate(a, 14)
        c ^= b; c &-= rotate(b, 24)
    }

    /// PostgreSQL's `hash_bytes_uint32`.
    public static func uint32(_ k: UInt32) -> UInt32 {
        var a: UInt32 = 0x9e37_79b9 &+ 4 &+ 3_923_095
        var b = a, c = a
        a &+= k
        final(&a, &b, &c)
        return c
    }

    /// PostgreSQL's `hash_bytes` (`hash_any`) on a little-endian machine.
    public static func bytes(_ k: UnsafePointer<UInt8>, _ length: Int) -> UInt32 {
        var a: UInt32 = 0x9e37_79b9 &+ UInt32(truncatingIfNeeded: length) &+ 3_923_095
        var b = a, c = a
        func word(_ at: Int) -> UInt32 {
            UInt32(k[at]) | UInt32(k[at + 1]) << 8 | UInt32(k[at + 2]) << 16 | UInt32(k[at + 3]) << 24
        }
        var at = 0
        var left = length
        while left >= 12 {
            a &+= word(at)
            b &+= word(at + 4)
            c &+= word(at + 8)
            a &-= c; a ^= rotate(c, 4); c &+= b
            b &-= a; b ^= rotate(a, 6); a &+= c
            c &-= b; c ^= rotate(b, 8); b &+= a
            a &-= c; a ^= rotate(c, 16); c &+= b
            b &-= a; b ^= rotate(a, 19); a &+= c
            c &-= b; c ^= rotate(b, 4); b &+= a
            at += 12
            left -= 12
        }
        // The last 11 bytes; the lowest byte of c is left for the length.
        if left >= 11 { c &+= UInt32(k[at + 10]) << 24 }
        if left >= 10 { c &+= UInt32(k[at + 9]) << 16 }
        if left >= 9 { c &+= UInt32(k[at + 8]) << 8 }
        if left >= 8 { b &+= UInt32(k[at + 7]) << 24 }
        if left >= 7 { b &+= UInt32(k[at + 6]) << 16 }
        if left >= 6 { b &+= UInt32(k[at + 5]) << 8 }
        if left >= 5 { b &+= UInt32(k[at + 4]) }
        if left >= 4 { a &+= UInt32(k[at + 3]) << 24 }
        if left >= 3 { a &+= UInt32(k[at + 2]) << 16 }
        if left >= 2 { a &+= UInt32(k[at + 1]) << 8 }
        if left >= 1 { a &+= UInt32(k[at]) }
        final(&a, &b, &c)
        return c
    }
}

/// A hash-distributed table's shards, by hash range: splits a binary COPY payload into one
/// payload per shard, each a complete COPY stream of the rows whose distribution value hashes
/// into the shard's range.
public struct ShardSplit: Sendable {
    public struct Shard: Sendable, Equatable {
        public var id: Int64
        public var min: Int32
        public var max: Int32
        public init(id: Int64, min: Int32, max: Int32) {
            self.id = id
            self.min = min
            self.max = max
        }
    }

    /// Sorted by `min`; the ranges cover every Int32 once.
    public let shards: [Shard]

    /// nil unless the ranges are sorted, disjoint and cover the whole Int32 range (what Citus
    /// makes for a hash-distributed table); anything else goes through the coordinator.
    public init?(shards: [Shard]) {
        let sorted = shards.sorted { $0.min < $1.min }
        guard let first = sorted.first, first.min == Int32.min, sorted.last?.max == Int32.max else { return nil }
        for (left, right) in zip(sorted, sorted.dropFirst()) where left.max == Int32.max || right.min != left.max + 1 {
            return nil
        }
        self.shards = sorted
    }

    /// The index in `shards` of the shard whose range holds `hash`.
    public func shard(of hash: Int32) -> Int {
        var low = 0, high = shards.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if shards[middle].min <= hash { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// One COPY payload per shard index that gets rows (binary `encoded`, the distribution value
    /// in field `field` of type `type`); nil when a row's value is NULL or not readable, which the
    /// coordinator then refuses with the server's own words.
    public func split(_ encoded: BatchEncoder.EncodedBatch, field: Int, type: ColumnType) -> [Int: ByteStorage]? {
        guard encoded.format == .binary else { return nil }
        var parts: [Int: ByteStorage] = [:]
        let base = UnsafePointer(encoded.data.base)
        let header = encoded.offsets.first ?? 0
        for row in 0..<(encoded.offsets.count - 1) {
            let start = encoded.offsets[row], end = encoded.offsets[row + 1]
            guard let value = encoded.binaryField(row: row, field: field),
                let hash = CitusHash.hash(base + value.lowerBound, value.count, as: type)
            else { return nil }
            let index = shard(of: hash)
            let out: ByteStorage
            if let existing = parts[index] {
                out = existing
            } else {
                out = ByteStorage(capacity: (end - start) * 64 + header)
                out.append(base, count: header)
                parts[index] = out
            }
            out.append(base + start, count: end - start)
        }
        for part in parts.values { part.appendInt16(-1) }
        return parts
    }
}
