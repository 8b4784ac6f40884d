import Testing

@testable import PGSinkCore

@Suite("Event JSON")
struct EventJSONTests {
    @Test func keepsKeyOrderAndWritesCompactText() throws {
        let value = try JSONValue.parse(#" { "b" : 1 , "a" : [ true , false , null ] , "c" : "x" } "#)
        guard case .object(let members) = value else {
            Issue.record("not an object: \(value)")
            return
        }
        #expect(members.map(\.key) == ["b", "a", "c"])
        #expect(value.jsonText == #"{"b":1,"a":[true,false,null],"c":"x"}"#)
        #expect(value["a"] == .array([.bool(true), .bool(false), .null]))
        #expect(value["missing"] == nil)
        #expect(JSONValue.string("x")["a"] == nil)
    }

    @Test func equalityRespectsOrder() throws {
        #expect(try JSONValue.parse(#"{"a":1,"b":2}"#) == JSONValue.object([("a", .number("1")), ("b", .number("2"))]))
        #expect(try JSONValue.parse(#"{"a":1,"b":2}"#) != JSONValue.parse(#"{"b":2,"a":1}"#))
    }

    @Test func repeatedKeysAnswerTheLast() throws {
        let value = try JSONValue.parse(#"{"a":1,"a":2}"#)
        #expect(value["a"] == .number("2"))
    }

    @Test func escapes() throws {
        let value = try JSONValue.parse(#""\"\\\/\b\f\n\r\t\u00e9\u0041""#)
        #expect(value == .string("\"\\/\u{08}\u{0C}\n\r\té" + "A"))
        #expect(value.jsonText == #""\"\\/\b\f\n\r\téA""#)
        #expect(JSONValue.string("\u{01}").jsonText == #""\u0001""#)
    }

    @Test func surrogatePairsAndLoneSurrogates() throws {
        #expect(try JSONValue.parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(try JSONValue.parse(#""\uD83D\uDE00!""#) == .string("😀!"))
        #expect(try JSONValue.parse(#""\ud800x""#) == .string("\u{FFFD}x"))
        #expect(try JSONValue.parse(#""\udc00""#) == .string("\u{FFFD}"))
        #expect(try JSONValue.parse(#""\ud800\u0041""#) == .string("\u{FFFD}A"))
    }

    @Test func utf8TextRoundTrips() throws {
        let value = try JSONValue.parse(#"{"名前":"日本 é 😀"}"#)
        #expect(value["名前"] == .string("日本 é 😀"))
        #expect(value.jsonText == #"{"名前":"日本 é 😀"}"#)
    }

    @Test(arguments: [
        "12345678901234567890123", "-0", "0", "-0.5e-10", "1E+400", "3.0", "1.5e3", "-12",
    ])
    func numbersKeepTheirText(_ literal: String) throws {
        #expect(try JSONValue.parse(literal) == .number(literal))
        #expect(try JSONValue.parse("[\(literal)]").jsonText == "[\(literal)]")
    }

    @Test func deepNestingUpToTheLimit() throws {
        let depth = JSONValue.maxDepth
        let ok = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(try JSONValue.parse(ok).jsonText == ok)
        let deep = String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1)
        #expect(throws: JSONParseError(offset: depth, reason: "objects and arrays are nested deeper than 512 levels")) {
            try JSONValue.parse(deep)
        }
        let deepObject = String(repeating: #"{"a":"#, count: depth + 1) + "1" + String(repeating: "}", count: depth + 1)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deepObject) }
    }

    @Test(arguments: [
        (#"{"a":1,}"#, 7, "expected a string key in an object but found '}'"),
        ("[1,2", 4, "the input ended inside an array"),
        ("01", 0, "a number may not have a leading zero"),
        (#""abc"#, 4, "the string starting at byte 0 is not closed"),
        ("tru", 0, "expected 'true' but found end of input"),
        (#"{"a" 1}"#, 5, "expected ':' after an object key but found '1'"),
        ("1 2", 2, "unexpected '2' after the end of the document"),
        ("", 0, "expected a value but the input ended"),
        ("[1.]", 3, "expected a digit after '.' but found ']'"),
        ("-", 1, "expected a digit after '-' but found end of input"),
        ("1e+", 3, "expected a digit in the exponent but found end of input"),
        (#"["\x"]"#, 2, "unknown escape '\\x' in a string"),
        (#""\u12G4""#, 1, "a \\u escape needs four hex digits"),
        ("[1,]", 3, "expected a value but found ']'"),
        ("{'a':1}", 1, "expected a string key in an object but found '''"),
        ("[1 2]", 3, "expected ',' or ']' in an array but found '2'"),
        ("nul", 0, "expected 'null' but found end of input"),
        ("/* c */ 1", 0, "expected a value but found '/'"),
    ])
    func invalidInputSaysWhere(_ text: String, _ offset: Int, _ reason: String) {
        #expect(throws: JSONParseError(offset: offset, reason: reason)) { try JSONValue.parse(text) }
    }

    @Test func controlCharactersMustBeEscaped() {
        #expect(throws: JSONParseError(offset: 2, reason: "control character 0xA must be escaped in a string")) {
            try JSONValue.parse("\"a\nb\"")
        }
    }

    @Test func invalidUTF8IsRefused() {
        let bytes: [UInt8] = [0x22, 0x61, 0xC3, 0x28, 0x22]
        #expect(throws: JSONParseError(offset: 2, reason: "invalid UTF-8 in a string")) {
            try bytes.withUnsafeBytes { try JSONValue.parse($0) }
        }
    }

    @Test func parsesBytes() throws {
        let bytes = Array(#"{"batch":[{"type":"track"}]}"#.utf8)
        let value = try bytes.withUnsafeBytes { try JSONValue.parse($0) }
        #expect(value["batch"] == .array([.object([("type", .string("track"))])]))
    }

    @Test func errorDescriptionNamesTheByte() {
        #expect(JSONParseError(offset: 7, reason: "x").description == "invalid JSON at byte 7: x")
    }
}
