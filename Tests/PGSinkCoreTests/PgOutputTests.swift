import Testing

@testable import PGSinkCore

/// pgoutput decoded from bytes a real PostgreSQL 15 sent (PgOutputTests+Captured.swift, written
/// by scripts/capture-pgoutput, which says what the source did), and the replication framing
/// built by hand from the protocol documentation.
@Suite("pgoutput")
struct PgOutputTests {
    // MARK: Captured messages

    /// Every message of the text capture, every field but the LSNs and times (checked against
    /// the server's own columns in `transactionsLineUpWithTheSlotsColumns`).
    @Test func textCaptureDecodesToWhatTheSourceDid() throws {
        let lines = try Self.transcript(Self.textCapture)
        let expected = [
            "BEGIN",
            "TYPE mood = pgsink_fixture.mood",
            "RELATION items = pgsink_fixture.items identity default: *id 23/-1, name 1043/24, price 1700/655366, mood mood/-1, note 25/-1",
            "INSERT items new(1 | apple | 1.50 | calm | NULL)",
            "INSERT items new(2 | päron | NULL | NULL | short note)",
            "COMMIT",
            // The key did not change: no old tuple, and the TOASTed note was not sent.
            "BEGIN",
            "UPDATE items new(10 | big | 12.50 | calm | UNCHANGED)",
            "COMMIT",
            // A key change: the old key, the other columns NULL.
            "BEGIN",
            "UPDATE items key(1 | NULL | NULL | NULL | NULL) new(3 | apple | 1.50 | calm | NULL)",
            "COMMIT",
            // REPLICA IDENTITY FULL: every column is part of the key and the old row comes whole.
            "BEGIN",
            "RELATION events = pgsink_fixture.events identity full: *id 20/-1, *kind 25/-1, *at 1184/-1",
            "INSERT events new(1 | created | 2024-01-02 03:04:05.678+00)",
            "UPDATE events old(1 | created | 2024-01-02 03:04:05.678+00) new(1 | changed | 2024-01-02 03:04:05.678+00)",
            "DELETE events old(1 | changed | 2024-01-02 03:04:05.678+00)",
            "COMMIT",
            "BEGIN",
            "DELETE items key(2 | NULL | NULL | NULL | NULL)",
            "COMMIT",
            // TRUNCATE invalidates the relations: their schema is sent again.
            "BEGIN",
            "TYPE mood = pgsink_fixture.mood",
            "RELATION items = pgsink_fixture.items identity default: *id 23/-1, name 1043/24, price 1700/655366, mood mood/-1, note 25/-1",
            "RELATION events = pgsink_fixture.events identity full: *id 20/-1, *kind 25/-1, *at 1184/-1",
            "TRUNCATE cascade restart-identity items, events",
            "COMMIT",
            "BEGIN",
            "MESSAGE transactional pgsink: in a transaction",
            "COMMIT",
            "MESSAGE pgsink: outside",
            "BEGIN",
            "ORIGIN upstream at 0/ABCDEF",
            "TYPE mood = pgsink_fixture.mood",
            "RELATION items = pgsink_fixture.items identity default: *id 23/-1, name 1043/24, price 1700/655366, mood mood/-1, note 25/-1",
            "INSERT items new(4 | replayed | 4.00 | angry | NULL)",
            "COMMIT",
        ]
        #expect(lines == expected)
    }

