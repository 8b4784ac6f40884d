import Testing

@testable import PGSinkCore

/// The core pieces the stream readers (Singer, Airbyte) are built from: walking a message's
/// envelope without changing it, scanning the record object in place into an open row, dropping a
/// record that failed, and the values the writer fills itself (`Generated`).
@Suite("Stream records")
struct StreamRecordTests {
    /// A batch whose bytes are `text`, and a pointer to them.
    private func batch(_ text: String) -> RecordBatch {
        let storage = ByteStorage()
        storage.append(contentsOf: Array(text.utf8))
        return RecordBatch(source: "stdin", bytes: storage)
    }

    /// A reader that appends its records' values itself never moves `scanned`; replacing one
    /// value with the server's spelling must leave every other cell reading its own bytes.
    @Test func replacingAValueOfARecordAReaderBuiltKeepsTheOtherCells() throws {
        let batch = RecordBatch(source: "slot", bytes: ByteStorage())
        for (line, values) in [(1, ["infinity", "23:59:59.999999", "x"]), (2, ["2024-01-01", "00:00", "y"])] {
            batch.beginRecord(line: line)
            for (column, value) in values.enumerated() {
                let offset = batch.bytes.count
                batch.bytes.append(contentsOf: Array(value.utf8))
                batch.setCell(Cell(offset: UInt32(offset), length: UInt32(value.utf8.count), kind: .quoted), column: column)
            }
            batch.endRecord()
        }
        batch.finish(columnCount: 3)
        batch.replace([(row: 0, column: 0, text: Array("Infinity".utf8))])
        let texts = (0..<2).map { row in (0..<3).map { batch.string(batch.cell(row: row, column: $0)) ?? "" } }
        #expect(texts == [["Infinity", "23:59:59.999999", "x"], ["2024-01-01", "00:00", "y"]])
    }

    @Test func walkingTheEnvelopeLeavesTheLineAsItWas() throws {
        let line = #"{"ty\u0070e": "RECORD", "stream":"a\"b", "record":{"x":"q\nr"}, "version": 3}"#
        let batch = self.batch(line)
        let p = batch.bytes.base
        let end = batch.bytes.count
        let scanner = JSONLinesScanner(source: "stdin")
        var i = 0
        #expect(try scanner.enterObject(p, &i, end))
        var keys: [String] = []
        var first = true
        while let key = try scanner.nextKey(p, &i, end, first: first, inPlace: false) {
            first = false
            keys.append(String(decoding: UnsafeBufferPointer(start: p + key.start, count: key.length), as: UTF8.self))
            let start = try scanner.token(p, &i, end)
            #expect(start < i)
        }
        try scanner.expectEnd(p, &i, end)
        #expect(keys == [#"ty\u0070e"#, "stream", "record", "version"])
        #expect(String(decoding: batch.bytes.bytes, as: UTF8.self) == line)
    }

