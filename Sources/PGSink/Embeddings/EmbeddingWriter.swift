import Foundation
import Logging
import PGSinkCore

/// What one pass of the embedding writer did to a table's embeddings.
public struct EmbeddingOutcome: Codable, Sendable, Equatable {
    /// The embeddings table.
    public var table: String
    /// Rows whose text was read and hashed.
    public var rowsChecked = 0
    /// Rows whose text changed (or was new) and were embedded again.
    public var rowsEmbedded = 0
    public var chunks = 0
    /// Chunks removed because their row is gone.
    public var orphansDeleted = 0
    /// Rows whose chunks are marked pending (`on_error: defer`): `pgsink embed` fills them in.
    public var pending = 0
}

/// Writes `<table>_embeddings` for the rows of one table, inside the caller's transaction and on
/// its connection, so the chunks commit (or roll back) with the rows they describe.
///
/// The rows it looks at are those this transaction wrote (their `xmin` is one of its ids), or
/// every row when the embeddings table is new or the rows came from other transactions (a
/// parallel load's). For each, the embedded text and its hash are computed; a row whose hash the
/// stored chunks already carry costs nothing. The others are split, embedded in batches, and
/// their chunks replaced: deleted, then copied in (binary COPY through a temporary table).
struct EmbeddingWriter {
    let config: PgVectorConfig
    let spec: PgVectorConfig.Table
    let table: TableName
    let naming: NamingRules
    let logger: Logger
    var provider: EmbeddingProvider

    /// Rows fetched from the cursor at a time, and the chunks embedded per provider call.
    static let fetchRows = 1000
    static let flushChunks = 4096
    static let stage = "_pgsink_chunks"
    static let cursor = "_pgsink_embed"
    static let pendingHash = "pending"

    init(config: PgVectorConfig, spec: PgVectorConfig.Table, table: TableName, naming: NamingRules, logger: Logger) {
        self.config = config
        self.spec = spec
        self.table = table
        self.naming = naming
        self.logger = logger
        provider = config.makeProvider()
    }

    var embeddingsTable: TableName {
        spec.target.map { TableName(schema: table.schema, name: $0) } ?? SQL.embeddingsTable(of: table)
    }

