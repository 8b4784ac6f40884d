import PGSinkTestSupport
import Testing

@testable import PGSinkCore

// Helpers shared by the scanner, inference, encoder and planner tests.

/// Which scanner to drive.
enum ScanFormat: Sendable, Equatable, CustomStringConvertible {
    case csv(delimiter: UInt8 = 44, hasHeader: Bool = true)
    case dialect(CSVDialect)
    case jsonl
    case json(recordsPath: [String] = [])

    static let csv = ScanFormat.csv()
    static let json = ScanFormat.json()

    func makeScanner(source: String = "t.csv") -> any RecordScanner {
        switch self {
        case .csv(let delimiter, let hasHeader): CSVScanner(source: source, delimiter: delimiter, hasHeader: hasHeader)
        case .dialect(let dialect): CSVScanner(source: source, dialect: dialect)
        case .jsonl: JSONLinesScanner(source: source)
        case .json(let path): JSONDocumentScanner(source: source, recordsPath: path)
        }
    }

    var description: String {
        switch self {
        case .csv(let d, let h): "csv(\(Character(Unicode.Scalar(d))), header: \(h))"
        case .dialect(let d): "csv(\(d))"
        case .jsonl: "jsonl"
        case .json(let path): path.isEmpty ? "json" : "json(\(path.joined(separator: ".")))"
        }
    }
}

/// One cell as a test sees it.
struct ScannedCell: Equatable, CustomStringConvertible {
    var text: String?
    var kind: CellKind
    var description: String { text.map { "\($0.debugDescription)/\(kind)" } ?? "NULL" }
}

/// Everything a scan produced, copied out of the batch.
struct ScanResult: Equatable, CustomStringConvertible {
    var names: [String] = []
    var rows: [[ScannedCell]] = []
    var lines: [Int] = []

    var texts: [[String?]] { rows.map { $0.map(\.text) } }
    var kinds: [[CellKind]] { rows.map { $0.map(\.kind) } }

    var description: String { "names \(names) lines \(lines) rows \(rows)" }

    /// Appends the batch's rows, each as wide as the columns known so far.
    mutating func collect(_ batch: RecordBatch, _ columns: SourceColumns) {
        names = columns.names
        for row in 0..<batch.rowCount {
            rows.append(
                (0..<columns.count).map { column in
                    let cell = batch.cell(row: row, column: column)
                    return ScannedCell(text: batch.string(cell), kind: cell.kind)
                })
            lines.append(batch.rowLines[row])
        }
        // Rows scanned before a column existed read NULL there: pad them like `cell` does.
        for k in rows.indices where rows[k].count < columns.count {
            rows[k] += Array(repeating: ScannedCell(text: nil, kind: .null), count: columns.count - rows[k].count)
        }
    }
}

enum ScanOutcome: Equatable, CustomStringConvertible {
    case scanned(ScanResult)
    case failed(InputError)
    case badStatus(String)

    var result: ScanResult? { if case .scanned(let r) = self { r } else { nil } }
    var error: InputError? { if case .failed(let e) = self { e } else { nil } }

    var description: String {
        switch self {
        case .scanned(let r): "scanned(\(r))"
        case .failed(let e): "failed(\(e))"
        case .badStatus(let s): "badStatus(\(s))"
        }
    }
}

/// Scans `text` in one call with `isEOF: true`.
func scanWhole(_ text: String, _ format: ScanFormat = .csv, source: String = "t.csv") -> ScanOutcome {
    let storage = ByteStorage()
    storage.append(contentsOf: Array(text.utf8))
    let batch = RecordBatch(source: source, bytes: storage)
    let columns = SourceColumns()
    var scanner = format.makeScanner(source: source)
    do throws(InputError) {
        let status = try scanner.scan(into: batch, columns: columns, isEOF: true, maxRows: 1_000_000)
        guard status == .endOfInput else { return .badStatus("whole scan returned \(status)") }
    } catch {
        return .failed(error)
    }
    var result = ScanResult()
    result.collect(batch, columns)
    return .scanned(result)
}

