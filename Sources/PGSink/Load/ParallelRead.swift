import Foundation
import PGSinkCore

#if canImport(Glibc)
import Glibc
#endif

/// Reads a load's inputs on several threads at once: several files side by side, and a large
/// plain file cut at row boundaries (`RowBoundaries`: never inside a quoted CSV field) into parts
/// read side by side. Each reader (`PartReader`) scans, plans and encodes its batches; the load
/// keeps one plan, which the readers share:
///
/// - a reader's columns are its own while it scans; a finished batch is renumbered to the load's
///   columns (nothing moves when both number them alike, the usual case);
/// - a reader plans and encodes against a copy of the load's plan (`StepBuilder.makeStep`, the
///   code every load runs), then, under the lock, hands its step to the connections only if the
///   plan did not change meanwhile (its CREATE TABLE, ADD COLUMN or widening become the plan, in
///   the order the connections apply them); otherwise it makes the step again from the new plan.
///   Plans change on the first batches and when a column widens, so steps are rarely made twice.
/// - a part's first step waits until every earlier part's first step went (or the part ended):
///   columns get their place and first type in input order, as with one reader. Widening is a
///   join, the same in any order; only a JSON key first met after a part's first batch may be
///   placed (and, if that batch holds only NULLs for it, first typed) in the order readers meet it.
///
/// A merge numbers each part's rows after every earlier part's (`numberRows`), so the last record
/// of a key in input order wins as with one reader. The inputs' fingerprints are those one reader
/// would record: a part's reader keeps none; the pass that finds the cuts hashes the whole file.
final class ParallelRead: @unchecked Sendable {
    /// One input as the readers read it.
    struct Input {
        var path: String
        var format: InputFormat
        /// CSV: how it is written (sniffed once, here), its value rewrite and field names.
        var dialect: CSVDialect?
        var rewrite: ValueRewrite
        var header: [[UInt8]]?
        /// The cuts of a split file (its parts start at 0 and at each cut), and its fingerprint.
        var cuts: [RowBoundaries.Cut] = []
        var fingerprint: String?
        var size: Int?
    }

    /// One part of one input: a whole input, or a range of a split one.
    struct Part {
        var input: Int
        var range: Range<Int>?
        var line: Int
    }

    let primary: BatchProducer
    let readers: Int
    private(set) var inputs: [Input] = []
    private(set) var parts: [Part] = []
    private let lock = NSCondition()
    /// Parts whose first step reached the connections, or that ended without one; every part
    /// before `frontier` is.
    private var settled: [Bool] = []
    private var frontier = 0
    /// Bumped each time a step changing the plan goes to the connections.
    private var version = 0
    private var nextPart = 0
    private var bytesDone = 0
    private var rowsDone = 0
    private var total = 0
    private var failure: Error?

    private init(primary: BatchProducer, readers: Int) {
        self.primary = primary
        self.readers = readers
    }

    /// A parallel read of `producer`'s inputs over `readers` threads, when there is more than one
    /// part to read: files (plain or gzip, CSV or JSON Lines), not standard input.
    static func planned(for producer: BatchProducer, readers: Int) throws -> ParallelRead? {
        let request = producer.request
        guard readers > 1, !request.inputs.isEmpty, !request.inputs.contains("-") else { return nil }
        for path in request.inputs {
            guard [.csv, .jsonl].contains(try request.format(of: path)) else { return nil }
        }
        let read = ParallelRead(primary: producer, readers: readers)
        let reports = (producer.dialects.count, producer.hints.count)
        try read.plan()
        guard read.parts.count > 1 else {
            // The producer reads the one input itself, and sniffs it again: one report of it.
            producer.dialects.removeSubrange(reports.0...)
            producer.hints.removeSubrange(reports.1...)
            return nil
        }
        return read
    }

    /// Sniffs each CSV input once and cuts large plain files into parts.
    private func plan() throws {
        let request = primary.request
        let sizes = request.inputs.map { Self.regularSize(of: $0) }
        total = sizes.reduce(0) { $0 + ($1 ?? 0) }
        let partSize = max(request.readPartBytes, total / (readers * 2))
        for (index, path) in request.inputs.enumerated() {
            let format = try request.format(of: path)
            var input = Input(
                path: path, format: format, dialect: nil,
                rewrite: ValueRewrite(markers: request.values.nullValues.filter { !$0.isEmpty }.map { Array($0.utf8) }),
                size: sizes[index])
            if format == .csv {
                let file = try InputFile(path: path, encoding: request.encoding)
                let batch = primary.newBatch(file)
                let sniffed = try primary.sniff(file, options: request.dialect(of: path), into: batch)
                input.dialect = sniffed.dialect
                input.rewrite = sniffed.rewrite
                input.header = Self.fieldNames(in: batch, dialect: sniffed.dialect, source: file.name)
            }
            if let size = sizes[index], size >= 2 * partSize, input.format == .jsonl || input.header != nil,
                try isPlainUTF8(path)
            {
                let wanted = stride(from: partSize, to: size - partSize / 2, by: partSize).map { $0 }
                // The parts end where the pass that hashed the file ended (it may have grown since `stat`).
                (input.cuts, input.fingerprint, input.size) = try Self.cut(path, at: wanted, csv: input.dialect)
            }
            inputs.append(input)
            let starts = [(0, 1)] + input.cuts.map { ($0.offset, $0.line) }
            if input.cuts.isEmpty {
                parts.append(Part(input: index, range: nil, line: 1))
                continue
            }
            for (k, start) in starts.enumerated() {
                let end = k + 1 < starts.count ? starts[k + 1].0 : input.size!
                parts.append(Part(input: index, range: start.0..<end, line: start.1))
            }
        }
    }

