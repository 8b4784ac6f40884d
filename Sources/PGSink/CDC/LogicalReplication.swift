import Foundation
import Logging
import PGSinkCore

/// `pgsink cdc stream`: a source PostgreSQL's changes, through a logical replication slot with the
/// built-in pgoutput plugin and a publication, applied to the destination by the shared writer
/// (`StreamLoad`). A new slot's exported snapshot is copied first. The destination's
/// `_pgsink_state` row `cdc-stream:<slot>` holds the last source transaction applied, committed
/// with it; the slot is told only what the destination committed.
public enum LogicalReplication {
    public struct Summary: Sendable {
        public var rows: [String: Int] = [:]
        public var changes = 0
        public var lastLSN = ""
        public var snapshot = false
    }

    public static func run(
        settings: LogicalSettings, source: Connector, connection: PGConnection, connector: Connector, retries: Int,
        logger: Logger
    ) throws -> Summary {
        let catalog = try source.connect()
        try requireLogical(catalog)
        try ensurePublication(settings, on: catalog, logger: logger)
        var streams = settings.streams
        streams.stateId = "cdc-stream:\(settings.slot)"
        let saved = (try ChangeApply.savedState(streams, on: connection)["lsn"] as? String).flatMap(LSN.init)?.rawValue
        var resume = saved ?? 0
        // --once: what is committed now, flushed or not (the insert position: with asynchronous
        // commit, the flushed one lags behind the commits).
        let target: UInt64? = settings.once
            ? try catalog.execute("SELECT pg_current_wal_insert_lsn()::text").value(0, 0).flatMap(LSN.init)?.rawValue : nil
        let replication = try source.connect(adding: [.init("replication", "database")])
        var existing = try catalog.query(
            "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", [settings.slot]
        ).rows.first
        if existing != nil && saved == nil && settings.snapshot != false {
            // The destination never committed anything from this slot: a run stopped during its
            // snapshot (which commits as one transaction, with the first saved position). Streaming
            // from the slot now would miss the snapshot's rows, so it starts over.
            logger.notice(
                "slot \(settings.slot) exists, but the destination has no position saved for it (a run stopped before its snapshot committed); dropping the slot to start again with a new snapshot")
            try dropSlot(settings.slot, on: catalog, logger: logger)
            existing = nil
        }
        var snapshotTables: [SourceTable] = []
        var snapshotLSN: UInt64 = 0
        var summary = Summary()
        if existing == nil {
            let created = try replication.execute(
                "CREATE_REPLICATION_SLOT \(quoteIdentifier(settings.slot)) LOGICAL pgoutput EXPORT_SNAPSHOT")
            snapshotLSN = created.value(0, 1).flatMap(LSN.init)?.rawValue ?? 0
            logger.notice("created replication slot \(settings.slot) at \(LSN(snapshotLSN))")
            if settings.snapshot ?? true, let name = created.value(0, 2) {
                try catalog.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
                try catalog.execute("SET TRANSACTION SNAPSHOT '\(name.replacing("'", with: "''"))'")
                snapshotTables = try tables(settings, on: catalog)
                for index in snapshotTables.indices {
                    snapshotTables[index].binary = try passesThrough(snapshotTables[index], settings, destination: connection)
                }
                summary.snapshot = true
            }
            // A new slot starts at its own consistent point, whatever an older slot of the same
            // name had applied (it may even have been another server).
            resume = snapshotLSN
        } else if settings.snapshot == true {
            throw LoadError(
                "--snapshot needs a new slot: slot \(settings.slot) exists and has no snapshot to copy from; drop it "
                    + "(pgsink cdc drop --slot \(settings.slot)) to start over")
        }
        let publication = settings.publication.replacing("'", with: "''")
        let start = "START_REPLICATION SLOT \(quoteIdentifier(settings.slot)) LOGICAL \(LSN(resume)) "
            + "(proto_version '1', publication_names '\"\(publication.replacing("\"", with: "\"\""))\"')"
        let messages = LogicalSource(
            replication: replication, catalog: catalog, snapshot: snapshotTables, startCommand: start, logger: logger)
        var readerRef: LogicalReader?
        let load = StreamLoad(
            settings: streams, connection: connection, connector: connector, retries: retries, logger: logger,
            keepEveryState: false
        ) { state in readerRef?.committedState(state) }
        let reader = LogicalReader(
            settings: settings, engine: load.engine, logger: logger, source: messages, resumeAfter: resume,
            snapshotLSN: snapshotLSN, target: target)
        readerRef = reader
        try reader.defineSnapshot(snapshotTables)
        try load.run(reader: reader, source: messages)
        // What the destination committed, acknowledged before leaving.
        try? reader.acknowledge()
        replication.endCopy()
        summary.rows = load.writer.rowsByTable
        summary.changes = reader.changes
        summary.lastLSN = reader.lastApplied
        return summary
    }

    /// Drops a slot, waiting up to 30 s for a walsender of a run killed a moment ago to let go of it.
    static func dropSlot(_ slot: String, on catalog: PGConnection, logger: Logger) throws {
        let deadline = Date().addingTimeInterval(30)
        while true {
            do {
                try catalog.query("SELECT pg_drop_replication_slot($1)", [slot])
                return
            } catch let error as PGError where error.sqlState == "55006" && Date() < deadline {
                logger.notice("\(error.message); waiting for it to be released")
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }

    static func requireLogical(_ catalog: PGConnection) throws {
        let level = try catalog.execute("SHOW wal_level").value(0, 0) ?? ""
        guard level == "logical" else {
            throw LoadError(
                "the source's wal_level is \(level), and logical replication needs logical: run ALTER SYSTEM SET wal_level = "
                    + "logical on the source and restart it")
        }
    }

    static func ensurePublication(_ settings: LogicalSettings, on catalog: PGConnection, logger: Logger) throws {
        guard try catalog.query("SELECT 1 FROM pg_publication WHERE pubname = $1", [settings.publication]).rows.isEmpty else {
            return
        }
        var parts = settings.tables.isEmpty ? [] : ["TABLE " + settings.tables.map(qualified).joined(separator: ", ")]
        if !settings.schemas.isEmpty {
            parts.append("TABLES IN SCHEMA " + settings.schemas.map(quoteIdentifier).joined(separator: ", "))
        }
        let what = parts.isEmpty ? "FOR ALL TABLES" : "FOR " + parts.joined(separator: ", ")
        let statement = "CREATE PUBLICATION \(quoteIdentifier(settings.publication)) \(what)"
        do {
            try catalog.execute(statement)
        } catch let error as PGError {
            throw LoadError("cannot create the publication (\(error.message)); run on the source as its owner: \(statement)")
        }
        logger.notice("created publication \(settings.publication) (\(what))")
    }

    /// `schema.table` as a quoted name (`table` alone is in public).
    static func qualified(_ name: String) -> String {
        let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
        return parts.count == 2 ? "\(quoteIdentifier(parts[0])).\(quoteIdentifier(parts[1]))" : "public.\(quoteIdentifier(name))"
    }

    /// `schema.table` as given, with `table` alone in public.
    static func sourceName(_ name: String) -> String {
        name.contains(".") ? name : "public.\(name)"
    }

    /// The publication's tables (those of --tables and the schemas), with their columns, types and keys.
    static func tables(_ settings: LogicalSettings, on catalog: PGConnection) throws -> [SourceTable] {
        let listed = try catalog.query(
            "SELECT schemaname, tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1, 2", [settings.publication]
        ).rows
        let wanted = Set(settings.tables.map(sourceName))
        let schemas = Set(settings.schemas)
        var result: [SourceTable] = []
        for row in listed {
            guard let schema = row[0], let name = row[1] else { continue }
            if !(wanted.isEmpty && schemas.isEmpty) && !wanted.contains("\(schema).\(name)") && !schemas.contains(schema) {
                continue
            }
            result.append(try describe(schema: schema, name: name, on: catalog, fallbackKey: nil))
        }
        return result
    }

    /// One source table: its columns, their destination types, and its key (the primary key or
    /// replica identity index; else `fallbackKey`, or every column when that is empty; without a
    /// fallback, a table with neither must be REPLICA IDENTITY FULL).
    static func describe(schema: String, name: String, on catalog: PGConnection, fallbackKey: [String]?) throws -> SourceTable {
        let relation = "\(quoteIdentifier(schema)).\(quoteIdentifier(name))"
        let attributes = try catalog.query(
            "SELECT attname, \(typeSQL("atttypid", "atttypmod")), (atttypid < 16384)::text FROM pg_attribute "
                + "WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum",
            [relation]
        ).rows
        let columns = attributes.map { ($0[0] ?? "", LogicalReader.exactType($0[1] ?? "text")) }
        var uniqueKey = true
        var key = try catalog.query(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                + "WHERE i.indrelid = $1::regclass AND (i.indisprimary OR i.indisreplident) "
                + "ORDER BY i.indisprimary DESC, array_position(i.indkey::int2[], a.attnum)", [relation]
        ).rows.compactMap { $0[0] }
        if key.isEmpty, let fallbackKey {
            key = fallbackKey.isEmpty ? columns.map(\.0) : fallbackKey
            uniqueKey = false
        } else if key.isEmpty {
            let identity = try catalog.query("SELECT relreplident::text FROM pg_class WHERE oid = $1::regclass", [relation])
                .rows.first?[0]
            guard identity == "f" else {
                throw LoadError(
                    "\(schema).\(name) has no primary key; replicating it needs one, or on the source: ALTER TABLE "
                        + "\(relation) REPLICA IDENTITY FULL")
            }
            key = columns.map(\.0)
            uniqueKey = false
        }
        var seen = Set<String>()
        var table = SourceTable(schema: schema, name: name, columns: columns, key: key.filter { seen.insert($0).inserted })
        table.builtinTypes = attributes.allSatisfy { $0[2] == "true" }
        table.uniqueKey = uniqueKey
        return table
    }

    /// The destination type of a source column (`oid`, `typmod` are SQL expressions): its own when
    /// it is built in; a domain's base type when that is; text (text[] for an array) for an enum,
    /// a composite or another type of the source's own, which the destination need not have.
    static func typeSQL(_ oid: String, _ typmod: String) -> String {
        "CASE WHEN \(oid) < 16384 THEN format_type(\(oid), \(typmod)) ELSE (SELECT CASE WHEN t.typtype = 'd' AND "
            + "t.typbasetype < 16384 THEN format_type(t.typbasetype, t.typtypmod) WHEN t.typcategory = 'A' THEN 'text[]' "
            + "ELSE 'text' END FROM pg_type t WHERE t.oid = \(oid)) END"
    }

    /// Whether a table's snapshot may travel in binary COPY, untouched from the source's COPY OUT
    /// to the destination's COPY IN: every column of a built-in type, and the destination table
    /// either new (it is created with the source's types) or holding each column with exactly the
    /// source's type. Otherwise the rows are read as text and typed like any other input.
    static func passesThrough(_ table: SourceTable, _ settings: LogicalSettings, destination: PGConnection) throws -> Bool {
        guard table.builtinTypes else { return false }
        // Names that differ only by case (`ID`, `id`) get columns the planner names: read as text.
        let normalized = table.columns.map { settings.streams.naming.normalize($0.name) }
        guard Set(normalized).count == normalized.count else { return false }
        let target = settings.destination(schema: table.schema, name: table.name)
        let existing = try destination.query(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                + "WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped", [target.quoted]
        ).rows
        guard !existing.isEmpty else { return true }
        let types = Dictionary(existing.map { ($0[0] ?? "", $0[1] ?? "") }, uniquingKeysWith: { a, _ in a })
        return table.columns.allSatisfy { types[settings.streams.naming.normalize($0.name)] == $0.type.sqlName }
    }

    /// `pgsink cdc status`: the slot, its lag, and what the destination applied.
    public static func status(slot: String, source: Connector) throws -> [(String, String)] {
        let catalog = try source.connect()
        guard
            let row = try catalog.query(
                "SELECT plugin, active::text, restart_lsn::text, confirmed_flush_lsn::text, "
                    + "pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint::text, "
                    + "pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)) "
                    + "FROM pg_replication_slots WHERE slot_name = $1", [slot]
            ).rows.first
        else { throw LoadError("the source has no replication slot \(slot)") }
        return [
            ("plugin", row[0] ?? ""), ("active", row[1] ?? ""), ("restart_lsn", row[2] ?? ""),
            ("confirmed_flush_lsn", row[3] ?? ""), ("lag_bytes", row[4] ?? ""), ("retained_wal", row[5] ?? ""),
        ]
    }

    /// `pgsink cdc drop`: the slot goes (the source keeps no more WAL for it).
    public static func drop(slot: String, source: Connector) throws -> Bool {
        let catalog = try source.connect()
        guard try !catalog.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [slot]).rows.isEmpty else {
            return false
        }
        try catalog.query("SELECT pg_drop_replication_slot($1)", [slot])
        return true
    }
}
