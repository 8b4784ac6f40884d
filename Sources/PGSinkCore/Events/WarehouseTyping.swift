/// RudderStack's type inference for one value of an event.
enum WarehouseTyping {
    /// The typed value of a leaf: integral numbers `int` (`3.0` too, like JavaScript's
    /// `Number.isInteger`), other numbers `float`, booleans `boolean`, strings that read as a
    /// timestamp `datetime` (rewritten in UTC), arrays and other strings `string`.
    /// Nil for what RudderStack leaves out: null, `""`, `[]`, `[""]` and objects.
    static func value(of json: JSONValue) -> WarehouseValue? {
        if isBlank(json) { return nil }
        switch json {
        case .null, .object: return nil
        case .bool(let b): return .bool(b)
        case .number(let literal): return number(literal)
        case .string(let s): return EventTime.datetime(s).map(WarehouseValue.datetime) ?? .string(s)
        case .array: return .string(json.jsonText)
        }
    }

    /// RudderStack's `IsEmptyString`: null, `""`, `[]`, and a one-item array whose item is `""` or `[]`.
    static func isBlank(_ json: JSONValue) -> Bool {
        switch json {
        case .null: return true
        case .string(let s): return s.isEmpty
        case .array(let items):
            if items.isEmpty { return true }
            if items.count == 1, case .null = items[0] { return false }
            return items.count == 1 && isBlank(items[0])
        default: return false
        }
    }

    /// RudderStack's text of a value (`ToString`), used where it tests a value for emptiness.
    static func text(_ json: JSONValue?) -> String {
        switch json {
        case nil, .null?: return ""
        case .string(let s)?: return s
        case .number(let n)?: return n
        case .bool(let b)?: return b ? "true" : "false"
        case let other?: return other.jsonText
        }
    }

    /// `int` with plain digits when the literal's value is a whole number, else `float` with the literal.
    static func number(_ literal: String) -> WarehouseValue {
        integerDigits(literal).map(WarehouseValue.int) ?? .float(literal)
    }

    /// The whole number a JSON number literal denotes, as plain decimal digits, or nil when it has a
    /// fraction (or is too large for a double, where JavaScript would not call it an integer either).
    static func integerDigits(_ literal: String) -> String? {
        var bytes = Substring(literal).utf8[...]
        var negative = false
        if bytes.first == UInt8(ascii: "-") {
            negative = true
            bytes = bytes.dropFirst()
        }
        var digits: [UInt8] = []
        var fractionCount = 0
        var inFraction = false
        var exponent = 0
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: ".") {
                inFraction = true
            } else if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                guard let e = parseExponent(&iterator) else { return nil }
                exponent = e
                break
            } else if byte >= 48 && byte <= 57 {
                digits.append(byte)
                if inFraction { fractionCount += 1 }
            } else {
                return nil
            }
        }
        let scale = exponent - fractionCount
        while digits.first == UInt8(ascii: "0") { digits.removeFirst() }
        if digits.isEmpty { return "0" }
        if scale >= 0 {
            guard digits.count + scale <= 309 else { return nil }
            digits += Array(repeating: UInt8(ascii: "0"), count: scale)
        } else {
            let drop = -scale
            guard drop < digits.count, digits.suffix(drop).allSatisfy({ $0 == UInt8(ascii: "0") }) else { return nil }
            digits.removeLast(drop)
            guard digits.count <= 309 else { return nil }
        }
        return (negative ? "-" : "") + String(decoding: digits, as: UTF8.self)
    }

    /// The exponent after `e`, saturated far beyond any useful value.
    private static func parseExponent(_ iterator: inout Substring.UTF8View.Iterator) -> Int? {
        var sign = 1
        var value = 0
        var any = false
        while let byte = iterator.next() {
            if !any && byte == UInt8(ascii: "-") {
                sign = -1
            } else if !any && byte == UInt8(ascii: "+") {
                continue
            } else if byte >= 48 && byte <= 57 {
                value = min(value * 10 + Int(byte - 48), 1_000_000)
                any = true
            } else {
                return nil
            }
        }
        return any ? sign * value : nil
    }
}
