import Crypto
import Foundation
import NIOSSH

/// The entries of an OpenSSH known_hosts file, and the check of a server's host key against them.
///
/// Supported: `host[,host2] type base64`, `[host]:port`, `*`/`?` wildcards, `!negated` patterns
/// and hashed `|1|salt|hmac` names. `@cert-authority` and `@revoked` lines are skipped, as are
/// key types NIOSSH cannot parse (a bastion offering such a key could not be used anyway).
struct KnownHosts: Sendable {
    struct Entry: Sendable {
        var patterns: [String]
        var keyType: String
        var key: NIOSSHPublicKey?
    }

    enum Verdict: Equatable {
        case trusted
        /// The host is listed, but with other keys of the same type: possibly an impostor.
        case mismatch
        /// The host is not listed with a key of this type.
        case unknown
    }

    var entries: [Entry]
    /// Where the entries came from, for error messages: "known_hosts file PATH" or "the inline known_hosts".
    var origin: String

    init(text: String, origin: String = "the inline known_hosts") {
        entries = text.split(whereSeparator: \.isNewline).compactMap(Self.entry)
        self.origin = origin
    }

    /// `source` is a path or inline known_hosts lines; nil means ~/.ssh/known_hosts (missing = empty).
    /// An empty file, `/dev/null` included, lists no hosts, so every bastion is unknown.
    static func load(_ source: String?) throws -> KnownHosts {
        if let source, source.contains(where: \.isNewline) { return KnownHosts(text: source) }
        let path = NSString(string: source ?? "~/.ssh/known_hosts").expandingTildeInPath
        if let text = contents(ofFile: path) {
            return KnownHosts(text: text, origin: "known_hosts file \(path)" + (text.isEmpty ? " (empty)" : ""))
        }
        guard let source else { return KnownHosts(text: "", origin: "known_hosts file \(path) (missing)") }
        // A single inline line has no newline; it is inline if it parses as an entry.
        let inline = KnownHosts(text: source)
        guard inline.entries.isEmpty else { return inline }
        throw SSHTunnelError(.knownHostsUnreadable, "cannot read the known_hosts file \(path)")
    }

    /// The text of a file, a character device such as /dev/null or a pipe; nil when it cannot be
    /// opened or read (FileManager's `contents(atPath:)` answers nil for /dev/null).
    private static func contents(ofFile path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        do {
            return String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
        } catch {
            return nil
        }
    }

    private static func entry(_ line: Substring) -> Entry? {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let first = fields.first, !first.hasPrefix("#"), !first.hasPrefix("@"), fields.count >= 3 else {
            return nil
        }
        let key = try? NIOSSHPublicKey(openSSHPublicKey: "\(fields[1]) \(fields[2])")
        return Entry(patterns: first.split(separator: ",").map(String.init), keyType: String(fields[1]), key: key)
    }

    /// `host` is the known_hosts spelling: bare for port 22, "[host]:port" otherwise.
    func verdict(for key: NIOSSHPublicKey, host: String) -> Verdict {
        let listed = entries.filter { Self.matches(host, $0.patterns) }
        if listed.contains(where: { $0.key == key }) { return .trusted }
        return listed.contains(where: { $0.keyType == key.openSSHType }) ? .mismatch : .unknown
    }

    /// A host matches a comma list if some pattern matches and no negated one does.
    static func matches(_ host: String, _ patterns: [String]) -> Bool {
        var matched = false
        for pattern in patterns {
            if pattern.hasPrefix("!") {
                if matchesOne(host, String(pattern.dropFirst())) { return false }
            } else if matchesOne(host, pattern) {
                matched = true
            }
        }
        return matched
    }

    private static func matchesOne(_ host: String, _ pattern: String) -> Bool {
        if pattern.hasPrefix("|1|") { return matchesHashed(host, pattern) }
        return wildcard(Array(host.lowercased().utf8)[...], Array(pattern.lowercased().utf8)[...])
    }

    /// `|1|base64(salt)|base64(HMAC-SHA1(salt, host))`, as `HashKnownHosts yes` writes.
    private static func matchesHashed(_ host: String, _ pattern: String) -> Bool {
        let parts = pattern.split(separator: "|")
        guard parts.count == 3, let salt = Data(base64Encoded: String(parts[1])),
            let expected = Data(base64Encoded: String(parts[2]))
        else { return false }
        let mac = HMAC<Insecure.SHA1>.authenticationCode(for: Data(host.utf8), using: SymmetricKey(data: salt))
        return Data(mac) == expected
    }

    private static func wildcard(_ text: ArraySlice<UInt8>, _ pattern: ArraySlice<UInt8>) -> Bool {
        guard let p = pattern.first else { return text.isEmpty }
        switch p {
        case UInt8(ascii: "*"):
            return text.indices.contains { wildcard(text[$0...], pattern.dropFirst()) }
                || wildcard(text[text.endIndex...], pattern.dropFirst())
        case UInt8(ascii: "?"):
            return !text.isEmpty && wildcard(text.dropFirst(), pattern.dropFirst())
        default:
            return text.first == p && wildcard(text.dropFirst(), pattern.dropFirst())
        }
    }
}

extension NIOSSHPublicKey {
    /// The fingerprint as `ssh-keygen -l` and ssh's prompts print it: SHA256:base64-without-padding.
    var sha256Fingerprint: String {
        let blob = String(openSSHPublicKey: self).split(separator: " ").dropFirst().first.map(String.init) ?? ""
        let digest = SHA256.hash(data: Data(base64Encoded: blob) ?? Data())
        return "SHA256:" + Data(digest).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    var openSSHType: String { String(String(openSSHPublicKey: self).prefix { $0 != " " }) }
}
