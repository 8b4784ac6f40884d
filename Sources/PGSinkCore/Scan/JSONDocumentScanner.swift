/// A JSON document scanner (`--format json`): a top-level array of objects, a single object, or,
/// with a records path (`data.items`), the array inside a top-level object.
///
/// The array is streamed: each element is walked until it is whole (`JSONValueWalk`, across
/// reads) and then handed, in place, to the JSON Lines scanner as one record, so types,
/// nesting and naming are exactly those of JSON Lines. Only one element (or one skipped value
/// beside the records array) is ever held whole. Errors name the byte offset in the (decompressed)
/// input and, inside the array, the element's index, counting from 0 (`jq '.[0]'`).
public struct JSONDocumentScanner: RecordScanner {
    public let source: String
    /// The keys leading from the top-level object to the records array; empty: the document itself.
    public let recordsPath: [[UInt8]]
    /// The line the scan stands on (rows are labelled with the line their element starts on).
    public private(set) var line = 1
    /// Bytes of the input consumed before `scanStart`.
    public private(set) var offset = 0
    /// Where the current `scan` call started in its batch (`batch.scanned` then).
    var scanStart = 0
    /// Elements of the records array read so far.
    public private(set) var elements = 0
    public var surrogatesReplaced: Int { records.surrogatesReplaced }

    var records: JSONLinesScanner
    var phase = Phase.document
    var walk = JSONValueWalk()
    /// Objects of the records path entered (and not yet closed).
    var depth = 0
    /// The records array has been read; the rest of the enclosing objects is skipped.
    var arrayDone = false
    /// The member being read is the next key of the records path.
    var keyMatches = false
    var atStart = true

    enum Phase {
        /// Before the top-level value (and a byte order mark).
        case document
        /// In an object of the records path, before a member (`first`: right after its `{`).
        case member(first: Bool)
        /// Before a member's key, its `:`, its value.
        case key
        case colon
        case memberValue
        /// Walking a value of the records path's objects that is not on the path.
        case skippedValue
        /// Right after the array's `[`.
        case firstElement
        /// After a `,` in the array.
        case element
        /// Walking an element; `single`: the document's own object.
        case record(single: Bool)
        /// After an element.
        case afterElement
        /// After the document: blanks only.
        case trailing
    }

    public init(source: String, recordsPath: [String] = [], nesting: Nesting = .none) {
        self.source = source
        self.recordsPath = recordsPath.map { Array($0.utf8) }
        self.records = JSONLinesScanner(source: source, nesting: nesting)
    }

