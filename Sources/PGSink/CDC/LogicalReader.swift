import Foundation
import Logging
import PGSinkCore
import Synchronization

/// The reader of `pgsink cdc stream`: the snapshot's rows and pgoutput's changes become records
/// of one stream per source table, in front of the same writer as every other source. Each
/// record carries its transaction's commit LSN as its position; a delete carries a mark. Commits
/// happen only between source transactions (never inside one, but for a schema change or a
/// truncate, which a rerun replays idempotently), the state row records the last source
/// transaction applied, and the source is told only what the destination has committed.
final class LogicalReader: StreamReading, @unchecked Sendable {
    let settings: LogicalSettings
    let engine: StreamTarget
    let logger: Logger
    let source: LogicalSource
    /// What `--once` stops at (the source's WAL position at the start).
    let target: UInt64?

    /// One source relation: its destination stream and the slot of each column.
    final class Relation {
        let name: String
        var table: TableName
        var stream: StreamTarget.Stream
        var columns: [(name: String, type: ColumnType)]
        var key: [String]
        var slots: [Int] { didSet { slotsInOrder = slots.indices.elementsEqual(slots) } }
        /// The columns' slots are 0, 1, 2, …: a binary snapshot tuple is the row as it is.
        private(set) var slotsInOrder = false
        /// No two snapshot rows share the key (`SourceTable.uniqueKey`).
        var uniqueKey = false

        init(name: String, table: TableName, stream: StreamTarget.Stream, columns: [(name: String, type: ColumnType)], key: [String]) {
            self.name = name
            self.table = table
            self.stream = stream
            self.columns = columns
            self.key = key
            self.slots = columns.map { stream.sources.slot(for: $0.name) }
            slotsInOrder = slots.indices.elementsEqual(slots)
        }
    }

    private var relations: [UInt32: Relation] = [:]
    private var decoder = PgOutputDecoder()
    /// The decoder's tuple values, reused for every message.
    private var values: [PgOutput.TupleValue] = []
    @exclusivity(unchecked) private var snapshotRelations: [Relation] = []
    private var typeNames: [String: ColumnType] = [:]
    @exclusivity(unchecked) private var messages = 0

    // The source transaction being read.
    private var inTransaction = false
    private var transactionLSN: UInt64 = 0
    private var transactionTime: Int64 = 0
    private var skipping = false
    /// The last source transaction read whole: its commit LSN and the LSN after it.
    private var lastCommit: UInt64
    private var lastCommitEnd: UInt64
    /// What the source has sent up to (XLogData and keepalives), and decoded up to (keepalives).
    private var received: UInt64 = 0
    private var decoded: UInt64 = 0
    /// What the destination has committed (the writer's thread sets it).
    private let committed = Mutex(UInt64(0))
    private var lastStatus = Date.distantPast
    private let snapshotLSN: UInt64
    /// When the snapshot's rows were read (milliseconds since 1970): their `_pgsink_source_ts`.
    private let snapshotTime = Int64(Date().timeIntervalSince1970 * 1000)
    @exclusivity(unchecked) private(set) var changes = 0

    init(
        settings: LogicalSettings, engine: StreamTarget, logger: Logger, source: LogicalSource, resumeAfter: UInt64,
        snapshotLSN: UInt64, target: UInt64?
    ) {
        self.settings = settings
        self.engine = engine
        self.logger = logger
        self.source = source
        self.target = target
        self.snapshotLSN = snapshotLSN
        lastCommit = resumeAfter
        lastCommitEnd = resumeAfter
        committed.withLock { $0 = resumeAfter }
        engine.inputName = "slot \(settings.slot)"
        engine.batchColumns = { stream, _, _ in
            stream.envelope.isEmpty ? [] : ChangeApplication.systemColumns(envelope: stream.envelope)
        }
        engine.checkpoint = { [unowned self] in self.checkpoint() }
    }

    /// The destination committed a state: the source may let go of the WAL before it.
    func committedState(_ text: String) {
        guard let data = text.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let end = (object["end_lsn"] as? String).flatMap(LSN.init)?.rawValue
        else { return }
        committed.withLock { $0 = max($0, end) }
    }

