/// A parsed JSON document with object keys in their order.
///
/// Numbers keep the text of their literal, so big integers and long decimals survive exactly.
/// An object keeps every key in the order it came; where a key repeats, `subscript(key:)` answers
/// the last one, as most JSON readers (and RudderStack's Go and JavaScript code) do.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The literal's text, e.g. `12345678901234567890` or `1.5e3`.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    /// The value of `key` in an object (the last one where the key repeats); nil for other values.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    /// The value at a path of object keys, e.g. `["context", "ip"]`.
    public subscript(path path: [String]) -> JSONValue? {
        var current: JSONValue? = self
        for key in path { current = current?[key] }
        return current
    }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: return false
        }
    }

    /// The object's members, or nil for other values.
    var members: [(key: String, value: JSONValue)]? {
        if case .object(let members) = self { return members }
        return nil
    }

    /// The string's text, or nil for other values.
    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// A copy of this object with `key` set to `value`: replaced where the key is (every
    /// occurrence but the first removed), appended where it is not. Other values are returned as they are.
    func setting(_ key: String, to value: JSONValue) -> JSONValue {
        guard var members = members else { return self }
        if let first = members.firstIndex(where: { $0.key == key }) {
            members[first].value = value
            var index = members.count - 1
            while index > first {
                if members[index].key == key { members.remove(at: index) }
                index -= 1
            }
        } else {
            members.append((key: key, value: value))
        }
        return .object(members)
    }
}

extension JSONValue {
    /// Compact JSON text: no spaces, keys in their order, numbers as their literals.
    public var jsonText: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n
        case .string(let s): Self.writeString(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, member) in members.enumerated() {
                if i > 0 { out += "," }
                Self.writeString(member.key, to: &out)
                out += ":"
                member.value.write(to: &out)
            }
            out += "}"
        }
    }

    /// Writes `s` as a JSON string literal, escaping only what JSON requires.
    static func writeString(_ s: String, to out: inout String) {
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            out += "\""
            out += s
            out += "\""
            return
        }
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
