import Foundation

/// RudderStack's warehouse transformer: the rows one enriched event becomes.
public enum WarehouseTransformer {
    /// RudderStack's `WH_MAX_COLUMNS_IN_EVENT`; PostgreSQL's own limit per table is the same.
    public static let maxColumns = 1600

    /// The rows one enriched event becomes:
    /// - track → `tracks` (unless `skipTracksTable`) and the per-event table (`event` snake_cased);
    /// - identify → `identifies` and `users` (unless `skipUsersTable` or the event has no `userId`;
    ///   `users.id` = userId, no `user_id` column);
    /// - page → `pages`, screen → `screens`, group → `groups`, alias → `aliases`.
    ///
    /// Every row has the rule columns (`id`, `anonymous_id`, `user_id`, the four times, `channel`,
    /// `context_ip`…), `context.*` flattened as `context_*`, `uuid_ts` set to `uuidTS`; properties and
    /// traits flattened without a prefix; arrays as JSON text; `jsonPaths` as `.json`; a key that maps
    /// to a rule column is dropped; `rudder_event` when `storeFullEvent`. More than 1600 columns in a
    /// row: "Too many columns outputted from the event".
    public static func rows(for event: JSONValue, settings: WarehouseSettings, uuidTS: String) throws -> [WarehouseRow]
    {
        guard event.members != nil else { throw EventRejection(reason: "event is not a valid rudder event") }
        try EventEnrichment.checkType(event["type"])
        let builder = try EventRows(event: event, settings: settings, uuidTS: uuidTS)
        return try builder.rows()
    }
}

/// One event's transformation, RudderStack's `transformEventContext`.
struct EventRows {
    typealias Columns = [String: WarehouseValue]

    let event: JSONValue
    let type: String
    let settings: WarehouseSettings
    let uuidTS: String
    /// The context with the source and destination added (flattened as `context_*`).
    let context: JSONValue
    let paths: JSONPaths
    let messageID: JSONValue
    let receivedAt: String
    let ruleColumns: Set<String>
    /// `uuid_ts` of every row.
    let uuidValue: WarehouseValue

    init(event: JSONValue, settings: WarehouseSettings, uuidTS: String) throws {
        self.event = event
        self.type = (event["type"]?.stringValue ?? "").lowercased()
        self.settings = Self.effectiveSettings(event, settings)
        self.ruleColumns = Self.ruleColumns(of: type)
        self.uuidTS = uuidTS
        self.uuidValue = .datetime(EventTime.datetime(uuidTS) ?? uuidTS)
        let original = event["context"] ?? .null
        if original != .null && original.members == nil { throw EventEnrichment.contextNotAnObject }
        self.context = Self.sourceContext(original, settings)
        self.paths = JSONPaths(self.settings.jsonPaths + Self.integrationJSONPaths(event))
        if let id = event["messageId"], !WarehouseTyping.isBlank(id) {
            self.messageID = id
        } else {
            self.messageID = .string("auto-" + UUID().uuidString.lowercased())
        }
        if let text = event["receivedAt"]?.stringValue, EventTime.datetime(text) != nil {
            self.receivedAt = text
        } else {
            self.receivedAt = uuidTS
        }
    }

    func rows() throws -> [WarehouseRow] {
        switch type {
        case "track": return try trackRows()
        case "identify": return try identifyRows()
        case "page": return [try simpleRow("pages", input: event["properties"], field: "properties", rules: nameRule)]
        case "screen":
            return [try simpleRow("screens", input: event["properties"], field: "properties", rules: nameRule)]
        case "group":
            return [
                try simpleRow(
                    "groups", input: event["traits"], field: "traits", rules: [("group_id", event["groupId"])])
            ]
        case "alias":
            return [
                try simpleRow(
                    "aliases", input: event["traits"], field: "traits", rules: [("previous_id", event["previousId"])])
            ]
        default: throw EventRejection(reason: "unknown event type \"\(type)\"")
        }
    }

    // MARK: Event types

