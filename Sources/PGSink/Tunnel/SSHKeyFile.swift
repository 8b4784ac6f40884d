import Crypto
import Foundation
import NIOSSH

/// Turns the private key users give (a path or the text inline) into a key NIOSSH can sign with.
///
/// NIOSSH signs with ed25519 and ECDSA only, so RSA keys get an error that says how to make
/// a usable key instead of a generic parse failure.
enum SSHKeyFile {
    /// `source` is a file path, or the key itself when it starts with "-----BEGIN".
    static func load(_ source: String, passphrase: String?) throws -> NIOSSHPrivateKey {
        try parse(text(of: source), passphrase: passphrase)
    }

    static func text(of source: String) throws -> String {
        let trimmed = source.trimmingCharacters(in: .whitespacesAndNewlines)
        if looksLikeKeyText(trimmed) {
            // Keys pasted into JSON configs often arrive with literal "\n" instead of newlines.
            return trimmed.contains("\n") ? trimmed : trimmed.replacingOccurrences(of: "\\n", with: "\n")
        }
        let path = NSString(string: trimmed).expandingTildeInPath
        guard let data = FileManager.default.contents(atPath: path) else {
            // A path is the user's own setting, not a secret, and names what to fix.
            throw SSHTunnelError(.keyUnreadable, "cannot read the private key file \(path)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Anything that might be key text is parsed, never echoed as a "path" in an error.
    private static func looksLikeKeyText(_ source: String) -> Bool {
        source.hasPrefix("-----BEGIN") || source.hasPrefix("PuTTY-User-Key-File") || source.contains("PRIVATE KEY")
            || source.contains("\n") || source.contains("\\n") || source.count > 1024
    }

    static func parse(_ text: String, passphrase: String?) throws -> NIOSSHPrivateKey {
        let text = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if text.hasPrefix("PuTTY-User-Key-File") {
            throw SSHTunnelError.unsupportedKey(
                "a PuTTY .ppk key; export it in OpenSSH format (PuTTYgen: Conversions > Export OpenSSH key)")
        }
        guard text.hasPrefix("-----BEGIN") else {
            throw SSHTunnelError.malformedKey("the key text does not start with a \"-----BEGIN …-----\" line")
        }
        let pem = try PEMBlock(text)
        switch pem.label {
        case "OPENSSH PRIVATE KEY":
            return try OpenSSHKey.parse(pem.body, passphrase: passphrase)
        case "EC PRIVATE KEY":
            if pem.isEncrypted { throw encryptedPEM() }
            return try ecdsaPEM(text)
        case "PRIVATE KEY":
            return try pkcs8(pem.body, text: text)
        case "RSA PRIVATE KEY":
            throw SSHTunnelError.rsaKey()
        case "ENCRYPTED PRIVATE KEY":
            throw encryptedPEM()
        default:
            throw SSHTunnelError.unsupportedKey("a PEM \"\(pem.label)\" block")
        }
    }

    private static func encryptedPEM() -> SSHTunnelError {
        SSHTunnelError(
            .keyUnsupported,
            "passphrase-protected PEM keys are not supported; convert the key to OpenSSH format "
                + "with `ssh-keygen -p -f KEYFILE`, which keeps the passphrase and rewrites the file")
    }

    /// SEC1 "EC PRIVATE KEY" or a PKCS#8 ECDSA key; swift-crypto tells the curves apart by trying.
    private static func ecdsaPEM(_ text: String) throws -> NIOSSHPrivateKey {
        if let key = try? P256.Signing.PrivateKey(pemRepresentation: text) { return NIOSSHPrivateKey(p256Key: key) }
        if let key = try? P384.Signing.PrivateKey(pemRepresentation: text) { return NIOSSHPrivateKey(p384Key: key) }
        if let key = try? P521.Signing.PrivateKey(pemRepresentation: text) { return NIOSSHPrivateKey(p521Key: key) }
        throw SSHTunnelError.unsupportedKey("an EC key on a curve other than P-256, P-384 or P-521")
    }

    /// DER prefix of a PKCS#8 ed25519 key (RFC 8410): the 32-byte seed follows.
    private static let ed25519PKCS8Prefix: [UInt8] = [
        0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ]
    /// The DER-encoded OID rsaEncryption, 1.2.840.113549.1.1.1.
    private static let rsaOID: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01]

    private static func pkcs8(_ der: [UInt8], text: String) throws -> NIOSSHPrivateKey {
        if der.count == 48, Array(der.prefix(16)) == ed25519PKCS8Prefix {
            let key = try Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32))
            return NIOSSHPrivateKey(ed25519Key: key)
        }
        if contains(der.prefix(32), rsaOID) { throw SSHTunnelError.rsaKey() }
        return try ecdsaPEM(text)
    }

    private static func contains(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        let start = haystack.startIndex
        return (start...(haystack.endIndex - needle.count)).contains {
            Array(haystack[$0..<$0 + needle.count]) == needle
        }
    }
}

/// One "-----BEGIN LABEL----- … -----END LABEL-----" block, base64 decoded.
struct PEMBlock {
    var label: String
    var body: [UInt8]
    /// Legacy OpenSSL encryption puts "Proc-Type: 4,ENCRYPTED" headers before the base64.
    var isEncrypted: Bool

    init(_ text: String) throws {
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.first, first.hasPrefix("-----BEGIN "), first.hasSuffix("-----") else {
            throw SSHTunnelError.malformedKey("no \"-----BEGIN …-----\" line")
        }
        label = String(first.dropFirst("-----BEGIN ".count).dropLast(5))
        guard let end = lines.firstIndex(of: "-----END \(label)-----") else {
            throw SSHTunnelError.malformedKey("no \"-----END \(label)-----\" line")
        }
        let inner = lines[1..<end]
        isEncrypted = inner.contains { $0.hasPrefix("Proc-Type:") && $0.contains("ENCRYPTED") }
        let base64 = inner.filter { !$0.contains(":") }.joined()
        guard let data = Data(base64Encoded: base64) else {
            throw SSHTunnelError.malformedKey("the text between the BEGIN and END lines is not base64")
        }
        body = Array(data)
    }
}
