/// Decodes pgoutput messages, one `XLogData` payload (or one row of
/// `pg_logical_slot_get_binary_changes`) at a time. Its only state is whether a stream block
/// is open: between Stream Start and Stream Stop every data message carries the streamed
/// transaction's id.
///
/// ```swift
/// var decoder = PgOutputDecoder()
/// var values: [PgOutput.TupleValue] = []
/// switch try decoder.decode(payload, values: &values) {
/// case .insert(let insert): for value in values[insert.new] { … payload[value.range] … }
/// …
/// }
/// ```
public struct PgOutputDecoder: Sendable {
    /// True between Stream Start and Stream Stop.
    public private(set) var inStream = false

    public init() {}

    /// Decodes one message. `values` is emptied (keeping its capacity) and receives the values
    /// of the message's tuples, which the message refers to by index ranges; each value refers
    /// to `message`'s bytes by offset, so they stay valid only as long as those bytes.
    public mutating func decode(
        _ message: UnsafeRawBufferPointer, values: inout [PgOutput.TupleValue]
    ) throws -> PgOutput.Message {
        values.removeAll(keepingCapacity: true)
        guard let type = message.first else {
            throw PgOutputError(
                code: .truncated(needed: 1), message: "pgoutput", length: 0, offset: 0, field: "message type")
        }
        var reader = WireReader(message, message: PgOutput.name(type))
        let result: PgOutput.Message
        switch type {
        case UInt8(ascii: "B"):
            result = .begin(
                PgOutput.Begin(
                    finalLSN: try reader.lsn("final LSN"), commitTime: try reader.int64("commit time"),
                    xid: try reader.uint32("transaction id")))
        case UInt8(ascii: "C"):
            result = .commit(
                PgOutput.Commit(
                    flags: try reader.uint8("flags"), commitLSN: try reader.lsn("commit LSN"),
                    endLSN: try reader.lsn("end LSN"), commitTime: try reader.int64("commit time")))
        case UInt8(ascii: "O"):
            result = .origin(
                PgOutput.Origin(commitLSN: try reader.lsn("origin's commit LSN"), name: try reader.cString("origin name")))
        case UInt8(ascii: "R"):
            result = .relation(try relation(&reader))
        case UInt8(ascii: "Y"):
            let xid = try streamXid(&reader)
            let oid = try reader.uint32("type OID")
            let namespace = reader.string(try reader.cString("type's namespace"))
            let name = reader.string(try reader.cString("type name"))
            result = .type(PgOutput.TypeInfo(streamXid: xid, oid: oid, namespace: namespace, name: name))
        case UInt8(ascii: "I"):
            let xid = try streamXid(&reader)
            let relation = try reader.uint32("relation id")
            try Self.expect(&reader, UInt8(ascii: "N"), "new tuple marker ('N')")
            let new = try Self.tuple(&reader, .new, into: &values)
            result = .insert(PgOutput.Insert(streamXid: xid, relationID: relation, new: new))
        case UInt8(ascii: "U"):
            result = .update(try update(&reader, into: &values))
        case UInt8(ascii: "D"):
            let xid = try streamXid(&reader)
            let relation = try reader.uint32("relation id")
            let at = reader.offset
            let marker = try reader.uint8("old tuple marker ('K' or 'O')")
            guard let kind = PgOutput.OldTupleKind(rawValue: marker) else {
                throw reader.error(.unexpectedByte(marker), at: at, "old tuple marker ('K' or 'O')")
            }
            let old = try Self.tuple(&reader, kind == .key ? .key : .old, into: &values)
            result = .delete(
                PgOutput.Delete(streamXid: xid, relationID: relation, old: PgOutput.OldTuple(kind: kind, values: old)))
        case UInt8(ascii: "T"):
            result = .truncate(try truncate(&reader))
        case UInt8(ascii: "M"):
            let xid = try streamXid(&reader)
            result = .message(
                PgOutput.LogicalMessage(
                    streamXid: xid, transactional: try reader.uint8("flags") & 1 != 0, lsn: try reader.lsn("message LSN"),
                    prefix: try reader.cString("prefix"), content: try reader.counted("content")))
        case UInt8(ascii: "S"):
            try requireStream(open: false, reader)
            result = .streamStart(
                PgOutput.StreamStart(
                    xid: try reader.uint32("transaction id"), firstSegment: try reader.bool("first segment flag")))
            inStream = true
        case UInt8(ascii: "E"):
            try requireStream(open: true, reader)
            result = .streamStop
            inStream = false
        case UInt8(ascii: "c"):
            result = .streamCommit(
                PgOutput.StreamCommit(
                    xid: try reader.uint32("transaction id"), flags: try reader.uint8("flags"),
                    commitLSN: try reader.lsn("commit LSN"), endLSN: try reader.lsn("end LSN"),
                    commitTime: try reader.int64("commit time")))
        case UInt8(ascii: "A"):
            var abort = PgOutput.StreamAbort(
                xid: try reader.uint32("transaction id"), subxid: try reader.uint32("subtransaction id"))
            if reader.remaining > 0 {
                abort.abortLSN = try reader.lsn("abort LSN")
                abort.abortTime = try reader.int64("abort time")
            }
            result = .streamAbort(abort)
        default:
            throw reader.error(
                .unexpectedByte(type), at: 0, "message type of pgoutput's protocol version 1 or 2 (B C O R Y I U D T M S E c A)")
        }
        try reader.finish(after: "message's last field")
        return result
    }

