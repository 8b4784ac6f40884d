import Foundation

/// When loads run: RudderStack's warehouse schedule (`warehouse/router/scheduling.go`), in UTC.
///
/// - Without `startAt`, a load is due `frequency` seconds after the last one.
/// - With `startAt`, the day is a grid of slots: `startAt`, then every `frequency` both ways, within
///   00:00–24:00 (so a frequency that does not divide the day leaves a shorter gap at midnight). A
///   load is due when the last one was before the latest slot that has begun: at most one per slot.
/// - With `cron`, a load is due when the expression has fired since the last one began: runs
///   missed while nothing ran (a stop, a long load) come as one, not one per missed time.
/// - `excludeWindow` holds every load while the current UTC minute is strictly inside it.
///
/// A pure value: the caller passes the clock and the time the last load began.
public struct SyncSchedule: Sendable, Equatable {
    /// Seconds between loads (more than 0; at most a day with `startAt`).
    public let frequency: Double
    public let startAt: TimeOfDay?
    public let excludeWindow: ExcludeWindow?
    /// Fire times instead of a frequency (`frequency` is then unused).
    public let cron: CronSchedule?

    static let day: Double = 86_400

    /// Every 10 seconds.
    public static let `default` = try! SyncSchedule(frequency: 10)

    public init(frequency: Double, startAt: TimeOfDay? = nil, excludeWindow: ExcludeWindow? = nil) throws(ScheduleError) {
        guard frequency.isFinite, frequency > 0 else {
            throw ScheduleError("must be more than 0 (got \(Self.text(frequency)))")
        }
        if let startAt, frequency > Self.day {
            throw ScheduleError(
                "must be at most 24h with a start time (\(startAt)), as the slots repeat every day (got \(Self.text(frequency)))")
        }
        self.frequency = frequency
        self.startAt = startAt
        self.excludeWindow = excludeWindow
        self.cron = nil
    }

    /// Loads at the times of a cron expression, held while inside `excludeWindow`.
    public init(cron: CronSchedule, excludeWindow: ExcludeWindow? = nil) {
        self.frequency = 60
        self.startAt = nil
        self.excludeWindow = excludeWindow
        self.cron = cron
    }

    /// Whether a load should begin at `now`; `lastLoad` is when the previous one began (nil: none yet).
    public func isDue(lastLoad: Date?, now: Date) -> Bool {
        if excludeWindow?.contains(now) == true { return false }
        if let cron {
            // Without a last load, the first one waits for the expression's next time.
            guard let lastLoad, let fire = cron.next(after: lastLoad) else { return false }
            return fire <= now
        }
        guard let lastLoad else { return true }
        if startAt != nil { return lastLoad < slot(atOrBefore: now) }
        return now.timeIntervalSince(lastLoad) >= frequency
    }

    /// The earliest time, `now` or later, at which `isDue` holds.
    /// With `cron` and no last load, the expression's next time after `now`.
    public func nextDue(lastLoad: Date?, now: Date) -> Date {
        var next = now
        if let cron {
            let fire = cron.next(after: lastLoad ?? now) ?? .distantFuture
            next = lastLoad == nil ? fire : max(now, fire)
        } else if let lastLoad {
            if startAt != nil {
                if lastLoad >= slot(atOrBefore: now) { next = slot(after: max(now, lastLoad)) }
            } else {
                next = max(now, lastLoad.addingTimeInterval(frequency))
            }
        }
        // The window's end minute is outside it, and the load is still due then.
        if let excludeWindow, excludeWindow.contains(next) { next = excludeWindow.end(after: next) }
        return next
    }

    /// The latest slot of the `startAt` grid at or before `date`.
    func slot(atOrBefore date: Date) -> Date {
        let (dayStart, second) = Self.split(date)
        let first = firstSlot
        if second >= first {
            return Date(timeIntervalSince1970: dayStart + first + ((second - first) / frequency).rounded(.down) * frequency)
        }
        return Date(timeIntervalSince1970: dayStart - Self.day + lastSlot)
    }

    /// The first slot of the `startAt` grid after `date`.
    func slot(after date: Date) -> Date {
        let (dayStart, second) = Self.split(date)
        let first = firstSlot
        if second < first { return Date(timeIntervalSince1970: dayStart + first) }
        let candidate = first + (((second - first) / frequency).rounded(.down) + 1) * frequency
        return Date(timeIntervalSince1970: dayStart + (candidate < Self.day ? candidate : Self.day + first))
    }

    /// Seconds after midnight of a day's earliest slot: `startAt` stepped back by `frequency` as far as the day goes.
    private var firstSlot: Double {
        (Double(startAt?.minutes ?? 0) * 60).truncatingRemainder(dividingBy: frequency)
    }

