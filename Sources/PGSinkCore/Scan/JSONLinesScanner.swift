#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON Lines scanner: one object per line, working in place on the batch's bytes.
///
/// Strings are unescaped in place (an escape is never shorter than what it stands for), numbers
/// keep their exact digits, nested objects and arrays stay one cell of JSON text. Blank lines
/// are skipped, and so is a UTF-8 byte order mark at the start; anything that is not one JSON
/// object on a line is an error naming the line.
public struct JSONLinesScanner: RecordScanner {
    public let source: String
    public private(set) var line = 1
    /// The column of the k-th key of the previous line: rows of one file usually repeat their
    /// keys in the same order, so a byte comparison finds the column without hashing.
    private var lastKeyColumns: [Int] = []
    /// Flattening and child tables (`--nested`); `.none` keeps nested values as JSON text.
    public let nesting: Nesting
    private let nests: Bool
    /// The column path being built while flattening.
    private var path: [UInt8] = []
    private var atStart = true
    /// Lone UTF-16 surrogates (`\\ud800` with no pair) replaced by U+FFFD, for the summary.
    public var surrogatesReplaced: Int { repairs.surrogates }
    private let repairs = Repairs()

    final class Repairs: @unchecked Sendable {
        var surrogates = 0
    }

    public init(source: String, nesting: Nesting = .none) {
        self.source = source
        self.nesting = nesting
        self.nests = nesting.flattenDepth > 0 || nesting.layout != nil
    }

    /// A scanner for the part of a file that starts at line `line` (a row boundary).
    public init(source: String, nesting: Nesting = .none, continuingAt line: Int) {
        self.init(source: source, nesting: nesting)
        self.line = line
        atStart = line == 1
    }

    public mutating func scan(into batch: RecordBatch, columns: SourceColumns, isEOF: Bool, maxRows: Int)
        throws(InputError) -> ScanStatus
    {
        let base = batch.bytes.base
        let end = batch.bytes.count
        var pos = batch.scanned
        defer { batch.scanned = pos }
        if atStart {  // a UTF-8 byte order mark, as editors on Windows write, is skipped as in CSV
            if end - pos < 3 && !isEOF { return .needMore }
            if end - pos >= 3 && base[pos] == 0xEF && base[pos + 1] == 0xBB && base[pos + 2] == 0xBF { pos += 3 }
            atStart = false
        }
        while true {
            if batch.rowCount >= maxRows { return .batchFull }
            if pos >= end { return isEOF ? .endOfInput : .needMore }
            let lineEnd: Int
            if let newline = memchr(base + pos, 10, end - pos) {
                lineEnd = base.distance(to: newline.assumingMemoryBound(to: UInt8.self))
            } else if isEOF {
                lineEnd = end
            } else {
                return .needMore
            }
            try scanLine(base, pos, lineEnd, batch: batch, columns: columns)
            pos = min(lineEnd + 1, end)
            line += 1
        }
    }

    private func fail(_ message: String) -> InputError {
        InputError(source: source, line: line, message: message)
    }

    @inline(__always)
    private static func skipSpace(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int) {
        while i < end {
            let c = p[i]
            guard c == 32 || c == 9 || c == 13 else { return }
            i += 1
        }
    }

    private mutating func scanLine(
        _ p: UnsafeMutablePointer<UInt8>, _ start: Int, _ end: Int, batch: RecordBatch, columns: SourceColumns
    ) throws(InputError) {
        var i = start
        Self.skipSpace(p, &i, end)
        if i == end { return }  // blank line
        guard p[i] == 123 else {  // {
            throw fail("expected a JSON object at the start of the line; each line must hold one object")
        }
        batch.beginRow(line: line, width: 0)
        if nests {
            path.removeAll(keepingCapacity: true)
            var position = 0
            try scanMembers(p, &i, end, into: batch, row: batch.rowCount - 1, columns: columns, table: -1, tablePath: [],
                depth: 0, root: batch, position: &position)
        } else {
            i += 1
            try scanFlat(p, &i, end, batch: batch, columns: columns)
        }
        Self.skipSpace(p, &i, end)
        guard i == end else { throw fail("unexpected text after the JSON object; each line must hold one object") }
        batch.endRow()
    }

