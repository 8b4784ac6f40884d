import Foundation
import Testing

@testable import PGSinkCore

/// Cron expressions and a pipeline schedule's arithmetic (every, cron, start_at, an exclude
/// window across midnight, missed runs coalesced). 2026-12-03 is a Thursday.
@Suite("Cron schedule")
struct CronScheduleTests {
    static func at(_ time: String, day: Int = 0) -> Date { SyncScheduleTests.at(time, day: day) }

    static func cron(_ text: String) throws -> CronSchedule { try CronSchedule(parsing: text) }

    @Test(arguments: [
        ("0 * * * *", "10:17", 0, "11:00", 0),
        ("*/15 * * * *", "10:17", 0, "10:30", 0),
        ("*/15 * * * *", "10:45", 0, "11:00", 0),
        ("30 2 * * *", "10:00", 0, "02:30", 1),
        ("0 9-17/4 * * *", "13:00", 0, "17:00", 0),
        ("5,35 * * * *", "10:05", 0, "10:35", 0),
        ("0 0 * * mon", "10:00", 0, "00:00", 4),  // Thursday → Monday
        ("0 0 1 jan *", "10:00", 0, "00:00", 29),  // 2027-01-01
        ("@hourly", "23:59", 0, "00:00", 1),
        ("0 0 4 * thu", "10:00", 0, "00:00", 1),  // both day fields: either matches (the 4th, a Friday)
    ])
    func nextFireTime(expression: String, from: String, fromDay: Int, expected: String, expectedDay: Int) throws {
        #expect(try Self.cron(expression).next(after: Self.at(from, day: fromDay)) == Self.at(expected, day: expectedDay))
    }

    @Test func anImpossibleDateNeverFires() throws {
        #expect(try Self.cron("0 0 30 2 *").next(after: Self.at("00:00")) == nil)
    }

    @Test(arguments: [
        ("* * * *", "five fields"),
        ("60 * * * *", "from 0 to 59"),
        ("*/0 * * * *", "step"),
        ("10-5 * * * *", "ends before it starts"),
        ("0 0 * foo *", "a name"),
    ])
    func badExpressionsSayWhatIsWrong(expression: String, message: String) {
        #expect {
            try CronSchedule(parsing: expression)
        } throws: { error in
            "\(error)".contains(message)
        }
    }

    @Test func aCronScheduleIsDueOnceForAllTheTimesItMissed() throws {
        let schedule = SyncSchedule(cron: try Self.cron("*/15 * * * *"))
        let last = Self.at("10:00")
        #expect(!schedule.isDue(lastLoad: last, now: Self.at("10:14:59")))
        #expect(schedule.isDue(lastLoad: last, now: Self.at("10:15")))
        // Down for an hour: one run now, then the next quarter.
        #expect(schedule.isDue(lastLoad: last, now: Self.at("11:07")))
        #expect(schedule.nextDue(lastLoad: last, now: Self.at("11:07")) == Self.at("11:07"))
        #expect(!schedule.isDue(lastLoad: Self.at("11:07"), now: Self.at("11:10")))
        #expect(schedule.nextDue(lastLoad: Self.at("11:07"), now: Self.at("11:10")) == Self.at("11:15"))
        // Never ran: the first run waits for the expression's next time.
        #expect(!schedule.isDue(lastLoad: nil, now: Self.at("11:07")))
        #expect(schedule.nextDue(lastLoad: nil, now: Self.at("11:07")) == Self.at("11:15"))
    }

    @Test func anEveryScheduleCoalescesMissedRuns() throws {
        let schedule = try SyncSchedule(frequency: 900)
        let last = Self.at("10:00")
        // Three periods late: due now, and the next one a full period after this run.
        #expect(schedule.nextDue(lastLoad: last, now: Self.at("10:50")) == Self.at("10:50"))
        #expect(schedule.nextDue(lastLoad: Self.at("10:50"), now: Self.at("10:51")) == Self.at("11:05"))
    }

    @Test func anExcludeWindowAcrossMidnightHoldsCronRuns() throws {
        let schedule = SyncSchedule(cron: try Self.cron("0 * * * *"), excludeWindow: try ExcludeWindow(parsing: "22:00-02:00"))
        let last = Self.at("21:00")
        #expect(schedule.isDue(lastLoad: last, now: Self.at("22:00")))
        #expect(!schedule.isDue(lastLoad: Self.at("22:00"), now: Self.at("23:00")))
        #expect(!schedule.isDue(lastLoad: Self.at("22:00"), now: Self.at("01:00", day: 1)))
        #expect(schedule.nextDue(lastLoad: Self.at("22:00"), now: Self.at("22:30")) == Self.at("02:00", day: 1))
        #expect(schedule.isDue(lastLoad: Self.at("22:00"), now: Self.at("02:00", day: 1)))
    }

    @Test func startAtWithEveryKeepsItsGrid() throws {
        let schedule = try SyncSchedule(frequency: 3600, startAt: try TimeOfDay(parsing: "00:30"))
        #expect(schedule.nextDue(lastLoad: Self.at("10:31"), now: Self.at("10:45")) == Self.at("11:30"))
    }
}
