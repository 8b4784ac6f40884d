import Foundation
import Logging
import PGSinkCore

/// The first SIGINT or SIGTERM of `pgsink run --watch`: no load is cancelled at once; the
/// scheduler starts no new run, lets the running ones finish, and cancels them (rolled back)
/// only after its grace period. A second signal cancels at once (`Interrupt`), a third exits.
public enum WatchStop {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var active = false
    nonisolated(unsafe) private static var received: Int32?

    /// The scheduler takes over the first signal.
    public static func activate() { lock.withLock { active = true } }

    /// Records the first signal while active; false when the signal is not the scheduler's.
    public static func request(_ signal: Int32) -> Bool {
        lock.withLock {
            guard active, received == nil else { return false }
            received = signal
            return true
        }
    }

    public static var signal: Int32? { lock.withLock { received } }
}

/// `pgsink run --watch`: each scheduled pipeline runs when its `SyncSchedule` says it is due, on
/// a thread of its own (an `events` pipeline serves all along and loads on its schedule). A pipeline never overlaps itself; runs missed while it ran or while
/// nothing ran come as one; when the last run began is read from the ledger, so a restart keeps
/// the schedule.
public final class PipelineScheduler: @unchecked Sendable {
    public struct Entry: @unchecked Sendable {
        public var runner: PipelineRunner
        public var schedule: SyncSchedule

        public init(runner: PipelineRunner, schedule: SyncSchedule) {
            self.runner = runner
            self.schedule = schedule
        }
    }

    let entries: [Entry]
    let grace: Double
    let logger: Logger
    let report: @Sendable (String, PipelineOutcome) -> Void
    private let lock = NSLock()
    private var running = Set<String>()
    private var lastStarted: [String: Date] = [:]
    private let finished = DispatchGroup()

    public init(entries: [Entry], grace: Double, logger: Logger, report: @escaping @Sendable (String, PipelineOutcome) -> Void) {
        self.entries = entries
        self.grace = grace
        self.logger = logger
        self.report = report
    }

    /// Runs until a signal stops it; returns whether running loads had to be cancelled.
    public func run() throws -> Bool {
        WatchStop.activate()
        let began = Date()
        for entry in entries {
            let name = entry.runner.pipeline.name
            let row = try entry.runner.ledger().pipelines().first { $0.name == name }
            lastStarted[name] = row?.lastStarted
            let next = entry.schedule.nextDue(lastLoad: anchor(entry, began), now: Date())
            logger.notice("pipeline \(name): next \(entry.runner.pipeline.source.isService ? "load" : "run") \(Self.text(next))")
        }
        for entry in entries where entry.runner.pipeline.source.isService { serve(entry) }
        while WatchStop.signal == nil {
            let now = Date()
            for entry in entries where !entry.runner.pipeline.source.isService {
                let name = entry.runner.pipeline.name
                let due = lock.withLock { !running.contains(name) }
                    && entry.schedule.isDue(lastLoad: anchor(entry, began), now: now)
                if due { start(entry, at: now) }
            }
            Thread.sleep(forTimeInterval: 0.1)
        }
        logger.notice("stopping: waiting up to \(Int(grace))s for running loads to finish")
        if finished.wait(timeout: .now() + grace) == .success { return false }
        logger.warning("grace period over: cancelling the running loads (they roll back)")
        Interrupt.raise(WatchStop.signal ?? SIGTERM)
        finished.wait()
        return true
    }

    /// The last run's start; for a cron schedule that never ran, when watching began (its first
    /// run is the expression's next time).
    private func anchor(_ entry: Entry, _ began: Date) -> Date? {
        let last = lock.withLock { lastStarted[entry.runner.pipeline.name] }
        return last ?? (entry.schedule.cron != nil ? began : nil)
    }

    private func start(_ entry: Entry, at now: Date) {
        let name = entry.runner.pipeline.name
        lock.withLock {
            running.insert(name)
            lastStarted[name] = now
        }
        finished.enter()
        let thread = Thread { [self] in
            defer {
                lock.withLock { _ = running.remove(name) }
                finished.leave()
            }
            do {
                report(name, try entry.runner.run())
            } catch {
                var outcome = PipelineOutcome()
                outcome.status = .failed
                outcome.error = "\(error)"
                report(name, outcome)
            }
            let next = entry.schedule.nextDue(lastLoad: now, now: Date())
            logger.info("pipeline \(name): next run \(Self.text(next))")
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    /// A service pipeline (the event API) runs on a thread of its own until the first signal,
    /// loading on its schedule; it stops as the scheduled runs do (within the grace period).
    private func serve(_ entry: Entry) {
        let name = entry.runner.pipeline.name
        finished.enter()
        let thread = Thread { [self] in
            defer { finished.leave() }
            do {
                let report = self.report
                try entry.runner.serve(stopping: { WatchStop.signal != nil }) { outcome in report(name, outcome) }
            } catch is Interrupted {
                // Its last load was cancelled after the grace period; that run is already reported.
            } catch {
                logger.error("pipeline \(name) stopped: \(Secrets.redact("\(error)"))")
                var outcome = PipelineOutcome()
                outcome.status = .failed
                outcome.error = Secrets.redact("\(error)")
                report(name, outcome)
            }
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    static func text(_ date: Date) -> String {
        ISOTime.format(Int64((date.timeIntervalSince1970 * 1_000_000).rounded()))
    }
}