    /// The members of a top-level object, each value one cell (the default: no nesting).
    private mutating func scanFlat(
        _ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int, batch: RecordBatch, columns: SourceColumns
    ) throws(InputError) {
        var keyIndex = 0
        Self.skipSpace(p, &i, end)
        if i < end && p[i] == 125 {  // }
            i += 1
            return
        }
        while true {
            Self.skipSpace(p, &i, end)
            guard i < end && p[i] == 34 else { throw fail("expected a quoted key in the JSON object") }
            // The usual case: the key the last record had at this position, matched in the raw text.
            var known: Int? = nil
            if keyIndex < lastKeyColumns.count,
                let n = columns.rawKeyLength(lastKeyColumns[keyIndex], p + i + 1, available: end - i - 1)
            {
                known = lastKeyColumns[keyIndex]
                i += n + 2
            }
            var keyStart = 0
            var keyLength = 0
            if known == nil { (keyStart, keyLength) = try scanString(p, &i, end) }
            Self.skipSpace(p, &i, end)
            guard i < end && p[i] == 58 else { throw fail("expected ':' after a key in the JSON object") }
            i += 1
            Self.skipSpace(p, &i, end)
            let cell = try scanValue(p, &i, end)
            let column = known ?? columnFor(key: p + keyStart, keyLength, position: keyIndex, columns: columns)
            batch.set(cell, column: Self.unfilled(column, in: batch, columns: columns))
            keyIndex += 1
            Self.skipSpace(p, &i, end)
            guard i < end else { throw fail("the JSON object is not closed before the end of the line") }
            if p[i] == 44 {  // ,
                i += 1
                continue
            }
            guard p[i] == 125 else { throw fail("expected ',' or '}' in the JSON object") }
            i += 1
            return
        }
    }

    /// The members of the object at `i` (on its `{`) into row `row` of `batch`: objects within
    /// `nesting.flattenDepth` become `parent__child` columns, arrays (with a layout) rows of child
    /// tables, everything else one cell. `path` holds the column name of the enclosing object.
    private mutating func scanMembers(
        _ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int, into batch: RecordBatch, row: Int,
        columns: SourceColumns, table: Int, tablePath: [UInt8], depth: Int, root: RecordBatch, position: inout Int
    ) throws(InputError) {
        guard depth < 512 else { throw fail("JSON nested more than 512 levels deep") }
        i += 1
        let prefixLength = path.count
        defer { path.removeSubrange(prefixLength...) }
        Self.skipSpace(p, &i, end)
        if i < end && p[i] == 125 {
            i += 1
            return
        }
        while true {
            Self.skipSpace(p, &i, end)
            guard i < end && p[i] == 34 else { throw fail("expected a quoted key in the JSON object") }
            let (keyStart, keyLength) = try scanString(p, &i, end)
            Self.skipSpace(p, &i, end)
            guard i < end && p[i] == 58 else { throw fail("expected ':' after a key in the JSON object") }
            i += 1
            Self.skipSpace(p, &i, end)
            guard i < end else { throw fail("expected a value after ':'") }
            path.removeSubrange(prefixLength...)
            if prefixLength > 0 { path += nesting.separator }
            path += UnsafeBufferPointer(start: p + keyStart, count: keyLength)
            let whole = tablePath.isEmpty ? path : tablePath + nesting.separator + path
            let c = p[i]
            if c == 123 && depth < nesting.flattenDepth && !nesting.keepWhole.contains(whole) {
                try scanMembers(
                    p, &i, end, into: batch, row: row, columns: columns, table: table, tablePath: tablePath,
                    depth: depth + 1, root: root, position: &position)
            } else if c == 91, let layout = nesting.layout, !nesting.keepWhole.contains(whole) {
                let child = layout.child(parent: table, path: whole)
                try scanList(p, &i, end, child: child, parent: batch, parentRow: row, tablePath: whole, root: root)
            } else {
                let cell = try scanValue(p, &i, end)
                let column: Int
                if table < 0 {
                    let key = path
                    column = key.withUnsafeBufferPointer { buffer in
                        columnFor(key: buffer.baseAddress ?? Self.emptyKey, buffer.count, position: position, columns: columns)
                    }
                    position += 1
                } else {
                    column = columns.slot(for: path)
                }
                batch.set(cell, column: Self.unfilled(column, in: batch, columns: columns))
            }
            Self.skipSpace(p, &i, end)
            guard i < end else { throw fail("the JSON object is not closed before the end of the line") }
            if p[i] == 44 {
                i += 1
                continue
            }
            guard p[i] == 125 else { throw fail("expected ',' or '}' in the JSON object") }
            i += 1
            return
        }
    }

