/// Finds where one JSON value ends, across reads: the walk resumes where the bytes ran out, so a
/// value split over many reads is walked once. It follows strings (escaped quotes, brackets and
/// commas inside them) and counts brackets; it leaves checking the value's grammar to the
/// scanner that reads it once it is whole.
///
/// Line breaks outside strings become spaces as they are passed (counted in `newlines`), so the
/// value can be handed to the JSON Lines scanner, which reads one line at a time.
struct JSONValueWalk {
    /// Bytes of the value walked so far, from its first byte.
    private(set) var length = 0
    /// Line breaks passed so far.
    private(set) var newlines = 0
    private var depth = 0
    private var inString = false
    private var escaped = false
    /// A number or word, not a string, array or object.
    private var isScalar = false

    enum Problem: Error {
        /// A raw line break inside a string, at this many bytes into the value.
        case lineBreakInString(at: Int)
    }

    /// Walks on from `start + length` up to `end`. True once the value is whole (`length` is then
    /// its size); false when the bytes end first (at the end of the input a number or word ends
    /// there too). The state lives in locals while the bytes are walked: this is the one pass the
    /// JSON Lines path does not make.
    mutating func advance(_ p: UnsafeMutablePointer<UInt8>, start: Int, end: Int, isEOF: Bool) throws(Problem) -> Bool {
        var i = start + length
        if length == 0 { isScalar = !isContainerOrString(p[i]) }
        if isScalar {
            defer { length = i - start }
            return walkScalar(p, &i, end, isEOF: isEOF)
        }
        var depth = self.depth
        var inString = self.inString
        var newlines = self.newlines
        var whole = false
        defer {
            self.depth = depth
            self.inString = inString
            self.newlines = newlines
            length = i - start
        }
        if escaped && i < end {  // the byte after a backslash that ended the last read
            escaped = false
            i += 1
        }
        let kinds = Self.kinds
        walking: while i < end {
            if inString {
                Self.skipStringBytes(p, &i, end)
                guard i < end else { break }
                switch p[i] {
                case 34:
                    inString = false
                    i &+= 1
                    if depth == 0 {
                        whole = true
                        break walking
                    }
                case 92:
                    guard i + 1 < end else {
                        escaped = true
                        i &+= 1
                        break walking
                    }
                    i &+= 2
                default: throw .lineBreakInString(at: i - start)
                }
                continue
            }
            var kind = kinds[Int(p[i])]
            while kind == 0 {
                i &+= 1
                guard i < end else { break walking }
                kind = kinds[Int(p[i])]
            }
            i &+= 1
            switch kind {
            case Self.quote: inString = true
            case Self.open: depth &+= 1
            case Self.close:
                depth &-= 1
                if depth == 0 {
                    whole = true
                    break walking
                }
            default:
                p[i &- 1] = 32
                newlines &+= 1
            }
        }
        return whole
    }

    private static let quote: UInt8 = 1
    private static let open: UInt8 = 2
    private static let close: UInt8 = 3
    private static let lineFeed: UInt8 = 4
    /// What each byte is to the walk outside strings; 0 for the bytes it passes over.
    nonisolated(unsafe) private static let kinds: UnsafePointer<UInt8> = {
        let table = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        table.initialize(repeating: 0, count: 256)
        table[34] = quote
        table[123] = open
        table[91] = open
        table[125] = close
        table[93] = close
        table[10] = lineFeed
        return UnsafePointer(table)
    }()

    private func isContainerOrString(_ c: UInt8) -> Bool { c == 123 || c == 91 || c == 34 }

    /// A number or `true`/`false`/`null`: it runs to the next delimiter or blank.
    private func walkScalar(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int, isEOF: Bool) -> Bool {
        while i < end {
            switch p[i] {
            case 44, 93, 125, 32, 9, 10, 13: return true
            default: i += 1
            }
        }
        return isEOF
    }

    /// Moves `i` to the first `"`, `\\` or line feed at or after it (`JSONLinesScanner.skipPlainString`
    /// eight bytes at a time, then byte by byte).
    @inline(__always)
    static func skipStringBytes(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int) {
        JSONLinesScanner.skipPlainString(p, &i, end, stopsAtNewline: true)
        while i < end {
            let c = p[i]
            if c == 34 || c == 92 || c == 10 { return }
            i += 1
        }
    }
}