    /// One pass. `allRows`: look at every row, not only this transaction's; `deletes`: rows may
    /// have been deleted, so chunks without a row go.
    func refresh(on connection: PGConnection, allRows: Bool, deletes: Bool) throws -> EmbeddingOutcome? {
        guard var columns = try Self.columns(of: table, on: connection) else { return nil }
        let embedded = try spec.embedColumns.map { try column($0, in: columns, for: "embed_columns") }
        var metadata = try spec.metadataColumns.map { try column($0, in: columns, for: "metadata_columns") }
        try Self.ensureExtension(on: connection)
        let key = try self.key(of: columns, on: connection)
        // The key is on every chunk already.
        metadata.removeAll { key.contains($0) }
        let own = [SQL.chunkIndexColumn, SQL.chunkColumn, SQL.embeddingColumn, SQL.contentHashColumn]
        if let clash = (key + metadata).first(where: own.contains) {
            throw LoadError(
                "\(table)'s column \(clash) has the name of a column of the embeddings table (\(own.joined(separator: ", "))); "
                    + (key.contains(clash) ? "it is part of the key, so rename it" : "leave it out of metadata_columns, or rename it"))
        }
        if key == [SQL.rowIdColumn] && !columns.contains(where: { $0.name == SQL.rowIdColumn }) {
            columns.append((SQL.rowIdColumn, "uuid"))
        }
        let keyTypes = key.map { name in columns.first { $0.name == name }?.type ?? "text" }
        let target = embeddingsTable
        var outcome = EmbeddingOutcome(table: target.description)
        let created = try prepare(target, key: Array(zip(key, keyTypes)), metadata: metadata, columns: columns, on: connection)
        if deletes && !created {
            outcome.orphansDeleted = try connection.execute(SQL.deleteOrphanChunks(target, of: table, key: key)).affectedRows
        }
        let onlyThisTransaction = !(allRows || created)
        let metadataTypes = metadata.map { name in (name: name, type: columns.first { $0.name == name }?.type ?? "text") }
        try embedRows(
            key: key, keyTypes: keyTypes, embedded: embedded, metadata: metadataTypes, into: target,
            onlyThisTransaction: onlyThisTransaction, outcome: &outcome, on: connection)
        if !metadata.isEmpty && !created {
            try connection.execute(
                SQL.refreshChunkMetadata(
                    target, from: table, key: key, metadata: metadata, filter: onlyThisTransaction ? try writtenHere(on: connection) : nil))
        }
        if created, let index = SQL.createVectorIndex(
            on: target, index: config.index, distance: config.distance, rows: outcome.chunks, m: config.hnswM,
            efConstruction: config.hnswEfConstruction)
        {
            try raiseBuildMemory(chunks: outcome.chunks, on: connection)
            logger.info("\(index)", metadata: ["load.table": "\(table)"])
            try connection.execute(index)
        }
        if outcome.rowsEmbedded > 0 || outcome.orphansDeleted > 0 || outcome.pending > 0 {
            let pending = outcome.pending > 0 ? "; \(outcome.pending) rows pending for pgsink embed" : ""
            let embedded = Wording.count(outcome.rowsEmbedded, "row")
            let chunks = Wording.count(outcome.chunks, "chunk")
            logger.info(
                "\(target): embedded \(embedded) (\(chunks)) of \(outcome.rowsChecked) checked; \(outcome.orphansDeleted) orphan chunks deleted\(pending)")
        }
        return outcome
    }

    /// An HNSW graph built beyond `maintenance_work_mem` takes several times as long (pgvector's
    /// notice says so): for this transaction, the setting is raised to what the graph needs
    /// (estimated from the chunks and dimensions, at most 1 GB), never lowered.
    private func raiseBuildMemory(chunks: Int, on connection: PGConnection) throws {
        guard config.index == .hnsw, chunks > 0 else { return }
        let m = config.hnswM ?? 16
        let needed = min(1 << 30, chunks * (4 * config.dimensions + 16 * m + 128) * 3 / 2) / 1024
        let current = Int(try connection.execute("SELECT setting FROM pg_settings WHERE name = 'maintenance_work_mem'").value(0, 0) ?? "") ?? 0
        guard needed > current else { return }
        logger.info("maintenance_work_mem \(current) kB → \(needed) kB for this transaction's HNSW build", metadata: ["load.table": "\(table)"])
        try connection.execute("SET LOCAL maintenance_work_mem = '\(needed)kB'")
    }

    /// The table's columns and their SQL types, in order; nil when it does not exist.
    static func columns(of table: TableName, on connection: PGConnection) throws -> [(name: String, type: String)]? {
        guard try Catalog.kind(of: table, on: connection) != nil else { return nil }
        return try connection.query(SQL.columnTypes, [table.quoted]).rows.map { ($0[0] ?? "", $0[1] ?? "") }
    }

    /// A configured column as the table names it (as written, or as pgsink normalizes it).
    private func column(_ name: String, in columns: [(name: String, type: String)], for key: String) throws -> String {
        if let found = columns.first(where: { $0.name == name }) ?? columns.first(where: { $0.name == naming.normalize(name) }) {
            return found.name
        }
        throw LoadError(
            "pgvector_config: \(key) names \"\(name)\", which is not a column of \(table); its columns: "
                + columns.map(\.name).joined(separator: ", "))
    }

