import Foundation
import PGSink
import PGSinkCore
import Testing

/// Loads into a Citus 14 coordinator with two workers on loopback (PGSINK_TEST_CITUS_URL: the
/// cluster `scripts/citus-test-server` starts for `make test`). (docs/scale-out.md)
@Suite("Citus", .serialized)
struct CitusTests {
    static func database() throws -> TestDatabase { try TestDatabase(variable: "PGSINK_TEST_CITUS_URL") }

    /// orders: id, tenant, item, amount.
    static func csv(_ ids: ClosedRange<Int>, item: String = "item", extra: String? = nil) -> String {
        var lines = ["id,tenant,item,amount" + (extra.map { ",\($0)" } ?? "")]
        for id in ids { lines.append("\(id),\(id % 5),\(item) \(id),\(Double(id) * 1.5)" + (extra.map { _ in ",x\(id)" } ?? "")) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Citus's type and distribution column of a table of the test's schema.
    static func placement(_ db: TestDatabase, _ table: String) throws -> [String?] {
        try db.rows(
            "SELECT citus_table_type, distribution_column, shard_count FROM citus_tables WHERE table_name = '\(db.table(table).quoted)'::regclass"
        ).first ?? []
    }

    /// Rows per worker, counted on each shard (`run_command_on_shards`) and summed by the node
    /// `citus_shards` places the shard on.
    static func rowsPerNode(_ db: TestDatabase, _ table: String) throws -> [String: Int] {
        let name = db.table(table).quoted
        let rows = try db.rows(
            "SELECT s.nodeport::text, sum(r.result::bigint)::text FROM citus_shards s JOIN run_command_on_shards('\(name)', "
                + "$$SELECT count(*) FROM %s$$) r ON r.shardid = s.shardid WHERE s.table_name = '\(name)'::regclass GROUP BY 1")
        return Dictionary(uniqueKeysWithValues: rows.map { ($0[0] ?? "?", Int($0[1] ?? "") ?? -1) })
    }

    @Test func aNewTableIsDistributedByTheColumnAndItsRowsSpreadOverBothWorkers() throws {
        let db = try Self.database()
        let summary = try db.load(Self.csv(1...2000), as: "orders.csv", into: "orders") {
            $0.distribution = Distribution(column: "tenant", shardCount: 6)
        }
        #expect(summary.rows == 2000)
        #expect(try Self.placement(db, "orders") == ["distributed", "tenant", "6"])
        let perNode = try Self.rowsPerNode(db, "orders")
        #expect(perNode.count == 2, "\(perNode)")
        #expect(perNode.values.reduce(0, +) == 2000)
        #expect(perNode.values.allSatisfy { $0 > 0 })
        // The ledger stays a local table on the coordinator.
        #expect(try Self.placement(db, "_pgsink_loads") == [])
        #expect(try db.count("_pgsink_loads") == 1)
    }

    @Test func referenceAndColocatedTables() throws {
        let db = try Self.database()
        try db.load("code,name\n0,zero\n1,one\n2,two\n", as: "tenants.csv", into: "tenants") { $0.distribution.reference = true }
        #expect(try Self.placement(db, "tenants") == ["reference", "<none>", "1"])
        try db.load(Self.csv(1...100), as: "orders.csv", into: "orders") { $0.distribution = Distribution(column: "id", shardCount: 4) }
        try db.load(Self.csv(1...100, item: "line"), as: "lines.csv", into: "lines") {
            $0.distribution = Distribution(column: "id", colocateWith: "orders")
        }
        let groups = try db.column(
            "SELECT colocation_id FROM citus_tables WHERE table_name IN ('\(db.table("orders").quoted)'::regclass, "
                + "'\(db.table("lines").quoted)'::regclass)")
        #expect(groups.count == 2 && groups[0] == groups[1], "\(groups)")
        #expect(try Self.placement(db, "lines") == ["distributed", "id", "4"])
        // A colocated join runs on the shards: no repartitioning, one task per shard.
        let plan = try db.column(
            "EXPLAIN SELECT count(*) FROM \(db.table("orders").quoted) o JOIN \(db.table("lines").quoted) l USING (id)"
        ).compactMap { $0 }.joined(separator: "\n")
        #expect(plan.contains("Task Count: 4"), "\(plan)")
        #expect(!plan.contains("Repartition"), "\(plan)")
    }

    @Test func aMergeKeyWithoutTheDistributionColumnFailsBeforeLoading() throws {
        let db = try Self.database()
        try db.load(Self.csv(1...50), as: "orders.csv", into: "orders") { $0.distribution = Distribution(column: "tenant") }
        #expect {
            try db.load(Self.csv(1...60), as: "orders.csv", into: "orders", mode: .merge) { $0.primaryKey = ["id"] }
        } throws: { error in
            "\(error)".contains("does not include its distribution column tenant")
                && "\(error)".contains("--primary-key tenant,id")
        }
        // A new table, distributed and merged on a key without the column: refused before the table is made.
        #expect {
            try db.load(Self.csv(1...60), as: "orders.csv", into: "fresh", mode: .merge) {
                $0.primaryKey = ["id"]
                $0.distribution = Distribution(column: "tenant")
            }
        } throws: { error in "\(error)".contains("does not include its distribution column tenant") }
        #expect(try !db.exists("fresh"))
        #expect(try db.count("orders") == 50)
    }

