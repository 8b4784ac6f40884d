import Foundation
import PGSink
import PGSinkCore
import Testing

/// A DataOS Nilus CDC pipeline file run by `pgsink cdc stream --config` between the two real
/// clusters (the source of CDCStreamTests and the destination test server), and the pipelines
/// the cdc commands refuse, each with its one line.
@Suite("Nilus CDC pipelines", .serialized)
struct NilusCDCTests {
    /// The Nilus CDC shape: the source's URL, one table into `destTable`, the sink address left
    /// as a DataOS depot (replaced by --to).
    static func pipeline(_ source: CDCStreamTests.Source, tables: String, destTable: String, strategy: String = "merge") throws
        -> String
    {
        try TestDatabase.file("nilus.yaml", """
            name: nilus-postgres-cdc
            version: v1alpha
            type: nilus
            spec:
              type: cdc
              compute: universe-compute
              source:
                address: ${NILUS_SOURCE_URL}
                cdc:
                  table.include.list: "\(tables)"
                  slot.name: \(source.slot)
                  publication.name: \(source.publication)
                  snapshot.mode: initial
                  topic.prefix: "orders_cdc"
              sink:
                address: dataos://postgres-destination
                options:
                  dest_table: \(destTable)
                  incremental_strategy: \(strategy)
            """)
    }

    static func rows(_ connection: PGConnection, _ table: String) throws -> [String] {
        try CDCStreamTests.rows(connection, table, "id, customer, total")
    }

    @Test func aNilusPipelineCopiesItsTableIntoDestTableThenStreamsChanges() throws {
        let source = try CDCStreamTests.Source()
        let db = try TestDatabase()
        let orders = "\(source.schema).orders"
        try source.sql(
            "CREATE TABLE \(orders) (id int PRIMARY KEY, customer text, total numeric(10,2))",
            "INSERT INTO \(orders) SELECT g, 'customer ' || g, g * 2.5 FROM generate_series(1, 500) g")
        let config = try Self.pipeline(source, tables: orders, destTable: "\(db.schema).orders_cdc")
        let environment = ["NILUS_SOURCE_URL": source.url]
        let arguments = ["cdc", "stream", "--config", config, "--once", "--to", db.url, "--schema", db.schema]
        let first = try CommandLineTests.run(arguments, environment: environment)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("with the snapshot"), "\(first.stderr)")
        let destination = db.table("orders_cdc").quoted
        #expect(try Self.rows(db.connection, destination) == Self.rows(source.connection, orders))
        #expect(try !db.exists("orders"), "the changes went to the source table's name instead of dest_table")

        try source.sql(
            "INSERT INTO \(orders) VALUES (1000, 'streamed', 9.99)", "UPDATE \(orders) SET total = 0 WHERE id <= 10",
            "DELETE FROM \(orders) WHERE id BETWEEN 11 AND 20")
        let second = try CommandLineTests.run(arguments, environment: environment)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(!second.stderr.contains("with the snapshot"), "\(second.stderr)")
        #expect(try Self.rows(db.connection, destination) == Self.rows(source.connection, orders))
        #expect(try db.count("orders_cdc") == 491)

