import Foundation
import Logging
import PGSinkCore

/// A load failed: the input, the plan, the server or the ledger said no. Nothing was committed.
public struct LoadError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs one load as one transaction: schema changes, data, rejects, stale-row deletion, indexes
/// and the ledger row commit together (a parallel load into a new table publishes its data in one
/// transaction instead; see `runParallel`).
public struct Loader: Sendable {
    public let request: LoadRequest
    public let logger: Logger
    /// The keys written into a merge table this loader created (see `KeysWritten`).
    let keysWritten = KeysWritten()
    /// Whether the table has tombstones of hard deletes (see `Tombstones`).
    let tombstones = Tombstones()
    /// The Citus coordinator the load writes to, if it is one.
    let citus = CitusState()

    public init(request: LoadRequest, logger: Logger = Logger(label: "pgsink.load")) {
        self.request = request
        self.logger = logger
    }

    static let stage = "_pgsink_stage"

    /// Whether this load may be split over several connections: a load from files with nothing
    /// (rejects, child tables, stale rows, a change feed's order, a key switch) that must be
    /// written in the load's one transaction. It is, with --jobs; and with one job too when it
    /// creates a table distributed on a Citus coordinator, whose rows then go straight to the
    /// shards (`ShardRouter`). A merge into a table that does not exist yet stays on one
    /// connection (see `run(on:connect:progress:)`).
    var canRunInParallel: Bool {
        request.maxRejects == 0 && request.nested != .tables
            && (request.contract == .evolve || request.contract == .freeze) && !request.deleteStale
            && request.changes == nil && !request.switchesKey
    }

    /// Runs the load, again after a lost connection or a serialization failure (up to `retries`
    /// times; a load from standard input cannot be read twice). A COMMIT whose reply was lost is
    /// resolved by the ledger: a load that committed is never loaded again, and its summary stands.
    public func run(
        on connection: inout PGConnection, connector: Connector, retries: Int,
        progress: (@Sendable (LoadProgress) -> Void)? = nil
    ) throws -> LoadSummary {
        let rereadable = !request.inputs.contains("-")
        var attempt = 0
        while true {
            do {
                return try run(on: connection, connect: connector.connect, progress: progress)
            } catch let error as CommitUncertain where attempt < max(retries, 1) && Interrupt.signal == nil {
                attempt += 1
                logger.warning("\(request.table): \(error.underlying.message) during COMMIT; reading the ledger")
                let (fresh, committed) = try Self.resolveLostCommit(
                    runId: request.runId ?? "", schema: request.table.schema, connector: connector)
                connection = fresh
                if let committed {
                    // Committed: never loaded again, whatever is left to report.
                    guard let summary = error.summary else {
                        throw LoadError("\(request.table): load \(committed.id) (\(Wording.count(committed.rows, "row"))) committed before the connection was lost")
                    }
                    logger.warning("\(request.table): load \(summary.loadId) had committed; not loading again")
                    return summary
                }
                guard rereadable else { throw error.underlying }
            } catch let error as PGError where error.isTransient && attempt < retries && rereadable && Interrupt.signal == nil {
                // A load is one transaction, so a failure before COMMIT left nothing behind.
                attempt += 1
                logger.warning("\(request.table): \(error.message); retrying the load (attempt \(attempt + 1))")
                connection = try connector.connect()
            }
        }
    }

