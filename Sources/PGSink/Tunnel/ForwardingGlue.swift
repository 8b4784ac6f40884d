import NIOCore

/// One half of a pair that joins two channels: what one side reads, the other writes.
///
/// Reads are only requested while the other side can take more, so a slow database or
/// client applies backpressure instead of growing buffers. End of input becomes a
/// half-close on the other side (PostgreSQL's COPY and terminate flows rely on orderly
/// shutdown), and a close or error on either side closes both.
final class ForwardingGlue: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: ForwardingGlue?
    private var context: ChannelHandlerContext?
    private var readWanted = false

    private init() {}

    /// The two halves reference each other until their channels close (`handlerRemoved`).
    static func pair() -> (ForwardingGlue, ForwardingGlue) {
        let one = ForwardingGlue()
        let other = ForwardingGlue()
        one.partner = other
        other.partner = one
        return (one, other)
    }

    private var isWritable: Bool { context?.channel.isWritable ?? false }

    private func resumeReading() {
        guard readWanted else { return }
        readWanted = false
        context?.read()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isWritable { partner?.resumeReading() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner?.context?.write(data, promise: nil)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.context?.flush()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            partner?.context?.close(mode: .output, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.context?.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        partner?.context?.close(promise: nil)
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { partner?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partner?.isWritable ?? false {
            context.read()
        } else {
            readWanted = true
        }
    }
}
