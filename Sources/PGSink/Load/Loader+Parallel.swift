import Foundation
import PGSinkCore

extension Loader {
    /// A load into a new table over `request.jobs` connections at once.
    ///
    /// Separate connections cannot share a transaction, so the data goes into a hidden table
    /// (`_pgsink_parallel_…`, committed batch by batch by whichever connection is free) and one final
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
        let hidden = hiddenTable(for: target)
        let owner = try Catalog.backend(of: connection)
        let connections = try [connection] + (1..<jobCount).map { _ in try connect() }

        let producer = makeProducer(existing: nil, session: session, table: hidden, progress: progress)
        producer.serverInput = ServerInputCheck(like: connection, logger: logger)
        let pipeline = Pipeline(producer: producer, readers: readerCount(on: connection))
        let routers = ShardRouters(loader: self, jobs: connections.count)
        let rows: Int
        do {
            rows = try send(pipeline, over: connections) { step, job in
                let worker = connections[job]
                if step.statements.contains(where: { if case .createTable = $0 { true } else { false } }) {
                    // The table and the note saying whose it is commit together.
                    try Transaction.run(on: worker) {
                        try applySchemaChanges(step, on: worker)
                        try Catalog.markHidden(hidden, of: target, owner: owner, on: worker)
                    }
                } else {
                    try applySchemaChanges(step, on: worker)
                }
            } copy: { step, job in
                // A distributed hidden table's rows go straight to its shards.
                if let rows = try routers.send(step, job: job, to: hidden, on: connections[job]) { return rows }
                return try send(step, on: connections[job], session: session)
            }
        } catch {
            dropHidden([hidden], trying: connections)
            throw error
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
                pipeline.producer, rows: rows, into: target, started: started, on: connection,
                session: session, connections: connections.count)
            try Transaction.commit(on: connection, reporting: summary)
            return summary
        } catch let error as CommitUncertain {
            // The rename may have committed: the table is not this load's to drop any more.
            throw error
        } catch {
            Transaction.rollback(on: connection)
            dropHidden([hidden], trying: connections)
            throw error
        }
    }

    /// The connections --jobs asked for (`auto` is resolved before a load starts: `AutoJobs`).
    var jobCount: Int { request.jobs.count ?? 1 }

    /// The threads that read a load over `jobCount` connections (`--readers`; auto: `AutoJobs.readers`).
    func readerCount(on connection: PGConnection) -> Int {
        request.readers.count
            ?? AutoJobs.readers(
                jobs: jobCount, client: ProcessInfo.processInfo.activeProcessorCount,
                serverIsLocal: connection.serverLooksLocal)
    }

    /// A new name for a hidden table of a parallel load into `target` (`Catalog.hiddenPrefix`).
    func hiddenTable(for target: TableName) -> TableName {
        TableName(
            schema: target.schema,
            name: NamingRules.fitting(Catalog.hiddenPrefix + target.name, limit: NamingRules.maxLength - 9) + "_"
                + UUID().uuidString.prefix(8).lowercased())
    }

    /// Sends every step of `pipeline` over `connections`, one thread each, and returns the rows
    /// copied. `changeSchema` runs a step's statements on the connection `job` (while no COPY is in
    /// flight), `copy` sends its rows there. The first failure stops every connection and the
    /// producer, and is rethrown once they all stopped.
    func send(
        _ pipeline: Pipeline, over connections: [PGConnection],
        changeSchema: @escaping @Sendable (LoadStep, _ job: Int) throws -> Void,
        copy: @escaping @Sendable (LoadStep, _ job: Int) throws -> Int
    ) throws -> Int {
        let dispatch = StepDispatch(queue: pipeline.queue)
        let outcome = ParallelOutcome()
        let finished = DispatchGroup()
        for job in connections.indices {
            finished.enter()
            let thread = Thread {
                defer { finished.leave() }
                do {
                    while let step = try dispatch.take() {
                        defer { dispatch.finished() }
                        if !step.statements.isEmpty {
                            try changeSchema(step, job)
                            dispatch.schemaChanged()
                        }
                        outcome.add(rows: try copy(step, job))
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
        if let failure = outcome.failure { throw failure }
        return outcome.rows
    }

    /// Drops hidden tables after a failure, over the first connection that still works.
    func dropHidden(_ hidden: [TableName], trying connections: [PGConnection]) {
        let statement = "DROP TABLE IF EXISTS " + hidden.map(\.quoted).joined(separator: ", ")
        for connection in connections where (try? connection.execute(statement)) != nil {
            return
        }
        let names = hidden.map(\.description).joined(separator: ", ")
        logger.error("could not drop \(names), the hidden tables of a failed parallel load; drop them by hand")
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
