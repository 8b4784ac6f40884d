import Foundation
import Testing

@testable import PGSinkCore

@Suite("Event enrichment")
struct EventEnrichmentTests {
    /// 2023-11-14T22:13:20.123Z
    let receivedAt = Date(timeIntervalSince1970: 1_700_000_000.123)

    func enrich(_ json: String, type: String? = nil, ip: String = "10.0.0.1") throws -> JSONValue {
        try EventEnrichment.enrich(JSONValue.parse(json), type: type, receivedAt: receivedAt, requestIP: ip)
    }

    func rejection(_ json: String, type: String? = nil) -> String? {
        do {
            _ = try enrich(json, type: type)
            return nil
        } catch let error as EventRejection {
            return error.reason
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test func addsReceivedAtRequestIPAndTimes() throws {
        let event = try enrich(#"{"type":"track","event":"A","userId":"u1","messageId":"m1"}"#)
        #expect(event["receivedAt"] == .string("2023-11-14T22:13:20.123Z"))
        #expect(event["originalTimestamp"] == .string("2023-11-14T22:13:20.123Z"))
        #expect(event["sentAt"] == .string("2023-11-14T22:13:20.123Z"))
        #expect(event["timestamp"] == .string("2023-11-14T22:13:20.123Z"))
        #expect(event["request_ip"] == .string("10.0.0.1"))
        #expect(event["messageId"] == .string("m1"))
        guard case .object(let members) = event else { return }
        #expect(
            members.map(\.key) == [
                "type", "event", "userId", "messageId", "request_ip", "receivedAt", "originalTimestamp", "sentAt",
                "timestamp",
            ])
    }

    @Test func clockSkewIsCorrected() throws {
        // The client's clock is 5 s ahead: it stamped the event at 15.5 and sent it at 25.0.
        let event = try enrich(
            #"{"type":"track","userId":"u1","originalTimestamp":"2023-11-14T22:13:15.500Z","sentAt":"2023-11-14T22:13:25Z"}"#
        )
        #expect(event["timestamp"] == .string("2023-11-14T22:13:10.623Z"))
        #expect(event["originalTimestamp"] == .string("2023-11-14T22:13:15.500Z"))
        #expect(event["sentAt"] == .string("2023-11-14T22:13:25.000Z"))
    }

    @Test func aBatchSentAtServesEventsWithoutTheirOwn() throws {
        let body = #"{"type":"track","userId":"u1","originalTimestamp":"2023-11-14T22:13:15.500Z"}"#
        let batchSentAt = JSONValue.string("2023-11-14T22:13:25Z")
        let event = try EventEnrichment.enrich(
            JSONValue.parse(body), type: nil, receivedAt: receivedAt, requestIP: "x", batchSentAt: batchSentAt)
        #expect(event["sentAt"] == .string("2023-11-14T22:13:25.000Z"))
        #expect(event["timestamp"] == .string("2023-11-14T22:13:10.623Z"))
        let own = #"{"type":"track","userId":"u1","sentAt":"2023-11-14T22:13:15.500Z"}"#
        let kept = try EventEnrichment.enrich(
            JSONValue.parse(own), type: nil, receivedAt: receivedAt, requestIP: "x", batchSentAt: batchSentAt)
        #expect(kept["sentAt"] == .string("2023-11-14T22:13:15.500Z"))
    }

    @Test func onlyAnOriginalTimestampGivesItBack() throws {
        let event = try enrich(#"{"type":"track","userId":"u1","originalTimestamp":"2023-11-14T20:00:00+01:00"}"#)
        #expect(event["timestamp"] == .string("2023-11-14T19:00:00.000Z"))
        #expect(event["sentAt"] == .string("2023-11-14T22:13:20.123Z"))
    }

    @Test func aGivenTimestampIsKeptInUTC() throws {
        let event = try enrich(
            #"{"type":"track","userId":"u1","timestamp":"2023-11-14T23:00:00.5+02:00","sentAt":"2023-11-14T22:13:25Z"}"#
        )
        #expect(event["timestamp"] == .string("2023-11-14T21:00:00.500Z"))
    }

    @Test func unreadableTimesAreTreatedAsAbsent() throws {
        let event = try enrich(
            #"{"type":"track","userId":"u1","timestamp":"yesterday","sentAt":42,"originalTimestamp":"2023-02-30T00:00:00Z"}"#
        )
        #expect(event["timestamp"] == .string("2023-11-14T22:13:20.123Z"))
        #expect(event["sentAt"] == .string("2023-11-14T22:13:20.123Z"))
        #expect(event["originalTimestamp"] == .string("2023-11-14T22:13:20.123Z"))
    }

    @Test func receivedAtIsTheServers() throws {
        let event = try enrich(#"{"type":"track","userId":"u1","receivedAt":"2000-01-01T00:00:00Z"}"#)
        #expect(event["receivedAt"] == .string("2023-11-14T22:13:20.123Z"))
    }

    @Test func aClientRequestIPIsKept() throws {
        let event = try enrich(#"{"type":"track","userId":"u1","request_ip":"1.2.3.4"}"#)
        #expect(event["request_ip"] == .string("1.2.3.4"))
    }

    @Test func typeComesFromThePath() throws {
        #expect(try enrich(#"{"type":"page","userId":"u1"}"#, type: "track")["type"] == .string("track"))
        #expect(try enrich(#"{"userId":"u1"}"#, type: "identify")["type"] == .string("identify"))
        #expect(try enrich(#"{"type":"Track","userId":"u1"}"#)["type"] == .string("Track"))
    }

    @Test func messageIDIsTrimmedOrGenerated() throws {
        #expect(
            try enrich(#"{"type":"track","userId":"u1","messageId":"  abc \u0000 "}"#)["messageId"] == .string("abc"))
        for body in [
            #"{"type":"track","userId":"u1"}"#, #"{"type":"track","userId":"u1","messageId":"   "}"#,
            #"{"type":"track","userId":"u1","messageId":123}"#,
        ] {
            let id = try enrich(body)["messageId"]?.stringValue ?? ""
            #expect(UUID(uuidString: id) != nil, "\(body) → \(id)")
            #expect(id == id.lowercased())
        }
        let first = try enrich(#"{"type":"track","userId":"u1"}"#)["messageId"]
        let second = try enrich(#"{"type":"track","userId":"u1"}"#)["messageId"]
        #expect(first != second)
    }

    @Test func identitiesAreRequired() {
        let reason = "request neither has anonymousId nor userId"
        #expect(rejection(#"{"type":"track"}"#) == reason)
        #expect(rejection(#"{"type":"track","userId":"  ","anonymousId":""}"#) == reason)
        #expect(rejection(#"{"type":"track","userId":null}"#) == reason)
        #expect(rejection(#"{"type":"track","userId":0}"#) == nil)
        #expect(rejection(#"{"type":"track","anonymousId":"a1"}"#) == nil)
    }

    @Test func itemsMustBeObjects() {
        for body in ["[]", "\"track\"", "1", "null"] {
            #expect(rejection(body) == "event is not a valid rudder event")
        }
    }

    @Test func requestBodies() throws {
        func events(_ body: String, type: String? = nil) throws -> [JSONValue] {
            try EventEnrichment.events(
                inBody: JSONValue.parse(body), type: type, receivedAt: receivedAt, requestIP: "ip")
        }
        let single = try events(#"{"userId":"u1","event":"A"}"#, type: "track")
        #expect(single.count == 1)
        #expect(single.first?["type"] == .string("track"))
        let batch = try events(
            #"{"batch":[{"type":"track","userId":"u1"},{"type":"page","anonymousId":"a1","sentAt":"2023-11-14T22:13:21Z"}],"#
                + #""sentAt":"2023-11-14T22:13:25Z"}"#)
        #expect(batch.map { $0["type"] } == [.string("track"), .string("page")])
        #expect(
            batch.map { $0["sentAt"] } == [.string("2023-11-14T22:13:25.000Z"), .string("2023-11-14T22:13:21.000Z")])
        func reason(_ body: String, type: String? = nil) -> String? {
            do {
                _ = try events(body, type: type)
                return nil
            } catch {
                return (error as? EventRejection)?.reason ?? "\(error)"
            }
        }
        #expect(reason(#"{"batch":[]}"#) == "empty batch payload")
        #expect(reason(#"{"userId":"u1"}"#) == "empty batch payload")
        #expect(reason(#"{"batch":[{"type":"track","userId":"u1"},7]}"#) == "event is not a valid rudder event")
        #expect(reason(#"{"batch":[{"type":"track"}]}"#) == "request neither has anonymousId nor userId")
        #expect(reason("[]", type: "track") == "event is not a valid rudder event")
    }

    @Test func contextMustBeAnObject() {
        #expect(
            rejection(#"{"type":"track","userId":"u1","context":[1]}"#)
                == "the event's context must be an object (RudderStack: context is not a map)")
        #expect(rejection(#"{"type":"track","userId":"u1","context":null}"#) == nil)
    }

    @Test func typesMustBeKnown() {
        let expected = "track, identify, page, screen, group, alias"
        #expect(rejection(#"{"userId":"u1"}"#) == "event has no type; it must be one of \(expected)")
        #expect(
            rejection(#"{"type":"purchase","userId":"u1"}"#)
                == "unknown event type \"purchase\"; it must be one of \(expected)")
        #expect(
            rejection(#"{"userId":"u1"}"#, type: "merge")
                == "unknown event type \"merge\"; it must be one of \(expected)")
    }
}

@Suite("Event times")
struct EventTimeTests {
    @Test(arguments: [
        ("2020-01-24T11:59:02.403+05:30", "2020-01-24T06:29:02.403Z"),
        ("2021-09-01", "2021-09-01T00:00:00.000Z"),
        ("2021-09-01T10:20", "2021-09-01T10:20:00.000Z"),
        ("2021-09-01 10:20:30.123456789Z", "2021-09-01T10:20:30.123Z"),
        ("2021-09-01T10:20:30-0700", "2021-09-01T17:20:30.000Z"),
        ("2021-09-01T10:20:30+05", "2021-09-01T05:20:30.000Z"),
        ("2021-09-01T10:20:30.9999z", "2021-09-01T10:20:30.999Z"),
        ("1988-04-31", "1988-05-01T00:00:00.000Z"),
        ("2021-02-30T10:00:00Z", "2021-03-02T00:00:00.000Z"),
        ("2024-02-29T12:00:00Z", "2024-02-29T12:00:00.000Z"),
        ("1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000Z"),
        ("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z"),
        // RudderStack's own cases (utils_test.go, TestToTimestamp)
        ("2021-06-01T00:00:00.000+00:00", "2021-06-01T00:00:00.000Z"),
        ("2021-06-01 00:00:00", "2021-06-01T00:00:00.000Z"),
        ("2025-04-02T01:09:03", "2025-04-02T01:09:03.000Z"),
        ("2025-04-02 01:09:03.000+0530", "2025-04-01T19:39:03.000Z"),
        ("2025-04-02 01:09:03.714247+00:00", "2025-04-02T01:09:03.714Z"),
        ("2025-04-02T01:09:03.000+1000", "2025-04-01T15:09:03.000Z"),
        ("2025-04-02 01:09:03+00:00", "2025-04-02T01:09:03.000Z"),
    ])
    func datetimes(_ text: String, _ expected: String) {
        #expect(EventTime.datetime(text) == expected)
    }

    @Test(arguments: [
        "2021-13-01", "2021-00-10", "2021-1-1", "2021-01-01T", "2021-01-01T25:00", "2021-01-01T10:00:60",
        "21-01-01", "2021-01-01T10:00:00.Z", "1580000000", "hello", "2021-01-01T10:00:00+24:00", "+2021-01-01",
        "2021-01-01T10:00:00.1234567890Z", "0000-06-01", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59.999-01:00",
        "2021-01-01T10:00:00 ", "2021-02-30T10:00:00Zx", "",
        "invalid-timestamp", "23-05-2024T10:00:00Z", "2024-05-23T25:00:00Z", "05:23:59.244Z",
        "-2023-06-14T05:23:59.244Z",
    ])
    func notDatetimes(_ text: String) {
        #expect(EventTime.datetime(text) == nil)
    }

    @Test func rollOverIsOptional() {
        #expect(EventTime.parse("2021-02-30", rollOverDays: false) == nil)
        #expect(EventTime.parse("2021-02-28", rollOverDays: false) != nil)
    }

    @Test func civilDatesRoundTrip() {
        for days: Int64 in [-719_162, -1, 0, 1, 11_016, 19_675, 2_932_896] {
            let (y, m, d) = EventTime.civil(fromDays: days)
            #expect(EventTime.days(year: y, month: m, day: d) == days)
        }
    }
}
