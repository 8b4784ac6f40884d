/// The `jsonPaths` setting, as RudderStack matches it: a path's keys joined with `_` and its depth.
struct JSONPaths {
    /// `track.properties.a.b` → `track_properties_a_b`: 3.
    var keys: [String: Int] = [:]
    /// Paths without an event-type prefix (`a.b` → `a_b`: 1), matched only inside a track's
    /// `properties` and `userProperties` (and against `context_…` keys).
    var legacyKeys: [String: Int] = [:]

    static let typePrefixes = ["track.", "identify.", "page.", "screen.", "alias.", "group.", "extract."]

    init(_ paths: [String]) {
        for path in paths {
            let trimmed = path.trimmedWhitespace
            guard !trimmed.isEmpty else { continue }
            let parts = trimmed.split(separator: ".", omittingEmptySubsequences: false)
            let key = parts.joined(separator: "_")
            let lower = trimmed.lowercased()
            if Self.typePrefixes.contains(where: { lower.hasPrefix($0) }) {
                keys[key] = parts.count - 1
            } else {
                legacyKeys[key] = parts.count - 1
            }
        }
    }

    /// Whether `key` at `place` is a path to store whole.
    func contains(type: String, key: String, at place: EventRows.Prefix) -> Bool {
        if keys.isEmpty && legacyKeys.isEmpty { return false }
        if type == "track", let level = legacyKeys[place.prefix + key], level == place.level { return true }
        if let level = keys[place.complete + key], level == place.completeLevel { return true }
        return false
    }
}

extension EventRows {
    /// The settings with the event's own `integrations.POSTGRES.options` (`skipTracksTable`,
    /// `skipUsersTable`, `skipReservedKeywordsEscaping`) turned on where they are `true`.
    static func effectiveSettings(_ event: JSONValue, _ settings: WarehouseSettings) -> WarehouseSettings {
        var out = settings
        guard let options = event[path: ["integrations", "POSTGRES", "options"]], options.members != nil else {
            return out
        }
        if options["skipTracksTable"] == .bool(true) { out.skipTracksTable = true }
        if options["skipUsersTable"] == .bool(true) { out.skipUsersTable = true }
        if options["skipReservedKeywordsEscaping"] == .bool(true) { out.skipReservedKeywordsEscaping = true }
        return out
    }

    /// The event's own `jsonPaths`, from `integrations.DATA_WAREHOUSE.options` and `integrations.POSTGRES.options`.
    static func integrationJSONPaths(_ event: JSONValue) -> [String] {
        ["DATA_WAREHOUSE", "POSTGRES"].flatMap { destination -> [String] in
            guard case .array(let items)? = event[path: ["integrations", destination, "options", "jsonPaths"]] else {
                return []
            }
            return items.compactMap(\.stringValue)
        }
    }

    /// Whether the settings name a source or destination for the context.
    static func hasSourceInfo(_ settings: WarehouseSettings) -> Bool {
        !(settings.sourceID.isEmpty && settings.sourceType.isEmpty && settings.destinationID.isEmpty
            && settings.destinationType.isEmpty)
    }

    /// The event's context (an empty one when it has none) with the source and destination added.
    static func sourceContext(_ original: JSONValue, _ settings: WarehouseSettings) -> JSONValue {
        var context: JSONValue = original.members != nil ? original : .object([])
        let info = [
            ("sourceId", settings.sourceID), ("sourceType", settings.sourceType),
            ("destinationId", settings.destinationID), ("destinationType", settings.destinationType),
        ]
        for (key, value) in info where !value.isEmpty {
            context = context.setting(key, to: .string(value))
        }
        return context
    }

    func hasSourceInfo(_ settings: WarehouseSettings) -> Bool { Self.hasSourceInfo(settings) }
}
