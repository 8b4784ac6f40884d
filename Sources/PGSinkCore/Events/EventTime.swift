import Foundation

/// An instant as whole seconds since 1970 (UTC) plus nanoseconds, for the event time fields.
struct EventTime: Equatable, Comparable, Sendable {
    var seconds: Int64
    /// 0 ..< 1_000_000_000
    var nanos: Int64

    init(seconds: Int64, nanos: Int64) {
        let carry = nanos >= 0 ? nanos / 1_000_000_000 : (nanos - 999_999_999) / 1_000_000_000
        self.seconds = seconds + carry
        self.nanos = nanos - carry * 1_000_000_000
    }

    /// A `Date`, to the microsecond (a `Double` holds no more at today's dates).
    init(_ date: Date) {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let secs = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        self.init(seconds: secs, nanos: (micros - secs * 1_000_000) * 1000)
    }

    static func < (a: EventTime, b: EventTime) -> Bool {
        (a.seconds, a.nanos) < (b.seconds, b.nanos)
    }

    static func + (a: EventTime, b: EventTime) -> EventTime {
        EventTime(seconds: a.seconds + b.seconds, nanos: a.nanos + b.nanos)
    }

    static func - (a: EventTime, b: EventTime) -> EventTime {
        EventTime(seconds: a.seconds - b.seconds, nanos: a.nanos - b.nanos)
    }

    /// `0001-01-01T00:00:00Z` and `9999-12-31T23:59:59.999Z`, the range RudderStack accepts as datetime.
    static let earliest = EventTime(seconds: -62_135_596_800, nanos: 0)
    static let latest = EventTime(seconds: 253_402_300_799, nanos: 999_000_000)

