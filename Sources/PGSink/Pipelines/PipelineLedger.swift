import Foundation
import PGSinkCore

/// The pipelines' bookkeeping in the destination schema: `_pgsink_pipelines` (one row per
/// pipeline: last run, state) and `_pgsink_runs` (history). The source's state itself is saved
/// by the writer in `_pgsink_state`, in the transaction of the data it covers; the run's row
/// copies it when the run ends.
public struct PipelineLedger {
    public let connection: PGConnection
    public let schema: String

    public init(connection: PGConnection, schema: String) {
        self.connection = connection
        self.schema = schema
    }

    /// Creates the schema and the tables when missing.
    public func prepare() throws {
        try Catalog.ensureSchema(schema, on: connection)
        try connection.execute(SQL.createPipelines(schema: schema))
        try connection.execute(SQL.createRuns(schema: schema))
        try connection.execute(SQL.createStateTable(schema: schema))
    }

    /// Records a run's start (and marks runs a killed process left `running` as abandoned); returns its id.
    public func begin(pipeline: String, source: String, started: Date) throws -> Int64 {
        try connection.query(SQL.abandonRuns(schema: schema), [pipeline])
        let id = try connection.query(SQL.beginRun(schema: schema), [pipeline, source, ISOTime.format(Int64((started.timeIntervalSince1970 * 1_000_000).rounded()))]).value(0, 0)
        return Int64(id ?? "") ?? 0
    }

    /// Records how a run ended.
    public func end(run id: Int64, _ outcome: PipelineOutcome) throws {
        let rows = String(decoding: try JSONSerialization.data(withJSONObject: outcome.rows, options: [.sortedKeys]), as: UTF8.self)
        try connection.query(
            SQL.endRun(schema: schema),
            [
                String(id), outcome.status.rawValue, rows, String(outcome.rejected), outcome.errorCode,
                outcome.error.map { Secrets.redact($0) }, outcome.state,
            ])
    }

    /// The state the writer last committed for `stateId` (JSON text), or nil.
    public func savedState(_ stateId: String) throws -> String? {
        try connection.query(SQL.readState(schema: schema), [stateId]).value(0, 0)
    }

    /// Runs, newest first.
    public func history(pipeline: String?, limit: Int) throws -> [PipelineRunRecord] {
        try connection.query(SQL.runHistory(schema: schema), [pipeline, String(limit)]).rows.map { row in
            let rows = (row[6].flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any] ?? [:])
                .compactMapValues { ($0 as? NSNumber)?.intValue }
            return PipelineRunRecord(
                id: Int64(row[0] ?? "") ?? 0, pipeline: row[1] ?? "", source: row[2] ?? "", startedAt: row[3] ?? "",
                seconds: Double(row[4] ?? "") ?? 0, status: row[5] ?? "", rows: rows, rejected: Int(row[7] ?? "") ?? 0,
                errorCode: row[8], error: row[9], state: row[10])
        }
    }

    /// Every pipeline's row.
    public func pipelines() throws -> [PipelineRow] {
        try connection.query(SQL.pipelineRows(schema: schema), []).rows.map { row in
            PipelineRow(
                name: row[0] ?? "", source: row[1] ?? "",
                lastStarted: row[2].flatMap(Double.init).map(Date.init(timeIntervalSince1970:)),
                lastFinished: row[3].flatMap(Double.init).map(Date.init(timeIntervalSince1970:)),
                lastStatus: row[4], state: row[5])
        }
    }

    /// Whether the tables exist yet (nothing has run when they do not).
    public func exists() throws -> Bool {
        try Catalog.columns(of: TableName(schema: schema, name: SQL.runsName), on: connection) != nil
    }
}

/// How a run ended, as its history row records it.
public struct PipelineOutcome: Sendable {
    public enum Status: String, Sendable, Codable { case succeeded, failed, cancelled }
    public var status: Status = .succeeded
    public var rows: [String: Int] = [:]
    public var rejected = 0
    public var errorCode: String?
    public var error: String?
    /// The source's state after the run (JSON text); nil: as before.
    public var state: String?

    public init() {}
}

/// One row of `_pgsink_runs`, as `pgsink history --json` prints it.
public struct PipelineRunRecord: Codable, Sendable {
    public var id: Int64
    public var pipeline: String
    public var source: String
    public var startedAt: String
    public var seconds: Double
    public var status: String
    public var rows: [String: Int]
    public var rejected: Int
    public var errorCode: String?
    public var error: String?
    public var state: String?
}

/// One row of `_pgsink_pipelines`.
public struct PipelineRow: Sendable {
    public var name: String
    public var source: String
    public var lastStarted: Date?
    public var lastFinished: Date?
    public var lastStatus: String?
    public var state: String?
}