    /// `CREATE EXTENSION IF NOT EXISTS vector`, or the statement an administrator must run.
    static func ensureExtension(on connection: PGConnection) throws {
        if try !connection.execute(SQL.vectorInstalled).rows.isEmpty { return }
        let database = try connection.execute("SELECT current_database()").value(0, 0) ?? "this database"
        if try connection.execute(SQL.vectorAvailable).rows.isEmpty {
            throw LoadError(
                "pgvector_config needs the pgvector extension, which this server does not have: install it on the server "
                    + "(Debian: apt install postgresql-<version>-pgvector), then run CREATE EXTENSION vector; in database "
                    + "\(database) as a superuser (or a role that may create it)")
        }
        try Transaction.savepoint("pgsink_vector", on: connection, { _ = try connection.execute(SQL.createVectorExtension) }) {
            error in
            throw LoadError(
                "pgvector_config needs the vector extension in database \(database), and this role cannot create it "
                    + "(\(Wording.clause(error.message))); ask an administrator to run: CREATE EXTENSION vector; "
                    + "(connected to \(database)), then load again")
        }
    }

    /// The primary key, or pgsink's row id column (`_pgsink_row_id`, added with a random default
    /// when the table has no key: rows written later get one without pgsink naming it).
    private func key(of columns: [(name: String, type: String)], on connection: PGConnection) throws -> [String] {
        let primary = try connection.query(SQL.primaryKeyColumns, [table.quoted]).rows.compactMap { $0[0] }
        if !primary.isEmpty { return primary }
        if columns.contains(where: { $0.name == SQL.rowIdColumn }) {
            // Written by pgsink's loads (or `--nested tables`): rows written otherwise get an id
            // from the default, and rows from before the column get one now, once.
            if try connection.query(SQL.columnHasDefault, [table.quoted, SQL.rowIdColumn]).rows.first?[0] != "t" {
                try connection.execute(SQL.setRowIdDefault(table))
                try connection.execute(SQL.fillRowIds(table))
            }
            return [SQL.rowIdColumn]
        }
        logger.info("\(table) has no primary key: adding \(SQL.rowIdColumn) uuid to key its embeddings", metadata: ["load.table": "\(table)"])
        try connection.execute(SQL.addRowIdColumn(table))
        return [SQL.rowIdColumn]
    }

    /// Creates the embeddings table (true), or checks and completes an existing one (false).
    private func prepare(
        _ target: TableName, key: [(name: String, type: String)], metadata: [String], columns: [(name: String, type: String)],
        on connection: PGConnection
    ) throws -> Bool {
        let metadataTypes = metadata.map { name in (name, columns.first { $0.name == name }!.type) }
        guard let existing = try Self.columns(of: target, on: connection) else {
            let statement = SQL.createEmbeddings(target, key: key, metadata: metadataTypes, dimensions: config.dimensions)
            logger.info("\(statement)", metadata: ["load.table": "\(table)"])
            try connection.execute(statement)
            return true
        }
        let vector = "vector(\(config.dimensions))"
        guard let stored = existing.first(where: { $0.name == SQL.embeddingColumn }), stored.type == vector else {
            throw LoadError(
                "\(target) holds \(existing.first { $0.name == SQL.embeddingColumn }?.type ?? "no embedding column"), and "
                    + "pgvector_config asks for \(vector): set embedding.dimensions to match, or drop \(target) (pgsink "
                    + "embed --table \(table) builds it again from \(table))")
        }
        for (name, _) in key where !existing.contains(where: { $0.name == name }) {
            throw LoadError(
                "\(target) is keyed by \(existing.prefix(1).map(\.name).joined()) but \(table)'s key is now "
                    + "\(key.map(\.name).joined(separator: ", ")): drop \(target), and pgsink embed --table \(table) builds it again")
        }
        for (name, type) in metadataTypes where !existing.contains(where: { $0.name == name }) {
            try connection.execute("ALTER TABLE \(target.quoted) ADD COLUMN \(quoteIdentifier(name)) \(type)")
        }
        return false
    }

