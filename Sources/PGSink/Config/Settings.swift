import Foundation

/// A typed, `Sendable` group of options (one per concern: `LoadSettings`, `SingerOptions`, …),
/// decoded with Codable from config trees (`TreeDecoder`), the environment and flags.
///
/// Every option is a row of `options` (see `ConfigOption`). Properties are optional: nil means "not
/// given here", so layers (flags, file, environment) overlay one another generically, and
/// `effective(_:)` falls back to the option's declared default.
public protocol Settings: Codable, Sendable {
    init()
    static var options: [ConfigOption<Self>] { get }
}

extension Settings {
    /// Every name an option answers to (keys and aliases), in declaration order.
    public static var names: [String] { options.flatMap(\.names) }

    /// The body of `init(from:)`: every option from the decoder's keys.
    public mutating func decodeOptions(from decoder: any Decoder) throws {
        for option in Self.options { try option.decode(decoder, &self) }
    }

    /// The body of `encode(to:)`: every option that is set, under its config key.
    public func encodeOptions(to encoder: any Encoder) throws {
        for option in Self.options { try option.encode(self, encoder) }
    }

    /// These settings over `lower`: an option keeps its value here and takes `lower`'s where it
    /// has none, except an option that goes with another one this layer sets.
    public func overlaid(on lower: Self) -> Self {
        var result = self
        for option in Self.options {
            if let leader = option.leader, Self.options.contains(where: { $0.keys == [leader] && $0.isSet(self) }) {
                continue
            }
            option.fill(&result, lower)
        }
        return result
    }

    /// Every option that is not set gets its default.
    public func withDefaults() -> Self {
        var result = self
        for option in Self.options { option.setDefault(&result) }
        return result
    }

    /// An option's value, or its declared default when no layer set it.
    public func effective<Value>(_ path: KeyPath<Self, Value?>) -> Value {
        guard let value = self[keyPath: path] ?? Self().withDefaults()[keyPath: path] else {
            preconditionFailure("\(Self.self) declares no default for \(path); read the optional property")
        }
        return value
    }

    /// Decodes the options among `fields` (a config section; other keys are left alone).
    /// `naming` turns a key path (`batch_size`, `ssh.port`) into the place an error names.
    public static func decode(_ fields: [String: Any], naming: (String) -> String) throws(SettingError) -> Self {
        do {
            return try TreeDecoder().decode(Self.self, from: fields)
        } catch let error as DecodingError {
            throw SettingError(error, naming: naming)
        } catch {
            throw SettingError(description: "\(error)")
        }
    }

    /// The options the environment gives as `PGSINK_<KEY>` (`PGSINK_BATCH_SIZE`), each read the
    /// way the file's value is; an empty variable counts as unset.
    public init(environment: [String: String], prefix: String = "PGSINK_") throws(SettingError) {
        var fields: [String: Any] = [:]
        for key in Self.options.flatMap(\.keys) {
            if let value = environment[prefix + key.uppercased()], !value.isEmpty { fields[key] = value }
        }
        self = try Self.decode(fields) { "environment: " + prefix + $0.uppercased() }
    }

    /// The keys of `fields` that are no option and not `known`, sorted, each with the nearest of
    /// the option names and `otherNames` (for "did you mean").
    public static func unknownKeys(
        in fields: [String: Any], known: (String) -> Bool = { _ in false }, otherNames: [String] = []
    ) -> [(key: String, nearest: String)] {
        let names = Set(Self.names)
        let candidates = Self.names + otherNames
        return fields.keys.sorted().filter { !names.contains($0) && !known($0) }.map { key in
            (key, candidates.min { editDistance($0, key) < editDistance($1, key) } ?? "")
        }
    }
}

/// A config value that is not what its key takes, naming where it is: `pgsink.yaml:
/// destination.batch_size must be a whole number`. Values of load options are never secrets.
public struct SettingError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(description: String) {
        self.description = description
    }

    init(_ error: DecodingError, naming: (String) -> String) {
        let context: DecodingError.Context
        switch error {
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .keyNotFound(_, let c), .dataCorrupted(let c):
            context = c
        @unknown default: self.init(description: "\(error)"); return
        }
        let path = context.codingPath.reduce("") { text, key in
            key.intValue.map { text + "[\($0)]" } ?? (text.isEmpty ? key.stringValue : text + "." + key.stringValue)
        }
        self.init(description: naming(path) + " " + context.debugDescription)
    }
}
