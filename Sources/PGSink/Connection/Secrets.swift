import Foundation

/// Keeps secrets out of everything pgsink prints. Every secret the configuration holds (passwords,
/// key passphrases, inline private keys, tokens) is registered once; errors, logs, `--json` output
/// and `check` lines pass through `redact` before they are written.
public enum Secrets {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var registered: [String] = []

    /// Remembers a secret so that it is masked wherever it would appear. Very short values are
    /// not registered: masking every "a" would make messages unreadable and protect nothing.
    public static func register(_ secret: String?) {
        guard let secret, secret.count >= 3 else { return }
        lock.lock()
        defer { lock.unlock() }
        let encoded = secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? secret
        for form in Set([secret, encoded]) where !registered.contains(form) { registered.append(form) }
    }

    /// The text with every registered secret (and `knownSecrets`) replaced by `***`, and the
    /// password of any URI or `password=` pair in it masked too.
    ///
    /// One exception keeps a password from being given away by its own mask: a secret made only
    /// of letters is left where it stands in running text as a word, or inside a longer word,
    /// rather than as a value. With the password `failed`, libpq's "password authentication failed
    /// for user" stays as it is; masking it would print "password authentication *** for user",
    /// which names the password. Where such a word stands as a value (after `=` or `:`, in quotes,
    /// in a URI, before `@`) it is masked.
    public static func redact(_ text: String, knownSecrets: [String] = []) -> String {
        lock.lock()
        // Longest first, so a secret that contains another is masked whole.
        let secrets = Set(knownSecrets.filter { $0.count >= 3 } + registered).sorted { $0.count > $1.count }
        lock.unlock()
        var result = maskPatterns(text)
        for secret in secrets where result.contains(secret) {
            result = mask(secret, in: result)
        }
        return result
    }

    /// Every occurrence of `secret` replaced by `***`, except where it is a word of running text.
    static func mask(_ secret: String, in text: String) -> String {
        let wordLike = secret.allSatisfy(\.isLetter)
        var result = ""
        var rest = text[...]
        while let found = rest.range(of: secret) {
            let keep = wordLike && isProse(found, in: text)
            result += rest[..<found.lowerBound] + (keep ? rest[found] : "***")
            rest = rest[found.upperBound...]
        }
        return result + rest
    }

    /// Whether the letters at `range` are a word of a sentence (or part of a longer word) rather
    /// than a value: a space or the text's edge before them, and a space, the edge or a
    /// sentence's punctuation after them.
    private static func isProse(_ range: Range<String.Index>, in text: String) -> Bool {
        let before = range.lowerBound == text.startIndex ? nil : text[text.index(before: range.lowerBound)]
        let after = range.upperBound == text.endIndex ? nil : text[range.upperBound]
        func wordCharacter(_ c: Character?) -> Bool {
            c.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } ?? false
        }
        if wordCharacter(before) || wordCharacter(after) { return true }
        let opensWord = before == nil || before!.isWhitespace
        let closesWord = after == nil || after!.isWhitespace || ".,;:!?".contains(after!)
        return opensWord && closesWord
    }

    /// `scheme://user:secret@` (to the last `@` of the URI, as a password may hold `@`) and
    /// `password=secret`, wherever they appear.
    static func maskPatterns(_ text: String) -> String {
        var result = text
        if let regex = try? NSRegularExpression(pattern: #"(://[^:/\s"']*:)[^\s"'<>]*@"#) {
            result = regex.stringByReplacingMatches(
                in: result, range: NSRange(result.startIndex..., in: result), withTemplate: "$1***@")
        }
        if let regex = try? NSRegularExpression(pattern: #"((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]+)"#, options: [.caseInsensitive]) {
            result = regex.stringByReplacingMatches(
                in: result, range: NSRange(result.startIndex..., in: result), withTemplate: "$1***")
        }
        return result
    }
}
