import Foundation
import PGSinkCore

extension Loader {
    /// A load into a new table over `request.jobs` connections at once.
    ///
    /// Separate connections cannot share a transaction, so the data goes into a hidden table
    /// (`_pgsink_load_…`, committed batch by batch by whichever connection is free) and one final
    /// transaction publishes it: it renames the hidden table to the target and writes the ledger
    /// row. Readers never see a partial table; a failure drops the hidden table. The schema and the
    /// ledger table are created first, outside that transaction, because the hidden table needs them.
    func runParallel(
        on connection: PGConnection, connect: () throws -> PGConnection, started: Date,
        progress: (@Sendable (LoadProgress) -> Void)?
    ) throws -> LoadSummary {
        let target = request.table
        if request.createSchema { try Catalog.ensureSchema(target.schema, on: connection) }
        try Self.prepareLedger(schema: target.schema, on: connection)
        try checkDistribution(of: target, existing: nil, on: connection)
        let session = Session(loadId: try reserveLoadId(on: connection), started: started)
        try Catalog.dropAbandonedHiddenTables(of: target, on: connection, logger: logger)
        let hidden = TableName(
            schema: target.schema,
            name: NamingRules.fitting(Catalog.hiddenPrefix + target.name, limit: NamingRules.maxLength - 9) + "_"
                + UUID().uuidString.prefix(8).lowercased())
        let owner = try Catalog.backend(of: connection)
        var connections = [connection]
        for _ in 1..<request.jobs { connections.append(try connect()) }

        let producer = makeProducer(existing: nil, session: session, table: hidden, progress: progress)
        producer.serverInput = ServerInputCheck(like: connection, logger: logger)
        let pipeline = Pipeline(producer: producer)
        let dispatch = StepDispatch(queue: pipeline.queue)
        let outcome = ParallelOutcome()
        let finished = DispatchGroup()
        for worker in connections {
            finished.enter()
            let thread = Thread {
                defer { finished.leave() }
                // A distributed hidden table's rows go straight to its shards once it exists.
                var router: ShardRouter?
                var routerTried = false
                do {
                    while let step = try dispatch.take() {
                        defer { dispatch.finished() }
                        if step.statements.contains(where: { if case .createTable = $0 { true } else { false } }) {
                            // The table and the note saying whose it is commit together.
                            try Transaction.run(on: worker) {
                                try applySchemaChanges(step, on: worker)
                                try Catalog.markHidden(hidden, of: target, owner: owner, on: worker)
                            }
                            dispatch.schemaChanged()
                        } else if !step.statements.isEmpty {
                            try applySchemaChanges(step, on: worker)
                            dispatch.schemaChanged()
                        }
                        if let column = citus.target?.column, step.children.isEmpty, step.rejects.isEmpty, step.settings.isEmpty {
                            if !routerTried {
                                routerTried = true
                                router = try ShardRouter.open(for: hidden, on: worker, logger: logger)
                                if let router { citus.routed = (router.shardCount, router.workerCount) }
                            }
                            if let router, let rows = try router.send(step.root, column: column) {
                                outcome.add(rows: rows)
                                continue
                            }
                        }
                        outcome.add(rows: try send(step, on: worker, session: session))
                    }
                } catch {
                    outcome.fail(error)
                    pipeline.queue.cancel()
                    dispatch.fail()
                }
            }
            thread.start()
        }
        finished.wait()
        pipeline.waitForProducer()
        if let failure = outcome.failure {
            dropHidden(hidden, trying: connections)
            throw failure
        }
        guard pipeline.producer.planner.created else {
            // No columns at all (an empty input): there is nothing to publish.
            return try record(
                pipeline.producer, rows: 0, into: target, started: started, on: connection, session: session)
        }
        do {
            try Transaction.begin(on: connection)
            try connection.query(SQL.lockTable, [target.description])
            if try Catalog.columns(of: target, on: connection) != nil {
                throw LoadError("\(target) was created by someone else during this load; nothing was loaded, run it again")
            }
            try connection.execute(SQL.rename(hidden, to: target.name))
            session.rowsFromOtherTransactions = true
            try createIndexes(producer: pipeline.producer, session: session, on: connection)
            let summary = try record(
                pipeline.producer, rows: outcome.rows, into: target, started: started, on: connection,
                session: session, connections: connections.count)
            try Transaction.commit(on: connection, reporting: summary)
            return summary
        } catch let error as CommitUncertain {
            // The rename may have committed: the table is not this load's to drop any more.
            throw error
        } catch {
            Transaction.rollback(on: connection)
            dropHidden(hidden, trying: connections)
            throw error
        }
    }

    private func dropHidden(_ hidden: TableName, trying connections: [PGConnection]) {
        for connection in connections where (try? connection.execute("DROP TABLE IF EXISTS \(hidden.quoted)")) != nil {
            return
        }
        logger.error("could not drop the hidden table \(hidden) of a failed parallel load; drop it by hand")
    }
}

/// Hands steps to the connections of a parallel load. A step that changes the schema waits until
/// no COPY is in flight and holds later steps back until its statements ran: their payloads are
/// encoded for the new schema.
final class StepDispatch: @unchecked Sendable {
    private let condition = NSCondition()
    private let queue: WorkQueue<LoadStep>
    private var inFlight = 0
    private var schemaChanging = false
    private var failed = false

    init(queue: WorkQueue<LoadStep>) { self.queue = queue }

    func take() throws -> LoadStep? {
        condition.lock()
        defer { condition.unlock() }
        while schemaChanging && !failed { condition.wait() }
        if failed { throw WorkQueue<LoadStep>.Cancelled() }
        guard let step = try queue.pop() else { return nil }
        if !step.statements.isEmpty {
            schemaChanging = true
            while inFlight > 0 && !failed { condition.wait() }
            if failed { throw WorkQueue<LoadStep>.Cancelled() }
        }
        inFlight += 1
        return step
    }

    func schemaChanged() { update { $0.schemaChanging = false } }
    func finished() { update { $0.inFlight -= 1 } }
    func fail() { update { $0.failed = true } }

    private func update(_ change: (StepDispatch) -> Void) {
        condition.lock()
        change(self)
        condition.broadcast()
        condition.unlock()
    }
}

/// Rows copied and the first real failure, across the connections of a parallel load.
final class ParallelOutcome: @unchecked Sendable {
    private let lock = NSLock()
    private var copied = 0
    private var firstFailure: Error?

    var rows: Int { lock.withLock { copied } }
    var failure: Error? { lock.withLock { firstFailure } }

    func add(rows: Int) { lock.withLock { copied += rows } }

    /// Keeps the first failure that is not another connection's cancellation.
    func fail(_ error: Error) {
        lock.withLock {
            if firstFailure == nil || firstFailure is WorkQueue<LoadStep>.Cancelled { firstFailure = error }
        }
    }
}