    /// Seconds after midnight of a day's latest slot.
    private var lastSlot: Double {
        let first = firstSlot
        let last = first + ((Self.day - first) / frequency).rounded(.down) * frequency
        return last < Self.day ? last : last - frequency
    }

    /// The start of the UTC day of `date` and the seconds since, both as Unix time.
    static func split(_ date: Date) -> (dayStart: Double, second: Double) {
        let time = date.timeIntervalSince1970
        let dayStart = (time / day).rounded(.down) * day
        return (dayStart, time - dayStart)
    }

    /// `90000` → `25h`, `90` → `90s`, as the flags and keys take durations.
    static func text(_ seconds: Double) -> String {
        guard seconds == seconds.rounded(), abs(seconds) < 1e15 else { return "\(seconds)s" }
        let whole = Int64(seconds)
        if whole != 0 && whole % 3600 == 0 { return "\(whole / 3600)h" }
        if whole != 0 && whole % 60 == 0 { return "\(whole / 60)m" }
        return "\(whole)s"
    }
}

/// A time of day in UTC, to the minute: `HH:MM`.
public struct TimeOfDay: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Minutes after midnight, 0 to 1439.
    public let minutes: Int

    public init(hour: Int, minute: Int) throws(ScheduleError) {
        guard (0..<24).contains(hour), (0..<60).contains(minute) else {
            throw ScheduleError("must be a UTC time of day from 00:00 to 23:59 (got \(hour):\(minute))")
        }
        minutes = hour * 60 + minute
    }

    /// `HH:MM` (or `H:MM`), 00:00 to 23:59.
    public init(parsing text: String) throws(ScheduleError) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ":", omittingEmptySubsequences: false)
        func digits(_ part: Substring, _ counts: ClosedRange<Int>) -> Int? {
            guard counts.contains(part.count), part.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(part)
        }
        guard parts.count == 2, let hour = digits(parts[0], 1...2), let minute = digits(parts[1], 2...2) else {
            throw ScheduleError("must be a UTC time of day as HH:MM, e.g. 02:30 (got \"\(text)\")")
        }
        guard hour < 24, minute < 60 else {
            throw ScheduleError("must be a UTC time of day from 00:00 to 23:59 (got \"\(text)\")")
        }
        minutes = hour * 60 + minute
    }

    public var description: String {
        let hour = minutes / 60, minute = minutes % 60
        return (hour < 10 ? "0" : "") + "\(hour):" + (minute < 10 ? "0" : "") + "\(minute)"
    }

    public static func < (a: TimeOfDay, b: TimeOfDay) -> Bool { a.minutes < b.minutes }
}

/// RudderStack's exclude window, `start`–`end` in UTC; it may cross midnight (22:00–06:00). A time
/// is inside while its minute is strictly between the two: at 22:00 and at 06:00 loads may run.
public struct ExcludeWindow: Sendable, Hashable, CustomStringConvertible {
    public let start: TimeOfDay
    public let end: TimeOfDay

    public init(start: TimeOfDay, end: TimeOfDay) throws(ScheduleError) {
        guard start != end else {
            throw ScheduleError("must end at another time than it starts (got \(start)-\(end))")
        }
        self.start = start
        self.end = end
    }

    /// `HH:MM-HH:MM`.
    public init(parsing text: String) throws(ScheduleError) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            throw ScheduleError("must be two UTC times of day as HH:MM-HH:MM, e.g. 22:00-06:00 (got \"\(text)\")")
        }
        try self.init(start: TimeOfDay(parsing: String(parts[0])), end: TimeOfDay(parsing: String(parts[1])))
    }

    public var crossesMidnight: Bool { start > end }

    /// Whether loads are held at `date`.
    public func contains(_ date: Date) -> Bool {
        let minute = Int(SyncSchedule.split(date).second / 60)
        if crossesMidnight { return minute > start.minutes || minute < end.minutes }
        return start.minutes < minute && minute < end.minutes
    }

    /// When the window holding `date` ends (`date` must be inside).
    func end(after date: Date) -> Date {
        let (dayStart, second) = SyncSchedule.split(date)
        let endOfToday = dayStart + Double(end.minutes) * 60
        let nextDay = crossesMidnight && Int(second / 60) > start.minutes
        return Date(timeIntervalSince1970: endOfToday + (nextDay ? SyncSchedule.day : 0))
    }

    public var description: String { "\(start)-\(end)" }
}

/// A schedule setting that cannot be used; the description says what it must be, without the
/// setting's name (the caller puts the flag or key in front).
public struct ScheduleError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
