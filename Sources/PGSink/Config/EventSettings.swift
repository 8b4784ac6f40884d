import Foundation
import PGSinkCore

/// The `events` section of a config file: `pgsink serve`'s settings, one key per flag (flags win).
/// RudderStack's own spellings of its destination settings are read too (`syncFrequency` in
/// minutes, `syncStartAt`, `excludeWindow`, `preferAppend`, `skipUsersTable`, …), so a
/// destination's config can be pasted in. Keys are documented in docs/configuration.md.
public struct EventSettings: Settings, Equatable {
    public var listen: String?
    public var writeKeys: WriteKeys?
    public var namespace: String?
    public var schema: String?
    public var sync: SyncSection?
    /// RudderStack's `syncFrequency`: minutes.
    public var syncFrequencyMinutes: Int?
    public var syncStartAt: TimeOfDay?
    public var rudderExcludeWindow: RudderExcludeWindow?
    public var append: Bool?
    public var skipUsersTable: Bool?
    public var skipTracksTable: Bool?
    public var jsonPaths: ColumnList?
    public var storeFullEvent: Bool?
    public var maxBacklog: Int?

    public init() {}

    public static let options: [ConfigOption<EventSettings>] = [
        ConfigOption(\.listen, "listen", default: "127.0.0.1:8080", check: Check("must be host:port, e.g. 127.0.0.1:8080") {
            EventSettings.address($0) != nil
        }),
        ConfigOption(\.writeKeys, "write_keys", aliases: ["writeKeys"]),
        ConfigOption(\.namespace, "namespace"),
        ConfigOption(\.schema, "schema"),
        ConfigOption(\.sync, "sync"),
        ConfigOption(
            \.syncFrequencyMinutes, "syncFrequency", check: Check("must be a whole number of minutes, 1 or more") { $0 > 0 }),
        ConfigOption(\.syncStartAt, "syncStartAt"),
        ConfigOption(\.rudderExcludeWindow, "excludeWindow"),
        ConfigOption(\.append, "append", aliases: ["preferAppend"], default: true),
        ConfigOption(\.skipUsersTable, "skip_users_table", aliases: ["skipUsersTable"], default: false),
        ConfigOption(\.skipTracksTable, "skip_tracks_table", aliases: ["skipTracksTable"], default: false),
        ConfigOption(\.jsonPaths, "json_paths", aliases: ["jsonPaths"], default: ColumnList([])),
        ConfigOption(\.storeFullEvent, "store_full_event", aliases: ["storeFullEvent"], default: false),
        ConfigOption(\.maxBacklog, "max_backlog", default: 2_000_000, check: .positive),
    ]

    public init(from decoder: any Decoder) throws {
        try decodeOptions(from: decoder)
        let container = try decoder.container(keyedBy: SettingKey.self)
        func twice(_ rudder: String, _ ours: String) -> DecodingError {
            .dataCorrupted(DecodingError.Context(
                codingPath: container.codingPath + [SettingKey(rudder)],
                debugDescription: "is also given as \(ours); keep one of them"))
        }
        if syncFrequencyMinutes != nil && sync?.frequency != nil { throw twice("syncFrequency", "sync.frequency") }
        if syncStartAt != nil && sync?.startAt != nil { throw twice("syncStartAt", "sync.start_at") }
        if rudderExcludeWindow != nil && sync?.excludeWindow != nil { throw twice("excludeWindow", "sync.exclude_window") }
    }

    public func encode(to encoder: any Encoder) throws { try encodeOptions(to: encoder) }

    /// Reads an `events` section; `place` is what errors start with (`pgsink.yaml: events`).
    /// RudderStack leaves unset schedule settings as empty strings; those count as not given.
    public init(fields: [String: Any], where place: String) throws {
        var fields = fields
        for key in ["syncFrequency", "syncStartAt"] where (fields[key] as? String)?.isEmpty == true {
            fields.removeValue(forKey: key)
        }
        if let window = fields["excludeWindow"] as? [String: Any],
            window.values.allSatisfy({ ($0 as? String)?.isEmpty == true })
        {
            fields.removeValue(forKey: "excludeWindow")
        }
        if let (key, near) = Self.unknownKeys(in: fields).first {
            throw ConnectionError("\(place): unknown key \"\(key)\" (did you mean \"\(near)\"?); see docs/configuration.md")
        }
        self = try Self.decode(fields) { "\(place).\($0)" }
    }

    /// The sync frequency, in either spelling.
    public var frequency: Seconds? {
        sync?.frequency ?? syncFrequencyMinutes.map { Seconds(Double($0) * 60) }
    }

    public var startAt: TimeOfDay? { sync?.startAt ?? syncStartAt }

    public var excludeWindow: ExcludeWindow? { sync?.excludeWindow?.window ?? rudderExcludeWindow?.window }

