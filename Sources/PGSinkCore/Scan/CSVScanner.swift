/// An RFC 4180 scanner working in place on the batch's bytes.
///
/// Quoted fields may hold delimiters, doubled quotes and line breaks; CRLF, LF and a lone CR end
/// a record; a UTF-8 BOM before the header is skipped. An empty unquoted field is NULL, a quoted
/// `""` the empty string. A quote inside an unquoted field is kept as a character. Blank lines
/// are skipped. Doubled quotes are undone in place once a record is complete, so a cell is
/// always one byte range.
///
/// Other dialects (`CSVDialect`): another quote byte, an escape byte (`\"`) in quoted fields,
/// comment lines and lines to skip before the header. Their checks run per record or per quoted
/// field, never per byte of an unquoted field.
public struct CSVScanner: RecordScanner {
    public let source: String
    public let delimiter: UInt8
    public let hasHeader: Bool
    public let quote: UInt8
    /// nil: a quote inside a quoted field is doubled.
    public let escape: UInt8?
    public let comment: UInt8?
    private var linesToSkip: Int
    public private(set) var line = 1
    /// Field position → load-level column slot, known once the first record is seen.
    private var mapping: [Int]? = nil
    private var isIdentity = false
    private var atStart = true
    /// Cells of the record being scanned that hold doubled quotes. They are undone only once the
    /// record is complete: a record cut by the end of a read is scanned again from its start, so
    /// its bytes must not have moved.
    private var doubledQuoteCells: [Int] = []
    /// Unquoted cells of the record being scanned that hold escape bytes (only with an escape byte).
    private var escapedRawCells: [Int] = []

    public init(source: String, delimiter: UInt8 = 44, hasHeader: Bool = true) {
        self.init(source: source, dialect: CSVDialect(delimiter: delimiter, hasHeader: hasHeader))
    }

    public init(source: String, dialect: CSVDialect) {
        self.source = source
        self.delimiter = dialect.delimiter
        self.hasHeader = dialect.hasHeader
        self.quote = dialect.quote
        self.escape = dialect.escape == dialect.quote ? nil : dialect.escape
        self.comment = dialect.comment
        self.linesToSkip = dialect.skipLines
    }

    /// A scanner for the part of a file that starts at line `line`, a record boundary after the
    /// header: the file's field names (`header`, its first record's as `fieldNames` gave them)
    /// stand in for a header.
    public init(source: String, dialect: CSVDialect, continuingAt line: Int, header: [[UInt8]]) {
        self.init(source: source, dialect: dialect)
        guard line > 1 else { return }
        self.line = line
        linesToSkip = 0
        atStart = false
        pendingHeader = header
    }

    /// The field names of a continuing part, mapped to the caller's columns at its first scan.
    private var pendingHeader: [[UInt8]]?

    /// Field position → the batch's column, once the first record is read.
    public var fieldSlots: [Int]? { mapping }

    /// The name of each field, once the first record is read (`column_N` without a header).
    public func fieldNames(in columns: SourceColumns) -> [[UInt8]]? {
        mapping.map { $0.map { columns.snapshot[$0] } }
    }

    private enum Record {
        case complete(end: Int, newlines: Int)
        case incomplete
        case none
    }

    public mutating func scan(into batch: RecordBatch, columns: SourceColumns, isEOF: Bool, maxRows: Int)
        throws(InputError) -> ScanStatus
    {
        let base = batch.bytes.base
        let end = batch.bytes.count
        var pos = batch.scanned
        defer { batch.scanned = pos }
        if let header = pendingHeader {
            pendingHeader = nil
            mapNames(header, columns: columns)
        }
        if atStart {
            if end - pos < 3 && !isEOF { return .needMore }
            if end - pos >= 3 && base[pos] == 0xEF && base[pos + 1] == 0xBB && base[pos + 2] == 0xBF { pos += 3 }
            atStart = false
        }
        while true {
            if batch.rowCount >= maxRows { return .batchFull }
            if linesToSkip > 0 || (comment != nil && pos < end && base[pos] == comment) {
                guard let next = Self.lineEnd(base, pos, end, isEOF) else { return .needMore }
                if next == pos { return .endOfInput }
                pos = next
                line += 1
                if linesToSkip > 0 { linesToSkip -= 1 }
                continue
            }
            let first = batch.cells.count
            doubledQuoteCells.removeAll(keepingCapacity: true)
            if escape != nil { escapedRawCells.removeAll(keepingCapacity: true) }
            let record = try scanRecord(base, pos, end, isEOF, into: batch)
            let recordLine = line
            switch record {
            case .incomplete:
                batch.cells.removeSubrange(first...)
                return .needMore
            case .none:
                return .endOfInput
            case .complete(let recordEnd, let newlines):
                pos = recordEnd
                line += newlines
                for index in doubledQuoteCells { undoDoubledQuotes(in: index, of: batch) }
                for index in escapedRawCells { undoDoubledQuotes(in: index, of: batch, quoted: false) }
            }
            let fieldCount = batch.cells.count - first
            if fieldCount == 1 && batch.cells[first].kind == .null {  // a blank line
                batch.cells.removeLast()
                continue
            }
            guard let mapping else {
                try readFirstRecord(batch, from: first, columns: columns, line: recordLine)
                if hasHeader { continue }
                try placeRow(batch, from: first, fieldCount: fieldCount, line: recordLine)
                continue
            }
            guard fieldCount == mapping.count else {
                batch.cells.removeSubrange(first...)
                throw InputError(
                    source: source, line: recordLine,
                    message: "expected \(mapping.count) fields as in the first record, found \(fieldCount); "
                        + "quote fields that contain the delimiter, or check --delimiter")
            }
            try placeRow(batch, from: first, fieldCount: fieldCount, line: recordLine)
        }
    }

