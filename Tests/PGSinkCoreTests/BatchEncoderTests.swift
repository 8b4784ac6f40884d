import Testing

@testable import PGSinkCore

@Suite("Batch encoder")
struct BatchEncoderTests {
    static let header: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00] + be32(0) + be32(0)
    static let trailer: [UInt8] = be16(-1)

    /// Encodes and returns the bytes, recording an issue on misfits.
    private func encode(
        _ batch: RecordBatch, _ columns: [CopyColumn], _ format: CopyFormat = .binary, sequenceStart: Int64? = nil,
        encoder: inout BatchEncoder
    ) throws -> [UInt8] {
        switch try encoder.encode(batch, columns: columns, format: format, sequenceStart: sequenceStart) {
        case .encoded(let out): return out.data.copyBytes()
        case .misfits(let m):
            Issue.record("unexpected misfits \(m)")
            return []
        }
    }

    private func encode(_ batch: RecordBatch, _ columns: [CopyColumn], _ format: CopyFormat = .binary) throws -> [UInt8] {
        var encoder = BatchEncoder()
        defer { encoder.release() }
        return try encode(batch, columns, format, encoder: &encoder)
    }

    /// The one value of a one-column, one-row binary COPY, with its length prefix.
    private func binaryValue(_ text: String, as type: ColumnType, _ format: ScanFormat = .csv) throws -> [UInt8] {
        let (batch, _) = try makeBatch(format == .jsonl ? text : "v\n\(text)\n", format)
        let bytes = try encode(batch, [CopyColumn(name: "v", type: type, source: 0)])
        try #require(bytes.count >= Self.header.count + 2 + 2)
        #expect(Array(bytes.prefix(Self.header.count)) == Self.header)
        #expect(Array(bytes.suffix(2)) == Self.trailer)
        #expect(Array(bytes[Self.header.count..<Self.header.count + 2]) == be16(1))
        return Array(bytes[(Self.header.count + 2)..<(bytes.count - 2)])
    }

    @Test func tinyBinaryBatchByteForByte() throws {
        let (batch, _) = try makeBatch("id,name\n1,ab\n,\n-2,\"\"\n")
        let columns = [CopyColumn(name: "id", type: .bigint, source: 0), CopyColumn(name: "name", type: .text, source: 1)]
        let expected: [UInt8] =
            Self.header
            + be16(2) + be32(8) + be64(1) + be32(2) + Array("ab".utf8)
            + be16(2) + be32(-1) + be32(-1)
            + be16(2) + be32(8) + be64(-2) + be32(0)
            + Self.trailer
        #expect(try encode(batch, columns) == expected)
    }

    /// A merge copying straight into its new table drops the load-order field: the payload is
    /// then byte for byte the one encoded without it, in both COPY formats.
    @Test(arguments: [CopyFormat.binary, .text])
    func droppingTheSequenceGivesThePlainPayload(_ format: CopyFormat) throws {
        let (batch, _) = try makeBatch("id,name\n1,a\tb\n,\n-2,\"\"\n")
        let columns = [CopyColumn(name: "id", type: .bigint, source: 0), CopyColumn(name: "name", type: .text, source: 1)]
        var encoder = BatchEncoder()
        defer { encoder.release() }
        guard case .encoded(let numbered) = try encoder.encode(batch, columns: columns, format: format, sequenceStart: 41),
            case .encoded(let plain) = try encoder.encode(batch, columns: columns, format: format)
        else {
            Issue.record("misfits")
            return
        }
        let dropped = numbered.droppingSequence()
        #expect(dropped.data.copyBytes() == plain.data.copyBytes())
        #expect(dropped.offsets == plain.offsets)
        #expect(dropped.rows == plain.rows)
    }

    @Test func missingSourceIsNullAndSequenceNumbersRows() throws {
        let (batch, _) = try makeBatch("a\nx\ny\n")
        let columns = [CopyColumn(name: "a", type: .text, source: 0), CopyColumn(name: "gone", type: .integer, source: nil)]
        var encoder = BatchEncoder()
        defer { encoder.release() }
        let bytes = try encode(batch, columns, sequenceStart: 100, encoder: &encoder)
        let expected: [UInt8] =
            Self.header
            + be16(3) + be32(1) + [0x78] + be32(-1) + be32(8) + be64(100)
            + be16(3) + be32(1) + [0x79] + be32(-1) + be32(8) + be64(101)
            + Self.trailer
        #expect(bytes == expected)
    }

    @Test(arguments: [
        ("true", ColumnType.boolean, be32(1) + [1]),
        ("no", .boolean, be32(1) + [0]),
        ("007", .bigint, be32(8) + be64(7)),
        ("-9223372036854775808", .bigint, be32(8) + be64(Int64.min)),
        ("-5", .integer, be32(4) + be32(-5)),
        ("300", .smallint, be32(2) + be16(300)),
        ("2000-01-02", .date, be32(4) + be32(1)),
        ("1999-12-31", .date, be32(4) + be32(-1)),
        ("2000-01-02", .timestamp, be32(8) + be64(86_400_000_000)),
        ("2000-01-01T00:00:01.5", .timestamp, be32(8) + be64(1_500_000)),
        ("2000-01-01T01:00:00+01:00", .timestamptz, be32(8) + be64(0)),
        // PostgreSQL's spellings of the infinite times, as the server and wal2json print them.
        ("infinity", .timestamptz, be32(8) + be64(Int64.max)),
        ("-Infinity", .timestamp, be32(8) + be64(Int64.min)),
        ("infinity", .date, be32(4) + be32(Int32.max)),
        ("-infinity", .date, be32(4) + be32(Int32.min)),
        ("1.5", .double, be32(8) + be64(Int64(bitPattern: (1.5 as Double).bitPattern))),
        ("-0.25", .real, be32(4) + be32(Int32(bitPattern: (-0.25 as Float).bitPattern))),
        ("12.50", .numeric, be32(12) + be16(2) + be16(0) + be16(0) + be16(2) + be16(12) + be16(5000)),
        (
            "{123E4567-E89B-12D3-A456-426614174000}", .uuid,
            be32(16) + [0x12, 0x3E, 0x45, 0x67, 0xE8, 0x9B, 0x12, 0xD3, 0xA4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00]
        ),
        ("héllo", .text, be32(6) + Array("héllo".utf8)),
        ("x", .other("citext2"), be32(1) + [0x78]),
    ] as [(String, ColumnType, [UInt8])])
    func binaryValues(_ text: String, _ type: ColumnType, _ expected: [UInt8]) throws {
        #expect(try binaryValue(text, as: type) == expected)
    }

    @Test func nulBytesAreRemovedFromTextAndCounted() throws {
        let (batch, _) = try makeBatch("a\nx\u{0}y\u{0}\n\u{0}\nok\n")
        var encoder = BatchEncoder()
        defer { encoder.release() }
        let bytes = try encode(batch, [CopyColumn(name: "a", type: .text, source: 0)], encoder: &encoder)
        let expected: [UInt8] =
            Self.header + be16(1) + be32(2) + Array("xy".utf8) + be16(1) + be32(0) + be16(1) + be32(2)
            + Array("ok".utf8) + Self.trailer
        #expect(bytes == expected)
        #expect(encoder.nulsRemoved == 3)
        _ = try encode(batch, [CopyColumn(name: "a", type: .text, source: 0)], encoder: &encoder)
        #expect(encoder.nulsRemoved == 6)
    }

    @Test func misfitsNameTheColumnAndFirstRow() throws {
        let (batch, _) = try makeBatch("s,n,d\nx\u{0},1,2020-01-01\ny,abc,2020-01-02\nz,xyz,nope\n")
        let columns = [
            CopyColumn(name: "s", type: .text, source: 0), CopyColumn(name: "n", type: .bigint, source: 1),
            CopyColumn(name: "d", type: .date, source: 2),
        ]
        var encoder = BatchEncoder()
        defer { encoder.release() }
        guard case .misfits(let misfits) = try encoder.encode(batch, columns: columns, format: .binary) else {
            Issue.record("expected misfits")
            return
        }
        #expect(misfits == [1: 1, 2: 2])
        // A batch that is encoded again after widening counts its NULs once.
        #expect(encoder.nulsRemoved == 0)
    }

    @Test(arguments: [
        ("1.5", ColumnType.bigint), ("3000000000", .integer), ("40000", .smallint), ("abc", .numeric),
        ("maybe", .boolean), ("2020-02-30", .date), ("2020-01-01T00:00Z", .timestamp), ("not-a-uuid", .uuid),
        ("1,5", .double), ("12345678-1234-1234-1234-1234567890", .uuid), ("0+5", .bigint), ("0-0", .integer),
        ("+infinity", .timestamptz), ("infinit", .date),
    ])
    func valuesThatDoNotFitAreMisfits(_ text: String, _ type: ColumnType) throws {
        let (batch, _) = try makeBatch("v\n\"\(text)\"\n")
        var encoder = BatchEncoder()
        defer { encoder.release() }
        let outcome = try encoder.encode(batch, columns: [CopyColumn(name: "v", type: type, source: 0)], format: .binary)
        guard case .misfits(let misfits) = outcome else {
            Issue.record("\(text) fit \(type)")
            return
        }
        #expect(misfits == [0: 0])
    }

    @Test func nestedJSONIsAMisfitForScalarColumns() throws {
        let (batch, _) = try makeBatch("{\"v\":[1]}\n", .jsonl)
        var encoder = BatchEncoder()
        defer { encoder.release() }
        for type in [ColumnType.bigint, .numeric, .double] {
            let outcome = try encoder.encode(batch, columns: [CopyColumn(name: "v", type: type, source: 0)], format: .binary)
            guard case .misfits(let m) = outcome else {
                Issue.record("[1] fit \(type)")
                continue
            }
            #expect(m == [0: 0])
        }
    }

    @Test func nullInARequiredColumnIsAnInputErrorOnItsLine() throws {
        let (batch, _) = try makeBatch("k,v\n1,a\n\n,b\n", source: "keys.csv")
        let columns = [CopyColumn(name: "k", type: .bigint, source: 0, required: true), CopyColumn(name: "v", type: .text, source: 1)]
        var encoder = BatchEncoder()
        defer { encoder.release() }
        let error = #expect(throws: InputError.self) {
            _ = try encoder.encode(batch, columns: columns, format: .binary)
        }
        #expect(error?.line == 4)
        #expect(error?.column == "k")
        #expect(error?.source == "keys.csv")
    }

    // MARK: text format

    @Test func textFormatEscapesAndWritesNullAsBackslashN() throws {
        let (batch, _) = try makeBatch("a,b,c\n\"t\tab\",\"new\nline\",\"back\\slash\"\n,\"cr\rx\",\n\"\",x\u{0}y,\\N\n")
        let columns = ["a", "b", "c"].enumerated().map { CopyColumn(name: $0.element, type: .text, source: $0.offset) }
        var encoder = BatchEncoder()
        defer { encoder.release() }
        let bytes = try encode(batch, columns, .text, encoder: &encoder)
        let expected = "t\\tab\tnew\\nline\tback\\\\slash\n\\N\tcr\\rx\t\\N\n\txy\t\\\\N\n"
        #expect(String(decoding: bytes, as: UTF8.self) == expected)
        #expect(encoder.nulsRemoved == 1)
    }

    @Test func textFormatWithSequenceAndJSONString() throws {
        let (batch, _) = try makeBatch("{\"j\":\"a\\\"b\\tc\",\"n\":null}\n{\"j\":{\"k\":\"x\\\\y\"},\"n\":1}\n", .jsonl)
        let columns = [
            CopyColumn(name: "j", type: .jsonb, source: 0), CopyColumn(name: "n", type: .other("money"), source: 1),
        ]
        var encoder = BatchEncoder()
        defer { encoder.release() }
        switch try encoder.encode(batch, columns: columns, format: .text, sequenceStart: 7) {
        case .encoded(let out):
            // The JSON string is quoted again ("a\"b\tc"), then escaped for COPY text.
            let expected = "\"a\\\\\"b\\\\tc\"\t\\N\t7\n{\"k\":\"x\\\\\\\\y\"}\t1\t8\n"
            #expect(String(decoding: out.data.copyBytes(), as: UTF8.self) == expected)
        case .misfits(let m): Issue.record("misfits \(m)")
        }
    }

    // MARK: JSON

    @Test func jsonbHasVersionByteAndDropsNULEscapes() throws {
        let text = "{\"j\":{\"a\":\"x\\u0000y\",\"b\":\"\\\\u0000\"},\"s\":\"q\\\"\\u0000\\n\"}\n"
        let (batch, _) = try makeBatch(text, .jsonl)
        let columns = [CopyColumn(name: "j", type: .jsonb, source: 0), CopyColumn(name: "s", type: .jsonb, source: 1)]
        var encoder = BatchEncoder()
        defer { encoder.release() }
        let bytes = try encode(batch, columns, encoder: &encoder)
        let j = [1] + Array("{\"a\":\"xy\",\"b\":\"\\\\u0000\"}".utf8)
        let s = [1] + Array("\"q\\\"\\n\"".utf8)
        let expected: [UInt8] =
            Self.header + be16(2) + be32(Int32(j.count)) + j + be32(Int32(s.count)) + s + Self.trailer
        #expect(bytes == expected)
        #expect(encoder.nulsRemoved == 2)
    }

    @Test func jsonColumnKeepsTextAsIsWithoutVersionByte() throws {
        let bytes = try binaryValue("{\"v\":{\"a\":\"\\u0000\"}}", as: .json, .jsonl)
        #expect(bytes == be32(14) + Array("{\"a\":\"\\u0000\"}".utf8))
        let scalar = try binaryValue("{\"v\":12.5}", as: .jsonb, .jsonl)
        #expect(scalar == be32(5) + [1] + Array("12.5".utf8))
        let control = try binaryValue("{\"v\":\"\\u0001\"}", as: .jsonb, .jsonl)
        #expect(control == be32(9) + [1] + Array("\"\\u0001\"".utf8))
    }

    /// Text COPY into jsonb must drop `\u0000` as the binary path does: the server refuses it.
    @Test func textFormatJSONBDropsNULEscapesToo() throws {
        let (batch, _) = try makeBatch("{\"j\":{\"a\":\"x\\u0000y\"},\"o\":1}\n", .jsonl)
        let columns = [CopyColumn(name: "j", type: .jsonb, source: 0), CopyColumn(name: "o", type: .other("money"), source: 1)]
        var encoder = BatchEncoder()
        defer { encoder.release() }
        let bytes = try encode(batch, columns, .text, encoder: &encoder)
        #expect(String(decoding: bytes, as: UTF8.self) == "{\"a\":\"xy\"}\t1\n")
        #expect(encoder.nulsRemoved == 1)
    }

    // MARK: lenient integers

    @Test(arguments: [("007", Int64(7)), ("-007", -7), ("+0", 0), ("000", 0), ("-00", 0), ("12", 12)])
    func lenientIntAcceptsLeadingZeros(_ text: String, _ value: Int64) {
        #expect(withBytes(text) { BatchEncoder.lenientInt($0, $1) } == value)
    }

    /// PostgreSQL's int8in refuses a second sign; a bigint column must report these as misfits.
    @Test(arguments: ["0+5", "00-5", "0-0", "-0+5", "+", "-", "", "0x", "1-"])
    func lenientIntRefusesWhatPostgreSQLRefuses(_ text: String) {
        #expect(withBytes(text) { BatchEncoder.lenientInt($0, $1) } == nil)
    }

    /// PostgreSQL reads `-09223372036854775808` as Int64.min.
    @Test func lenientIntTakesInt64MinWithLeadingZeros() {
        #expect(withBytes("-09223372036854775808") { BatchEncoder.lenientInt($0, $1) } == Int64.min)
        #expect(withBytes("09223372036854775807") { BatchEncoder.lenientInt($0, $1) } == Int64.max)
    }
}