    /// Loads on the calling thread (which owns the connection) while a second thread reads and encodes.
    /// With `request.jobs` above 1 (or `auto`, resolved first), `connect` opens the extra
    /// connections of a parallel load: into a new table `runParallel`, into an existing one
    /// `runStaged`. A merge into a new table stays on one connection: its hidden table would take
    /// the batches' upserts in no fixed order.
    public func run(
        on connection: PGConnection, connect: (() throws -> PGConnection)? = nil,
        progress: (@Sendable (LoadProgress) -> Void)? = nil
    ) throws -> LoadSummary {
        if request.jobs == .auto && canRunInParallel && connect != nil {
            var resolved = request
            let staged = try Catalog.kind(of: request.table, on: connection) != nil
            resolved.jobs = .count(try AutoJobs.choose(on: connection, staged: staged, logger: logger))
            var summary = try Loader(request: resolved, logger: logger).run(
                on: connection, connect: connect, progress: progress)
            summary.autoJobs = resolved.jobs.count
            return summary
        }
        let started = Date()
        let table = request.table
        if canRunInParallel, let connect {
            try checkMode()
            let existing = try Catalog.columns(of: table, on: connection)
            if let existing, try request.jobs != 1 || isDistributed(table, on: connection) {
                return try runStaged(
                    into: existing, on: connection, connect: connect, started: started, progress: progress)
            }
            if existing == nil && request.mode != .merge && (request.jobs != 1 || request.distribution.column != nil) {
                return try runParallel(on: connection, connect: connect, started: started, progress: progress)
            }
        }
        try Transaction.begin(on: connection)
        let summary: LoadSummary
        do {
            summary = try load(on: connection, started: started, progress: progress)
        } catch {
            Transaction.rollback(on: connection)
            logger.debug("load rolled back", metadata: ["load.table": "\(table)"])
            throw error
        }
        try Transaction.commit(on: connection, reporting: summary)
        return summary
    }

    /// A table made ready inside the caller's transaction: locked against other loads of it, its
    /// schema and ledger there, a load id reserved, its columns read and its key checked.
    struct OpenedTable {
        var session: Session
        /// nil when the table does not exist yet.
        var columns: [TargetColumn]?
    }

    /// The setup every write into a table shares (files, streams, overwrites).
    func openTable(_ table: TableName, on connection: PGConnection, started: Date, readColumns: Bool = true) throws
        -> OpenedTable
    {
        if request.createSchema { try Catalog.ensureSchema(table.schema, on: connection) }
        try connection.query(SQL.lockTable, [table.description])
        try Self.prepareLedger(schema: table.schema, on: connection)
        let session = Session(loadId: try reserveLoadId(on: connection), started: started)
        guard readColumns else { return OpenedTable(session: session, columns: nil) }
        try Catalog.dropAbandonedHiddenTables(of: table, on: connection, logger: logger)
        let existing = try Catalog.columns(of: table, on: connection)
        try checkDistribution(of: table, existing: existing, on: connection)
        if let existing, !request.primaryKey.isEmpty {
            try Catalog.checkKey(
                keyNames(existing), of: table, mode: request.mode, switching: request.switchesKey, on: connection,
                logger: logger)
        }
        if request.nested == .tables {
            session.existingChildren = try Catalog.childTables(of: table, separator: request.nestedSeparator, on: connection)
        }
        if request.discards != nil, existing != nil {
            session.fixedTypes = try Self.fixedTypes(of: table, on: connection)
        }
        session.addsRowId = try embeddingsNeedRowId(of: table, exists: existing != nil, on: connection)
        return OpenedTable(session: session, columns: existing)
    }

    /// replace: the old rows (and child rows) go inside the load's transaction, so readers see them
    /// until the commit and everything that depends on the table stays.
    func deleteOldRows(of table: TableName, session: Session, on connection: PGConnection) throws {
        session.deletedRows = true
        for child in session.existingChildren.keys.sorted() {
            try connection.execute(SQL.deleteAll(TableName(schema: table.schema, name: child)))
        }
        try connection.execute(SQL.deleteAll(table))
    }

