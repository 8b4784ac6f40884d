/// How an embeddings table is searched: the distance its index serves.
public enum VectorDistance: String, Sendable, CaseIterable, Codable {
    case cosine, l2, ip

    /// pgvector's operator class for the index.
    public var operatorClass: String {
        switch self {
        case .cosine: "vector_cosine_ops"
        case .l2: "vector_l2_ops"
        case .ip: "vector_ip_ops"
        }
    }

    /// The operator a query orders by (`ORDER BY embedding <=> $1`).
    public var queryOperator: String {
        switch self {
        case .cosine: "<=>"
        case .l2: "<->"
        case .ip: "<#>"
        }
    }
}

/// The index an embeddings table gets.
public enum VectorIndex: String, Sendable, CaseIterable, Codable {
    case hnsw, ivfflat, none
}

/// The statements of an embeddings table (`<table>_embeddings`): the source row's key, the chunk
/// number, the chunk's text, its vector, the hash of the text it came from, and the metadata
/// columns. (docs/pgvector.md)
extension SQL {
    public static let createVectorExtension = "CREATE EXTENSION IF NOT EXISTS vector"

    /// `<table>_embeddings`, cut to fit 63 bytes the way every long name is.
    public static func embeddingsTable(of table: TableName) -> TableName {
        TableName(schema: table.schema, name: NamingRules.fitting(table.name + "_embeddings"))
    }

    public static let chunkIndexColumn = "chunk_index"
    public static let chunkColumn = "chunk"
    public static let embeddingColumn = "embedding"
    public static let contentHashColumn = "content_hash"

    /// The table, keyed by the source key and the chunk number. `key` and `metadata` are column
    /// names with their SQL types, as the source table has them.
    public static func createEmbeddings(
        _ table: TableName, key: [(name: String, type: String)], metadata: [(name: String, type: String)], dimensions: Int
    ) -> String {
        var columns = key.map { "\(quoteIdentifier($0.name)) \($0.type) NOT NULL" }
        columns.append("\(quoteIdentifier(chunkIndexColumn)) integer NOT NULL")
        columns.append("\(quoteIdentifier(chunkColumn)) text NOT NULL")
        columns.append("\(quoteIdentifier(embeddingColumn)) vector(\(dimensions))")
        columns.append("\(quoteIdentifier(contentHashColumn)) text NOT NULL")
        columns += metadata.map { "\(quoteIdentifier($0.name)) \($0.type)" }
        let primary = (key.map(\.name) + [chunkIndexColumn]).map(quoteIdentifier).joined(separator: ", ")
        return "CREATE TABLE IF NOT EXISTS \(table.quoted) (\(columns.joined(separator: ", ")), PRIMARY KEY (\(primary)))"
    }

    /// The vector index, or nil for `none`. IVFFlat's `lists` follows pgvector's advice (rows / 1000,
    /// at least 1) for the rows there are when it is built.
    /// `m` and `efConstruction` are HNSW's build settings (nil: pgvector's 16 and 64).
    public static func createVectorIndex(
        on table: TableName, index: VectorIndex, distance: VectorDistance, rows: Int = 0, m: Int? = nil,
        efConstruction: Int? = nil
    ) -> String? {
        let name = quoteIdentifier(NamingRules.fitting(table.name + "_" + embeddingColumn + "_idx"))
        let column = "\(quoteIdentifier(embeddingColumn)) \(distance.operatorClass)"
        switch index {
        case .none: return nil
        case .hnsw:
            let options = [m.map { "m = \($0)" }, efConstruction.map { "ef_construction = \($0)" }].compactMap { $0 }
            return "CREATE INDEX IF NOT EXISTS \(name) ON \(table.quoted) USING hnsw (\(column))"
                + (options.isEmpty ? "" : " WITH (\(options.joined(separator: ", ")))")
        case .ivfflat:
            return "CREATE INDEX IF NOT EXISTS \(name) ON \(table.quoted) USING ivfflat (\(column)) WITH (lists = \(max(1, rows / 1000)))"
        }
    }

    /// Chunks whose source row is gone (a replace, a merge's deletes, delete-stale, a change feed's
    /// deletes), removed in the same transaction.
    public static func deleteOrphanChunks(_ embeddings: TableName, of table: TableName, key: [String]) -> String {
        let match = key.map { "t.\(quoteIdentifier($0)) = e.\(quoteIdentifier($0))" }.joined(separator: " AND ")
        return "DELETE FROM \(embeddings.quoted) AS e WHERE NOT EXISTS (SELECT 1 FROM \(table.quoted) AS t WHERE \(match))"
    }

    public static let vectorInstalled = "SELECT 1 FROM pg_extension WHERE extname = 'vector'"
    public static let vectorAvailable = "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"

    /// A table's columns and their SQL types (`format_type`), in order. $1: the quoted table.
    public static let columnTypes = """
        SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
        WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum
        """

    /// A table's primary key columns, in key order. $1: the quoted table.
    public static let primaryKeyColumns = """
        SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
        WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)
        """

    /// pgsink's row id on a table without a key, so its embeddings have one: every row, and each
    /// row written later without naming the column, gets a random uuid.
    public static func addRowIdColumn(_ table: TableName) -> String {
        "ALTER TABLE \(table.quoted) ADD COLUMN \(quoteIdentifier(rowIdColumn)) uuid DEFAULT gen_random_uuid()"
    }

