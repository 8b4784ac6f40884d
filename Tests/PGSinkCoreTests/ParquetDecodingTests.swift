import Testing

@testable import PGSinkCore

/// Parquet's building blocks with hand-made bytes: Thrift's compact protocol, the RLE/bit-packed
/// hybrid, the delta encodings, byte-stream split, the schema's levels and the value texts.
@Suite("Parquet decoding")
struct ParquetDecodingTests {
    @Test func thriftCompactStructsListsAndLongFieldIds() throws {
        let bytes: [UInt8] = [
            0x15, 0x0A,  // field 1, i32, zigzag 10 = 5
            0x38, 0x02, 0x61, 0x62,  // field 4 (delta 3), binary "ab"
            0x1C,  // field 5, struct
            0x16, 0x01,  // field 1, i64 -1
            0x00,  // end of the inner struct
            0x19, 0x25, 0x02, 0x04,  // field 6, list of 2 i32: 1 and 2 (zigzag)
            0x05, 0x28, 0x0E,  // field 20 in the long form, i32 7
            0x00,
        ]
        try bytes.withUnsafeBytes { p in
            var r = ThriftCompactReader(p)
            try r.beginStruct()
            var seen: [Int16] = []
            while let (id, type) = try r.field() {
                seen.append(id)
                switch id {
                case 1: #expect(try r.i32() == 5)
                case 4: #expect(try r.string() == "ab")
                case 5:
                    try r.beginStruct()
                    let inner = try #require(try r.field())
                    #expect(inner.id == 1)
                    #expect(try r.i64() == -1)
                    #expect(try r.field() == nil)
                case 6:
                    let (element, count) = try r.listHeader()
                    #expect(element == .i32 && count == 2)
                    #expect(try r.i32() == 1)
                    #expect(try r.i32() == 2)
                case 20: #expect(try r.i32() == 7)
                default: try r.skip(type)
                }
            }
            #expect(seen == [1, 4, 5, 6, 20])
            #expect(r.position == bytes.count)
        }
    }

