import Foundation
import Logging
import PGSink
import PGSinkCore
import Testing

/// Embeddings written by the loader, in the load's transaction, against a server with pgvector
/// (PGSINK_TEST_VECTOR_URL: the PostgreSQL 18 `make test` starts) and the fake OpenAI-compatible
/// provider (`scripts/fake-embeddings-server`). (docs/pgvector.md)
@Suite("Embeddings in loads", .serialized)
struct EmbeddingLoadTests {
    typealias FakeProvider = EmbeddingProviderTests.FakeProvider

    static func database() throws -> TestDatabase { try TestDatabase(variable: "PGSINK_TEST_VECTOR_URL") }

    /// docs: id, title, body (long enough for several chunks), category.
    static func csv(_ ids: ClosedRange<Int>, change: [Int: String] = [:]) -> String {
        let words = ["river", "mountain", "forest", "desert", "ocean", "valley", "glacier", "meadow"]
        var lines = ["id,title,body,category"]
        for id in ids {
            let body = (0..<40).map { words[(id * 7 + $0 * 3) % words.count] }.joined(separator: " ")
            lines.append("\(id),\(change[id] ?? "title \(id)"),\"\(body). \(body)\",cat\(id % 3)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func config(_ fake: FakeProvider?, table: String = "docs", _ change: (inout PgVectorConfig) -> Void = { _ in })
        -> PgVectorConfig
    {
        var config = PgVectorConfig(tables: [
            PgVectorConfig.Table(table: table, embedColumns: ["title", "body"], metadataColumns: ["category"])
        ])
        config.chunkSize = 200
        config.chunkOverlap = 20
        if let fake {
            config.openAI.baseURL = fake.base
            config.openAI.apiKey = FakeProvider.key
            config.openAI.dimensions = 16
            config.openAI.backoff = 0.05
            config.openAI.retries = 1
        } else {
            config.provider = .local
            config.openAI.dimensions = 32
        }
        change(&config)
        return config
    }

    func chunks(_ db: TestDatabase, _ table: String = "docs_embeddings") throws -> Int { try db.count(table) }

    @Test func chunksCommitWithTheRowsAndAnUnchangedMergeCallsNoProvider() throws {
        let db = try Self.database()
        let fake = try FakeProvider()
        let config = Self.config(fake)
        let first = try db.load(Self.csv(1...50), as: "docs.csv", into: "docs", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.embeddings = config
        }
        let outcome = try #require(first.embeddings)
        #expect(outcome.rowsEmbedded == 50)
        #expect(outcome.chunks > 50, "each body is longer than one 200-character chunk")
        #expect(try chunks(db) == outcome.chunks)
        #expect(try db.column("SELECT count(DISTINCT id) FROM \(db.schema).docs_embeddings") == ["50"])
        // The metadata column, the vector size and the HNSW index with cosine distance.
        #expect(try db.column("SELECT DISTINCT category FROM \(db.schema).docs_embeddings ORDER BY 1") == ["cat0", "cat1", "cat2"])
        #expect(try db.column("SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = '\(db.schema).docs_embeddings'::regclass AND attname = 'embedding'") == ["vector(16)"])
        let index = try db.column("SELECT indexdef FROM pg_indexes WHERE schemaname = '\(db.schema)' AND indexname = 'docs_embeddings_embedding_idx'")
        #expect(index.first??.contains("hnsw (embedding vector_cosine_ops)") == true, "\(index)")
        // A chunk's nearest neighbour is itself.
        let nearest = try db.column("""
            SELECT e.id::text FROM \(db.schema).docs_embeddings e ORDER BY e.embedding <=> (SELECT embedding FROM \(db.schema).docs_embeddings WHERE id = 17 AND chunk_index = 0) LIMIT 1
            """)
        #expect(nearest == ["17"])
        let calls = try fake.stats().calls
        #expect(calls >= 1)

        // The same file again: nothing changed, so no provider call and no chunk rewritten.
        let again = try db.load(Self.csv(1...50), as: "docs.csv", into: "docs", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.embeddings = config
        }
        #expect(again.embeddings?.rowsEmbedded == 0)
        #expect(try fake.stats().calls == calls)

        // One title changes: one row is embedded again, its old chunks replaced.
        let before = try db.column("SELECT count(*) FROM \(db.schema).docs_embeddings WHERE id = 7")
        let changed = try db.load(Self.csv(1...50, change: [7: "a brand new title"]), as: "docs.csv", into: "docs", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.embeddings = config
        }
        #expect(changed.embeddings?.rowsEmbedded == 1)
        #expect(try fake.stats().inputs > 0)
        #expect(try db.column("SELECT count(*) FROM \(db.schema).docs_embeddings WHERE id = 7") == before)
        #expect(try db.column("SELECT chunk FROM \(db.schema).docs_embeddings WHERE id = 7 AND chunk_index = 0").first??.hasPrefix("a brand new title") == true)
        #expect(try chunks(db) == outcome.chunks)
    }

    @Test func rowsALoadDeletesLoseTheirChunksInTheSameTransaction() throws {
        let db = try Self.database()
        let config = Self.config(nil)
        try db.load(Self.csv(1...30), as: "docs.csv", into: "docs", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.embeddings = config
        }
        // replace with ten rows: the chunks of the other twenty go, the ten keep theirs unembedded.
        let replaced = try db.load(Self.csv(1...10), as: "docs.csv", into: "docs", mode: .replace) {
            $0.primaryKey = ["id"]
            $0.embeddings = config
        }
        #expect(replaced.embeddings?.rowsEmbedded == 0)
        #expect((replaced.embeddings?.orphansDeleted ?? 0) > 0)
        #expect(try db.column("SELECT count(DISTINCT id) FROM \(db.schema).docs_embeddings") == ["10"])
        // delete-stale: rows of the source that a later load lacks go, and their chunks.
        try db.load(Self.csv(1...10), as: "feed.csv", into: "feed", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.deleteStale = true
            $0.sourceName = "crm"
            $0.embeddings = Self.config(nil, table: "feed")
        }
        let stale = try db.load(Self.csv(1...4), as: "feed.csv", into: "feed", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.deleteStale = true
            $0.sourceName = "crm"
            $0.embeddings = Self.config(nil, table: "feed")
        }
        #expect(stale.staleDeleted == 6)
        #expect(try db.column("SELECT count(DISTINCT id) FROM \(db.schema).feed_embeddings") == ["4"])
    }

    @Test func aProviderThatFailsForGoodCommitsNothingAndNeverShowsTheKey() throws {
        let db = try Self.database()
        let fake = try FakeProvider()
        try fake.post("/fail", #"{"status": 500, "times": 100}"#)
        let config = Self.config(fake)
        #expect {
            try db.load(Self.csv(1...5), as: "docs.csv", into: "docs", mode: .merge) {
                $0.primaryKey = ["id"]
                $0.embeddings = config
            }
        } throws: { error in
            let text = "\(error)"
            return text.contains("not committed without their embeddings") && text.contains("on_error: defer")
                && !text.contains(FakeProvider.key)
        }
        #expect(try !db.exists("docs"))
        #expect(try !db.exists("docs_embeddings"))
    }

    @Test func deferCommitsTheRowsAndEmbedFillsInThePendingChunks() throws {
        let db = try Self.database()
        let fake = try FakeProvider()
        try fake.post("/fail", #"{"status": 503, "times": 100}"#)
        let config = Self.config(fake) { $0.onError = .defer }
        let summary = try db.load(Self.csv(1...8), as: "docs.csv", into: "docs", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.embeddings = config
        }
        #expect(summary.rows == 8)
        #expect(summary.embeddings?.pending == 8)
        #expect(try db.column("SELECT count(*) FROM \(db.schema).docs_embeddings WHERE embedding IS NULL AND content_hash = 'pending'") == ["8"])
        // The provider is back: pgsink embed fills them in, and a second run has nothing to do.
        try fake.post("/reset", "{}")
        let filled = try EmbedTable.run(db.table("docs"), config: config, on: db.connection, logger: .init(label: "test"))
        #expect(filled.rowsEmbedded == 8)
        #expect(filled.pending == 0)
        #expect(try db.column("SELECT count(*) FROM \(db.schema).docs_embeddings WHERE embedding IS NULL") == ["0"])
        let again = try EmbedTable.run(db.table("docs"), config: config, on: db.connection, logger: .init(label: "test"))
        #expect(again.rowsEmbedded == 0 && again.rowsChecked == 8)
    }

    @Test func aTableWithoutAKeyIsKeyedByARowIdAndOnlyNewRowsAreEmbedded() throws {
        let db = try Self.database()
        let config = Self.config(nil)
        let first = try db.load(Self.csv(1...20), as: "docs.csv", into: "docs") { $0.embeddings = config }
        #expect(first.embeddings?.rowsEmbedded == 20)
        #expect(try db.columnTypes("docs")[SQL.rowIdColumn] == "uuid")
        let second = try db.load(Self.csv(21...25), as: "more.csv", into: "docs") { $0.embeddings = config }
        #expect(second.embeddings?.rowsChecked == 5, "only the rows this load wrote are looked at")
        #expect(second.embeddings?.rowsEmbedded == 5)
        #expect(try db.column("SELECT count(DISTINCT \(SQL.rowIdColumn)) FROM \(db.schema).docs_embeddings") == ["25"])
        #expect(try db.column("SELECT count(*) FROM \(db.schema).docs WHERE \(SQL.rowIdColumn) IS NULL") == ["0"])
    }

    @Test func aParallelLoadIntoANewTableIsEmbeddedWhole() throws {
        let db = try Self.database()
        let summary = try db.load(Self.csv(1...400), as: "docs.csv", into: "docs") {
            $0.jobs = 2
            $0.batchRows = 50
            $0.embeddings = Self.config(nil)
        }
        #expect(summary.connections == 2)
        #expect(summary.embeddings?.rowsEmbedded == 400)
        #expect(try db.column("SELECT count(DISTINCT \(SQL.rowIdColumn)) FROM \(db.schema).docs_embeddings") == ["400"])
    }

    @Test func aConfiguredColumnThatIsNotThereIsNamed() throws {
        let db = try Self.database()
        let config = Self.config(nil) { $0.tables[0].embedColumns = ["title", "summary"] }
        #expect {
            try db.load(Self.csv(1...3), as: "docs.csv", into: "docs") { $0.embeddings = config }
        } throws: { "\($0)".contains("embed_columns names \"summary\", which is not a column of") }
        #expect(try !db.exists("docs"))
    }

    @Test func aRoleThatCannotCreateTheExtensionIsToldTheStatement() throws {
        let db = try Self.database()
        let name = "pgsink_novector_" + db.schema
        try db.connection.execute("CREATE ROLE \(name) LOGIN")
        try db.connection.execute("CREATE DATABASE \(name) OWNER \(name)")
        defer {
            _ = try? db.connection.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            _ = try? db.connection.execute("DROP ROLE IF EXISTS \(name)")
        }
        var url = URLComponents(string: db.url)!
        url.user = name
        url.path = "/" + name
        let connection = try PGConnection.connect(url.string!)
        var request = LoadRequest(inputs: [try TestDatabase.file("docs.csv", Self.csv(1...3))], table: TableName(schema: "public", name: "docs"))
        request.embeddings = Self.config(nil)
        #expect {
            try Loader(request: request).run(on: connection)
        } throws: { error in
            let text = "\(error)"
            return text.contains("CREATE EXTENSION vector;") && text.contains("ask an administrator") && text.contains(name)
        }
        #expect(try connection.query("SELECT to_regclass('public.docs') IS NULL", []).rows == [["t"]])
        // pgsink check says the same before any load.
        let config = try TestDatabase.file("pgsink.yaml", """
            destination:
              pgvector_config:
                tables: [{table_name: docs, embed_columns: [body]}]
                embedding: {provider: local, dimensions: 8}
            """)
        let check = try CommandLineTests.run(["check", "--to", url.string!, "--config", config])
        #expect(check.status == 1)
        #expect(check.stdout.contains("✗ pgvector: vector") && check.stdout.contains("fix: as a superuser, run CREATE EXTENSION vector;"), "\(check.stdout)")
        let superuser = try CommandLineTests.run(["check", "--to", db.url, "--config", config])
        #expect(superuser.stdout.contains("✓ pgvector: extension vector"), "\(superuser.stdout)")
    }

    @Test func aSingerStreamGetsEmbeddingsFromItsTargetConfig() throws {
        let db = try Self.database()
        let config = try TestDatabase.file("target.json", """
            {"default_target_schema": "\(db.schema)", "pgvector_config": {"tables": [{"table_name": "notes",
            "embed_columns": ["text"], "metadata_columns": ["author"]}], "embedding": {"provider": "local", "dimensions": 8}}}
            """)
        var lines = [#"{"type":"SCHEMA","stream":"notes","key_properties":["id"],"schema":{"properties":{"id":{"type":"integer"},"text":{"type":"string"},"author":{"type":"string"}}}}"#]
        for id in 1...12 { lines.append(#"{"type":"RECORD","stream":"notes","record":{"id":\#(id),"text":"note number \#(id)","author":"a\#(id % 2)"}}"#) }
        lines.append(#"{"type":"STATE","value":{"done":true}}"#)
        let run = try CommandLineTests.run(
            ["singer", "--config", config], stdin: lines.joined(separator: "\n") + "\n", environment: ["PGSINK_URL": db.url])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.column("SELECT count(*) FROM \(db.schema).notes_embeddings") == ["12"])
        #expect(try db.column("SELECT count(*) FROM \(db.schema).notes_embeddings WHERE author = 'a1'") == ["6"])
    }

    @Test func theCommandLineLoadsWithACloudQuerySpecAndEmbedRefreshes() throws {
        let db = try Self.database()
        let dir = URL(fileURLWithPath: try TestDatabase.file("docs.csv", Self.csv(1...40))).deletingLastPathComponent()
        let spec = dir.appendingPathComponent("postgresql.yaml")
        try """
            kind: destination
            spec:
              name: postgresql
              path: cloudquery/postgresql
              registry: cloudquery
              version: "v8.0.0"
              spec:
                connection_string: "\(db.url)"
                pgvector_config:
                  tables:
                    - source_table_name: docs
                      target_table_name: docs_vectors
                      embed_columns: [body]
                      metadata_columns: [title]
                  text_splitter:
                    recursive_text:
                      chunk_size: 300
                      chunk_overlap: 30
                  embedding:
                    provider: local
                    dimensions: 24
                  index: ivfflat
                  distance: l2
            """.write(to: spec, atomically: true, encoding: .utf8)
        let load = try CommandLineTests.run(
            ["load", dir.appendingPathComponent("docs.csv").path, "--config", spec.path, "--schema", db.schema,
             "--mode", "merge", "--primary-key", "id", "--json", "--embed-concurrency", "2"])
        #expect(load.status == 0, "\(load.stderr)")
        let zero = try CommandLineTests.run(["load", "x.csv", "--embed-concurrency", "0"])
        #expect(zero.status == 2 && zero.stderr.contains("--embed-concurrency must be at least 1"), "\(zero.stderr)")
        #expect(load.stdout.contains("\"rowsEmbedded\":40"), "\(load.stdout)")
        let index = try db.column("SELECT indexdef FROM pg_indexes WHERE schemaname = '\(db.schema)' AND tablename = 'docs_vectors' AND indexdef LIKE '%ivfflat%'")
        // vector_l2_ops is ivfflat's default operator class, which pg_indexes leaves out.
        #expect(index.first??.contains("USING ivfflat (embedding) WITH (lists='1')") == true, "\(index)")
        // Rows changed behind pgsink's back: embed picks them up, and only them.
        try db.connection.execute("UPDATE \(db.schema).docs SET body = 'rewritten by hand' WHERE id <= 3")
        let embed = try CommandLineTests.run(["embed", "--table", "\(db.schema).docs", "--config", spec.path])
        #expect(embed.status == 0, "\(embed.stderr)")
        #expect(embed.stdout.contains("3 rows embedded"), "\(embed.stdout)")
        #expect(try db.column("SELECT count(*) FROM \(db.schema).docs_vectors WHERE id <= 3") == ["3"])
        // A table the config does not name is refused with what it does name.
        let other = try CommandLineTests.run(["embed", "--table", "\(db.schema).other", "--config", spec.path])
        #expect(other.status == 1)
        #expect(other.stderr.contains("pgvector_config names no table other"), "\(other.stderr)")
    }

    @Test func aChangeFeedsDeletesTakeTheirChunksAndUpdatesReEmbed() throws {
        let db = try Self.database()
        let config = try TestDatabase.file("pgsink.yaml", """
            destination:
              pgvector_config:
                tables: [{table_name: items, embed_columns: [name], metadata_columns: [qty]}]
                embedding: {provider: local, dimensions: 16}
            """)
        typealias Feed = CDCApplyTests.Feed
        var feed = Feed()
        for key in 1...6 { feed.event("c", key: key, after: Feed.row(key, "item number \(key)", key)) }
        feed.event("u", key: 2, before: Feed.row(2, "item number 2", 2), after: Feed.row(2, "renamed item", 20))
        feed.event("u", key: 3, before: Feed.row(3, "item number 3", 3), after: Feed.row(3, "item number 3", 30))
        feed.event("d", key: 4, before: Feed.row(4, "item number 4", 4))
        let run = try CDCApplyTests.apply(db, ["-", "--config", config], url: db.url, stdin: feed.text)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.column("SELECT id::text || ':' || chunk || ':' || qty FROM \(db.schema).items_embeddings ORDER BY id") == [
            "1:item number 1:1", "2:renamed item:20", "3:item number 3:30", "5:item number 5:5", "6:item number 6:6",
        ])
        // A later feed deletes one more: its chunks go in the same transaction.
        var more = Feed()
        more.event("d", key: 5, before: Feed.row(5, "item number 5", 5), lsn: 5000)
        #expect(try CDCApplyTests.apply(db, ["-", "--config", config], url: db.url, stdin: more.text).status == 0)
        #expect(try db.column("SELECT id::text FROM \(db.schema).items_embeddings ORDER BY id") == ["1", "2", "3", "6"])
    }

    @Test func aCompositeKeyOfAnyTypeAndAwkwardValuesRoundTrips() throws {
        let db = try Self.database()
        let config = Self.config(nil) { $0.tables = [PgVectorConfig.Table(table: "notes", embedColumns: ["Body"])] }
        let rows = [
            #"{"owner": "a,\"b\\c", "day": "2024-01-02", "body": "first note"}"#,
            #"{"owner": "línea\nnueva", "day": "2024-01-02", "body": "second note"}"#,
            #"{"owner": "  spaced  ", "day": "2024-02-29", "body": ""}"#,
        ]
        let first = try db.load(rows.joined(separator: "\n") + "\n", as: "notes.jsonl", into: "notes", mode: .merge) {
            $0.primaryKey = ["owner", "day"]
            $0.typeOverrides = ["day": .date]
            $0.embeddings = config
        }
        #expect(first.embeddings?.rowsEmbedded == 3)
        #expect(first.embeddings?.chunks == 2, "blank text has no chunks")
        #expect(try db.column("SELECT owner || '|' || day FROM \(db.schema).notes_embeddings ORDER BY chunk") == [
            "a,\"b\\c|2024-01-02", "línea\nnueva|2024-01-02",
        ])
        let changed = rows[1].replacingOccurrences(of: "second note", with: "second note, edited")
        let again = try db.load(([rows[0], changed, rows[2]]).joined(separator: "\n") + "\n", as: "notes.jsonl", into: "notes", mode: .merge) {
            $0.primaryKey = ["owner", "day"]
            $0.typeOverrides = ["day": .date]
            $0.embeddings = config
        }
        #expect(again.embeddings?.chunks == 1)
        #expect(try db.column("SELECT chunk FROM \(db.schema).notes_embeddings ORDER BY chunk") == ["first note", "second note, edited"])
    }

    @Test func aSimilarityQueryFindsTheExpectedNeighbourWithTheLocalProvider() throws {
        let db = try Self.database()
        let topics = [
            "Sourdough bread needs a starter, flour, water and a long slow rise before baking.",
            "The goalkeeper saved a penalty in the final minute of the football match.",
            "Photosynthesis turns sunlight, water and carbon dioxide into glucose in plant leaves.",
            "Compound interest makes savings grow faster the longer the money stays invested.",
            "The volcano erupted and lava flowed down the mountain toward the village.",
            "A binary search halves the sorted array at every step to find the key.",
        ]
        let csv = "id,body\n" + topics.enumerated().map { "\($0.offset + 1),\"\($0.element)\"" }.joined(separator: "\n") + "\n"
        let config = Self.config(nil) { $0.tables = [PgVectorConfig.Table(table: "facts", embedColumns: ["body"])] }
        try db.load(csv, as: "facts.csv", into: "facts", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.embeddings = config
        }
        let query = try LocalEmbeddingProvider(dimensions: config.dimensions).embed(["how does a binary search find a key in a sorted array"])[0]
        let nearest = try db.connection.query(
            "SELECT id::text FROM \(db.schema).facts_embeddings ORDER BY embedding <=> $1::vector LIMIT 5",
            [VectorEncoding.text(query)]
        ).rows.map { $0[0] }
        #expect(nearest.count == 5)
        #expect(nearest.first == "6", "\(nearest)")
    }

    @Test func namesAreMatchedAsPgsinkNamesThemAndClashesAreRefused() throws {
        let db = try Self.database()
        // Table and columns as a user writes them; the key listed as metadata is on every chunk anyway.
        let config = Self.config(nil) {
            $0.tables = [PgVectorConfig.Table(table: "Docs", embedColumns: ["Title"], metadataColumns: ["ID", "Category"])]
        }
        let summary = try db.load(Self.csv(1...3), as: "docs.csv", into: "docs", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.embeddings = config
        }
        #expect(summary.embeddings?.rowsEmbedded == 3)
        #expect(try db.column("SELECT category FROM \(db.schema).docs_embeddings ORDER BY id") == ["cat1", "cat2", "cat0"])
        // A column named like one of the embeddings table's own cannot be metadata.
        let clash = "id,body,chunk\n1,some text,x\n"
        #expect {
            try db.load(clash, as: "clash.csv", into: "clash", mode: .merge) {
                $0.primaryKey = ["id"]
                $0.embeddings = Self.config(nil) {
                    $0.tables = [PgVectorConfig.Table(table: "clash", embedColumns: ["body"], metadataColumns: ["chunk"])]
                }
            }
        } throws: { "\($0)".contains("column chunk has the name of a column of the embeddings table") }
        #expect(try !db.exists("clash"))
    }

    @Test func aVeryLongTextIsChunkedInBoundedBatchesAndATableNameNeedsQuoting() throws {
        let db = try Self.database()
        // 2 MB of text in one row: about 11,000 chunks of 200 characters, sent in several batches
        // (and split in one pass: this took seconds when pieces were searched for from the start each time).
        let long = (0..<500_000).map { "w\($0 % 97)" }.joined(separator: " ")
        let csv = "id,body\n1,\"\(long)\"\n2,short text\n"
        let config = Self.config(nil) { $0.tables = [PgVectorConfig.Table(table: "Odd \"Name\"", embedColumns: ["body"])] }
        let summary = try db.load(csv, as: "odd.csv", into: "Odd \"Name\"", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.naming = NamingRules(keepCase: true)
            $0.embeddings = config
        }
        let chunks = try #require(summary.embeddings?.chunks)
        #expect(chunks > 2 * 4096, "the writer sends 4,096 chunks at a time: \(chunks)")
        #expect(try db.column("SELECT count(*) FROM \(db.schema).\"Odd \"\"Name\"\"_embeddings\"") == [String(chunks)])
        #expect(try db.column("SELECT max(chunk_index) + 1 FROM \(db.schema).\"Odd \"\"Name\"\"_embeddings\" WHERE id = 1") == [String(chunks - 1)])
    }

    @Test func eventsLoadedByServeGetEmbeddingsToo() throws {
        let db = try Self.database()
        let key = "wk_embed_" + UUID().uuidString.prefix(8).lowercased()
        let namespace = WarehouseNames.namespace(db.schema + "_events")
        let config = try TestDatabase.file("pgsink.yaml", """
            destination:
              url: \(EventServeConfigTests.quoted(db.url))
              pgvector_config:
                tables: [{table_name: tracks, embed_columns: [event_text], metadata_columns: [user_id]}]
                embedding: {provider: local, dimensions: 16}
            events:
              listen: "127.0.0.1:0"
              schema: \(db.schema)
              namespace: \(namespace)
              write_keys: [{key: \(key), source: web}]
              sync: {frequency: 0.5s}
            """)
        let server = try EventServeTests.Server(["serve", "--config", config], key: key, namespace: namespace)
        defer { _ = try? db.connection.execute("DROP SCHEMA IF EXISTS \(quoteIdentifier(namespace)) CASCADE") }
        for (user, event) in [("u1", "Order Completed"), ("u2", "Signed Up")] {
            let reply = try EventServeTests.request("\(server.url)/v1/track", body: EventServeTests.track(user, event), key: key)
            #expect(reply.status == 200, "\(reply)")
        }
        let embeddings = "\(quoteIdentifier(namespace)).tracks_embeddings"
        #expect(try ExactlyOnceTests.eventually {
            (try? db.column("SELECT user_id || ':' || chunk FROM \(embeddings) ORDER BY user_id")) == ["u1:Order Completed", "u2:Signed Up"]
        }, "\(server.log)")
        #expect(InterruptTests.finish(server.process, after: SIGTERM) == 0, "\(server.log)")
    }
}
