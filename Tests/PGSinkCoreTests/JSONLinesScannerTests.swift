import Testing

@testable import PGSinkCore

@Suite("JSON Lines scanner")
struct JSONLinesScannerTests {
    private func scan(_ text: String) throws -> ScanResult {
        let outcome = scanWhole(text, .jsonl, source: "t.jsonl")
        return try #require(outcome.result, "\(outcome)")
    }

    private func failure(_ text: String) throws -> InputError {
        let outcome = scanWhole(text, .jsonl, source: "t.jsonl")
        return try #require(outcome.error, "\(outcome)")
    }

    @Test func keysInAnyOrderMapToTheSameColumns() throws {
        let r = try scan("{\"a\":1,\"b\":\"x\"}\n{\"b\":\"y\",\"a\":2}\n{\"a\":3,\"b\":\"z\"}\n")
        #expect(r.names == ["a", "b"])
        #expect(r.texts == [["1", "x"], ["2", "y"], ["3", "z"]])
        #expect(r.kinds[0] == [.jsonNumber, .jsonString])
        #expect(r.lines == [1, 2, 3])
    }

    /// Strings are searched eight bytes at a time: a quote or backslash at every position of a
    /// word, in strings shorter and longer than a word, in values and in skipped nested objects.
    @Test func quotesAndEscapesAreFoundAtEveryPositionOfAWord() throws {
        for length in 0...19 {
            for position in 0...length {
                var plain = String(repeating: "a", count: length)
                let at = plain.index(plain.startIndex, offsetBy: position)
                plain.insert(contentsOf: #"\""#, at: at)
                var expected = String(repeating: "a", count: length)
                expected.insert("\"", at: expected.index(expected.startIndex, offsetBy: position))
                let simple = String(repeating: "b", count: length)
                let line = #"{"s":"\#(plain)","t":"\#(simple)","n":{"k":"\#(plain)","m":"\#(simple)"},"\#(simple)":1}"# + "\n"
                let r = try scan(line)
                #expect(r.names == ["s", "t", "n", simple], "length \(length) position \(position)")
                #expect(r.texts.first?[0] == expected, "length \(length) position \(position)")
                #expect(r.texts.first?[1] == simple)
                #expect(r.texts.first?[2] == #"{"k":"\#(plain)","m":"\#(simple)"}"#)
            }
        }
        // An unclosed string is still an error, however long.
        #expect(try failure(#"{"s":"aaaaaaaaaaaaaaaaaaaaaaaa"# + "\n").message.contains("not closed"))
        #expect(try failure(#"{"n":{"s":"aaaaaaaaaaaaaaaaaaaaaaa\"}"# + "\n").message.contains("not"))
    }

    /// A key is first matched in the raw text against the key the previous record had at the
    /// same position: a longer key, an escaped spelling of the same key, or a key holding a quote
    /// must still land in its own (or the same) column.
    @Test func keysMatchedInTheRawTextStillLandInTheirColumns() throws {
        let r = try scan(
            #"{"id":1,"na\"me":"a"}"# + "\n" + #"{"id2":2,"na\"me":"b"}"# + "\n" + #"{"i\u0064":3,"na\"me":"c"}"# + "\n"
                + #"{"id":4,"i":5}"# + "\n")
        #expect(r.names == ["id", "na\"me", "id2", "i"])
        #expect(r.texts == [["1", "a", nil, nil], [nil, "b", "2", nil], ["3", "c", nil, nil], ["4", nil, nil, "5"]])
    }

    @Test func utf8ByteOrderMarkIsSkippedAsInCSV() throws {
        let r = try scan("\u{FEFF}{\"id\":1}\n{\"id\":2}\n")
        #expect(r.names == ["id"])
        #expect(r.texts == [["1"], ["2"]])
        #expect(r.lines == [1, 2])
        // Only at the start: later it is text outside an object.
        #expect(try failure("{\"id\":1}\n\u{FEFF}{\"id\":2}\n").line == 2)
    }

    @Test func newKeysLaterMakeNewColumnsAndEarlierRowsReadNull() throws {
        let r = try scan("{\"a\":1,\"b\":2}\n{\"b\":3}\n{\"c\":4,\"a\":5}\n")
        #expect(r.names == ["a", "b", "c"])
        #expect(r.texts == [["1", "2", nil], [nil, "3", nil], ["5", nil, "4"]])
        // Directly: a row that ended before column c existed reads NULL.
        let (batch, _) = try makeBatch("{\"a\":1}\n{\"a\":2,\"c\":3}\n", .jsonl)
        #expect(batch.cell(row: 0, column: 1).isNull)
        #expect(batch.string(batch.cell(row: 1, column: 1)) == "3")
    }

    /// Scans `text` whole with `nesting`; returns the batch and its columns.
    private func scanNested(_ text: String, _ nesting: Nesting) throws -> (RecordBatch, SourceColumns) {
        let bytes = Array(text.utf8)
        let batch = RecordBatch(source: "n.jsonl", bytes: ByteStorage(capacity: bytes.count + 16))
        batch.bytes.append(contentsOf: bytes)
        let columns = SourceColumns()
        var scanner = JSONLinesScanner(source: "n.jsonl", nesting: nesting)
        #expect(try scanner.scan(into: batch, columns: columns, isEOF: true, maxRows: 100) == .endOfInput)
        batch.finish(columnCount: columns.count)
        return (batch, columns)
    }

    @Test func flattenNamesNestedKeysByTheirPathAndKeepsArraysAndChosenPaths() throws {
        let line = #"{"a":{"b":{"c":1,"d":"x\"y"},"e":[1]},"f":{},"g":{"h":{"i":true}}}"# + "\n"
        let (batch, columns) = try scanNested(line, Nesting(flattenDepth: 1000, keepWhole: ["g__h"]))
        #expect(columns.names == ["a__b__c", "a__b__d", "a__e", "g__h"])
        #expect(batch.string(batch.cell(row: 0, column: 1)) == "x\"y")
        #expect(batch.cell(row: 0, column: 2).kind == .jsonNested)
        #expect(batch.string(batch.cell(row: 0, column: 3)) == #"{"i":true}"#)
        let (shallow, shallowColumns) = try scanNested(line, Nesting(flattenDepth: 1, separator: "_"))
        #expect(shallowColumns.names == ["a_b", "a_e", "g_h"])
        #expect(shallow.cell(row: 0, column: 0).kind == .jsonNested)
    }

    @Test func tablesPutArrayElementsInChildBatchesWithTheirParentAndPosition() throws {
        let layout = NestedLayout()
        let text = #"{"id":1,"pets":[{"n":"a","toys":[{"t":"x"}]},null,{"n":"b"}],"tags":["p","q"]}"# + "\n"
            + #"{"id":2,"pets":[]}"# + "\n"
        let (batch, columns) = try scanNested(text, Nesting(flattenDepth: 1000, layout: layout))
        #expect(columns.names == ["id"])
        #expect(layout.children.map(\.path) == ["pets", "pets__toys", "tags"])
        #expect(layout.children.map(\.parent) == [-1, 0, -1])
        let pets = try #require(batch.children[0])
        #expect(pets.rowCount == 2)
        #expect(pets.parentRows == [0, 0])
        #expect(pets.listIndex == [0, 2])
        #expect(layout.children[0].columns.names == ["n"])
        let toys = try #require(batch.children[1])
        #expect(toys.parent === pets)
        #expect(toys.rootRow(of: 0) == 0)
        let tags = try #require(batch.children[2])
        #expect(layout.children[2].columns.names == ["value"])
        #expect(tags.string(tags.cell(row: 1, column: 0)) == "q")
    }

    @Test func nestedValuesStayRawJSONText() throws {
        let r = try scan("{\"o\":{\"x\":[1,2,{\"y\":null}],\"s\":\"}\"},\"arr\":[ 1 , \"a\" ],\"e\":[],\"eo\":{ }}\n")
        #expect(r.texts == [["{\"x\":[1,2,{\"y\":null}],\"s\":\"}\"}", "[ 1 , \"a\" ]", "[]", "{ }"]])
        #expect(r.kinds == [[.jsonNested, .jsonNested, .jsonNested, .jsonNested]])
    }

    @Test(arguments: [
        (#"a\nb"#, "a\nb"),
        (#"q\"q"#, "q\"q"),
        (#"back\\slash"#, "back\\slash"),
        (#"sl\/ash"#, "sl/ash"),
        (#"\b\f\r\t"#, "\u{8}\u{C}\r\t"),
        (#"caf\u00e9"#, "café"),
        (#"\u00E9\u4e2d"#, "é中"),
        (#"\ud83d\ude00"#, "😀"),
        (#"x\ud83dy"#, "x\u{FFFD}y"),
        (#"\ude00"#, "\u{FFFD}"),
        (#"\ud83d\u0041"#, "\u{FFFD}A"),
        (#"\u0000"#, "\u{0}"),
        ("raw é 日本", "raw é 日本"),
        ("", ""),
    ])
    func stringEscapes(_ json: String, _ expected: String) throws {
        let r = try scan("{\"s\":\"\(json)\",\"after\":1}\n")
        #expect(r.texts == [[expected, "1"]])
        #expect(r.rows[0][0].kind == .jsonString)
    }

    /// A key repeated in one object (here once escaped) keeps both values: the second gets a
    /// column of its own, as a repeated CSV header does, instead of overwriting the first.
    @Test func keysAreUnescapedTooAndARepeatedKeyKeepsBothValues() throws {
        let r = try scan("{\"a\\u0062\":1,\"ab\":2}\n")
        #expect(r.names == ["ab", "ab"])
        #expect(r.texts == [["1", "2"]])
    }

    @Test(arguments: ["12345678901234567890", "0.1", "-1.5e-7", "0", "-0", "1E+2", "3.14159265358979323846264338327950288"])
    func numbersKeepTheirExactDigits(_ number: String) throws {
        let r = try scan("{\"n\":\(number)}\n")
        #expect(r.texts == [[number]])
        #expect(r.kinds == [[.jsonNumber]])
    }

    @Test func booleansAndNull() throws {
        let r = try scan("{\"t\":true,\"f\":false,\"n\":null}\n")
        #expect(r.texts == [["true", "false", nil]])
        #expect(r.kinds == [[.jsonBool, .jsonBool, .null]])
    }

    @Test func blankLinesAreSkippedButCounted() throws {
        let r = try scan("\n  \n{\"a\":1}\r\n\t\r\n{\"a\":2}\n\n")
        #expect(r.texts == [["1"], ["2"]])
        #expect(r.lines == [3, 5])
    }

    @Test func whitespaceAroundTokensAndEmptyObject() throws {
        let r = try scan(" { \"a\" : 1 , \"b\" : \"x\" } \n{}\n")
        #expect(r.texts == [["1", "x"], [nil, nil]])
        #expect(r.lines == [1, 2])
    }

    @Test func lastLineWithoutNewline() throws {
        let r = try scan("{\"a\":1}\n{\"a\":2}")
        #expect(r.texts == [["1"], ["2"]])
    }

    // MARK: errors

    @Test(arguments: [
        ("not an object", "[1]", "expected a JSON object"),
        ("string line", "\"x\"", "expected a JSON object"),
        ("trailing garbage", "{\"a\":1} x", "unexpected text after"),
        ("two objects", "{\"a\":1}{\"b\":2}", "unexpected text after"),
        ("unterminated string", "{\"a\":\"abc}", "not closed"),
        ("unterminated key", "{\"a", "not closed"),
        ("leading zero", "{\"a\":01}", "invalid JSON value"),
        ("dot without digits", "{\"a\":1.}", "digits must follow '.'"),
        ("exponent without digits", "{\"a\":1e}", "exponent"),
        ("bare minus", "{\"a\":-}", "invalid JSON value"),
        ("leading dot", "{\"a\":.5}", "invalid JSON value"),
        ("invalid escape", "{\"a\":\"\\x\"}", "invalid escape"),
        ("short unicode escape", "{\"a\":\"\\u12G4\"}", "four hex digits"),
        ("missing colon", "{\"a\" 1}", "expected ':'"),
        ("unclosed object", "{\"a\":1", "not closed"),
        ("trailing comma", "{\"a\":1,}", "expected a quoted key"),
        ("bad word", "{\"a\":tru}", "expected true"),
        ("unclosed nested", "{\"a\":[1,2}", "nested JSON"),
        ("missing value", "{\"a\":}", "invalid JSON value"),
        ("unquoted key", "{a:1}", "expected a quoted key"),
    ])
    func errorsNameTheLine(_ name: String, _ bad: String, _ message: String) throws {
        let e = try failure("{\"ok\":1}\n\n\(bad)\n{\"ok\":2}\n")
        #expect(e.line == 3)
        #expect(e.source == "t.jsonl")
        #expect(e.message.contains(message), "\(e.message)")
    }

    @Test func deepNestingIsRefused() throws {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        let e = try failure("{\"a\":\(deep)}\n")
        #expect(e.line == 1)
        let ok = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(try scan("{\"a\":\(ok)}\n").texts == [[ok]])
    }

    @Test func batchFullHandsTheRestToTheNextBatch() throws {
        let text = "{\"a\":1}\n\n{\"b\":\"x\\ny\"}\n{\"a\":3,\"c\":[1]}\n{\"c\":null}"
        let whole = try scan(text)
        let (outcome, batches) = scanInBatches(text, .jsonl, maxRows: 1, source: "t.jsonl")
        #expect(outcome == .scanned(whole))
        #expect(batches >= 4)
        #expect(whole.lines == [1, 3, 4, 5])
    }
}