    /// The condition that a row of `t` was written by this transaction (or a later one: the
    /// stored hash decides for those), from its xmin and this transaction's id, modulo 2³².
    private func writtenHere(on connection: PGConnection) throws -> String {
        let top = try connection.execute("SELECT txid_current() % 4294967296").value(0, 0) ?? "0"
        return "((t.xmin::text::bigint - \(top) + 4294967296) % 4294967296) < 2147483648"
    }

    /// Reads the candidate rows through a cursor, and embeds those whose text changed.
    private func embedRows(
        key: [String], keyTypes: [String], embedded: [String], metadata: [(name: String, type: String)],
        into target: TableName, onlyThisTransaction: Bool, outcome: inout EmbeddingOutcome, on connection: PGConnection
    ) throws {
        let place = Place(key: key, keyTypes: keyTypes, metadata: metadata, target: target)
        let filter = onlyThisTransaction ? try writtenHere(on: connection) : nil
        try connection.execute(
            "DECLARE \(Self.cursor) NO SCROLL CURSOR FOR "
                + SQL.embeddingCandidates(
                    table, embeddings: target, key: key, embedded: embedded, metadata: metadata.map(\.name), filter: filter))
        defer { _ = try? connection.execute("CLOSE \(Self.cursor)") }
        try connection.execute("DROP TABLE IF EXISTS pg_temp.\(quoteIdentifier(Self.stage))")
        try connection.execute(
            SQL.createChunkStage(Self.stage, keys: key.count, metadata: metadata.count, dimensions: config.dimensions))
        let splitter = try config.splitter
        let settings = "\(provider.signature)/\(config.chunkSize)/\(config.chunkOverlap)"
        var batch = ChunkBatch()
        var inFlight: InFlight?
        var failing: Error?
        while true {
            let rows = try connection.execute("FETCH \(Self.fetchRows) FROM \(Self.cursor)").rows
            if rows.isEmpty { break }
            for row in rows {
                outcome.rowsChecked += 1
                let keys = row.prefix(key.count).map { $0 ?? "" }
                let text = EmbeddedText.text(Array(row[key.count..<(key.count + embedded.count)]))
                let hash = EmbeddedText.hash(text, settings: settings)
                let stored = row[key.count + embedded.count + metadata.count]
                if stored == hash { continue }
                outcome.rowsEmbedded += 1
                let values = Array(row[(key.count + embedded.count)..<(key.count + embedded.count + metadata.count)])
                batch.add(keys: keys, metadata: values, replaces: stored != nil, hash: hash, chunks: splitter.split(text))
                // Checked per row: one long text may be thousands of chunks.
                if batch.chunks.count >= Self.flushChunks {
                    try hand(&batch, &inFlight, failing: &failing, place, outcome: &outcome, on: connection)
                }
            }
        }
        try hand(&batch, &inFlight, failing: &failing, place, outcome: &outcome, on: connection)
        if let last = inFlight { try write(last, failing: &failing, place, outcome: &outcome, on: connection) }
        try connection.execute("DROP TABLE pg_temp.\(quoteIdentifier(Self.stage))")
    }

    /// A batch whose chunks are being embedded on a thread of its own.
    struct InFlight {
        var batch: ChunkBatch
        var job: EmbedJob?
    }

    /// The provider's call for one batch, on its own thread: while it runs (an HTTP round trip, or
    /// the local provider's hashing), the connection writes the batch before and reads the next.
    final class EmbedJob: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var result: Result<[[Float]], Error> = .success([])

        init(provider: EmbeddingProvider, texts: [String]) {
            let thread = Thread { [self] in
                result = Result { try provider.embed(texts) }
                done.signal()
            }
            thread.start()
        }

