import Foundation

/// `write_keys`: the keys the SDKs send, each with the source its events come from (nil: the
/// default). A mapping `key: source`, or a list of `{key, source}`. Keys are secrets: each is
/// registered with `Secrets` as it is read, and no error names one (errors give the position).
public struct WriteKeys: Codable, Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var key: String
        public var source: String?
        /// The schema this source's events land in, when not the source's name (list form only).
        public var namespace: String?

        public init(key: String, source: String?, namespace: String? = nil) {
            self.key = key
            self.source = source
            self.namespace = namespace
        }
    }

    public var entries: [Entry]

    public init(_ entries: [Entry]) {
        self.entries = entries
    }

    public init(from decoder: any Decoder) throws {
        if let list = try? decoder.unkeyedContainer() {
            entries = try Self.list(list, at: decoder.codingPath)
        } else if let mapping = try? decoder.container(keyedBy: SettingKey.self) {
            entries = try Self.mapping(mapping)
        } else {
            throw Self.error(decoder.codingPath, "must be a mapping of write key to source name, or a list of {key, source}")
        }
        guard !entries.isEmpty else { throw Self.error(decoder.codingPath, "lists no write key") }
    }

    /// `key: source`. The error for a value that is no text names no key, as keys are secret.
    private static func mapping(_ container: KeyedDecodingContainer<SettingKey>) throws -> [Entry] {
        for key in container.allKeys { Secrets.register(key.stringValue) }
        return try container.allKeys.map { key in
            guard key.stringValue.isEmpty == false else { throw error(container.codingPath, "has an empty write key") }
            if (try? container.decodeNil(forKey: key)) == true { return Entry(key: key.stringValue, source: nil) }
            guard let source = try? container.decode(String.self, forKey: key) else {
                throw error(container.codingPath, "must map each write key to a source name (text)")
            }
            return Entry(key: key.stringValue, source: source)
        }
    }

    /// `- {key: …, source: …, namespace: …}`.
    private static func list(_ list: any UnkeyedDecodingContainer, at path: [any CodingKey]) throws -> [Entry] {
        var list = list
        var entries: [Entry] = []
        while !list.isAtEnd {
            let place = path + [SettingKey(index: list.currentIndex)]
            let item = try list.superDecoder()
            try refuseUnknownKeys(in: item, known: ["key", "source", "namespace"])
            let fields = try item.container(keyedBy: SettingKey.self)
            guard fields.contains(SettingKey("key")) else { throw error(place, "needs key: (and source:)") }
            let key = try fields.decode(String.self, forKey: SettingKey("key"))
            Secrets.register(key)
            guard !key.isEmpty else { throw error(place, "has an empty key") }
            let source = try fields.decodeIfPresent(String.self, forKey: SettingKey("source"))
            let namespace = try fields.decodeIfPresent(String.self, forKey: SettingKey("namespace"))
            if entries.contains(where: { $0.key == key }) { throw error(place, "repeats the key of an earlier entry") }
            entries.append(Entry(key: key, source: source, namespace: namespace))
        }
        return entries
    }

    private static func error(_ path: [any CodingKey], _ message: String) -> DecodingError {
        .dataCorrupted(DecodingError.Context(codingPath: path, debugDescription: message))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.unkeyedContainer()
        for entry in entries {
            try container.encode(["key": entry.key, "source": entry.source, "namespace": entry.namespace].compactMapValues { $0 })
        }
    }
}
