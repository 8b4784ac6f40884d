import Testing

@testable import PGSinkCore

@Suite("Embedding SQL")
struct EmbeddingSQLTests {
    let table = TableName(schema: "docs", name: "articles")

    @Test func theTableIsKeyedBySourceKeyAndChunk() {
        let embeddings = SQL.embeddingsTable(of: table)
        #expect(embeddings.quoted == #""docs"."articles_embeddings""#)
        #expect(
            SQL.createEmbeddings(embeddings, key: [("id", "bigint")], metadata: [("author", "text")], dimensions: 384)
                == #"CREATE TABLE IF NOT EXISTS "docs"."articles_embeddings" ("id" bigint NOT NULL, "chunk_index" integer NOT NULL, "#
                + #""chunk" text NOT NULL, "embedding" vector(384), "content_hash" text NOT NULL, "author" text, "#
                + #"PRIMARY KEY ("id", "chunk_index"))"#)
    }

    @Test func longNamesFitLikeEveryOtherName() {
        let long = TableName(schema: "s", name: String(repeating: "t", count: 60))
        #expect(SQL.embeddingsTable(of: long).name.utf8.count <= 63)
        #expect(SQL.embeddingsTable(of: long) == SQL.embeddingsTable(of: long))
    }

    @Test func indexesFollowTheDistance() {
        let embeddings = SQL.embeddingsTable(of: table)
        #expect(
            SQL.createVectorIndex(on: embeddings, index: .hnsw, distance: .cosine)
                == #"CREATE INDEX IF NOT EXISTS "articles_embeddings_embedding_idx" ON "docs"."articles_embeddings" USING hnsw ("embedding" vector_cosine_ops)"#)
        #expect(SQL.createVectorIndex(on: embeddings, index: .ivfflat, distance: .l2, rows: 50_000)?.hasSuffix("USING ivfflat (\"embedding\" vector_l2_ops) WITH (lists = 50)") == true)
        #expect(SQL.createVectorIndex(on: embeddings, index: .none, distance: .ip) == nil)
        #expect(VectorDistance.ip.queryOperator == "<#>" && VectorDistance.cosine.queryOperator == "<=>")
    }

    @Test func orphanChunksAreFoundByAnAntiJoin() {
        #expect(
            SQL.deleteOrphanChunks(SQL.embeddingsTable(of: table), of: table, key: ["tenant", "id"])
                == #"DELETE FROM "docs"."articles_embeddings" AS e WHERE NOT EXISTS (SELECT 1 FROM "docs"."articles" AS t "#
                + #"WHERE t."tenant" = e."tenant" AND t."id" = e."id")"#)
    }
}
