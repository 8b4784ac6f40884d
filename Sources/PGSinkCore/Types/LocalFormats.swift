/// A date written the local way (`31/01/2024`, `01/31/2024 1:45 PM`, `31.01.2024`), read into
/// the ISO form PostgreSQL takes whatever its DateStyle (`2024-01-31`, `2024-01-31 13:45:00`).
public struct LocalDateFormat: Sendable, Hashable, CustomStringConvertible {
    public enum Order: Sendable, Hashable { case dayMonthYear, monthDayYear, yearMonthDay }
    public var order: Order
    public var separator: UInt8

    public init(order: Order, separator: UInt8) {
        self.order = order
        self.separator = separator
    }

    /// The formats the sniffer tries, in the order it names them.
    public static let sniffed: [LocalDateFormat] = [
        LocalDateFormat(order: .dayMonthYear, separator: 47), LocalDateFormat(order: .monthDayYear, separator: 47),
        LocalDateFormat(order: .dayMonthYear, separator: 46), LocalDateFormat(order: .yearMonthDay, separator: 47),
    ]

    /// `%d/%m/%Y`, `%m/%d/%Y`, `%Y.%m.%d`, …
    public var description: String {
        let s = String(UnicodeScalar(separator))
        switch order {
        case .dayMonthYear: return "%d\(s)%m\(s)%Y"
        case .monthDayYear: return "%m\(s)%d\(s)%Y"
        case .yearMonthDay: return "%Y\(s)%m\(s)%d"
        }
    }

    /// Reads a strftime-like spelling: a date part of `%d`, `%m` and `%Y` joined by `/`, `.` or
    /// `-`, optionally followed by ` %H:%M`, ` %H:%M:%S`, ` %I:%M %p` or ` %I:%M:%S %p` (the time
    /// part of a value is read in any of these forms).
    public init?(spelling: String) {
        let datePart = spelling.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
        let rest = spelling.dropFirst(datePart.count).drop { $0 == " " }
        let times = ["", "%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M:%S %p", "%H:%M:%S.%f"]
        guard times.contains(String(rest)) else { return nil }
        for separator: UInt8 in [47, 46, 45] {
            for order: Order in [.dayMonthYear, .monthDayYear, .yearMonthDay] {
                let format = LocalDateFormat(order: order, separator: separator)
                if format.description == datePart {
                    self = format
                    return
                }
            }
        }
        return nil
    }

    /// The value in ISO form, or nil when it is not a valid date (with an optional time) in this format.
    public func iso(_ p: UnsafePointer<UInt8>, _ n: Int) -> [UInt8]? {
        var out: [UInt8] = []
        return appendISO(p, n, to: &out) ? out : nil
    }

    /// Appends the value's ISO form to `out` and returns true; false, with `out` as it was, when
    /// the value is not a valid date (with an optional time) in this format.
    public func appendISO(_ p: UnsafePointer<UInt8>, _ n: Int, to out: inout [UInt8]) -> Bool {
        var reader = DigitReader(p: p, n: n)
        let first = reader.number(maxDigits: order == .yearMonthDay ? 4 : 2)
        guard let first, reader.skip(separator) else { return false }
        guard let second = reader.number(maxDigits: 2), reader.skip(separator) else { return false }
        guard let third = reader.number(maxDigits: order == .yearMonthDay ? 2 : 4) else { return false }
        let (year, month, day) =
            switch order {
            case .dayMonthYear: (third, second, first)
            case .monthDayYear: (third, first, second)
            case .yearMonthDay: (first, second, third)
            }
        guard year >= 1000, (1...12).contains(month), day >= 1, day <= ValueSyntax.daysIn(month: month, year: year)
        else { return false }
        var time: (hour: Int, minute: Int, second: Int, fraction: Range<Int>)? = nil
        if !reader.atEnd {
            guard reader.skip(32) || reader.skip(84), let read = reader.time() else { return false }
            time = read
        }
        Self.append(year, width: 4, to: &out)
        out.append(45)
        Self.append(month, width: 2, to: &out)
        out.append(45)
        Self.append(day, width: 2, to: &out)
        guard let time else { return true }
        out.append(32)
        Self.append(time.hour, width: 2, to: &out)
        out.append(58)
        Self.append(time.minute, width: 2, to: &out)
        out.append(58)
        Self.append(time.second, width: 2, to: &out)
        for k in time.fraction { out.append(p[k]) }
        return true
    }

    /// Whether the format's year comes first: such values never depend on the day-or-month question.
    var isYearFirst: Bool { order == .yearMonthDay }

    /// Appends `value` (below 10000) in `width` digits, zero-padded.
    static func append(_ value: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        while divisor > 1 && value / divisor == 0 && divisor > value {
            out.append(48)
            divisor /= 10
        }
        while divisor > 0 {
            out.append(UInt8(48 + value / divisor % 10))
            divisor /= 10
        }
    }
}

/// Reads the numbers of a date or time from left to right.
private struct DigitReader {
    let p: UnsafePointer<UInt8>
    let n: Int
    var i = 0
    var lastDigits = 0

    init(p: UnsafePointer<UInt8>, n: Int) {
        self.p = p
        self.n = n
    }