    /// The array at `i` (on its `[`) as rows of child table `child`: an object element's members
    /// become columns, any other element one `value` cell; `null` elements are skipped.
    private mutating func scanList(
        _ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int, child: Int, parent: RecordBatch, parentRow: Int,
        tablePath: [UInt8], root: RecordBatch
    ) throws(InputError) {
        let layout = nesting.layout!
        let columns = layout.children[child].columns
        let batch = root.childBatch(child, parent: parent)
        i += 1
        var index: Int32 = 0
        Self.skipSpace(p, &i, end)
        if i < end && p[i] == 93 {
            i += 1
            return
        }
        let saved = path
        defer { path = saved }
        while true {
            Self.skipSpace(p, &i, end)
            guard i < end else { throw fail("a JSON array is not closed before the end of the line") }
            if p[i] == 110 {
                try expectWord(p, &i, end, "null")
            } else {
                batch.beginChildRow(line: line, parentRow: Int32(parentRow), listIndex: index)
                let row = batch.rowCount - 1
                if p[i] == 123 {
                    path.removeAll(keepingCapacity: true)
                    var position = 0
                    try scanMembers(
                        p, &i, end, into: batch, row: row, columns: columns, table: child, tablePath: tablePath,
                        depth: 0, root: root, position: &position)
                } else {
                    let cell = p[i] == 91 ? try nestedCell(p, &i, end) : try scanValue(p, &i, end)
                    batch.set(cell, column: columns.slot(for: "value"))
                }
                batch.endRow()
            }
            index += 1
            Self.skipSpace(p, &i, end)
            guard i < end else { throw fail("a JSON array is not closed before the end of the line") }
            if p[i] == 44 {
                i += 1
                continue
            }
            guard p[i] == 93 else { throw fail("expected ',' or ']' in a JSON array") }
            i += 1
            return
        }
    }

    private func nestedCell(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int) throws(InputError) -> Cell {
        let start = i
        try skipValue(p, &i, end, depth: 0)
        return Cell(offset: UInt32(start), length: UInt32(i - start), kind: .jsonNested)
    }

    nonisolated(unsafe) private static let emptyKey = UnsafePointer<UInt8>(UnsafeMutablePointer<UInt8>.allocate(capacity: 1))

    /// `column`, or, when the record already gave it a value (a key `a__b` beside a flattened
    /// `a.b`, or a key repeated), the next column of that name: the second value gets a column of
    /// its own (`a__b_2`, reported as a rename) instead of overwriting the first.
    @inline(__always)
    static func unfilled(_ column: Int, in batch: RecordBatch, columns: SourceColumns) -> Int {
        guard batch.isFilled(column) else { return column }
        var occurrence = 1
        while true {
            let next = columns.slot(for: columns.nameBytes[column], occurrence: occurrence)
            if !batch.isFilled(next) { return next }
            occurrence += 1
        }
    }

    @inline(__always)
    private mutating func columnFor(
        key: UnsafePointer<UInt8>, _ length: Int, position: Int, columns: SourceColumns
    ) -> Int {
        if position < lastKeyColumns.count {
            let guess = lastKeyColumns[position]
            if columns.matches(guess, key, length) { return guess }
            let column = columns.slot(for: Array(UnsafeBufferPointer(start: key, count: length)))
            lastKeyColumns[position] = column
            return column
        }
        let column = columns.slot(for: Array(UnsafeBufferPointer(start: key, count: length)))
        lastKeyColumns.append(column)
        return column
    }