    /// The binary option: the same changes, values in each type's send format.
    @Test func binaryCaptureCarriesSendFormats() throws {
        let lines = try Self.transcript(Self.binaryCapture).filter { $0.hasPrefix("INSERT") || $0.hasPrefix("UPDATE") }
        // int4 big-endian; varchar and enums as their text; numeric as ndigits, weight, sign,
        // dscale and base-10000 digits (1.50 = 1, 5000 at scale 2); int8; timestamptz as
        // microseconds since 2000-01-01.
        #expect(
            lines == [
                "INSERT items new(b:00000001 | b:6170706c65 | b:000200000000000200011388 | b:63616c6d | NULL)",
                "INSERT items new(b:00000002 | b:70c3a4726f6e | NULL | NULL | b:73686f7274206e6f7465)",
                "UPDATE items new(b:0000000a | b:626967 | b:0002000000000002000c1388 | b:63616c6d | UNCHANGED)",
                "UPDATE items key(b:00000001 | NULL | NULL | NULL | NULL) new(b:00000003 | b:6170706c65 | b:000200000000000200011388 | b:63616c6d | NULL)",
                "INSERT events new(b:0000000000000001 | b:63726561746564 | b:0002b0ec85204bb0)",
                "UPDATE events old(b:0000000000000001 | b:63726561746564 | b:0002b0ec85204bb0) new(b:0000000000000001 | b:6368616e676564 | b:0002b0ec85204bb0)",
                "INSERT items new(b:00000004 | b:7265706c61796564 | b:00010000000000020004 | b:616e677279 | NULL)",
            ])
        // 2024-01-02 03:04:05.678 UTC: 8,767 days and 11,045.678 seconds after 2000-01-01.
        #expect(0x0002_b0ec_8520_4bb0 == 8_767 * 86_400_000_000 + 11_045_678_000)
    }

    /// Begin and Commit agree with each other and with the lsn and xid columns the server gave
    /// each row; commit times fall in the window the capture ran in and never go back.
    @Test(arguments: ["text", "binary"])
    func transactionsLineUpWithTheSlotsColumns(_ name: String) throws {
        // Without the messages option the binary capture has no transaction of messages only.
        let (capture, transactions) = name == "text" ? (Self.textCapture, 8) : (Self.binaryCapture, 7)
        var decoder = PgOutputDecoder()
        var values: [PgOutput.TupleValue] = []
        var open: PgOutput.Begin?
        var lastCommitTime = Int64.min
        var commits = 0
        for row in capture {
            let bytes = Self.bytes(row.hex)
            let rowLSN = try #require(LSN(row.lsn))
            switch try decoder.decode(bytes, values: &values) {
            case .begin(let begin):
                #expect(open == nil)
                #expect(begin.xid == row.xid)
                #expect(Self.capturedBetween.contains(begin.commitTime))
                // The row of a Begin is the transaction's first record, at or before its commit.
                #expect(rowLSN <= begin.finalLSN)
                open = begin
            case .commit(let commit):
                let begin = try #require(open)
                #expect(commit.flags == 0)
                #expect(commit.commitLSN == begin.finalLSN)
                #expect(commit.endLSN == rowLSN)
                #expect(commit.endLSN > commit.commitLSN)
                #expect(commit.commitTime == begin.commitTime)
                #expect(commit.commitTime >= lastCommitTime)
                lastCommitTime = commit.commitTime
                open = nil
                commits += 1
            case .message(let message) where !message.transactional:
                #expect(open == nil)
                #expect(message.lsn == rowLSN)
            default:
                #expect(open?.xid == row.xid)
            }
        }
        #expect(open == nil)
        #expect(commits == transactions)
    }

    /// Every Relation and Type names what the catalog says, and every tuple has a value per
    /// column of the relation it names.
    @Test func relationsMatchTheCatalogAndTuplesMatchRelations() throws {
        var decoder = PgOutputDecoder()
        var values: [PgOutput.TupleValue] = []
        var columns: [UInt32: Int] = [:]
        var types: [UInt32: String] = [:]
        var tuples = 0
        for row in Self.textCapture + Self.binaryCapture {
            switch try decoder.decode(Self.bytes(row.hex), values: &values) {
            case .type(let type):
                #expect(type.oid == Self.moodOID)
                types[type.oid] = type.name
            case .relation(let relation):
                #expect([Self.itemsOID, Self.eventsOID].contains(relation.id))
                #expect(relation.streamXid == nil)
                for column in relation.columns where column.typeOID >= 16_384 {
                    // A type that is not built in was described by a Type message first.
                    #expect(types[column.typeOID] == "mood")
                }
                columns[relation.id] = relation.columns.count
            case .insert(let insert):
                #expect(columns[insert.relationID] == insert.new.count)
                tuples += 1
            case .update(let update):
                #expect(columns[update.relationID] == update.new.count)
                #expect(update.old.map { columns[update.relationID] == $0.values.count } ?? true)
                tuples += 1
            case .delete(let delete):
                #expect(columns[delete.relationID] == delete.old.values.count)
                tuples += 1
            case .truncate(let truncate):
                #expect(truncate.relationIDs == [Self.itemsOID, Self.eventsOID])
            default:
                break
            }
        }
        #expect(tuples == 18)
    }

    /// Protocol version 2 with streaming: a transaction larger than logical_decoding_work_mem
    /// arrives in stream blocks whose messages carry its xid, then a Stream Commit; a rolled
    /// back one ends in a Stream Abort.
    @Test func streamedTransactions() throws {
        var decoder = PgOutputDecoder()
        var values: [PgOutput.TupleValue] = []
        var decoded: [PgOutput.Message] = []
        var inStream: [Bool] = []
        let capture = Self.streamCapture
        for row in capture {
            let message = try decoder.decode(Self.bytes(row.hex), values: &values)
            decoded.append(message)
            inStream.append(decoder.inStream)
            if case .insert(let insert) = message {
                let bytes = Self.bytes(row.hex)
                #expect(values[insert.new].map { PgOutput.string($0.range, in: bytes) } == ["1", String(repeating: "f", count: 60)])
            }
        }
        let xid = capture[0].xid
        #expect(decoded.count == 6)
        #expect(decoded[0] == .streamStart(PgOutput.StreamStart(xid: xid, firstSegment: true)))
        guard case .relation(let relation) = decoded[1] else { Issue.record("\(decoded[1])"); return }
        #expect(relation.streamXid == xid)
        #expect(relation.id == Self.bulkOID)
        #expect(relation.name == "bulk")
        #expect(relation.columns.map(\.name) == ["id", "filler"])
        #expect(relation.columns.map(\.isKey) == [true, false])
        #expect(decoded[2] == .insert(PgOutput.Insert(streamXid: xid, relationID: Self.bulkOID, new: 0..<2)))
        #expect(decoded[3] == .streamStop)
        guard case .streamCommit(let commit) = decoded[4] else { Issue.record("\(decoded[4])"); return }
        #expect(commit.xid == xid)
        #expect(commit.flags == 0)
        #expect(commit.endLSN == LSN(capture[4].lsn))
        #expect(commit.commitLSN < commit.endLSN)
        #expect(commit.commitTime > Self.capturedBetween.upperBound)
        let aborted = capture[5].xid
        #expect(aborted != xid)
        #expect(decoded[5] == .streamAbort(PgOutput.StreamAbort(xid: aborted, subxid: aborted)))
        #expect(inStream == [true, true, true, false, false, false])
    }

    /// A message decoded from inside an XLogData frame: offsets are the payload's own.
    @Test func messageInsideAnXLogDataFrame() throws {
        let insert = Self.bytes(Self.textCapture[3].hex)
        let frame = [UInt8(ascii: "w")] + Self.int64(0x1AE_7B60) + Self.int64(0x1AE_9C90) + Self.int64(849_510_839_500_000) + insert
        var decoder = PgOutputDecoder()
        var values: [PgOutput.TupleValue] = []
        try frame.withUnsafeBytes { raw in
            guard case .xLogData(let header) = try ReplicationFrame.decode(raw) else { Issue.record("not XLogData"); return }
            #expect(header == ReplicationFrame.XLogData(walStart: LSN(0x1AE_7B60), walEnd: LSN(0x1AE_9C90), sendTime: 849_510_839_500_000))
            let payload = UnsafeRawBufferPointer(rebasing: raw[ReplicationFrame.XLogData.headerLength...])
            guard case .insert(let message) = try decoder.decode(payload, values: &values) else { Issue.record("not Insert"); return }
            #expect(message.relationID == Self.itemsOID)
            #expect(values[message.new].map { $0.kind == .null ? "NULL" : PgOutput.string($0.range, in: payload) } == ["1", "apple", "1.50", "calm", "NULL"])
        }
    }

    /// Decoding reuses the caller's array: no value outlives the next message, and the array
    /// keeps its storage.
    @Test func valuesArrayIsReused() throws {
        var decoder = PgOutputDecoder()
        var values: [PgOutput.TupleValue] = []
        values.reserveCapacity(64)
        let capacity = values.capacity
        for row in Self.textCapture.dropLast() { _ = try decoder.decode(Self.bytes(row.hex), values: &values) }
        #expect(values.count == 5)  // the last Insert's
        #expect(values.capacity == capacity)
        _ = try decoder.decode(Self.bytes(Self.textCapture.last!.hex), values: &values)  // a Commit
        #expect(values.isEmpty)
    }

    // MARK: Broken bytes

    /// Every captured message cut short at every byte fails as truncated, at or before the cut,
    /// naming the message; none crashes or decodes.
    @Test(arguments: ["text", "binary", "stream"])
    func everyTruncationIsReported(_ name: String) throws {
        let rows = name == "text" ? Self.textCapture : name == "binary" ? Self.binaryCapture : Self.streamCapture
        var reference = PgOutputDecoder()
        var values: [PgOutput.TupleValue] = []
        for row in rows {
            let bytes = Self.bytes(row.hex)
            for cut in 0..<bytes.count {
                var decoder = reference
                let prefix = Array(bytes[..<cut])
                let error = #expect(throws: PgOutputError.self) { try decoder.decode(prefix, values: &values) }
                guard let error else { continue }
                guard case .truncated(let needed) = error.code else {
                    Issue.record("\(row.hex) cut at \(cut): \(error)")
                    continue
                }
                #expect(needed >= 1)
                #expect(error.length == cut)
                #expect(error.offset <= cut)
                #expect(error.description.hasPrefix("pgoutput "))
                #expect(cut == 0 || error.message == "\(PgOutput.name(bytes[0]))")
            }
            _ = try reference.decode(bytes, values: &values)
        }
    }

    @Test func brokenMessagesNameTheMessageTheByteAndTheField() throws {
        // The Insert of (2, 'päron', NULL, NULL, 'short note'): 'I', relation id, 'N', 5 columns.
        let insert = Self.bytes(Self.textCapture[4].hex)
        #expect(
            Self.failure(Array(insert[..<20]))
                == "pgoutput Insert ('I') message of 20 bytes, at byte 19: the message ends 5 bytes short of the value 2 of the new tuple")
        var badKind = insert
        badKind[8] = UInt8(ascii: "x")
        #expect(
            Self.failure(badKind)
                == "pgoutput Insert ('I') message of 42 bytes, at byte 8: 0x78 ('x') is not a valid kind of value 1 of the new tuple ('n', 'u', 't' or 'b')")
        var negative = insert
        negative.replaceSubrange(9..<13, with: [0xFF, 0xFF, 0xFF, 0xFE])
        #expect(
            Self.failure(negative)
                == "pgoutput Insert ('I') message of 42 bytes, at byte 9: the length of value 1 of the new tuple is negative (-2)")
        var noNewMarker = insert
        noNewMarker[5] = UInt8(ascii: "K")
        #expect(
            Self.failure(noNewMarker)
                == "pgoutput Insert ('I') message of 42 bytes, at byte 5: 0x4B ('K') is not a valid new tuple marker ('N')")
        #expect(
            Self.failure(insert + [0])
                == "pgoutput Insert ('I') message of 43 bytes, at byte 42: 1 unexpected byte after the message's last field")

        // The Relation of items: replica identity right after the two names.
        var relation = Self.bytes(Self.textCapture[2].hex)
        let identity = 5 + "pgsink_fixture".utf8.count + 1 + "items".utf8.count + 1
        #expect(relation[identity] == UInt8(ascii: "d"))
        relation[identity] = UInt8(ascii: "q")
        #expect(
            Self.failure(relation)
                == "pgoutput Relation ('R') message of \(relation.count) bytes, at byte \(identity): 0x71 ('q') is not a valid replica identity ('d', 'n', 'f' or 'i')")

        // An update whose old tuple is followed by something else than 'N'.
        var update = Self.bytes(Self.textCapture[10].hex)
        let newMarker = try #require(update.lastIndex(of: UInt8(ascii: "N")))
        update[newMarker] = UInt8(ascii: "O")
        #expect(Self.failure(update).contains("at byte \(newMarker): 0x4F ('O') is not a valid new tuple marker ('N')"))

        #expect(
            Self.failure([UInt8(ascii: "Z"), 0, 0])
                == "pgoutput unknown message of 3 bytes, at byte 0: 0x5A ('Z') is not a valid message type of pgoutput's protocol version 1 or 2 (B C O R Y I U D T M S E c A)")
        #expect(Self.failure([]) == "pgoutput message of 0 bytes, at byte 0: the message ends 1 byte short of the message type")
        // Stream Stop with no stream open; Stream Start inside one.
        #expect(
            Self.failure([UInt8(ascii: "E")])
                == "pgoutput Stream Stop ('E') message of 1 bytes, at byte 0: 0x45 ('E') is not a valid message here: no stream block is open")
        var decoder = PgOutputDecoder()
        var values: [PgOutput.TupleValue] = []
        let start = Self.bytes(Self.streamCapture[0].hex)
        _ = try decoder.decode(start, values: &values)
        let again = #expect(throws: PgOutputError.self) { try decoder.decode(start, values: &values) }
        #expect(again?.description.hasSuffix("0x53 ('S') is not a valid message here: a stream block is already open") == true)
        // A first-segment flag that is neither 0 nor 1.
        #expect(Self.failure(Array(start[..<5]) + [7]).hasSuffix("at byte 5: 0x07 is not a valid first segment flag (0 or 1)"))
        // A Truncate claiming more relations than its bytes hold.
        #expect(
            Self.failure([UInt8(ascii: "T"), 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 1])
                == "pgoutput Truncate ('T') message of 10 bytes, at byte 6: the message ends 17179869176 bytes short of the 4294967295 relation ids")
    }

    // MARK: LSN

    @Test func lsnTextBothWays() {
        #expect(LSN("0/0") == LSN.invalid)
        #expect(LSN("16/B374D848")?.rawValue == 0x16_B374_D848)
        #expect(LSN("16/b374d848")?.rawValue == 0x16_B374_D848)
        #expect(LSN("FFFFFFFF/FFFFFFFF")?.rawValue == UInt64.max)
        #expect(LSN("00000001/00000002")?.description == "1/2")
        #expect(LSN(0x16_B374_D848).description == "16/B374D848")
        #expect(LSN(0xABCDEF).description == "0/ABCDEF")
        #expect(LSN(UInt64.max).description == "FFFFFFFF/FFFFFFFF")
        for bad in ["", "/", "1/", "/1", "0", "123456789/0", "0/123456789", "0/G", " 0/1", "0/1 ", "1//2", "0x1/2", "1/2/3", "-1/2"] {
            #expect(LSN(bad) == nil, "\(bad)")
        }
        #expect(LSN("0/FFFFFFFF")! < LSN("1/0")!)
        #expect(LSN("1/10")!.bytes(since: LSN("1/8")!) == 8)
        #expect(LSN("1/8")!.bytes(since: LSN("1/10")!) == 0)
    }

    /// The server's own printing of every captured row's LSN reads back and prints the same.
    @Test func lsnMatchesTheServersText() throws {
        for row in Self.textCapture + Self.streamCapture {
            let lsn = try #require(LSN(row.lsn))
            #expect(lsn.description == row.lsn)
        }
    }

    @Test func postgresClock() {
        #expect(PostgresClock.unixMicroseconds(0) == 946_684_800_000_000)
        #expect(PostgresClock.fromUnix(microseconds: 946_684_800_000_001) == 1)
        let now = PostgresClock.now()
        // After the capture, and before 2100.
        #expect(now > Self.capturedBetween.upperBound)
        #expect(now < 3_155_760_000_000_000)
    }

    // MARK: Framing (built from the protocol documentation)

    @Test func xLogDataAndKeepalive() throws {
        let data = [UInt8(ascii: "w")] + Self.int64(0x1_0000_0010) + Self.int64(0x1_0000_0020) + Self.int64(-5) + [0x42]
        #expect(
            try ReplicationFrame.decode(data)
                == .xLogData(ReplicationFrame.XLogData(walStart: LSN("1/10")!, walEnd: LSN("1/20")!, sendTime: -5)))
        #expect(ReplicationFrame.XLogData.headerLength == data.count - 1)

        let keepalive = [UInt8(ascii: "k")] + Self.int64(0x2_0000_00FF) + Self.int64(849_510_839_933_850) + [1]
        #expect(
            try ReplicationFrame.decode(keepalive)
                == .keepalive(ReplicationFrame.PrimaryKeepalive(walEnd: LSN("2/FF")!, sendTime: 849_510_839_933_850, replyRequested: true)))
        #expect(
            try ReplicationFrame.decode(Array(keepalive.dropLast()) + [0])
                == .keepalive(ReplicationFrame.PrimaryKeepalive(walEnd: LSN("2/FF")!, sendTime: 849_510_839_933_850, replyRequested: false)))

        #expect(
            Self.frameFailure(Array(data[..<20]))
                == "replication XLogData ('w') message of 20 bytes, at byte 17: the message ends 5 bytes short of the send time")
        #expect(
            Self.frameFailure(keepalive + [0])
                == "replication primary keepalive ('k') message of 19 bytes, at byte 18: 1 unexpected byte after the reply requested flag")
        #expect(Self.frameFailure(Array(keepalive.dropLast()) + [2]).hasSuffix("at byte 17: 0x02 is not a valid reply requested flag (0 or 1)"))
        #expect(
            Self.frameFailure([UInt8(ascii: "d")])
                == "replication unknown message of 1 bytes, at byte 0: 0x64 ('d') is not a valid message type ('w' XLogData or 'k' keepalive)")
    }

    @Test func standbyStatusUpdateBytes() {
        let update = StandbyStatusUpdate(
            written: LSN("1/2")!, flushed: LSN("3/4")!, applied: LSN("5/6")!, clock: 0x0102_0304_0506_0708, replyRequested: true)
        #expect(
            update.bytes
                == [UInt8(ascii: "r")] + [0, 0, 0, 1, 0, 0, 0, 2] + [0, 0, 0, 3, 0, 0, 0, 4] + [0, 0, 0, 5, 0, 0, 0, 6]
                + [1, 2, 3, 4, 5, 6, 7, 8] + [1])
        #expect(StandbyStatusUpdate(written: .invalid, flushed: .invalid, applied: .invalid, clock: -1).bytes.count == 34)
        #expect(StandbyStatusUpdate(written: .invalid, flushed: .invalid, applied: .invalid, clock: -1).bytes.suffix(9) == [255, 255, 255, 255, 255, 255, 255, 255, 0])
    }

    // MARK: Helpers

    static func bytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var high: UInt8?
        for char in hex.utf8 {
            let digit = char <= 57 ? char - 48 : char - 87
            if let h = high {
                out.append(h << 4 | digit)
                high = nil
            } else {
                high = digit
            }
        }
        return out
    }

    static func int64(_ value: Int64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: value) >> UInt64(56 - 8 * $0)) }
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    static func failure(_ bytes: [UInt8]) -> String {
        var decoder = PgOutputDecoder()
        var values: [PgOutput.TupleValue] = []
        do {
            let message = try decoder.decode(bytes, values: &values)
            return "decoded: \(message)"
        } catch {
            return "\(error)"
        }
    }

    static func frameFailure(_ bytes: [UInt8]) -> String {
        do { return "decoded: \(try ReplicationFrame.decode(bytes))" } catch { return "\(error)" }
    }

    static func name(_ oid: UInt32) -> String {
        switch oid {
        case itemsOID: "items"
        case eventsOID: "events"
        case bulkOID: "bulk"
        case moodOID: "mood"
        default: String(oid)
        }
    }

    /// One line per message: what it says, with relations and types by name.
    static func transcript(_ capture: [Captured]) throws -> [String] {
        var decoder = PgOutputDecoder()
        var values: [PgOutput.TupleValue] = []
        return try capture.map { row in
            let bytes = bytes(row.hex)
            func tuple(_ label: String, _ range: Range<Int>) -> String {
                let shown = values[range].map { value -> String in
                    switch value.kind {
                    case .null: "NULL"
                    case .unchanged: "UNCHANGED"
                    case .text: PgOutput.string(value.range, in: bytes)
                    case .binary: "b:" + hex(bytes[value.range])
                    }
                }
                return "\(label)(\(shown.joined(separator: " | ")))"
            }
            func old(_ tuple: PgOutput.OldTuple) -> String { tuple.kind == .key ? "key" : "old" }
            switch try decoder.decode(bytes, values: &values) {
            case .begin: return "BEGIN"
            case .commit: return "COMMIT"
            case .origin(let origin): return "ORIGIN \(PgOutput.string(origin.name, in: bytes)) at \(origin.commitLSN)"
            case .type(let type): return "TYPE \(name(type.oid)) = \(type.namespace).\(type.name)"
            case .relation(let relation):
                let columns = relation.columns.map {
                    "\($0.isKey ? "*" : "")\($0.name) \(name($0.typeOID))/\($0.typeModifier)"
                }
                return "RELATION \(name(relation.id)) = \(relation.namespace).\(relation.name) identity \(relation.replicaIdentity): "
                    + columns.joined(separator: ", ")
            case .insert(let insert):
                return "INSERT \(name(insert.relationID)) " + tuple("new", insert.new)
            case .update(let update):
                let before = update.old.map { tuple(old($0), $0.values) + " " } ?? ""
                return "UPDATE \(name(update.relationID)) " + before + tuple("new", update.new)
            case .delete(let delete):
                return "DELETE \(name(delete.relationID)) " + tuple(old(delete.old), delete.old.values)
            case .truncate(let truncate):
                let options = (truncate.cascade ? "cascade " : "") + (truncate.restartIdentity ? "restart-identity " : "")
                return "TRUNCATE " + options + truncate.relationIDs.map(name).joined(separator: ", ")
            case .message(let message):
                return "MESSAGE \(message.transactional ? "transactional " : "")"
                    + "\(PgOutput.string(message.prefix, in: bytes)): \(PgOutput.string(message.content, in: bytes))"
            case let other:
                return "\(other)"
            }
        }
    }
}
