import Foundation

/// SIGINT and SIGTERM while a load runs: every open connection's running statement is cancelled
/// (libpq's PQcancel), readers stop at their next record, and the load fails as any failed load
/// does (rolled back, hidden tables dropped), so the command can exit 130 or 143 having
/// committed nothing of the load in progress.
public enum Interrupt {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var received: Int32?
    nonisolated(unsafe) private static var live: [ObjectIdentifier: WeakConnection] = [:]
    nonisolated(unsafe) private static var graceful = false

    private struct WeakConnection {
        weak var connection: PGConnection?
    }

    /// The signal received, if any.
    public static var signal: Int32? { lock.withLock { received } }

    /// Throws `Interrupted` once a signal has arrived.
    public static func check() throws {
        if let signal { throw Interrupted(signal: signal) }
    }

    /// Records the signal and cancels what every open connection is running (only records it
    /// while `stopsGracefully`).
    public static func raise(_ signal: Int32) {
        let connections = lock.withLock {
            if received == nil { received = signal }
            return graceful ? [] : live.values.compactMap(\.connection)
        }
        for connection in connections { connection.cancel() }
    }

    /// A command that stops by itself once a signal is recorded (`pgsink serve`: it finishes the
    /// requests in flight and loads what they staged) turns cancelling off. A second signal still
    /// ends the process at once.
    public static func stopsGracefully(_ on: Bool) {
        lock.withLock { graceful = on }
    }

    /// Forgets the signal, and cancels again on the next one: the command has stopped what the
    /// signal asked it to stop, and what it does last (a final load) may still be interrupted.
    public static func reset() {
        lock.withLock {
            received = nil
            graceful = false
        }
    }

    static func register(_ connection: PGConnection) {
        lock.withLock { live[ObjectIdentifier(connection)] = WeakConnection(connection: connection) }
    }

    static func unregister(_ connection: PGConnection) {
        _ = lock.withLock { live.removeValue(forKey: ObjectIdentifier(connection)) }
    }
}

/// A load stopped by SIGINT or SIGTERM.
public struct Interrupted: Error, CustomStringConvertible, Sendable {
    public var signal: Int32

    public init(signal: Int32) { self.signal = signal }

    public var name: String { signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : "signal \(signal)" }
    /// 128 + the signal, as shells report a process the signal ended.
    public var exitCode: Int32 { 128 + signal }
    public var description: String { "interrupted by \(name)" }
}