    private func scanValue(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int) throws(InputError) -> Cell {
        guard i < end else { throw fail("expected a value after ':'") }
        let c = p[i]
        switch c {
        case 34:
            let (start, length) = try scanString(p, &i, end)
            return Cell(offset: UInt32(start), length: UInt32(length), kind: .jsonString)
        case 123, 91:
            let start = i
            try skipValue(p, &i, end, depth: 0)
            return Cell(offset: UInt32(start), length: UInt32(i - start), kind: .jsonNested)
        case 116, 102:
            let start = i
            try expectWord(p, &i, end, c == 116 ? "true" : "false")
            return Cell(offset: UInt32(start), length: UInt32(i - start), kind: .jsonBool)
        case 110:
            try expectWord(p, &i, end, "null")
            return .null
        default:
            let start = i
            try scanNumber(p, &i, end)
            return Cell(offset: UInt32(start), length: UInt32(i - start), kind: .jsonNumber)
        }
    }

    private func expectWord(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int, _ word: StaticString)
        throws(InputError)
    {
        let n = word.utf8CodeUnitCount
        guard end - i >= n, memcmpEqual(UnsafePointer(p + i), word.utf8Start, n) else {
            throw fail("invalid JSON value; expected \(word)")
        }
        i += n
    }

    private func scanNumber(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int) throws(InputError) {
        let start = i
        if i < end && p[i] == 45 { i += 1 }
        let intStart = i
        while i < end && ValueSyntax.isDigit(p[i]) { i += 1 }
        let intDigits = i - intStart
        guard intDigits > 0, !(intDigits > 1 && p[intStart] == 48) else {
            throw fail("invalid JSON value starting with '\(Character(Unicode.Scalar(p[start])))'")
        }
        if i < end && p[i] == 46 {
            i += 1
            let fracStart = i
            while i < end && ValueSyntax.isDigit(p[i]) { i += 1 }
            guard i > fracStart else { throw fail("invalid JSON number: digits must follow '.'") }
        }
        if i < end && (p[i] == 101 || p[i] == 69) {
            i += 1
            if i < end && (p[i] == 43 || p[i] == 45) { i += 1 }
            let expStart = i
            while i < end && ValueSyntax.isDigit(p[i]) { i += 1 }
            guard i > expStart else { throw fail("invalid JSON number: digits must follow the exponent") }
        }
    }

