import Foundation

/// A five-field cron expression (`minute hour day-of-month month day-of-week`), in UTC.
///
/// Fields take `*`, numbers, ranges (`1-5`), steps (`*/15`, `0-30/10`), lists (`1,15`) and the
/// names of months and weekdays (`jan`, `mon`); `@hourly`, `@daily`, `@weekly`, `@monthly` and
/// `@yearly` stand for their usual expressions. As in Vixie cron, when both day fields are
/// restricted a day matches either of them. A pure value: the caller passes the clock.
public struct CronSchedule: Sendable, Equatable, CustomStringConvertible {
    public let minutes: Set<Int>
    public let hours: Set<Int>
    public let days: Set<Int>
    public let months: Set<Int>
    /// 0 (Sunday) to 6; 7 is read as Sunday too.
    public let weekdays: Set<Int>
    private let daysRestricted: Bool
    private let weekdaysRestricted: Bool
    /// The expression as written.
    public let description: String

    static let macros = [
        "@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
        "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *",
    ]
    static let monthNames = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    static let weekdayNames = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    public init(parsing text: String) throws(ScheduleError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let expression = Self.macros[trimmed.lowercased()] ?? trimmed
        let fields = expression.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard fields.count == 5 else {
            throw ScheduleError(
                "must be a cron expression of five fields (minute hour day-of-month month day-of-week), e.g. \"0 * * * *\" "
                    + "(got \"\(text)\")")
        }
        minutes = try Self.field(fields[0], "minute", 0...59, names: [], base: 0)
        hours = try Self.field(fields[1], "hour", 0...23, names: [], base: 0)
        days = try Self.field(fields[2], "day of month", 1...31, names: [], base: 1)
        months = try Self.field(fields[3], "month", 1...12, names: Self.monthNames, base: 1)
        let weekdays = try Self.field(fields[4], "day of week", 0...7, names: Self.weekdayNames, base: 0)
        self.weekdays = Set(weekdays.map { $0 % 7 })
        daysRestricted = !fields[2].hasPrefix("*")
        weekdaysRestricted = !fields[4].hasPrefix("*")
        description = trimmed
    }

    /// One field: a list of `*`, `n`, `a-b`, each with an optional `/step`.
    private static func field(_ text: String, _ what: String, _ range: ClosedRange<Int>, names: [String], base: Int)
        throws(ScheduleError) -> Set<Int>
    {
        func value(_ part: Substring) throws(ScheduleError) -> Int {
            if let number = Int(part), range.contains(number) { return number }
            if let index = names.firstIndex(of: part.lowercased()) { return index + base }
            throw ScheduleError(
                "has \"\(part)\" as its \(what); it must be from \(range.lowerBound) to \(range.upperBound)"
                    + (names.isEmpty ? "" : " or a name (\(names.prefix(3).joined(separator: ", ")), …)"))
        }
        var result = Set<Int>()
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let pieces = item.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2, !pieces[0].isEmpty else {
                throw ScheduleError("has \"\(item)\" as its \(what); write *, a number, a range a-b, or a step */n")
            }
            var step = 1
            if pieces.count == 2 {
                guard let number = Int(pieces[1]), number > 0 else {
                    throw ScheduleError("has the step \"\(pieces[1])\" in its \(what); a step is a whole number above 0")
                }
                step = number
            }
            var low = range.lowerBound, high = range.upperBound
            if pieces[0] != "*" {
                let bounds = pieces[0].split(separator: "-", omittingEmptySubsequences: false)
                guard bounds.count <= 2 else { throw ScheduleError("has \"\(item)\" as its \(what); a range is a-b") }
                low = try value(bounds[0])
                high = bounds.count == 2 ? try value(bounds[1]) : (pieces.count == 2 ? range.upperBound : low)
                guard low <= high else {
                    throw ScheduleError("has the range \(pieces[0]) in its \(what), which ends before it starts")
                }
            }
            result.formUnion(stride(from: low, through: high, by: step))
        }
        return result
    }

    /// Whether a UTC day (month 1–12, day 1–31, weekday 0–6) is one the expression runs on.
    func matches(month: Int, day: Int, weekday: Int) -> Bool {
        guard months.contains(month) else { return false }
        if daysRestricted && weekdaysRestricted { return days.contains(day) || weekdays.contains(weekday) }
        return days.contains(day) && weekdays.contains(weekday)
    }

    /// The first time strictly after `date` (to the minute) at which the expression fires; nil
    /// when none comes within eight years (`0 0 30 2 *`).
    public func next(after date: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        // The next whole minute after `date`.
        let start = ((date.timeIntervalSince1970 / 60).rounded(.down) + 1) * 60
        let (dayStart, second) = SyncSchedule.split(Date(timeIntervalSince1970: start))
        var firstMinute = Int(second / 60)
        var day = Date(timeIntervalSince1970: dayStart)
        let sortedHours = hours.sorted(), sortedMinutes = minutes.sorted()
        for _ in 0..<(366 * 8) {
            let parts = calendar.dateComponents([.month, .day, .weekday], from: day)
            if matches(month: parts.month!, day: parts.day!, weekday: parts.weekday! - 1) {
                for hour in sortedHours where hour * 60 + 59 >= firstMinute {
                    for minute in sortedMinutes where hour * 60 + minute >= firstMinute {
                        return day.addingTimeInterval(Double(hour * 3600 + minute * 60))
                    }
                }
            }
            day = day.addingTimeInterval(SyncSchedule.day)
            firstMinute = 0
        }
        return nil
    }
}