    /// RFC 3339 in UTC with milliseconds (cut, not rounded), e.g. `2024-01-02T03:04:05.678Z`.
    var rfc3339Milli: String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = Self.civil(fromDays: days)
        var out: [UInt8] = []
        out.reserveCapacity(25)
        if year < 0 { out.append(UInt8(ascii: "-")) }
        Self.append(abs(year), width: 4, to: &out)
        out.append(UInt8(ascii: "-"))
        Self.append(month, width: 2, to: &out)
        out.append(UInt8(ascii: "-"))
        Self.append(day, width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        Self.append(secondOfDay / 3600, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        Self.append(secondOfDay / 60 % 60, width: 2, to: &out)
        out.append(UInt8(ascii: ":"))
        Self.append(secondOfDay % 60, width: 2, to: &out)
        out.append(UInt8(ascii: "."))
        Self.append(nanos / 1_000_000, width: 3, to: &out)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `value` (not negative) in decimal, zero-padded to `width` digits.
    private static func append(_ value: Int64, width: Int, to out: inout [UInt8]) {
        var count = 1
        var power: Int64 = 1
        while value / power >= 10 {
            power *= 10
            count += 1
        }
        for _ in count..<max(width, count) { out.append(UInt8(ascii: "0")) }
        while power > 0 {
            out.append(UInt8(48 + value / power % 10))
            power /= 10
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (`ValueSyntax.daysFromCivil`).
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        Int64(ValueSyntax.daysFromCivil(Int(year), Int(month), Int(day)))
    }

    /// The date of a day count since 1970-01-01 (`ValueSyntax.civil(fromDays:)`).
    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) { ValueSyntax.civil(fromDays: days) }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

extension EventTime {
    /// Parses the ISO 8601 forms RudderStack takes for a datetime: `YYYY-MM-DD`, optionally followed by
    /// `T` or a space, `HH:MM`, optional `:SS` with an optional fraction (up to 9 digits) and an optional
    /// zone (`Z`, `±HH`, `±HHMM`, `±HH:MM`). A time without a zone is UTC. A day past the month's end
    /// (`2021-02-30`) rolls over into the next month at midnight, as JavaScript's `Date` does, when
    /// `rollOverDays` is set; otherwise such a date is refused.
    static func parse(_ text: String, rollOverDays: Bool = true) -> EventTime? {
        let utf8 = text.utf8
        guard utf8.count >= 10 && utf8.count <= 41 else { return nil }
        // Most strings are not times: refuse them before copying anything.
        var iterator = utf8.makeIterator()
        for position in 0..<5 {
            guard let byte = iterator.next() else { return nil }
            let fits = position < 4 ? (byte >= 48 && byte <= 57) : byte == UInt8(ascii: "-")
            guard fits else { return nil }
        }
        var reader = TimeReader(bytes: Array(text.utf8))
        return reader.read(rollOverDays: rollOverDays)
    }

    /// RudderStack's datetime test: the text parses and lies between years 0001 and 9999 in UTC.
    static func datetime(_ text: String) -> String? {
        guard let time = parse(text), time >= earliest, time <= latest else { return nil }
        return time.rfc3339Milli
    }
}

/// Reads one timestamp's fields left to right.
private struct TimeReader {
    let bytes: [UInt8]
    var index = 0

    mutating func number(_ width: Int) -> Int64? {
        guard index + width <= bytes.count else { return nil }
        var value: Int64 = 0
        for byte in bytes[index..<index + width] {
            guard byte >= 48 && byte <= 57 else { return nil }
            value = value * 10 + Int64(byte - 48)
        }
        index += width
        return value
    }

    mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    var atEnd: Bool { index == bytes.count }

    mutating func read(rollOverDays: Bool) -> EventTime? {
        guard let year = number(4), take(UInt8(ascii: "-")), let month = number(2), (1...12).contains(month),
            take(UInt8(ascii: "-")), let day = number(2), (1...31).contains(day)
        else { return nil }
        if day > EventTime.daysInMonth(year: year, month: month) {
            // Go's parser refuses the date; RudderStack then reads only the date and lets it roll over.
            guard rollOverDays, validRest() else { return nil }
            return EventTime(seconds: EventTime.days(year: year, month: month, day: day) * 86_400, nanos: 0)
        }
        let midnight = EventTime.days(year: year, month: month, day: day) * 86_400
        if atEnd { return EventTime(seconds: midnight, nanos: 0) }
        guard let time = timeOfDay() else { return nil }
        return EventTime(seconds: midnight + time.secondOfDay - time.offset, nanos: time.nanos)
    }

    /// Whether what follows the date is a valid time part (used where the date rolls over).
    mutating func validRest() -> Bool {
        if atEnd { return true }
        return timeOfDay() != nil
    }

    /// `[T ]HH:MM[:SS[.f]][zone]`: seconds of the day, nanoseconds, the zone's offset in seconds.
    mutating func timeOfDay() -> (secondOfDay: Int64, nanos: Int64, offset: Int64)? {
        guard take(UInt8(ascii: "T")) || take(UInt8(ascii: " ")) else { return nil }
        guard let hour = number(2), hour < 24, take(UInt8(ascii: ":")), let minute = number(2), minute < 60 else {
            return nil
        }
        var second: Int64 = 0
        var nanos: Int64 = 0
        if take(UInt8(ascii: ":")) {
            guard let s = number(2), s < 60 else { return nil }
            second = s
            if take(UInt8(ascii: ".")) {
                var digits = 0
                while index < bytes.count, bytes[index] >= 48 && bytes[index] <= 57 {
                    guard digits < 9 else { return nil }
                    nanos = nanos * 10 + Int64(bytes[index] - 48)
                    digits += 1
                    index += 1
                }
                guard digits > 0 else { return nil }
                for _ in digits..<9 { nanos *= 10 }
            }
        }
        guard let offset = zone(), atEnd else { return nil }
        return (hour * 3600 + minute * 60 + second, nanos, offset)
    }

    /// Nothing (UTC), `Z`, or `±HH`, `±HHMM`, `±HH:MM`: the offset in seconds.
    mutating func zone() -> Int64? {
        if atEnd { return 0 }
        if take(UInt8(ascii: "Z")) || take(UInt8(ascii: "z")) { return 0 }
        let sign: Int64
        if take(UInt8(ascii: "+")) {
            sign = 1
        } else if take(UInt8(ascii: "-")) {
            sign = -1
        } else {
            return nil
        }
        guard let hours = number(2), hours < 24 else { return nil }
        if atEnd { return sign * hours * 3600 }
        _ = take(UInt8(ascii: ":"))
        guard let minutes = number(2), minutes < 60 else { return nil }
        return sign * (hours * 3600 + minutes * 60)
    }
}
