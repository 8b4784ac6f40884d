/// The walk through the top-level object to the records array (`--records-path data.items`):
/// a token at a time, so keys and values around the array may span reads like elements do.
/// Members off the path are walked whole and checked, then skipped; after the array, the rest
/// of the enclosing objects is skipped the same way.
extension JSONDocumentScanner {
    /// Before a member of a records-path object: its `}`, or (after the first) its `,`.
    mutating func member(_ p: UnsafeMutablePointer<UInt8>, _ pos: inout Int, first: Bool)
        throws(InputError)
    {
        let c = p[pos]
        if c == 125 {  // }
            guard arrayDone else {
                let path = recordsPath.prefix(depth).map { String(decoding: $0, as: UTF8.self) }
                let owner = depth == 1 ? "the top-level object" : "'\(path.dropLast().joined(separator: "."))'"
                throw fail(
                    "records path '\(pathText)': \(owner) has no key '\(path.last ?? "")'", at: pos)
            }
            pos += 1
            depth -= 1
            phase = depth == 0 ? .trailing : .member(first: false)
            return
        }
        if !first {
            guard c == 44 else {
                throw fail("expected ',' or '}' in the JSON object, found \(Self.describe(c))", at: pos)
            }
            pos += 1
        }
        phase = .key
    }

    /// The key at `pos`, once its closing quote is in the buffer (false before: nothing moves).
    mutating func key(_ p: UnsafeMutablePointer<UInt8>, _ pos: inout Int, _ end: Int)
        throws(InputError) -> Bool
    {
        guard p[pos] == 34 else {
            throw fail("expected a quoted key in the JSON object, found \(Self.describe(p[pos]))", at: pos)
        }
        var i = pos + 1
        var escaped = false
        while i < end {
            let c = p[i]
            if c == 34 { break }
            if c == 10 { throw fail("a line break inside a JSON string (write it as \\n)", at: i) }
            if c == 92 {
                escaped = true
                i += 1
            }
            i += 1
        }
        guard i < end else { return false }
        let raw = UnsafeBufferPointer(start: p + pos + 1, count: i - pos - 1)
        if arrayDone {
            keyMatches = false
        } else {
            let key = escaped ? Self.unescaped(raw) : Array(raw)
            keyMatches = key == recordsPath[depth - 1]
        }
        pos = i + 1
        phase = .colon
        return true
    }

    /// The value of a member: the next object of the path, the records array, or a value to skip.
    mutating func memberValue(_ c: UInt8, _ pos: inout Int) throws(InputError) {
        guard keyMatches else {
            phase = .skippedValue
            return
        }
        let isLast = depth == recordsPath.count
        let here = recordsPath.prefix(depth).map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".")
        if isLast {
            guard c == 91 else {
                throw fail(
                    "records path '\(pathText)': '\(here)' is \(Self.kind(of: c)), not an array", at: pos)
            }
            phase = .firstElement
        } else {
            guard c == 123 else {
                throw fail(
                    "records path '\(pathText)': '\(here)' is \(Self.kind(of: c)), not an object", at: pos)
            }
            depth += 1
            phase = .member(first: true)
        }
        pos += 1
    }

    /// A key's text with its JSON escapes undone (keys rarely have any).
    static func unescaped(_ raw: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var k = 0
        var scratch: (UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0)
        while k < raw.count {
            let c = raw[k]
            guard c == 92, k + 1 < raw.count else {
                out.append(c)
                k += 1
                continue
            }
            let e = raw[k + 1]
            k += 2
            switch e {
            case 98: out.append(8)
            case 102: out.append(12)
            case 110: out.append(10)
            case 114: out.append(13)
            case 116: out.append(9)
            case 117:
                guard k + 4 <= raw.count, let scalar = hex4(raw, k) else {
                    out.append(e)
                    continue
                }
                k += 4
                var value = scalar
                if value >= 0xD800 && value < 0xDC00, k + 6 <= raw.count, raw[k] == 92, raw[k + 1] == 117,
                    let low = hex4(raw, k + 2), low >= 0xDC00 && low < 0xE000
                {
                    value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                    k += 6
                } else if value >= 0xD800 && value < 0xE000 {
                    value = 0xFFFD
                }
                let n = withUnsafeMutableBytes(of: &scratch) { buffer in
                    JSONLinesScanner.writeUTF8(value, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
                withUnsafeBytes(of: &scratch) { out.append(contentsOf: $0.prefix(n)) }
            default: out.append(e)
            }
        }
        return out
    }

    private static func hex4(_ raw: UnsafeBufferPointer<UInt8>, _ k: Int) -> UInt32? {
        var value: UInt32 = 0
        for j in k..<(k + 4) {
            guard let d = ValueSyntax.hexValue(raw[j]) else { return nil }
            value = value << 4 | UInt32(d)
        }
        return value
    }
}
