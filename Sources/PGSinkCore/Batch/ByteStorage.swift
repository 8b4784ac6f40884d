#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A growable, uninitialised byte buffer: the read buffer a batch scans in place, and the COPY
/// buffer it is encoded into. Unlike `[UInt8]` it never zero-fills and never copies on write,
/// so the hot path pays only for the bytes it touches.
///
/// Its stored properties skip Swift's dynamic exclusivity checks: they are touched per byte on
/// the hot path, by one thread at a time, never through overlapping accesses.
public final class ByteStorage: @unchecked Sendable {
    @exclusivity(unchecked) public private(set) var base: UnsafeMutablePointer<UInt8>
    @exclusivity(unchecked) public private(set) var capacity: Int
    @exclusivity(unchecked) public var count: Int = 0

    public init(capacity: Int = 64 * 1024) {
        self.capacity = max(capacity, 16)
        self.base = UnsafeMutablePointer<UInt8>.allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// Makes room for `extra` more bytes past `count`.
    @inline(__always)
    public func reserve(_ extra: Int) {
        let needed = count + extra
        if needed > capacity { grow(to: needed) }
    }

    private func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let fresh = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        fresh.update(from: base, count: count)
        base.deallocate()
        base = fresh
        capacity = newCapacity
    }

    @inline(__always)
    public func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    public func append(_ bytes: UnsafePointer<UInt8>, count n: Int) {
        guard n > 0 else { return }
        reserve(n)
        (base + count).update(from: bytes, count: n)
        count += n
    }

    public func append<C: Collection>(contentsOf bytes: C) where C.Element == UInt8 {
        reserve(bytes.count)
        for byte in bytes {
            base[count] = byte
            count += 1
        }
    }

    @inline(__always)
    public func appendInt16(_ value: Int16) {
        reserve(2)
        let v = UInt16(bitPattern: value)
        base[count] = UInt8(truncatingIfNeeded: v >> 8)
        base[count + 1] = UInt8(truncatingIfNeeded: v)
        count += 2
    }

    @inline(__always)
    public func appendInt32(_ value: Int32) {
        reserve(4)
        storeInt32(value, at: count)
        count += 4
    }

    @inline(__always)
    public func storeInt32(_ value: Int32, at offset: Int) {
        var big = UInt32(bitPattern: value).bigEndian
        withUnsafeBytes(of: &big) { raw in
            (base + offset).update(from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: 4)
        }
    }

    @inline(__always)
    public func appendInt64(_ value: Int64) {
        reserve(8)
        var big = UInt64(bitPattern: value).bigEndian
        withUnsafeBytes(of: &big) { raw in
            (base + count).update(from: raw.baseAddress!.assumingMemoryBound(to: UInt8.self), count: 8)
        }
        count += 8
    }

    /// Drops the first `n` bytes, moving the rest to the front (the unscanned tail of a read).
    public func removeFirst(_ n: Int) {
        precondition(n <= count)
        let rest = count - n
        if rest > 0 { base.update(from: base + n, count: rest) }
        count = rest
    }

    public func removeAll() { count = 0 }

    public var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    public func copyBytes() -> [UInt8] { Array(bytes) }
}

/// Reads of PostgreSQL's wire integers (big-endian), for what a source sent in binary COPY form.
public enum BigEndian {
    @inline(__always)
    public static func int16(_ p: UnsafePointer<UInt8>) -> Int16 {
        Int16(bitPattern: UInt16(p[0]) << 8 | UInt16(p[1]))
    }

    @inline(__always)
    public static func int32(_ p: UnsafePointer<UInt8>) -> Int32 {
        Int32(bitPattern: UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3]))
    }
}