    /// The field names of a CSV input's first record, as its scanner maps them; nil when the
    /// sample does not hold it (the input is then read whole, by one reader).
    private static func fieldNames(in sample: RecordBatch, dialect: CSVDialect, source: String) -> [[UInt8]]? {
        var scanner = CSVScanner(source: source, dialect: dialect)
        let columns = SourceColumns()
        guard (try? scanner.scan(into: sample, columns: columns, isEOF: false, maxRows: 1)) != nil else { return nil }
        return scanner.fieldNames(in: columns)
    }

    private static func regularSize(of path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(info.st_size)
    }

    /// Neither gzip nor UTF-16 nor in another character set: bytes a part's reader reads as they are.
    private func isPlainUTF8(_ path: String) throws -> Bool {
        if let charset = primary.request.encoding, !Transcoder.isUTF8(charset) { return false }
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = [UInt8](try handle.read(upToCount: 2) ?? Data())
        return head != [0x1F, 0x8B] && head != [0xFF, 0xFE] && head != [0xFE, 0xFF]
    }

    /// One pass over a file: the cuts at or after `wanted`, and the SHA-256 and size of all of it.
    private static func cut(_ path: String, at wanted: [Int], csv: CSVDialect?) throws
        -> ([RowBoundaries.Cut], String, Int)
    {
        let file = try InputFile(path: path)
        let storage = ByteStorage(capacity: 1 << 20)
        var boundaries = RowBoundaries(wanted: wanted, csv: csv)
        while true {
            try Interrupt.check()
            storage.count = 0
            let n = try file.read(into: storage, count: 1 << 20)
            if n == 0 { break }
            boundaries.feed(UnsafePointer(storage.base), count: n)
        }
        return (boundaries.cuts, file.fingerprint, file.bytesRead)
    }