    private func trackRows() throws -> [WarehouseRow] {
        var common = Columns(minimumCapacity: 64)
        flatten(context, into: &common, at: Prefix(complete: "track_context_", completeLevel: 2, prefix: "context_"))
        apply([("event_text", event["event"])], to: &common)
        apply(defaultRules, to: &common)
        let eventName: String
        switch common["event_text"] {
        case .string(let s)?, .datetime(let s)?: eventName = s
        default: eventName = ""
        }
        let transformed = WarehouseNames.transform(eventName, settings: settings)
        if !transformed.isEmpty { common["event"] = .string(transformed) }

        var rows: [WarehouseRow] = []
        if !settings.skipTracksTable {
            var tracks = common
            tracks["record_id"] = nil
            storeFullEvent(in: &tracks)
            rows.append(try finish("tracks", tracks))
        }
        if !transformed.trimmedWhitespace.isEmpty {
            var data = Columns(minimumCapacity: 64)
            flatten(event["properties"], into: &data, at: Prefix(complete: "track_properties_", completeLevel: 2))
            flatten(
                event["userProperties"], into: &data, at: Prefix(complete: "track_userProperties_", completeLevel: 2))
            apply([("id", messageID)], to: &common)
            data.merge(common) { _, commonValue in commonValue }
            rows.append(try finish(WarehouseNames.eventTable(transformed: transformed, settings: settings), data))
        }
        return rows
    }

    private func identifyRows() throws -> [WarehouseRow] {
        var common = Columns(minimumCapacity: 64)
        flatten(
            event["userProperties"], into: &common, at: Prefix(complete: "identify_userProperties_", completeLevel: 2))
        if settings.allowUsersContextTraits {
            flatten(
                event[path: ["context", "traits"]], into: &common,
                at: Prefix(complete: "identify_context_traits_", completeLevel: 3))
        }
        flatten(event["traits"], into: &common, at: Prefix(complete: "identify_traits_", completeLevel: 2))
        flatten(context, into: &common, at: Prefix(complete: "identify_context_", completeLevel: 2, prefix: "context_"))

        var identifies = common
        apply(defaultRules, to: &identifies)
        storeFullEvent(in: &identifies)
        var rows = [try finish("identifies", identifies)]

        let userID = event["userId"]
        if !settings.skipUsersTable && !WarehouseTyping.text(userID).trimmedWhitespace.isEmpty, let userID {
            var users = common
            apply(ipRules + timeRules, to: &users)
            users["id"] = WarehouseTyping.value(of: userID) ?? .string(userID.jsonText)
            users["received_at"] = EventTime.datetime(receivedAt).map(WarehouseValue.datetime) ?? .string(receivedAt)
            rows.append(try finish("users", users))
        }
        return rows
    }

    /// page, screen, group and alias: one row of the input's keys, the context and the rules.
    private func simpleRow(_ table: String, input: JSONValue?, field: String, rules: [(String, JSONValue?)]) throws
        -> WarehouseRow
    {
        var data = Columns(minimumCapacity: 64)
        flatten(input, into: &data, at: Prefix(complete: "\(type)_\(field)_", completeLevel: 2))
        flatten(context, into: &data, at: Prefix(complete: "\(type)_context_", completeLevel: 2, prefix: "context_"))
        apply(defaultRules, to: &data)
        apply(rules, to: &data)
        storeFullEvent(in: &data)
        return try finish(table, data)
    }

    // MARK: Rules

    private var defaultRules: [(String, JSONValue?)] {
        [
            ("id", messageID), ("anonymous_id", event["anonymousId"]), ("user_id", event["userId"]),
            ("received_at", .string(receivedAt)), ("channel", event["channel"]),
        ] + timeRules + ipRules
    }

    private var timeRules: [(String, JSONValue?)] {
        [
            ("sent_at", event["sentAt"]), ("timestamp", event["timestamp"]),
            ("original_timestamp", event["originalTimestamp"]),
        ]
    }

    private var ipRules: [(String, JSONValue?)] {
        let passed = event[path: ["context", "ip"]]
        let requestIP = event["request_ip"]
        return [
            ("context_ip", firstPresent(passed, requestIP)), ("context_request_ip", requestIP),
            ("context_passed_ip", passed),
        ]
    }

    private var nameRule: [(String, JSONValue?)] {
        [("name", firstPresent(event["name"], event[path: ["properties", "name"]]))]
    }

    private func firstPresent(_ values: JSONValue?...) -> JSONValue? {
        values.first(where: { $0.map { !WarehouseTyping.isBlank($0) } ?? false }) ?? nil
    }

    /// Sets each rule column, replacing what the flattened keys put there; blank values, objects and
    /// arrays leave the column out.
    private func apply(_ rules: [(String, JSONValue?)], to data: inout Columns) {
        for (column, value) in rules {
            let name = column  // no rule column is a reserved word, so it is its own safe name
            data[name] = nil
            guard let value, value.members == nil else { continue }
            if case .array = value { continue }
            data[name] = WarehouseTyping.value(of: value)
        }
    }

    /// The columns a rule sets for an event type; flattened keys of these names are dropped.
    static func ruleColumns(of type: String) -> Set<String> {
        ruleColumnsByType[type] ?? baseRuleColumns
    }

