import Testing

@testable import PGSinkCore

/// A file cut by `RowBoundaries` reads, part by part, exactly as it reads whole: the same records,
/// on the same lines.
@Suite("Row boundaries")
struct RowBoundariesTests {
    /// Scans `bytes` as one input: the continuing scanner of a part starting at `line` when given.
    private func scan(_ bytes: ArraySlice<UInt8>, _ format: ScanFormat, line: Int = 1, header: [[UInt8]] = [])
        throws -> ScanResult
    {
        let storage = ByteStorage()
        storage.append(contentsOf: Array(bytes))
        let batch = RecordBatch(source: "t", bytes: storage)
        let columns = SourceColumns()
        var scanner: any RecordScanner
        switch format {
        case .dialect(let dialect) where line > 1:
            scanner = CSVScanner(source: "t", dialect: dialect, continuingAt: line, header: header)
        case .jsonl:
            scanner = JSONLinesScanner(source: "t", continuingAt: line)
        default:
            scanner = format.makeScanner(source: "t")
        }
        let status = try scanner.scan(into: batch, columns: columns, isEOF: true, maxRows: 1_000_000)
        #expect(status == .endOfInput)
        var result = ScanResult()
        result.collect(batch, columns)
        return result
    }

    /// Every wanted offset, fed in pieces of `piece` bytes: the parts before and after the cut
    /// together give the whole scan's records and lines.
    private func checkEveryCut(_ text: String, _ format: ScanFormat, piece: Int) throws -> Int {
        let bytes = Array(text.utf8)
        let whole = try scan(bytes[...], format)
        let dialect: CSVDialect? = if case .dialect(let d) = format { d } else { nil }
        // The field names a continuing part is given: the whole scan's.
        let header = whole.names.map { Array($0.utf8) }
        var cuts = 0
        for wanted in 1..<bytes.count {
            var finder = RowBoundaries(wanted: [wanted], csv: dialect)
            var offset = 0
            while offset < bytes.count && !finder.isComplete {
                let n = min(piece, bytes.count - offset)
                bytes.withUnsafeBufferPointer { finder.feed($0.baseAddress! + offset, count: n) }
                offset += n
            }
            guard let cut = finder.cuts.first else { continue }
            cuts += 1
            #expect(cut.offset >= wanted)
            let before = try scan(bytes[..<cut.offset], format)
            let after = try scan(bytes[cut.offset...], format, line: cut.line, header: header)
            #expect(Self.records(before) + Self.records(after) == Self.records(whole), "cut at \(cut)")
            #expect(before.lines + after.lines == whole.lines, "cut at \(cut)")
        }
        return cuts
    }

    /// Each row as its values by column name (a part may meet JSON keys in another order).
    static func records(_ result: ScanResult) -> [[String: String]] {
        result.texts.map { row in
            var record: [String: String] = [:]
            for (name, text) in zip(result.names, row) { record[name] = text }
            return record
        }
    }

    static let quoted = "id,note,n\r\n1,\"one\r\ntwo, \"\"three\"\"\",5\r\n2,plain,6\n\n3,\"x\ny\",7\n4,a\"b,8\n5,\"\",9\n"

    @Test(arguments: [1, 3, 7, 1000])
    func csvNeverCutsInsideAQuotedField(_ piece: Int) throws {
        let cuts = try checkEveryCut(Self.quoted, .dialect(CSVDialect()), piece: piece)
        #expect(cuts > 0)
    }

    @Test func csvWithAnEscapeByteCommentsAndSkippedLines() throws {
        let dialect = CSVDialect(escape: 92, comment: 35, skipLines: 2)
        let text = "junk \"line\r\nmore junk\nid,note\n1,\"a \\\" b\n c\"\n# a comment, \"quoted\n2,x\\\ny\n3,\"\\\\\"\n"
        #expect(try checkEveryCut(text, .dialect(dialect), piece: 5) > 0)
    }

    @Test func csvWithoutAHeader() throws {
        let text = "1,\"a\nb\",x\n2,c,y\n3,d,z\n"
        #expect(try checkEveryCut(text, .dialect(CSVDialect(hasHeader: false)), piece: 4) > 0)
    }

    @Test func csvWithLoneCRLineEndsIsNotCutButCounted() throws {
        var finder = RowBoundaries(wanted: [3], csv: CSVDialect())
        let bytes = Array("a\r1\r\"x\ny\"\r2\n3\n".utf8)
        bytes.withUnsafeBufferPointer { finder.feed($0.baseAddress!, count: $0.count) }
        // The first LF outside quotes ends the record of "2" (line 5: the quoted LF is a line too).
        #expect(finder.cuts == [RowBoundaries.Cut(offset: 12, line: 6)])
    }

    @Test(arguments: [1, 2, 64])
    func jsonLinesAreCutAtNewlines(_ piece: Int) throws {
        let text = "{\"a\":1,\"s\":\"x\\ny\"}\n\n{\"a\":2}\n{\"b\":3}\n{\"a\":4}"
        #expect(try checkEveryCut(text, .jsonl, piece: piece) > 0)
    }

    @Test func severalCutsInOnePass() {
        let text = (1...100).map { "\($0),\"v\n\($0)\"" }.joined(separator: "\n") + "\n"
        let bytes = Array(text.utf8)
        var finder = RowBoundaries(wanted: [100, 400, 700], csv: CSVDialect(hasHeader: false))
        bytes.withUnsafeBufferPointer { finder.feed($0.baseAddress!, count: $0.count) }
        #expect(finder.cuts.count == 3)
        for cut in finder.cuts {
            // Each part starts a record: a number, then a quoted field two lines long.
            #expect(bytes[cut.offset] != UInt8(ascii: "\""))
            #expect(bytes[cut.offset - 1] == 10 && bytes[cut.offset - 2] == UInt8(ascii: "\""))
            #expect((cut.line - 1) % 2 == 0)
        }
    }
}