    /// A row id column without a default gets one, and its rows without an id get one.
    public static let columnHasDefault = "SELECT atthasdef FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2"
    public static func setRowIdDefault(_ table: TableName) -> String {
        "ALTER TABLE \(table.quoted) ALTER COLUMN \(quoteIdentifier(rowIdColumn)) SET DEFAULT gen_random_uuid()"
    }
    public static func fillRowIds(_ table: TableName) -> String {
        "UPDATE \(table.quoted) SET \(quoteIdentifier(rowIdColumn)) = gen_random_uuid() WHERE \(quoteIdentifier(rowIdColumn)) IS NULL"
    }

    /// The rows to look at: their key, embedded and metadata columns as text, and the hash their
    /// first stored chunk carries (NULL: none). `filter` is a condition on `t`.
    public static func embeddingCandidates(
        _ table: TableName, embeddings: TableName, key: [String], embedded: [String], metadata: [String] = [],
        filter: String?
    ) -> String {
        let match = key.map { "x.\(quoteIdentifier($0)) = t.\(quoteIdentifier($0))" }.joined(separator: " AND ")
        let selected = (key + embedded + metadata).map { "t.\(quoteIdentifier($0))::text" }
            + ["x.\(quoteIdentifier(contentHashColumn))"]
        var conditions = key.map { "t.\(quoteIdentifier($0)) IS NOT NULL" }
        if let filter { conditions.append(filter) }
        return "SELECT \(selected.joined(separator: ", ")) FROM \(table.quoted) AS t LEFT JOIN \(embeddings.quoted) AS x ON "
            + "\(match) AND x.\(quoteIdentifier(chunkIndexColumn)) = 0 WHERE \(conditions.joined(separator: " AND "))"
    }

    static func stageKey(_ index: Int) -> String { "k\(index)" }

    static func stageMetadata(_ index: Int) -> String { "m\(index)" }

    /// The temporary table chunks are copied into: the key as text, the chunk's columns, the
    /// metadata as text, and whether the row had chunks before (which must go first).
    public static func createChunkStage(_ stage: String, keys: Int, metadata: Int = 0, dimensions: Int) -> String {
        let columns = (0..<keys).map { "\(stageKey($0)) text" }
            + ["chunk_index integer", "chunk text", "embedding vector(\(dimensions))", "content_hash text"]
            + (0..<metadata).map { "\(stageMetadata($0)) text" } + ["replaces boolean"]
        return "CREATE TEMP TABLE \(quoteIdentifier(stage)) (\(columns.joined(separator: ", "))) ON COMMIT DROP"
    }

    public static func copyChunkStage(_ stage: String, keys: Int, metadata: Int = 0) -> String {
        let columns = (0..<keys).map(stageKey) + ["chunk_index", "chunk", "embedding", "content_hash"]
            + (0..<metadata).map(stageMetadata) + ["replaces"]
        return "COPY pg_temp.\(quoteIdentifier(stage)) (\(columns.joined(separator: ", "))) FROM STDIN (FORMAT binary)"
    }

    private static func stageMatch(_ alias: String, key: [String], keyTypes: [String]) -> String {
        key.indices.map { "\(alias).\(quoteIdentifier(key[$0])) = s.\(stageKey($0))::\(keyTypes[$0])" }
            .joined(separator: " AND ")
    }

    /// The old chunks of the staged rows that had some.
    public static func deleteStagedChunks(_ embeddings: TableName, stage: String, key: [String], keyTypes: [String]) -> String {
        let keys = (0..<key.count).map(stageKey).joined(separator: ", ")
        return "DELETE FROM \(embeddings.quoted) AS e USING (SELECT DISTINCT \(keys) FROM pg_temp.\(quoteIdentifier(stage)) "
            + "WHERE replaces) AS s WHERE \(stageMatch("e", key: key, keyTypes: keyTypes))"
    }

    /// The staged chunks (not the markers of rows without chunks), key and metadata cast back
    /// from text to their types (`metadata`: names and SQL types).
    public static func insertStagedChunks(
        _ embeddings: TableName, stage: String, key: [String], keyTypes: [String], metadata: [(name: String, type: String)]
    ) -> String {
        let columns = (key + [chunkIndexColumn, chunkColumn, embeddingColumn, contentHashColumn] + metadata.map(\.name))
            .map(quoteIdentifier)
        let values = key.indices.map { "s.\(stageKey($0))::\(keyTypes[$0])" }
            + ["s.chunk_index", "s.chunk", "s.embedding", "s.content_hash"]
            + metadata.indices.map { "s.\(stageMetadata($0))::\(metadata[$0].type)" }
        return "INSERT INTO \(embeddings.quoted) (\(columns.joined(separator: ", "))) SELECT \(values.joined(separator: ", ")) "
            + "FROM pg_temp.\(quoteIdentifier(stage)) AS s WHERE s.chunk_index >= 0"
    }

    /// Metadata columns of chunks whose row's metadata changed while its text did not.
    public static func refreshChunkMetadata(
        _ embeddings: TableName, from table: TableName, key: [String], metadata: [String], filter: String?
    ) -> String {
        let match = key.map { "e.\(quoteIdentifier($0)) = t.\(quoteIdentifier($0))" }.joined(separator: " AND ")
        let set = metadata.map { "\(quoteIdentifier($0)) = t.\(quoteIdentifier($0))" }.joined(separator: ", ")
        let stored = metadata.map { "e.\(quoteIdentifier($0))" }.joined(separator: ", ")
        let current = metadata.map { "t.\(quoteIdentifier($0))" }.joined(separator: ", ")
        return "UPDATE \(embeddings.quoted) AS e SET \(set) FROM \(table.quoted) AS t WHERE \(match) AND "
            + "ROW(\(stored)) IS DISTINCT FROM ROW(\(current))" + (filter.map { " AND \($0)" } ?? "")
    }
}