    private mutating func readFirstRecord(_ batch: RecordBatch, from first: Int, columns: SourceColumns, line: Int)
        throws(InputError)
    {
        let fieldCount = batch.cells.count - first
        var names: [[UInt8]] = []
        for k in 0..<fieldCount {
            var name: [UInt8]
            if hasHeader {
                let cell = batch.cells[first + k]
                name = Array(UnsafeBufferPointer(start: batch.pointer(cell), count: Int(cell.length)))
                if name.isEmpty { name = Array("column_\(k + 1)".utf8) }
            } else {
                name = Array("column_\(k + 1)".utf8)
            }
            names.append(name)
        }
        if hasHeader { batch.cells.removeSubrange(first...) }
        mapNames(names, columns: columns)
    }

    /// The mapping of fields named `names` (in order; a repeated name is its next occurrence).
    private mutating func mapNames(_ names: [[UInt8]], columns: SourceColumns) {
        var seen: [[UInt8]: Int] = [:]
        var slots: [Int] = []
        for name in names {
            let occurrence = seen[name, default: 0]
            seen[name] = occurrence + 1
            slots.append(columns.slot(for: name, occurrence: occurrence))
        }
        mapping = slots
        isIdentity = slots.enumerated().allSatisfy { $0.offset == $0.element }
    }

    @inline(__always)
    private func placeRow(_ batch: RecordBatch, from first: Int, fieldCount: Int, line: Int) throws(InputError) {
        if isIdentity {
            batch.rowLines.append(line)
            batch.endRow()
            return
        }
        let fields = Array(batch.cells[first...])
        batch.cells.removeSubrange(first...)
        batch.beginRow(line: line, width: 0)
        for (k, cell) in fields.enumerated() { batch.set(cell, column: mapping![k]) }
        batch.endRow()
    }

    /// The position after the line that starts at `pos` (a skipped or comment line); nil when its
    /// end is not read yet; `pos` itself at the end of the input.
    private static func lineEnd(_ p: UnsafeMutablePointer<UInt8>, _ pos: Int, _ end: Int, _ isEOF: Bool) -> Int? {
        var i = pos
        while i < end && p[i] != 10 && p[i] != 13 { i += 1 }
        if i >= end { return isEOF ? end : nil }
        if p[i] == 13 {
            if i + 1 >= end && !isEOF { return nil }
            if i + 1 < end && p[i + 1] == 10 { i += 1 }
        }
        return i + 1
    }

    /// Turns each `""` (and each escaped byte, `\"`) of a quoted cell into the byte, in place,
    /// shortening the cell.
    private func undoDoubledQuotes(in index: Int, of batch: RecordBatch, quoted: Bool = true) {
        var cell = batch.cells[index]
        let p = batch.bytes.base + Int(cell.offset)
        let n = Int(cell.length)
        let escape = self.escape ?? quote
        // A quote in an unquoted field is a character; only escapes are undone there.
        let quote = quoted ? self.quote : escape
        var read = 0
        var write = 0
        while read < n {
            if (p[read] == quote || p[read] == escape) && read + 1 < n { read += 1 }
            p[write] = p[read]
            read += 1
            write += 1
        }
        cell.length = UInt32(write)
        batch.cells[index] = cell
    }

