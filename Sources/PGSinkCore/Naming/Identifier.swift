/// Turns source names (CSV headers, JSON keys, file names) into PostgreSQL identifiers.
public struct NamingRules: Sendable, Equatable {
    /// Keep upper case letters (the name is then quoted wherever it is used, as every name is).
    public var keepCase: Bool
    /// Keep reserved words as they are instead of prefixing them with `_`.
    public var allowReservedWords: Bool

    public init(keepCase: Bool = false, allowReservedWords: Bool = false) {
        self.keepCase = keepCase
        self.allowReservedWords = allowReservedWords
    }

    /// PostgreSQL's identifier limit in bytes (NAMEDATALEN - 1).
    public static let maxLength = 63

    /// The identifier for one source name. Empty names become `fallback`.
    public func normalize(_ source: String, fallback: String = "unnamed") -> String {
        var out = ""
        out.reserveCapacity(source.utf8.count)
        for scalar in source.unicodeScalars {
            switch scalar.value {
            case 97...122, 48...57, 95: out.unicodeScalars.append(scalar)
            case 65...90: out.unicodeScalars.append(keepCase ? scalar : Unicode.Scalar(scalar.value + 32)!)
            default: out.append("_")
            }
        }
        if out.isEmpty { out = fallback }
        if let first = out.utf8.first, first >= 48 && first <= 57 { out = "_" + out }
        if !allowReservedWords && ReservedWords.contains(out.lowercased()) { out = "_" + out }
        return Self.fitting(out)
    }

    /// Shortens a name over 63 bytes to a prefix plus a hash of the whole name, so two long
    /// names that share their first 63 bytes still differ.
    public static func fitting(_ name: String, limit: Int = maxLength) -> String {
        guard name.utf8.count > limit else { return name }
        let suffix = "_" + hashHex(name)
        let bytes = Array(name.utf8)
        var cut = limit - suffix.utf8.count
        while cut > 0 && bytes[cut] & 0xC0 == 0x80 { cut -= 1 }  // not inside a character
        return String(decoding: bytes[..<cut], as: UTF8.self) + suffix
    }

    /// FNV-1a, 32 bits, as 8 hex digits: stable across runs and machines.
    public static func hashHex(_ s: String) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in s.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// Identifiers for a list of source names that are distinct from each other and from `taken`.
    /// Where two names normalize alike, the later ones get `_2`, `_3`, ….
    public func distinctNames(for sources: [String], taken: Set<String> = []) -> [String] {
        var used = taken
        return sources.map { source in
            let base = normalize(source)
            var candidate = base
            var n = 2
            while used.contains(candidate) {
                candidate = Self.fitting(base + "_\(n)", limit: Self.maxLength)
                if candidate.utf8.count > Self.maxLength || candidate.hasPrefix(base) == false {
                    candidate = Self.fitting(base, limit: Self.maxLength - 4) + "_\(n)"
                }
                n += 1
            }
            used.insert(candidate)
            return candidate
        }
    }
}

/// Quotes an identifier for SQL: the one place names enter SQL text.
public func quoteIdentifier(_ name: String) -> String {
    "\"" + name.replacing("\"", with: "\"\"") + "\""
}

/// A schema-qualified table name.
public struct TableName: Hashable, Sendable, CustomStringConvertible {
    public var schema: String
    public var name: String

    public init(schema: String, name: String) {
        self.schema = schema
        self.name = name
    }

    public var quoted: String { quoteIdentifier(schema) + "." + quoteIdentifier(name) }
    public var description: String { schema + "." + name }

    /// The table a file loads into by default: its base name without `.csv`, `.jsonl`, `.gz`, ….
    public static func baseName(ofPath path: String) -> String {
        var name = path.split(separator: "/").last.map(String.init) ?? path
        for ext in [".gz", ".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".txt", ".parquet"] where name.lowercased().hasSuffix(ext) {
            name = String(name.dropLast(ext.count))
        }
        return name
    }
}
