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
    public static func redact(_ text: String, knownSecrets: [String] = []) -> String {
        lock.lock()
        // Longest first, so a secret that contains another is masked whole.
        let secrets = (knownSecrets.filter { $0.count >= 3 } + registered).sorted { $0.count > $1.count }
        lock.unlock()
        var result = text
        for secret in secrets where result.contains(secret) {
            result = result.replacingOccurrences(of: secret, with: "***")
        }
        return maskPatterns(result)
    }

    /// `scheme://user:secret@` and `password=secret`, wherever they appear.
    static func maskPatterns(_ text: String) -> String {
        var result = text
        if let regex = try? NSRegularExpression(pattern: #"(://[^:/@\s]*:)[^@\s]+@"#) {
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
