import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A local port that leads, through an SSH bastion, to a database the bastion can reach
/// (RudderStack's "SSH tunnel" connection option).
///
/// The API is synchronous because the CLI is; NIO runs on one event-loop thread the tunnel owns.
/// One SSH connection carries every forwarded connection, each in its own direct-tcpip channel,
/// so pgsink's parallel loader connections share one login to the bastion.
public final class SSHTunnel: @unchecked Sendable {
    /// Connect libpq to host=127.0.0.1 port=`localPort`.
    public let localPort: Int

    private let group: MultiThreadedEventLoopGroup
    private let ssh: Channel
    private let listener: Channel
    private let logger: Logger
    private let closed = NIOLockedValueBox(false)

    private init(localPort: Int, group: MultiThreadedEventLoopGroup, ssh: Channel, listener: Channel, logger: Logger) {
        self.localPort = localPort
        self.group = group
        self.ssh = ssh
        self.listener = listener
        self.logger = logger
    }

    /// Connects and authenticates to the bastion, verifies its host key, then listens on
    /// 127.0.0.1:<ephemeral port>; every accepted connection is forwarded through a `direct-tcpip`
    /// channel to targetHost:targetPort as seen from the bastion.
    public static func open(
        _ settings: SSHTunnelSettings, toHost targetHost: String, port targetPort: Int, logger: Logger
    ) throws -> SSHTunnel {
        // Local problems (key, known_hosts) first: they need no network and have the clearest fixes.
        let credentials = try SSHCredentials(settings)
        let knownHosts = settings.verifyHostKey ? try KnownHosts.load(settings.knownHosts) : nil
        let target = Target(host: targetHost, port: targetPort)
        var logger = logger
        logger[metadataKey: "ssh.bastion"] = "\(settings.endpoint)"

        // One thread: the SSH channel, the listener and every forwarded socket share a loop,
        // which is what lets the forwarding code touch the NIOSSHHandler without hops.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            let ssh = try connect(
                settings, credentials: credentials, knownHosts: knownHosts, on: group.next(), logger: logger)
            do {
                let listener = try listen(via: ssh, group: group, target: target, logger: logger)
                let port = listener.localAddress?.port ?? 0
                logger.info(
                    "ssh tunnel open",
                    metadata: [
                        "ssh.user": "\(settings.user)", "ssh.target": "\(target.description)",
                        "ssh.local_port": "\(port)",
                    ])
                return SSHTunnel(localPort: port, group: group, ssh: ssh, listener: listener, logger: logger)
            } catch {
                try? ssh.close().wait()
                throw error
            }
        } catch {
            try? group.syncShutdownGracefully()
            throw error
        }
    }

    /// Stops listening and ends the SSH connection with every forwarded connection on it. Idempotent.
    public func close() {
        let wasClosed = closed.withLockedValue { closed in
            defer { closed = true }
            return closed
        }
        guard !wasClosed else { return }
        listener.close(promise: nil)
        ssh.close(promise: nil)
        if MultiThreadedEventLoopGroup.currentEventLoop == nil {
            try? group.syncShutdownGracefully()
        } else {
            // Blocking shutdown on one of our own threads would deadlock.
            group.shutdownGracefully { _ in }
        }
        logger.debug("ssh tunnel closed")
    }

    deinit { close() }
}
