import Foundation
import Logging
import PGSinkCore

/// The connection side of a stream load (Singer, Airbyte): it takes the reader's operations in
/// order and owns every transaction. A commit writes each table's ledger row and the source's
/// state with the data, and only then are the states handed out. A connection lost inside a
/// transaction is replaced and the transaction run again from its operations (kept until it
/// commits); one lost at COMMIT is resolved by the ledger's run id, so nothing commits twice.
///
/// Overwrite tables live in one long transaction on a second connection (their old rows deleted
/// at the start, the new ones visible at its commit, at the end of the input), so readers never
/// see a half-written table and views, grants and indexes on it stay.
final class StreamWriter {
    let settings: StreamSettings
    let connector: Connector
    let retries: Int
    let logger: Logger
    let emitState: (String) -> Void
    private(set) var main: PGConnection
    private var replace: PGConnection?
    private var mainOpen = false
    /// Tables the open main transaction wrote, in order.
    private var touched: [WriterTable] = []
    private var replaceTables: [WriterTable] = []
    /// The open main transaction's operations, to run again on a new connection.
    private var log: [StreamOp] = []
    /// The COPY payload bytes `log` holds. Past `replayLimit` the log is let go (memory stays
    /// bounded: a snapshot is one transaction however big the table), and a connection lost
    /// before that transaction commits fails the run instead: nothing of it was committed, and
    /// the next run starts it again.
    private var logBytes = 0
    private var logDropped = false
    static let replayLimit = 32 << 20
    private var runId = UUID().uuidString
    private let replaceRunId = UUID().uuidString
    private var heldStates: [String] = []
    /// Every table written, for the summary.
    private(set) var tables: [WriterTable] = []

    init(
        settings: StreamSettings, connection: PGConnection, connector: Connector, retries: Int, logger: Logger,
        emitState: @escaping (String) -> Void
    ) {
        self.settings = settings
        self.main = connection
        self.connector = connector
        self.retries = retries
        self.logger = logger
        self.emitState = emitState
    }

    /// Rows committed per table.
    var rowsByTable: [String: Int] {
        Dictionary(tables.map { ($0.table.description, $0.rowsCommitted) }, uniquingKeysWith: +)
    }

    /// Creates what the long overwrite transaction would otherwise create while the main
    /// connection waits on it: the schemas, their ledgers and the state table, then a front end's
    /// own `statements`, each committed at once.
    func prepare(schemas: [String], statements: [String] = []) throws {
        for schema in Set(schemas + [stateSchema]).sorted() {
            if settings.createSchema { try Catalog.ensureSchema(schema, on: main) }
            try Loader.prepareLedger(schema: schema, on: main)
        }
        try main.execute(SQL.createStateTable(schema: stateSchema))
        for statement in statements { try main.execute(statement) }
    }

    private var stateSchema: String { settings.naming.normalize(settings.schema) }

    /// Takes operations until the reader finishes; on any failure both transactions roll back.
    func run(_ queue: WorkQueue<StreamOp>) throws {
        do {
            while let op = try queue.pop() { try perform(op) }
        } catch {
            queue.cancel()
            if mainOpen { Transaction.rollback(on: main) }
            if let replace { Transaction.rollback(on: replace) }
            throw error
        }
    }

    private func perform(_ op: StreamOp) throws {
        var attempt = 0
        var replayFirst = false
        while true {
            do {
                if replayFirst {
                    replayFirst = false
                    try replay()
                }
                try apply(op, replaying: false)
                return
            } catch let error as CommitUncertain where attempt < max(retries, 1) && isMain(op) && Interrupt.signal == nil {
                attempt += 1
                logger.warning("\(error.underlying.message) during COMMIT; reading the ledger")
                let schema = touched.first?.table.schema ?? stateSchema
                let (fresh, committed) = try Loader.resolveLostCommit(runId: runId, schema: schema, connector: connector)
                main = fresh
                mainOpen = false
                if committed != nil, case .commit(let states, let held) = op {
                    logger.warning("the transaction had committed (run \(runId)); going on")
                    committedMain(states: states, held: held)
                    return
                }
                try replayable(error.underlying)
                replayFirst = true
            } catch let error as PGError where error.isTransient && attempt < retries && isMain(op) && Interrupt.signal == nil {
                attempt += 1
                try replayable(error)
                logger.warning("\(error.message); running the transaction again on a new connection (attempt \(attempt + 1))")
                main = try connector.connect()
                mainOpen = false
                replayFirst = true
            }
        }
    }

