import Foundation

/// One option of a `Settings` type, declared once: the property it fills, its config key (the
/// CodingKey; `PGSINK_<KEY>` in the environment where a command reads it), the other spellings
/// peers' documents use, its default and a check. Everything else (decoding, encoding, the
/// environment, overlaying layers, unknown-key hints) is derived from these rows.
public struct ConfigOption<Root: Sendable>: Sendable {
    /// The config key, then its aliases; for a group, every name of the group's options.
    public let names: [String]
    /// The canonical keys (one, or a group's).
    public let keys: [String]
    /// The key of the option this one goes with: a layer that sets that one also decides this one
    /// (`delete_stale` goes with `write_mode`, so `--mode` replaces the file's `delete_stale` too).
    let leader: String?
    let decode: @Sendable (any Decoder, inout Root) throws -> Void
    let encode: @Sendable (Root, any Encoder) throws -> Void
    let isSet: @Sendable (Root) -> Bool
    /// Takes the lower layer's value where `Root` has none.
    let fill: @Sendable (inout Root, Root) -> Void
    let setDefault: @Sendable (inout Root) -> Void

    /// An option whose value decodes as it is (a number, a flag, text, a list).
    public init<Value: Codable & Sendable & Equatable>(
        _ path: WritableKeyPath<Root, Value?> & Sendable, _ key: String, aliases: [String] = [],
        default value: Value? = nil, check: Check<Value>? = nil, goesWith leader: String? = nil
    ) {
        self.init(path, key, aliases, value, check, leader) { try Value(from: $0) }
    }

    /// An option written as a word or phrase (`merge`, `flatten:2`, `500ms`).
    public init<Value: SettingText>(
        _ path: WritableKeyPath<Root, Value?> & Sendable, _ key: String, aliases: [String] = [],
        default value: Value? = nil, check: Check<Value>? = nil, goesWith leader: String? = nil
    ) {
        self.init(path, key, aliases, value, check, leader) { try Value(text: $0) }
    }

    private init<Value: Encodable & Sendable>(
        _ path: WritableKeyPath<Root, Value?> & Sendable, _ key: String, _ aliases: [String], _ defaultValue: Value?,
        _ check: Check<Value>?, _ leader: String?, read: @escaping @Sendable (any Decoder) throws -> Value
    ) {
        let names = [key] + aliases
        self.names = names
        keys = [key]
        self.leader = leader
        decode = { decoder, root in
            let container = try decoder.container(keyedBy: SettingKey.self)
            let given = names.filter { container.contains(SettingKey($0)) }
            guard let name = given.first else { return }
            if given.count > 1 {
                throw DecodingError.dataCorrupted(DecodingError.Context(
                    codingPath: container.codingPath + [SettingKey(name)],
                    debugDescription: "is also given as \(given[1]); keep one of them"))
            }
            let inner = try container.superDecoder(forKey: SettingKey(name))
            let value = try read(inner)
            if let check, !check.passes(value) {
                throw DecodingError.dataCorrupted(
                    DecodingError.Context(codingPath: inner.codingPath, debugDescription: check.message))
            }
            root[keyPath: path] = value
        }
        encode = { root, encoder in
            var container = encoder.container(keyedBy: SettingKey.self)
            try container.encodeIfPresent(root[keyPath: path], forKey: SettingKey(key))
        }
        isSet = { $0[keyPath: path] != nil }
        fill = { root, lower in
            if root[keyPath: path] == nil { root[keyPath: path] = lower[keyPath: path] }
        }
        setDefault = { root in
            if root[keyPath: path] == nil { root[keyPath: path] = defaultValue }
        }
    }

    /// The options of another settings type, read from the same keys (the stream keys both
    /// protocol front ends take).
    public static func group<Nested: Settings>(_ path: WritableKeyPath<Root, Nested> & Sendable) -> ConfigOption {
        ConfigOption(
            names: Nested.options.flatMap(\.names), keys: Nested.options.flatMap(\.keys),
            decode: { decoder, root in root[keyPath: path] = try Nested(from: decoder) },
            encode: { root, encoder in try root[keyPath: path].encode(to: encoder) },
            isSet: { _ in false },
            fill: { root, lower in root[keyPath: path] = root[keyPath: path].overlaid(on: lower[keyPath: path]) },
            setDefault: { root in root[keyPath: path] = root[keyPath: path].withDefaults() })
    }

    private init(
        names: [String], keys: [String], decode: @escaping @Sendable (any Decoder, inout Root) throws -> Void,
        encode: @escaping @Sendable (Root, any Encoder) throws -> Void, isSet: @escaping @Sendable (Root) -> Bool,
        fill: @escaping @Sendable (inout Root, Root) -> Void, setDefault: @escaping @Sendable (inout Root) -> Void
    ) {
        self.names = names
        self.keys = keys
        leader = nil
        self.decode = decode
        self.encode = encode
        self.isSet = isSet
        self.fill = fill
        self.setDefault = setDefault
    }
}

/// A condition a decoded value must meet, and what the error says when it does not.
public struct Check<Value>: Sendable {
    public let message: String
    public let passes: @Sendable (Value) -> Bool

    public init(_ message: String, _ passes: @escaping @Sendable (Value) -> Bool) {
        self.message = message
        self.passes = passes
    }
}

extension Check where Value == Int {
    public static var positive: Check { Check("must be positive") { $0 > 0 } }
    public static var notNegative: Check { Check("must be 0 or more") { $0 >= 0 } }
}

extension Check where Value == Seconds {
    public static var positive: Check { Check("must be positive") { $0.seconds > 0 } }
}
