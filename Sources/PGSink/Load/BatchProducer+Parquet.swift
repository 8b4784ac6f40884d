import PGSinkCore

extension BatchProducer {
    /// Reads a Parquet input: its footer first, then one row group at a time (each column chunk
    /// read and decoded whole, so memory is bounded by the largest row group), its rows written
    /// into batches of the same kind the CSV and JSON scanners fill. Column types come from the
    /// file's schema (`ParquetCellFormat`), declared to the planner as a Singer schema's are.
    func readParquet(_ path: String, into queue: WorkQueue<LoadStep>, doneBefore: Int, total: Int?) throws -> Int {
        let file = try ParquetFile(path: path)
        let name = file.name
        func failure(_ message: String) -> InputError { InputError(source: name, line: 0, message: message) }
        let schema = file.schema
        // --columns: only the named top-level fields, and only their leaves' chunks are read.
        var fields = schema.fields
        if let wanted = request.columns {
            let names = Set(fields.map(\.element.name))
            if let missing = wanted.first(where: { !names.contains($0) }) {
                throw failure(
                    "--columns names \(missing), which the file does not have (its columns: "
                        + fields.map(\.element.name).joined(separator: ", ") + ")")
            }
            fields = fields.filter { wanted.contains($0.element.name) }
        }
        let readLeaves = Set(fields.flatMap(\.leafIndices))
        // Unread leaves get a placeholder: a type pgsink cannot read matters only when it is loaded.
        var formats: [ParquetCellFormat] = []
        for (index, leaf) in schema.leaves.enumerated() {
            guard readLeaves.contains(index) else {
                formats.append(.bytea)
                continue
            }
            do {
                formats.append(try ParquetCellFormat.of(leaf).0)
            } catch {
                throw failure(error.message)
            }
        }
        if request.nested != .jsonb && fields.contains(where: \.isNested) {
            return try readParquetRecords(file, fields: fields, formats: formats, into: queue, doneBefore: doneBefore, total: total)
        }
        // A flat field takes its leaf's type; a nested one (LIST, MAP, group) is one jsonb column.
        var slots: [Int] = []
        var declared: [ColumnType] = []
        for field in fields {
            slots.append(root.sources.slot(for: field.element.name))
            if let leaf = field.leaf, !field.isRepeated {
                declared.append(try ParquetCellFormat.of(schema.leaves[leaf]).1)
            } else {
                declared.append(.jsonb)
            }
            root.planner.declaredTypes[field.element.name] = declared[declared.count - 1]
        }
        let rowsBefore = rows
        var line = 1
        var read = 0
        var batch = parquetBatch(name)
        // Flat columns keep their compressed chunk and decode a page at a time; a nested field's
        // leaves are decoded whole.
        let flatLeaves = Set(fields.filter { !$0.isNested }.compactMap(\.leaf))
        for (number, group) in file.metadata.rowGroups.enumerated() {
            let (decoded, streams) = try readChunks(
                file, group: number, leaves: readLeaves, streamed: flatLeaves, read: &read, queue: queue)
            var groupRows: ParquetRowGroupRows
            do {
                groupRows = try ParquetRowGroupRows(
                    leaves: schema.leaves, fields: fields, formats: formats, slots: slots, columns: decoded,
                    streams: streams, rowCount: Int(group.rowCount))
            } catch {
                throw failure("row group \(number): \(error.message)")
            }
            while !groupRows.isDone {
                groupRows.binaryTypes = binaryTypes(fields, slots: slots, declared: declared, formats: formats, leaves: schema.leaves.count)
                do {
                    try groupRows.write(into: batch, maxRows: request.batchRows, maxBytes: request.batchBytes, firstLine: line)
                } catch let error as ParquetError {
                    throw failure("row group \(number): \(error.message)")
                }
                if batch.rowCount >= request.batchRows || batch.bytes.count >= request.batchBytes {
                    try queue.push(try makeStep(batch))
                    batch = parquetBatch(name)
                }
            }
            line += Int(group.rowCount)
            reportProgress(LoadProgress(bytesRead: doneBefore + read, bytesTotal: total, rows: rows + batch.rowCount))
        }
        if batch.rowCount > 0 || root.sources.count > root.planner.targetOf.count {
            try queue.push(try makeStep(batch))
        }
        try finishParquet(file, rowsBefore: rowsBefore)
        return file.size
    }

    private func parquetBatch(_ name: String) -> RecordBatch {
        RecordBatch(source: name, bytes: ByteStorage(capacity: min(request.batchBytes, 1 << 22) + 1024))
    }

    /// Reads row group `number`'s column chunks of `leaves` (one positioned read each): those in
    /// `streamed` as page streams, decoded as their rows are written, the others decoded whole.
    private func readChunks(
        _ file: ParquetFile, group number: Int, leaves wanted: Set<Int>, streamed: Set<Int>, read: inout Int,
        queue: WorkQueue<LoadStep>
    ) throws -> (decoded: [ParquetColumnData], streams: [ParquetPageStream?]) {
        let leaves = file.schema.leaves
        let group = file.metadata.rowGroups[number]
        guard group.columns.count == leaves.count else {
            throw InputError(
                source: file.name, line: 0,
                message: "row group \(number) has \(group.columns.count) column chunks; the schema has \(leaves.count) columns")
        }
        var decoded: [ParquetColumnData] = []
        var streams: [ParquetPageStream?] = []
        for (index, (leaf, meta)) in zip(leaves, group.columns).enumerated() {
            decoded.append(ParquetColumnData())
            streams.append(nil)
            guard wanted.contains(index) else { continue }
            if queue.isCancelled { throw WorkQueue<LoadStep>.Cancelled() }
            try Interrupt.check()
            do {
                let chunk = try file.read(at: Int(meta.start), count: Int(meta.compressedSize))
                read += chunk.count
                if streamed.contains(index) {
                    streams[index] = ParquetPageStream(chunk: chunk, leaf: leaf, meta: meta, inflate: ParquetCodecs.inflate)
                } else {
                    decoded[index] = try chunk.withUnsafeBytes { p in
                        try ParquetChunkDecoder.decode(p, leaf: leaf, meta: meta, inflate: ParquetCodecs.inflate)
                    }
                }
            } catch let error as ParquetError {
                throw InputError(source: file.name, line: 0, message: "row group \(number): \(error.message)")
            }
        }
        return (decoded, streams)
    }

