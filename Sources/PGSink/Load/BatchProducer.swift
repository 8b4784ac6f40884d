import Foundation
import PGSinkCore

/// One unit of work for the connection: DDL to run, then a COPY payload.
struct LoadStep: @unchecked Sendable {
    var statements: [String]
    var columns: [CopyColumn]
    var format: CopyFormat
    var data: ByteStorage
    var rows: Int
    /// Merge: whether a key occurs more than once in the batch (the upsert must then pick the last).
    var keysRepeat: Bool
    /// The input and its line of each row, to name the line a server error points at.
    var source: String
    var lines: [Int]
}

/// Reads the inputs, scans them into batches, plans the schema and encodes COPY payloads.
/// Runs on its own thread; everything it owns is touched by that thread alone until it finishes.
final class BatchProducer: @unchecked Sendable {
    let request: LoadRequest
    var planner: SchemaPlanner
    var encoder = BatchEncoder()
    let sources = SourceColumns()
    var fingerprints: [String] = []
    var sourceNames: [String] = []
    /// The content fingerprint of all inputs, for the ledger (known once every input is read).
    var fingerprint: String { fingerprints.joined(separator: "+") }
    /// The input names, for the ledger and messages.
    var sourceText: String { sourceNames.joined(separator: ", ") }
    var rows = 0
    var format: CopyFormat = .binary
    private var sequence: Int64 = 0
    private let progress: (@Sendable (LoadProgress) -> Void)?
    private let readSize = 1 << 20

    init(request: LoadRequest, planner: SchemaPlanner, progress: (@Sendable (LoadProgress) -> Void)?) {
        self.request = request
        self.planner = planner
        self.progress = progress
    }

    deinit { encoder.release() }

    func run(into queue: WorkQueue<LoadStep>) throws {
        let files = try request.inputs.map { path throws(InputError) in try InputFile(path: path) }
        let total: Int? = files.reduce(0 as Int?) { sum, file in sum.flatMap { s in file.size.map { s + $0 } } }
        var doneBefore = 0
        for (file, path) in zip(files, request.inputs) {
            sourceNames.append(file.name)
            var scanner: any RecordScanner =
                switch try request.format(of: path) {
                case .csv: CSVScanner(source: file.name, delimiter: request.delimiter(of: path), hasHeader: request.header)
                case .jsonl: JSONLinesScanner(source: file.name)
                }
            var batch = newBatch(file)
            var eof = false
            scanning: while true {
                if queue.isCancelled { throw WorkQueue<LoadStep>.Cancelled() }
                let status = try scanner.scan(into: batch, columns: sources, isEOF: eof, maxRows: request.batchRows)
                switch status {
                case .needMore:
                    if batch.bytes.count >= request.batchBytes && batch.rowCount > 0 {
                        batch = try emit(batch, continuing: file, into: queue)
                    } else if try file.read(into: batch.bytes, count: readSize) == 0 {
                        eof = true
                    }
                    progress?(LoadProgress(bytesRead: doneBefore + file.position, bytesTotal: total, rows: rows + batch.rowCount))
                case .batchFull:
                    batch = try emit(batch, continuing: file, into: queue)
                case .endOfInput:
                    if batch.rowCount > 0 || sources.count > planner.targetOf.count {
                        _ = try emit(batch, continuing: nil, into: queue)
                    }
                    break scanning
                }
            }
            doneBefore += file.size ?? file.position
            fingerprints.append(file.fingerprint)
        }
        progress?(LoadProgress(bytesRead: doneBefore, bytesTotal: total, rows: rows))
    }

    /// Whether two rows of the batch may share a key: compares hashes of the key bytes, so a
    /// collision only costs the server a sort, never a wrong answer.
    static func keysRepeat(in batch: RecordBatch, columns: [CopyColumn]) -> Bool {
        let keySlots = columns.filter(\.required).compactMap(\.source)
        var seen = Set<Int>(minimumCapacity: batch.rowCount)
        for row in 0..<batch.rowCount {
            var hasher = Hasher()
            for slot in keySlots {
                let cell = batch.cell(row: row, column: slot)
                hasher.combine(Int(cell.length))
                hasher.combine(bytes: UnsafeRawBufferPointer(start: batch.pointer(cell), count: Int(cell.length)))
            }
            if !seen.insert(hasher.finalize()).inserted { return true }
        }
        return false
    }

    private func newBatch(_ file: InputFile) -> RecordBatch {
        RecordBatch(source: file.name, bytes: ByteStorage(capacity: request.batchBytes + readSize + 1024))
    }

    /// Plans and encodes a finished batch, hands it to the connection, and starts the next
    /// batch with the bytes this one did not scan.
    private func emit(_ batch: RecordBatch, continuing file: InputFile?, into queue: WorkQueue<LoadStep>) throws
        -> RecordBatch
    {
        batch.finish(columnCount: sources.count)
        var statements = try planner.prepare(batch, sources: sources)
        let merge = request.mode == .merge
        while true {
            let columns = planner.copyColumns
            let format = CopyFormat.best(for: columns)
            switch try encoder.encode(batch, columns: columns, format: format, sequenceStart: merge ? sequence : nil) {
            case .misfits(let misfits):
                statements += try planner.widen(misfits, in: batch)
            case .encoded(let data):
                if format == .text { self.format = .text }
                let keysRepeat = merge && Self.keysRepeat(in: batch, columns: columns)
                try queue.push(
                    LoadStep(
                        statements: statements, columns: columns, format: format, data: data, rows: batch.rowCount,
                        keysRepeat: keysRepeat, source: batch.source, lines: batch.rowLines))
                rows += batch.rowCount
                sequence += Int64(batch.rowCount)
                guard let file else { return batch }
                let next = newBatch(file)
                batch.handOverUnscanned(to: next)
                return next
            }
        }
    }
}