    var atEnd: Bool { i >= n }

    mutating func number(maxDigits: Int) -> Int? {
        var value = 0
        var count = 0
        while i < n && count < maxDigits && ValueSyntax.isDigit(p[i]) {
            value = value * 10 + Int(p[i] - 48)
            i += 1
            count += 1
        }
        lastDigits = count
        return count > 0 ? value : nil
    }

    mutating func skip(_ byte: UInt8) -> Bool {
        guard i < n && p[i] == byte else { return false }
        i += 1
        return true
    }

    /// `H:MM[:SS[.ffffff]][ AM|PM]`, to the end of the value.
    mutating func time() -> (hour: Int, minute: Int, second: Int, fraction: Range<Int>)? {
        guard var hour = number(maxDigits: 2), skip(58), let minute = number(maxDigits: 2), lastDigits == 2,
            minute < 60
        else { return nil }
        var second = 0
        var fraction = 0..<0
        if skip(58) {
            guard let s = number(maxDigits: 2), lastDigits == 2, s <= 60 else { return nil }
            second = s
            if i < n && p[i] == 46 {
                let dot = i
                i += 1
                while i < n && ValueSyntax.isDigit(p[i]) { i += 1 }
                guard i > dot + 1 else { return nil }
                fraction = dot..<i
            }
        }
        _ = skip(32)
        if i + 2 == n && (p[i + 1] | 0x20) == 109 {
            let meridiem = p[i] | 0x20
            guard (1...12).contains(hour), meridiem == 97 || meridiem == 112 else { return nil }
            hour = hour % 12 + (meridiem == 112 ? 12 : 0)
            i = n
        }
        guard i == n, hour < 24 else { return nil }
        return (hour, minute, second, fraction)
    }
}

/// A number written the local way (`1.234,50`, `1 234,5`, `1'234.5`), read into PostgreSQL's
/// form (`1234.50`).
public struct LocalNumberFormat: Sendable, Hashable {
    public var decimal: UInt8
    public var thousands: UInt8?

    public init(decimal: UInt8, thousands: UInt8?) {
        self.decimal = decimal
        self.thousands = thousands
    }

    /// What one value says: its plain form, whether it has a decimal part, and whether it could as
    /// well be a whole number with a thousands separator (`1,234` with a decimal comma).
    public struct Reading: Sendable {
        public var plain: [UInt8]
        public var hasFraction: Bool
        public var couldBeGrouping: Bool
    }

    /// The value read in this format, or nil when it is not a number in it.
    public func read(_ p: UnsafePointer<UInt8>, _ n: Int) -> Reading? {
        guard let shape = measure(p, n) else { return nil }
        var plain = [UInt8](repeating: 0, count: n)
        let length = plain.withUnsafeMutableBufferPointer { write(p, n, to: $0.baseAddress!) }
        plain.removeLast(n - length)
        return Reading(plain: plain, hasFraction: shape.hasFraction, couldBeGrouping: shape.couldBeGrouping)
    }

    /// Writes the plain form over the value itself (it is never longer) and returns its length;
    /// nil, with the value untouched, when it is not a number in this format. No allocation.
    public func rewriteInPlace(_ p: UnsafeMutablePointer<UInt8>, _ n: Int) -> Int? {
        guard measure(p, n) != nil else { return nil }
        return write(p, n, to: p)
    }

    /// Checks the value: sign, digits in groups of three between thousands separators (the first
    /// group one to three), then the decimal separator and at least one digit.
    private func measure(_ p: UnsafePointer<UInt8>, _ n: Int) -> (hasFraction: Bool, couldBeGrouping: Bool)? {
        var i = 0
        if i < n && (p[i] == 45 || p[i] == 43) { i += 1 }
        var groupDigits = 0
        var groups = 0
        var intDigits = 0
        while i < n {
            let c = p[i]
            if ValueSyntax.isDigit(c) {
                groupDigits += 1
                intDigits += 1
            } else if let thousands, c == thousands {
                guard groups == 0 ? (1...3).contains(groupDigits) : groupDigits == 3 else { return nil }
                groups += 1
                groupDigits = 0
            } else {
                break
            }
            i += 1
        }
        guard intDigits > 0, groups == 0 || groupDigits == 3 else { return nil }
        var fractionDigits = 0
        if i < n && p[i] == decimal {
            i += 1
            while i < n && ValueSyntax.isDigit(p[i]) {
                i += 1
                fractionDigits += 1
            }
            guard fractionDigits > 0 else { return nil }
        }
        guard i == n else { return nil }
        return (fractionDigits > 0, groups == 0 && fractionDigits == 3 && intDigits <= 3)
    }

    /// The plain form of a value `measure` accepted: no `+`, no thousands separators, `.` for the
    /// decimal separator. `out` may be `p`: each byte is written at or before where it was read.
    private func write(_ p: UnsafePointer<UInt8>, _ n: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
        var length = 0
        for i in 0..<n {
            let c = p[i]
            if c == 43 || (thousands != nil && c == thousands!) { continue }
            out[length] = c == decimal ? 46 : c
            length += 1
        }
        return length
    }
}
