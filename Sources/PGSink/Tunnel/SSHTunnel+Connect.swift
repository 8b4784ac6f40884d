import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSH

extension SSHTunnel {
    /// Applies to the TCP connect; a bastion that drops packets must not hang a load for minutes.
    static let connectTimeout = TimeAmount.seconds(10)
    /// Key exchange and authentication after the TCP connect; SSH servers greet at once, so
    /// silence this long means the port belongs to something else (it happens: a database port).
    static let handshakeTimeout = TimeAmount.seconds(10)

    /// Connects to the bastion and returns its channel once the user is authenticated.
    static func connect(
        _ settings: SSHTunnelSettings, credentials: SSHCredentials, knownHosts: KnownHosts?,
        on loop: EventLoop, logger: Logger
    ) throws -> Channel {
        let authenticated = loop.makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let client = SSHClientConfiguration(
                        userAuthDelegate: UserAuthentication(settings, credentials, logger: logger),
                        serverAuthDelegate: HostKeyCheck(settings, knownHosts: knownHosts, logger: logger))
                    let ssh = NIOSSHHandler(
                        role: .client(client), allocator: channel.allocator, inboundChildChannelInitializer: nil)
                    let watcher = HandshakeWatcher(settings.endpoint, authenticated: authenticated, logger: logger)
                    try channel.pipeline.syncOperations.addHandler(ssh)
                    try channel.pipeline.syncOperations.addHandler(watcher)
                }
            }
        let channel: Channel
        do {
            channel = try bootstrap.connect(host: settings.host, port: settings.port).wait()
        } catch {
            let failure = connectError(error, settings)
            authenticated.fail(failure)
            throw failure
        }
        let timeout = loop.scheduleTask(in: handshakeTimeout) {
            authenticated.fail(
                SSHTunnelError(
                    .timedOut,
                    "the bastion \(settings.endpoint) accepted the connection but did not finish the SSH handshake "
                        + "within \(handshakeTimeout.nanoseconds / 1_000_000_000) s; is it an SSH server?"))
        }
        defer { timeout.cancel() }
        do {
            try authenticated.futureResult.wait()
        } catch {
            channel.close(promise: nil)
            throw error
        }
        return channel
    }

    private static func connectError(_ error: Error, _ settings: SSHTunnelSettings) -> SSHTunnelError {
        let reason: String
        switch error {
        case ChannelError.connectTimeout:
            reason = "no answer within \(connectTimeout.nanoseconds / 1_000_000_000) s"
        case let error as NIOConnectionError where error.connectionErrors.isEmpty:
            reason = "cannot resolve the host name"
        case let error as NIOConnectionError:
            reason = error.connectionErrors.map { describe($0.error) }.first ?? "connection failed"
        default:
            reason = describe(error)
        }
        return SSHTunnelError(
            .unreachable,
            "cannot connect to the bastion \(settings.endpoint): \(reason); check the SSH host, port and firewall",
            underlying: error)
    }

    private static func describe(_ error: Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
        if case ChannelError.connectTimeout = error { return "no answer within the timeout" }
        return String(describing: error)
    }
}

/// Completes `authenticated` when NIOSSH reports success, or fails it with the first error;
/// after that it only logs, because the tunnel owner learns of a dead connection from failing forwards.
final class HandshakeWatcher: ChannelInboundHandler {
    typealias InboundIn = Any

    private let endpoint: String
    private let authenticated: EventLoopPromise<Void>
    private let logger: Logger
    private var isAuthenticated = false

    init(_ endpoint: String, authenticated: EventLoopPromise<Void>, logger: Logger) {
        self.endpoint = endpoint
        self.authenticated = authenticated
        self.logger = logger
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is UserAuthSuccessEvent {
            isAuthenticated = true
            authenticated.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        let failure =
            error as? SSHTunnelError
            ?? SSHTunnelError(.sshFailure, "the SSH session with \(endpoint) failed: \(error)", underlying: error)
        if isAuthenticated {
            logger.warning("ssh connection failed", metadata: ["ssh.bastion": "\(endpoint)", "error": "\(failure)"])
        }
        authenticated.fail(failure)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if isAuthenticated {
            logger.info("ssh connection closed", metadata: ["ssh.bastion": "\(endpoint)"])
        }
        authenticated.fail(
            SSHTunnelError(.sshFailure, "the bastion \(endpoint) closed the connection during the SSH handshake"))
        context.fireChannelInactive()
    }
}