        // The slot of the file's slot.name, from the file's source address.
        let status = try CommandLineTests.run(["cdc", "status", "--config", config], environment: environment)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stdout.contains("confirmed_flush_lsn: "), "\(status.stdout)")
        let drop = try CommandLineTests.run(["cdc", "drop", "--config", config], environment: environment)
        #expect(drop.status == 0, "\(drop.stderr)")
        #expect(drop.stdout.contains("dropped replication slot \(source.slot)"), "\(drop.stdout)")
        #expect(try source.connection.query("SELECT 1 FROM pg_replication_slots WHERE slot_name = $1", [source.slot]).rows.isEmpty)
    }

    /// `pgsink check --config`: the pipeline's source (its slot and publication), then its sink.
    @Test func checkReadsThePipelinesSourceAndSink() throws {
        let source = try CDCStreamTests.Source()
        let db = try TestDatabase()
        let config = try TestDatabase.file("nilus.yaml", """
            type: nilus
            spec:
              type: cdc
              source:
                address: \(source.url)
                cdc:
                  table.include.list: \(source.schema).orders
                  slot.name: \(source.slot)
                  publication.name: \(source.publication)
              sink:
                address: \(db.url)
                options:
                  dest_table: \(db.schema).orders_cdc
            """)
        let run = try CommandLineTests.run(["check", "--config", config])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("✓ wal_level: logical"), "\(run.stdout)")
        #expect(run.stdout.contains("✓ authenticated"), "\(run.stdout)")
        let dataos = try TestDatabase.file("dataos.yaml", "type: nilus\nspec:\n  type: cdc\n  source:\n    address: dataos://pg\n")
        let refused = try CommandLineTests.run(["check", "--config", dataos])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("✗ source: "), "\(refused.stdout)")
        #expect(refused.stdout.contains("spec.source.address is dataos://pg"), "\(refused.stdout)")
    }

    /// `schema.include.list`: a publication of the schema's tables, each into its own table.
    @Test func aSchemaIncludeListReplicatesEveryTableOfTheSchema() throws {
        let source = try CDCStreamTests.Source()
        let db = try TestDatabase()
        try source.sql(
            "CREATE TABLE \(source.schema).items (id int PRIMARY KEY, customer text, total numeric)",
            "CREATE TABLE \(source.schema).orders (id int PRIMARY KEY, customer text, total numeric)",
            "INSERT INTO \(source.schema).items VALUES (1, 'a', 1), (2, 'b', 2)",
            "INSERT INTO \(source.schema).orders VALUES (7, 'c', 3)")
        let config = try TestDatabase.file("nilus.yaml", """
            type: nilus
            spec:
              type: cdc
              source:
                address: \(source.url)
                cdc:
                  schema.include.list: \(source.schema)
                  slot.name: \(source.slot)
                  publication.name: \(source.publication)
              sink:
                address: \(db.url)
            """)
        let arguments = [
            "cdc", "stream", "--config", config, "--once", "--schema-map", "\(source.schema)=\(db.schema)", "--schema", db.schema,
        ]
        let first = try CommandLineTests.run(arguments)
        #expect(first.status == 0, "\(first.stderr)")
        try source.sql("INSERT INTO \(source.schema).orders VALUES (8, 'd', 4)", "DELETE FROM \(source.schema).items WHERE id = 1")
        let second = try CommandLineTests.run(arguments)
        #expect(second.status == 0, "\(second.stderr)")
        for table in ["items", "orders"] {
            #expect(try Self.rows(db.connection, db.table(table).quoted) == Self.rows(source.connection, "\(source.schema).\(table)"))
        }
        #expect(try db.count("orders") == 2)
    }

    /// The batch shape's sink, for `pgsink load`: its address is the destination, its options the load's.
    @Test func aNilusBatchPipelineGivesPgsinkLoadItsTableAndStrategy() throws {
        let db = try TestDatabase()
        let config = try TestDatabase.file("batch.yaml", """
            name: nilus-postgres-batch
            version: v1alpha
            type: nilus
            spec:
              type: batch
              compute: universe-compute
              source:
                address: dataos://mysql-source
                options:
                  source_table: sales.orders
              sink:
                address: \(db.url)
                options:
                  dest_table: \(db.schema).orders
                  incremental_strategy: replace
            """)
        let first = try TestDatabase.file("orders.csv", "id,total\n1,9.5\n2,3\n")
        let second = try TestDatabase.file("orders.csv", "id,total\n3,7\n")
        for input in [first, second] {
            let run = try CommandLineTests.run(["load", input, "--config", config])
            #expect(run.status == 0, "\(run.stderr)")
        }
        // replace: the second load's rows only.
        #expect(try db.column("SELECT id::text FROM \(db.table("orders").quoted)") == ["3"])
    }

    @Test func pipelinesTheCommandsCannotRunAreRefusedWithOneLine() throws {
        let source = try CDCStreamTests.Source()
        let db = try TestDatabase()
        let environment = ["NILUS_SOURCE_URL": source.url]
        func stream(_ config: String, _ extra: [String] = []) throws -> CommandLineTests.Run {
            try CommandLineTests.run(["cdc", "stream", "--config", config, "--once", "--to", db.url] + extra, environment: environment)
        }

        let batch = try TestDatabase.file("batch.yaml", """
            type: nilus
            spec:
              type: batch
              source:
                address: dataos://mysql-source
                options:
                  source_table: sales.orders
              sink:
                address: dataos://postgres-destination
                options:
                  dest_table: analytics.orders
                  incremental_strategy: replace
            """)
        let batchRun = try stream(batch)
        #expect(batchRun.status == 1)
        #expect(batchRun.stderr.contains(
            "batch.yaml is a Nilus batch pipeline (spec.type: batch), which pgsink cdc stream does not run; run it with pgsink load"),
            "\(batchRun.stderr)")

        let append = try Self.pipeline(source, tables: "public.orders", destTable: "a.b", strategy: "append")
        let appendRun = try stream(append)
        #expect(appendRun.status == 1)
        #expect(appendRun.stderr.contains(
            "spec.sink.options.incremental_strategy is append, but a CDC pipeline keeps each table in sync by key; write merge"),
            "\(appendRun.stderr)")

        let two = try Self.pipeline(source, tables: "public.a,public.b", destTable: "a.b")
        let twoRun = try stream(two)
        #expect(twoRun.status == 1)
        #expect(twoRun.stderr.contains("dest_table a.b takes the changes of one source table, and it includes public.a, public.b"),
            "\(twoRun.stderr)")
        #expect(twoRun.stderr.contains("--schema-map"), "\(twoRun.stderr)")

        let dataos = try Self.pipeline(source, tables: "public.orders", destTable: "a.b")
        let noSource = try CommandLineTests.run(
            ["cdc", "stream", "--config", dataos, "--once", "--to", db.url], environment: ["NILUS_SOURCE_URL": "dataos://pg-cdc"])
        #expect(noSource.status == 1)
        #expect(noSource.stderr.contains(
            "spec.source.address is dataos://pg-cdc, a DataOS depot pgsink cannot look up; write the server's postgresql:// URL "
                + "there (or ${VARIABLE}), or pass --from"), "\(noSource.stderr)")

        let cdcForLoad = try CommandLineTests.run(
            ["load", try TestDatabase.file("x.csv", "id\n1\n"), "--config", dataos, "--to", db.url], environment: environment)
        #expect(cdcForLoad.status == 1)
        #expect(cdcForLoad.stderr.contains("is a Nilus CDC pipeline (spec.type: cdc), which pgsink load does not run; run it with "
            + "pgsink cdc stream --config"), "\(cdcForLoad.stderr)")
    }
}
