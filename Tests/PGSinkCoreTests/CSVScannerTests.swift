import Testing

@testable import PGSinkCore

@Suite("CSV scanner")
struct CSVScannerTests {
    private func scan(_ text: String, _ format: ScanFormat = .csv) throws -> ScanResult {
        let outcome = scanWhole(text, format)
        return try #require(outcome.result, "\(outcome)")
    }

    private func failure(_ text: String, _ format: ScanFormat = .csv) throws -> InputError {
        let outcome = scanWhole(text, format)
        return try #require(outcome.error, "\(outcome)")
    }

    @Test func headerNamesColumnsAndRowsStartOnLineTwo() throws {
        let r = try scan("id,name\n1,ann\n2,bob\n")
        #expect(r.names == ["id", "name"])
        #expect(r.texts == [["1", "ann"], ["2", "bob"]])
        #expect(r.lines == [2, 3])
        #expect(r.kinds == [[.raw, .raw], [.raw, .raw]])
    }

    @Test func quotedFieldHoldsDelimiterAndDoubledQuotes() throws {
        let r = try scan("a,b\n\"x,y\",\"he said \"\"hi\"\"\"\n")
        #expect(r.texts == [["x,y", "he said \"hi\""]])
        #expect(r.kinds == [[.quoted, .quoted]])
    }

    @Test func quotedFieldWithLineBreaksShiftsTheNextRowsLine() throws {
        let r = try scan("a,b\n\"one\ntwo\nthree\",x\n3,4\n")
        #expect(r.texts == [["one\ntwo\nthree", "x"], ["3", "4"]])
        #expect(r.lines == [2, 5])
    }

    @Test func quotedFieldKeepsEmbeddedCRLF() throws {
        let r = try scan("a,b\r\n\"l1\r\nl2\",x\r\n3,4\r\n")
        #expect(r.texts == [["l1\r\nl2", "x"], ["3", "4"]])
        #expect(r.lines == [2, 4])
    }

    @Test(arguments: [
        ("CRLF", "a,b\r\n1,2\r\n3,4\r\n"),
        ("CRLF, no final newline", "a,b\r\n1,2\r\n3,4"),
        ("lone CR", "a,b\r1,2\r3,4\r"),
        ("LF", "a,b\n1,2\n3,4\n"),
        ("mixed", "a,b\r\n1,2\r3,4\n"),
    ])
    func lineEndings(_ name: String, _ text: String) throws {
        let r = try scan(text)
        #expect(r.names == ["a", "b"])
        #expect(r.texts == [["1", "2"], ["3", "4"]])
        #expect(r.lines == [2, 3])
    }

    @Test func quotedFieldBeforeLoneCR() throws {
        let r = try scan("a\r\"x\"\r\"y\"")
        #expect(r.texts == [["x"], ["y"]])
        #expect(r.lines == [2, 3])
    }

    @Test func utf8ByteOrderMarkIsSkipped() throws {
        let r = try scan("\u{FEFF}id,name\n1,é\n")
        #expect(r.names == ["id", "name"])
        #expect(r.texts == [["1", "é"]])
    }

    @Test func withoutHeaderColumnsAreNumbered() throws {
        let r = try scan("1,2,3\n4,5,6\n", .csv(hasHeader: false))
        #expect(r.names == ["column_1", "column_2", "column_3"])
        #expect(r.texts == [["1", "2", "3"], ["4", "5", "6"]])
        #expect(r.lines == [1, 2])
    }

    @Test func emptyHeaderNameGetsItsPosition() throws {
        let r = try scan("a,,c\n1,2,3\n")
        #expect(r.names == ["a", "column_2", "c"])
    }

    @Test(arguments: [(UInt8(9), "a\tb\n1,5\t\"x\ty\"\n"), (UInt8(59), "a;b\n1,5;\"x;y\"\n")])
    func customDelimiter(_ delimiter: UInt8, _ text: String) throws {
        let r = try scan(text, .csv(delimiter: delimiter))
        #expect(r.names == ["a", "b"])
        let d = String(Character(Unicode.Scalar(delimiter)))
        #expect(r.texts == [["1,5", "x\(d)y"]])
    }

    @Test func emptyUnquotedIsNullButQuotedEmptyIsEmptyString() throws {
        let r = try scan("a,b,c\n,\"\",x\n")
        #expect(r.texts == [[nil, "", "x"]])
        #expect(r.rows[0][0].kind == .null)
        #expect(r.rows[0][1].kind == .quoted)
        // The cell itself: quoted, zero length.
        let (batch, _) = try makeBatch("a,b\n\"\",\n")
        let cell = batch.cell(row: 0, column: 0)
        #expect(cell.kind == .quoted)
        #expect(cell.length == 0)
        #expect(batch.cell(row: 0, column: 1).isNull)
    }