    /// `decode` for a message held in an array.
    public mutating func decode(_ message: [UInt8], values: inout [PgOutput.TupleValue]) throws -> PgOutput.Message {
        try message.withUnsafeBytes { try decode($0, values: &values) }
    }

    private func streamXid(_ reader: inout WireReader) throws -> UInt32? {
        inStream ? try reader.uint32("transaction id of the stream block") : nil
    }

    private func requireStream(open: Bool, _ reader: WireReader) throws {
        guard inStream != open else { return }
        throw reader.error(
            .unexpectedByte(reader.bytes[0]), at: 0,
            open ? "message here: no stream block is open" : "message here: a stream block is already open")
    }

    private func relation(_ reader: inout WireReader) throws -> PgOutput.Relation {
        let xid = try streamXid(&reader)
        let id = try reader.uint32("relation id")
        let namespace = reader.string(try reader.cString("relation's namespace"))
        let name = reader.string(try reader.cString("relation name"))
        let at = reader.offset
        let identityByte = try reader.uint8("replica identity")
        guard let identity = PgOutput.Relation.ReplicaIdentity(rawValue: identityByte) else {
            throw reader.error(.unexpectedByte(identityByte), at: at, "replica identity ('d', 'n', 'f' or 'i')")
        }
        let count = Int(try reader.uint16("number of columns"))
        var columns: [PgOutput.Relation.Column] = []
        columns.reserveCapacity(count)
        for _ in 0..<count {
            let flags = try reader.uint8("column flags")
            let columnName = reader.string(try reader.cString("column name"))
            let type = try reader.uint32("column's type OID")
            let modifier = Int32(bitPattern: try reader.uint32("column's type modifier"))
            columns.append(PgOutput.Relation.Column(flags: flags, name: columnName, typeOID: type, typeModifier: modifier))
        }
        return PgOutput.Relation(
            streamXid: xid, id: id, namespace: namespace, name: name, replicaIdentity: identity, columns: columns)
    }

    private func update(_ reader: inout WireReader, into values: inout [PgOutput.TupleValue]) throws -> PgOutput.Update {
        let xid = try streamXid(&reader)
        let relation = try reader.uint32("relation id")
        var at = reader.offset
        var marker = try reader.uint8("tuple marker ('K', 'O' or 'N')")
        var old: PgOutput.OldTuple?
        if let kind = PgOutput.OldTupleKind(rawValue: marker) {
            old = PgOutput.OldTuple(kind: kind, values: try Self.tuple(&reader, kind == .key ? .key : .old, into: &values))
            at = reader.offset
            marker = try reader.uint8("new tuple marker ('N')")
            guard marker == UInt8(ascii: "N") else {
                throw reader.error(.unexpectedByte(marker), at: at, "new tuple marker ('N')")
            }
        } else if marker != UInt8(ascii: "N") {
            throw reader.error(.unexpectedByte(marker), at: at, "tuple marker ('K', 'O' or 'N')")
        }
        let new = try Self.tuple(&reader, .new, into: &values)
        return PgOutput.Update(streamXid: xid, relationID: relation, old: old, new: new)
    }

