import Foundation
import Testing

@testable import PGSinkCore

@Suite("Sync schedule")
struct SyncScheduleTests {
    /// `HH:MM[:SS]` on 2026-12-03 (UTC), `day` days later.
    static func at(_ time: String, day: Int = 0) -> Date {
        let parts = time.split(separator: ":").map { Double($0)! }
        let seconds = parts[0] * 3600 + parts[1] * 60 + (parts.count > 2 ? parts[2] : 0)
        // 2026-12-03T00:00:00Z
        return Date(timeIntervalSince1970: 1_796_256_000 + Double(day) * 86_400 + seconds)
    }

    static func time(_ text: String) throws -> TimeOfDay { try TimeOfDay(parsing: text) }
    static func window(_ text: String) throws -> ExcludeWindow { try ExcludeWindow(parsing: text) }

    @Test func theReferenceDayIsRight() {
        #expect(ISO8601DateFormatter().string(from: Self.at("00:00")) == "2026-12-03T00:00:00Z")
    }

    @Test func withoutAStartTimeALoadIsDueAFrequencyAfterTheLastOne() throws {
        let schedule = try SyncSchedule(frequency: 60)
        let last = Self.at("10:00:00")
        #expect(schedule.isDue(lastLoad: nil, now: last))
        #expect(schedule.nextDue(lastLoad: nil, now: last) == last)
        #expect(!schedule.isDue(lastLoad: last, now: Self.at("10:00:59")))
        #expect(schedule.isDue(lastLoad: last, now: Self.at("10:01:00")))
        #expect(schedule.nextDue(lastLoad: last, now: Self.at("10:00:10")) == Self.at("10:01:00"))
        // Late: due at once.
        #expect(schedule.nextDue(lastLoad: last, now: Self.at("10:05:00")) == Self.at("10:05:00"))
        // Fractions of a second, as --sync-frequency 0.5s.
        let fast = try SyncSchedule(frequency: 0.5)
        #expect(!fast.isDue(lastLoad: last, now: last.addingTimeInterval(0.4)))
        #expect(fast.isDue(lastLoad: last, now: last.addingTimeInterval(0.5)))
    }

    @Test func anExcludeWindowHoldsLoadsWhileTheMinuteIsStrictlyInside() throws {
        let window = try Self.window("10:00-12:00")
        #expect(!window.crossesMidnight)
        #expect(!window.contains(Self.at("09:59:59")))
        #expect(!window.contains(Self.at("10:00:59")))  // the start minute is not inside
        #expect(window.contains(Self.at("10:01:00")))
        #expect(window.contains(Self.at("11:59:59")))
        #expect(!window.contains(Self.at("12:00:00")))  // nor is the end minute
        let schedule = try SyncSchedule(frequency: 60, excludeWindow: window)
        #expect(!schedule.isDue(lastLoad: nil, now: Self.at("10:30")))
        #expect(schedule.nextDue(lastLoad: Self.at("09:00"), now: Self.at("10:30")) == Self.at("12:00"))
        #expect(schedule.isDue(lastLoad: Self.at("09:00"), now: Self.at("12:00")))
        // A load that falls due inside the window waits for its end; in the start minute it still runs.
        #expect(schedule.nextDue(lastLoad: Self.at("10:00:30"), now: Self.at("10:00:40")) == Self.at("12:00"))
        #expect(schedule.nextDue(lastLoad: Self.at("09:59:30"), now: Self.at("09:59:40")) == Self.at("10:00:30"))
    }

    @Test func anExcludeWindowMayCrossMidnight() throws {
        let window = try Self.window("22:00-06:00")
        #expect(window.crossesMidnight)
        #expect(!window.contains(Self.at("21:59")))
        #expect(!window.contains(Self.at("22:00:30")))
        #expect(window.contains(Self.at("22:01")))
        #expect(window.contains(Self.at("23:59:59")))
        #expect(window.contains(Self.at("00:00")))
        #expect(window.contains(Self.at("05:59:59")))
        #expect(!window.contains(Self.at("06:00")))
        #expect(!window.contains(Self.at("12:00")))
        let schedule = try SyncSchedule(frequency: 3600, excludeWindow: window)
        // Before midnight the window ends the next morning; after midnight, the same morning.
        #expect(schedule.nextDue(lastLoad: Self.at("21:30"), now: Self.at("23:00")) == Self.at("06:00", day: 1))
        #expect(schedule.nextDue(lastLoad: Self.at("21:30"), now: Self.at("03:00", day: 1)) == Self.at("06:00", day: 1))
        #expect(schedule.isDue(lastLoad: Self.at("21:30"), now: Self.at("06:00", day: 1)))
    }