    /// The input's fingerprint for the ledger and the duplicate guard, once its rows are read.
    private func finishParquet(_ file: ParquetFile, rowsBefore: Int) throws {
        let fingerprint: String
        do {
            fingerprint = try file.fingerprint()
        } catch {
            throw InputError(source: file.name, line: 0, message: error.message)
        }
        fingerprints.append(fingerprint)
        if rows > rowsBefore { try noteLoaded(file.name, fingerprint) }
    }

    /// `--nested flatten|tables` with nested fields: each row goes to the JSON Lines scanner as a
    /// JSON object (`ParquetRecordLines`), so groups, lists and maps become columns and child
    /// tables by the rules JSON input follows, while the types still come from the file's schema
    /// (declared to the table's planner and to each child table's).
    private func readParquetRecords(
        _ file: ParquetFile, fields: [ParquetNode], formats: [ParquetCellFormat], into queue: WorkQueue<LoadStep>,
        doneBefore: Int, total: Int?
    ) throws -> Int {
        let name = file.name
        let leaves = file.schema.leaves
        func failure(_ message: String) -> InputError { InputError(source: name, line: 0, message: message) }
        let layout: ParquetRecordLayout
        do {
            layout = try ParquetRecordLayout(fields: fields, leaves: leaves, nesting: nesting)
        } catch {
            throw failure(error.message)
        }
        for (source, type) in layout.rootTypes { root.planner.declaredTypes[source] = type }
        for (path, types) in layout.childTypes { childDeclaredTypes[path, default: [:]].merge(types) { $1 } }
        var scanner = JSONLinesScanner(source: name, nesting: layout.scannerNesting)
        let rowsBefore = rows
        var batch = parquetBatch(name)
        var read = 0
        /// Scans the lines written so far, handing over each batch that fills.
        func scan(isEOF: Bool) throws {
            while true {
                switch try scanner.scan(into: batch, columns: root.sources, isEOF: isEOF, maxRows: request.batchRows) {
                case .batchFull where batch.rowCount < request.batchRows && batch.scanned < request.batchBytes:
                    continue
                case .needMore where batch.bytes.count < request.batchBytes || batch.rowCount == 0:
                    return
                case .batchFull, .needMore:
                    try queue.push(try makeStep(batch))
                    let next = parquetBatch(name)
                    batch.handOverUnscanned(to: next)
                    batch = next
                case .endOfInput:
                    if batch.rowCount > 0 || root.sources.count > root.planner.targetOf.count {
                        try queue.push(try makeStep(batch))
                    }
                    return
                }
            }
        }
        let wanted = Set(fields.flatMap(\.leafIndices))
        for number in file.metadata.rowGroups.indices {
            let (decoded, _) = try readChunks(file, group: number, leaves: wanted, streamed: [], read: &read, queue: queue)
            var lines: ParquetRecordLines
            do {
                lines = try ParquetRecordLines(
                    layout: layout, leaves: leaves, formats: formats, columns: decoded,
                    rowCount: Int(file.metadata.rowGroups[number].rowCount))
            } catch {
                throw failure("row group \(number): \(error.message)")
            }
            while !lines.isDone {
                if queue.isCancelled { throw WorkQueue<LoadStep>.Cancelled() }
                lines.write(to: batch.bytes, maxBytes: batch.bytes.count + (1 << 20))
                try scan(isEOF: false)
            }
            reportProgress(LoadProgress(bytesRead: doneBefore + read, bytesTotal: total, rows: rows + batch.rowCount))
        }
        try scan(isEOF: true)
        try finishParquet(file, rowsBefore: rowsBefore)
        return file.size
    }

    /// The leaves whose values go in binary COPY form in the next batch, with their types: every
    /// flat column whose table column has exactly the declared type, once the table is planned
    /// (the first batch goes as text). None when a column only takes text (a `time` or `numeric(p,s)`
    /// that cannot go binary), and none in a merge, whose key hashes compare text forms.
    func binaryTypes(
        _ fields: [ParquetNode], slots: [Int], declared: [ColumnType], formats: [ParquetCellFormat], leaves: Int
    ) -> [ColumnType?] {
        var types = [ColumnType?](repeating: nil, count: leaves)
        let planner = root.planner
        guard request.mode != .merge else { return types }
        for (f, field) in fields.enumerated() {
            guard slots[f] < planner.targetOf.count else { return [ColumnType?](repeating: nil, count: leaves) }
            let target = planner.targetOf[slots[f]]
            guard target >= 0 else { continue }
            let type = planner.columns[target].type
            if let leaf = field.leaf, !field.isRepeated, type == declared[f],
                ParquetRowGroupRows.canWrite(formats[leaf], binaryAs: type)
            {
                types[leaf] = type
            } else if !type.hasBinaryEncoder {
                return [ColumnType?](repeating: nil, count: leaves)
            }
        }
        return types
    }
}
