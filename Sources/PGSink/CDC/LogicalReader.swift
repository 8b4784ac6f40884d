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
    /// The placeholder of an unchanged TOASTed value (pgoutput's `u`) without an old value to take.
    static let unchanged = "__pgsink_unchanged_toast_value__"

    /// One source relation: its destination stream and the slot of each column.
    final class Relation {
        let name: String
        var table: TableName
        var stream: StreamTarget.Stream
        var columns: [(name: String, type: ColumnType)]
        var key: [String]
        var slots: [Int]

        init(name: String, table: TableName, stream: StreamTarget.Stream, columns: [(name: String, type: ColumnType)], key: [String]) {
            self.name = name
            self.table = table
            self.stream = stream
            self.columns = columns
            self.key = key
            self.slots = columns.map { stream.sources.slot(for: $0.name) }
        }
    }

    private var relations: [UInt32: Relation] = [:]
    private var snapshotRelations: [Relation] = []
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
    /// What the source has sent up to (XLogData and keepalives).
    private var received: UInt64 = 0
    /// What the destination has committed (the writer's thread sets it).
    private let committed = Mutex(UInt64(0))
    private var lastStatus = Date.distantPast
    private let snapshotLSN: UInt64
    private(set) var changes = 0

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
            [
                SystemColumn(name: ChangeApplication.lsnColumn, generated: .integer(slot: stream.envelope[0])),
                SystemColumn(
                    name: ChangeApplication.sourceTimeColumn,
                    generated: .epochMilliseconds(slot: stream.envelope[1], fallback: nil)),
                SystemColumn(
                    name: ChangeApplication.deletedColumn, generated: .epochMilliseconds(slot: stream.envelope[2], fallback: nil)),
            ]
        }
        engine.checkpoint = { [unowned self] in self.checkpoint() }
    }

    /// The destination committed a state: the source may let go of the WAL before it.
    func committedState(_ text: String) {
        guard let data = text.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let end = (object["end_lsn"] as? String).flatMap(LSN.parse)
        else { return }
        committed.withLock { $0 = max($0, end) }
    }

    private func checkpoint() -> String? {
        let object: [String: Any] = [
            "slot": settings.slot, "lsn": LSN.format(lastCommit), "end_lsn": LSN.format(lastCommitEnd),
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// Tables the snapshot copies, defined before its rows arrive.
    func defineSnapshot(_ tables: [SourceTable]) throws {
        for table in tables {
            snapshotRelations.append(try define(table.schema, table.name, columns: table.columns, key: table.key))
        }
    }

    // MARK: StreamReading

    func process(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) throws {
        messages += 1
        var reader = Bytes(p: bytes, count: count)
        switch try reader.byte() {
        case UInt8(ascii: "S"):
            let index = Int(try reader.int32())
            try snapshotRow(snapshotRelations[index], row: bytes + reader.i, count: count - reader.i)
        case UInt8(ascii: "E"):
            // The snapshot is in: commit it (with its position) before the stream starts.
            lastCommit = snapshotLSN
            lastCommitEnd = snapshotLSN
            try engine.flush()
        case UInt8(ascii: "w"):
            _ = try reader.uint64()
            received = max(received, try reader.uint64())
            _ = try reader.uint64()
            try change(&reader)
        case UInt8(ascii: "k"):
            received = max(received, try reader.uint64())
            _ = try reader.uint64()
            let reply = try reader.byte()
            if reply == 1 { try sendStatus(requestReply: false) }
            try checkDone()
        default:
            break
        }
        if Date().timeIntervalSince(lastStatus) > 5 { try sendStatus(requestReply: false) }
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
        guard let target, !inTransaction, received >= target || lastCommitEnd >= target else { return }
        try engine.flush()
        source.finished = true
    }

    /// The commit LSN of the last source transaction read whole.
    var lastApplied: String { LSN.format(lastCommit) }

    /// Tells the source what the destination has committed.
    func acknowledge() throws { try sendStatus(requestReply: false) }

    private func sendStatus(requestReply: Bool) throws {
        guard source.streaming else { return }
        let flushed = committed.withLock { $0 }
        try source.replication.putCopyData(
            LogicalStatus.update(written: max(received, flushed), flushed: flushed, applied: flushed, requestReply: requestReply))
        lastStatus = Date()
    }

    // MARK: pgoutput

    private func change(_ r: inout Bytes) throws {
        let kind = try r.byte()
        switch kind {
        case UInt8(ascii: "B"):
            transactionLSN = try r.uint64()
            transactionTime = try r.int64()
            inTransaction = true
            skipping = transactionLSN <= lastCommit
        case UInt8(ascii: "C"):
            _ = try r.byte()
            let commitLSN = try r.uint64()
            let end = try r.uint64()
            inTransaction = false
            if skipping {
                skipping = false
                return
            }
            lastCommit = commitLSN
            lastCommitEnd = end
            try engine.flushIfDue()
            try checkDone()
        case UInt8(ascii: "R"):
            try relation(&r)
        case UInt8(ascii: "I"):
            guard !skipping else { return }
            let relation = try self.relation(id: try r.uint32())
            guard try r.byte() == UInt8(ascii: "N") else { throw fail("an INSERT without a new tuple") }
            try record(relation, &r, delete: false, old: nil)
        case UInt8(ascii: "U"):
            guard !skipping else { return }
            let relation = try self.relation(id: try r.uint32())
            var tag = try r.byte()
            var old: [Value]?
            if tag == UInt8(ascii: "K") || tag == UInt8(ascii: "O") {
                old = try tuple(&r)
                tag = try r.byte()
            }
            guard tag == UInt8(ascii: "N") else { throw fail("an UPDATE without a new tuple") }
            let new = try tuple(&r)
            if let old, keyChanged(relation, old: old, new: new, r.p) {
                try record(relation, values: old, bytes: r.p, delete: true, old: nil)
            }
            try record(relation, values: new, bytes: r.p, delete: false, old: old)
        case UInt8(ascii: "D"):
            guard !skipping else { return }
            let relation = try self.relation(id: try r.uint32())
            let tag = try r.byte()
            guard tag == UInt8(ascii: "K") || tag == UInt8(ascii: "O") else { throw fail("a DELETE without its old key") }
            try record(relation, &r, delete: true, old: nil)
        case UInt8(ascii: "T"):
            guard !skipping else { return }
            let count = Int(try r.int32())
            _ = try r.byte()
            for _ in 0..<count {
                let relation = try self.relation(id: try r.uint32())
                try engine.operation(.truncate(relation.table))
            }
        default:
            // Origin, Type, Message: nothing to apply.
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

    private func relation(_ r: inout Bytes) throws {
        let id = try r.uint32()
        let namespace = try r.cString()
        let name = try r.cString()
        let identity = try r.byte()
        let count = Int(try r.int16())
        var columns: [(name: String, type: ColumnType)] = []
        var key: [String] = []
        for _ in 0..<count {
            let flags = try r.byte()
            let column = try r.cString()
            let oid = try r.uint32()
            let typmod = try r.int32()
            columns.append((column, try type(oid: oid, typmod: typmod)))
            if flags & 1 == 1 { key.append(column) }
        }
        if key.isEmpty {
            throw fail(
                "\(namespace).\(name) has no primary key and its replica identity (\(identity == UInt8(ascii: "n") ? "nothing" : "default")) "
                    + "gives none; on the source run ALTER TABLE \(quoteIdentifier(namespace)).\(quoteIdentifier(name)) REPLICA IDENTITY FULL "
                    + "(or add a primary key)")
        }
        relations[id] = try define(namespace, name, columns: columns, key: key)
    }

    private func type(oid: UInt32, typmod: Int32) throws -> ColumnType {
        let cacheKey = "\(oid) \(typmod)"
        if let known = typeNames[cacheKey] { return known }
        let name = try source.catalog.query("SELECT format_type($1::oid, $2::int)", [String(oid), String(typmod)]).rows.first?[0]
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

    private func define(_ schema: String, _ name: String, columns: [(name: String, type: ColumnType)], key: [String]) throws
        -> Relation
    {
        let naming = settings.streams.naming
        let table = TableName(schema: naming.normalize(settings.schemaMap[schema] ?? schema), name: naming.normalize(name))
        var definition = StreamDefinition(name: table.description, table: table)
        definition.keys = key
        definition.mode = .merge
        definition.changes = ChangeApplication(deletes: settings.deletes, unavailable: Self.unchanged)
        definition.envelope = [DebeziumReader.lsnSlot, DebeziumReader.timeSlot, DebeziumReader.deleteSlot]
        definition.ignored = Set(definition.envelope)
        definition.deleteMark = DebeziumReader.deleteSlot
        definition.properties = columns.map(\.name)
        for column in columns { definition.declared[column.name] = column.type }
        definition.fingerprint = columns.map { "\($0.name) \($0.type.sqlName)" }.joined(separator: ",") + " key " + key.joined(separator: ",")
        try engine.define(definition)
        guard let stream = engine.stream(definition.name) else { throw fail("internal: the stream of \(table) is missing") }
        return Relation(name: "\(schema).\(name)", table: table, stream: stream, columns: columns, key: key)
    }

    // MARK: tuples

    /// A value of a tuple: NULL, unchanged TOAST, or text at `start` with `length` bytes.
    struct Value: Equatable {
        var kind: UInt8
        var start: Int
        var length: Int
    }

    private func tuple(_ r: inout Bytes) throws -> [Value] {
        let count = Int(try r.int16())
        var values: [Value] = []
        values.reserveCapacity(count)
        for _ in 0..<count {
            let kind = try r.byte()
            switch kind {
            case UInt8(ascii: "n"), UInt8(ascii: "u"):
                values.append(Value(kind: kind, start: 0, length: 0))
            case UInt8(ascii: "t"), UInt8(ascii: "b"):
                let length = Int(try r.int32())
                guard length >= 0, r.i + length <= r.count else { throw fail("a value runs past the message") }
                values.append(Value(kind: kind, start: r.i, length: length))
                r.i += length
            default:
                throw fail("unknown tuple value kind \(kind)")
            }
        }
        return values
    }

    private func keyChanged(_ relation: Relation, old: [Value], new: [Value], _ p: UnsafeMutablePointer<UInt8>) -> Bool {
        for (index, column) in relation.columns.enumerated() where relation.key.contains(column.name) {
            guard index < old.count, index < new.count else { continue }
            let a = old[index], b = new[index]
            if a.kind == UInt8(ascii: "u") || b.kind == UInt8(ascii: "u") || a.kind == UInt8(ascii: "n") { continue }
            if a.length != b.length || memcmp(p + a.start, p + b.start, a.length) != 0 { return true }
        }
        return false
    }

    private func record(_ relation: Relation, _ r: inout Bytes, delete: Bool, old: [Value]?) throws {
        let values = try tuple(&r)
        try record(relation, values: values, bytes: r.p, delete: delete, old: old)
    }

    private func record(_ relation: Relation, values: [Value], bytes p: UnsafeMutablePointer<UInt8>, delete: Bool, old: [Value]?)
        throws
    {
        let stream = relation.stream
        let batch = stream.pending
        batch.beginRecord(line: messages)
        for (index, value) in values.enumerated() where index < relation.slots.count {
            var value = value
            if value.kind == UInt8(ascii: "u") {
                // Unchanged TOAST: the old tuple's value (REPLICA IDENTITY FULL), else a mark the upsert keeps the stored value for.
                if let old, index < old.count, old[index].kind == UInt8(ascii: "t") {
                    value = old[index]
                } else {
                    let offset = batch.bytes.count
                    batch.bytes.append(contentsOf: Self.unchangedForm(relation.columns[index].type))
                    batch.setCell(
                        Cell(offset: UInt32(offset), length: UInt32(batch.bytes.count - offset), kind: .quoted),
                        column: relation.slots[index])
                    continue
                }
            }
            guard value.kind == UInt8(ascii: "t") else { continue }
            let offset = batch.bytes.count
            batch.bytes.append(p + value.start, count: value.length)
            batch.setCell(Cell(offset: UInt32(offset), length: UInt32(value.length), kind: .quoted), column: relation.slots[index])
        }
        try endRecord(stream, lsn: transactionLSN, time: transactionTime / 1000 + 946_684_800_000, delete: delete, bytes: 64)
    }

    /// The unchanged mark as the column's type reads it.
    static func unchangedForm(_ type: ColumnType) -> [UInt8] {
        switch type {
        case .json, .jsonb: Array("\"\(unchanged)\"".utf8)
        case .other(let name) where name == "bytea": Array(("\\x" + unchanged.utf8.map { String(format: "%02x", $0) }.joined()).utf8)
        case .other(let name) where name.hasSuffix("[]"): Array("{\(unchanged)}".utf8)
        default: Array(unchanged.utf8)
        }
    }

    private func endRecord(_ stream: StreamTarget.Stream, lsn: UInt64, time: Int64, delete: Bool, bytes: Int) throws {
        let batch = stream.pending
        batch.setCell(number(Int64(bitPattern: lsn), in: batch), column: stream.envelope[0])
        batch.setCell(number(time, in: batch), column: stream.envelope[1])
        if delete { batch.setCell(number(time, in: batch), column: stream.envelope[2]) }
        batch.endRecord()
        changes += 1
        try engine.recorded(stream, bytes: bytes)
    }

    /// A row of the snapshot, in COPY's text format: tab-separated, `\N` for NULL, backslash escapes.
    private func snapshotRow(_ relation: Relation, row p: UnsafeMutablePointer<UInt8>, count: Int) throws {
        let stream = relation.stream
        let batch = stream.pending
        batch.beginRecord(line: messages)
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
        try endRecord(stream, lsn: snapshotLSN, time: Int64(Date().timeIntervalSince1970 * 1000), delete: false, bytes: count)
    }

    /// A number cell of `batch` holding `value`.
    private func number(_ value: Int64, in batch: RecordBatch) -> Cell {
        let digits = Array(String(value).utf8)
        let offset = batch.bytes.count
        batch.bytes.append(contentsOf: digits)
        return Cell(offset: UInt32(offset), length: UInt32(digits.count), kind: .jsonNumber)
    }
}

/// Big-endian fields of a replication message.
struct Bytes {
    let p: UnsafeMutablePointer<UInt8>
    let count: Int
    var i = 0

    init(p: UnsafeMutablePointer<UInt8>, count: Int) {
        self.p = p
        self.count = count
    }

    struct Short: Error {}

    mutating func byte() throws -> UInt8 {
        guard i < count else { throw Short() }
        defer { i += 1 }
        return p[i]
    }

    mutating func uint64() throws -> UInt64 {
        guard i + 8 <= count else { throw Short() }
        var value: UInt64 = 0
        for k in 0..<8 { value = value << 8 | UInt64(p[i + k]) }
        i += 8
        return value
    }

    mutating func int64() throws -> Int64 { Int64(bitPattern: try uint64()) }

    mutating func uint32() throws -> UInt32 {
        guard i + 4 <= count else { throw Short() }
        var value: UInt32 = 0
        for k in 0..<4 { value = value << 8 | UInt32(p[i + k]) }
        i += 4
        return value
    }

    mutating func int32() throws -> Int32 { Int32(bitPattern: try uint32()) }

    mutating func int16() throws -> Int16 {
        guard i + 2 <= count else { throw Short() }
        defer { i += 2 }
        return Int16(bitPattern: UInt16(p[i]) << 8 | UInt16(p[i + 1]))
    }

    mutating func cString() throws -> String {
        guard let end = memchr(p + i, 0, count - i) else { throw Short() }
        let length = (p + i).distance(to: end.assumingMemoryBound(to: UInt8.self))
        defer { i += length + 1 }
        return String(decoding: UnsafeBufferPointer(start: p + i, count: length), as: UTF8.self)
    }
}

/// LSNs as PostgreSQL writes them (`16/B374D848`).
enum LSN {
    static func format(_ value: UInt64) -> String {
        String(value >> 32, radix: 16, uppercase: true) + "/" + String(value & 0xFFFF_FFFF, radix: 16, uppercase: true)
    }

    static func parse(_ text: String) -> UInt64? {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let high = UInt64(parts[0], radix: 16), let low = UInt64(parts[1], radix: 16) else { return nil }
        return high << 32 | low
    }
}

/// The standby status update a replication client sends.
enum LogicalStatus {
    static func update(written: UInt64, flushed: UInt64, applied: UInt64, requestReply: Bool) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(ascii: "r")]
        func put(_ value: UInt64) { for k in (0..<8).reversed() { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(8 * k))) } }
        put(written)
        put(flushed)
        put(applied)
        let micros = Int64((Date().timeIntervalSince1970 - 946_684_800) * 1_000_000)
        put(UInt64(bitPattern: micros))
        bytes.append(requestReply ? 1 : 0)
        return bytes
    }
}
