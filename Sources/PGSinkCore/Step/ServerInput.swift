/// The server's own input functions, asked before a column changes type: a value pgsink's
/// parsers refuse (`' 12 '` for an integer, `epoch` for a timestamp, `{6f96…}` for a uuid) may be
/// one the column takes as it is. Implemented over a connection in PGSink; the core only asks.
public protocol ServerInput: AnyObject {
    /// The server's text for each value read by `type`'s input function (in the order given), or
    /// nil when it refuses any of them (or cannot be asked).
    func canonical(_ values: [String], as type: ColumnType) -> [String]?
}

extension ColumnType {
    /// Whether the server's input function may take values pgsink's parsers refuse: every
    /// built-in type pgsink encodes itself (text takes anything; other types go to the server as text).
    public var serverInputIsWider: Bool {
        switch self {
        case .text, .other: false
        default: true
        }
    }
}

extension RecordBatch {
    /// Replaces cells with new text (the server's spelling of a value), kept in the batch's own
    /// bytes. The bytes not scanned yet stay at the end, where the next batch takes them from.
    /// Bytes a cell points to are never among them: a batch a message reader filled (Singer,
    /// Airbyte, the change feeds) is not scanned, and all of its bytes are its rows'.
    public func replace(_ replacements: [(row: Int, column: Int, text: [UInt8])]) {
        guard !replacements.isEmpty else { return }
        var kept = scanned
        for cell in cells where !cell.isNull { kept = Swift.max(kept, Int(cell.offset) + Int(cell.length)) }
        let tail = Array(UnsafeBufferPointer(start: bytes.base + kept, count: bytes.count - kept))
        bytes.count = kept
        for (row, column, text) in replacements {
            let start = Int(rowStarts[row])
            guard column < Int(rowStarts[row + 1]) - start else { continue }
            cells[start + column] = Cell(offset: UInt32(bytes.count), length: UInt32(text.count), kind: .quoted)
            text.withUnsafeBufferPointer { if let base = $0.baseAddress { bytes.append(base, count: $0.count) } }
        }
        if scanned == kept { scanned = bytes.count }
        tail.withUnsafeBufferPointer { if let base = $0.baseAddress { bytes.append(base, count: $0.count) } }
    }

    /// As `replace(_:)`, with every new text a span of one buffer (a reader's conversions of many
    /// values, without an array per value).
    public func replace(spans: [(row: Int, column: Int, start: Int, count: Int)], of texts: [UInt8]) {
        guard !spans.isEmpty else { return }
        var kept = scanned
        for cell in cells where !cell.isNull { kept = Swift.max(kept, Int(cell.offset) + Int(cell.length)) }
        let tail = Array(UnsafeBufferPointer(start: bytes.base + kept, count: bytes.count - kept))
        bytes.count = kept
        texts.withUnsafeBufferPointer { buffer in
            for span in spans {
                let start = Int(rowStarts[span.row])
                guard span.column < Int(rowStarts[span.row + 1]) - start else { continue }
                cells[start + span.column] = Cell(offset: UInt32(bytes.count), length: UInt32(span.count), kind: .quoted)
                if span.count > 0 { bytes.append(buffer.baseAddress! + span.start, count: span.count) }
            }
        }
        if scanned == kept { scanned = bytes.count }
        tail.withUnsafeBufferPointer { if let base = $0.baseAddress { bytes.append(base, count: $0.count) } }
    }
}
