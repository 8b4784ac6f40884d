import Foundation
import Logging
import PGSinkCore

/// A protocol front end as the reader of a stream load: it gets each input line in the reader's
/// buffer (which it may change) on the producer thread.
protocol StreamReading: AnyObject, Sendable {
    func process(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) throws
    /// No input for a while: a batch may be old enough to commit.
    func idle() throws
    func finish() throws
}

/// One stream load: the reader (a `StreamReading` front end feeding a `StreamTarget`) on a producer
/// thread, the `StreamWriter` on the calling thread, a bounded queue between them.
final class StreamLoad {
    let queue = WorkQueue<StreamOp>(capacity: 1)
    let engine: StreamTarget
    let writer: StreamWriter
    private let settings: StreamSettings

    init(
        settings: StreamSettings, connection: PGConnection, connector: Connector, retries: Int, logger: Logger,
        keepEveryState: Bool, emitState: @escaping (String) -> Void
    ) {
        self.settings = settings
        engine = StreamTarget(settings: settings, logger: logger, queue: queue, keepEveryState: keepEveryState)
        engine.serverInput = ServerInputCheck(connect: connector.connect, logger: logger)
        writer = StreamWriter(
            settings: settings, connection: connection, connector: connector, retries: retries, logger: logger,
            emitState: emitState)
    }

    /// Reads `input` to its end on a thread of its own, plans and encodes on a second, and writes
    /// on this one.
    func run(reader: StreamReading, input: Int32) throws {
        try run(reader: reader, source: MessageInput(fd: input))
    }

    /// The same with messages from any source (a replication stream).
    func run(reader: StreamReading, source: some MessageSource) throws {
        let done = DispatchSemaphore(value: 0)
        let stage = engine.stage
        let wait = min(settings.batchSeconds, 0.25)
        let reading = Thread {
            defer { done.signal() }
            var lines = source
            do {
                while true {
                    if stage.isCancelled { return }
                    try Interrupt.check()
                    switch try lines.next(timeout: wait) {
                    case .line(let bytes, let count):
                        try reader.process(bytes, count: count)
                    case .timeout:
                        try reader.idle()
                    case .end:
                        try reader.finish()
                        stage.finish()
                        return
                    }
                }
            } catch {
                stage.finish(error: error)
            }
        }
        let engine = self.engine
        let encoding = Thread {
            defer { done.signal() }
            engine.encodeAll()
        }
        for thread in [reading, encoding] {
            thread.stackSize = 8 << 20
            thread.start()
        }
        defer {
            done.wait()
            done.wait()
        }
        do {
            try writer.run(queue)
        } catch {
            stage.cancel()
            throw error
        }
    }
}

/// Where a stream load's messages come from, one at a time, each valid until the next.
protocol MessageSource: Sendable {
    mutating func next(timeout: Double) throws -> MessageInput.Next
}

/// Lines of a file descriptor, handed out in place, waiting at most a timeout for the next one.
struct MessageInput: MessageSource, @unchecked Sendable {
    enum Next {
        case line(UnsafeMutablePointer<UInt8>, Int)
        case timeout
        case end
    }

    let fd: Int32
    private let buffer = ByteStorage(capacity: 4 << 20)
    private var start = 0
    private var searched = 0
    private var eof = false

    init(fd: Int32) { self.fd = fd }

    /// The next line (without its newline). Valid until the next call.
    mutating func next(timeout: Double) throws -> Next {
        while true {
            if let newline = memchr(buffer.base + searched, 10, buffer.count - searched) {
                let position = buffer.base.distance(to: newline.assumingMemoryBound(to: UInt8.self))
                let line = buffer.base + start
                let count = position - start
                start = position + 1
                searched = start
                return .line(line, count)
            }
            searched = buffer.count
            if eof {
                guard start < buffer.count else { return .end }
                let line = buffer.base + start
                let count = buffer.count - start
                start = buffer.count
                return .line(line, count)
            }
            if start > 0 {
                buffer.removeFirst(start)
                searched -= start
                start = 0
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(timeout * 1000))
            if ready == 0 { return .timeout }
            if ready < 0 {
                if errno == EINTR { continue }
                throw InputError(source: "stdin", line: 0, message: "reading the input failed: \(String(cString: strerror(errno)))")
            }
            buffer.reserve(1 << 20)
            let n = read(fd, buffer.base + buffer.count, buffer.capacity - buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw InputError(source: "stdin", line: 0, message: "reading the input failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { eof = true } else { buffer.count += n }
        }
    }
}
