import Logging

// Stand-in until the in-process tunnel lands: the same settings, and a tunnel that refuses.
public struct SSHTunnelSettings: Sendable {
    public var host: String
    public var port: Int = 22
    public var user: String
    public var privateKey: String?
    public var passphrase: String?
    public var password: String?
    public var knownHosts: String?
    public var verifyHostKey: Bool = true
    public init(host: String, user: String) {
        self.host = host
        self.user = user
    }
}

public final class SSHTunnel: @unchecked Sendable {
    public let localPort: Int = 0
    public static func open(_ settings: SSHTunnelSettings, toHost targetHost: String, port targetPort: Int, logger: Logger) throws -> SSHTunnel {
        throw ConnectionError("SSH tunnels are not available in this build")
    }
    public func close() {}
}