    @Test func aMergeWithTheDistributionColumnInTheKeyUpsertsOnTheShards() throws {
        let db = try Self.database()
        try db.load(Self.csv(1...1000), as: "orders.csv", into: "orders", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.distribution = Distribution(column: "id", shardCount: 4)
        }
        // Half the keys are new, a key repeats in the batch (the last record wins), and a new column arrives.
        var again = Self.csv(501...1500, item: "changed", extra: "note")
        again += "700,0,last,1.0,x\n"
        let summary = try db.load(again, as: "orders2.csv", into: "orders", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.batchRows = 300
        }
        #expect(summary.rows == 1001)
        #expect(try db.count("orders") == 1500)
        #expect(try db.column("SELECT item FROM \(db.table("orders").quoted) WHERE id = 700") == ["last"])
        #expect(try db.column("SELECT count(*) FROM \(db.table("orders").quoted) WHERE item LIKE 'changed%'") == ["999"])
        #expect(try db.column("SELECT count(note) FROM \(db.table("orders").quoted)") == ["1000"])
        // The staging table went with the load, on the coordinator and on the workers.
        #expect(try db.column("SELECT count(*) FROM pg_tables WHERE schemaname = '\(db.schema)' AND tablename LIKE '_pgsink_stage%'") == ["0"])
        let leftOnWorkers = try db.column(
            "SELECT result FROM run_command_on_workers($$SELECT count(*) FROM pg_tables WHERE schemaname = '\(db.schema)' "
                + "AND tablename LIKE '_pgsink_stage%'$$)")
        #expect(leftOnWorkers == ["0", "0"])
        #expect(try Self.rowsPerNode(db, "orders").values.reduce(0, +) == 1500)
    }

