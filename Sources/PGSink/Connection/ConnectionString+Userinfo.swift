import Foundation

extension ConnectionString {
    /// The user and password a URI names before its host, as the user typed them.
    struct Userinfo: Equatable {
        /// From just after `://` to just before the `@` that ends the userinfo.
        var range: Range<String.Index>
        var user: Substring
        /// Everything after the first `:`; nil when there is no `:`.
        var password: Substring?
    }

    /// The userinfo of a `postgresql://` URI, found as a data engineer writes it rather than as
    /// libpq reads it: libpq ends the userinfo at the first `@` and stops looking at the first `/`,
    /// so `loader:Ab/cd@host` became host `loader`, port `Ab`. Here it runs to the last `@` before
    /// the host, so a password may hold `/`, `@`, `:`, `?` and `#` unencoded.
    ///
    /// The ambiguity this leaves is settled against two rarer spellings: an `@` that follows a
    /// `?keyword=` belongs to the query (`?sslrootcert=/home/me@corp/ca.pem`), and a `/` before
    /// the `@` is part of a password only when a `:` comes before it (`postgresql://host/db@x` is
    /// still the database `db@x`). A database name holding both a `/`-free `@` and following a
    /// password (`postgresql://u:pw@host/db@x`) reads as a password; write such an `@` as `%40`.
    static func userinfo(of uri: String) -> Userinfo? {
        guard isURI(uri), let scheme = uri.range(of: "://") else { return nil }
        let rest = uri[scheme.upperBound...]
        guard rest.first != "/" else { return nil }  // postgresql:///db: no authority at all
        var at = rest.endIndex
        while let found = rest[..<at].lastIndex(of: "@") {
            at = found
            let info = rest[..<found]
            if let colon = info.firstIndex(of: ":") {
                if info[..<colon].contains("/") { continue }
                if startsQuery(info) { continue }
                let password = info[info.index(after: colon)...]
                return Userinfo(range: info.startIndex..<found, user: info[..<colon], password: password)
            }
            if info.contains("/") || startsQuery(info) { continue }
            return Userinfo(range: info.startIndex..<found, user: info, password: nil)
        }
        return nil
    }

    /// Whether `text` holds a URI query: a `?` followed by a parameter name libpq (or pgsink) knows and `=`.
    private static func startsQuery(_ text: Substring) -> Bool {
        text.split(separator: "?", omittingEmptySubsequences: false).dropFirst().contains { after in
            let name = String(after.prefix { $0 != "=" && $0 != "&" })
            return after.dropFirst(name.count).first == "=" && (keywords.contains(name) || uriExtras.contains(name))
        }
    }

    /// Query parameters pgsink takes out of a URI before libpq sees it (`splitURIExtras`).
    static let uriExtras: Set<String> = ["search_path", "schema", "currentSchema"]

    /// The URI with its user and password percent-encoded, so libpq reads the password that was
    /// meant (`Ab/cd` rather than host `loader`, port `Ab`). `%XX` sequences are kept: an encoded
    /// password stays as it was. Anything that is not a URI comes back unchanged.
    public static func encodingUserinfo(_ uri: String) -> String {
        guard let info = userinfo(of: uri) else { return uri }
        var encoded = percentEncoded(info.user)
        if let password = info.password { encoded += ":" + percentEncoded(password) }
        return String(uri[..<info.range.lowerBound]) + encoded + String(uri[info.range.upperBound...])
    }

    /// Every byte except RFC 3986's unreserved characters and well-formed `%XX` escapes as `%XX`
    /// (a lone `%`, as in `50%off`, becomes `%25`).
    static func percentEncoded(_ text: Substring) -> String {
        let bytes = Array(text.utf8)
        var result = ""
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "%"), i + 2 < bytes.count, bytes[i + 1].isHexDigit, bytes[i + 2].isHexDigit {
                result += String(decoding: bytes[i...(i + 2)], as: UTF8.self)
                i += 3
                continue
            }
            if byte.isUnreserved {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += String(format: "%%%02X", byte)
            }
            i += 1
        }
        return result
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(self)
    }

    fileprivate var isUnreserved: Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self)
            || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self) || self == UInt8(ascii: "-")
            || self == UInt8(ascii: ".") || self == UInt8(ascii: "_") || self == UInt8(ascii: "~")
    }
}