    /// Scans a string at `i` (on its opening quote), unescaping it in place.
    /// Returns the content's start and unescaped length; `i` ends after the closing quote.
    private func scanString(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int) throws(InputError)
        -> (Int, Int)
    {
        i += 1
        let start = i
        Self.skipPlainString(p, &i, end)
        while i < end {
            let c = p[i]
            if c == 34 {
                i += 1
                return (start, i - 1 - start)
            }
            if c == 92 { break }
            i += 1
        }
        var write = i
        while i < end {
            let c = p[i]
            if c == 34 {
                i += 1
                return (start, write - start)
            }
            if c != 92 {
                p[write] = c
                write += 1
                i += 1
                continue
            }
            guard i + 1 < end else { break }
            let escape = p[i + 1]
            i += 2
            switch escape {
            case 34, 92, 47: p[write] = escape
            case 98: p[write] = 8
            case 102: p[write] = 12
            case 110: p[write] = 10
            case 114: p[write] = 13
            case 116: p[write] = 9
            case 117:
                var scalar = try hex4(p, i, end)
                i += 4
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    if end - i >= 6 && p[i] == 92 && p[i + 1] == 117, case let low = try hex4(p, i + 2, end),
                        low >= 0xDC00 && low < 0xE000
                    {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    } else {
                        scalar = 0xFFFD
                        repairs.surrogates += 1
                    }
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    scalar = 0xFFFD
                    repairs.surrogates += 1
                }
                write += Self.writeUTF8(scalar, p + write)
                continue
            default:
                throw fail("invalid escape '\\\(Character(Unicode.Scalar(escape)))' in a JSON string")
            }
            write += 1
        }
        throw fail("a JSON string is not closed before the end of the line")
    }

    /// Moves `i` to the first `"` or `\\` at or after it, eight bytes at a time while eight
    /// remain (the rest, and what it stops on, is for the caller's byte loop). A byte equal to
    /// the quote or the backslash is found as a zero byte of the word XORed with it; the lowest
    /// flagged byte of that test is always a true match.
    /// `stopsAtNewline`: a line feed stops it too (`JSONValueWalk`, which walks elements that span lines).
    @inline(__always)
    static func skipPlainString(
        _ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int, stopsAtNewline: Bool = false
    ) {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while end - i >= 8 {
            let word = UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
            let quote = word ^ (ones &* 34)
            let backslash = word ^ (ones &* 92)
            var found = (((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash)) & highs
            if stopsAtNewline {
                let newline = word ^ (ones &* 10)
                found |= ((newline &- ones) & ~newline) & highs
            }
            if found != 0 {
                i += found.trailingZeroBitCount >> 3
                return
            }
            i += 8
        }
    }

    private func hex4(_ p: UnsafeMutablePointer<UInt8>, _ i: Int, _ end: Int) throws(InputError) -> UInt32 {
        guard end - i >= 4 else { throw fail("a \\u escape needs four hex digits") }
        var value: UInt32 = 0
        for k in 0..<4 {
            guard let d = ValueSyntax.hexValue(p[i + k]) else { throw fail("a \\u escape needs four hex digits") }
            value = value << 4 | UInt32(d)
        }
        return value
    }

    @inline(__always)
    static func writeUTF8(_ scalar: UInt32, _ out: UnsafeMutablePointer<UInt8>) -> Int {
        switch scalar {
        case 0..<0x80:
            out[0] = UInt8(scalar)
            return 1
        case 0x80..<0x800:
            out[0] = UInt8(0xC0 | scalar >> 6)
            out[1] = UInt8(0x80 | scalar & 0x3F)
            return 2
        case 0x800..<0x10000:
            out[0] = UInt8(0xE0 | scalar >> 12)
            out[1] = UInt8(0x80 | scalar >> 6 & 0x3F)
            out[2] = UInt8(0x80 | scalar & 0x3F)
            return 3
        default:
            out[0] = UInt8(0xF0 | scalar >> 18)
            out[1] = UInt8(0x80 | scalar >> 12 & 0x3F)
            out[2] = UInt8(0x80 | scalar >> 6 & 0x3F)
            out[3] = UInt8(0x80 | scalar & 0x3F)
            return 4
        }
    }

    /// Validates and skips any JSON value without changing its bytes (nested values stay JSON text).
    private func skipValue(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int, depth: Int) throws(InputError) {
        guard depth < 512 else { throw fail("JSON nested more than 512 levels deep") }
        Self.skipSpace(p, &i, end)
        guard i < end else { throw fail("a JSON value is not closed before the end of the line") }
        switch p[i] {
        case 123, 91:
            let close: UInt8 = p[i] == 123 ? 125 : 93
            let isObject = close == 125
            i += 1
            Self.skipSpace(p, &i, end)
            if i < end && p[i] == close {
                i += 1
                return
            }
            while true {
                if isObject {
                    Self.skipSpace(p, &i, end)
                    guard i < end && p[i] == 34 else { throw fail("expected a quoted key in a nested JSON object") }
                    try skipString(p, &i, end)
                    Self.skipSpace(p, &i, end)
                    guard i < end && p[i] == 58 else { throw fail("expected ':' in a nested JSON object") }
                    i += 1
                }
                try skipValue(p, &i, end, depth: depth + 1)
                Self.skipSpace(p, &i, end)
                guard i < end else { throw fail("a JSON value is not closed before the end of the line") }
                if p[i] == 44 {
                    i += 1
                    continue
                }
                guard p[i] == close else {
                    throw fail("expected ',' or '\(Character(Unicode.Scalar(close)))' in nested JSON")
                }
                i += 1
                return
            }
        case 34:
            try skipString(p, &i, end)
        case 116: try expectWord(p, &i, end, "true")
        case 102: try expectWord(p, &i, end, "false")
        case 110: try expectWord(p, &i, end, "null")
        default: try scanNumber(p, &i, end)
        }
    }

    private func skipString(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int) throws(InputError) {
        i += 1
        while i < end {
            Self.skipPlainString(p, &i, end)
            guard i < end else { break }
            let c = p[i]
            if c == 34 {
                i += 1
                return
            }
            i += c == 92 ? 2 : 1
        }
        throw fail("a JSON string is not closed before the end of the line")
    }
}

