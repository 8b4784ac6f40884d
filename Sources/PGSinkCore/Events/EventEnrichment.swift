import Foundation

/// What RudderStack's gateway and processor do to an event before the warehouse sees it.
public enum EventEnrichment {
    /// The event types the warehouse takes.
    public static let eventTypes = ["track", "identify", "page", "screen", "group", "alias"]

    /// Validates and enriches one event of a request:
    /// - `type` from the path when given (single-event endpoints), replacing the body's;
    ///   an event whose type is missing or not one of `eventTypes` is refused here, not at load;
    /// - `anonymousId` or `userId` required ("request neither has anonymousId nor userId");
    /// - `messageId` trimmed, and a lower-case UUID when it is missing, empty or not a string;
    /// - `receivedAt` set to `receivedAt`; `request_ip` added when the event has none;
    /// - `originalTimestamp` and `sentAt` default to `receivedAt`; `timestamp`, when absent or not a
    ///   timestamp, is `receivedAt − (sentAt − originalTimestamp)` (clock-skew correction);
    /// - the four times rewritten as RFC 3339 in UTC with milliseconds.
    ///
    /// An item that is not an object: "event is not a valid rudder event". A `context` that is not an
    /// object is refused here too, where RudderStack would accept the event and fail it at load.
    public static func enrich(_ event: JSONValue, type: String?, receivedAt: Date, requestIP: String) throws
        -> JSONValue
    {
        try enrich(event, type: type, receivedAt: receivedAt, requestIP: requestIP, batchSentAt: nil)
    }

    /// As `enrich(_:type:receivedAt:requestIP:)`, with the `sentAt` of a `/v1/batch` body: Segment's SDKs
    /// stamp the batch, not each event, so an event without its own `sentAt` takes the batch's.
    public static func enrich(
        _ event: JSONValue, type: String?, receivedAt: Date, requestIP: String, batchSentAt: JSONValue?
    ) throws -> JSONValue {
        guard case .object = event else { throw EventRejection(reason: "event is not a valid rudder event") }
        var out = event
        if let type { out = out.setting("type", to: .string(type)) }

        let anonymousID = WarehouseTyping.text(out["anonymousId"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let userID = WarehouseTyping.text(out["userId"]).trimmingCharacters(in: .whitespacesAndNewlines)
        if anonymousID.isEmpty && userID.isEmpty {
            throw EventRejection(reason: "request neither has anonymousId nor userId")
        }
        try checkType(out["type"])
        if let context = out["context"], context != .null, context.members == nil { throw contextNotAnObject }

        out = out.setting("messageId", to: .string(messageID(out["messageId"])))
        if out["request_ip"] == nil { out = out.setting("request_ip", to: .string(requestIP)) }
        if out["sentAt"] == nil, let batchSentAt { out = out.setting("sentAt", to: batchSentAt) }
        return withTimeFields(out, receivedAt: EventTime(receivedAt))
    }

    /// The enriched events of one request body: the body itself for a single-event endpoint (`type` is
    /// the path's: `track`, `identify`, …), the items of `batch` for `/v1/batch` (`type` nil), which take
    /// the body's `sentAt` where they have none. One bad event refuses the whole request, as RudderStack
    /// does. Errors: "empty batch payload", "event is not a valid rudder event", and those of `enrich`.
    public static func events(inBody body: JSONValue, type: String?, receivedAt: Date, requestIP: String) throws
        -> [JSONValue]
    {
        guard body.members != nil else { throw EventRejection(reason: "event is not a valid rudder event") }
        if let type {
            return [try enrich(body, type: type, receivedAt: receivedAt, requestIP: requestIP)]
        }
        guard case .array(let items)? = body["batch"], !items.isEmpty else {
            throw EventRejection(reason: "empty batch payload")
        }
        let sentAt = body["sentAt"]
        return try items.map {
            try enrich($0, type: nil, receivedAt: receivedAt, requestIP: requestIP, batchSentAt: sentAt)
        }
    }

    /// A context that is not an object, which RudderStack accepts and then fails to load.
    static let contextNotAnObject = EventRejection(
        reason: "the event's context must be an object (RudderStack: context is not a map)")

    /// Refuses an event whose type the warehouse cannot take, naming the type.
    static func checkType(_ type: JSONValue?) throws {
        guard let type = type?.stringValue, !type.isEmpty else {
            throw EventRejection(reason: "event has no type; it must be one of \(eventTypes.joined(separator: ", "))")
        }
        guard eventTypes.contains(type.lowercased()) else {
            throw EventRejection(
                reason: "unknown event type \"\(type)\"; it must be one of \(eventTypes.joined(separator: ", "))")
        }
    }

    /// The event's messageId without surrounding spaces and control characters, or a new UUID.
    static func messageID(_ value: JSONValue?) -> String {
        let text = value?.stringValue ?? ""
        let cleaned = String(String.UnicodeScalarView(text.unicodeScalars.filter { !isInvisible($0) }))
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return cleaned.isEmpty ? UUID().uuidString.lowercased() : cleaned
    }

    /// Characters RudderStack's unicode sanitising removes: NUL, other controls but tab and newlines,
    /// and the replacement character of broken text.
    private static func isInvisible(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A, 0x0D: return false
        case 0x00...0x1F, 0x7F, 0xFFFD: return true
        default: return false
        }
    }

    /// RudderStack's processor step `enhanceWithTimeFields`.
    static func withTimeFields(_ event: JSONValue, receivedAt: EventTime) -> JSONValue {
        func parsed(_ key: String) -> EventTime? {
            event[key]?.stringValue.flatMap { EventTime.parse($0, rollOverDays: false) }
        }
        let originalTimestamp = parsed("originalTimestamp") ?? receivedAt
        let sentAt = parsed("sentAt") ?? receivedAt
        let timestamp = parsed("timestamp") ?? receivedAt - (sentAt - originalTimestamp)
        return
            event
            .setting("receivedAt", to: .string(receivedAt.rfc3339Milli))
            .setting("originalTimestamp", to: .string(originalTimestamp.rfc3339Milli))
            .setting("sentAt", to: .string(sentAt.rfc3339Milli))
            .setting("timestamp", to: .string(timestamp.rfc3339Milli))
    }
}
