import Testing

@testable import PGSinkCore

/// Records split across reads: feeding an input in chunks of every size 1…N must give exactly
/// what scanning it whole gives — the same rows, cells, kinds, lines, or the same error.
@Suite("Chunked scanning")
struct ChunkedScanTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var format: ScanFormat
        var text: String
        var testDescription: String { "\(format) \(name)" }
    }

    static let csvCases: [Case] = [
        ("plain", "id,name\n1,ann\n2,bob\n"),
        ("no final newline", "a,b\n1,2\n3,4"),
        ("quoted delimiter", "a,b\n\"x,y\",z\n\"p\",\"q\"\n"),
        ("doubled quotes", "a,b\n\"he said \"\"hi\"\" twice\",2\n3,4\n"),
        ("doubled quotes then more fields", "a,b,c\n\"x\"\"y\",long value here,z\n"),
        ("embedded LF", "a,b\n\"one\ntwo\",x\n3,4\n"),
        ("embedded CRLF", "a,b\r\n\"l1\r\nl2\",x\r\n3,4\r\n"),
        ("CRLF", "a,b\r\n1,2\r\n3,4\r\n"),
        ("lone CR", "a,b\r1,2\r3,4\r"),
        ("lone CR after quote", "a\r\"x\"\r\"y\""),
        ("BOM", "\u{FEFF}id,name\n1,x\n"),
        ("BOM only", "\u{FEFF}"),
        ("empty vs quoted empty", "a,b,c\n,\"\",x\n"),
        ("trailing delimiter at EOF", "a,b\n1,"),
        ("quoted then trailing delimiter", "a,b\n\"q\","),
        ("blank lines", "\na,b\n\n1,2\r\n\r\n\n3,4\n\n"),
        ("multi-byte", "näme,wert\nçà,日本語\n\"😀,😀\",x\n"),
        ("duplicate header", "a,a,b\n1,2,3\n"),
        ("quote inside unquoted", "a,b\nx\"y,5\"\n"),
        ("unclosed quote", "a,b\n1,2\n\"abc,3\n4,5\n"),
        ("text after quote", "a,b\n1,2\n\"x\"y,2\n"),
        ("wrong field count", "a,b\n1,2\n1,2,3\n"),
    ].map { Case(name: $0.0, format: .csv, text: $0.1) }

    static let otherCSVCases: [Case] = [
        Case(name: "no header", format: .csv(hasHeader: false), text: "1,\"2\n\"\"x\"\"\",3\n4,5,6"),
        Case(name: "tab", format: .csv(delimiter: 9), text: "a\tb\n1,5\t\"x\ty\"\n"),
        Case(name: "semicolon", format: .csv(delimiter: 59), text: "a;b\n1,5;\"x;\"\"y\"\"\"\n"),
    ]

    static let jsonlCases: [Case] = [
        ("plain", "{\"a\":1,\"b\":\"x\"}\n{\"b\":\"y\",\"a\":2}\n"),
        ("no final newline", "{\"a\":1}\n{\"a\":2}"),
        ("nested", "{\"o\":{\"x\":[1,2,{\"y\":null}]},\"arr\":[ 1 , \"a\" ]}\n"),
        (
            "escapes",
            "{\"s\":\"a\\nb\\\"c\\\\d\\/e\\u00e9 \\ud83d\\ude00 \\ud800x\",\"t\":\"plain\"}\n{\"s\":\"\\t\"}\n"
        ),
        ("numbers", "{\"n\":12345678901234567890,\"f\":0.1,\"e\":-1.5e-7}\n"),
        ("bools and null", "{\"t\":true,\"f\":false,\"n\":null}\n"),
        ("blank lines", "\n  \n{\"a\":1}\r\n\r\n{\"a\":2}\n\n"),
        ("new keys later", "{\"a\":1}\n{\"a\":2,\"b\":3}\n{\"c\":4}\n"),
        ("escaped key", "{\"a\\u0062\":1,\"ab\":2}\n"),
        ("multi-byte", "{\"näme\":\"日本語 😀\"}\n"),
        ("not an object", "{\"a\":1}\n[1]\n"),
        ("trailing garbage", "{\"a\":1}\n{\"a\":1} x\n"),
        ("unterminated string", "{\"a\":1}\n{\"a\":\"abc}\n"),
        ("bad number", "{\"a\":1}\n{\"a\":01}\n"),
        ("invalid escape", "{\"a\":\"\\x\"}\n"),
        ("BOM", "\u{FEFF}{\"a\":1}\n"),
        ("BOM only", "\u{FEFF}"),
    ].map { Case(name: $0.0, format: .jsonl, text: $0.1) }

    @Test(arguments: csvCases + otherCSVCases + jsonlCases)
    func everyChunkSizeMatchesTheWholeScan(_ c: Case) {
        let whole = scanWhole(c.text, c.format)
        if case .badStatus(let s) = whole { Issue.record("whole scan: \(s)") }
        let n = max(c.text.utf8.count, 1)
        var failures: [String] = []
        for size in 1...n {
            let chunked = scanChunked(c.text, c.format, chunkSize: size)
            if chunked != whole { failures.append("chunk size \(size): \(chunked)") }
        }
        #expect(failures.isEmpty, "whole: \(whole)\n\(failures.prefix(3).joined(separator: "\n"))")
    }

    /// The same, with a read boundary in a record whose quoted field has a doubled quote
    /// *before* the boundary: the scanner must be able to rescan what it already looked at.
    @Test(arguments: [4, 6, 7, 8, 9, 12])
    func recordWithDoubledQuoteSplitAcrossTwoReads(_ split: Int) throws {
        let text = "a\n\"x\"\"y and more\"\n"
        let bytes = Array(text.utf8)
        let storage = ByteStorage()
        let batch = RecordBatch(source: "t.csv", bytes: storage)
        let columns = SourceColumns()
        var scanner = CSVScanner(source: "t.csv")
        storage.append(contentsOf: bytes[..<split])
        #expect(try scanner.scan(into: batch, columns: columns, isEOF: false, maxRows: 10) == .needMore)
        storage.append(contentsOf: bytes[split...])
        #expect(try scanner.scan(into: batch, columns: columns, isEOF: true, maxRows: 10) == .endOfInput)
        try #require(batch.rowCount == 1)
        #expect(batch.string(batch.cell(row: 0, column: 0)) == "x\"y and more")
    }
}
