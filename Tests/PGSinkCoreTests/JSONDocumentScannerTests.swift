import Testing

@testable import PGSinkCore

/// JSON documents (`--format json`): arrays of objects, one object, the array at a records path.
@Suite("JSON document scanner")
struct JSONDocumentScannerTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var path: [String] = []
        var text: String
        var testDescription: String { name }
    }

    static let documents: [Case] = [
        Case(name: "array", text: #"[{"a":1,"b":"x"},{"b":"y","a":2}]"#),
        Case(name: "blanks and line breaks everywhere", text: "\n[\n  {\n\"a\" :\n 1 ,\r\n \"b\": \"x\"\n}\n ,\n\t{\"a\":2}\n]\n\n"),
        Case(name: "brackets, commas and escaped quotes in strings",
            text: #"[{"s":"a]b,}{[\"x\\","t":"\\"},{"s":"]]","u":"\u005d\""}]"#),
        Case(name: "nested arrays and objects",
            text: #"[{"o":{"x":[1,2,{"y":null}],"z":{}},"arr":[ [ ], [1, "]"] ]},{"o":[]}]"#),
        Case(name: "numbers, words and multi-byte", text: #"[{"n":-1.5e7,"t":true,"f":false,"z":null,"s":"日本語 😀"}]"#),
        Case(name: "single object", text: "{\"a\": 1,\n \"b\": [1, 2]}\n"),
        Case(name: "empty array", text: " [ ] "),
        Case(name: "empty input", text: "  \n"),
        Case(name: "BOM", text: "\u{FEFF}[{\"a\":1}]"),
        Case(name: "records path", path: ["items"],
            text: #"{"count":2,"meta":{"x":[1,{"y":"]"}]},"items":[{"a":1},{"a":2}],"next":"}x{"}"#),
        Case(name: "nested records path", path: ["data", "items"],
            text: "{\"data\": {\"skip\": [[{}]], \"items\": [\n{\"a\": 1}\n], \"after\": {\"items\": 3}}, \"tail\": null}"),
        Case(name: "escaped key on the path", path: ["it\"ems"], text: #"{"it\"ems":[{"a":1}],"x":1}"#),
        Case(name: "truncated", text: #"[{"a":1},{"a":"#),
        Case(name: "not an object", text: "[1,2]"),
        Case(name: "trailing garbage", text: #"[{"a":1}] x"#),
        Case(name: "bad token between elements", text: #"[{"a":1};{"a":2}]"#),
        Case(name: "bad token in an element", text: #"[{"a":1},{"a":tru}]"#),
        Case(name: "missing records path", path: ["data", "items"], text: #"{"data":{"other":[]},"x":1}"#),
        Case(name: "records path not an array", path: ["items"], text: #"{"items":{"a":1}}"#),
    ]

    /// Every way of splitting a small document over two reads, and of handing the unscanned bytes
    /// to a new batch between them, gives what one whole scan gives: rows, lines, or the error
    /// with its byte offset.
    @Test(arguments: documents)
    func everySplitMatchesTheWholeScan(_ c: Case) {
        let whole = scanWhole(c.text, .json(recordsPath: c.path))
        if case .badStatus(let s) = whole { Issue.record("whole scan: \(s)") }
        var failures: [String] = []
        for size in 1...max(c.text.utf8.count, 1) {
            let chunked = scanChunked(c.text, .json(recordsPath: c.path), chunkSize: size)
            if chunked != whole { failures.append("chunk size \(size): \(chunked)") }
        }
        for split in 0...c.text.utf8.count {
            let handed = scanSplit(c.text, path: c.path, at: split)
            if handed != whole { failures.append("handed over at \(split): \(handed)") }
        }
        #expect(failures.isEmpty, "whole: \(whole)\n\(failures.prefix(3).joined(separator: "\n"))")
    }

    /// An array's elements give exactly the rows the same objects give as JSON Lines.
    @Test(arguments: documents.prefix(5))
    func elementsScanAsJSONLines(_ c: Case) throws {
        let json = try #require(scanWhole(c.text, .json).result)
        let lines = Self.asJSONLines(c.text)
        let jsonl = try #require(scanWhole(lines, .jsonl).result)
        #expect(json.names == jsonl.names)
        #expect(json.texts == jsonl.texts)
        #expect(json.kinds == jsonl.kinds)
    }

    @Test func rowsAreLabelledWithTheLineTheirElementStartsOn() throws {
        let result = try #require(scanWhole("[\n{\"a\":\n1},\n\n  {\"a\":2}\n]\n", .json).result)
        #expect(result.lines == [2, 5])
        #expect(result.texts == [["1"], ["2"]])
    }

    @Test func emptyDocumentsLoadNoRows() throws {
        #expect(try #require(scanWhole("[]", .json).result).rows.isEmpty)
        #expect(try #require(scanWhole("", .json).result).rows.isEmpty)
        #expect(try #require(scanWhole(#"{"items":[]}"#, .json(recordsPath: ["items"])).result).rows.isEmpty)
    }

    @Test func singleObjectIsOneRow() throws {
        let result = try #require(scanWhole(#"{"a":1,"b":{"c":[1]}}"#, .json).result)
        #expect(result.names == ["a", "b"])
        #expect(result.texts == [["1", #"{"c":[1]}"#]])
    }

    @Test func recordsPathSkipsKeysAroundTheArray() throws {
        let text = #"{"a":[{"x":1}],"data":{"items":[{"x":2},{"x":3}],"items2":[{"x":4}]},"z":[{"x":5}]}"#
        let result = try #require(scanWhole(text, .json(recordsPath: ["data", "items"])).result)
        #expect(result.texts == [["2"], ["3"]])
    }

    @Test(arguments: [
        (#"[{"a":1},{"a":"#, [], "the input ends inside element 1 of the array: the file is incomplete (byte 14)"),
        (#"[{"a":1},"#, [], "the input ends inside the JSON array, after element 0: the file is incomplete (byte 9)"),
        ("[", [], "the input ends inside the JSON array, before its first element: the file is incomplete (byte 1)"),
        (#"{"a":1"#, [], "the input ends inside the JSON object: the file is incomplete (byte 6)"),
        ("[1,2]", [], "element 0 of the array is a number, not an object; each element must be a JSON object (byte 1)"),
        (#"[{},"x"]"#, [], "element 1 of the array is a string, not an object; each element must be a JSON object (byte 4)"),
        (#"[{"a":1}] x"#, [], "unexpected text after the JSON array (byte 10)"),
        (#"{"a":1} {"a":2}"#, [], "unexpected text after the JSON document (byte 8)"),
        (#"[{"a":1};{"a":2}]"#, [], "expected ',' or ']' after element 0 of the array, found ';' (byte 8)"),
        (#"[{"a":1},]"#, [], "expected an element after ',' in the array (byte 9)"),
        ("x", [], "expected a JSON array or object at the start of the document, found 'x' (byte 0)"),
        ("[{\"a\":\"x\ny\"}]", [], "a line break inside a JSON string (write it as \\n) (byte 8)"),
        (#"{"data":{"other":[]}}"#, ["data", "items"], "records path 'data.items': 'data' has no key 'items' (byte 19)"),
        (#"{"x":1}"#, ["items"], "records path 'items': the top-level object has no key 'items' (byte 6)"),
        (#"{"items":{"a":1}}"#, ["items"], "records path 'items': 'items' is an object, not an array (byte 9)"),
        (#"{"data":3}"#, ["data", "items"], "records path 'data.items': 'data' is a number, not an object (byte 8)"),
        (#"[{"a":1}]"#, ["items"], "records path 'items': the document is an array, not an object with the key 'items' (byte 0)"),
    ] as [(String, [String], String)])
    func errorsNameTheByteOffset(_ text: String, _ path: [String], _ message: String) throws {
        let error = try #require(scanWhole(text, .json(recordsPath: path)).error)
        #expect(error.message == message)
    }

    @Test func errorsInsideAnElementNameItsIndex() throws {
        let error = try #require(scanWhole("[{\"a\":1},\n{\"a\":tru}]", .json).error)
        #expect(error.line == 2)
        #expect(error.message.hasPrefix("invalid JSON value; expected true"))
        #expect(error.message.hasSuffix("(byte 15, element 1)"))
    }

    /// Offsets keep counting across batches: the error's byte is the input's, not the batch's.
    @Test func offsetsCountAcrossBatches() throws {
        let text = "[" + String(repeating: #"{"a":1},"#, count: 10) + "1]"
        let (outcome, batches) = scanInBatches(text, .json, maxRows: 3)
        #expect(batches == 3)  // the fourth batch fails
        let error = try #require(outcome.error)
        #expect(error.message == "element 10 of the array is a number, not an object; each element must be a JSON object (byte 81)")
    }

    @Test func bigArrayInSmallBatches() throws {
        let text = "[" + (0..<1000).map { #"{"id":\#($0),"s":"a,]}\"b"}"# }.joined(separator: ",\n") + "]"
        let (outcome, _) = scanInBatches(text, .json, maxRows: 7)
        let result = try #require(outcome.result)
        #expect(result.rows.count == 1000)
        #expect(result.texts.last == ["999", "a,]}\"b"])
        #expect(result.lines.last == 1000)
    }

    @Test func recordsPathParsing() {
        #expect(JSONDocumentScanner.parsePath("data.items") == ["data", "items"])
        #expect(JSONDocumentScanner.parsePath("items") == ["items"])
        #expect(JSONDocumentScanner.parsePath("data..items") == nil)
        #expect(JSONDocumentScanner.parsePath("") == nil)
    }

    /// Reads the first `split` bytes into one batch, hands what it did not scan to a second batch
    /// as the loader does, and reads the rest there.
    func scanSplit(_ text: String, path: [String], at split: Int) -> ScanOutcome {
        let bytes = Array(text.utf8)
        let columns = SourceColumns()
        var scanner = ScanFormat.json(recordsPath: path).makeScanner()
        var result = ScanResult()
        do throws(InputError) {
            let first = RecordBatch(source: "t.csv", bytes: ByteStorage())
            first.bytes.append(contentsOf: Array(bytes[..<split]))
            let eof = split == bytes.count
            let status = try scanner.scan(into: first, columns: columns, isEOF: eof, maxRows: 1_000_000)
            result.collect(first, columns)
            if eof { return status == .endOfInput ? .scanned(result) : .badStatus("returned \(status)") }
            guard status == .needMore else { return .badStatus("first part returned \(status)") }
            let second = RecordBatch(source: "t.csv", bytes: ByteStorage())
            first.handOverUnscanned(to: second)
            second.bytes.append(contentsOf: Array(bytes[split...]))
            let last = try scanner.scan(into: second, columns: columns, isEOF: true, maxRows: 1_000_000)
            guard last == .endOfInput else { return .badStatus("second part returned \(last)") }
            var rest = ScanResult()
            rest.collect(second, columns)
            result.names = rest.names
            result.rows = result.rows.map { $0 + Array(repeating: ScannedCell(text: nil, kind: .null), count: columns.count - $0.count) }
            result.rows += rest.rows
            result.lines += rest.lines
        } catch {
            return .failed(error)
        }
        return .scanned(result)
    }

    /// The top-level array's object elements, one per line (line breaks between tokens become spaces).
    static func asJSONLines(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var out = ""
        var depth = 0
        var inString = false
        var escaped = false
        var element = ""
        for s in scalars {
            if inString {
                element.unicodeScalars.append(s)
                if escaped { escaped = false } else if s == "\\" { escaped = true } else if s == "\"" { inString = false }
                continue
            }
            switch s {
            case "\"":
                inString = true
                if depth >= 1 { element.unicodeScalars.append(s) }
            case "{", "[":
                if depth >= 1 { element.unicodeScalars.append(s) }
                depth += 1
            case "}", "]":
                depth -= 1
                if depth >= 1 { element.unicodeScalars.append(s) }
                if depth == 1 && s == "}" {
                    out += element + "\n"
                    element = ""
                }
            case "\n", "\r":
                if depth >= 2 { element.unicodeScalars.append(" ") }
            case ",":
                if depth >= 2 { element.unicodeScalars.append(s) }
            default:
                if depth >= 2 { element.unicodeScalars.append(s) }
            }
        }
        return out
    }
}