    /// What one load keeps while it runs.
    final class Session: @unchecked Sendable {
        let loadId: Int64
        let startedMicros: Int64
        /// Existing child tables (--nested tables), by name.
        var existingChildren: [String: [TargetColumn]] = [:]
        /// Rows the server refused and that were set aside.
        var serverRejected = 0
        var rejectsTableReady = false
        var discardsTableReady = false
        /// Columns a view (or another dependent) keeps at their type, and why (read when
        /// values that do not fit are discarded rather than failing the load).
        var fixedTypes: [String: String] = [:]
        var indexesCreated: [String] = []
        var childRows: [String: Int] = [:]
        /// A merge into a table this transaction created: rows are copied straight in, and the
        /// primary key (and, only if keys repeat, the last-record-wins clean-up) comes once,
        /// before the commit (`settleKey`), instead of a staged upsert per batch.
        var deferredKey: [String]?
        /// Rows may have been deleted (replace, delete-stale, a change feed's deletes, a source's
        /// truncate): the embeddings lose the chunks of rows that are gone.
        var deletedRows = false
        /// The rows were written by other transactions (a parallel load's): the embeddings look at
        /// every row, not only this transaction's.
        var rowsFromOtherTransactions = false
        /// What the embedding writer did (`writeEmbeddings`).
        var embeddings: EmbeddingOutcome?
        /// The table is embedded and has no key: its rows get pgsink's row id (`_pgsink_id`).
        var addsRowId = false
        /// A merge into a distributed table stages its batches here: a table distributed like the
        /// target, created with the first batch and dropped before the commit.
        var distributedStage: TableName?

        init(loadId: Int64, started: Date) {
            self.loadId = loadId
            self.startedMicros = Int64((started.timeIntervalSince1970 * 1_000_000).rounded())
        }
    }

    private func load(
        on connection: PGConnection, started: Date, progress: (@Sendable (LoadProgress) -> Void)?
    ) throws -> LoadSummary {
        let table = request.table
        try checkMode()
        let opened = try openTable(table, on: connection, started: started)
        let session = opened.session
        let existing = opened.columns
        if request.mode == .replace && existing != nil {
            try deleteOldRows(of: table, session: session, on: connection)
        }
        if request.mode == .merge { try connection.execute(SQL.mergeSessionSettings) }
        let producer = makeProducer(existing: existing, session: session, progress: progress)
        producer.serverInput = ServerInputCheck(like: connection, logger: logger)
        let pipeline = Pipeline(producer: producer)
        var rowsLoaded = 0
        try pipeline.drain { step in
            try applySchemaChanges(step, on: connection, session: session)
            rowsLoaded += try send(step, on: connection, session: session)
        }
        try settleKey(session, on: connection)
        try dropDistributedStage(session, on: connection)
        // Only data still in the table can be duplicated: a table created by this load has none.
        if request.mode == .append && !request.force && existing != nil {
            try refuseDuplicate(of: pipeline.producer, into: table, on: connection)
        }
        let stale = try deleteStale(producer: producer, session: session, on: connection)
        try createIndexes(producer: producer, session: session, on: connection)
        return try record(
            pipeline.producer, rows: rowsLoaded, into: table, started: started, on: connection, session: session,
            staleDeleted: stale)
    }

    /// Refuses a mode that lacks what it needs, before anything is written.
    func checkMode() throws {
        if request.deleteStale && request.mode == .replace {
            throw LoadError("--delete-stale applies to append and merge; replace already removes every old row")
        }
        if request.mode == .merge && request.primaryKey.isEmpty {
            throw LoadError("--mode merge needs --primary-key COL[,COL...] to know which rows are the same")
        }
    }

    /// Creates the ledger, or gives an older one its run_id column (checked first: ALTER TABLE
    /// would lock the ledger against every other load for the rest of the transaction).
    /// CREATE TABLE IF NOT EXISTS alone would need CREATE on the schema even when the ledger exists.
    static func prepareLedger(schema: String, on connection: PGConnection) throws {
        guard try Catalog.kind(of: TableName(schema: schema, name: SQL.ledgerName), on: connection) != nil else {
            try Catalog.createConcurrently(SQL.createLedger(schema: schema), on: connection)
            return
        }
        if try connection.query(SQL.ledgerIsCurrent, [schema]).rows.isEmpty {
            try connection.execute(SQL.upgradeLedger(schema: schema))
        }
    }