    private func isMain(_ op: StreamOp) -> Bool {
        switch op {
        case .open(let table), .step(let table, _): !table.replaces
        case .operation, .commit: true
        case .finish: false
        }
    }

    /// Runs the open main transaction's operations again on the new connection. The log keeps
    /// only operations that succeeded, so the one that failed runs once more, after them.
    private func replay() throws {
        for table in touched { table.forget() }
        touched = []
        for op in log { try apply(op, replaying: true) }
    }

    private func apply(_ op: StreamOp, replaying: Bool) throws {
        try execute(op, replaying: replaying)
        guard isMain(op), !op.isCommit, !replaying, !logDropped else { return }
        if case .step(_, let step) = op {
            logBytes += step.root.encoded.data.count + step.children.reduce(0) { $0 + $1.encoded.data.count }
        }
        if logBytes > Self.replayLimit {
            logger.debug("the open transaction holds over \(Self.replayLimit >> 20) MB of rows: it will not be run again on a new connection")
            log = []
            logDropped = true
        } else {
            log.append(op)
        }
    }

    /// A transaction lost with its connection can be run again only from a whole log.
    private func replayable(_ error: Error) throws {
        guard logDropped else { return }
        throw LoadError(
            "the connection to the destination was lost (\(error)) during a transaction too big to run again from memory "
                + "(over \(Self.replayLimit >> 20) MB of rows, such as a snapshot); none of it was committed: run the command again")
    }

    private func execute(_ op: StreamOp, replaying: Bool) throws {
        switch op {
        case .open(let table):
            let connection = try connection(for: table)
            let opened = try open(table, on: connection, readColumns: true)
            if !replaying {
                table.answer(
                    existing: opened.columns, children: opened.session.existingChildren, fixedTypes: opened.session.fixedTypes)
            }
        case .step(let table, let step):
            let connection = try connection(for: table)
            let session = try open(table, on: connection, readColumns: false).session
            try table.loader.applySchemaChanges(step, on: connection, session: session)
            table.rowsInTransaction += try table.loader.send(step, on: connection, session: session)
        case .operation(let operation):
            try run(operation, on: try mainConnection())
        case .commit(let states, let held):
            try commitMain(states: states)
            committedMain(states: states, held: held)
        case .finish:
            try finish()
        }
    }

    private func mainConnection() throws -> PGConnection {
        if !mainOpen {
            try Transaction.begin(on: main)
            mainOpen = true
        }
        return main
    }

    private func connection(for table: WriterTable) throws -> PGConnection {
        guard table.replaces else { return try mainConnection() }
        if let replace { return replace }
        let connection = try connector.connect()
        try Transaction.begin(on: connection)
        replace = connection
        return connection
    }

    /// The table's setup in the current transaction (once per transaction), and for an overwrite
    /// the deletion of its old rows.
    @discardableResult
    private func open(_ table: WriterTable, on connection: PGConnection, readColumns: Bool) throws -> Loader.OpenedTable {
        if let session = table.session, !readColumns {
            return Loader.OpenedTable(session: session, columns: nil)
        }
        let started = Date()
        var opened = try table.loader.openTable(table.table, on: connection, started: started, readColumns: readColumns)
        if table.session == nil {
            if !readColumns { opened.session.existingChildren = table.existingChildren }
            table.session = opened.session
            table.started = started
            if table.replaces {
                replaceTables.append(table)
                if readColumns, opened.columns != nil {
                    try table.loader.deleteOldRows(of: table.table, session: opened.session, on: connection)
                }
            } else {
                touched.append(table)
            }
            if !tables.contains(where: { $0 === table }) { tables.append(table) }
            if table.loader.request.mode == .merge { try connection.execute(SQL.mergeSessionSettings) }
        } else {
            opened.session = table.session!
        }
        return opened
    }

