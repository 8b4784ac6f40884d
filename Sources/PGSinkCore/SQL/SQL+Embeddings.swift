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
/// columns. (docs/embeddings.md)
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
    public static func createVectorIndex(
        on table: TableName, index: VectorIndex, distance: VectorDistance, rows: Int = 0
    ) -> String? {
        let name = quoteIdentifier(NamingRules.fitting(table.name + "_" + embeddingColumn + "_idx"))
        let column = "\(quoteIdentifier(embeddingColumn)) \(distance.operatorClass)"
        switch index {
        case .none: return nil
        case .hnsw: return "CREATE INDEX IF NOT EXISTS \(name) ON \(table.quoted) USING hnsw (\(column))"
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
}
