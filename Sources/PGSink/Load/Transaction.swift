import Foundation
import PGSinkCore

/// The one place pgsink opens and ends a transaction. Every write (a file load, a stream's flush,
/// an overwrite's long transaction, a parallel load's publish) goes through it, so every source
/// tells a COMMIT whose reply was lost apart from a failure before it.
enum Transaction {
    /// BEGIN, `body`, COMMIT; ROLLBACK when `body` fails.
    static func run<T>(on connection: PGConnection, _ body: () throws -> T) throws -> T {
        try begin(on: connection)
        let value: T
        do {
            value = try body()
        } catch {
            rollback(on: connection)
            throw error
        }
        try commit(on: connection)
        return value
    }

    static func begin(on connection: PGConnection) throws { try connection.execute("BEGIN") }

    /// `body` under a savepoint named `name`: kept when it succeeds. When the server refuses it,
    /// the transaction goes back to the savepoint (alive again) and `recover` decides: its result
    /// stands, or it throws. Outside a transaction the failed statement undid itself, and
    /// `recover` runs all the same. A lost connection is no refusal: it passes through.
    static func savepoint<T>(
        _ name: String, on connection: PGConnection, _ body: () throws -> T, recover: (PGError) throws -> T
    ) throws -> T {
        let inTransaction = connection.inTransaction
        if inTransaction { try connection.execute("SAVEPOINT \(name)") }
        do {
            let value = try body()
            if inTransaction { try connection.execute("RELEASE SAVEPOINT \(name)") }
            return value
        } catch let error as PGError where error.kind == .server {
            if inTransaction { try connection.execute("ROLLBACK TO SAVEPOINT \(name)") }
            return try recover(error)
        }
    }

    static func rollback(on connection: PGConnection) { _ = try? connection.execute("ROLLBACK") }

    /// COMMIT. A connection lost while it ran becomes `CommitUncertain`: the server may have
    /// committed, and only the ledger (the run id of the rows this transaction wrote) can say.
    /// `summary` is what a load reports once committed; an uncertain commit carries it, so a
    /// load the ledger then finds committed can still report it.
    static func commit(on connection: PGConnection, reporting summary: LoadSummary? = nil) throws {
        do {
            try connection.execute("COMMIT")
        } catch let error as PGError where error.isTransient || error.kind == .connection {
            throw CommitUncertain(underlying: error, summary: summary)
        }
    }
}

/// The connection was lost after COMMIT was sent: the transaction may or may not have committed.
/// Whoever runs the transaction reconnects and reads the ledger for its run id.
public struct CommitUncertain: Error, CustomStringConvertible, Sendable {
    public var underlying: PGError
    /// The summary the load would have printed, had the reply arrived.
    public var summary: LoadSummary?

    public init(underlying: PGError, summary: LoadSummary? = nil) {
        self.underlying = underlying
        self.summary = summary
    }

    public var description: String {
        "the connection was lost while committing (\(underlying.message)); whether the commit went through is "
            + "unknown until pgsink can reconnect and read the ledger (_pgsink_loads.run_id)"
    }
}

extension Loader {
    /// The ledger row of a run, read on a fresh connection after a lost one.
    static func resolveLostCommit(runId: String, schema: String, connector: Connector) throws
        -> (connection: PGConnection, committed: (id: Int64, rows: Int)?)
    {
        let connection = try connector.connect()
        return (connection, try committedLoad(runId: runId, schema: schema, on: connection))
    }
}
