import Logging
import NIOCore
import NIOSSH

/// How the client proves who it is; loaded before connecting so key problems surface without network noise.
struct SSHCredentials: Sendable, CustomStringConvertible {
    enum Method: Sendable {
        case key(NIOSSHPrivateKey)
        case password(String)
    }

    var method: Method

    init(_ settings: SSHTunnelSettings) throws {
        if let key = settings.privateKey, !key.isEmpty {
            method = .key(try SSHKeyFile.load(key, passphrase: settings.passphrase))
        } else if let password = settings.password, !password.isEmpty {
            method = .password(password)
        } else {
            throw SSHTunnelError(.noCredentials, "no SSH private key or password given for user \(settings.user)")
        }
    }

    /// Public facts only, so an accidental interpolation cannot leak the secret.
    var description: String {
        switch method {
        case .key(let key): "private key \(key.publicKey.openSSHType) \(key.publicKey.sha256Fingerprint)"
        case .password: "password"
        }
    }
}

/// Offers the one credential once; when the server asks again, it refused it.
final class UserAuthentication: NIOSSHClientUserAuthenticationDelegate {
    private let settings: SSHTunnelSettings
    private let credentials: SSHCredentials
    private let logger: Logger
    private var offered = false

    init(_ settings: SSHTunnelSettings, _ credentials: SSHCredentials, logger: Logger) {
        self.settings = settings
        self.credentials = credentials
        self.logger = logger
    }

    func nextAuthenticationType(
        availableMethods: NIOSSHAvailableUserAuthenticationMethods,
        nextChallengePromise: EventLoopPromise<NIOSSHUserAuthenticationOffer?>
    ) {
        let (offer, method): (NIOSSHUserAuthenticationOffer.Offer, NIOSSHAvailableUserAuthenticationMethods) =
            switch credentials.method {
            case .key(let key): (.privateKey(.init(privateKey: key)), .publicKey)
            case .password(let password): (.password(.init(password: password)), .password)
            }
        guard !offered, availableMethods.contains(method) else {
            nextChallengePromise.fail(refused(availableMethods, wanted: method))
            return
        }
        offered = true
        logger.debug(
            "ssh authenticating", metadata: ["ssh.user": "\(settings.user)", "ssh.credential": "\(credentials)"])
        nextChallengePromise.succeed(.init(username: settings.user, serviceName: "", offer: offer))
    }

    private func refused(
        _ available: NIOSSHAvailableUserAuthenticationMethods, wanted: NIOSSHAvailableUserAuthenticationMethods
    ) -> SSHTunnelError {
        var accepted: [String] = []
        if available.contains(.publicKey) { accepted.append("publickey") }
        if available.contains(.password) { accepted.append("password") }
        let acceptedList = accepted.isEmpty ? "methods we do not support" : accepted.joined(separator: ", ")
        let hint =
            switch (available.contains(wanted), credentials.method) {
            case (false, _): "the bastion accepts only: \(acceptedList)"
            case (true, .key): "check the user name and that the key's .pub line is in the bastion's authorized_keys"
            case (true, .password): "check the user name and the password"
            }
        return SSHTunnelError(
            .authenticationFailed,
            "the bastion \(settings.endpoint) refused user \(settings.user) with \(credentials); \(hint)")
    }
}

/// Trusts the bastion only if known_hosts lists exactly the key it presents.
final class HostKeyCheck: NIOSSHClientServerAuthenticationDelegate {
    private let settings: SSHTunnelSettings
    private let knownHosts: KnownHosts?
    private let logger: Logger

    /// `knownHosts` nil means checking was explicitly turned off.
    init(_ settings: SSHTunnelSettings, knownHosts: KnownHosts?, logger: Logger) {
        self.settings = settings
        self.knownHosts = knownHosts
        self.logger = logger
    }

    func validateHostKey(hostKey: NIOSSHPublicKey, validationCompletePromise: EventLoopPromise<Void>) {
        let key = "\(hostKey.openSSHType) \(hostKey.sha256Fingerprint)"
        guard let knownHosts else {
            logger.warning(
                "ssh host key not verified (checking disabled)",
                metadata: ["ssh.bastion": "\(settings.endpoint)", "ssh.host_key": "\(key)"])
            validationCompletePromise.succeed()
            return
        }
        switch knownHosts.verdict(for: hostKey, host: settings.knownHostsName) {
        case .trusted:
            logger.debug("ssh host key verified", metadata: ["ssh.host_key": "\(key)"])
            validationCompletePromise.succeed()
        case .mismatch:
            validationCompletePromise.fail(
                SSHTunnelError(
                    .hostKeyMismatch,
                    "host key for \(settings.endpoint) does not match known_hosts (server offers \(key); checked "
                        + "\(knownHosts.origin)); "
                        + "if the server's key changed on purpose, update known_hosts, otherwise someone may be "
                        + "intercepting the connection"))
        case .unknown:
            validationCompletePromise.fail(
                SSHTunnelError(
                    .unknownHost,
                    "host \(settings.knownHostsName) is not in \(knownHosts.origin) (the server offers \(key)); "
                        + "add its key to known_hosts after checking the fingerprint, e.g. "
                        + "`ssh-keyscan -p \(settings.port) \(settings.host)`"))
        }
    }
}