        func wait() -> Result<[[Float]], Error> {
            done.wait()
            return result
        }
    }

    /// Starts embedding a full batch, then writes the one before it (whose vectors are ready or
    /// nearly): one batch is embedded while the previous one is written.
    private func hand(
        _ batch: inout ChunkBatch, _ inFlight: inout InFlight?, failing: inout Error?, _ place: Place,
        outcome: inout EmbeddingOutcome, on connection: PGConnection
    ) throws {
        guard !batch.keys.isEmpty else { return }
        let job = failing == nil && !batch.chunks.isEmpty ? EmbedJob(provider: provider, texts: batch.chunks) : nil
        let next = InFlight(batch: batch, job: job)
        batch = ChunkBatch()
        if let previous = inFlight { try write(previous, failing: &failing, place, outcome: &outcome, on: connection) }
        inFlight = next
    }

    /// Rows to write: their keys, hash and chunks (`owner` maps each chunk to its row).
    struct ChunkBatch {
        var keys: [[String]] = []
        var metadata: [[String?]] = []
        /// The row has chunks stored (they are deleted first).
        var replaces: [Bool] = []
        var hashes: [String] = []
        var chunks: [String] = []
        var owner: [Int] = []
        var chunkIndex: [Int] = []

        mutating func add(keys: [String], metadata values: [String?], replaces: Bool, hash: String, chunks rowChunks: [String]) {
            let row = self.keys.count
            self.keys.append(keys)
            metadata.append(values)
            self.replaces.append(replaces)
            hashes.append(hash)
            for (index, chunk) in rowChunks.enumerated() {
                chunks.append(chunk)
                owner.append(row)
                chunkIndex.append(index)
            }
        }
    }

    /// Replaces the batch's rows' chunks with the embedded ones. When the provider failed: the load
    /// fails, or (`on_error: defer`) the rows get one pending chunk, and later batches are not sent.
    private func write(
        _ flight: InFlight, failing: inout Error?, _ place: Place, outcome: inout EmbeddingOutcome,
        on connection: PGConnection
    ) throws {
        let batch = flight.batch
        var vectors: [[Float]]? = nil
        if let job = flight.job {
            do {
                vectors = try job.wait().get()
            } catch {
                guard config.onError == .defer else {
                    throw LoadError(
                        "embeddings for \(table): \(error). The rows are not committed without their embeddings: fix the provider and load again, or set "
                            + "pgvector_config.on_error: defer to commit the rows and fill their embeddings in later with "
                            + "pgsink embed --table \(table)")
                }
                logger.warning("embeddings for \(table): \(error); the rows commit with their chunks pending (pgsink embed fills them in)")
                failing = error
            }
        }
        let data = ByteStorage(capacity: 64 + batch.chunks.count * (64 + 4 * config.dimensions))
        data.append(contentsOf: BatchEncoder.binarySignature)
        data.appendInt32(0)
        data.appendInt32(0)
        func row(_ owner: Int, index: Int, chunk: String, vector: [Float]?, hash: String) {
            let keys = batch.keys[owner]
            data.appendInt16(Int16(keys.count + 5 + place.metadata.count))
            for value in keys { Self.appendText(value, to: data) }
            data.appendInt32(4)
            data.appendInt32(Int32(index))
            Self.appendText(chunk, to: data)
            if let vector {
                data.appendInt32(Int32(VectorEncoding.binaryLength(dimensions: vector.count)))
                VectorEncoding.appendBinary(vector, to: data)
            } else {
                data.appendInt32(-1)
            }
            Self.appendText(hash, to: data)
            for value in batch.metadata[owner] {
                if let value { Self.appendText(value, to: data) } else { data.appendInt32(-1) }
            }
            data.appendInt32(1)
            data.append(batch.replaces[owner] ? 1 : 0)
        }
        if let vectors {
            for (position, chunk) in batch.chunks.enumerated() {
                let owner = batch.owner[position]
                row(owner, index: batch.chunkIndex[position], chunk: chunk, vector: vectors[position], hash: batch.hashes[owner])
            }
            outcome.chunks += batch.chunks.count
        }
        // Rows without chunks (blank text, or a provider that failed): a marker row that deletes
        // their old chunks, and with `defer` stays as the pending chunk.
        let chunked = vectors == nil ? Set<Int>() : Set(batch.owner)
        for owner in batch.keys.indices where !chunked.contains(owner) {
            let pending = failing != nil
            row(owner, index: pending ? 0 : -1, chunk: "", vector: nil, hash: pending ? Self.pendingHash : batch.hashes[owner])
            if pending { outcome.pending += 1 }
        }
        data.appendInt16(-1)
        try connection.execute("TRUNCATE pg_temp.\(quoteIdentifier(Self.stage))")
        _ = try connection.copyIn(SQL.copyChunkStage(Self.stage, keys: place.key.count, metadata: place.metadata.count), data: data)
        if batch.replaces.contains(true) {
            try connection.execute(
                SQL.deleteStagedChunks(place.target, stage: Self.stage, key: place.key, keyTypes: place.keyTypes))
        }
        try connection.execute(
            SQL.insertStagedChunks(
                place.target, stage: Self.stage, key: place.key, keyTypes: place.keyTypes, metadata: place.metadata))
    }

    /// Where a batch's chunks go: the embeddings table, the key (names and SQL types) and the
    /// metadata columns, as the table names them.
    struct Place {
        var key: [String]
        var keyTypes: [String]
        /// Names and SQL types.
        var metadata: [(name: String, type: String)]
        var target: TableName
    }

    static func appendText(_ text: String, to data: ByteStorage) {
        var text = text
        text.withUTF8 { buffer in
            data.appendInt32(Int32(buffer.count))
            if let base = buffer.baseAddress { data.append(base, count: buffer.count) }
        }
    }
}

