import ArgumentParser
import Foundation
import PGSinkCore
import Testing

@testable import PGSink
@testable import pgsink

/// DataOS Nilus pipeline files as pgsink's config: the CDC shape mapped onto `cdc stream` and
/// `cdc apply`, flags over the file, the batch shape for `pgsink load`, and a clear error for each
/// thing pgsink cannot do. No server.
@Suite("Nilus pipelines")
struct NilusPipelineTests {
    /// The seed's CDC pipeline with a PostgreSQL source; `cdc` and `options` replace its sections.
    static func cdcPipeline(
        cdc: String = "table.include.list: \"public.orders\"\n      topic.prefix: \"orders_cdc\"",
        options: String = "dest_table: analytics.orders_cdc\n      incremental_strategy: merge",
        source: String = "postgresql://replicator@source.example.com/shop",
        sink: String = "postgresql://loader@warehouse.example.com/dw"
    ) -> String {
        """
        name: nilus-postgres-cdc
        version: v1alpha
        type: nilus
        tags: [orders]
        spec:
          type: cdc
          compute: universe-compute
          source:
            address: \(source)
            cdc:
              \(cdc)
          sink:
            address: \(sink)
            options:
              \(options)
        """
    }

    static func pipeline(_ content: String) throws -> NilusPipeline {
        try #require(try LoadSettingsTests.destination("nilus.yaml", content).pipeline)
    }

    /// The stream's settings from the file under `flags` (arguments of `pgsink cdc stream`).
    static func streamSettings(_ content: String, _ flags: [String] = []) throws -> LogicalSettings {
        try CDCStreamCommand.parse(flags).settings(pipeline: try pipeline(content), connectionSchema: nil)
    }

    /// The message `cdc stream`'s settings fail with.
    static func streamFailure(_ content: String, _ flags: [String] = []) throws -> String {
        do {
            _ = try streamSettings(content, flags)
        } catch {
            return "\(error)"
        }
        Issue.record("accepted")
        return ""
    }

    @Test func theSeedsCDCShapeMapsOntoCDCStream() throws {
        let pipeline = try Self.pipeline(Self.cdcPipeline())
        #expect(pipeline.kind == .cdc)
        #expect(pipeline.tables == ["public.orders"])
        #expect(try pipeline.sourceConnection()?.base == "postgresql://replicator@source.example.com/shop")
        #expect(try pipeline.sinkConnection()?.base == "postgresql://loader@warehouse.example.com/dw")
        let settings = try Self.streamSettings(Self.cdcPipeline())
        #expect(settings.tables == ["public.orders"])
        #expect(settings.destinationTable == "analytics.orders_cdc")
        #expect(settings.slot == "pgsink" && settings.publication == "pgsink")
        #expect(settings.snapshot == nil)
        #expect(settings.destination(schema: "public", name: "orders") == TableName(schema: "analytics", name: "orders_cdc"))
        #expect(settings.destination(schema: "public", name: "other") == TableName(schema: "public", name: "other"))
    }

    @Test func debeziumPropertiesBecomeTheirSettings() throws {
        let content = Self.cdcPipeline(cdc: """
            schema.include.list: "sales, stock"
                  slot.name: orders_slot
                  publication.name: orders_pub
                  snapshot.mode: no_data
                  plugin.name: pgoutput
                  topic.prefix: ignored
            """, options: "incremental_strategy: merge")
        let settings = try Self.streamSettings(content)
        #expect(settings.schemas == ["sales", "stock"])
        #expect(settings.tables.isEmpty)
        #expect(settings.slot == "orders_slot")
        #expect(settings.publication == "orders_pub")
        #expect(settings.snapshot == false)
        #expect(settings.destinationTable == nil)
        #expect(try Self.streamSettings(Self.cdcPipeline(cdc: "snapshot.mode: initial", options: "{}")).snapshot == nil)
        // A YAML list works as well as Debezium's comma-separated text.
        #expect(try Self.pipeline(Self.cdcPipeline(cdc: "table.include.list: [public.a, public.b]")).tables == ["public.a", "public.b"])
    }

