import Foundation
import Logging
import PGSinkCore

/// A pipeline's `postgres` source: tables of a source PostgreSQL copied by the snapshot reader of
/// `cdc stream` (`LogicalSource`, `LogicalReader`): one REPEATABLE READ transaction on the source,
/// each table's `COPY … TO STDOUT (FORMAT binary)` handed to the destination's binary COPY without
/// parsing when the types allow, merged by key into the destination by the shared writer.
///
/// Without a cursor (a full refresh) each destination table's rows are replaced by the snapshot's
/// in one transaction: rows deleted at the source go, readers see the old rows until it commits,
/// and views and grants on the table stay (the overwrite of `StreamWriter`, as Airbyte's uses).
///
/// With a cursor column, each table's state is the highest cursor value the copy saw (read in the
/// same snapshot); the next run copies rows whose cursor is `>=` it, and the merge by key keeps a
/// row that shares the last value from being lost or doubled. The state commits with the data.
enum TableCopy {
    struct Result {
        var rows: [String: Int]
        /// The state the writer committed (JSON text), if any.
        var state: String?
    }

    static func run(
        _ source: PostgresSource, streams: StreamSettings, savedState: String?, sourceConnector: Connector,
        connection: PGConnection, connector: Connector, retries: Int, logger: Logger
    ) throws -> Result {
        let saved = savedState.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
        let savedCursors = saved?["cursors"] as? [String: String] ?? [:]
        let catalog = try sourceConnector.connect()
        try catalog.execute(SQL.beginSnapshotRead)
        var settings = LogicalSettings()
        settings.streams = streams
        settings.destinationTable = source.destinationTable
        settings.tables = source.tables.map(LogicalReplication.sourceName)
        // A query's destination is `dest_table`, which `LogicalSettings.destination` gives the one table.
        if source.query != nil { settings.tables = ["query.result"] }
        var tables: [SourceTable] = []
        var cursors: [String: String] = [:]
        for (index, (name, described)) in try describe(source, on: catalog).enumerated() {
            var table = described
            settings.schemaMap[table.schema] = streams.schema
            if let cursor = source.cursor {
                let type = try cursorType(cursor, of: table, named: name)
                let highest = try catalog.execute(SQL.highestCursor(cursor, from: table.qualified)).value(0, 0)
                if let highest { cursors[name] = highest } else if let old = savedCursors[name] { cursors[name] = old }
                if let old = savedCursors[name] {
                    // The value travels as a setting of this transaction, never pasted into SQL.
                    let setting = "pgsink.cursor_\(index)"
                    try catalog.query(SQL.setLocal, [setting, old])
                    table.filter = SQL.cursorFilter(cursor, setting: setting, type: type)
                    logger.info("\(name): rows with \(cursor) >= \(old)")
                }
            }
            tables.append(table)
        }
        for index in tables.indices {
            tables[index].binary = try LogicalReplication.passesThrough(tables[index], settings, destination: connection)
        }
        let state = source.cursor == nil ? nil : Self.stateText(cursors)
        let messages = LogicalSource(replication: catalog, catalog: catalog, snapshot: tables, startCommand: nil, logger: logger)
        var committed: String?
        let load = StreamLoad(
            settings: streams, connection: connection, connector: connector, retries: retries, logger: logger,
            keepEveryState: false
        ) { committed = $0 }
        let reader = LogicalReader(
            settings: settings, engine: load.engine, logger: logger, source: messages, resumeAfter: 0, snapshotLSN: 0,
            target: nil)
        load.engine.inputName = "postgres source"
        load.engine.checkpoint = { state }
        // A full refresh replaces each table's rows in the writer's overwrite transaction; what it
        // would create while the main connection waits on it is created first.
        let refresh = source.cursor == nil
        if refresh {
            try load.writer.prepare(schemas: tables.map { settings.destination(schema: $0.schema, name: $0.name).schema })
        }
        try reader.defineSnapshot(tables, as: refresh ? .replace : .merge)
        try load.run(reader: reader, source: messages)
        return Result(rows: load.writer.rowsByTable, state: committed)
    }

