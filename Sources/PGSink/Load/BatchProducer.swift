import Foundation
import PGSinkCore

/// The file reader: reads the inputs through zlib into batches, scans them in place and hands
/// each finished batch's step (built by `StepBuilder`) to the connection. Runs on its own thread;
/// everything it owns is touched by that thread alone until it finishes.
class BatchProducer: StepBuilder, @unchecked Sendable {
    let request: LoadRequest
    var fingerprints: [String] = []
    /// The fingerprint of each input that held at least one record, with its name: what the
    /// duplicate guard compares (a file with a header and no rows is never "already loaded").
    var loadedFiles: [(name: String, fingerprint: String)] = []
    var sourceNames: [String] = []
    /// The parts and readers of a parallel read (`ParallelRead`), when the inputs had one.
    var parallelRead: (parts: Int, readers: Int)?
    /// Lone UTF-16 surrogates in JSON strings, replaced by U+FFFD.
    var surrogatesReplaced = 0
    /// The content fingerprint of all inputs, for the ledger (known once every input is read).
    var fingerprint: String { fingerprints.joined(separator: "+") }
    /// The input names, for the ledger and messages.
    var sourceText: String { sourceNames.joined(separator: ", ") }
    private let progress: (@Sendable (LoadProgress) -> Void)?
    private let readSize = 1 << 20

    func reportProgress(_ value: LoadProgress) { progress?(value) }

    init(
        request: LoadRequest, planner: SchemaPlanner, sources: SourceColumns = SourceColumns(), layout: NestedLayout? = nil,
        childPlanner: @escaping (NestedLayout.Child, TableName) -> SchemaPlanner = { _, _ in fatalError("no child tables") },
        progress: (@Sendable (LoadProgress) -> Void)?
    ) {
        self.request = request
        self.progress = progress
        super.init(
            settings: StepSettings(
                mode: request.mode, maxRejects: request.maxRejects, contract: request.contract,
                discardsMisfits: request.discards != nil),
            planner: planner, sources: sources, layout: layout, childPlanner: childPlanner)
    }

    func run(into queue: WorkQueue<LoadStep>) throws {
        let files = try request.inputs.map { path throws(InputError) in try InputFile(path: path, encoding: request.encoding) }
        let total: Int? = files.reduce(0 as Int?) { sum, file in sum.flatMap { s in file.size.map { s + $0 } } }
        var doneBefore = 0
        for (file, path) in zip(files, request.inputs) {
            sourceNames.append(file.name)
            if try request.format(of: path) == .parquet {
                doneBefore += try readParquet(path, into: queue, doneBefore: doneBefore, total: total)
                continue
            }
            let rowsBefore = rows
            let batch = newBatch(file)
            var scanner: any RecordScanner
            var rewrite = ValueRewrite(markers: request.values.nullValues.filter { !$0.isEmpty }.map { Array($0.utf8) })
            switch try request.format(of: path) {
            case .csv:
                let sniffed = try sniff(file, options: request.dialect(of: path), into: batch)
                scanner = CSVScanner(source: file.name, dialect: sniffed.dialect)
                rewrite = sniffed.rewrite
            case .jsonl:
                scanner = JSONLinesScanner(source: file.name, nesting: nesting)
            case .json:
                scanner = JSONDocumentScanner(source: file.name, recordsPath: request.recordsPath, nesting: nesting)
            case .parquet:
                continue
            }
            try read(file, with: &scanner, rewrite: rewrite, first: batch, into: queue) {
                LoadProgress(bytesRead: doneBefore + $0, bytesTotal: total, rows: rows + $1)
            }
            doneBefore += file.size ?? file.position
            let fingerprint = file.fingerprint
            fingerprints.append(fingerprint)
            if rows > rowsBefore { try noteLoaded(file.name, fingerprint) }
        }
        progress?(LoadProgress(bytesRead: doneBefore, bytesTotal: total, rows: rows))
    }

    /// The columns scanners name their cells by: the load's (a reader of a parallel read keeps
    /// its own, `PartReader`).
    var scanColumns: SourceColumns { root.sources }

    /// Whether the scanners found columns no batch has brought to the planner yet (an input
    /// with a header and no rows still adds its columns).
    var hasUnplannedColumns: Bool { root.sources.count > root.planner.targetOf.count }

    /// Scans one input (or one part of it) with `scanner`, from `batch` on, handing each full batch
    /// on (`deliver`). `progress` turns (bytes taken from the input, rows of the open batch) into
    /// the load's progress.
    func read(
        _ file: InputFile, with scanner: inout any RecordScanner, rewrite: ValueRewrite, first batch: RecordBatch,
        into queue: WorkQueue<LoadStep>, progress report: (Int, Int) -> LoadProgress
    ) throws {
        var batch = batch
        currentRewrite = rewrite.isEmpty ? nil : rewrite
        currentFile = file
        var eof = false
        /// When the batch being filled from a pipe got its first row.
        var firstRowAt: ContinuousClock.Instant? = nil
        scanning: while true {
            if queue.isCancelled { throw WorkQueue<LoadStep>.Cancelled() }
            try Interrupt.check()
            let status = try scanner.scan(into: batch, columns: scanColumns, isEOF: eof, maxRows: rowLimit(batch))
            switch status {
            case .needMore:
                if file.waitsForWriter && batch.rowCount > 0 && firstRowAt == nil { firstRowAt = .now }
                if batch.rowCount > 0 && (batch.bytes.count >= request.batchBytes || isDue(firstRowAt)) {
                    batch = try emit(batch, continuing: file, scanner: scanner, into: queue)
                    firstRowAt = nil
                } else if try readMore(file, into: batch, rowsSince: firstRowAt) == 0 {
                    eof = true
                }
                progress?(report(file.position, batch.rowCount))
            case .batchFull:
                if batch.rowCount < request.batchRows && batch.scanned < request.batchBytes { continue }
                batch = try emit(batch, continuing: file, scanner: scanner, into: queue)
                firstRowAt = nil
            case .endOfInput:
                if batch.rowCount > 0 || hasUnplannedColumns {
                    _ = try emit(batch, continuing: nil, scanner: scanner, into: queue)
                }
                break scanning
            }
        }
        if let json = scanner as? JSONLinesScanner { surrogatesReplaced += json.surrogatesReplaced }
        if let json = scanner as? JSONDocumentScanner { surrogatesReplaced += json.surrogatesReplaced }
    }