    /// The statements a merge into a distributed table runs, explained: the upsert from the
    /// colocated staging table is one task per shard, not rows pulled through the coordinator.
    @Test func theStagedUpsertIsPushedDownToTheShards() throws {
        let db = try Self.database()
        try db.load(Self.csv(1...100), as: "orders.csv", into: "orders", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.distribution = Distribution(column: "id", shardCount: 4)
        }
        let table = db.table("orders")
        let stage = db.table("_pgsink_stage_1")
        let columns = [
            CopyColumn(name: "id", type: .bigint, source: 0, required: true), CopyColumn(name: "tenant", type: .bigint, source: 1),
            CopyColumn(name: "item", type: .text, source: 2), CopyColumn(name: "amount", type: .numeric, source: 3),
        ]
        try db.connection.execute("BEGIN")
        defer { _ = try? db.connection.execute("ROLLBACK") }
        try db.connection.execute(SQL.createDistributedStage(stage, like: table, columns: columns.map(\.name)))
        try db.connection.query(SQL.distributeLike, [stage.quoted, "id", table.quoted])
        for deduplicate in [false, true] {
            let merge = SQL.mergeFromStage(stage, into: table, columns: columns, key: ["id"], deduplicate: deduplicate)
            let plan = try db.column("EXPLAIN " + merge).compactMap { $0 }.joined(separator: "\n")
            #expect(plan.contains("Custom Scan (Citus Adaptive)"), "\(plan)")
            #expect(plan.contains("Task Count: 4"), "\(plan)")
            #expect(!plan.contains("pull to coordinator") && !plan.contains("repartition") && !plan.contains("Subplan"), "\(plan)")
        }
    }

    @Test func replaceKeepsAViewAndSwapsTheRowsAtomically() throws {
        let db = try Self.database()
        try db.load(Self.csv(1...300), as: "orders.csv", into: "orders") { $0.distribution = Distribution(column: "id") }
        try db.connection.execute(
            "CREATE VIEW \(db.table("big").quoted) AS SELECT id, amount FROM \(db.table("orders").quoted) WHERE amount > 100")
        let summary = try db.load(Self.csv(1001...1100), as: "orders.csv", into: "orders", mode: .replace)
        #expect(summary.rows == 100)
        #expect(try db.count("orders") == 100)
        #expect(try db.column("SELECT min(id) FROM \(db.table("big").quoted)") == ["1001"])
        #expect(try Self.placement(db, "orders")[0] == "distributed")
        // A replace that fails (a value that cannot widen: the view fixes the type) keeps the old rows.
        #expect {
            try db.load("id,tenant,item,amount\n5,1,x,not a number\n", as: "bad.csv", into: "orders", mode: .replace)
        } throws: { error in "\(error)".contains("view") }
        #expect(try db.count("orders") == 100)
    }

    @Test func aNewColumnAndAWideningPropagateToTheShards() throws {
        let db = try Self.database()
        try db.load(Self.csv(1...100), as: "orders.csv", into: "orders") { $0.distribution = Distribution(column: "id", shardCount: 4) }
        let summary = try db.load(
            "id,tenant,item,amount,note\n101,too many,x,1.5,hello\n", as: "more.csv", into: "orders")
        #expect(summary.columnsAdded == ["note"])
        #expect(summary.columnsWidened == ["tenant: bigint → text"])
        // Every shard has the new column and the new type.
        let types = try db.column(
            "SELECT DISTINCT result FROM run_command_on_shards('\(db.table("orders").quoted)', $$SELECT string_agg(attname || ' ' || "
                + "format_type(atttypid, atttypmod), ', ' ORDER BY attname) FROM pg_attribute WHERE attrelid = '%s'::regclass "
                + "AND attname IN ('note', 'tenant')$$)")
        #expect(types == ["note text, tenant text"])
        // The distribution column cannot change type under Citus: the error says so and nothing commits.
        #expect {
            try db.load("id,tenant,item,amount\nabc,1,x,1\n", as: "bad.csv", into: "orders")
        } throws: { error in "\(error)".contains("cannot widen column id") && "\(error)".contains("distribution column") }
        #expect(try db.count("orders") == 101)
    }

    @Test func optionsOnAServerWithoutCitusFailWithTheFix() throws {
        let db = try TestDatabase()
        #expect {
            try db.load("a\n1\n", as: "a.csv", into: "a") { $0.distribution = Distribution(column: "a") }
        } throws: { error in "\(error)".contains("needs a Citus coordinator") && "\(error)".contains("has no citus extension") }
        #expect(try !db.exists("a"))
        #expect {
            try db.load("a\n1\n", as: "a.csv", into: "a") { $0.distribution = Distribution(reference: true, shardCount: 4) }
        } throws: { error in "\(error)".contains("--shard-count apply to distributed tables") }
    }

    @Test func killedMidLoadLeavesNothingAndARerunLoadsEverything() throws {
        let db = try Self.database()
        let rows = Self.csv(1...20_000).split(separator: "\n").map(String.init)
        let (process, input, errors) = try InterruptTests.start(
            ["load", "-", "--format", "csv", "--to", db.url, "--table", "\(db.schema).orders", "--distribute-by", "id",
             "--batch-rows", "1000"], input: Array(rows[..<5001]))
        #expect(try InterruptTests.waitForCopy(db, into: "orders"), "\((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? input.close()
        #expect(process.terminationReason == .uncaughtSignal)
        // Nothing is left: no table, no shards on the workers.
        #expect(try ExactlyOnceTests.eventually { try !db.exists("orders") })
        let shards = try db.column(
            "SELECT result FROM run_command_on_workers($$SELECT count(*) FROM pg_tables WHERE schemaname = '\(db.schema)'$$)")
        #expect(shards == ["0", "0"])
        let run = try CommandLineTests.run(
            ["load", "-", "--format", "csv", "--to", db.url, "--table", "\(db.schema).orders", "--distribute-by", "id"],
            stdin: rows.joined(separator: "\n") + "\n")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.count("orders") == 20_000)
        #expect(try Self.rowsPerNode(db, "orders").values.reduce(0, +) == 20_000)
    }

    @Test func checkReportsTheCoordinatorItsWorkersAndTheTable() throws {
        let db = try Self.database()
        try db.load(Self.csv(1...10), as: "orders.csv", into: "orders") { $0.distribution = Distribution(column: "id", shardCount: 2) }
        let run = try CommandLineTests.run(["check", "--to", db.url, "--table", "\(db.schema).orders"])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let line = run.stdout.split(separator: "\n").first { $0.hasPrefix("✓ citus:") }.map(String.init) ?? ""
        #expect(line.contains("coordinator with 2 workers"), "\(run.stdout)")
        #expect(line.contains("\(db.schema).orders is distributed by id"), "\(run.stdout)")
    }
}