    /// Reads every part on `readers` threads, handing the steps to `queue`; then gives the
    /// primary producer the whole read's names, fingerprints, rows and counts, as one reader
    /// would have left them.
    func run(into queue: WorkQueue<LoadStep>) throws {
        settled = Array(repeating: false, count: parts.count)
        let group = DispatchGroup()
        var made: [PartReader] = []
        for _ in 0..<min(readers, parts.count) {
            let reader = PartReader(read: self)
            made.append(reader)
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                do {
                    while let index = take() { try reader.read(part: index, into: queue) }
                } catch {
                    // The other readers stop at their next batch; the connections get the error
                    // once they took every step before it (`Pipeline`).
                    lock.withLock {
                        if failure == nil || failure is WorkQueue<LoadStep>.Cancelled { failure = error }
                        lock.broadcast()
                    }
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        if let failure { throw failure }
        try finish(made)
    }

    private func take() -> Int? {
        lock.withLock {
            guard failure == nil, nextPart < parts.count else { return nil }
            nextPart += 1
            return nextPart - 1
        }
    }

    /// The record one reader keeps, from all of them: names and fingerprints in input order.
    private func finish(_ readers: [PartReader]) throws {
        var rowsOfInput = [Int](repeating: 0, count: inputs.count)
        var fingerprintOf = inputs.map(\.fingerprint)
        var tally = primary.tally
        for reader in readers {
            for (input, rows) in reader.rowsOfInput { rowsOfInput[input] += rows }
            for (input, fingerprint) in reader.wholeInputFingerprints { fingerprintOf[input] = fingerprint }
            primary.surrogatesReplaced += reader.surrogatesReplaced
            tally.rows += reader.tally.rows
            tally.nulsRemoved += reader.tally.nulsRemoved
        }
        primary.tally = tally
        for (index, input) in inputs.enumerated() {
            let name = input.path
            primary.sourceNames.append(name)
            let fingerprint = fingerprintOf[index] ?? ""
            primary.fingerprints.append(fingerprint)
            if rowsOfInput[index] > 0 { try primary.noteLoaded(name, fingerprint) }
        }
        primary.parallelRead = (parts.count, readers.count)
        primary.reportProgress(LoadProgress(bytesRead: total, bytesTotal: total, rows: primary.rows))
    }

    /// Puts a reader's finished batch in the load's column numbering, then makes its step against
    /// the load's plan and hands it on (see the type's comment).
    fileprivate func deliver(_ batch: RecordBatch, from reader: PartReader, into queue: WorkQueue<LoadStep>) throws {
        try lock.withLock {
            // A part's first step waits for every earlier part's: the load meets new columns, and
            // gives them their place and first type, in input order, as one reader does.
            while !reader.partSettled && frontier < reader.part && failure == nil { lock.wait() }
            if failure != nil { throw WorkQueue<LoadStep>.Cancelled() }
            if let map = primary.root.sources.numbering(from: reader.scanColumns) { batch.renumber(map) }
            reader.plannedColumns = reader.scanColumns.count
        }
        while true {
            let seen = lock.withLock {
                reader.root.sources.catchUp(to: primary.root.sources.snapshot)
                reader.root.planner = primary.root.planner
                return version
            }
            let before = reader.tally
            let step = try reader.makeStep(batch)
            let handed = try lock.withLock {
                if failure != nil { throw WorkQueue<LoadStep>.Cancelled() }
                guard version == seen else { return false }
                primary.root.planner = reader.root.planner
                if !step.statements.isEmpty { version += 1 }
                try queue.push(step)
                rowsDone += step.root.encoded.rows.count
                if !reader.partSettled {
                    reader.partSettled = true
                    settle(reader.part)
                }
                return true
            }
            if handed { return }
            reader.tally = before
        }
    }

    /// Notes (under the lock) that part `index` no longer holds later parts back.
    private func settle(_ index: Int) {
        settled[index] = true
        while frontier < settled.count && settled[frontier] { frontier += 1 }
        lock.broadcast()
    }

    /// Part `index` ended (maybe without a step): it holds no part back.
    fileprivate func ended(part index: Int) { lock.withLock { settle(index) } }

    /// Progress over all readers: `bytes` more of the inputs read.
    fileprivate func read(bytes: Int) {
        let (done, rows) = lock.withLock {
            bytesDone += bytes
            return (bytesDone, rowsDone)
        }
        primary.reportProgress(LoadProgress(bytesRead: done, bytesTotal: total > 0 ? total : nil, rows: rows))
    }
}

/// One thread of a `ParallelRead`: a producer whose scanners name columns of its own and whose
/// batches reach the connections through the read's shared plan.
final class PartReader: BatchProducer, @unchecked Sendable {
    private unowned let parallel: ParallelRead
    private let own = SourceColumns()
    /// How many of its own columns the load's plan has seen.
    fileprivate var plannedColumns = 0
    /// The part being read, and whether its first step reached the connections.
    fileprivate var part = 0
    fileprivate var partSettled = false
    /// Rows this reader read of each input, and the fingerprints of whole inputs it read.
    fileprivate var rowsOfInput: [Int: Int] = [:]
    fileprivate var wholeInputFingerprints: [Int: String] = [:]

    fileprivate init(read: ParallelRead) {
        parallel = read
        let primary = read.primary
        // Batches as big as one reader's would keep N times the memory in flight: each reader's
        // are 1/N of them (50,000 lineitem rows are about 6.5 MB; 25,000 cost no more per row).
        var request = primary.request
        request.batchRows = max(1000, request.batchRows / read.readers)
        request.batchBytes = max(1 << 20, request.batchBytes / read.readers)
        // Progress goes to the read, which adds up all readers' (see `read(part:into:)`).
        super.init(request: request, planner: primary.root.planner, progress: { _ in })
        serverInput = primary.serverInput
    }

    override var scanColumns: SourceColumns { own }
    override var hasUnplannedColumns: Bool { own.count > plannedColumns }

    override func deliver(_ batch: RecordBatch, into queue: WorkQueue<LoadStep>) throws {
        try parallel.deliver(batch, from: self, into: queue)
    }

    fileprivate func read(part index: Int, into queue: WorkQueue<LoadStep>) throws {
        self.part = index
        partSettled = false
        defer { parallel.ended(part: index) }
        let part = parallel.parts[index]
        let input = parallel.inputs[part.input]
        let file = try part.range.map { try InputFile(path: input.path, range: $0) }
            ?? InputFile(path: input.path, encoding: request.encoding)
        let name = file.name
        var scanner: any RecordScanner
        switch input.format {
        case .csv:
            let dialect = input.dialect ?? CSVDialect()
            scanner = part.line > 1
                ? CSVScanner(source: name, dialect: dialect, continuingAt: part.line, header: input.header ?? [])
                : CSVScanner(source: name, dialect: dialect)
        default:
            scanner = JSONLinesScanner(source: name, nesting: nesting, continuingAt: part.line)
        }
        // A merge's rows are numbered after every earlier part's.
        numberRows(from: Int64(index) << 40)
        let rowsBefore = rows
        var taken = 0
        try read(file, with: &scanner, rewrite: input.rewrite, first: newBatch(file), into: queue) { position, _ in
            parallel.read(bytes: position - taken)
            taken = position
            return LoadProgress(bytesRead: position, bytesTotal: nil, rows: 0)
        }
        parallel.read(bytes: file.position - taken)
        rowsOfInput[part.input, default: 0] += rows - rowsBefore
        if part.range == nil { wholeInputFingerprints[part.input] = file.fingerprint }
    }
}