    /// The keys of a dotted records path (`data.items`); nil when a part is empty.
    public static func parsePath(_ text: String) -> [String]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        return parts.contains(where: \.isEmpty) ? nil : parts
    }

    var pathText: String { recordsPath.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ".") }

    public mutating func scan(into batch: RecordBatch, columns: SourceColumns, isEOF: Bool, maxRows: Int)
        throws(InputError) -> ScanStatus
    {
        let p = batch.bytes.base
        let end = batch.bytes.count
        var pos = batch.scanned
        scanStart = pos
        defer {
            offset += pos - scanStart
            scanStart = pos
            batch.scanned = pos
        }
        if atStart {  // a UTF-8 byte order mark, as in JSON Lines
            if end - pos < 3 && !isEOF { return .needMore }
            if end - pos >= 3 && p[pos] == 0xEF && p[pos + 1] == 0xBB && p[pos + 2] == 0xBF { pos += 3 }
            atStart = false
        }
        while true {
            if batch.rowCount >= maxRows { return .batchFull }
            switch phase {
            case .record(let single):
                guard try walkValue(p, pos, end, isEOF: isEOF) else {
                    return try needMore(isEOF, at: pos)
                }
                try scanRecord(p, &pos, batch: batch, columns: columns)
                phase = single ? .trailing : .afterElement
                continue
            case .skippedValue:
                guard try walkValue(p, pos, end, isEOF: isEOF) else {
                    return try needMore(isEOF, at: pos)
                }
                try skipValue(p, &pos)
                phase = .member(first: false)
                continue
            default:
                break
            }
            skipBlanks(p, &pos, end)
            if pos >= end {
                guard isEOF else { return .needMore }
                if phase == .trailing || phase == .document { return .endOfInput }
                throw truncated(at: pos)
            }
            switch phase {
            case .document:
                try enterDocument(p[pos], at: pos)
                if phase != .record(single: true) { pos += 1 }
            case .member(let first):
                try member(p, &pos, first: first)
            case .key:
                guard try key(p, &pos, end) else {
                    guard isEOF else { return .needMore }
                    throw truncated(at: end)
                }
            case .colon:
                guard p[pos] == 58 else {
                    throw fail("expected ':' after a key in the JSON object, found \(Self.describe(p[pos]))",
                        at: pos)
                }
                pos += 1
                phase = .memberValue
            case .memberValue:
                try memberValue(p[pos], &pos)
            case .firstElement, .element:
                if p[pos] == 93 && phase == .firstElement {
                    pos += 1
                    closeArray()
                } else {
                    try startElement(p[pos], at: pos)
                }
            case .afterElement:
                switch p[pos] {
                case 44: phase = .element
                case 93: closeArray()
                default:
                    throw fail(
                        "expected ',' or ']' after element \(elements - 1) of the array, found \(Self.describe(p[pos]))",
                        at: pos)
                }
                pos += 1
            case .trailing:
                throw fail(
                    "unexpected text after the JSON \(recordsPath.isEmpty && arrayDone ? "array" : "document")",
                    at: pos)
            case .record, .skippedValue:
                break
            }
        }
    }

    // MARK: the array

    private mutating func enterDocument(_ c: UInt8, at pos: Int) throws(InputError) {
        switch (c, recordsPath.isEmpty) {
        case (91, true): phase = .firstElement
        case (123, true): phase = .record(single: true)
        case (123, false):
            depth = 1
            phase = .member(first: true)
        case (91, false):
            throw fail(
                "records path '\(pathText)': the document is an array, not an object with the key '\(pathText)'",
                at: pos)
        default:
            throw fail(
                "expected a JSON array or object at the start of the document, found \(Self.describe(c))",
                at: pos)
        }
    }

    private mutating func startElement(_ c: UInt8, at pos: Int) throws(InputError) {
        guard c == 123 else {
            if c == 93 { throw fail("expected an element after ',' in the array", at: pos) }
            throw fail(
                "element \(elements) of the array is \(Self.kind(of: c)), not an object; each element must be a JSON object",
                at: pos)
        }
        phase = .record(single: false)
    }

    private mutating func closeArray() {
        arrayDone = true
        phase = depth == 0 ? .trailing : .member(first: false)
    }

    /// Walks the value at `pos`; true once it is whole.
    private mutating func walkValue(
        _ p: UnsafeMutablePointer<UInt8>, _ pos: Int, _ end: Int, isEOF: Bool
    ) throws(InputError) -> Bool {
        guard pos < end else { return false }
        do {
            return try walk.advance(p, start: pos, end: end, isEOF: isEOF)
        } catch {
            guard case .lineBreakInString(let k) = error else { return false }
            throw fail("a line break inside a JSON string (write it as \\n)", at: pos + k)
        }
    }

    /// Scans the whole element at `pos` as one record, in place.
    private mutating func scanRecord(
        _ p: UnsafeMutablePointer<UInt8>, _ pos: inout Int, batch: RecordBatch, columns: SourceColumns
    ) throws(InputError) {
        let end = pos + walk.length
        var i = pos
        do throws(InputError) {
            try records.beginRecord(in: batch, &i, end, line: line, columns: columns)
            guard i == end else {
                batch.abandonRecord()
                throw InputError(source: source, line: line, message: "unexpected text after the JSON object")
            }
            batch.endRecord()
        } catch {
            throw located(error, at: i)
        }
        consumeWalk(&pos)
        if case .record(single: false) = phase { elements += 1 }
    }

    /// Checks the whole value at `pos` is JSON, and steps over it.
    private mutating func skipValue(_ p: UnsafeMutablePointer<UInt8>, _ pos: inout Int)
        throws(InputError)
    {
        var i = pos
        do throws(InputError) {
            try records.skip(p, &i, pos + walk.length)
        } catch {
            throw located(error, at: i)
        }
        consumeWalk(&pos)
    }

    private mutating func consumeWalk(_ pos: inout Int) {
        pos += walk.length
        line += walk.newlines
        walk = JSONValueWalk()
    }

    // MARK: positions and errors

    /// Steps over blanks and line breaks, counting lines.
    private mutating func skipBlanks(_ p: UnsafeMutablePointer<UInt8>, _ pos: inout Int, _ end: Int) {
        while pos < end {
            switch p[pos] {
            case 32, 9, 13: pos += 1
            case 10:
                line += 1
                pos += 1
            default: return
            }
        }
    }

    private func needMore(_ isEOF: Bool, at pos: Int) throws(InputError) -> ScanStatus {
        guard isEOF else { return .needMore }
        throw truncated(at: pos + walk.length)
    }

    private func truncated(at pos: Int) -> InputError {
        let place: String
        switch phase {
        case .record(single: true): place = "inside the JSON object"
        case .record: place = "inside element \(elements) of the array"
        case .firstElement, .element, .afterElement:
            place = elements == 0 ? "inside the JSON array, before its first element" : "inside the JSON array, after element \(elements - 1)"
        default: place = "inside the JSON document"
        }
        return fail("the input ends \(place): the file is incomplete", at: pos)
    }

    /// The absolute byte offset of `pos` in the input.
    func byteOffset(_ pos: Int) -> Int { offset + pos - scanStart }

    func fail(_ message: String, at pos: Int) -> InputError {
        InputError(source: source, line: line, message: "\(message) (byte \(byteOffset(pos)))")
    }

    /// An error of the JSON Lines scanner inside an element or skipped value, with its byte offset
    /// and element index.
    private func located(_ error: InputError, at pos: Int) -> InputError {
        var message = error.message
        if case .record(single: false) = phase {
            message += " (byte \(byteOffset(pos)), element \(elements))"
        } else {
            message += " (byte \(byteOffset(pos)))"
        }
        return InputError(source: source, line: line, message: message)
    }

    static func kind(of c: UInt8) -> String {
        switch c {
        case 91: "an array"
        case 123: "an object"
        case 34: "a string"
        case 116, 102: "a boolean"
        case 110: "null"
        case 45, 48...57: "a number"
        default: "not JSON (\(describe(c)))"
        }
    }

    static func describe(_ c: UInt8) -> String {
        c >= 32 && c < 127 ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16, uppercase: true))"
    }
}

extension JSONDocumentScanner.Phase: Equatable {}
