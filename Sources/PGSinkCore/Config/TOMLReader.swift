/// Reads the TOML that secrets and config files use (dlt's `secrets.toml`): tables and dotted
/// headers, dotted keys, basic and literal strings, integers, floats, booleans, one-line arrays
/// and inline tables. Anything else is an error naming the line, never a silent guess.
public struct TOMLReader {
    public struct Failure: Error, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Written out: in a string literal "\r\n" would be one Character.
    private static let wordEnds: Set<Character> = [" ", "\t", "\r", "\n", "\r\n", ",", "]", "}", "#"]
    private let chars: [Character]
    private var i = 0
    private var line = 1

    public static func parse(_ text: String) throws -> [String: Any] {
        var reader = TOMLReader(chars: Array(text))
        return try reader.document()
    }

    private init(chars: [Character]) { self.chars = chars }

    private mutating func document() throws -> [String: Any] {
        var root: [String: Any] = [:]
        var current: [String] = []
        while true {
            skipBlankAndComments()
            guard i < chars.count else { return root }
            if chars[i] == "[" {
                i += 1
                guard i >= chars.count || chars[i] != "[" else { throw fail("arrays of tables ([[…]]) are not supported here") }
                current = try keyPath(until: "]")
                i += 1
                try set(&root, path: current, value: [String: Any](), replacing: false)
            } else {
                let path = try keyPath(until: "=")
                i += 1
                skipSpaces()
                let value = try self.value()
                try set(&root, path: current + path, value: value, replacing: true)
            }
            try endOfLine()
        }
    }

    private mutating func keyPath(until terminator: Character) throws -> [String] {
        var parts: [String] = []
        while true {
            skipSpaces()
            guard i < chars.count else { throw fail("expected \(terminator)") }
            if chars[i] == "\"" || chars[i] == "'" {
                guard case let string as String = try value() else { throw fail("bad key") }
                parts.append(string)
            } else {
                var key = ""
                while i < chars.count, chars[i].isLetter || chars[i].isNumber || chars[i] == "_" || chars[i] == "-" {
                    key.append(chars[i])
                    i += 1
                }
                guard !key.isEmpty else { throw fail("expected a key") }
                parts.append(key)
            }
            skipSpaces()
            guard i < chars.count else { throw fail("expected \(terminator)") }
            if chars[i] == "." {
                i += 1
                continue
            }
            guard chars[i] == terminator else { throw fail("expected \(terminator) after the key \(parts.joined(separator: "."))") }
            return parts
        }
    }

    private mutating func value() throws -> Any {
        guard i < chars.count else { throw fail("expected a value") }
        switch chars[i] {
        case "\"":
            if i + 2 < chars.count && chars[i + 1] == "\"" && chars[i + 2] == "\"" { throw fail("multi-line strings are not supported here") }
            return try basicString()
        case "'":
            i += 1
            var result = ""
            while i < chars.count, chars[i] != "'" {
                guard chars[i] != "\n" else { throw fail("unterminated string") }
                result.append(chars[i])
                i += 1
            }
            guard i < chars.count else { throw fail("unterminated string") }
            i += 1
            return result
        case "[":
            i += 1
            var items: [Any] = []
            while true {
                skipBlankAndComments()
                guard i < chars.count else { throw fail("unterminated array") }
                if chars[i] == "]" {
                    i += 1
                    return items
                }
                items.append(try value())
                skipBlankAndComments()
                if i < chars.count, chars[i] == "," { i += 1 }
            }
        case "{":
            i += 1
            var table: [String: Any] = [:]
            while true {
                skipSpaces()
                guard i < chars.count else { throw fail("unterminated inline table") }
                if chars[i] == "}" {
                    i += 1
                    return table
                }
                let path = try keyPath(until: "=")
                i += 1
                skipSpaces()
                try set(&table, path: path, value: try value(), replacing: false)
                skipSpaces()
                if i < chars.count, chars[i] == "," { i += 1 }
            }
        default:
            var word = ""
            while i < chars.count, !Self.wordEnds.contains(chars[i]) {
                word.append(chars[i])
                i += 1
            }
            if word == "true" { return true }
            if word == "false" { return false }
            let digits = String(word.filter { $0 != "_" })
            if let int = Int(digits) { return int }
            if let double = Double(digits) { return double }
            throw fail("\"\(word)\" is not a TOML value (strings need quotes)")
        }
    }

    private mutating func basicString() throws -> String {
        i += 1
        var result = ""
        while i < chars.count, chars[i] != "\"" {
            guard chars[i] != "\n" else { throw fail("unterminated string") }
            if chars[i] == "\\" {
                i += 1
                guard i < chars.count else { throw fail("unterminated string") }
                switch chars[i] {
                case "n": result.append("\n")
                case "t": result.append("\t")
                case "r": result.append("\r")
                case "\"": result.append("\"")
                case "\\": result.append("\\")
                case "u", "U":
                    let count = chars[i] == "u" ? 4 : 8
                    let hex = String(chars[(i + 1)..<min(i + 1 + count, chars.count)])
                    guard hex.count == count, let code = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(code) else {
                        throw fail("bad \\u escape")
                    }
                    result.append(Character(scalar))
                    i += count
                default: throw fail("unknown escape \\\(chars[i])")
                }
            } else {
                result.append(chars[i])
            }
            i += 1
        }
        guard i < chars.count else { throw fail("unterminated string") }
        i += 1
        return result
    }

    private func set(_ table: inout [String: Any], path: [String], value: Any, replacing: Bool) throws {
        guard let first = path.first else { return }
        if path.count == 1 {
            if let existing = table[first] {
                if existing is [String: Any] && value is [String: Any] && !replacing { return }
                throw fail("\(first) is defined twice")
            }
            table[first] = value
            return
        }
        var child = table[first] as? [String: Any] ?? [:]
        if table[first] != nil && !(table[first] is [String: Any]) { throw fail("\(first) is not a table") }
        try set(&child, path: Array(path.dropFirst()), value: value, replacing: replacing)
        table[first] = child
    }

    private mutating func skipSpaces() {
        while i < chars.count, chars[i] == " " || chars[i] == "\t" { i += 1 }
    }

    private mutating func skipBlankAndComments() {
        while i < chars.count {
            if chars[i] == "#" {
                while i < chars.count, chars[i] != "\n" { i += 1 }
            } else if chars[i].isWhitespace {
                if chars[i] == "\n" || chars[i] == "\r\n" { line += 1 }
                i += 1
            } else {
                return
            }
        }
    }

    private mutating func endOfLine() throws {
        skipSpaces()
        if i < chars.count, chars[i] == "#" {
            while i < chars.count, chars[i] != "\n" { i += 1 }
        }
        guard i >= chars.count || chars[i] == "\n" || chars[i] == "\r\n" || chars[i] == "\r" else {
            throw fail("unexpected \"\(chars[i])\" after the value")
        }
    }

    private func fail(_ message: String) -> Failure { Failure(line: line, message: message) }
}