    @Test func aStartTimeLaysAGridOverTheDayBothWays() throws {
        // 13:30 every 6h: 01:30, 07:30, 13:30, 19:30.
        let schedule = try SyncSchedule(frequency: 6 * 3600, startAt: Self.time("13:30"))
        let slots = (0..<48).map { schedule.slot(atOrBefore: Self.at("\($0 / 2):\($0 % 2 * 30)")) }
        #expect(Set(slots) == Set(["01:30", "07:30", "13:30", "19:30"].map { Self.at($0) } + [Self.at("19:30", day: -1)]))
        #expect(schedule.slot(atOrBefore: Self.at("01:29")) == Self.at("19:30", day: -1))
        #expect(schedule.slot(atOrBefore: Self.at("01:30")) == Self.at("01:30"))
        #expect(schedule.slot(after: Self.at("01:30")) == Self.at("07:30"))
        #expect(schedule.slot(after: Self.at("20:00")) == Self.at("01:30", day: 1))
    }

    @Test func withAStartTimeThereIsAtMostOneLoadPerSlot() throws {
        let schedule = try SyncSchedule(frequency: 6 * 3600, startAt: Self.time("01:30"))
        // Loaded in the 07:30 slot: nothing until 13:30.
        #expect(!schedule.isDue(lastLoad: Self.at("07:31"), now: Self.at("13:29:59")))
        #expect(schedule.nextDue(lastLoad: Self.at("07:31"), now: Self.at("08:00")) == Self.at("13:30"))
        #expect(schedule.isDue(lastLoad: Self.at("07:31"), now: Self.at("13:30")))
        #expect(!schedule.isDue(lastLoad: Self.at("13:30"), now: Self.at("13:45")))
        // A missed slot is made up once, at once, not once per missed slot.
        #expect(schedule.isDue(lastLoad: Self.at("01:30"), now: Self.at("20:00")))
        #expect(!schedule.isDue(lastLoad: Self.at("20:00"), now: Self.at("20:01")))
        // Before the day's first slot, the latest slot is yesterday's last.
        #expect(!schedule.isDue(lastLoad: Self.at("19:35", day: -1), now: Self.at("00:10")))
        #expect(schedule.isDue(lastLoad: Self.at("19:00", day: -1), now: Self.at("00:10")))
        // No load yet: due now.
        #expect(schedule.isDue(lastLoad: nil, now: Self.at("00:10")))
    }

    @Test func aFrequencyThatDoesNotDivideTheDayStartsAgainAtTheStartTimeEachDay() throws {
        // 05:00 every 7h: 05:00, 12:00, 19:00 (05:00 − 7h is the day before: not a slot), then 05:00 again.
        let schedule = try SyncSchedule(frequency: 7 * 3600, startAt: Self.time("05:00"))
        #expect(schedule.slot(after: Self.at("05:00")) == Self.at("12:00"))
        #expect(schedule.slot(after: Self.at("19:00")) == Self.at("05:00", day: 1))
        #expect(schedule.slot(atOrBefore: Self.at("02:00")) == Self.at("19:00", day: -1))
        #expect(schedule.nextDue(lastLoad: Self.at("19:00"), now: Self.at("23:00")) == Self.at("05:00", day: 1))
        // 00:00 every 7h: 00:00, 07:00, 14:00, 21:00, and 3h later 00:00.
        let midnight = try SyncSchedule(frequency: 7 * 3600, startAt: Self.time("00:00"))
        #expect(midnight.nextDue(lastLoad: Self.at("21:00"), now: Self.at("21:05")) == Self.at("00:00", day: 1))
        #expect(!midnight.isDue(lastLoad: Self.at("21:00"), now: Self.at("23:59:59")))
        #expect(midnight.isDue(lastLoad: Self.at("21:00"), now: Self.at("00:00", day: 1)))
    }

    @Test func aSlotInsideTheExcludeWindowLoadsWhenTheWindowEnds() throws {
        let schedule = try SyncSchedule(frequency: 3600, startAt: Self.time("00:00"), excludeWindow: Self.window("09:30-11:15"))
        #expect(!schedule.isDue(lastLoad: Self.at("09:00"), now: Self.at("10:00")))
        #expect(schedule.nextDue(lastLoad: Self.at("09:00"), now: Self.at("10:00")) == Self.at("11:15"))
        #expect(schedule.isDue(lastLoad: Self.at("09:00"), now: Self.at("11:15")))
        #expect(schedule.nextDue(lastLoad: Self.at("11:15"), now: Self.at("11:15:01")) == Self.at("12:00"))
    }

