import Foundation
import Logging
import PGSinkCore

/// The durable side of `pgsink serve`: accepted events are committed to a staging table before
/// their request is answered. One thread owns the staging connection and commits whatever
/// requests are waiting in one transaction (group commit), so many concurrent requests cost one
/// COPY and one COMMIT, and ids are handed out in commit order (the loader reads `id > last`).
public final class EventStaging: @unchecked Sendable {
    /// A request's events: the namespace each lands in and its enriched JSON.
    public struct Submission: Sendable {
        var events: [(namespace: String, json: String)]
        var bytes: Int
        var done: @Sendable (Error?) -> Void
    }

    public struct Full: Error, CustomStringConvertible, Sendable {
        public var description: String {
            "the loader is behind: too many events are staged and not yet loaded; retry later"
        }
    }

    let schema: String
    private let connector: Connector
    private let logger: Logger
    /// Staged and not yet loaded, at most (events); past it requests get 429.
    let bound: Int
    private let lock = NSCondition()
    private var waiting: [Submission] = []
    private var waitingBytes = 0
    private var stopped = false
    private var thread: Thread?
    /// The newest id committed here, and the newest the loader has loaded.
    private(set) var lastStaged: Int64 = 0
    private var lastLoaded: Int64 = 0
    /// The newest id and the time of each group commit not yet loaded, oldest first (for the load lag).
    private var unloadedCommits: [(newest: Int64, at: Date)] = []

    /// Bytes of requests waiting for the next group commit, at most (memory stays flat).
    static let waitingLimit = 64 << 20

    public init(schema: String, connector: Connector, bound: Int, logger: Logger) {
        self.schema = schema
        self.connector = connector
        self.bound = bound
        self.logger = logger
    }

    var table: TableName { TableName(schema: schema, name: Self.tableName) }
    static let tableName = "_pgsink_events"

    static func create(schema: String) -> [String] {
        [
            "CREATE SCHEMA IF NOT EXISTS \(quoteIdentifier(schema))",
            "CREATE TABLE IF NOT EXISTS \(TableName(schema: schema, name: tableName).quoted) (id bigserial PRIMARY KEY, "
                + "namespace text NOT NULL, staged_at timestamptz NOT NULL DEFAULT clock_timestamp(), event jsonb NOT NULL)",
        ]
    }

    /// Creates the table and starts the committing thread; `loaded` is where the loader stands.
    public func start(loaded: Int64) throws {
        let connection = try connector.connect()
        for statement in Self.create(schema: schema) { try connection.execute(statement) }
        let newest = try connection.execute("SELECT coalesce(max(id), 0)::text FROM \(table.quoted)").value(0, 0)
        lock.lock()
        lastStaged = Int64(newest ?? "0") ?? 0
        lastLoaded = loaded
        lock.unlock()
        let thread = Thread { [self] in run(connection) }
        thread.name = "pgsink-staging"
        self.thread = thread
        thread.start()
    }

    /// The loader committed everything up to `id`.
    func loaded(upTo id: Int64) {
        lock.lock()
        lastLoaded = max(lastLoaded, id)
        let loaded = lastLoaded
        unloadedCommits.removeAll { $0.newest <= loaded }
        lock.unlock()
    }

    /// Seconds since the oldest event staged and not yet loaded was committed (0 when none is).
    var loadLag: Double {
        lock.lock()
        defer { lock.unlock() }
        return unloadedCommits.first.map { Date().timeIntervalSince($0.at) } ?? 0
    }

    /// Events staged and not yet loaded.
    var backlog: Int64 {
        lock.lock()
        defer { lock.unlock() }
        return lastStaged - lastLoaded
    }

    /// Queues a request's events for the next group commit; `done` runs once they are committed
    /// (nil) or not (the error). Refused at once when the loader is too far behind.
    func submit(_ submission: Submission) throws {
        lock.lock()
        defer { lock.unlock() }
        if stopped { throw LoadError("the server is stopping") }
        // Refused while the backlog is at the bound (not when this request would pass it: a batch
        // bigger than the bound must get in once the loader has caught up).
        if lastStaged - lastLoaded >= Int64(bound) || waitingBytes > Self.waitingLimit {
            throw Full()
        }
        waiting.append(submission)
        waitingBytes += submission.bytes
        lock.signal()
    }

    /// Commits what is waiting and ends the thread.
    public func stop() {
        lock.lock()
        stopped = true
        lock.signal()
        lock.unlock()
        while true {
            lock.lock()
            let running = thread != nil
            lock.unlock()
            if !running { return }
            Thread.sleep(forTimeInterval: 0.01)
        }
    }

    private func run(_ first: PGConnection) {
        var connection: PGConnection? = first
        while true {
            lock.lock()
            while waiting.isEmpty && !stopped { lock.wait() }
            if waiting.isEmpty && stopped {
                thread = nil
                lock.unlock()
                return
            }
            let group = waiting
            waiting = []
            waitingBytes = 0
            lock.unlock()
            do {
                if connection == nil { connection = try connector.connect() }
                let newest = try commit(group, on: connection!)
                lock.lock()
                lastStaged = max(lastStaged, newest)
                if newest > lastLoaded { unloadedCommits.append((newest, Date())) }
                lock.unlock()
                for submission in group { submission.done(nil) }
            } catch {
                // Not acknowledged: the clients retry. A connection that failed is made anew.
                logger.error("staging \(group.count) request(s) failed: \(error)")
                connection = nil
                for submission in group { submission.done(error) }
            }
        }
    }

    /// One transaction: every event of the group, COPYed; returns the newest id.
    private func commit(_ group: [Submission], on connection: PGConnection) throws -> Int64 {
        let data = ByteStorage(capacity: group.reduce(64) { $0 + $1.bytes + 64 * $1.events.count })
        for submission in group {
            for (namespace, json) in submission.events {
                Self.appendText(namespace, to: data)
                data.append(9)
                Self.appendText(json, to: data)
                data.append(10)
            }
        }
        try connection.execute("BEGIN")
        do {
            _ = try connection.copyIn("COPY \(table.quoted) (namespace, event) FROM STDIN", data: data)
            let newest = try connection.execute("SELECT currval(pg_get_serial_sequence('\(table.quoted.replacing("'", with: "''"))', 'id'))::text")
                .value(0, 0)
            try connection.execute("COMMIT")
            return Int64(newest ?? "0") ?? 0
        } catch {
            _ = try? connection.execute("ROLLBACK")
            throw error
        }
    }

    /// Text COPY's escaping of one field.
    static func appendText(_ text: String, to data: ByteStorage) {
        for byte in text.utf8 {
            switch byte {
            case 92: data.append(92); data.append(92)
            case 9: data.append(92); data.append(UInt8(ascii: "t"))
            case 10: data.append(92); data.append(UInt8(ascii: "n"))
            case 13: data.append(92); data.append(UInt8(ascii: "r"))
            default: data.append(byte)
            }
        }
    }
}