    /// The ledger row a run committed, if it did: (load id, rows).
    public static func committedLoad(runId: String, schema: String, on connection: PGConnection) throws -> (id: Int64, rows: Int)? {
        guard try Catalog.kind(of: TableName(schema: schema, name: SQL.ledgerName), on: connection) != nil else { return nil }
        guard let row = try connection.query(SQL.loadOfRun(schema: schema), [runId]).rows.first else { return nil }
        return (Int64(row[0] ?? "") ?? 0, Int(row[1] ?? "") ?? 0)
    }

    func reserveLoadId(on connection: PGConnection) throws -> Int64 {
        Int64(try connection.execute(SQL.reserveLoadId(schema: request.table.schema)).value(0, 0) ?? "") ?? 0
    }

    /// The producer with the table's planner and, for --nested tables, how child tables are planned.
    func makeProducer(
        existing: [TargetColumn]?, session: Session, table: TableName? = nil, sources: SourceColumns = SourceColumns(),
        progress: (@Sendable (LoadProgress) -> Void)?
    ) -> BatchProducer {
        let target = table ?? request.table
        var planner = SchemaPlanner(
            table: target, existingColumns: existing, rules: request.naming, overrides: request.typeOverrides,
            primaryKey: request.primaryKey, contract: request.contract,
            systemColumns: systemColumns(session: session, child: false))
        planner.fixedTypes = session.fixedTypes
        let layout = request.nested == .tables ? NestedLayout() : nil
        let children = session.existingChildren
        let request = self.request
        let childColumns = systemColumns(session: session, child: true)
        let producer = BatchProducer(
            request: request, planner: planner, sources: sources, layout: layout,
            childPlanner: { child, _ in
                let name = NamingRules.fitting(
                    request.naming.normalize(target.name + request.nestedSeparator + child.path))
                let childTable = TableName(schema: target.schema, name: name)
                var planner = SchemaPlanner(
                    table: childTable, existingColumns: children[name], rules: request.naming,
                    overrides: request.typeOverrides, contract: request.contract, systemColumns: childColumns)
                planner.systemColumnsSuffice = true
                return planner
            },
            progress: progress)
        if request.nested == .tables { producer.carriedToChildren = distributionColumn }
        return producer
    }

    /// The columns pgsink fills itself on the table (or on a child table).
    func systemColumns(session: Session, child: Bool) -> [SystemColumn] {
        var columns: [SystemColumn] = []
        if !child && request.nested != .tables && session.addsRowId {
            columns.append(SystemColumn(name: SQL.rowIdColumn, generated: .randomId))
        }
        if request.nested == .tables {
            columns.append(SystemColumn(name: SQL.rowIdColumn, generated: .rowId))
            if child {
                columns.append(SystemColumn(name: SQL.parentIdColumn, generated: .parentId))
                columns.append(SystemColumn(name: SQL.rootIdColumn, generated: .rootId))
                columns.append(SystemColumn(name: SQL.listIndexColumn, generated: .listIndex))
            }
        }
        if request.metadata {
            columns.append(SystemColumn(name: SQL.loadIdColumn, generated: .constant(.bigint(session.loadId))))
            columns.append(
                SystemColumn(
                    name: SQL.loadedAtColumn, generated: .constant(.timestamptz(unixMicroseconds: session.startedMicros))))
        }
        if request.deleteStale && !child {
            columns.append(SystemColumn(name: SQL.sourceColumn, generated: .constant(.text(sourceName))))
            columns.append(
                SystemColumn(
                    name: SQL.syncedAtColumn, generated: .constant(.timestamptz(unixMicroseconds: session.startedMicros))))
        }
        return columns
    }

    /// `--source-name`, or the inputs' file names.
    var sourceName: String {
        request.sourceName
            ?? request.inputs.map { $0 == "-" ? "stdin" : String($0.split(separator: "/").last ?? Substring($0)) }
            .joined(separator: ", ")
    }

