import Foundation
import Logging
import PGSinkCore

/// A load failed: the input, the plan, the server or the ledger said no. Nothing was committed.
public struct LoadError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Runs one load as one transaction: schema changes, data, and the ledger row commit together
/// (a parallel load into a new table publishes its data in one transaction instead; see
/// `runParallel`).
public struct Loader: Sendable {
    public let request: LoadRequest
    public let logger: Logger

    public init(request: LoadRequest, logger: Logger = Logger(label: "pgsink.load")) {
        self.request = request
        self.logger = logger
    }

    static let stage = "_pgsink_stage"

    /// Loads on the calling thread (which owns the connection) while a second thread reads and encodes.
    /// With `request.jobs` > 1 and a table that does not exist yet, `connect` opens the extra
    /// connections of a parallel load (see `runParallel`).
    public func run(
        on connection: PGConnection, connect: (() throws -> PGConnection)? = nil,
        progress: (@Sendable (LoadProgress) -> Void)? = nil
    ) throws -> LoadSummary {
        let started = Date()
        let table = request.table
        if request.jobs > 1, request.mode != .merge, let connect, try Catalog.columns(of: table, on: connection) == nil {
            return try runParallel(on: connection, connect: connect, started: started, progress: progress)
        }
        try connection.execute("BEGIN")
        do {
            let summary = try load(on: connection, started: started, progress: progress)
            try connection.execute("COMMIT")
            return summary
        } catch {
            _ = try? connection.execute("ROLLBACK")
            logger.debug("load rolled back", metadata: ["load.table": "\(table)"])
            throw error
        }
    }

    private func load(
        on connection: PGConnection, started: Date, progress: (@Sendable (LoadProgress) -> Void)?
    ) throws -> LoadSummary {
        let table = request.table
        if request.createSchema { try connection.execute(SQL.createSchema(table.schema)) }
        try connection.query(SQL.lockTable, [table.description])
        try connection.execute(SQL.createLedger(schema: table.schema))
        let existing = try Catalog.columns(of: table, on: connection)
        if request.mode == .merge {
            guard !request.primaryKey.isEmpty else {
                throw LoadError("--mode merge needs --primary-key COL[,COL...] to know which rows are the same")
            }
            if existing != nil { try Catalog.requireUniqueIndex(on: table, key: keyNames(existing!), connection) }
        }
        if request.mode == .replace && existing != nil { try connection.execute(SQL.deleteAll(table)) }
        if request.mode == .merge { try connection.execute(SQL.mergeSessionSettings) }
        let planner = SchemaPlanner(
            table: table, existingColumns: existing, rules: request.naming, overrides: request.typeOverrides,
            primaryKey: request.mode == .merge ? request.primaryKey : [])
        let pipeline = Pipeline(request: request, planner: planner, progress: progress)
        var rowsLoaded = 0
        try pipeline.drain { step in
            try applySchemaChanges(step, on: connection)
            rowsLoaded += try send(step, on: connection, into: table)
        }
        // Only data still in the table can be duplicated: a table created by this load has none.
        if request.mode == .append && !request.force && existing != nil {
            try refuseDuplicate(of: pipeline.producer, into: table, on: connection)
        }
        return try record(pipeline.producer, rows: rowsLoaded, into: table, started: started, on: connection)
    }

    /// Runs a step's schema changes (CREATE TABLE, ADD COLUMN, ALTER … TYPE), logging each.
    func applySchemaChanges(_ step: LoadStep, on connection: PGConnection) throws {
        for statement in step.statements {
            logger.info("\(statement)", metadata: ["load.table": "\(request.table)"])
            try connection.execute(statement)
        }
    }

    private func refuseDuplicate(of producer: BatchProducer, into table: TableName, on connection: PGConnection) throws {
        let earlier = try connection.query(SQL.earlierLoad(schema: table.schema), [table.name, producer.fingerprint]).rows
        if let row = earlier.first {
            throw LoadError(
                "\(producer.sourceText) was already loaded into \(table) by load "
                    + "\(row[0] ?? "?") (\(row[1] ?? "?"), \(row[2] ?? "?")); nothing was loaded. Pass --force to load it "
                    + "again, or use --mode replace or --mode merge")
        }
    }

    /// Writes the ledger row (inside the caller's transaction) and returns the summary.
    func record(
        _ producer: BatchProducer, rows: Int, into table: TableName, started: Date, on connection: PGConnection,
        connections: Int = 1
    ) throws -> LoadSummary {
        let startedText = ISO8601DateFormatter.withFractions.string(from: started)
        let recorded = try connection.query(
            SQL.recordLoad(schema: table.schema),
            [table.name, request.mode.rawValue, producer.sourceText, producer.fingerprint, String(rows), startedText])
        let seconds = Date().timeIntervalSince(started)
        let plan = producer.planner
        return LoadSummary(
            loadId: Int64(recorded.value(0, 0) ?? "0") ?? 0, table: table.description, mode: request.mode,
            rows: rows, sources: producer.sourceNames, tableCreated: plan.created,
            columnsCreated: plan.created ? plan.columns.map(\.name) : [], columnsAdded: plan.addedColumns,
            columnsWidened: plan.widenings.map { "\($0.column): \($0.from.sqlName) → \($0.to.sqlName)" },
            columnsRenamed: Dictionary(plan.renamed.map { ($0.source, $0.name) }, uniquingKeysWith: { a, _ in a }),
            nulsRemoved: producer.encoder.nulsRemoved, copyFormat: producer.format.rawValue, connections: connections,
            seconds: seconds, rowsPerSecond: seconds > 0 ? Double(rows) / seconds : 0, server: connection.endpoint)
    }

    /// The merge key as the table names it.
    private func keyNames(_ existing: [TargetColumn]) -> [String] {
        request.primaryKey.map { key in
            let normalized = request.naming.normalize(key)
            return existing.first { $0.name == key }?.name ?? normalized
        }
    }

    /// COPYs one batch; a merge goes through a staging table and one set-based upsert.
    func send(_ step: LoadStep, on connection: PGConnection, into table: TableName) throws -> Int {
        let names = step.columns.map(\.name)
        do {
            guard request.mode == .merge else {
                return try connection.copyIn(SQL.copy(table, columns: names, format: step.format), data: step.data)
            }
            let key = step.columns.filter(\.required).map(\.name)
            try connection.execute(SQL.createStage(Self.stage, like: table, columns: names))
            let stageTable = TableName(schema: "pg_temp", name: Self.stage)
            let rows = try connection.copyIn(
                SQL.copy(stageTable, columns: names + [SQL.sequenceColumn], format: step.format), data: step.data)
            try connection.execute(
                SQL.mergeFromStage(
                    Self.stage, into: table, columns: step.columns, key: key, deduplicate: step.keysRepeat))
            try connection.execute(SQL.dropTable(Self.stage))
            return rows
        } catch let error as PGError {
            throw located(error, step)
        }
    }

    /// Names the input line a COPY error points at (the server counts rows within the COPY).
    private func located(_ error: PGError, _ step: LoadStep) -> Error {
        guard let row = error.copyRow, row >= 1, row <= step.lines.count else { return error }
        var message = "the server rejected the row: \(error.message)"
        if let sqlState = error.sqlState { message += " (SQLSTATE \(sqlState))" }
        if let detail = error.detail { message += "; \(detail)" }
        return InputError(source: step.source, line: step.lines[row - 1], column: error.copyColumn, message: message)
    }
}

extension ISO8601DateFormatter {
    nonisolated(unsafe) static let withFractions: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()
}