    /// The source's tables (or its query's result), each with the name its cursor is stored under.
    static func describe(_ source: PostgresSource, on catalog: PGConnection) throws -> [(String, SourceTable)] {
        if let query = source.query { return [("query", try describe(query: query, key: source.primaryKey, on: catalog))] }
        return try source.tables.map(LogicalReplication.sourceName).map { name in
            let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
            guard try catalog.query(SQL.tableExists, [LogicalReplication.qualified(name)]).value(0, 0) != nil else {
                throw LoadError("the source has no table \(name); check tables: in the pipeline's source")
            }
            return (name, try LogicalReplication.describe(schema: parts[0], name: parts[1], on: catalog, fallbackKey: source.primaryKey))
        }
    }

    /// The SQL type of the cursor column.
    static func cursorType(_ cursor: String, of table: SourceTable, named name: String) throws -> String {
        guard let column = table.columns.first(where: { $0.name == cursor }) else {
            throw LoadError(
                "\(name) has no column \(cursor) (the pipeline's cursor); its columns are "
                    + table.columns.map(\.name).joined(separator: ", "))
        }
        return column.type.sqlName
    }

    /// A query's result as a source table: its columns and their types from the result's shape
    /// (`LIMIT 0`), keyed by `key` (every column when empty), selected from `(query) q`.
    static func describe(query: String, key: [String], on catalog: PGConnection) throws -> SourceTable {
        let from = "(\(query)) q"
        let fields = try catalog.execute(SQL.shape(of: from)).fields
        var columns: [(name: String, type: ColumnType)] = []
        var builtin = true
        for field in fields {
            let name = try catalog.query(
                "SELECT \(LogicalReplication.typeSQL("$1::oid", "$2::integer"))", [String(field.type), String(field.modifier)]
            ).value(0, 0)
            columns.append((field.name, LogicalReader.exactType(name ?? "text")))
            builtin = builtin && field.type < 16384
        }
        let names = columns.map(\.name)
        for column in key where !names.contains(column) {
            throw LoadError("the query has no column \(column) (primary_key); its columns are \(names.joined(separator: ", "))")
        }
        var table = SourceTable(schema: "query", name: "result", columns: columns, key: key.isEmpty ? names : key)
        table.uniqueKey = false
        table.builtinTypes = builtin
        table.from = from
        return table
    }

    static func stateText(_ cursors: [String: String]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: ["cursors": cursors], options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// A `postgres` source table's position: the source's highest cursor value, the one the last run
/// stored, and the rows after it (what the next run brings).
public struct CursorLag: Codable, Sendable, Equatable {
    public var table: String
    public var source: String?
    public var stored: String?
    public var rowsAfter: Int
}

extension TableCopy {
    /// Each table's `CursorLag` (the source is read in one snapshot, as a run reads it).
    static func lag(_ source: PostgresSource, savedState: String?, sourceConnector: Connector) throws -> [CursorLag] {
        guard let cursor = source.cursor else { return [] }
        let saved = savedState.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) } as? [String: Any]
        let savedCursors = saved?["cursors"] as? [String: String] ?? [:]
        let catalog = try sourceConnector.connect()
        try catalog.execute(SQL.beginSnapshotRead)
        defer { _ = try? catalog.execute("ROLLBACK") }
        return try describe(source, on: catalog).map { name, table in
            let type = try cursorType(cursor, of: table, named: name)
            let stored = savedCursors[name]
            let row = try catalog.query(SQL.cursorLag(cursor, type: type, from: table.qualified), [stored]).rows.first
            return CursorLag(table: name, source: row?[0] ?? nil, stored: stored, rowsAfter: Int(row?[1] ?? "0") ?? 0)
        }
    }
}