    @Test func thriftSkipsUnknownFieldsAndRefusesTruncatedData() throws {
        let bytes: [UInt8] = [0x1C, 0x18, 0x03, 0x61, 0x62, 0x63, 0x00, 0x15, 0x04, 0x00]
        try bytes.withUnsafeBytes { p in
            var r = ThriftCompactReader(p)
            try r.beginStruct()
            let first = try #require(try r.field())
            try r.skip(first.type)
            let second = try #require(try r.field())
            #expect(second.id == 2)
            #expect(try r.i32() == 2)
        }
        let cut: [UInt8] = [0x18, 0x05, 0x61]
        cut.withUnsafeBytes { p in
            var r = ThriftCompactReader(p)
            #expect(throws: ParquetError.self) {
                try r.beginStruct()
                _ = try r.field()
                _ = try r.binary()
            }
        }
    }

    /// Sizes no data can hold, and nesting without end, are errors, never a trap, an overflow, a
    /// long loop over entries that read nothing, or a blown stack (all found by fuzzing files).
    @Test(arguments: [
        // A binary field whose size is near 2^63: skipped, it overflowed the position.
        ("binary size", [0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x61] as [UInt8]),
        // A size past 2^63 did not fit an Int.
        ("binary size past Int", [0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
        // A map of 2^62 boolean pairs: each entry reads no byte.
        ("map of booleans", [0x1B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x3F, 0x11]),
        // A long list of long lists of … nested 10,000 deep.
        ("nested lists", [0x19] + Array(repeating: 0x19, count: 10_000)),
    ])
    func thriftRefusesSizesAndNestingNoDataHolds(_ what: String, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { p in
            var r = ThriftCompactReader(p)
            #expect(throws: ParquetError.self, "\(what)") {
                try r.beginStruct()
                while let (_, type) = try r.field() { try r.skip(type) }
            }
        }
    }

    @Test func rleHybridReadsBitPackedAndRepeatedRuns() throws {
        // The format's example: 0..7 bit-packed in 3 bits, then an RLE run of four 5s.
        let bytes: [UInt8] = [0x03, 0x88, 0xC6, 0xFA, 0x08, 0x05]
        let values = try bytes.withUnsafeBytes { p in
            try ParquetEncodings.rleHybrid(p, start: 0, end: p.count, bitWidth: 3, count: 12)
        }
        #expect(values == [0, 1, 2, 3, 4, 5, 6, 7, 5, 5, 5, 5])
        #expect(throws: ParquetError.self) {
            try bytes.withUnsafeBytes { p in try ParquetEncodings.rleHybrid(p, start: 0, end: p.count, bitWidth: 3, count: 13) }
        }
    }

    @Test func deltaBinaryPackedWithZeroAndWiderBitWidths() throws {
        // 1, 2, 3, 4, 5: every delta is the minimum, so no bits at all.
        let constant: [UInt8] = [0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0, 0, 0, 0]
        let (a, end) = try constant.withUnsafeBytes { p in try ParquetEncodings.deltaBinaryPacked(p, start: 0) }
        #expect(a == [1, 2, 3, 4, 5])
        #expect(end == constant.count)
        // 7, 5, 3, 1, 2, 3, 4, 5: minimum delta -2, the rest in 2 bits (one miniblock of 32).
        let mixed: [UInt8] = [0x80, 0x01, 0x04, 0x08, 0x0E, 0x03, 2, 0, 0, 0, 0xC0, 0xFF, 0, 0, 0, 0, 0, 0, 0xAA]
        let (b, bEnd) = try mixed.withUnsafeBytes { p in try ParquetEncodings.deltaBinaryPacked(p, start: 0) }
        #expect(b == [7, 5, 3, 1, 2, 3, 4, 5])
        #expect(bEnd == mixed.count - 1)
    }

    @Test func byteStreamSplitJoinsTheStreams() throws {
        let split: [UInt8] = [1, 5, 2, 6, 3, 7, 4, 8]
        let joined = try split.withUnsafeBytes { p in try ParquetEncodings.byteStreamSplit(p, start: 0, count: 2, width: 4) }
        #expect(joined == [1, 2, 3, 4, 5, 6, 7, 8])
    }

    @Test func schemaLevelsAndNestedFields() throws {
        var root = ParquetSchemaElement()
        root.childCount = 3
        var a = ParquetSchemaElement()
        a.name = "a"
        a.type = .int32
        a.repetition = 1
        var b = ParquetSchemaElement()
        b.name = "b"
        b.type = .byteArray
        b.repetition = 0
        var list = ParquetSchemaElement()
        list.name = "tags"
        list.repetition = 1
        list.childCount = 1
        var item = ParquetSchemaElement()
        item.name = "item"
        item.type = .int64
        item.repetition = 2
        let schema = try ParquetSchema([root, a, b, list, item])
        #expect(schema.leaves.map(\.name) == ["a", "b", "tags.item"])
        #expect(schema.leaves.map(\.maxDefinition) == [1, 0, 2])
        #expect(schema.leaves.map(\.maxRepetition) == [0, 0, 1])
        #expect(schema.nestedFields == ["tags"])
        #expect(throws: ParquetError.self) { try ParquetSchema([root, a]) }
    }

    @Test func valuesAreWrittenAsPostgreSQLReadsThem() {
        func text(_ write: (ByteStorage) -> Void) -> String {
            let out = ByteStorage(capacity: 64)
            write(out)
            return String(decoding: out.bytes, as: UTF8.self)
        }
        #expect(text { ParquetText.appendDate(days: 0, to: $0) } == "1970-01-01")
        #expect(text { ParquetText.appendDate(days: -1, to: $0) } == "1969-12-31")
        #expect(text { ParquetText.appendDate(days: 18262, to: $0) } == "2020-01-01")
        #expect(text { ParquetText.appendDate(days: 3_000_000, to: $0) } == "10183-09-21")
        #expect(text { ParquetText.appendDate(days: -800_000, to: $0) } == "0222-09-04 BC")
        #expect(text { ParquetText.appendTimestamp(-1, unit: .micros, utc: true, to: $0) } == "1969-12-31 23:59:59.999999+00")
        #expect(text { ParquetText.appendTimeOfDay(3_723_004, unit: .millis, to: $0) } == "01:02:03.004")
        let (small, negative) = ParquetText.decimalDigits(bigEndian: [0xFF, 0xFF][...])
        #expect(text { ParquetText.appendDecimal(unscaled: small, negative: negative, scale: 2, to: $0) } == "-0.01")
        let (wide, _) = ParquetText.decimalDigits(bigEndian: [0x01, 0x00][...])
        #expect(text { ParquetText.appendDecimal(unscaled: wide, negative: false, scale: 1, to: $0) } == "25.6")
        let max128: [UInt8] = [0x7F] + Array(repeating: 0xFF, count: 15)
        #expect(ParquetText.decimalDigits(bigEndian: max128[...]).0 == Array("170141183460469231731687303715884105727".utf8))
        #expect(text { ParquetText.appendUUID([UInt8](0..<16)[...], to: $0) } == "00010203-0405-0607-0809-0a0b0c0d0e0f")
        #expect(text { ParquetText.appendBytea([0, 255][...], to: $0) } == "\\x00ff")
        #expect(text { ParquetText.appendDouble(-.infinity, to: $0) } == "-Infinity")
        #expect(ParquetText.float16(0x3C00) == 1 && ParquetText.float16(0xC000) == -2)
    }

    @Test func decimalsInBinaryFormMatchTheirText() {
        // The binary numeric built from the unscaled integer equals the one built from its text.
        let values: [Int64] = [
            0, 1, -1, 9, 10, 99, 100, 1234, 9999, 10000, 10001, 12_345_678, -90_000, 1_000_000_000_000,
            123_456_789_012_345, -999_999_999_999_999, .max, .min, .max - 1, .min + 1,
        ]
        for value in values {
            for scale in [0, 1, 2, 3, 4, 5, 8, 9, 18, 20, 38] {
                let text = ByteStorage(capacity: 64)
                let (digits, negative) = ParquetText.decimalDigits(value)
                ParquetText.appendDecimal(unscaled: digits, negative: negative, scale: scale, to: text)
                let parts = ValueSyntax.parseDecimal(text.base, text.count, strictZeros: false)!
                let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: text.count + 1)
                defer { scratch.deallocate() }
                let expected = ByteStorage(capacity: 64)
                #expect(NumericEncoding.write(parts, text.base, scratch: scratch, to: expected))
                let binary = ByteStorage(capacity: 64)
                #expect(ParquetRowGroupRows.writeNumeric(unscaled: value, scale: scale, to: binary))
                #expect(Array(binary.bytes) == Array(expected.bytes.dropFirst(4)), "\(value) scale \(scale)")
            }
        }
    }

    @Test func typesComeFromTheSchema() throws {
        func leaf(_ type: ParquetPhysicalType, _ logical: ParquetLogicalType?, length: Int = 0) -> ParquetLeaf {
            var e = ParquetSchemaElement()
            e.name = "c"
            e.type = type
            e.typeLength = length
            e.logicalType = logical
            return ParquetLeaf(path: ["c"], element: e, maxDefinition: 1, maxRepetition: 0)
        }
        #expect(try ParquetCellFormat.of(leaf(.int64, .integer(bits: 64, signed: false))).1 == .numeric)
        #expect(try ParquetCellFormat.of(leaf(.int32, .integer(bits: 32, signed: false))).1 == .bigint)
        #expect(try ParquetCellFormat.of(leaf(.int64, .timestamp(utc: true, unit: .nanos))).1 == .timestamptz)
        #expect(try ParquetCellFormat.of(leaf(.int96, nil)).1 == .timestamptz)
        #expect(try ParquetCellFormat.of(leaf(.fixedLenByteArray, .decimal(precision: 20, scale: 4), length: 9)).1
            == .other("numeric(20,4)"))
        #expect(try ParquetCellFormat.of(leaf(.byteArray, .bson)).1 == .other("bytea"))
        #expect(throws: ParquetError.self) { try ParquetCellFormat.of(leaf(.byteArray, .unsupported("VARIANT"))) }
    }
}