    /// `nextDue` is exactly the first moment `isDue` holds, for every rule.
    @Test func nextDueAgreesWithIsDue() throws {
        let schedules = [
            try SyncSchedule(frequency: 600),
            try SyncSchedule(frequency: 600, excludeWindow: Self.window("23:10-00:20")),
            try SyncSchedule(frequency: 7 * 60, startAt: Self.time("00:03")),
            try SyncSchedule(frequency: 5 * 3600, startAt: Self.time("22:45"), excludeWindow: Self.window("01:00-03:00")),
        ]
        for schedule in schedules {
            for last in stride(from: 0.0, to: 86_400, by: 3_701) {
                let lastLoad = Self.at("00:00").addingTimeInterval(last)
                for ahead in stride(from: 0.0, to: 30_000, by: 1_237) {
                    let now = lastLoad.addingTimeInterval(ahead)
                    let next = schedule.nextDue(lastLoad: lastLoad, now: now)
                    #expect(next >= now)
                    #expect(schedule.isDue(lastLoad: lastLoad, now: next), "\(schedule) \(lastLoad) \(now) → \(next)")
                    #expect(schedule.isDue(lastLoad: lastLoad, now: now) == (next == now), "\(schedule) \(lastLoad) \(now)")
                    if next > now {
                        #expect(!schedule.isDue(lastLoad: lastLoad, now: next.addingTimeInterval(-1)))
                    }
                }
            }
        }
    }

    @Test(arguments: [("02:30", 150), ("7:05", 425), ("00:00", 0), ("23:59", 1439), (" 12:00 ", 720)])
    func timesOfDayAreRead(_ text: String, _ minutes: Int) throws {
        #expect(try Self.time(text).minutes == minutes)
    }

    @Test func timesOfDayPrintAsHHMM() throws {
        #expect(try Self.time("7:05").description == "07:05")
        #expect(try Self.window("22:00-6:00").description == "22:00-06:00")
    }

    @Test(arguments: [
        ("25:00", "must be a UTC time of day from 00:00 to 23:59 (got \"25:00\")"),
        ("24:00", "must be a UTC time of day from 00:00 to 23:59 (got \"24:00\")"),
        ("12:60", "must be a UTC time of day from 00:00 to 23:59 (got \"12:60\")"),
        ("7:5x", "must be a UTC time of day as HH:MM, e.g. 02:30 (got \"7:5x\")"),
        ("7:5", "must be a UTC time of day as HH:MM, e.g. 02:30 (got \"7:5\")"),
        ("0700", "must be a UTC time of day as HH:MM, e.g. 02:30 (got \"0700\")"),
        ("", "must be a UTC time of day as HH:MM, e.g. 02:30 (got \"\")"),
        ("-1:00", "must be a UTC time of day as HH:MM, e.g. 02:30 (got \"-1:00\")"),
    ])
    func badTimesOfDayAreRefused(_ text: String, _ message: String) {
        #expect(throws: ScheduleError(message)) { try TimeOfDay(parsing: text) }
    }

    @Test func badWindowsAreRefused() {
        #expect(throws: ScheduleError("must be two UTC times of day as HH:MM-HH:MM, e.g. 22:00-06:00 (got \"22:00\")")) {
            try ExcludeWindow(parsing: "22:00")
        }
        #expect(throws: ScheduleError("must be a UTC time of day as HH:MM, e.g. 02:30 (got \"7:5x\")")) {
            try ExcludeWindow(parsing: "22:00-7:5x")
        }
        #expect(throws: ScheduleError("must end at another time than it starts (got 06:00-06:00)")) {
            try ExcludeWindow(parsing: "06:00-6:00")
        }
    }

    @Test func badFrequenciesAreRefused() throws {
        #expect(throws: ScheduleError("must be more than 0 (got 0s)")) { try SyncSchedule(frequency: 0) }
        #expect(throws: ScheduleError("must be more than 0 (got -5s)")) { try SyncSchedule(frequency: -5) }
        #expect(throws: ScheduleError.self) { try SyncSchedule(frequency: .infinity) }
        #expect(throws: ScheduleError(
            "must be at most 24h with a start time (02:00), as the slots repeat every day (got 25h)"
        )) { try SyncSchedule(frequency: 25 * 3600, startAt: Self.time("02:00")) }
        // Without a start time any frequency goes.
        #expect(try SyncSchedule(frequency: 25 * 3600).frequency == 90_000)
    }
}