    /// Scans one record starting at `start`, appending its fields to `batch.cells`. Bytes are not
    /// changed: cells with doubled quotes are listed in `doubledQuoteCells` for the caller.
    @inline(__always)
    private mutating func scanRecord(
        _ p: UnsafeMutablePointer<UInt8>, _ start: Int, _ end: Int, _ isEOF: Bool, into batch: RecordBatch
    ) throws(InputError) -> Record {
        if start >= end { return isEOF ? .none : .incomplete }
        let quote = self.quote
        let delimiter = self.delimiter
        var i = start
        var newlines = 0
        while true {
            if i < end && p[i] == quote {
                i += 1
                let contentStart = i
                var doubled = false
                if let escape {
                    switch try skipEscapedField(p, &i, end, isEOF, escape: escape, newlines: &newlines) {
                    case .incomplete: return .incomplete
                    case .closed(let escaped): doubled = escaped
                    }
                } else {
                    while true {
                        if i >= end {
                            if isEOF {
                                throw InputError(
                                    source: source, line: line,
                                    message: "a quoted field is not closed before the end of the input")
                            }
                            return .incomplete
                        }
                        let c = p[i]
                        if c == quote {
                            if i + 1 < end && p[i + 1] == quote {
                                doubled = true
                                i += 2
                                continue
                            }
                            if i + 1 >= end && !isEOF { return .incomplete }
                            i += 1
                            break
                        }
                        if c == 10 { newlines += 1 }
                        i += 1
                    }
                }
                if doubled { doubledQuoteCells.append(batch.cells.count) }
                batch.cells.append(
                    Cell(offset: UInt32(contentStart), length: UInt32(i - 1 - contentStart), kind: .quoted))
                if i >= end {
                    if isEOF { return .complete(end: i, newlines: newlines + 1) }
                    return .incomplete
                }
                let c = p[i]
                if c == delimiter {
                    i += 1
                    if i >= end && isEOF {
                        batch.cells.append(.null)
                        return .complete(end: i, newlines: newlines + 1)
                    }
                    continue
                }
                if c == 10 { return .complete(end: i + 1, newlines: newlines + 1) }
                if c == 13 {
                    if i + 1 < end { return .complete(end: p[i + 1] == 10 ? i + 2 : i + 1, newlines: newlines + 1) }
                    return isEOF ? .complete(end: i + 1, newlines: newlines + 1) : .incomplete
                }
                throw InputError(
                    source: source, line: line + newlines,
                    message: "unexpected character after a closing quote; a quote inside a quoted field "
                        + "must be doubled (\"\")")
            }
            let fieldStart = i
            if let escape {
                // An escape byte may also stand in an unquoted field (`say \"hi\"`, `a\,b`).
                var escaped = false
                while i < end {
                    let c = p[i]
                    if c == escape {
                        if i + 1 >= end && !isEOF { return .incomplete }
                        escaped = true
                        if i + 1 < end && p[i + 1] == 10 { newlines += 1 }
                        i = min(i + 2, end)
                        continue
                    }
                    if c == delimiter || c == 10 || c == 13 { break }
                    i += 1
                }
                if escaped { escapedRawCells.append(batch.cells.count) }
            } else {
                while i < end {
                    let c = p[i]
                    if c == delimiter || c == 10 || c == 13 { break }
                    i += 1
                }
            }
            let length = i - fieldStart
            batch.cells.append(
                length == 0 ? .null : Cell(offset: UInt32(fieldStart), length: UInt32(length), kind: .raw))
            if i >= end {
                if isEOF { return .complete(end: i, newlines: newlines + 1) }
                return .incomplete
            }
            let c = p[i]
            if c == delimiter {
                i += 1
                if i >= end && isEOF {
                    batch.cells.append(.null)
                    return .complete(end: i, newlines: newlines + 1)
                }
                continue
            }
            if c == 10 { return .complete(end: i + 1, newlines: newlines + 1) }
            // CR: CRLF, or a lone CR as an old-style line end.
            if i + 1 < end { return .complete(end: p[i + 1] == 10 ? i + 2 : i + 1, newlines: newlines + 1) }
            return isEOF ? .complete(end: i + 1, newlines: newlines + 1) : .incomplete
        }
    }

    private enum QuotedField {
        case closed(escaped: Bool)
        case incomplete
    }

    /// Moves `i` past the closing quote of a quoted field whose quotes may also be escaped
    /// (`\"`); a field of its own so the usual doubled-quote loop stays as it is.
    private func skipEscapedField(
        _ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int, _ isEOF: Bool, escape: UInt8, newlines: inout Int
    ) throws(InputError) -> QuotedField {
        let quote = self.quote
        var escaped = false
        while true {
            if i >= end {
                if isEOF {
                    throw InputError(
                        source: source, line: line, message: "a quoted field is not closed before the end of the input")
                }
                return .incomplete
            }
            let c = p[i]
            if c == escape {
                if i + 1 >= end { if isEOF { i += 1; continue } else { return .incomplete } }
                if p[i + 1] == 10 { newlines += 1 }
                escaped = true
                i += 2
                continue
            }
            if c == quote {
                if i + 1 < end && p[i + 1] == quote {
                    escaped = true
                    i += 2
                    continue
                }
                if i + 1 >= end && !isEOF { return .incomplete }
                i += 1
                return .closed(escaped: escaped)
            }
            if c == 10 { newlines += 1 }
            i += 1
        }
    }
}
