import Foundation
import PGSinkCore

/// Walks one protocol message line (Singer, Airbyte) to find its record, without copying it twice.
///
/// The walk starts in the reader's buffer and leaves those bytes as they are, so a line that turns
/// out not to be a record can still be handed whole to the slow path. Once it reaches the record
/// object and knows the stream, it copies the rest of the line into that stream's batch and goes on
/// there: the record is scanned in place, once, into a row, and the members after it become cells
/// of the same bytes. When the stream is only named after the record, the record's bytes are copied
/// at the end instead (`Taken.token`).
struct MessageWalk {
    private(set) var p: UnsafeMutablePointer<UInt8>
    private(set) var end: Int
    var i = 0
    /// Where the line is now: the reader's buffer (nil), or a batch's bytes.
    private(set) var batch: RecordBatch?
    let line: UnsafeMutablePointer<UInt8>
    var scanner: JSONLinesScanner

    /// `scanner` is the reader's envelope scanner, reused for every line (a fresh one per
    /// message would cost an allocation each).
    init(_ line: UnsafeMutablePointer<UInt8>, count: Int, number: Int, scanner: JSONLinesScanner) {
        self.p = line
        self.end = count
        self.line = line
        self.scanner = scanner
        self.scanner.setLine(number)
    }

    /// A value of the message: a cell of the batch, or (still in the reader's buffer) its token.
    enum Taken {
        case cell(Cell)
        case token(start: Int, end: Int)
        case none
    }

    mutating func enter() throws(InputError) -> Bool { try scanner.enterObject(p, &i, end) }

    mutating func nextKey(first: Bool) throws(InputError) -> (start: Int, length: Int)? {
        try scanner.nextKey(p, &i, end, first: first, inPlace: batch != nil)
    }

    func keyIs(_ key: (start: Int, length: Int), _ name: StaticString) -> Bool {
        key.length == name.utf8CodeUnitCount && memcmp(p + key.start, name.utf8Start, key.length) == 0
    }

    /// The value at the walk's position.
    mutating func take() throws(InputError) -> Taken {
        if batch != nil { return .cell(try scanner.value(p, &i, end)) }
        let start = try scanner.token(p, &i, end)
        return .token(start: start, end: i)
    }

    mutating func skip() throws(InputError) { try scanner.skip(p, &i, end) }

    mutating func expectEnd() throws(InputError) { try scanner.expectEnd(p, &i, end) }

    /// Whether the value at the walk's position is an object.
    var atObject: Bool { i < end && p[i] == 123 }

    /// The token's bytes as a string (for names); nil unless it is a string without escapes.
    func plainString(_ taken: Taken) -> String? {
        switch taken {
        case .token(let start, let stop):
            guard stop - start >= 2, line[start] == 34, memchr(line + start, 92, stop - start) == nil else { return nil }
            return String(decoding: UnsafeBufferPointer(start: line + start + 1, count: stop - start - 2), as: UTF8.self)
        case .cell(let cell):
            guard cell.kind == .jsonString, let batch else { return nil }
            return batch.string(cell)
        case .none:
            return nil
        }
    }

    /// A string token in the reader's buffer, escapes undone (on a copy).
    func string(_ taken: Taken) -> String? {
        if let plain = plainString(taken) { return plain }
        guard case .token(let start, let stop) = taken, line[start] == 34 else { return nil }
        let text = Data(UnsafeBufferPointer(start: line + start, count: stop - start))
        return (try? JSONSerialization.jsonObject(with: text, options: [.fragmentsAllowed])) as? String
    }

    /// Whether a token is the string `word` (ASCII letters in any case).
    func tokenIs(_ taken: Taken, _ word: String) -> Bool {
        guard case .token(let start, let stop) = taken, stop - start == word.utf8.count + 2, line[start] == 34 else {
            return false
        }
        for (k, c) in word.utf8.enumerated() where line[start + 1 + k] | 0x20 != c | 0x20 { return false }
        return true
    }

    /// Copies the rest of the line into `target`'s bytes and goes on there.
    mutating func move(into target: RecordBatch) {
        let offset = Self.copy(p + i, count: end - i, into: target)
        end = offset + (end - i)
        i = offset
        p = target.bytes.base
        batch = target
    }

    /// Appends bytes to a batch's bytes; returns where they start.
    private static func copy(_ bytes: UnsafePointer<UInt8>, count: Int, into target: RecordBatch) -> Int {
        let offset = target.bytes.count
        target.bytes.append(bytes, count: count)
        return offset
    }

    /// A token of the reader's buffer as a cell of `target` (copied, then scanned there).
    static func cell(_ taken: Taken, of line: UnsafeMutablePointer<UInt8>, in target: RecordBatch, scanner: JSONLinesScanner)
        throws(InputError) -> Cell?
    {
        switch taken {
        case .cell(let cell): return cell
        case .none: return nil
        case .token(let start, let stop):
            var position = copy(line + start, count: stop - start, into: target)
            let cell = try scanner.value(target.bytes.base, &position, target.bytes.count)
            return cell.isNull ? nil : cell
        }
    }

    /// Copies a record object's token into `target` and scans it there as a new, open row.
    static func beginRecord(
        _ start: Int, _ stop: Int, of line: UnsafeMutablePointer<UInt8>, number: Int, stream: StreamTarget.Stream
    ) throws(InputError) {
        var position = copy(line + start, count: stop - start, into: stream.pending)
        try stream.scanner.beginRecord(
            in: stream.pending, &position, stream.pending.bytes.count, line: number, columns: stream.sources)
    }
}
