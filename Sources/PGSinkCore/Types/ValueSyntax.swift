#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parsers that judge a cell on its bytes: the same functions decide a column's type and
/// produce the binary COPY value, so inference and encoding can never disagree.
public enum ValueSyntax {
    @inline(__always)
    static func isDigit(_ c: UInt8) -> Bool { c &- 48 < 10 }

    // MARK: integers

    /// A plain integer: optional sign, digits, no leading zeros (so `02134` stays text).
    public static func parseInt64(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int64? {
        guard n > 0 else { return nil }
        var i = 0
        var negative = false
        if p[0] == 45 || p[0] == 43 {  // - +
            negative = p[0] == 45
            i = 1
            guard n > 1 else { return nil }
        }
        if p[i] == 48 && n - i > 1 { return nil }  // leading zero
        guard n - i <= 19 else { return nil }
        var magnitude: UInt64 = 0
        while i < n {
            let d = p[i] &- 48
            guard d < 10 else { return nil }
            magnitude = magnitude &* 10 &+ UInt64(d)
            i += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    // MARK: decimals

    /// The parts of a decimal literal `[+-]digits[.digits][e[+-]digits]`.
    public struct DecimalParts {
        public var negative: Bool
        /// Ranges into the source: integer digits, then fraction digits.
        public var integerStart: Int, integerEnd: Int
        public var fractionStart: Int, fractionEnd: Int
        public var exponent: Int
    }

    /// Parses a decimal literal. With `strictZeros`, a leading zero before other integer digits
    /// (`007`, `01.5`) is refused, so such identifiers are inferred as text.
    public static func parseDecimal(_ p: UnsafePointer<UInt8>, _ n: Int, strictZeros: Bool = true) -> DecimalParts? {
        guard n > 0 else { return nil }
        var i = 0
        var negative = false
        if p[0] == 45 || p[0] == 43 {
            negative = p[0] == 45
            i = 1
        }
        let integerStart = i
        while i < n && isDigit(p[i]) { i += 1 }
        let integerEnd = i
        if strictZeros && integerEnd - integerStart > 1 && p[integerStart] == 48 { return nil }
        var fractionStart = i
        var fractionEnd = i
        if i < n && p[i] == 46 {  // .
            i += 1
            fractionStart = i
            while i < n && isDigit(p[i]) { i += 1 }
            fractionEnd = i
        }
        guard integerEnd > integerStart || fractionEnd > fractionStart else { return nil }
        var exponent = 0
        if i < n && (p[i] == 101 || p[i] == 69) {  // e E
            i += 1
            var expNegative = false
            if i < n && (p[i] == 45 || p[i] == 43) {
                expNegative = p[i] == 45
                i += 1
            }
            let expStart = i
            while i < n && isDigit(p[i]) {
                if exponent < 1_000_000 { exponent = exponent * 10 + Int(p[i] - 48) }
                i += 1
            }
            guard i > expStart else { return nil }
            if expNegative { exponent = -exponent }
        }
        guard i == n else { return nil }
        return DecimalParts(
            negative: negative, integerStart: integerStart, integerEnd: integerEnd,
            fractionStart: fractionStart, fractionEnd: fractionEnd, exponent: exponent)
    }

    // MARK: booleans

    /// `true`/`false` in any case; with `lenient`, also PostgreSQL's other spellings
    /// (t, f, yes, no, y, n, on, off, 1, 0) for columns that already are boolean.
    /// A fraction of a second (`.1234565`, with its dot) in microseconds, rounded as the server
    /// rounds it: `rint(strtod(fraction) * 1000000)`, so half-way values go to even, as far as the
    /// double holds them (PostgreSQL's ParseFractionalSecond).
    static func roundedMicroseconds(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        var text = [CChar](repeating: 0, count: n + 1)
        for i in 0..<n { text[i] = CChar(bitPattern: p[i]) }
        return Int((strtod(text, nil) * 1_000_000).rounded(.toNearestOrEven))
    }

    /// Whether the `n` bytes at `p` spell `word` (lowercase ASCII), in any case.
    static func equalsIgnoringCase(_ p: UnsafePointer<UInt8>, _ n: Int, _ word: StaticString) -> Bool {
        guard n == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        for i in 0..<n where p[i] | 0x20 != w[i] { return false }
        return true
    }

    public static func parseBool(_ p: UnsafePointer<UInt8>, _ n: Int, lenient: Bool = false) -> Bool? {
        @inline(__always) func lower(_ i: Int) -> UInt8 { p[i] | 0x20 }
        switch n {
        case 4 where lower(0) == 116 && lower(1) == 114 && lower(2) == 117 && lower(3) == 101: return true
        case 5 where lower(0) == 102 && lower(1) == 97 && lower(2) == 108 && lower(3) == 115 && lower(4) == 101:
            return false
        default: break
        }
        guard lenient else { return nil }
        let word = String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self).lowercased()
        switch word {
        case "t", "yes", "y", "on", "1": return true
        case "f", "no", "n", "off", "0": return false
        default: return nil
        }
    }

    // MARK: dates and times

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (the inverse of `daysFromCivil`).
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// PostgreSQL's epoch, 2000-01-01, in days since 1970-01-01.
    static let postgresEpochDays = 10_957

    @inline(__always)
    static func digits(_ p: UnsafePointer<UInt8>, _ at: Int, _ count: Int) -> Int? {
        var value = 0
        for k in 0..<count {
            let d = p[at + k] &- 48
            guard d < 10 else { return nil }
            value = value * 10 + Int(d)
        }
        return value
    }

    static func isLeapYear(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeapYear(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// The latest year PostgreSQL's timestamps reach (its dates go further; pgsink reads both up to here).
    static let maxYear = 294_276
    /// The earliest year before Christ pgsink reads (PostgreSQL starts at 4713 BC's 24 November).
    static let maxYearBC = 4_712

    /// Whether the text ends in ` BC`, PostgreSQL's spelling of a year before Christ (` AD` is
    /// not written by the server, and not read here), and its length without it.
    @inline(__always)
    static func era(_ p: UnsafePointer<UInt8>, _ n: Int) -> (length: Int, bc: Bool) {
        guard n >= 3, p[n - 3] == 32, p[n - 2] | 0x20 == 98, p[n - 1] | 0x20 == 99 else { return (n, false) }
        return (n - 3, true)
    }

    /// `YYYY-MM-DD` at the start of `p` (the year in 4 to 6 digits, as PostgreSQL writes years
    /// past 9999; `bc`: a year before Christ), as days since 2000-01-01, and the length read.
    @inline(__always)
    static func parseDatePrefix(_ p: UnsafePointer<UInt8>, _ n: Int, bc: Bool = false) -> (days: Int, length: Int)? {
        var width = 4
        while width < 6 && width < n && isDigit(p[width]) { width += 1 }
        guard n >= width + 6, p[width] == 45, p[width + 3] == 45,
            let year = digits(p, 0, width), let month = digits(p, width + 1, 2), let day = digits(p, width + 4, 2),
            year >= 1, year <= (bc ? maxYearBC : maxYear), month >= 1, month <= 12
        else { return nil }
        // Proleptic Gregorian, astronomical years: 1 BC is year 0.
        let astronomical = bc ? 1 - year : year
        guard day >= 1, day <= daysIn(month: month, year: astronomical) else { return nil }
        return (daysFromCivil(astronomical, month, day) - postgresEpochDays, width + 6)
    }

    /// A date `YYYY-MM-DD` (also `YYYYY-MM-DD` and `YYYY-MM-DD BC`), as days since 2000-01-01
    /// (PostgreSQL's binary date).
    public static func parseDate(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int32? {
        // At most a six-digit year, `-MM-DD` and ` BC`: a timestamp is refused before any parsing.
        guard n >= 10, n <= 15 else { return nil }
        let (length, bc) = era(p, n)
        guard let (days, read) = parseDatePrefix(p, length, bc: bc), read == length else { return nil }
        return Int32(days)
    }

    public struct Timestamp: Equatable, Sendable {
        /// Microseconds since 2000-01-01 00:00:00, in UTC when `hasZone`.
        public var microseconds: Int64
        public var hasZone: Bool
    }

    /// ISO 8601 `YYYY-MM-DD[T ]HH:MM[:SS[.fraction]][Z|±HH[:MM]]`. A zone offset is applied, so
    /// the result is UTC when `hasZone`. Fractions beyond microseconds round as the server rounds them.
    /// Years past 9999 and ` BC` are read as `parseDate` reads them.
    public static func parseTimestamp(_ p: UnsafePointer<UInt8>, _ whole: Int) -> Timestamp? {
        guard whole >= 16 else { return nil }
        let (n, bc) = era(p, whole)
        guard let (days, d) = parseDatePrefix(p, n, bc: bc), n >= d + 6, p[d] == 84 || p[d] == 116 || p[d] == 32,
            p[d + 3] == 58, let hour = digits(p, d + 1, 2), let minute = digits(p, d + 4, 2), hour < 24, minute < 60
        else { return nil }
        var i = d + 6
        var second = 0
        var micros = 0
        if i < n && p[i] == 58 {  // :SS
            guard i + 3 <= n, let s = digits(p, i + 1, 2), s < 60 else { return nil }
            second = s
            i += 3
            if i < n && p[i] == 46 {  // .fraction
                i += 1
                let start = i
                var scale = 100_000
                while i < n && isDigit(p[i]) {
                    if scale > 0 {
                        micros += Int(p[i] - 48) * scale
                        scale /= 10
                    }
                    i += 1
                }
                guard i > start else { return nil }
                if i - start > 6 { micros = roundedMicroseconds(p + start - 1, i - start + 1) }
            }
        }
        var offsetSeconds = 0
        var hasZone = false
        if i < n && p[i] == 32 && i + 1 < n && (p[i + 1] == 43 || p[i + 1] == 45) { i += 1 }
        if i < n {
            switch p[i] {
            case 90, 122:  // Z z
                hasZone = true
                i += 1
            case 43, 45:  // + -
                let sign = p[i] == 45 ? -1 : 1
                i += 1
                guard i + 2 <= n, let oh = digits(p, i, 2), oh <= 15 else { return nil }
                i += 2
                var om = 0
                if i < n && p[i] == 58 { i += 1 }
                if i + 2 <= n, let m = digits(p, i, 2) {
                    guard m < 60 else { return nil }
                    om = m
                    i += 2
                }
                offsetSeconds = sign * (oh * 3600 + om * 60)
                hasZone = true
            default:
                return nil
            }
        }
        guard i == n else { return nil }
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return Timestamp(microseconds: seconds * 1_000_000 + Int64(micros), hasZone: hasZone)
    }

    // MARK: UUID

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }

    /// The canonical 8-4-4-4-12 form; with `lenient`, also 32 bare hex digits and `{…}`.
    /// Writes the 16 bytes to `out` when given.
    public static func parseUUID(
        _ p: UnsafePointer<UInt8>, _ n: Int, lenient: Bool = false, into out: UnsafeMutablePointer<UInt8>? = nil
    ) -> Bool {
        var start = 0
        var end = n
        if lenient && n == 38 && p[0] == 123 && p[37] == 125 {
            start = 1
            end = 37
        }
        let length = end - start
        let dashed = length == 36
        guard dashed || (lenient && length == 32) else { return false }
        if dashed {
            guard p[start + 8] == 45, p[start + 13] == 45, p[start + 18] == 45, p[start + 23] == 45 else {
                return false
            }
        }
        var i = start
        var byteIndex = 0
        while byteIndex < 16 {
            if dashed && p[i] == 45 { i += 1 }
            guard i + 1 < end, let hi = hexValue(p[i]), let lo = hexValue(p[i + 1]) else { return false }
            out?[byteIndex] = hi << 4 | lo
            byteIndex += 1
            i += 2
        }
        return i == end
    }
}
