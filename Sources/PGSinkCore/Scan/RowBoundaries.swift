/// Finds where a plain file may be cut into parts that readers scan at once: after a line feed
/// that ends a record, at or after each wanted offset, with the line number the part starts at
/// (counted as the scanners count lines, so an error in any part names the file's own line).
///
/// JSON Lines end a record at every line feed. CSV is followed byte by byte as `CSVScanner` reads
/// it (a quote opens a quoted field only at a field's start; inside one, doubled quotes, escape
/// bytes and line breaks are data; comment lines and the lines skipped before the header), so a
/// cut never falls inside a quoted field. Fed the file's bytes in order, in pieces of any size.
public struct RowBoundaries: Sendable {
    public struct Cut: Sendable, Equatable {
        /// The offset of the part's first byte.
        public var offset: Int
        /// The line the part starts at (1-based).
        public var line: Int
    }

    private enum State: UInt8 {
        case recordStart, fieldStart, unquoted, escapedUnquoted, quoted, escapedQuoted, afterQuote, skippedLine
    }

    public private(set) var cuts: [Cut] = []
    private let wanted: [Int]
    private let csv: CSVDialect?
    private let escape: UInt8?
    private var state = State.recordStart
    private var offset = 0
    private var lineEnds = 0
    private var crPending = false
    private var linesToSkip: Int
    /// A CSV header is still to come: no part may start before its end.
    private var headerPending: Bool

    /// `wanted`: the offsets (ascending) at or after which a part should start.
    public init(wanted: [Int], csv: CSVDialect?) {
        self.wanted = wanted
        self.csv = csv
        self.escape = csv.flatMap { $0.escape == $0.quote ? nil : $0.escape }
        self.linesToSkip = csv?.skipLines ?? 0
        self.headerPending = csv?.hasHeader ?? false
        if linesToSkip > 0 { state = .skippedLine }
    }

    /// Whether every wanted cut is found: the rest of the file need not be fed.
    public var isComplete: Bool { cuts.count == wanted.count }

    public mutating func feed(_ p: UnsafePointer<UInt8>, count: Int) {
        guard !isComplete else { return }
        guard let csv else {
            feedLines(p, count: count)
            return
        }
        let quote = csv.quote
        let delimiter = csv.delimiter
        let escape = self.escape ?? 0
        let hasEscape = self.escape != nil
        let comment = csv.comment
        var i = 0
        while i < count && !isComplete {
            let c = p[i]
            if crPending {
                // A CR ended a line; with the LF after it, CRLF is one line end.
                crPending = false
                lineEnds += 1
                if c == 10 {
                    if state == .recordStart { mayCut(after: offset + i) }
                    i += 1
                    continue
                }
            }
            switch state {
            case .recordStart, .fieldStart:
                if c == quote {
                    state = .quoted
                } else if endsField(c, at: offset + i, delimiter: delimiter) {
                    // An empty field or a blank line: the state moved on.
                } else if state == .recordStart && comment == c {
                    state = .skippedLine
                } else if hasEscape && c == escape {
                    state = .escapedUnquoted
                } else {
                    state = .unquoted
                }
            case .unquoted:
                // The usual case, kept tight: bytes that end nothing.
                while i < count {
                    let b = p[i]
                    if b == delimiter || b == 10 || b == 13 || (hasEscape && b == escape) { break }
                    i += 1
                }
                guard i < count else { continue }
                if !endsField(p[i], at: offset + i, delimiter: delimiter) { state = .escapedUnquoted }
            case .escapedUnquoted:
                if c == 10 { lineEnds += 1 }
                state = .unquoted
            case .quoted:
                while i < count {
                    let b = p[i]
                    if b == quote || (hasEscape && b == escape) { break }
                    if b == 10 { lineEnds += 1 }
                    i += 1
                }
                guard i < count else { continue }
                state = p[i] == quote ? .afterQuote : .escapedQuoted
            case .escapedQuoted:
                if c == 10 { lineEnds += 1 }
                state = .quoted
            case .afterQuote:
                if c == quote {
                    state = .quoted
                } else if !endsField(c, at: offset + i, delimiter: delimiter) {
                    // The scanner refuses this; the part holding it fails the load.
                    state = .unquoted
                }
            case .skippedLine:
                if c == 10 || c == 13 {
                    if linesToSkip > 0 { linesToSkip -= 1 }
                    state = linesToSkip > 0 ? .skippedLine : .recordStart
                    if c == 10 {
                        lineEnds += 1
                        if state == .recordStart { mayCut(after: offset + i) }
                    } else {
                        crPending = true
                    }
                }
            }
            i += 1
        }
        offset += count
    }

    /// Whether `byte`, at `position` outside a quoted field, ends the field (a delimiter) or the
    /// record (a line end); the state moves on when it does.
    @inline(__always)
    private mutating func endsField(_ byte: UInt8, at position: Int, delimiter: UInt8) -> Bool {
        switch byte {
        case delimiter: state = .fieldStart
        case 10: endRecord(at: position)
        case 13: endRecordAtCR()
        default: return false
        }
        return true
    }

    /// A record (or a blank line) ended with the line feed at `position`.
    private mutating func endRecord(at position: Int) {
        if state != .recordStart { headerPending = false }
        lineEnds += 1
        state = .recordStart
        mayCut(after: position)
    }

    /// A record (or a blank line) ended with a CR: a line end once the next byte shows whether it
    /// is CRLF.
    private mutating func endRecordAtCR() {
        if state != .recordStart { headerPending = false }
        crPending = true
        state = .recordStart
    }

    /// After a line feed at `position` that ends a record: the next part may start here, unless
    /// the header has yet to come.
    private mutating func mayCut(after position: Int) {
        if !headerPending && cuts.count < wanted.count && position + 1 >= wanted[cuts.count] {
            cuts.append(Cut(offset: position + 1, line: lineEnds + 1))
        }
    }

    private mutating func feedLines(_ p: UnsafePointer<UInt8>, count: Int) {
        var i = 0
        while i < count && !isComplete {
            // Lines before the wanted offset are only counted.
            let sweepEnd = min(count, max(i, wanted[cuts.count] - 1 - offset))
            lineEnds += countByte(p + i, 10, sweepEnd - i)
            i = sweepEnd
            guard let found = memchrByte(p + i, 10, count - i) else { break }
            lineEnds += 1
            mayCut(after: offset + i + found)
            i += found + 1
        }
        offset += count
    }
}

@inline(__always)
private func memchrByte(_ p: UnsafePointer<UInt8>, _ byte: UInt8, _ count: Int) -> Int? {
    var i = 0
    while i < count {
        if p[i] == byte { return i }
        i += 1
    }
    return nil
}

@inline(__always)
private func countByte(_ p: UnsafePointer<UInt8>, _ byte: UInt8, _ count: Int) -> Int {
    var n = 0
    for i in 0..<count where p[i] == byte { n += 1 }
    return n
}