/// Feeds `text` to one batch in chunks of `chunkSize` bytes, as reads would deliver it: every call
/// but the last must ask for more, the last (with `isEOF`) must finish the input.
func scanChunked(_ text: String, _ format: ScanFormat = .csv, chunkSize: Int, source: String = "t.csv") -> ScanOutcome {
    let bytes = Array(text.utf8)
    let storage = ByteStorage(capacity: 16)
    let batch = RecordBatch(source: source, bytes: storage)
    let columns = SourceColumns()
    var scanner = format.makeScanner(source: source)
    var offset = 0
    do throws(InputError) {
        repeat {
            let next = min(offset + chunkSize, bytes.count)
            storage.append(contentsOf: bytes[offset..<next])
            offset = next
            let eof = offset == bytes.count
            let status = try scanner.scan(into: batch, columns: columns, isEOF: eof, maxRows: 1_000_000)
            if eof && status != .endOfInput { return .badStatus("last chunk returned \(status)") }
            if !eof && status != .needMore { return .badStatus("chunk ending at \(offset) returned \(status)") }
        } while offset < bytes.count
    } catch {
        return .failed(error)
    }
    var result = ScanResult()
    result.collect(batch, columns)
    return .scanned(result)
}

/// Scans `text` (all present, EOF) into batches of at most `maxRows` rows, handing the unscanned
/// bytes of a full batch to the next one as the loader does.
func scanInBatches(_ text: String, _ format: ScanFormat = .csv, maxRows: Int, source: String = "t.csv")
    -> (ScanOutcome, batchCount: Int)
{
    var batch = RecordBatch(source: source, bytes: ByteStorage())
    batch.bytes.append(contentsOf: Array(text.utf8))
    let columns = SourceColumns()
    var scanner = format.makeScanner(source: source)
    var result = ScanResult()
    var batches = 0
    do throws(InputError) {
        while true {
            let status = try scanner.scan(into: batch, columns: columns, isEOF: true, maxRows: maxRows)
            batches += 1
            result.collect(batch, columns)
            if status == .endOfInput { break }
            guard status == .batchFull else { return (.badStatus("batch returned \(status)"), batches) }
            if batch.rowCount > maxRows { return (.badStatus("batch holds \(batch.rowCount) rows"), batches) }
            let next = RecordBatch(source: source, bytes: ByteStorage())
            batch.handOverUnscanned(to: next)
            batch = next
        }
    } catch {
        return (.failed(error), batches)
    }
    return (.scanned(result), batches)
}

/// A batch scanned from `text`, with its columns, for the encoder and planner tests.
func makeBatch(_ text: String, _ format: ScanFormat = .csv, source: String = "t.csv") throws -> (RecordBatch, SourceColumns) {
    let storage = ByteStorage()
    storage.append(contentsOf: Array(text.utf8))
    let batch = RecordBatch(source: source, bytes: storage)
    let columns = SourceColumns()
    var scanner = format.makeScanner(source: source)
    let status = try scanner.scan(into: batch, columns: columns, isEOF: true, maxRows: 1_000_000)
    try #require(status == .endOfInput)
    batch.finish(columnCount: columns.count)
    return (batch, columns)
}

/// Calls `body` with the bytes of `text` (a non-nil pointer even for the empty string).
func withBytes<T>(_ text: String, _ body: (UnsafePointer<UInt8>, Int) throws -> T) rethrows -> T {
    var bytes = Array(text.utf8)
    let n = bytes.count
    bytes.append(0)  // a non-hex, non-digit sentinel so an empty string still has a pointer
    return try bytes.withUnsafeBufferPointer { try body($0.baseAddress!, n) }
}

/// Big-endian readers for encoder output.
struct ByteReader {
    let bytes: [UInt8]
    var at = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var isAtEnd: Bool { at == bytes.count }

    mutating func int16() -> Int16 {
        defer { at += 2 }
        return Int16(bitPattern: UInt16(bytes[at]) << 8 | UInt16(bytes[at + 1]))
    }

    mutating func int32() -> Int32 {
        var v: UInt32 = 0
        for k in 0..<4 { v = v << 8 | UInt32(bytes[at + k]) }
        at += 4
        return Int32(bitPattern: v)
    }

    mutating func int64() -> Int64 {
        var v: UInt64 = 0
        for k in 0..<8 { v = v << 8 | UInt64(bytes[at + k]) }
        at += 8
        return Int64(bitPattern: v)
    }

    mutating func take(_ n: Int) -> [UInt8] {
        defer { at += n }
        return Array(bytes[at..<at + n])
    }
}

/// Big-endian byte builders for expected encoder output.
func be16(_ v: Int16) -> [UInt8] { withUnsafeBytes(of: UInt16(bitPattern: v).bigEndian, Array.init) }
func be32(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: UInt32(bitPattern: v).bigEndian, Array.init) }
func be64(_ v: Int64) -> [UInt8] { withUnsafeBytes(of: UInt64(bitPattern: v).bigEndian, Array.init) }