    private func checkpoint() -> String? {
        let object: [String: Any] = [
            "slot": settings.slot, "lsn": LSN(lastCommit).description, "end_lsn": LSN(lastCommitEnd).description,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// How the snapshot's rows are written.
    enum SnapshotWrite {
        /// As the start of a change feed (`cdc stream`): with the position columns
        /// (`_pgsink_lsn`, `_pgsink_source_ts`, `_pgsink_deleted_at`) the changes after it compare.
        case changeFeed
        /// A pipeline's incremental copy: merged by key, no position columns (nothing follows
        /// that would compare them).
        case merge
        /// A pipeline's full refresh: the table's rows are replaced by the snapshot's, in the
        /// writer's overwrite transaction, so rows gone at the source go and readers see the old
        /// rows until it commits.
        case replace
    }

    /// Tables the snapshot copies, defined before its rows arrive.
    func defineSnapshot(_ tables: [SourceTable], as write: SnapshotWrite = .changeFeed) throws {
        for table in tables {
            let relation = try define(table.schema, table.name, columns: table.columns, key: table.key, as: write)
            relation.uniqueKey = table.uniqueKey
            snapshotRelations.append(relation)
        }
    }

    // MARK: StreamReading

    func process(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) throws {
        messages += 1
        guard count > 0 else { return }
        switch bytes[0] {
        case UInt8(ascii: "S"):
            guard count >= 5 else { throw fail("a snapshot row without its table") }
            let index = Int(UInt32(bytes[1]) << 24 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 8 | UInt32(bytes[4]))
            try snapshotRow(snapshotRelations[index], row: bytes + 5, count: count - 5)
        case UInt8(ascii: "B"):
            guard count >= 5 else { throw fail("a snapshot row without its table") }
            let index = Int(UInt32(bytes[1]) << 24 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 8 | UInt32(bytes[4]))
            try snapshotTuples(snapshotRelations[index], bytes + 5, count: count - 5)
        case UInt8(ascii: "E"):
            // The snapshot is in: commit it (with its position) before the stream starts.
            lastCommit = snapshotLSN
            lastCommitEnd = snapshotLSN
            try engine.flush()
        default:
            let frame = try ReplicationFrame.decode(UnsafeRawBufferPointer(start: bytes, count: count))
            switch frame {
            case .xLogData(let data):
                received = max(received, data.walEnd.rawValue)
                let header = ReplicationFrame.XLogData.headerLength
                let message = UnsafeRawBufferPointer(start: bytes + header, count: count - header)
                try change(try decoder.decode(message, values: &values), message)
            case .keepalive(let keepalive):
                received = max(received, keepalive.walEnd.rawValue)
                // A keepalive's position is how far the source has decoded: every transaction
                // that committed before it has been sent.
                decoded = max(decoded, keepalive.walEnd.rawValue)
                logger.debug("keepalive at \(keepalive.walEnd) (target \(target.map { LSN($0).description } ?? "none"), in a transaction: \(inTransaction))")
                if keepalive.replyRequested { try sendStatus(requestReply: false) }
                try checkDone()
            }
        }
        // A status update at least every 5 s (the clock read every 256 messages, not per row).
        if messages & 255 == 0, Date().timeIntervalSince(lastStatus) > 5 { try sendStatus(requestReply: false) }
    }

    func idle() throws {
        try engine.idle()
        // Ask for a keepalive: it says how far the source's WAL has been read.
        try sendStatus(requestReply: target != nil)
        try checkDone()
    }

    func finish() throws { try engine.finish() }

    /// `--once`: everything up to the target is read, and nothing is half read.
    private func checkDone() throws {
        guard let target, !inTransaction, decoded >= target || lastCommitEnd >= target else { return }
        try engine.flush()
        source.finished = true
    }

    /// The commit LSN of the last source transaction read whole.
    var lastApplied: String { LSN(lastCommit).description }

    /// Tells the source what the destination has committed.
    func acknowledge() throws { try sendStatus(requestReply: false) }

    private func sendStatus(requestReply: Bool) throws {
        guard source.streaming else { return }
        let flushed = committed.withLock { $0 }
        try source.replication.putCopyData(
            StandbyStatusUpdate(
                written: LSN(max(received, flushed)), flushed: LSN(flushed), applied: LSN(flushed), clock: PostgresClock.now(),
                replyRequested: requestReply
            ).bytes)
        lastStatus = Date()
    }

    // MARK: pgoutput

    private func change(_ message: PgOutput.Message, _ bytes: UnsafeRawBufferPointer) throws {
        switch message {
        case .begin(let begin):
            transactionLSN = begin.finalLSN.rawValue
            transactionTime = begin.commitTime
            inTransaction = true
            skipping = transactionLSN <= lastCommit
        case .commit(let commit):
            inTransaction = false
            if skipping {
                skipping = false
                return
            }
            lastCommit = commit.commitLSN.rawValue
            lastCommitEnd = commit.endLSN.rawValue
            try engine.flushIfDue()
            try checkDone()
        case .relation(let relation):
            try self.relation(relation)
        case .insert(let insert):
            guard !skipping else { return }
            try record(try self.relation(id: insert.relationID), values[insert.new], bytes, delete: false, old: nil)
        case .update(let update):
            guard !skipping else { return }
            let relation = try self.relation(id: update.relationID)
            let old = update.old.map { values[$0.values] }
            let new = values[update.new]
            if let old, keyChanged(relation, old: old, new: new, bytes) {
                try record(relation, old, bytes, delete: true, old: nil)
            }
            try record(relation, new, bytes, delete: false, old: old)
        case .delete(let delete):
            guard !skipping else { return }
            try record(try self.relation(id: delete.relationID), values[delete.old.values], bytes, delete: true, old: nil)
        case .truncate(let truncate):
            guard !skipping else { return }
            for id in truncate.relationIDs { try engine.operation(.truncate(try relation(id: id).table)) }
        case .origin, .type, .message, .streamStart, .streamStop, .streamCommit, .streamAbort:
            // Nothing to apply (streaming of in-progress transactions is not asked for).
            break
        }
    }

    private func fail(_ message: String) -> InputError {
        InputError(source: "slot \(settings.slot)", line: 0, message: "replication message \(messages): \(message)")
    }

    private func relation(id: UInt32) throws -> Relation {
        guard let relation = relations[id] else { throw fail("a change of relation \(id) before its Relation message") }
        return relation
    }

    private func relation(_ message: PgOutput.Relation) throws {
        var columns: [(name: String, type: ColumnType)] = []
        for column in message.columns {
            columns.append((column.name, try type(oid: column.typeOID, typmod: column.typeModifier)))
        }
        let key = message.columns.filter(\.isKey).map(\.name)
        if key.isEmpty {
            let table = "\(quoteIdentifier(message.namespace)).\(quoteIdentifier(message.name))"
            throw fail(
                "\(message.namespace).\(message.name) has no primary key and its replica identity gives none; on the source run "
                    + "ALTER TABLE \(table) REPLICA IDENTITY FULL (or add a primary key)")
        }
        relations[message.id] = try define(message.namespace, message.name, columns: columns, key: key)
    }

    private func type(oid: UInt32, typmod: Int32) throws -> ColumnType {
        let cacheKey = "\(oid) \(typmod)"
        if let known = typeNames[cacheKey] { return known }
        let name = try source.catalog.query(
            "SELECT " + LogicalReplication.typeSQL("$1::oid", "$2::int"), [String(oid), String(typmod)]
        ).rows.first?[0]
        let type = Self.exactType(name ?? "text")
        typeNames[cacheKey] = type
        return type
    }

    /// The source's type, exactly: `numeric(10,2)` and `varchar(20)` stay themselves (a replica
    /// keeps the source's types), the plain types keep their binary encoders.
    static func exactType(_ name: String) -> ColumnType {
        let parsed = ColumnType(parsing: name)
        return parsed.sqlName == name ? parsed : .other(name)
    }

    private func define(
        _ schema: String, _ name: String, columns: [(name: String, type: ColumnType)], key: [String],
        as write: SnapshotWrite = .changeFeed
    ) throws -> Relation {
        let table = settings.destination(schema: schema, name: name)
        var definition: StreamDefinition
        if write == .changeFeed {
            definition = .changeFeed(table, keys: key, ChangeApplication(deletes: settings.deletes, unavailable: nil))
        } else {
            definition = StreamDefinition(name: table.description, table: table)
            definition.keys = key
            definition.mode = .merge
        }
        definition.properties = columns.map(\.name)
        for column in columns { definition.declared[column.name] = column.type }
        definition.fingerprint = columns.map { "\($0.name) \($0.type.sqlName)" }.joined(separator: ",") + " key " + key.joined(separator: ",")
        try engine.define(definition, replaces: write == .replace)
        guard let stream = engine.stream(definition.name) else { throw fail("internal: the stream of \(table) is missing") }
        return Relation(name: "\(schema).\(name)", table: table, stream: stream, columns: columns, key: key)
    }

    // MARK: tuples

    typealias Tuple = ArraySlice<PgOutput.TupleValue>

    private func keyChanged(_ relation: Relation, old: Tuple, new: Tuple, _ bytes: UnsafeRawBufferPointer) -> Bool {
        for (index, column) in relation.columns.enumerated() where relation.key.contains(column.name) {
            guard index < old.count, index < new.count else { continue }
            let a = old[old.startIndex + index], b = new[new.startIndex + index]
            guard a.kind == .text || a.kind == .binary, b.kind == .text || b.kind == .binary else { continue }
            if a.length != b.length || memcmp(bytes.baseAddress! + Int(a.offset), bytes.baseAddress! + Int(b.offset), Int(a.length)) != 0 {
                return true
            }
        }
        return false
    }

    private func record(_ relation: Relation, _ values: Tuple, _ bytes: UnsafeRawBufferPointer, delete: Bool, old: Tuple?) throws {
        let stream = relation.stream
        let batch = stream.pending
        let base = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        batch.beginRecord(line: messages)
        for (index, original) in values.enumerated() where index < relation.slots.count {
            var value = original
            if value.kind == .unchanged {
                // Unchanged TOAST: the old tuple's value (REPLICA IDENTITY FULL), else NULL, which the
                // upsert fills from the key's earlier change or the stored row (`LoadStep.unchanged`).
                if let old, index < old.count, old[old.startIndex + index].kind == .text {
                    value = old[old.startIndex + index]
                } else {
                    batch.unchanged.append((batch.rowCount - 1, relation.slots[index]))
                    continue
                }
            }
            guard value.kind == .text else { continue }
            let offset = batch.bytes.count
            batch.bytes.append(base + Int(value.offset), count: Int(value.length))
            batch.setCell(Cell(offset: UInt32(offset), length: UInt32(value.length), kind: .quoted), column: relation.slots[index])
        }
        try endRecord(
            stream, lsn: transactionLSN, time: PostgresClock.unixMicroseconds(transactionTime) / 1000, delete: delete, bytes: 64)
    }

    private func endRecord(_ stream: StreamTarget.Stream, lsn: UInt64, time: Int64, delete: Bool, bytes: Int) throws {
        let batch = stream.pending
        // A pipeline's copy has no position columns (`SnapshotWrite`).
        if !stream.envelope.isEmpty {
            batch.setCell(batch.numberCell(Int64(bitPattern: lsn)), column: stream.envelope[0])
            batch.setCell(batch.numberCell(time), column: stream.envelope[1])
            if delete { batch.setCell(batch.numberCell(time), column: stream.envelope[2]) }
        }
        batch.endRecord()
        changes += 1
        try engine.recorded(stream, bytes: bytes)
    }

    /// A row of the snapshot, in COPY's text format: tab-separated, `\N` for NULL, backslash escapes.
    private func snapshotRow(_ relation: Relation, row p: UnsafeMutablePointer<UInt8>, count: Int) throws {
        let stream = relation.stream
        let batch = stream.pending
        batch.beginRecord(line: messages)
        batch.keysAreNew = relation.uniqueKey
        var column = 0
        var i = 0
        var end = count
        if end > 0 && p[end - 1] == 10 { end -= 1 }
        while i <= end && column < relation.slots.count {
            var j = i
            while j < end && p[j] != 9 { j += 1 }
            if !(j - i == 2 && p[i] == 92 && p[i + 1] == 78) {
                let offset = batch.bytes.count
                var k = i
                while k < j {
                    var c = p[k]
                    if c == 92 && k + 1 < j {
                        k += 1
                        switch p[k] {
                        case UInt8(ascii: "t"): c = 9
                        case UInt8(ascii: "n"): c = 10
                        case UInt8(ascii: "r"): c = 13
                        case UInt8(ascii: "b"): c = 8
                        case UInt8(ascii: "f"): c = 12
                        case UInt8(ascii: "v"): c = 11
                        default: c = p[k]
                        }
                    }
                    batch.bytes.append(c)
                    k += 1
                }
                batch.setCell(
                    Cell(offset: UInt32(offset), length: UInt32(batch.bytes.count - offset), kind: .quoted),
                    column: relation.slots[column])
            }
            column += 1
            i = j + 1
        }
        try endRecord(stream, lsn: snapshotLSN, time: snapshotTime, delete: false, bytes: count)
    }

    /// Tuples of the snapshot in binary COPY form: each field's bytes become a `.wire` cell, which
    /// the destination's binary COPY takes as it is (the types match: `LogicalReplication.passesThrough`).
    private func snapshotTuples(_ relation: Relation, _ p: UnsafeMutablePointer<UInt8>, count: Int) throws {
        let stream = relation.stream
        let slots = relation.slots
        let inOrder = relation.slotsInOrder
        var at = 0
        func int32(_ k: Int) -> Int { Int(BigEndian.int32(p + k)) }
        while at + 2 <= count {
            // A message may join several rows (`LogicalSource.joinedBytes`): each counts as one.
            if at > 0 { messages += 1 }
            let fields = Int(BigEndian.int16(p + at))
            if fields == -1 { return }
            guard fields == slots.count else {
                throw fail("a snapshot row of \(relation.name) with \(fields) fields; its table has \(slots.count) columns")
            }
            // Where the tuple ends, checked before any of it is used.
            var end = at + 2
            for _ in 0..<fields {
                guard end + 4 <= count else { throw fail("a snapshot row of \(relation.name) cut short") }
                let length = int32(end)
                guard length >= -1 else { throw fail("a snapshot row of \(relation.name) with a field of length \(length)") }
                end += 4 + max(length, 0)
            }
            guard end <= count else { throw fail("a snapshot row of \(relation.name) cut short") }
            let batch = stream.pending
            batch.keysAreNew = relation.uniqueKey
            if inOrder {
                // Fields in the batch's column order: the tuple is kept whole, and copied as it is.
                batch.beginWireRecord(p + at, count: end - at, fields: fields, line: messages)
                try endRecord(stream, lsn: snapshotLSN, time: snapshotTime, delete: false, bytes: end - at)
                at = end
                continue
            }
            // The tuple goes into the batch's bytes at once; its cells point into them.
            let base = batch.bytes.count - at
            batch.bytes.append(p + at, count: end - at)
            batch.beginRecord(line: messages)
            batch.carriesWire = true
            var field = at + 2
            for column in 0..<fields {
                let length = int32(field)
                field += 4
                if length < 0 { continue }
                batch.setCell(Cell(offset: UInt32(base + field), length: UInt32(length), kind: .wire), column: slots[column])
                field += length
            }
            try endRecord(stream, lsn: snapshotLSN, time: snapshotTime, delete: false, bytes: end - at)
            at = end
        }
        if at != count { throw fail("a snapshot row of \(relation.name) cut short") }
    }

}
