import Foundation
import PGSinkCore
import Testing

@testable import PGSink

/// `pgvector_config`: CloudQuery's keys as written, pgsink's own, CloudQuery's spec file, and
/// errors that say what to write. No server. (docs/pgvector.md)
@Suite("pgvector config")
struct PgVectorConfigTests {
    @Test func cloudQuerysKeysAndPgsinksOwnAreRead() throws {
        let config = try LoadSettingsTests.destination("pgsink.yaml", """
            destination:
              host: db.example.com
              pgvector_config:
                tables:
                  - table_name: docs
                    embed_columns: [title, body]
                    metadata_columns: [author]
                  - source_table_name: notes
                    target_table_name: note_vectors
                    embed_columns: text
                text_splitter:
                  recursive_text:
                    chunk_size: 800
                    chunk_overlap: 100
                embedding:
                  model_name: text-embedding-3-large
                  api_key: sk-config-key-123
                  base_url: http://127.0.0.1:9/v1
                  concurrency: 2
                index: ivfflat
                distance: ip
                on_error: defer
            """)
        let pgvector = try #require(config.pgvector)
        #expect(pgvector.tables == [
            PgVectorConfig.Table(table: "docs", embedColumns: ["title", "body"], metadataColumns: ["author"]),
            PgVectorConfig.Table(table: "notes", target: "note_vectors", embedColumns: ["text"]),
        ])
        #expect(pgvector.chunkSize == 800 && pgvector.chunkOverlap == 100)
        #expect(pgvector.provider == .openai)
        #expect(pgvector.openAI.model == "text-embedding-3-large")
        #expect(pgvector.dimensions == 3072, "the large model's size when dimensions is not given")
        #expect(pgvector.openAI.concurrency == 2)
        #expect(pgvector.index == .ivfflat && pgvector.distance == .ip && pgvector.onError == .defer)
        #expect(try config.connection?.effectiveOptions()["host"] == "db.example.com")
        #expect(pgvector.table(TableName(schema: "public", name: "notes"))?.target == "note_vectors")
        // The key is a secret from the moment it is read.
        #expect(Secrets.redact("key sk-config-key-123 here") == "key *** here")
    }

    @Test func aCloudQueryDestinationSpecIsADestination() throws {
        let config = try LoadSettingsTests.destination("postgresql.yaml", """
            kind: destination
            spec:
              name: postgresql
              path: cloudquery/postgresql
              registry: cloudquery
              version: "v8.0.0"
              write_mode: "overwrite-delete-stale"
              spec:
                connection_string: "postgresql://u@db.example.com:5433/dw"
                batch_size: 10000
                pgx_log_level: debug
                pgvector_config:
                  tables:
                    - table_name: docs
                      embed_columns: [body]
                      metadata_columns: []
                  embedding:
                    dimensions: 1536
                    api_key: sk-spec-key-456
                    model_name: text-embedding-3-small
            """)
        #expect(try config.connection?.effectiveOptions()["host"] == "db.example.com")
        #expect(config.settings.batchRows == 10000)
        #expect(config.pgvector?.dimensions == 1536)
        #expect(config.pgvector?.tables.first?.embedColumns == ["body"])
    }

    @Test(arguments: [
        ("tables: []\nembedding: {provider: local}", "tables is required"),
        ("tables: [{table_name: docs}]\nembedding: {provider: local}", "embed_columns is required"),
        ("tables: [{embed_columns: [a]}]\nembedding: {provider: local}", "table_name is required"),
        ("tables: [{table_name: docs, embed_columns: [a]}]", "embedding is required"),
        ("tables: [{table_name: docs, embed_columns: [a]}]\nembedding: {provider: bert}", "\"bert\" is not a provider; use openai or local"),
        ("tables: [{table_name: docs, embed_columns: [a]}]\nembedding: {provider: local, dimensions: 0}", "pgvector takes 1 to 16000"),
        ("tables: [{table_name: docs, embed_columns: [a]}]\nembedding: {provider: local}\nindex: btree", "use hnsw, ivfflat or none"),
        ("tables: [{table_name: docs, embed_columns: [a]}]\nembedding: {provider: local}\ndistance: manhattan", "use cosine, l2 or ip"),
        ("tables: [{table_name: docs, embed_columns: [a]}]\nembedding: {provider: local}\non_error: ignore", "use fail"),
        ("tables: [{table_name: docs, embed_columns: [a]}]\nembedding: {provider: local, modle_name: x}", "unknown key \"modle_name\""),
        ("tables: [{table_name: docs, embed_columns: [a], colour: red}]\nembedding: {provider: local}", "unknown key \"colour\""),
        ("tables: [{table_name: docs, embed_columns: [a]}]\nembedding: {provider: local}\ntext_splitter: {recursive_text: {chunk_size: 100, chunk_overlap: 100}}", "chunk_overlap"),
        ("tables: [{table_name: docs, embed_columns: [a]}]\nembedding: {provider: local}\ntext_splitter: {recursive_text: {chunk_size: many}}", "expected a whole number"),
    ])
    func mistakesSayWhatToWrite(section: String, message: String) throws {
        let indented = section.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
        let text = try LoadSettingsTests.failure("pgsink.yaml", "destination:\n  pgvector_config:\n" + indented + "\n")
        #expect(text.contains("pgsink.yaml: destination.pgvector_config"), "\(text)")
        #expect(text.contains(message), "\(text)")
    }

    @Test func openAIWithoutAKeyIsRefusedBeforeAnythingRuns() throws {
        let path = try LoadSettingsTests.file("pgsink.yaml", """
            destination:
              pgvector_config:
                tables: [{table_name: docs, embed_columns: [body]}]
                embedding: {model_name: text-embedding-3-small}
            """)
        #expect {
            // Not from the environment either.
            try PgVectorConfig(
                fields: try ConfigFile.read(path)["destination"].flatMap { ($0 as? [String: Any])?["pgvector_config"] as? [String: Any] } ?? [:],
                where: "pgvector_config", environment: [:])
        } throws: { "\($0)".contains("api_key is not set; give api_key: ${OPENAI_API_KEY}") }
        let fromEnvironment = try PgVectorConfig(
            fields: ["tables": [["table_name": "docs", "embed_columns": ["body"]]], "embedding": [String: Any]()],
            where: "pgvector_config", environment: ["OPENAI_API_KEY": "sk-env-789"])
        #expect(fromEnvironment.openAI.apiKey == "sk-env-789")
    }

    @Test func theSingerAndAirbyteConfigsTakeItToo() throws {
        let section: [String: Any] = [
            "tables": [["table_name": "users", "embed_columns": ["bio"]]], "embedding": ["provider": "local", "dimensions": 8],
        ]
        let singer = try SingerConfig(["pgvector_config": section])
        #expect(singer.settings.streams.embeddings?.tables.first?.table == "users")
        #expect(singer.warnings.isEmpty, "\(singer.warnings)")
        let airbyte = try AirbyteConfig(["pgvector_config": section])
        #expect(airbyte.streams.embeddings?.dimensions == 8)
    }
}
