import Foundation
import PGSinkCore

/// A setting written as a word or phrase (`merge`, `flatten:2`, `500ms`): parsed from text (a
/// number counts as its text), written back as text. Conforming types implement Codable with
/// `init(text:)` and `encodeText(to:)` (Swift would otherwise synthesize a keyed form).
public protocol SettingText: Codable, Sendable, Equatable {
    init?(setting text: String)
    var settingText: String { get }
    /// What the key takes, for errors: "takes evolve, freeze, discard-row or discard-value".
    static var expected: String { get }
    /// The error for text that is none of them; by default `expected (got "text")`.
    static func invalid(_ text: String) -> String
}

extension SettingText {
    /// Decodes the text and parses it; the error says what the key takes and what it got.
    public init(text decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Self(setting: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: Self.invalid(text))
        }
        self = value
    }

    public static func invalid(_ text: String) -> String { "\(expected) (got \"\(text)\")" }

    public func encodeText(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(settingText)
    }
}

/// `write_mode`: a load mode by any of its peers' names; CloudQuery's `overwrite-delete-stale` is
/// merge that also deletes the rows the load did not write.
public struct WriteMode: SettingText {
    public var mode: LoadMode
    public var deletesStale: Bool

    public init(_ mode: LoadMode, deletesStale: Bool = false) {
        self.mode = mode
        self.deletesStale = deletesStale
    }

    public init?(setting text: String) {
        switch text.lowercased() {
        case "append": self.init(.append)
        case "replace", "overwrite", "truncate-insert": self.init(.replace)
        case "merge", "upsert": self.init(.merge)
        case "overwrite-delete-stale": self.init(.merge, deletesStale: true)
        default: return nil
        }
    }

    public var settingText: String { deletesStale ? "overwrite-delete-stale" : mode.rawValue }
    public static let expected = "takes append, replace, merge or overwrite-delete-stale"

    public init(from decoder: any Decoder) throws { try self.init(text: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeText(to: encoder) }
}

/// A duration in seconds: a number, or `500ms`, `60s`, `5m`, `1h`.
public struct Seconds: SettingText {
    public var seconds: Double

    public init(_ seconds: Double) {
        self.seconds = seconds
    }

    public init?(setting text: String) {
        let text = text.trimmingCharacters(in: .whitespaces)
        for (suffix, scale) in [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)] where text.hasSuffix(suffix) {
            if let number = Double(text.dropLast(suffix.count)), number.isFinite {
                self.init(number * scale)
                return
            }
        }
        guard let number = Double(text), number.isFinite else { return nil }
        self.init(number)
    }

    public var settingText: String { seconds == seconds.rounded() ? "\(Int(seconds))s" : "\(seconds)s" }
    public static let expected = "must be a duration such as 60s, 5m or 500ms"

    public init(from decoder: any Decoder) throws { try self.init(text: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeText(to: encoder) }
}

/// Column names: a list, or one text `a,b`.
public struct ColumnList: Codable, Sendable, Equatable {
    public var names: [String]

    public init(_ names: [String]) {
        self.names = names
    }

    public init(parsing text: String) {
        names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let names = try? container.decode([String].self) {
            self.init(names)
        } else if let text = try? container.decode(String.self) {
            self.init(parsing: text)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "must list column names")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(names)
    }
}

/// `log_level` and `--log-level` (CloudQuery's pgx_log_level names).
public enum LogLevel: String, SettingText, CaseIterable {
    case error, warn, info, debug, trace

    public init?(setting text: String) { self.init(rawValue: text) }
    public var settingText: String { rawValue }
    public static let expected = "takes error, warn, info, debug or trace"

    public init(from decoder: any Decoder) throws { try self.init(text: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeText(to: encoder) }
}

/// The log levels `--log-level` and `log_level` take.
public enum LogLevelName {
    public static let all = LogLevel.allCases.map(\.rawValue)
}

extension SchemaContract: SettingText {
    public init?(setting text: String) { self.init(rawValue: text) }
    public var settingText: String { rawValue }
    public static let expected = "takes evolve, freeze, discard-row or discard-value"
}

extension NestedMode: SettingText {
    public init?(setting text: String) { self.init(parsing: text) }
    public var settingText: String { description }
    public static let expected = "takes jsonb, flatten, flatten:DEPTH (DEPTH ≥ 1) or tables"

    public init(from decoder: any Decoder) throws { try self.init(text: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeText(to: encoder) }
}

/// `null_values`: strings that mean NULL (`NA,NULL,\\N`, or a list), or `auto`.
public struct NullValues: Codable, Sendable, Equatable {
    public var values: [String]
    /// The common markers, only in columns whose other values share a type.
    public var auto: Bool

    public init(_ values: [String], auto: Bool = false) {
        self.values = values
        self.auto = auto
    }

    public init(parsing text: String) {
        if text.trimmingCharacters(in: .whitespaces).lowercased() == "auto" {
            self.init([], auto: true)
        } else {
            self.init(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let list = try? container.decode([String].self) {
            self.init(list.filter { !$0.isEmpty })
        } else if let text = try? container.decode(String.self) {
            self.init(parsing: text)
        } else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "takes a list of strings that mean NULL, or auto")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if auto { try container.encode("auto") } else { try container.encode(values) }
    }
}
