import Foundation

/// A bounded hand-over between the thread that reads and encodes and the thread that owns the
/// connection, so encoding the next batch overlaps sending the current one.
final class WorkQueue<Item>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Item] = []
    private let capacity: Int
    private var finished = false
    private var producerError: Error?
    private var cancelled = false

    init(capacity: Int) { self.capacity = capacity }

    struct Cancelled: Error {}

    /// Blocks while the queue is full. Throws once the consumer has given up.
    func push(_ item: Item) throws {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !cancelled { condition.wait() }
        if cancelled { throw Cancelled() }
        items.append(item)
        condition.broadcast()
    }

    /// The next item; nil when the producer has finished. Rethrows the producer's error; throws
    /// `Cancelled` once a consumer has given up (other consumers then stop too).
    func pop() throws -> Item? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !finished && !cancelled { condition.wait() }
        if cancelled { throw Cancelled() }
        if !items.isEmpty {
            let item = items.removeFirst()
            condition.broadcast()
            return item
        }
        if let producerError { throw producerError }
        return nil
    }

    /// Whether the consumer has given up: the producer stops reading.
    var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }

    func finish(error: Error? = nil) {
        condition.lock()
        finished = true
        producerError = error
        condition.broadcast()
        condition.unlock()
    }

    func cancel() {
        condition.lock()
        cancelled = true
        items.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}