extension Loader {
    /// Whether the rows of an embedded table without a key get pgsink's row id from the
    /// writer (`SystemColumn` `_pgsink_id`): a new table is created with it, so its embeddings
    /// have a key at no extra cost.
    func embeddingsNeedRowId(of table: TableName, exists: Bool, on connection: PGConnection) throws -> Bool {
        guard let config = request.embeddings, config.table(table, naming: request.naming) != nil,
            request.primaryKey.isEmpty, request.nested != .tables
        else { return false }
        if !exists { return true }
        return try connection.query(SQL.primaryKeyColumns, [table.quoted]).rows.isEmpty
    }

    /// The embeddings of `table`, when `pgvector_config` names it: written in the caller's
    /// transaction, right before the ledger row every write into a table ends with (files,
    /// streams, change feeds and events alike).
    func writeEmbeddings(of table: TableName, session: Session, on connection: PGConnection) throws {
        guard let config = request.embeddings, let spec = config.table(table, naming: request.naming) else { return }
        let writer = EmbeddingWriter(config: config, spec: spec, table: table, naming: request.naming, logger: logger)
        session.embeddings = try writer.refresh(
            on: connection, allRows: session.rowsFromOtherTransactions, deletes: session.deletedRows)
    }
}

/// `pgsink embed --table T`: embeds or refreshes an existing table's rows (and the pending ones)
/// without loading anything, in one transaction.
public enum EmbedTable {
    public static func run(
        _ table: TableName, config: PgVectorConfig, naming: NamingRules = NamingRules(), on connection: PGConnection,
        logger: Logger
    ) throws -> EmbeddingOutcome {
        guard let spec = config.table(table, naming: naming) else {
            throw LoadError(
                "pgvector_config names no table \(table.name) (it names \(config.tables.map(\.table).joined(separator: ", "))); "
                    + "add it under pgvector_config.tables with its embed_columns")
        }
        let writer = EmbeddingWriter(config: config, spec: spec, table: table, naming: naming, logger: logger)
        return try Transaction.run(on: connection) {
            try connection.query(SQL.lockTable, [table.description])
            guard let outcome = try writer.refresh(on: connection, allRows: true, deletes: true) else {
                throw LoadError("\(table) does not exist; load it first (pgsink load … --table \(table.name))")
            }
            return outcome
        }
    }
}
