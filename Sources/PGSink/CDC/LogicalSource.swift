import CLibPQ
import Foundation
import Logging
import PGSinkCore

/// Settings of `pgsink cdc stream`.
public struct LogicalSettings: Sendable, Equatable {
    public var streams: StreamSettings = {
        var settings = StreamSettings()
        settings.batchSeconds = 1
        // Smaller steps: a replica's rows are wide, and memory stays under 200 MB.
        settings.stepRows = 25_000
        return settings
    }()
    public var slot = "pgsink"
    public var publication = "pgsink"
    /// `schema.table` names to replicate (all of the publication's when empty).
    public var tables: [String] = []
    /// Schemas all of whose tables are replicated (with `tables`; all of the publication's when both are empty).
    public var schemas: [String] = []
    /// Source schema → destination schema.
    public var schemaMap: [String: String] = [:]
    /// The destination of the one table of `tables` (Nilus's `dest_table`), `schema.table` or a
    /// name in the source table's (mapped) schema.
    public var destinationTable: String?
    /// Copy the existing rows first; nil: only when the slot is created by this run.
    public var snapshot: Bool?
    /// Stop once everything up to the source's WAL position at the start is applied.
    public var once = false
    public var deletes: DeleteMode = .hard

    public init() {}

    /// The destination of the source table `schema.name`: `destinationTable` for the included
    /// table, else the same name in the schema `schemaMap` maps its schema to.
    func destination(schema: String, name: String) -> TableName {
        let naming = streams.naming
        let mapped = schemaMap[schema] ?? schema
        if let destinationTable, tables.count == 1, LogicalReplication.sourceName(tables[0]) == "\(schema).\(name)" {
            guard let dot = destinationTable.firstIndex(of: ".") else {
                return TableName(schema: naming.normalize(mapped), name: naming.normalize(destinationTable))
            }
            return TableName(
                schema: naming.normalize(String(destinationTable[..<dot])),
                name: naming.normalize(String(destinationTable[destinationTable.index(after: dot)...])))
        }
        return TableName(schema: naming.normalize(mapped), name: naming.normalize(name))
    }
}

/// A table of the source as the snapshot copies it and the stream names it.
struct SourceTable {
    var schema: String
    var name: String
    var columns: [(name: String, type: ColumnType)]
    var key: [String]
    /// The key is a primary key or a unique replica identity index (not REPLICA IDENTITY FULL's
    /// every column): no two snapshot rows share it.
    var uniqueKey = true
    /// Every column's type is built in (the same OID on every server), so its binary COPY form
    /// can be handed on as it is.
    var builtinTypes = true
    /// The snapshot copies it in binary, handed to the destination's COPY untouched (see
    /// `LogicalReplication.passesThrough`).
    var binary = false
    /// A condition on the rows copied (a pipeline's cursor), in SQL over the table's columns.
    var filter: String?
    /// What the rows are selected from instead of the table: a pipeline's query, `(query) q`.
    var from: String?

    var qualified: String { from ?? "\(quoteIdentifier(schema)).\(quoteIdentifier(name))" }
}

/// The messages of `pgsink cdc stream`, one at a time, on the reader's thread: first the rows of
/// the snapshot (each table's `COPY … TO STDOUT` at the slot's exported snapshot), then the
/// replication stream (`START_REPLICATION … LOGICAL`, pgoutput), as the raw CopyData of each.
/// A snapshot row is handed out as `S` + the table's index (4 bytes) + the row in COPY's text
/// format, or for a table copied in binary as `B` + the index + whole tuples of binary COPY
/// (without its header and trailer); the end of the snapshot as `E`. Replication messages are handed out as they come
/// (`w` XLogData, `k` keepalive).
final class LogicalSource: MessageSource, @unchecked Sendable {
    let replication: PGConnection
    let catalog: PGConnection
    let logger: Logger
    private let buffer = ByteStorage(capacity: 1 << 20)
    private let row = ByteStorage(capacity: 1 << 16)

    /// The snapshot still to copy (empty when there is none), and the table being copied.
    let snapshotTables: [SourceTable]
    @exclusivity(unchecked) private var copying: Int?
    /// The binary COPY being read has not yet shown its header.
    @exclusivity(unchecked) private var headerPending = false
    @exclusivity(unchecked) private var snapshotDone: Bool
    /// The COPY being read ended while rows were joined into one message: the next read is its end.
    @exclusivity(unchecked) private var copyEnded = false
    /// What `START_REPLICATION` runs once the snapshot is in; nil: the input ends with the
    /// snapshot (a pipeline's copy of tables, `TableCopy`).
    private let startCommand: String?
    /// `START_REPLICATION` ran: status updates may go out.
    private(set) var streaming = false
    /// Set by the reader (`--once` reached its end): `next` ends the input.
    var finished = false

    init(
        replication: PGConnection, catalog: PGConnection, snapshot: [SourceTable], startCommand: String?, logger: Logger
    ) {
        self.replication = replication
        self.catalog = catalog
        self.snapshotTables = snapshot
        self.snapshotDone = snapshot.isEmpty
        self.startCommand = startCommand
        self.logger = logger
    }