    /// Runs a step's schema changes (CREATE TABLE, ADD COLUMN, ALTER … TYPE), each through `apply`.
    func applySchemaChanges(_ step: LoadStep, on connection: PGConnection, session: Session? = nil) throws {
        for var change in step.statements {
            // A change feed's merge into a table it creates remembers the keys it writes (see `copyNewKeys`).
            if session != nil, request.changes != nil, request.commitsInBatches, case .createTable(let table, _, let key) = change,
                table == request.table, !key.isEmpty
            {
                keysWritten.start()
            }
            if session != nil, request.changes?.remembersDeletes == true, case .createTable(let table, _, _) = change,
                table == request.table
            {
                try forgetTombstones(on: connection)
            }
            if let session, case .createTable(let table, let columns, let key) = change, defersKey(of: table, key) {
                change = .createTable(table, columns: columns, primaryKey: [])
                session.deferredKey = key
                if request.commitsInBatches { keysWritten.start() }
            }
            try apply(change, causes: step.causes, root: step.root.table, on: connection)
        }
    }

    /// Runs one schema change, logging it, and records the source names of the columns it made.
    /// A change of type runs under a savepoint, so that when the server refuses it the catalog can
    /// still be read to name what blocks it (`causes`: the value that asked for it, by column).
    /// On a Citus coordinator a table it creates is distributed as `root`'s (`distribute`).
    func apply(_ change: SchemaChange, causes: [String: String], root: TableName, on connection: PGConnection) throws {
        logger.info("\(change.sql)", metadata: ["load.table": "\(request.table)"])
        guard case .alterType(let table, let column, let from, let to) = change else {
            try connection.execute(change.sql)
            if case .createTable(let created, _, _) = change {
                try distribute(created: created, root: root, on: connection)
            }
            try Catalog.recordColumnSources(change, on: connection)
            return
        }
        try refuseWideningTheDistributionColumn(change, causes: causes)
        try Transaction.savepoint("pgsink_alter", on: connection, { _ = try connection.execute(change.sql) }) { error in
            // Outside a transaction (a parallel load's hidden table) the server's own words stand.
            guard connection.inTransaction else { throw error }
            let dependents = (try? connection.query(SQL.columnDependents, [table.quoted, column]).rows) ?? []
            throw LoadError(
                Self.refusedWidening(
                    table: table, column: column, from: from, to: to, cause: causes[column], error: error,
                    dependents: dependents.map { ($0[0] ?? "", $0[1] ?? "", $0[2]) }))
        }
    }

    /// Citus cannot change the type of a table's distribution column: a widening of it fails the
    /// load before it is tried, naming the value that asked for it.
    func refuseWideningTheDistributionColumn(_ change: SchemaChange, causes: [String: String]) throws {
        guard case .alterType(_, let column, let from, let to) = change, citus.target?.column == column else { return }
        throw LoadError(
            "cannot widen column \(column) of \(request.table) from \(from.sqlName) to \(to.sqlName)"
                + (causes[column].map { " for the value on \($0)" } ?? "")
                + ": it is the table's distribution column, and Citus cannot change its type. Fix the value, "
                + "or create the table with the type the data needs and distribute it yourself")
    }

    /// Whether a merge into a table being created may copy straight in and key the table at the
    /// end: the top-level table, no child tables, and last record wins (no --newest-by ordering).
    /// A change feed's batches go straight in only while they can (`copiesStraightIn`); the
    /// first that cannot keys the table first (a snapshot copies in whole, then is keyed once).
    private func defersKey(of table: TableName, _ key: [String]) -> Bool {
        request.mode == .merge && !key.isEmpty && table == request.table && request.nested != .tables
            && request.newestBy.isEmpty && !request.keepsNonNull && (request.changes == nil || request.commitsInBatches)
    }

    /// Gives a table created with its key deferred that primary key, first removing earlier rows
    /// of a repeated key when there are any (the index build finds them). Runs before anything
    /// that reads the table as keyed: deletes, ledger row, commit.
    func settleKey(_ session: Session, on connection: PGConnection) throws {
        guard let key = session.deferredKey else { return }
        session.deferredKey = nil
        let table = request.table
        try Transaction.savepoint("pgsink_key", on: connection, { _ = try connection.execute(SQL.addPrimaryKey(table, key)) }) {
            error in
            guard error.sqlState == "23505" else { throw error }
            try connection.execute(SQL.deleteEarlierDuplicates(table, key))
            try connection.execute(SQL.addPrimaryKey(table, key))
        }
    }