extension CitusTests {
    /// customers with a list of orders, each with a list of lines (JSON Lines).
    static func nested(_ ids: ClosedRange<Int>, note: String = "n") -> String {
        ids.map { id in
            let orders = (0..<(id % 3 + 1)).map { o in
                #"{"no":\#(o),"lines":[{"sku":"a\#(id)","qty":\#(o + 1)},{"sku":"b\#(id)","qty":2}]}"#
            }.joined(separator: ",")
            return #"{"id":\#(id),"name":"\#(note) \#(id)","orders":[\#(orders)]}"#
        }.joined(separator: "\n") + "\n"
    }

    /// The order lines `nested(ids)` holds: two per order, `id % 3 + 1` orders per customer.
    static func lines(_ ids: ClosedRange<Int>) -> Int { ids.reduce(0) { $0 + ($1 % 3 + 1) * 2 } }

    @Test func childTablesOfADistributedParentAreColocatedWithIt() throws {
        let db = try Self.database()
        try db.load(Self.nested(1...200), as: "customers.jsonl", into: "customers", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.nested = .tables
            $0.distribution = Distribution(column: "id", shardCount: 4)
        }
        let tables = ["customers", "customers__orders", "customers__orders__lines"]
        let groups = try tables.map { try Self.placement(db, $0) }
        #expect(groups.allSatisfy { $0.count == 3 && $0[0] == "distributed" && $0[1] == "id" && $0[2] == "4" }, "\(groups)")
        let colocation = try db.column(
            "SELECT count(DISTINCT colocation_id) FROM citus_tables WHERE table_name::text LIKE '\(db.schema).customers%'")
        #expect(colocation == ["1"])
        // Each child row carries its customer's id, and the join on it runs shard by shard.
        #expect(try db.column(
            "SELECT count(*) FROM \(db.table("customers__orders__lines").quoted) l JOIN \(db.table("customers").quoted) c "
                + "ON c.id = l.id AND c._pgsink_id = l._pgsink_root_id") == [String(Self.lines(1...200))])
        let plan = try db.column(
            "EXPLAIN SELECT count(*) FROM \(db.table("customers__orders").quoted) o JOIN \(db.table("customers").quoted) c "
                + "ON c.id = o.id AND c._pgsink_id = o._pgsink_root_id"
        ).compactMap { $0 }.joined(separator: "\n")
        #expect(plan.contains("Task Count: 4") && !plan.contains("Repartition"), "\(plan)")
        // A merge replaces a customer's lists; customers it does not bring keep theirs.
        try db.load(#"{"id":5,"name":"again","orders":[{"no":9,"lines":[{"sku":"z","qty":1}]}]}"# + "\n", as: "again.jsonl",
            into: "customers", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.nested = .tables
        }
        #expect(try db.column("SELECT no FROM \(db.table("customers__orders").quoted) WHERE id = 5") == ["9"])
        #expect(try db.column("SELECT sku FROM \(db.table("customers__orders__lines").quoted) WHERE id = 5") == ["z"])
        #expect(try db.count("customers__orders__lines") == Self.lines(1...200) - Self.lines(5...5) + 1)
    }
}