    @Test func flagsWinOverTheFile() throws {
        let content = Self.cdcPipeline(cdc: "table.include.list: public.orders\n      slot.name: s1\n      snapshot.mode: never")
        let settings = try Self.streamSettings(
            content, ["--slot", "s2", "--publication", "p2", "--tables", "public.items", "--snapshot", "--schema-map", "public=m"])
        #expect(settings.slot == "s2")
        #expect(settings.publication == "p2")
        #expect(settings.tables == ["public.items"])
        #expect(settings.snapshot == true)
        // dest_table follows the one table included, whichever layer included it.
        #expect(settings.destination(schema: "public", name: "items") == TableName(schema: "analytics", name: "orders_cdc"))
        // --from and --to replace the addresses, so a dataos:// address is then no error.
        let dataos = try LoadSettingsTests.destination(
            "nilus.yaml", Self.cdcPipeline(source: "dataos://pg-source", sink: "dataos://postgres-destination"))
        #expect(try dataos.connection(replaced: true) == nil)
    }

    @Test func cdcApplyRoutesEveryEventToDestTable() throws {
        let pipeline = try Self.pipeline(
            Self.cdcPipeline(cdc: "unavailable.value.placeholder: __gone", source: "dataos://kafka-topic"))
        let settings = try CDCApplyCommand.parse([]).settings(pipeline: pipeline, connectionSchema: nil)
        #expect(settings.tableFormat == "analytics.orders_cdc")
        #expect(settings.unavailableValue == "__gone")
        let flagged = try CDCApplyCommand.parse(["--table-format", "m.{table}", "--unavailable-value", ""])
            .settings(pipeline: pipeline, connectionSchema: nil)
        #expect(flagged.tableFormat == "m.{table}")
        #expect(flagged.unavailableValue == "")
    }

