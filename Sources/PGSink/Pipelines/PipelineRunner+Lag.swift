import Foundation
import PGSinkCore

/// How far a pipeline's destination is behind its source, from the source's own position where
/// it is known (`pgsink status`).
public struct SourceLag: Codable, Sendable, Equatable {
    /// cdc: WAL bytes the slot's consumer has not confirmed (`pgsink cdc status`'s `lag_bytes`).
    public var bytes: Int64?
    /// postgres with a cursor: each table's position.
    public var cursors: [CursorLag]?
    /// files: files the globs match that are not loaded yet.
    public var files: Int?
    /// events: events staged and not loaded yet, and the age of the oldest in seconds.
    public var events: Int64?
    public var oldestEventSeconds: Double?

    public init() {}

    /// One phrase for `pgsink status`.
    public var text: String {
        var parts: [String] = []
        if let bytes { parts.append("slot \(Wording.count(Int(bytes), "byte")) behind") }
        for cursor in cursors ?? [] {
            parts.append(
                "\(cursor.table) \(Wording.count(cursor.rowsAfter, "row")) after the stored cursor "
                    + "(\(cursor.stored ?? "none") → source \(cursor.source ?? "empty"))")
        }
        if let files { parts.append("\(Wording.count(files, "file")) not loaded") }
        if let events {
            var text = "\(Wording.count(Int(events), "event")) staged, not loaded"
            if let oldest = oldestEventSeconds { text += " (oldest \(String(format: "%.0f", oldest))s)" }
            parts.append(text)
        }
        return parts.joined(separator: ", ")
    }
}

extension PipelineRunner {
    /// The source's position against the destination's, where the source tells it: nil for a
    /// Singer or Airbyte source, and for a `postgres` source without a cursor (a full refresh).
    public func sourceLag(ledger: PipelineLedger) throws -> SourceLag? {
        var lag = SourceLag()
        switch pipeline.source {
        case .singer, .airbyte:
            return nil
        case .postgres(let source):
            guard source.cursor != nil else { return nil }
            let sourceConnector = Connector(try ConnectionSettings(string: source.url), logger: logger, retries: 0)
            defer { sourceConnector.close() }
            lag.cursors = try TableCopy.lag(source, savedState: try savedState(in: ledger), sourceConnector: sourceConnector)
        case .cdc(let source):
            guard let url = source.url else { return nil }
            let sourceConnector = Connector(try ConnectionSettings(string: url), logger: logger, retries: 0)
            defer { sourceConnector.close() }
            let status = try LogicalReplication.status(slot: source.settings.slot, source: sourceConnector)
            lag.bytes = status.first { $0.0 == "lag_bytes" }.flatMap { Int64($0.1) }
        case .files(let source):
            lag.files = try newFiles(source, on: ledger.connection).reduce(0) { $0 + $1.paths.count }
        case .events(let source):
            let settings = eventServerSettings(source)
            let staging = TableName(schema: settings.schema, name: EventStaging.tableName)
            guard try Catalog.columns(of: staging, on: ledger.connection) != nil else {
                lag.events = 0
                return lag
            }
            let position = try EventLoad.savedPosition(settings.load, on: ledger.connection)
            let row = try ledger.connection.query(SQL.eventsAfter(staging), [String(position)]).rows.first
            lag.events = Int64(row?[0] ?? "0") ?? 0
            lag.oldestEventSeconds = row?[1].flatMap(Double.init).map { ($0 * 10).rounded() / 10 }
        }
        return lag
    }
}