    /// How each CSV input was read, and what options would type its columns better.
    var dialects: [CSVDialectReport] = []
    var hints: [String] = []
    /// The current input's value rewrite (nil: none, the usual case) and CSV field slots.
    private var currentRewrite: ValueRewrite?
    /// The input being read, until its first batch is handed over (for `LoadRequest.firstBatchObserver`).
    private var currentFile: InputFile?

    /// The same content twice in one append (one file named twice, or a copy) is refused unless
    /// --force: it would land twice.
    func noteLoaded(_ name: String, _ fingerprint: String) throws {
        if request.mode == .append && !request.force,
            let earlier = loadedFiles.first(where: { $0.fingerprint == fingerprint })
        {
            let same = earlier.name == name ? "\(name) is named twice" : "\(name) has the same content as \(earlier.name)"
            throw LoadError(
                "\(same) in this load, so its rows would be loaded twice; nothing was loaded. Name each file once, "
                    + "or pass --force to load it twice")
        }
        loadedFiles.append((name, fingerprint))
    }

    var nesting: Nesting {
        let separator = request.nestedSeparator
        let keep = request.jsonColumns.map { $0.split(separator: ".").joined(separator: separator) }
        switch request.nested {
        case .jsonb: return .none
        case .flatten(let depth): return Nesting(flattenDepth: depth, separator: separator, keepWhole: keep)
        case .tables: return Nesting(flattenDepth: 1000, separator: separator, keepWhole: keep, layout: layout)
        }
    }

    /// The next read: at most what the batch has room for under --batch-bytes, so small batches
    /// stay small. A record longer than a whole batch is read in doubling steps (it is scanned
    /// again from its start after each read). From a pipe, the read waits no longer than until
    /// the batch's rows are due (and a quarter second at a time, so an interrupt is seen); nil
    /// when it waited in vain.
    private func readMore(_ file: InputFile, into batch: RecordBatch, rowsSince: ContinuousClock.Instant?) throws
        -> Int?
    {
        let room = request.batchBytes - batch.bytes.count
        let count = min(readSize, room > 0 ? room : max(batch.bytes.count, 1))
        guard file.waitsForWriter else { return try file.read(into: batch.bytes, count: count) }
        var wait = 0.25
        if let rowsSince { wait = min(wait, max(0, request.batchSeconds - seconds(since: rowsSince))) }
        return try file.read(into: batch.bytes, count: count, waitingAtMost: wait)
    }

    /// A batch holding more than --batch-bytes (after a record longer than a batch was read) is
    /// scanned a row at a time, so it goes out once its rows reach the limit.
    private func rowLimit(_ batch: RecordBatch) -> Int {
        batch.bytes.count > request.batchBytes ? min(request.batchRows, batch.rowCount + 1) : request.batchRows
    }

    /// Rows from a pipe are sent once they waited --batch-timeout seconds for the batch to fill.
    private func isDue(_ firstRowAt: ContinuousClock.Instant?) -> Bool {
        guard let firstRowAt else { return false }
        return seconds(since: firstRowAt) >= request.batchSeconds
    }

    func seconds(since instant: ContinuousClock.Instant) -> Double {
        let elapsed = instant.duration(to: .now).components
        return Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
    }

    /// Plans and encodes a batch and hands its step to the connection.
    func deliver(_ batch: RecordBatch, into queue: WorkQueue<LoadStep>) throws {
        try queue.push(try makeStep(batch))
    }

    func newBatch(_ file: InputFile) -> RecordBatch {
        RecordBatch(source: file.name, bytes: ByteStorage(capacity: request.batchBytes + readSize + 1024))
    }

    /// Plans and encodes a finished batch, hands it to the connection, and starts the next batch
    /// with the bytes this one did not scan.
    private func emit(
        _ batch: RecordBatch, continuing file: InputFile?, scanner: any RecordScanner, into queue: WorkQueue<LoadStep>
    ) throws -> RecordBatch {
        if let currentRewrite { currentRewrite.apply(to: batch, slots: (scanner as? CSVScanner)?.fieldSlots) }
        if let current = currentFile, let observer = request.firstBatchObserver {
            observer(current.name, current.bytesRead)
        }
        currentFile = nil
        try deliver(batch, into: queue)
        guard let file else { return batch }
        let next = newBatch(file)
        next.reserve(rows: batch.rowCount, cells: batch.cells.count)
        batch.handOverUnscanned(to: next)
        return next
    }
}