    func next(timeout: Double) throws -> MessageInput.Next {
        if finished { return .end }
        if !snapshotDone { return try nextSnapshotRow() }
        guard let startCommand else { return .end }
        if !streaming {
            try startStreaming(startCommand)
            streaming = true
        }
        switch try replication.readCopyData(timeout: timeout, into: buffer) {
        case .data(let bytes): return .line(UnsafeMutablePointer(mutating: bytes.baseAddress!), bytes.count)
        case .timeout: return .timeout
        case .end: return .end
        }
    }

    /// `START_REPLICATION`. A slot still held by a run that was killed a moment ago (its walsender
    /// has not noticed yet) is waited for, up to 30 s.
    private func startStreaming(_ startCommand: String) throws {
        let deadline = Date().addingTimeInterval(30)
        while true {
            do {
                return try replication.startCopyBoth(startCommand)
            } catch let error as PGError where error.sqlState == "55006" && Date() < deadline {
                logger.notice("\(error.message); waiting for it to be released")
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
    }

    /// How many bytes of binary rows one snapshot message joins at most.
    static let joinedBytes = 256 << 10

    private func nextSnapshotRow() throws -> MessageInput.Next {
        while true {
            let index: Int
            if let copying {
                index = copying
            } else {
                index = 0
                try startCopy(0)
            }
            // The row is read straight in after its prefix (the kind and the table's index).
            let binary = snapshotTables[index].binary
            row.count = 0
            row.append(UInt8(ascii: binary ? "B" : "S"))
            row.appendInt32(Int32(index))
            let prefix = row.count
            let read: PGConnection.CopyData
            if copyEnded {
                copyEnded = false
                read = .end
            } else {
                read = try catalog.readCopyData(timeout: 60, into: row, keeping: prefix)
            }
            switch read {
            case .data(let bytes):
                var start = 0
                if binary {
                    if headerPending {
                        start = try Self.binaryHeaderLength(bytes, table: snapshotTables[index])
                        headerPending = false
                    }
                    // The trailer (-1 as the field count), alone or after the header of an empty table.
                    if bytes.count - start < 2 || (bytes[start] == 0xFF && bytes[start + 1] == 0xFF) { continue }
                }
                if start > 0 {
                    memmove(row.base + prefix, row.base + prefix + start, bytes.count - start)
                    row.count -= start
                }
                // Binary rows that have already arrived join this one: one message for many rows.
                joining: while binary && row.count < Self.joinedBytes {
                    switch try catalog.appendBufferedCopyData(to: row) {
                    case .appended: continue
                    case .none: break joining
                    case .end:
                        copyEnded = true
                        break joining
                    }
                }
                return .line(row.base, row.count)
            case .timeout:
                continue
            case .end:
                logger.info("snapshot: copied \(snapshotTables[index].qualified)")
                if index + 1 < snapshotTables.count {
                    try startCopy(index + 1)
                    continue
                }
                try catalog.execute("COMMIT")
                snapshotDone = true
                row.count = 0
                row.append(UInt8(ascii: "E"))
                return .line(row.base, row.count)
            }
        }
    }

    private func startCopy(_ index: Int) throws {
        let table = snapshotTables[index]
        let columns = table.columns.map { quoteIdentifier($0.name) }.joined(separator: ", ")
        try catalog.startCopyOut(
            "COPY (SELECT \(columns) FROM \(table.qualified)\(table.filter.map { " WHERE " + $0 } ?? "")) TO STDOUT"
                + (table.binary ? " (FORMAT binary)" : ""))
        copying = index
        headerPending = table.binary
        logger.info("snapshot: copying \(table.qualified)\(table.binary ? " in binary" : "")")
    }

    /// The length of binary COPY's header at the start of `bytes`: its signature, flags and
    /// header extension.
    static func binaryHeaderLength(_ bytes: UnsafeBufferPointer<UInt8>, table: SourceTable) throws -> Int {
        guard bytes.count >= 19, bytes.prefix(11).elementsEqual(BatchEncoder.binarySignature) else {
            throw LoadError("the source's binary COPY of \(table.qualified) did not start with COPY's signature")
        }
        let extensionLength = Int(bytes[15]) << 24 | Int(bytes[16]) << 16 | Int(bytes[17]) << 8 | Int(bytes[18])
        guard 19 + extensionLength <= bytes.count else {
            throw LoadError("the source's binary COPY of \(table.qualified) has a header longer than its first message")
        }
        return 19 + extensionLength
    }
}

extension PGConnection {
    /// Starts a `COPY … TO STDOUT` whose rows `readCopyData` hands out.
    func startCopyOut(_ sql: String) throws {
        let start = try execute(sql)
        guard start.status == PGRES_COPY_OUT else {
            throw PGError(kind: .server, message: "the server did not start COPY for: \(sql)")
        }
    }
}