    @Test func theRecordIsScannedInPlaceIntoAnOpenRowThatTakesCellsOfItsOwn() throws {
        let line = #"{"type":"RECORD","record":{"id":7,"name":"a\tb","tags":[1,2]},"time_extracted":"2024-01-02T03:04:05Z"}"#
        let batch = self.batch(line)
        let columns = SourceColumns()
        var scanner = JSONLinesScanner(source: "stdin")
        let p = batch.bytes.base
        let end = batch.bytes.count
        var i = 0
        #expect(try scanner.enterObject(p, &i, end))
        var first = true
        var extracted: Cell?
        while let key = try scanner.nextKey(p, &i, end, first: first) {
            first = false
            switch String(decoding: UnsafeBufferPointer(start: p + key.start, count: key.length), as: UTF8.self) {
            case "record": try scanner.beginRecord(in: batch, &i, end, line: 42, columns: columns)
            case "time_extracted": extracted = try scanner.value(p, &i, end)
            default: try scanner.skip(p, &i, end)
            }
        }
        let slot = columns.slot(for: "_sdc_extracted_at")
        batch.setCell(try #require(extracted), column: slot)
        batch.endRecord()
        batch.finish(columnCount: columns.count)
        #expect(batch.rowCount == 1)
        #expect(batch.rowLines == [42])
        #expect(columns.names == ["id", "name", "tags", "_sdc_extracted_at"])
        #expect(batch.string(batch.cell(row: 0, column: 0)) == "7")
        #expect(batch.string(batch.cell(row: 0, column: 1)) == "a\tb")
        #expect(batch.string(batch.cell(row: 0, column: 2)) == "[1,2]")
        #expect(batch.string(batch.cell(row: 0, column: slot)) == "2024-01-02T03:04:05Z")
    }

    @Test func aRecordThatFailsToScanLeavesTheBatchAsItWas() throws {
        let batch = self.batch(#"{"a":1}{"a":2,"b":}"#)
        let columns = SourceColumns()
        var scanner = JSONLinesScanner(source: "stdin")
        var i = 0
        try scanner.beginRecord(in: batch, &i, 7, line: 1, columns: columns)
        batch.endRecord()
        let cellsBefore = batch.cells.count
        i = 7
        let end = batch.bytes.count
        #expect(throws: InputError.self) { try scanner.beginRecord(in: batch, &i, end, line: 2, columns: columns) }
        #expect(batch.rowCount == 1)
        #expect(batch.cells.count == cellsBefore)
        #expect(batch.rowStarts.count == 2)
    }

    @Test func abandoningARecordDropsItsChildRowsToo() throws {
        let layout = NestedLayout()
        let first = #"{"id":1,"items":[{"n":1},{"n":2}]}"#
        let batch = self.batch(first + #"{"id":2,"items":[{"n":3}]}"#)
        let columns = SourceColumns()
        var scanner = JSONLinesScanner(source: "stdin", nesting: Nesting(flattenDepth: 1000, separator: "__", layout: layout))
        var i = 0
        try scanner.beginRecord(in: batch, &i, first.utf8.count, line: 1, columns: columns)
        batch.endRecord()
        try scanner.beginRecord(in: batch, &i, batch.bytes.count, line: 2, columns: columns)
        let child = try #require(batch.children[0])
        #expect(child.rowCount == 3)
        batch.abandonRecord()
        #expect(batch.rowCount == 1)
        #expect(child.rowCount == 2)
        #expect(child.parentRows == [0, 0])
    }

    // MARK: values the writer fills

    private func encode(_ batch: RecordBatch, _ columns: [CopyColumn], _ format: CopyFormat) throws -> [UInt8] {
        var encoder = BatchEncoder()
        defer { encoder.release() }
        guard case .encoded(let out) = try encoder.encode(batch, columns: columns, format: format) else {
            Issue.record("misfits")
            return []
        }
        return out.data.copyBytes()
    }

    @Test func sequenceMillisecondsAndJSONTemplatesInBothFormats() throws {
        let (batch, _) = try makeBatch(
            "{\"at\":1700000000123,\"changes\":[{\"f\":\"a\\tb\"}]}\n{\"at\":\"soon\"}\n", .jsonl)
        let columns = [
            CopyColumn(name: "seq", type: .bigint, source: nil, generated: .sequence(start: 10)),
            CopyColumn(name: "at", type: .timestamptz, source: nil, generated: .epochMilliseconds(slot: 0, fallback: 5)),
            CopyColumn(
                name: "meta", type: .jsonb, source: nil,
                generated: .json(prefix: Array(#"{"changes":"#.utf8), slot: 1, ifNull: Array("[]".utf8), suffix: [125])),
            CopyColumn(name: "g", type: .bigint, source: nil, generated: .constant(.null(.bigint))),
        ]
        let text = String(decoding: try encode(batch, columns, .text), as: UTF8.self)
        #expect(text == "10\t2023-11-14 22:13:20.123000+00\t{\"changes\":[{\"f\":\"a\\\\tb\"}]}\t\\N\n"
            + "11\t1970-01-01 00:00:00.000005+00\t{\"changes\":[]}\t\\N\n")
        var reader = ByteReader(try encode(batch, columns, .binary))
        _ = reader.take(19)
        #expect(reader.int16() == 4)
        #expect(reader.int32() == 8)
        #expect(reader.int64() == 10)
        #expect(reader.int32() == 8)
        #expect(reader.int64() == 1_700_000_000_123_000 - 946_684_800_000_000)
        let meta = #"{"changes":[{"f":"a\tb"}]}"#
        #expect(reader.int32() == Int32(1 + meta.utf8.count))
        #expect(reader.take(1 + meta.utf8.count) == [1] + Array(meta.utf8))
        #expect(reader.int32() == -1)
        #expect(reader.int16() == 4)
        #expect(reader.int32() == 8)
        #expect(reader.int64() == 11)
        #expect(reader.int32() == 8)
        #expect(reader.int64() == 5 - 946_684_800_000_000)
    }

    @Test func randomIdsDiffer() throws {
        let (batch, _) = try makeBatch("a\n1\n2\n3\n")
        let bytes = try encode(batch, [CopyColumn(name: "id", type: .uuid, source: nil, generated: .randomId)], .text)
        let ids = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        #expect(ids.count == 3)
        #expect(Set(ids).count == 3)
        #expect(ids.allSatisfy { $0.count == 36 })
    }

    @Test(arguments: [
        ("1700000000000", Int64?(1_700_000_000_000)), ("-5", -5), ("12.9", 12), ("0", 0), ("1e3", nil), ("", nil),
        ("x", nil), ("99999999999999999999", nil),
    ])
    func millisecondsFromJSONNumbers(_ text: String, _ expected: Int64?) {
        withBytes(text) { p, n in #expect(BatchEncoder.wholeMilliseconds(p, n) == expected) }
    }
}