    private static let baseRuleColumns: Set<String> = [
        "id", "anonymous_id", "user_id", "sent_at", "timestamp", "received_at", "original_timestamp", "channel",
        "context_ip", "context_request_ip", "context_passed_ip",
    ]

    private static let ruleColumnsByType: [String: Set<String>] = [
        "track": baseRuleColumns.union(["event_text", "record_id"]),
        "page": baseRuleColumns.union(["name"]),
        "screen": baseRuleColumns.union(["name"]),
        "group": baseRuleColumns.union(["group_id"]),
        "alias": baseRuleColumns.union(["previous_id"]),
    ]

    private func storeFullEvent(in data: inout Columns) {
        guard settings.storeFullEvent else { return }
        let full = event["context"] == nil && !hasSourceInfo(settings) ? event : event.setting("context", to: context)
        data["rudder_event"] = .json(full.jsonText)
    }

    /// Sorts the columns, sets `uuid_ts` and enforces the column limit.
    private func finish(_ table: String, _ data: Columns) throws -> WarehouseRow {
        var data = data
        data["uuid_ts"] = uuidValue
        if data.count > WarehouseTransformer.maxColumns && WarehouseTyping.text(event["channel"]) != "sources" {
            throw EventRejection(reason: "Too many columns outputted from the event")
        }
        // Column names are ASCII, where String's order is byte order.
        let sorted = data.sorted { $0.key < $1.key }
        return WarehouseRow(table: table, columns: sorted.map { (name: $0.key, value: $0.value) })
    }
}

extension EventRows {
    /// Where a nested key sits: its column prefix, and its full path (`track_properties_…`) for `jsonPaths`.
    struct Prefix {
        var complete: String
        var completeLevel: Int
        var prefix = ""
        var level = 0

        func nested(_ key: String) -> Prefix {
            Prefix(
                complete: complete + key + "_", completeLevel: completeLevel + 1, prefix: prefix + key + "_",
                level: level + 1)
        }
    }

    /// Adds the keys of `input` (an object; anything else adds nothing) as columns, nested objects joined
    /// with `_`, keys in byte order, blank values skipped.
    func flatten(_ input: JSONValue?, into data: inout Columns, at place: Prefix) {
        guard let members = input?.members, !members.isEmpty else { return }
        if place.complete.hasSuffix("context_traits_") || place.complete == "group_traits_",
            let text = Self.stringLikeObject(members)
        {
            if place.prefix == "context_traits_" { add(place.prefix, .string(text), into: &data) }
            return
        }
        // String's order is code point order, which is UTF-8 byte order (RudderStack sorts bytes).
        // Of a key given twice, the last one counts.
        let order = members.indices.sorted { members[$0].key < members[$1].key || members[$0].key == members[$1].key && $0 < $1 }
        for (position, index) in order.enumerated() {
            let (key, value) = members[index]
            if position + 1 < order.count && members[order[position + 1]].key == key { continue }
            guard !WarehouseTyping.isBlank(value) else { continue }
            if paths.contains(type: type, key: key, at: place) {
                add(place.prefix + key, .json(value.jsonText), into: &data)
            } else if value.members != nil {
                flatten(value, into: &data, at: place.nested(key))
            } else if let typed = WarehouseTyping.value(of: value) {
                add(place.prefix + key, typed, into: &data)
            }
        }
    }

    /// Adds one column unless its name is empty or a rule column of this event type. An identify's
    /// `user_id` key becomes `_user_id`, as the reference describes.
    private func add(_ key: String, _ value: WarehouseValue, into data: inout Columns) {
        let column = WarehouseNames.column(key, settings: settings)
        guard !column.isEmpty else { return }
        if ruleColumns.contains(column) {
            if type == "identify" && column == "user_id" { data["_user_id"] = value }
            return
        }
        data[column] = value
    }

    /// RudderStack's "string-like object": `{"0":"a","1":"b"}` (keys 0… or 1… without gaps, one-byte
    /// strings), a string some SDKs spread into an object; its text, or nil for other objects.
    static func stringLikeObject(_ members: [(key: String, value: JSONValue)]) -> String? {
        var chars: [Int: String] = [:]
        for (key, value) in members {
            guard let index = Int(key), index >= 0, String(index) == key, let s = value.stringValue, s.utf8.count == 1
            else { return nil }
            chars[index] = s
        }
        guard let low = chars.keys.min(), let high = chars.keys.max(), low == 0 || low == 1,
            high - low + 1 == chars.count
        else { return nil }
        return (low...high).compactMap { chars[$0] }.joined()
    }
}