    private func truncate(_ reader: inout WireReader) throws -> PgOutput.Truncate {
        let xid = try streamXid(&reader)
        let count = try reader.uint32("number of relations")
        let options = try reader.uint8("options")
        // Each id takes four bytes: a count the message cannot hold is truncation, not a reason
        // to reserve gigabytes.
        guard UInt64(count) * 4 <= UInt64(reader.remaining) else {
            throw reader.error(.truncated(needed: Int(count) * 4 - reader.remaining), "\(count) relation ids")
        }
        var ids: [UInt32] = []
        ids.reserveCapacity(Int(count))
        for _ in 0..<count { ids.append(try reader.uint32("relation id")) }
        return PgOutput.Truncate(
            streamXid: xid, cascade: options & 1 != 0, restartIdentity: options & 2 != 0, relationIDs: ids)
    }

    private static func expect(_ reader: inout WireReader, _ byte: UInt8, _ field: StaticString) throws {
        let at = reader.offset
        let found = try reader.uint8(field)
        if found != byte { throw reader.error(.unexpectedByte(found), at: at, "\(field)") }
    }

    enum TupleRole: String {
        case new = "new tuple"
        case key = "old key"
        case old = "old tuple"
    }

    /// TupleData: an Int16 column count, then per column a kind byte and, for `t` and `b`, an
    /// Int32 length and the bytes. Appends to `values` and returns the appended range.
    static func tuple(
        _ reader: inout WireReader, _ role: TupleRole, into values: inout [PgOutput.TupleValue]
    ) throws -> Range<Int> {
        let start = values.count
        guard reader.remaining >= 2 else {
            throw reader.error(.truncated(needed: 2 - reader.remaining), "number of columns of the \(role.rawValue)")
        }
        let count = Int(UInt16(bigEndian: reader.bytes.loadUnaligned(fromByteOffset: reader.offset, as: UInt16.self)))
        reader.offset += 2
        for index in 0..<count {
            guard reader.remaining >= 1 else {
                throw reader.error(.truncated(needed: 1), "kind of value \(index + 1) of the \(role.rawValue)")
            }
            let kind = reader.bytes[reader.offset]
            switch kind {
            case PgOutput.TupleValue.Kind.null.rawValue:
                values.append(PgOutput.TupleValue(kind: .null))
                reader.offset += 1
            case PgOutput.TupleValue.Kind.unchanged.rawValue:
                values.append(PgOutput.TupleValue(kind: .unchanged))
                reader.offset += 1
            case PgOutput.TupleValue.Kind.text.rawValue, PgOutput.TupleValue.Kind.binary.rawValue:
                reader.offset += 1
                guard reader.remaining >= 4 else {
                    throw reader.error(
                        .truncated(needed: 4 - reader.remaining), "length of value \(index + 1) of the \(role.rawValue)")
                }
                let length = Int32(bigEndian: reader.bytes.loadUnaligned(fromByteOffset: reader.offset, as: Int32.self))
                guard length >= 0 else {
                    throw reader.error(.negativeLength(length), "length of value \(index + 1) of the \(role.rawValue)")
                }
                reader.offset += 4
                guard reader.remaining >= Int(length) else {
                    throw reader.error(
                        .truncated(needed: Int(length) - reader.remaining), "value \(index + 1) of the \(role.rawValue)")
                }
                let valueKind: PgOutput.TupleValue.Kind = kind == PgOutput.TupleValue.Kind.text.rawValue ? .text : .binary
                values.append(PgOutput.TupleValue(kind: valueKind, offset: Int32(reader.offset), length: length))
                reader.offset += Int(length)
            default:
                throw reader.error(
                    .unexpectedByte(kind), "kind of value \(index + 1) of the \(role.rawValue) ('n', 'u', 't' or 'b')")
            }
        }
        return start..<values.count
    }
}

extension PgOutput {
    /// The bytes of `range` in `message` as UTF-8 text: an origin name, a message prefix, a
    /// text value.
    public static func string(_ range: Range<Int>, in message: UnsafeRawBufferPointer) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: message[range]), as: UTF8.self)
    }

    public static func string(_ range: Range<Int>, in message: [UInt8]) -> String {
        String(decoding: message[range], as: UTF8.self)
    }
}