    private func run(_ operation: TableOperation, on connection: PGConnection) throws {
        // A table still waiting for its key gets it first: these deletes read it as keyed.
        for table in touched where table.table == operation.table {
            if let session = table.session {
                try table.loader.settleKey(session, on: connection)
                // Rows may go: their embeddings' chunks go with them.
                session.deletedRows = true
            }
        }
        switch operation {
        case .activateVersion(let table, let stream, let version, let hard):
            guard let columns = try Catalog.columns(of: table, on: connection),
                columns.contains(where: { $0.name == "_sdc_table_version" })
            else { return }
            let statement = hard ? SQL.deleteOlderVersions(table) : SQL.softDeleteOlderVersions(table)
            let changed = try connection.query(statement, [version]).affectedRows
            logger.info("ACTIVATE_VERSION \(version) of \(stream): \(hard ? "deleted" : "marked deleted") \(changed) older rows")
        case .deleteOlderGenerations(let table, let minimum):
            guard try Catalog.columns(of: table, on: connection) != nil else { return }
            let deleted = try connection.query(SQL.deleteOlderGenerations(table), [String(minimum)]).affectedRows
            logger.info("\(table): removed \(Wording.count(deleted, "row")) of generations before \(minimum)")
        case .truncate(let table):
            guard try Catalog.columns(of: table, on: connection) != nil else { return }
            try connection.execute(SQL.truncate(table))
            logger.info("\(table): truncated, as the source's truncate asked")
        }
    }

    /// Each written table's deletes and ledger row, the latest state, then COMMIT.
    private func commitMain(states: [String]) throws {
        guard mainOpen || !states.isEmpty else { return }
        let connection = try mainConnection()
        for table in touched { try writeLedgerRow(table, on: connection, runId: runId) }
        if let latest = states.last { try saveState(latest, on: connection) }
        mainOpen = false
        try Transaction.commit(on: connection)
    }

    private func committedMain(states: [String], held: [String]) {
        for table in touched { table.committed() }
        touched = []
        log = []
        logBytes = 0
        logDropped = false
        runId = UUID().uuidString
        for state in states { emitState(state) }
        heldStates += held
    }

    /// The overwrite transaction: every overwrite table's ledger row and the held states commit
    /// together, then the held states are handed out.
    private func finish() throws {
        // The reader commits before it finishes; a transaction still open here would be lost.
        if mainOpen {
            try commitMain(states: [])
            committedMain(states: [], held: [])
        }
        if let replace {
            for table in replaceTables { try writeLedgerRow(table, on: replace, runId: replaceRunId) }
            if let latest = heldStates.last { try saveState(latest, on: replace) }
            do {
                try Transaction.commit(on: replace)
            } catch let error as CommitUncertain {
                let schema = replaceTables.first?.table.schema ?? stateSchema
                let (_, committed) = try Loader.resolveLostCommit(runId: replaceRunId, schema: schema, connector: connector)
                guard committed != nil else { throw error.underlying }
                logger.warning("the overwrite transaction had committed (run \(replaceRunId)); going on")
            }
            self.replace = nil
            for table in replaceTables { table.committed() }
        }
        for state in heldStates { emitState(state) }
        heldStates = []
    }

    private func writeLedgerRow(_ table: WriterTable, on connection: PGConnection, runId: String) throws {
        guard let session = table.session else { return }
        try table.loader.settleKey(session, on: connection)
        for statement in table.afterWrite { try connection.execute(statement) }
        _ = try table.loader.writeLedgerRow(
            session: session, table: table.table, source: table.name, fingerprint: "", rows: table.rowsInTransaction,
            started: table.started, runId: runId, on: connection)
    }

    private func saveState(_ state: String, on connection: PGConnection) throws {
        if settings.createSchema { try Catalog.ensureSchema(stateSchema, on: connection) }
        try connection.execute(SQL.createStateTable(schema: stateSchema))
        try connection.query(SQL.saveState(schema: stateSchema), [settings.stateId, state])
    }
}