// MARK: protocol messages

/// The pieces a protocol reader (Singer, Airbyte) walks a message with: it steps through the
/// envelope's members in place and scans the record object straight into a batch as one row,
/// so a record is scanned once, in the bytes it arrived in.
extension JSONLinesScanner {
    /// Sets the line errors name.
    public mutating func setLine(_ line: Int) { self.line = line }

    /// Steps over the `{` of the object at `i` (after leading blanks). Returns false for a blank line.
    public func enterObject(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int) throws(InputError) -> Bool {
        Self.skipSpace(p, &i, end)
        if i == end { return false }
        guard p[i] == 123 else { throw fail("expected a JSON object; each line must hold one object") }
        i += 1
        return true
    }

    /// The next member's key (unescaped in place: start and length), leaving `i` on its value;
    /// nil after the object's closing brace. `first` is true for the first call on an object.
    /// With `inPlace` false the line is left exactly as it was (an escaped key is returned escaped).
    public func nextKey(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int, first: Bool, inPlace: Bool = true)
        throws(InputError) -> (start: Int, length: Int)?
    {
        Self.skipSpace(p, &i, end)
        guard i < end else { throw fail("the JSON object is not closed before the end of the line") }
        if p[i] == 125 {
            i += 1
            return nil
        }
        if !first {
            guard p[i] == 44 else { throw fail("expected ',' or '}' in the JSON object") }
            i += 1
            Self.skipSpace(p, &i, end)
        }
        guard i < end && p[i] == 34 else { throw fail("expected a quoted key in the JSON object") }
        let key: (Int, Int)
        if inPlace {
            key = try scanString(p, &i, end)
        } else {
            let start = i
            try skipString(p, &i, end)
            key = (start + 1, i - start - 2)
        }
        Self.skipSpace(p, &i, end)
        guard i < end && p[i] == 58 else { throw fail("expected ':' after a key in the JSON object") }
        i += 1
        Self.skipSpace(p, &i, end)
        return key
    }

    /// Steps over the value at `i`, leaving its bytes as they are; returns where it started.
    public func token(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int) throws(InputError) -> Int {
        let start = i
        try skipValue(p, &i, end, depth: 0)
        return start
    }

    /// The value at `i` as a cell (a string unescaped in place, a nested value as its JSON text).
    public func value(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int) throws(InputError) -> Cell {
        try scanValue(p, &i, end)
    }

    /// Steps over the value at `i`, checking it is JSON.
    public func skip(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int) throws(InputError) {
        try skipValue(p, &i, end, depth: 0)
    }

    /// Checks that nothing but blanks follows the message's object.
    public func expectEnd(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int) throws(InputError) {
        Self.skipSpace(p, &i, end)
        guard i == end else { throw fail("unexpected text after the JSON object; each line must hold one object") }
    }

    /// Scans the object at `i` in `batch`'s own bytes as a new row of line `line`, leaving the row
    /// open: the reader may add cells of its own (`RecordBatch.setCell`) before `RecordBatch.endRecord`.
    /// On an error the row is dropped again.
    public mutating func beginRecord(in batch: RecordBatch, _ i: inout Int, _ end: Int, line: Int, columns: SourceColumns)
        throws(InputError)
    {
        self.line = line
        let p = batch.bytes.base
        guard i < end && p[i] == 123 else { throw fail("expected a JSON object") }
        batch.beginRow(line: line, width: 0)
        do {
            if nests {
                path.removeAll(keepingCapacity: true)
                var position = 0
                try scanMembers(
                    p, &i, end, into: batch, row: batch.rowCount - 1, columns: columns, table: -1, tablePath: [],
                    depth: 0, root: batch, position: &position)
            } else {
                i += 1
                try scanFlat(p, &i, end, batch: batch, columns: columns)
            }
        } catch {
            batch.abandonRecord()
            throw error
        }
    }
}
