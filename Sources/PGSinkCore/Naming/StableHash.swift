/// SipHash-2-4 with fixed keys: the same bytes give the same 128 bits on every run and machine
/// (Swift's `Hasher` is seeded per process). Used for deterministic row ids.
public struct StableHash {
    private var v0: UInt64, v1: UInt64, v2: UInt64, v3: UInt64
    private var tail: UInt64 = 0
    private var tailCount = 0
    private var length = 0

    public init(key0: UInt64, key1: UInt64) {
        v0 = key0 ^ 0x736f_6d65_7073_6575
        v1 = key1 ^ 0x646f_7261_6e64_6f6d
        v2 = key0 ^ 0x6c79_6765_6e65_7261
        v3 = key1 ^ 0x7465_6462_7974_6573
    }

    @inline(__always)
    private mutating func round() {
        v0 = v0 &+ v1; v1 = (v1 << 13) | (v1 >> 51); v1 ^= v0; v0 = (v0 << 32) | (v0 >> 32)
        v2 = v2 &+ v3; v3 = (v3 << 16) | (v3 >> 48); v3 ^= v2
        v0 = v0 &+ v3; v3 = (v3 << 21) | (v3 >> 43); v3 ^= v0
        v2 = v2 &+ v1; v1 = (v1 << 17) | (v1 >> 47); v1 ^= v2; v2 = (v2 << 32) | (v2 >> 32)
    }

    @inline(__always)
    private mutating func compress(_ m: UInt64) {
        v3 ^= m
        round(); round()
        v0 ^= m
    }

    public mutating func combine(_ byte: UInt8) {
        tail |= UInt64(byte) << UInt64(8 * tailCount)
        tailCount += 1
        length += 1
        if tailCount == 8 {
            compress(tail)
            tail = 0
            tailCount = 0
        }
    }

    public mutating func combine(_ p: UnsafePointer<UInt8>, _ n: Int) {
        for k in 0..<n { combine(p[k]) }
    }

    public mutating func combine(_ value: UInt64) {
        for k in 0..<8 { combine(UInt8(truncatingIfNeeded: value >> UInt64(8 * k))) }
    }

    public mutating func finalize() -> UInt64 {
        compress(tail | UInt64(truncatingIfNeeded: length) << 56)
        v2 ^= 0xff
        round(); round(); round(); round()
        return v0 ^ v1 ^ v2 ^ v3
    }

    /// 128 bits of `body`'s bytes: two SipHash runs under different keys.
    public static func rowId(_ body: (inout StableHash) -> Void) -> RowId {
        var a = StableHash(key0: 0x7067_7369_6e6b_2d31, key1: 0x726f_772d_6964_2d61)
        var b = StableHash(key0: 0x7067_7369_6e6b_2d32, key1: 0x726f_772d_6964_2d62)
        body(&a)
        body(&b)
        return RowId(high: a.finalize(), low: b.finalize())
    }
}
