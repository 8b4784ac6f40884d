/// Why an SSH tunnel could not be opened or broke.
///
/// `description` is short, says what to do, and never contains key material, a
/// passphrase or a password: it ends up in logs and in RudderStack's job output.
public struct SSHTunnelError: Error, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong, for callers that react differently (e.g. retry only `.unreachable`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        private init(_ name: String) { description = name }

        public static let unreachable = Code("unreachable")
        public static let timedOut = Code("timedOut")
        public static let hostKeyMismatch = Code("hostKeyMismatch")
        public static let unknownHost = Code("unknownHost")
        public static let knownHostsUnreadable = Code("knownHostsUnreadable")
        public static let authenticationFailed = Code("authenticationFailed")
        public static let keyUnreadable = Code("keyUnreadable")
        public static let keyUnsupported = Code("keyUnsupported")
        public static let passphraseRequired = Code("passphraseRequired")
        public static let wrongPassphrase = Code("wrongPassphrase")
        public static let noCredentials = Code("noCredentials")
        public static let sshFailure = Code("sshFailure")
        public static let listenFailed = Code("listenFailed")
    }

    public var code: Code
    public var message: String
    /// The lower-level error, for `debugDescription` only: NIO errors carry no secrets,
    /// but their text is not written for users.
    public var underlying: Error?

    init(_ code: Code, _ message: String, underlying: Error? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// Network trouble that may go away on a retry; everything else needs a config change.
    public var isTransient: Bool { code == .unreachable || code == .timedOut || code == .sshFailure }

    public var description: String { "ssh tunnel: \(message)" }

    public var debugDescription: String {
        guard let underlying else { return "SSHTunnelError(\(code)): \(message)" }
        return "SSHTunnelError(\(code)): \(message) [\(String(reflecting: underlying))]"
    }
}

extension SSHTunnelError {
    static let supportedKeyFormats =
        "supported: OpenSSH keys (\"BEGIN OPENSSH PRIVATE KEY\") of type ed25519 or ecdsa P-256/P-384/P-521, "
        + "optionally passphrase-protected, and unencrypted PEM \"BEGIN EC PRIVATE KEY\" "
        + "or PKCS#8 \"BEGIN PRIVATE KEY\""

    static func unsupportedKey(_ what: String) -> SSHTunnelError {
        SSHTunnelError(.keyUnsupported, "the private key is \(what), which is not supported (\(supportedKeyFormats))")
    }

    static func rsaKey() -> SSHTunnelError {
        SSHTunnelError(
            .keyUnsupported,
            "RSA private keys are not supported (the SSH library signs with ed25519 and ECDSA only); "
                + "make an ed25519 key with `ssh-keygen -t ed25519` and add its .pub line to "
                + "the bastion's authorized_keys")
    }

    /// A name read from a key file (type, cipher), or a placeholder: in a corrupt file the
    /// "name" could be bytes of the key itself, which must not reach a message.
    static func printableName(_ name: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@.-_")
        return name.count <= 40 && name.allSatisfy(allowed.contains) ? name : "an unrecognised kind"
    }

    static func malformedKey(_ detail: String) -> SSHTunnelError {
        SSHTunnelError(.keyUnreadable, "the private key is malformed (\(detail)); \(supportedKeyFormats)")
    }
}