    @Test(arguments: ["a,b\n1,", "a,b\n1,\n", "a,b\r\n1,\r\n"])
    func trailingDelimiterGivesAFinalNull(_ text: String) throws {
        let r = try scan(text)
        #expect(r.texts == [["1", nil]])
    }

    @Test func quotedFieldThenTrailingDelimiterAtEOF() throws {
        let r = try scan("a,b\n\"q\",")
        #expect(r.texts == [["q", nil]])
    }

    @Test func lastLineWithoutNewline() throws {
        let r = try scan("a\n1\n2")
        #expect(r.texts == [["1"], ["2"]])
        #expect(r.lines == [2, 3])
        let q = try scan("a\n1\n\"2\"")
        #expect(q.texts == [["1"], ["2"]])
    }

    @Test func blankLinesAreSkippedButCounted() throws {
        let r = try scan("\na,b\n\n1,2\r\n\r\n\n3,4\n\n")
        #expect(r.names == ["a", "b"])
        #expect(r.texts == [["1", "2"], ["3", "4"]])
        #expect(r.lines == [4, 7])
    }

    @Test func allNullRowIsNotBlank() throws {
        let r = try scan("a,b\n,\n1,2\n")
        #expect(r.texts == [[nil, nil], ["1", "2"]])
        #expect(r.lines == [2, 3])
    }

    @Test func quoteInsideUnquotedFieldIsKept() throws {
        let r = try scan("a,b\nx\"y,5\"\n")
        #expect(r.texts == [["x\"y", "5\""]])
    }

    @Test func headerOnlyAndEmptyInput() throws {
        let r = try scan("a,b\n")
        #expect(r.names == ["a", "b"])
        #expect(r.rows.isEmpty)
        let e = try scan("")
        #expect(e.names.isEmpty)
        #expect(e.rows.isEmpty)
    }

    @Test func duplicateHeaderNamesGetSeparateSlots() throws {
        let r = try scan("a,a,b,a\n1,2,3,4\n")
        #expect(r.names == ["a", "a", "b", "a"])
        #expect(r.texts == [["1", "2", "3", "4"]])
    }

    @Test func secondFileMapsItsHeaderOntoTheSameSlots() throws {
        let columns = SourceColumns()
        var first = ScanResult()
        var second = ScanResult()
        for (text, index) in [("a,b,a\n1,2,3\n", 0), ("b,a,c,a\n5,6,7,8\n", 1)] {
            let batch = RecordBatch(source: "f\(index).csv", bytes: ByteStorage())
            batch.bytes.append(contentsOf: Array(text.utf8))
            var scanner = CSVScanner(source: "f\(index).csv")
            #expect(try scanner.scan(into: batch, columns: columns, isEOF: true, maxRows: 100) == .endOfInput)
            if index == 0 { first.collect(batch, columns) } else { second.collect(batch, columns) }
        }
        #expect(columns.names == ["a", "b", "a", "c"])
        #expect(first.texts == [["1", "2", "3"]])  // collected before column c existed
        // b→1, first a→0, c→3, second a→2.
        #expect(second.texts == [["6", "5", "8", "7"]])
    }

    // MARK: errors

    @Test func unclosedQuoteAtEOFNamesTheLineWhereTheRecordStarts() throws {
        let e = try failure("a,b\n1,2\n\"abc,3\n4,5\n")
        #expect(e.line == 3)
        #expect(e.source == "t.csv")
        #expect(e.message.contains("not closed"))
    }

    @Test func textAfterClosingQuote() throws {
        let e = try failure("a,b\n1,2\n\"x\"y,2\n")
        #expect(e.line == 3)
        #expect(e.message.contains("closing quote"))
    }

    @Test func textAfterClosingQuoteOfAMultiLineField() throws {
        let e = try failure("a\n\"x\ny\"z\n")
        #expect(e.line == 3)
    }

    @Test(arguments: [("a,b\n1,2\n1,2,3\n", 3), ("a,b\n1\n", 2), ("a,b\n\"x\ny\",1\n1,2,3\n", 4)])
    func wrongFieldCount(_ text: String, _ line: Int) throws {
        let e = try failure(text)
        #expect(e.line == line)
        #expect(e.message.contains("expected 2 fields"))
    }

    @Test func errorLineAfterBlankLinesAndCRLF() throws {
        let e = try failure("a,b\r\n\r\n1,2\r\n3\r\n")
        #expect(e.line == 4)
    }

    // MARK: batches

    @Test func batchFullHandsTheRestToTheNextBatch() throws {
        let text = "a,b\n1,\"x\ny\"\n2,z\n\n3,w\n4,v"
        let whole = try scan(text)
        let (outcome, batches) = scanInBatches(text, maxRows: 1)
        #expect(outcome == .scanned(whole))
        #expect(batches >= 4)
        #expect(whole.lines == [2, 4, 6, 7])
    }
}
