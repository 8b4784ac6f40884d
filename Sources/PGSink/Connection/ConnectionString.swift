import CLibPQ
import Foundation
import PGSinkCore

/// libpq's own parser for connection strings: what pgsink accepts is exactly what psql accepts.
public enum ConnectionString {
    /// One option of a parsed string.
    public struct Option: Equatable, Sendable {
        public var keyword: String
        public var value: String
        /// libpq marks passwords with dispchar "*".
        public var isSecret: Bool
    }

    /// The options a URI or `key=value` string sets, in libpq's keyword order. Throws a
    /// secret-free error that says what is wrong.
    public static func parse(_ conninfo: String) throws -> [Option] {
        switch libpqParse(conninfo) {
        case .success(let options): return options
        case .failure(let failure):
            let reason = Secrets.redact(failure.description, knownSecrets: secretsGuess(conninfo))
            throw ConnectionError(
                "the connection string is not valid: \(Wording.clause(reason)). Use a postgresql://user@host:5432/db URI or "
                    + "libpq key=value pairs (put a value with spaces in single quotes)")
        }
    }

    private static func libpqParse(_ conninfo: String) -> Result<[Option], ConnectionError> {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            var reason = "it cannot be parsed"
            if let errorMessage {
                reason = String(cString: errorMessage).trimmingCharacters(in: .whitespacesAndNewlines)
                PQfreemem(errorMessage)
            }
            return .failure(ConnectionError(reason))
        }
        let set = takeOptions(options).compactMap { entry in
            entry.value.map { Option(keyword: entry.keyword, value: $0, isSecret: entry.isSecret) }
        }
        return .success(set)
    }

    /// Every keyword this libpq knows.
    public static let keywords: Set<String> = Set(takeOptions(PQconndefaults()).map(\.keyword))

    /// Reads and frees an option array from PQconninfoParse, PQconndefaults or PQconninfo.
    static func takeOptions(_ options: UnsafeMutablePointer<PQconninfoOption>?)
        -> [(keyword: String, value: String?, isSecret: Bool)]
    {
        guard let options else { return [] }
        defer { PQconninfoFree(options) }
        var result: [(keyword: String, value: String?, isSecret: Bool)] = []
        var cursor = options
        while let keyword = cursor.pointee.keyword {
            let display = cursor.pointee.dispchar.map { String(cString: $0) } ?? ""
            result.append((String(cString: keyword), cursor.pointee.val.map { String(cString: $0) }, display == "*"))
            cursor += 1
        }
        return result
    }

    /// Whether the string is a URI rather than `key=value` pairs.
    public static func isURI(_ conninfo: String) -> Bool {
        conninfo.hasPrefix("postgresql://") || conninfo.hasPrefix("postgres://")
    }

    /// Takes query parameters that libpq does not know but other tools put in URIs out of the
    /// URI: `search_path` (CloudQuery's habit) and `schema`. Returns the URI libpq can read and
    /// the parameters taken.
    public static func splitURIExtras(_ uri: String) -> (uri: String, extras: [String: String]) {
        guard isURI(uri), let question = uri.firstIndex(of: "?") else { return (uri, [:]) }
        let query = uri[uri.index(after: question)...]
        var kept: [Substring] = []
        var extras: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            let key = String(parts[0])
            if uriExtras.contains(key) {
                let raw = parts.count > 1 ? String(parts[1]) : ""
                extras[key == "currentSchema" ? "schema" : key] = raw.removingPercentEncoding ?? raw
            } else {
                kept.append(pair)
            }
        }
        let base = String(uri[..<question])
        return (kept.isEmpty ? base : base + "?" + kept.joined(separator: "&"), extras)
    }

    /// A string for messages: secrets replaced by `***`.
    public static func redacted(_ conninfo: String) -> String {
        Secrets.redact(conninfo, knownSecrets: secretsGuess(conninfo))
    }

    /// The secrets a string holds, found even when libpq cannot parse it: the URI's password and
    /// any `password=` value.
    static func secretsGuess(_ conninfo: String) -> [String] {
        var found: [String] = []
        if case .success(let parsed) = libpqParse(conninfo) { found += parsed.filter(\.isSecret).map(\.value) }
        if let password = userinfo(of: conninfo)?.password {
            found += [String(password), password.removingPercentEncoding ?? String(password)]
        }
        if isURI(conninfo), let schemeEnd = conninfo.range(of: "://") {
            let rest = conninfo[schemeEnd.upperBound...]
            if let at = rest.lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
                let raw = String(rest[rest.index(after: colon)..<at])
                found += [raw, raw.removingPercentEncoding ?? raw]
            }
        }
        for marker in ["password=", "sslpassword="] {
            var search = conninfo[...]
            while let range = search.range(of: marker) {
                var value = search[range.upperBound...]
                if value.first == "'" {
                    value = value.dropFirst().prefix { $0 != "'" }
                } else {
                    value = value.prefix { $0 != " " && $0 != "&" }
                }
                if !value.isEmpty { found.append(String(value)) }
                search = search[range.upperBound...]
            }
        }
        return found.filter { !$0.isEmpty }
    }

    /// libpq's `key=value` quoting.
    public static func quote(_ value: String) -> String {
        let plain = !value.isEmpty && !value.contains { $0 == " " || $0 == "'" || $0 == "\\" }
        if plain { return value }
        return "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }
}

/// A connection setting that is wrong: what and how to fix it, never a secret.
public struct ConnectionError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
