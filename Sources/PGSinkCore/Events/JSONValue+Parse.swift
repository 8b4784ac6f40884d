/// Why a JSON text could not be read, and the byte offset (0-based) where reading stopped.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "invalid JSON at byte \(offset): \(reason)" }
}

extension JSONValue {
    /// Objects and arrays nested deeper than this are refused, so that a hostile body cannot
    /// exhaust the stack of the code that walks the value.
    public static let maxDepth = 512

    /// Parses one JSON text (RFC 8259, strictly: no comments, no trailing commas, no leading zeros,
    /// UTF-8 only). Errors say at which byte and why. A `\u` escape of a lone surrogate becomes U+FFFD.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        var parser = JSONParser(bytes: bytes.bindMemory(to: UInt8.self))
        return try parser.document()
    }

    /// Parses one JSON text from a string; see `parse(_:)` for bytes.
    public static func parse(_ text: String) throws -> JSONValue {
        var text = text
        return try text.withUTF8 { try parse(UnsafeRawBufferPointer($0)) }
    }
}

/// A recursive-descent reader over UTF-8 bytes.
struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    mutating func document() throws -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        if index < bytes.count { throw fail("unexpected \(describe(index)) after the end of the document") }
        return value
    }

    private func fail(_ reason: String, at offset: Int? = nil) -> JSONParseError {
        JSONParseError(offset: offset ?? index, reason: reason)
    }

    /// A short human name for the byte at `offset`.
    private func describe(_ offset: Int) -> String {
        guard offset < bytes.count else { return "end of input" }
        let byte = bytes[offset]
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16, uppercase: true)
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func parseValue() throws -> JSONValue {
        guard index < bytes.count else { throw fail("expected a value but the input ended") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectWord("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectWord("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectWord("null")
            return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw fail("expected a value but found \(describe(index))")
        }
    }

    private mutating func expectWord(_ word: String) throws {
        let start = index
        for expected in word.utf8 {
            guard index < bytes.count, bytes[index] == expected else {
                throw fail("expected '\(word)' but found \(describe(index))", at: start)
            }
            index += 1
        }
    }

    private mutating func enter() throws {
        depth += 1
        if depth > JSONValue.maxDepth {
            throw fail("objects and arrays are nested deeper than \(JSONValue.maxDepth) levels")
        }
    }

    private mutating func parseObject() throws -> JSONValue {
        try enter()
        index += 1
        var members: [(key: String, value: JSONValue)] = []
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else {
                throw fail("expected a string key in an object but found \(describe(index))")
            }
            let key = try parseString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else {
                throw fail("expected ':' after an object key but found \(describe(index))")
            }
            index += 1
            skipWhitespace()
            members.append((key: key, value: try parseValue()))
            skipWhitespace()
            guard index < bytes.count else { throw fail("the input ended inside an object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "}") else {
                throw fail("expected ',' or '}' in an object but found \(describe(index))")
            }
            index += 1
            depth -= 1
            return .object(members)
        }
    }

    private mutating func parseArray() throws -> JSONValue {
        try enter()
        index += 1
        var items: [JSONValue] = []
        skipWhitespace()
        if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(items)
        }
        while true {
            skipWhitespace()
            items.append(try parseValue())
            skipWhitespace()
            guard index < bytes.count else { throw fail("the input ended inside an array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                continue
            }
            guard bytes[index] == UInt8(ascii: "]") else {
                throw fail("expected ',' or ']' in an array but found \(describe(index))")
            }
            index += 1
            depth -= 1
            return .array(items)
        }
    }

    private func isDigit(_ offset: Int) -> Bool {
        offset < bytes.count && bytes[offset] >= UInt8(ascii: "0") && bytes[offset] <= UInt8(ascii: "9")
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, returned as its text.
    private mutating func parseNumber() throws -> String {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard isDigit(index) else { throw fail("expected a digit after '-' but found \(describe(index))") }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            if isDigit(index) { throw fail("a number may not have a leading zero", at: start) }
        } else {
            while isDigit(index) { index += 1 }
        }
        if index < bytes.count && bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard isDigit(index) else { throw fail("expected a digit after '.' but found \(describe(index))") }
            while isDigit(index) { index += 1 }
        }
        if index < bytes.count && (bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E")) {
            index += 1
            if index < bytes.count && (bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-")) {
                index += 1
            }
            guard isDigit(index) else { throw fail("expected a digit in the exponent but found \(describe(index))") }
            while isDigit(index) { index += 1 }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
    }

    /// A string literal starting at the opening quote; the index ends after the closing quote.
    private mutating func parseString() throws -> String {
        let open = index
        index += 1
        var out = ""
        var runStart = index
        while true {
            guard index < bytes.count else { throw fail("the string starting at byte \(open) is not closed") }
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                try appendRun(from: runStart, to: index, into: &out)
                index += 1
                return out
            }
            if byte == UInt8(ascii: "\\") {
                try appendRun(from: runStart, to: index, into: &out)
                try parseEscape(into: &out)
                runStart = index
                continue
            }
            if byte < 0x20 {
                throw fail(
                    "control character 0x\(String(byte, radix: 16, uppercase: true)) must be escaped in a string")
            }
            index += 1
        }
    }

    /// Appends raw bytes of a string, refusing invalid UTF-8.
    private func appendRun(from start: Int, to end: Int, into out: inout String) throws {
        guard start < end else { return }
        let run = UnsafeBufferPointer(rebasing: bytes[start..<end])
        if run.allSatisfy({ $0 < 0x80 }) {
            out += String(decoding: run, as: UTF8.self)
            return
        }
        var decoder = UTF8()
        var iterator = run.makeIterator()
        var offset = start
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                out.unicodeScalars.append(scalar)
                offset += UTF8.width(scalar)
            case .emptyInput: break loop
            case .error: throw fail("invalid UTF-8 in a string", at: offset)
            }
        }
    }

    private mutating func parseEscape(into out: inout String) throws {
        let start = index
        index += 1
        guard index < bytes.count else { throw fail("the input ended inside an escape", at: start) }
        let byte = bytes[index]
        index += 1
        switch byte {
        case UInt8(ascii: "\""): out += "\""
        case UInt8(ascii: "\\"): out += "\\"
        case UInt8(ascii: "/"): out += "/"
        case UInt8(ascii: "b"): out += "\u{08}"
        case UInt8(ascii: "f"): out += "\u{0C}"
        case UInt8(ascii: "n"): out += "\n"
        case UInt8(ascii: "r"): out += "\r"
        case UInt8(ascii: "t"): out += "\t"
        case UInt8(ascii: "u"): out.unicodeScalars.append(try parseUnicodeEscape(start: start))
        default: throw fail("unknown escape '\\\(Character(Unicode.Scalar(byte)))' in a string", at: start)
        }
    }

    /// After `\u`: four hex digits, and for a high surrogate the `\uDC00`… that completes it.
    private mutating func parseUnicodeEscape(start: Int) throws -> Unicode.Scalar {
        let unit = try hex4(start: start)
        switch unit {
        case 0xD800...0xDBFF:
            if index + 1 < bytes.count && bytes[index] == UInt8(ascii: "\\") && bytes[index + 1] == UInt8(ascii: "u") {
                let save = index
                index += 2
                let low = try hex4(start: save)
                if (0xDC00...0xDFFF).contains(low) {
                    let value = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    return Unicode.Scalar(value) ?? "\u{FFFD}"
                }
                index = save  // not a pair: the next escape stands on its own
            }
            return "\u{FFFD}"
        case 0xDC00...0xDFFF:
            return "\u{FFFD}"
        default:
            return Unicode.Scalar(unit) ?? "\u{FFFD}"
        }
    }

    private mutating func hex4(start: Int) throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard index < bytes.count else { throw fail("the input ended inside a \\u escape", at: start) }
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw fail("a \\u escape needs four hex digits", at: start)
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }
}
