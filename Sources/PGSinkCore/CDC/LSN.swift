#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A position in PostgreSQL's write-ahead log (`pg_lsn`): 64 bits, written `X/Y` with the upper
/// and lower 32 bits in hex (`16/B374D848`), as the server prints and reads it.
public struct LSN: RawRepresentable, Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public init(_ rawValue: UInt64) { self.rawValue = rawValue }

    /// `InvalidXLogRecPtr`, `0/0`: no position.
    public static let invalid = LSN(0)

    /// Reads `X/Y` as `pg_lsn` does: one to eight hex digits (either case) on each side of the
    /// slash and nothing else. Nil for anything else.
    public init?(_ text: some StringProtocol) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var digits = 0
        var sawSlash = false
        for byte in text.utf8 {
            if byte == UInt8(ascii: "/") {
                guard !sawSlash, digits > 0 else { return nil }
                sawSlash = true
                digits = 0
                continue
            }
            guard let digit = Self.hexValue(byte), digits < 8 else { return nil }
            digits += 1
            if sawSlash { low = low << 4 | digit } else { high = high << 4 | digit }
        }
        guard sawSlash, digits > 0 else { return nil }
        rawValue = high << 32 | low
    }

    /// `X/Y` in upper-case hex without leading zeros, as PostgreSQL 15 prints it.
    public var description: String {
        String(rawValue >> 32, radix: 16, uppercase: true) + "/"
            + String(rawValue & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    public static func < (lhs: LSN, rhs: LSN) -> Bool { lhs.rawValue < rhs.rawValue }

    /// The distance in bytes from `earlier` to this position; 0 when `earlier` is not before it.
    public func bytes(since earlier: LSN) -> UInt64 {
        rawValue > earlier.rawValue ? rawValue - earlier.rawValue : 0
    }

    private static func hexValue(_ byte: UInt8) -> UInt64? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt64(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt64(byte - UInt8(ascii: "A") + 10)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt64(byte - UInt8(ascii: "a") + 10)
        default: nil
        }
    }
}

/// The replication protocol's clock: microseconds since 2000-01-01 00:00 UTC (PostgreSQL's
/// epoch), as in `sendTime`, commit times and the standby status update.
public enum PostgresClock {
    /// 2000-01-01 in microseconds since 1970-01-01.
    public static let unixEpochOffset: Int64 = 946_684_800_000_000

    /// Now, from the system's real-time clock.
    public static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return fromUnix(microseconds: Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1_000)
    }

    public static func fromUnix(microseconds: Int64) -> Int64 { microseconds - unixEpochOffset }

    public static func unixMicroseconds(_ postgresMicroseconds: Int64) -> Int64 {
        postgresMicroseconds + unixEpochOffset
    }
}
