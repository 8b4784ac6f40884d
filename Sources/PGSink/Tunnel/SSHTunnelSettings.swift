/// Where and how to reach the SSH bastion a database hides behind.
///
/// Secrets (`privateKey` text, `passphrase`, `password`) are only ever handed to the SSH
/// layer; no log line or error message includes them.
public struct SSHTunnelSettings: Sendable {
    /// The bastion's host name or address, as it appears in known_hosts.
    public var host: String
    public var port: Int = 22
    public var user: String
    /// A file path, or the key text inline (starts with "-----BEGIN").
    public var privateKey: String?
    /// For an encrypted private key.
    public var passphrase: String?
    /// Password authentication, used when no key is given.
    public var password: String?
    /// A known_hosts file path, or known_hosts lines inline; nil means ~/.ssh/known_hosts.
    public var knownHosts: String?
    /// False only when the user explicitly turned host key checking off.
    public var verifyHostKey: Bool = true

    public init(host: String, user: String) {
        self.host = host
        self.user = user
    }

    /// "host:port", as error messages name the bastion.
    var endpoint: String { "\(host):\(port)" }

    /// The name known_hosts files use: bare for port 22, "[host]:port" otherwise.
    var knownHostsName: String { port == 22 ? host : "[\(host)]:\(port)" }
}
