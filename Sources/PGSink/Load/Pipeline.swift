import Foundation
import PGSinkCore

/// The producer thread and the hand-over queue of one load: reading and encoding run on their
/// own thread while the caller's thread (or threads) send.
final class Pipeline: @unchecked Sendable {
    let producer: BatchProducer
    let queue = WorkQueue<LoadStep>(capacity: 1)
    private let done = DispatchSemaphore(value: 0)

    /// `readers` above 1: the inputs are read on that many threads when they can be
    /// (`ParallelRead`: several files, or a large file cut at row boundaries).
    init(producer: BatchProducer, readers: Int = 1) {
        self.producer = producer
        let queue = self.queue
        let done = self.done
        let thread = Thread {
            do {
                if let parallel = try ParallelRead.planned(for: producer, readers: readers) {
                    try parallel.run(into: queue)
                } else {
                    try producer.run(into: queue)
                }
                queue.finish()
            } catch {
                queue.finish(error: error)
            }
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// Hands every step to `body` in order, then waits for the producer. A failure on either
    /// side stops the other and is rethrown.
    func drain(_ body: (LoadStep) throws -> Void) throws {
        do {
            while let step = try queue.pop() { try body(step) }
        } catch {
            abandon()
            throw error
        }
        done.wait()
    }

    /// Stops the producer and waits for its thread to end.
    private func abandon() {
        queue.cancel()
        done.wait()
    }

    /// Waits for the producer after every step was taken.
    func waitForProducer() { done.wait() }
}