    @Test func destTableTakesOneSourceTable() throws {
        let two = try Self.streamFailure(Self.cdcPipeline(cdc: "table.include.list: public.a,public.b"))
        #expect(
            two.contains("dest_table analytics.orders_cdc takes the changes of one source table, and it includes public.a, public.b"),
            "\(two)")
        #expect(two.contains("--schema-map"))
        let none = try Self.streamFailure(Self.cdcPipeline(cdc: "topic.prefix: x"))
        #expect(none.contains("every table of the publication"), "\(none)")
        let flagged = try Self.streamFailure(Self.cdcPipeline(), ["--tables", "public.a,public.b"])
        #expect(flagged.contains("it includes public.a, public.b"), "\(flagged)")
        let schemas = try Self.streamFailure(Self.cdcPipeline(cdc: "table.include.list: public.a\n      schema.include.list: s"))
        #expect(schemas.contains("every table of s"), "\(schemas)")
    }

    @Test(arguments: [
        (
            "incremental_strategy: append", "spec.sink.options.incremental_strategy is append, but a CDC pipeline keeps each table in "
                + "sync by key; write merge"
        ),
        ("incremental_strategy: replace", "spec.sink.options.incremental_strategy is replace"),
        ("primary_key: id", "unknown key spec.sink.options.primary_key; pgsink reads spec.sink.options.dest_table, "
            + "spec.sink.options.incremental_strategy here"),
        ("dest_table: orders.", "spec.sink.options.dest_table must be schema.table"),
    ])
    func sinkOptionsPgsinkCannotHonourAreRefused(options: String, message: String) throws {
        let text = try LoadSettingsTests.failure("nilus.yaml", Self.cdcPipeline(options: options))
        #expect(text.hasPrefix("nilus.yaml: " + message), "\(text)")
    }

    @Test(arguments: [
        ("snapshot.mode: always", "spec.source.cdc.snapshot.mode always is not supported; pgsink takes initial"),
        ("database.hostname: db", "spec.source.cdc has \"database.hostname\", which pgsink does not read; the Debezium "
            + "properties it reads are table.include.list, schema.include.list, slot.name"),
        ("plugin.name: decoderbufs", "spec.source.cdc.plugin.name is decoderbufs; pgsink reads PostgreSQL's built-in pgoutput"),
        ("table.include.list: \"public.orders_.*\"", "spec.source.cdc.table.include.list has \"public.orders_.*\"; pgsink "
            + "takes plain names"),
    ])
    func connectorPropertiesPgsinkCannotHonourAreRefused(cdc: String, message: String) throws {
        let text = try LoadSettingsTests.failure("nilus.yaml", Self.cdcPipeline(cdc: cdc))
        #expect(text.hasPrefix("nilus.yaml: " + message), "\(text)")
    }

    @Test func aDataOSAddressIsRefusedWhenItIsNeeded() throws {
        let pipeline = try Self.pipeline(Self.cdcPipeline(source: "dataos://mongodb-cdc", sink: "dataos://postgres-destination"))
        #expect(throws: ConnectionError.self) { try pipeline.sourceConnection() }
        do {
            _ = try pipeline.sourceConnection()
        } catch {
            #expect("\(error)".contains(
                "spec.source.address is dataos://mongodb-cdc, a DataOS depot pgsink cannot look up; write the server's "
                    + "postgresql:// URL there (or ${VARIABLE}), or pass --from"), "\(error)")
        }
        let config = try LoadSettingsTests.destination(
            "nilus.yaml", Self.cdcPipeline(source: "dataos://mongodb-cdc", sink: "dataos://postgres-destination"))
        do {
            _ = try config.connection(replaced: false)
            Issue.record("a dataos:// sink address was accepted")
        } catch {
            #expect("\(error)".contains("spec.sink.address is dataos://postgres-destination"), "\(error)")
            #expect("\(error)".contains("or pass --to"), "\(error)")
        }
    }

    @Test func theBatchShapeIsForLoadAndTheCDCShapeForCDC() throws {
        let batch = """
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
                address: postgresql://loader@warehouse.example.com/dw
                options:
                  dest_table: analytics.orders
                  incremental_strategy: replace
            """
        let config = try LoadSettingsTests.destination("batch.yaml", batch)
        #expect(config.settings.table == "analytics.orders")
        #expect(config.settings.writeMode == WriteMode(.replace))
        #expect(try config.connection(replaced: false)?.base == "postgresql://loader@warehouse.example.com/dw")
        do {
            try #require(config.pipeline).require(.cdc, for: "pgsink cdc stream")
            Issue.record("a batch pipeline was accepted by cdc stream")
        } catch {
            #expect("\(error)".contains(
                "batch.yaml is a Nilus batch pipeline (spec.type: batch), which pgsink cdc stream does not run; run it with "
                    + "pgsink load"), "\(error)")
        }
        do {
            try Self.pipeline(Self.cdcPipeline()).require(.batch, for: "pgsink load")
            Issue.record("a CDC pipeline was accepted by load")
        } catch {
            #expect("\(error)".contains("is a Nilus CDC pipeline (spec.type: cdc), which pgsink load does not run; run it with "
                + "pgsink cdc stream --config"), "\(error)")
        }
    }

    @Test(arguments: [
        ("type: workflow\nspec: {}\n", "type is \"workflow\"; pgsink reads Nilus pipelines (type: nilus) or a destination: section"),
        ("type: nilus\nspec:\n  type: stream\n", "spec.type is \"stream\"; a Nilus pipeline's spec.type is batch or cdc"),
        ("type: nilus\nspec:\n  type: cdc\n  resources: {}\n", "unknown key spec.resources; pgsink reads spec.type"),
        ("type: nilus\ndestination: {}\nspec:\n  type: cdc\n", "unknown top-level key \"destination\" in a Nilus pipeline"),
    ])
    func documentsThatAreNoNilusPipelineAreRefused(content: String, message: String) throws {
        let text = try LoadSettingsTests.failure("nilus.yaml", content)
        #expect(text.hasPrefix("nilus.yaml: " + message), "\(text)")
    }
}