    /// The sync keys as a schedule; nil when none is given.
    public func syncSchedule() throws(ScheduleError) -> SyncSchedule? {
        guard frequency != nil || startAt != nil || excludeWindow != nil else { return nil }
        return try SyncSchedule(
            frequency: frequency?.seconds ?? SyncSchedule.default.frequency, startAt: startAt, excludeWindow: excludeWindow)
    }

    /// `host:port` (an empty host is 127.0.0.1; port 0 picks a free one).
    public static func address(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port)
        else { return nil }
        let host = String(text[..<colon])
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }
}

/// `sync:` — when loads run (`SyncSchedule`).
public struct SyncSection: Settings, Equatable {
    public var frequency: Seconds?
    public var startAt: TimeOfDay?
    public var excludeWindow: WindowSetting?

    public init() {}

    public static let options: [ConfigOption<SyncSection>] = [
        ConfigOption(\.frequency, "frequency", check: .positive),
        ConfigOption(\.startAt, "start_at"),
        ConfigOption(\.excludeWindow, "exclude_window"),
    ]

    public init(from decoder: any Decoder) throws {
        try refuseUnknownKeys(in: decoder, known: Self.names)
        try decodeOptions(from: decoder)
    }

    public func encode(to encoder: any Encoder) throws { try encodeOptions(to: encoder) }
}

/// `sync.exclude_window`: `{start, end}`, or `HH:MM-HH:MM`.
public struct WindowSetting: Codable, Sendable, Equatable {
    public var window: ExcludeWindow

    public init(_ window: ExcludeWindow) {
        self.window = window
    }

    public init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            window = try scheduleValue(decoder) { () throws(ScheduleError) in try ExcludeWindow(parsing: text) }
            return
        }
        window = try readWindow(decoder, startKey: "start", endKey: "end")
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(window.description)
    }
}

/// RudderStack's `excludeWindow: {excludeWindowStartTime, excludeWindowEndTime}`.
public struct RudderExcludeWindow: Codable, Sendable, Equatable {
    public var window: ExcludeWindow

    public init(from decoder: any Decoder) throws {
        window = try readWindow(decoder, startKey: "excludeWindowStartTime", endKey: "excludeWindowEndTime")
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: SettingKey.self)
        try container.encode(window.start.description, forKey: SettingKey("excludeWindowStartTime"))
        try container.encode(window.end.description, forKey: SettingKey("excludeWindowEndTime"))
    }
}

extension TimeOfDay: SettingText {
    public init?(setting text: String) { try? self.init(parsing: text) }
    public var settingText: String { description }
    public static let expected = "must be a UTC time of day as HH:MM"
    /// The parser's own words: what was wrong with the text.
    public static func invalid(_ text: String) -> String {
        do {
            _ = try TimeOfDay(parsing: text)
            return expected
        } catch {
            return error.description
        }
    }

    public init(from decoder: any Decoder) throws { try self.init(text: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeText(to: encoder) }
}

/// A window from a section of two times.
private func readWindow(_ decoder: any Decoder, startKey: String, endKey: String) throws -> ExcludeWindow {
    try refuseUnknownKeys(in: decoder, known: [startKey, endKey])
    let container = try decoder.container(keyedBy: SettingKey.self)
    for key in [startKey, endKey] where !container.contains(SettingKey(key)) {
        throw DecodingError.keyNotFound(
            SettingKey(key),
            DecodingError.Context(
                codingPath: container.codingPath, debugDescription: "needs \(startKey) and \(endKey) (HH:MM, UTC)"))
    }
    let start = try container.decode(TimeOfDay.self, forKey: SettingKey(startKey))
    let end = try container.decode(TimeOfDay.self, forKey: SettingKey(endKey))
    return try scheduleValue(decoder) { () throws(ScheduleError) in try ExcludeWindow(start: start, end: end) }
}

/// A `ScheduleError` as a decoding error at `decoder`'s key.
private func scheduleValue<T>(_ decoder: any Decoder, _ make: () throws(ScheduleError) -> T) throws -> T {
    do {
        return try make()
    } catch {
        throw DecodingError.dataCorrupted(
            DecodingError.Context(codingPath: decoder.codingPath, debugDescription: error.description))
    }
}

/// An error naming the first key of `decoder`'s section that is not `known`, with the nearest known one.
func refuseUnknownKeys(in decoder: any Decoder, known: [String]) throws {
    let container = try decoder.container(keyedBy: SettingKey.self)
    for key in container.allKeys where !known.contains(key.stringValue) {
        let near = known.min { editDistance($0, key.stringValue) < editDistance($1, key.stringValue) } ?? ""
        throw DecodingError.dataCorrupted(DecodingError.Context(
            codingPath: container.codingPath + [key],
            debugDescription: "is not a key of this section (did you mean \"\(near)\"?); see docs/configuration.md"))
    }
}