extension CitusTests {
    /// A config file whose destination section distributes what the command creates.
    static func config(_ keys: String) throws -> String {
        try TestDatabase.file("pgsink.yaml", "destination:\n" + keys.split(separator: "\n").map { "  \($0)\n" }.joined())
    }

    @Test func aChangeFeedAppliesToADistributedTableAsToOneServer() throws {
        let db = try Self.database()
        let feed = CDCApplyTests.Feed.random(seed: 11, count: 400, keys: 25, replays: true)
        let path = try TestDatabase.file("feed.jsonl", feed.text)
        let run = try CDCApplyTests.apply(
            db, [path, "--batch-size", "37", "--config", try Self.config("distribution_column: id")])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Self.placement(db, "items").prefix(2) == ["distributed", "id"])
        #expect(try CDCApplyTests.rows(db) == feed.expected)
    }

    @Test func aSingerStreamCreatesItsTableDistributedAndMergesOnTheShards() throws {
        let db = try Self.database()
        let config = try TestDatabase.file(
            "config.json", #"{"default_target_schema": "\#(db.schema)", "distribution_column": "org", "shard_count": 4}"#)
        func stream(_ ids: ClosedRange<Int>, name: String) -> String {
            var lines = [
                #"{"type":"SCHEMA","stream":"users","schema":{"properties":{"id":{"type":"integer"},"org":{"type":"integer"},"name":{"type":"string"}}},"key_properties":["org","id"]}"#
            ]
            for id in ids { lines.append(#"{"type":"RECORD","stream":"users","record":{"id":\#(id),"org":\#(id % 3),"name":"\#(name)"}}"#) }
            lines.append(#"{"type":"STATE","value":{"last":\#(ids.upperBound)}}"#)
            return lines.joined(separator: "\n") + "\n"
        }
        let first = try CommandLineTests.run(["singer", "--config", config, "--to", db.url], stdin: stream(1...300, name: "a"))
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try Self.placement(db, "users") == ["distributed", "org", "4"])
        let second = try CommandLineTests.run(["singer", "--config", config, "--to", db.url], stdin: stream(201...400, name: "b"))
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains(#"{"last":400}"#))
        #expect(try db.column("SELECT count(*) FILTER (WHERE name = 'b') || '/' || count(*) FROM \(db.table("users").quoted)") == ["200/400"])
        #expect(try Self.rowsPerNode(db, "users").values.reduce(0, +) == 400)
    }
}