    /// The columns of `table` that something depending on them keeps at their type (a view, a
    /// CHECK constraint, an expression index, a generated column, a partition key), each with
    /// the first such object.
    static func fixedTypes(of table: TableName, on connection: PGConnection) throws -> [String: String] {
        var fixed: [String: String] = [:]
        for row in try connection.query(SQL.columnDependents, [table.quoted, nil]).rows {
            guard let column = row[3], fixed[column] == nil else { continue }
            fixed[column] = "\(row[0] ?? "an object") \(row[1] ?? "") uses it"
        }
        return fixed
    }

    /// Why a column could not change type, naming what uses it and the ways out.
    static func refusedWidening(
        table: TableName, column: String, from: ColumnType, to: ColumnType, cause: String?, error: PGError,
        dependents: [(kind: String, name: String, definition: String?)]
    ) -> String {
        var text = "cannot widen column \(column) of \(table) from \(from.sqlName) to \(to.sqlName)"
        if let cause { text += " for the value on \(cause)" }
        let escape = "or keep the type with --schema-contract freeze and --max-rejects N, which sets such rows aside, "
            + "or fix the value"
        guard let blocker = dependents.first else {
            return text + ": \(Wording.clause(error.message)). Change the column yourself (ALTER TABLE \(table.quoted) ALTER COLUMN "
                + "\(quoteIdentifier(column)) TYPE …) and load again, \(escape)"
        }
        let what = blocker.definition.map { "\(blocker.kind) \(blocker.name) (\($0))" } ?? "\(blocker.kind) \(blocker.name)"
        let others = dependents.count > 1 ? " (and \(dependents.count - 1) more: "
            + dependents.dropFirst().map { "\($0.kind) \($0.name)" }.joined(separator: ", ") + ")" : ""
        let fix: String
        switch blocker.kind {
        case "view": fix = "drop the view, run the load, and create the view again"
        case "CHECK constraint", "foreign key":
            fix = "drop the constraint (ALTER TABLE \(table.quoted) DROP CONSTRAINT \(quoteIdentifier(blocker.name))), run "
                + "the load, and add it again in a form that holds for \(to.sqlName)"
        case "index": fix = "drop the index (DROP INDEX \(blocker.name)), run the load, and create it again for \(to.sqlName)"
        case "generated column":
            fix = "drop the generated column \(blocker.name) (or change its expression), run the load, and add it again"
        default: fix = "a partition key column cannot change type; give the column the type the data needs when you create the table"
        }
        return text + ": \(what) uses it\(others), and PostgreSQL cannot change the type under it. \(fix.prefix(1).uppercased() + fix.dropFirst()), \(escape)"
    }

    func refuseDuplicate(of producer: BatchProducer, into table: TableName, on connection: PGConnection) throws {
        let files = producer.loadedFiles
        guard !files.isEmpty else { return }
        let earlier = try connection.query(
            SQL.earlierLoad(schema: table.schema),
            [table.name, SQL.textArray(files.map(\.fingerprint)), table.quoted]
        ).rows
        if let row = earlier.first {
            let shared = Set((row[3] ?? "").split(separator: " ").map(String.init))
            let names = files.filter { shared.contains($0.fingerprint) }.map(\.name)
            let which = names.count == 1 ? "\(names[0]) was" : names.joined(separator: ", ") + " were"
            throw LoadError(
                "\(which) already loaded into \(table) by load "
                    + "\(row[0] ?? "?") (\(row[1] ?? "?"), \(row[2] ?? "?")); nothing was loaded. Pass --force to load "
                    + "again, or use --mode replace or --mode merge")
        }
    }

