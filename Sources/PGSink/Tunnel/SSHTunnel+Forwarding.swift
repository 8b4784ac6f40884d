import Logging
import NIOCore
import NIOPosix
import NIOSSH

extension SSHTunnel {
    /// Listens on 127.0.0.1 (never a public interface: the tunnel has no authentication of its own)
    /// and forwards every accepted connection through its own direct-tcpip channel.
    static func listen(
        via ssh: Channel, group: EventLoopGroup, target: Target, logger: Logger
    ) throws -> Channel {
        let handler = try ssh.eventLoop.submit {
            NIOLoopBound(try ssh.pipeline.syncOperations.handler(type: NIOSSHHandler.self), eventLoop: ssh.eventLoop)
        }.wait()
        do {
            return try ServerBootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { inbound in
                    forward(inbound, through: handler, to: target, logger: logger)
                }
                .bind(host: "127.0.0.1", port: 0)
                .wait()
        } catch {
            throw SSHTunnelError(.listenFailed, "cannot listen on 127.0.0.1: \(error)", underlying: error)
        }
    }

    struct Target: Sendable {
        var host: String
        var port: Int
        var description: String { "\(host):\(port)" }
    }

    /// Runs on the one event loop the tunnel owns, which is also the SSH channel's, so the
    /// NIOSSHHandler may be used directly.
    private static func forward(
        _ inbound: Channel, through ssh: NIOLoopBound<NIOSSHHandler>, to target: Target, logger: Logger
    ) -> EventLoopFuture<Void> {
        guard let origin = inbound.remoteAddress else {
            return inbound.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel)
        }
        let opened = inbound.eventLoop.makePromise(of: Channel.self)
        let type = SSHChannelType.directTCPIP(
            .init(targetHost: target.host, targetPort: target.port, originatorAddress: origin))
        ssh.value.createChannel(opened, channelType: type) { child, _ in
            child.setOption(ChannelOptions.allowRemoteHalfClosure, value: true).flatMapThrowing {
                let (near, far) = ForwardingGlue.pair()
                try child.pipeline.syncOperations.addHandler(SSHChannelDataUnwrapper())
                try child.pipeline.syncOperations.addHandler(far)
                try inbound.pipeline.syncOperations.addHandler(near)
            }
        }
        return opened.futureResult.map { _ in
            logger.debug("ssh tunnel connection opened", metadata: ["ssh.target": "\(target.description)"])
        }.flatMapErrorThrowing { error in
            logger.warning(
                "ssh tunnel could not open a channel to the target",
                metadata: ["ssh.target": "\(target.description)", "error": "\(error)"])
            throw error
        }
    }
}

/// Direct-tcpip channels carry plain bytes; NIOSSH wraps them in `SSHChannelData`.
final class SSHChannelDataUnwrapper: ChannelDuplexHandler {
    typealias InboundIn = SSHChannelData
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = SSHChannelData

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Only session channels have stderr; anything else on a tunnel is dropped.
        let message = unwrapInboundIn(data)
        guard case .channel = message.type, case .byteBuffer(let bytes) = message.data else { return }
        context.fireChannelRead(wrapInboundOut(bytes))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let message = SSHChannelData(type: .channel, data: .byteBuffer(unwrapOutboundIn(data)))
        context.write(wrapOutboundOut(message), promise: promise)
    }
}