    /// --delete-stale: rows of this source that this load did not write (child rows first).
    private func deleteStale(producer: BatchProducer, session: Session, on connection: PGConnection) throws -> Int {
        guard request.deleteStale else { return 0 }
        let table = request.table
        guard try Catalog.columns(of: table, on: connection)?.contains(where: { $0.name == SQL.syncedAtColumn }) == true
        else { return 0 }
        // Exactly the value the rows were written with.
        let syncedAt = ISOTime.format(session.startedMicros)
        for child in producer.childTables(existing: session.existingChildren) {
            try connection.query(SQL.deleteStaleChildren(child, root: table), [sourceName, syncedAt])
        }
        let result = try connection.query(SQL.deleteStale(table), [sourceName, syncedAt])
        let deleted = result.affectedRows
        if deleted > 0 {
            logger.info("deleted \(deleted) stale rows of \(sourceName) from \(table)")
            session.deletedRows = true
        }
        return deleted
    }

    /// Writes the ledger row (inside the caller's transaction) and returns the summary.
    func record(
        _ producer: BatchProducer, rows: Int, into table: TableName, started: Date, on connection: PGConnection,
        session: Session, connections: Int = 1, staleDeleted: Int = 0
    ) throws -> LoadSummary {
        let loadId = try writeLedgerRow(
            session: session, table: table, source: producer.sourceText, fingerprint: producer.fingerprint,
            files: producer.loadedFiles.map(\.fingerprint), rows: rows, started: started, runId: request.runId,
            on: connection)
        let seconds = Date().timeIntervalSince(started)
        let plan = producer.planner
        var summary = LoadSummary(
            loadId: loadId, table: table.description, mode: request.mode,
            rows: rows, sources: producer.sourceNames, tableCreated: plan.created,
            columnsCreated: plan.created ? plan.columns.map(\.name) : [], columnsAdded: plan.addedColumns,
            columnsWidened: plan.widenings.map { "\($0.column): \($0.from.sqlName) → \($0.to.sqlName)" },
            columnsRenamed: Dictionary(plan.renamed.map { ($0.source, $0.name) }, uniquingKeysWith: { a, _ in a }),
            nulsRemoved: producer.nulsRemoved, surrogatesReplaced: producer.surrogatesReplaced, rejected: producer.rejected + session.serverRejected,
            discarded: producer.discarded, staleDeleted: staleDeleted, indexesCreated: session.indexesCreated,
            childTables: session.childRows, csvDialects: producer.dialects.isEmpty ? nil : producer.dialects,
            hints: producer.hints.isEmpty ? nil : producer.hints, copyFormat: producer.format.rawValue, connections: connections,
            seconds: seconds, rowsPerSecond: seconds > 0 ? Double(rows) / seconds : 0, server: connection.endpoint,
            embeddings: session.embeddings)
        summary.partsRead = producer.parallelRead?.parts
        summary.readers = producer.parallelRead?.readers
        summary.distribution = citus.target.map { $0.reference ? "reference table" : "distributed by \($0.column ?? "?")" }
        if let routed = citus.routed {
            summary.shardsWritten = routed.shards
            summary.workersWritten = routed.workers
        }
        return summary
    }

    /// The ledger row of one write into `table`, inside the caller's transaction; returns the load id.
    func writeLedgerRow(
        session: Session, table: TableName, source: String, fingerprint: String, files: [String] = [], rows: Int,
        started: Date, runId: String?, on connection: PGConnection
    ) throws -> Int64 {
        try writeEmbeddings(of: table, session: session, on: connection)
        let startedText = ISO8601DateFormatter.withFractions.string(from: started)
        let recorded = try connection.query(
            SQL.recordLoad(schema: table.schema),
            [String(session.loadId), table.name, request.mode.rawValue, source, fingerprint, String(rows), startedText,
             runId, SQL.textArray(files), table.quoted])
        return Int64(recorded.value(0, 0) ?? "0") ?? 0
    }

    /// The merge key as the table names it.
    func keyNames(_ existing: [TargetColumn]) -> [String] {
        request.primaryKey.map { key in
            let normalized = request.naming.normalize(key)
            return existing.first { $0.name == key }?.name ?? normalized
        }
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let withFractions: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
