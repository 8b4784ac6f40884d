import Foundation
import PGSinkCore
import Testing

@testable import PGSink

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

    /// Tables in the test's schema on each worker (shards included), by name pattern.
    static func workerTables(_ db: TestDatabase, like pattern: String) throws -> [String?] {
        try db.column(
            "SELECT result FROM run_command_on_workers($$SELECT count(*) FROM pg_tables WHERE schemaname = '\(db.schema)' "
                + "AND tablename LIKE '\(pattern)'$$)")
    }

    /// A new distributed table: the rows go to a hidden table's shards, committed batch by
    /// batch; kill -9 leaves that hidden table, never the target, and the re-run drops it.
    @Test func killedWhileFillingANewTableLeavesNoTargetAndTheRerunCleansUp() throws {
        let db = try Self.database()
        let rows = Self.csv(1...20_000).split(separator: "\n").map(String.init)
        let arguments = ["load", "-", "--format", "csv", "--to", db.url, "--table", "\(db.schema).orders", "--distribute-by", "id"]
        let (process, input, errors) = try InterruptTests.start(arguments + ["--batch-rows", "1000"], input: Array(rows[..<5001]))
        let hidden = "SELECT count(*) FROM pg_tables WHERE schemaname = '\(db.schema)' AND tablename LIKE '\\_pgsink\\_parallel\\_%'"
        #expect(try ExactlyOnceTests.eventually {
            try db.column(hidden) == ["1"] && (try Self.workerTables(db, like: "\\_pgsink\\_parallel\\_%")) != ["0", "0"]
        }, "\((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? input.close()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(try !db.exists("orders"))
        let run = try CommandLineTests.run(arguments, stdin: rows.joined(separator: "\n") + "\n")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("rows sent straight to its 32 shards on 2 workers"), "\(run.stdout)")
        #expect(try db.count("orders") == 20_000)
        #expect(try db.column(hidden) == ["0"])
        #expect(try Self.workerTables(db, like: "\\_pgsink\\_parallel\\_%") == ["0", "0"])
        #expect(try Self.rowsPerNode(db, "orders").values.reduce(0, +) == 20_000)
    }

    /// A merge into a distributed table stages its rows on shards of a hidden table and moves them
    /// in with one distributed transaction: kill -9 midway changes nothing, and the re-run drops
    /// the staging table (on every node) and merges everything.
    @Test func killedMidMergeChangesNothingAndTheRerunMerges() throws {
        let db = try Self.database()
        try db.load(Self.csv(1...1000), as: "orders.csv", into: "orders", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.distribution = Distribution(column: "id")
        }
        let rows = Self.csv(501...20_000, item: "new").split(separator: "\n").map(String.init)
        let arguments = ["load", "-", "--format", "csv", "--to", db.url, "--table", "\(db.schema).orders", "--mode", "merge",
                         "--primary-key", "id"]
        let (process, input, errors) = try InterruptTests.start(arguments + ["--batch-rows", "1000"], input: Array(rows[..<5001]))
        // Rows of the first batches are in the staging table's shards.
        #expect(try ExactlyOnceTests.eventually {
            guard let stage = try db.column(
                "SELECT tablename FROM pg_tables WHERE schemaname = '\(db.schema)' AND tablename LIKE '\\_pgsink\\_parallel\\_%'"
            ).first ?? nil else { return false }
            return try db.column("SELECT count(*) > 0 FROM \(db.table(stage).quoted)") == ["t"]
        }, "\((try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? input.close()
        #expect(try db.column("SELECT count(*) FILTER (WHERE item LIKE 'new%') || '/' || count(*) FROM \(db.table("orders").quoted)") == ["0/1000"])
        let run = try CommandLineTests.run(arguments, stdin: rows.joined(separator: "\n") + "\n")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("rows sent straight to its 32 shards on 2 workers"), "\(run.stdout)")
        for pattern in ["\\_pgsink\\_stage%", "\\_pgsink\\_parallel\\_%"] {
            #expect(try db.column("SELECT count(*) FROM pg_tables WHERE schemaname = '\(db.schema)' AND tablename LIKE '\(pattern)'") == ["0"])
            #expect(try Self.workerTables(db, like: pattern) == ["0", "0"])
        }
        #expect(try db.column("SELECT count(*) FILTER (WHERE item LIKE 'new%') || '/' || count(*) FROM \(db.table("orders").quoted)") == ["19500/20000"])
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

extension CitusTests {
    /// pgsink's hash of a distribution value equals Citus's own (`worker_hash`) for every type it
    /// routes itself, over edge values and random ones.
    @Test func theClientsHashOfEachTypeIsCitussOwn() throws {
        let db = try Self.database()
        var random = SystemRandomNumberGenerator()
        func check(_ type: ColumnType, _ sqlType: String, _ texts: [String], _ binary: (String) -> [UInt8]) throws {
            let server = try db.connection.query(
                "SELECT worker_hash(v) FROM unnest($1::\(sqlType)[]) WITH ORDINALITY AS u(v, n) ORDER BY n",
                [SQL.textArray(texts)]
            ).rows.map { Int32($0[0] ?? "") }
            let ours = texts.map { text in binary(text).withUnsafeBufferPointer { CitusHash.hash($0.baseAddress!, $0.count, as: type) } }
            #expect(ours == server, "\(sqlType)")
        }
        func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }
        let longs = [0, 1, -1, Int64.max, Int64.min, 4_294_967_296, -4_294_967_297] + (0..<300).map { _ in Int64.random(in: .min ... .max, using: &random) }
        try check(.bigint, "bigint", longs.map(String.init)) { bigEndian(Int64($0)!) }
        let ints = [0, 1, -1, Int32.max, Int32.min] + (0..<200).map { _ in Int32.random(in: .min ... .max, using: &random) }
        try check(.integer, "integer", ints.map(String.init)) { bigEndian(Int32($0)!) }
        let shorts = [0, 1, -1, Int16.max, Int16.min] + (0..<100).map { _ in Int16.random(in: .min ... .max, using: &random) }
        try check(.smallint, "smallint", shorts.map(String.init)) { bigEndian(Int16($0)!) }
        let alphabet = Array("abcXYZ 019-é漢🙂")
        let texts = [""] + (1...60).map { length in String((0..<length).map { _ in alphabet.randomElement(using: &random)! }) }
        try check(.text, "text", texts) { Array($0.utf8) }
        let uuids = (0..<100).map { _ in UUID().uuidString.lowercased() }
        try check(.uuid, "uuid", uuids) { text in
            let hex = Array(text.replacing("-", with: "").utf8)
            return stride(from: 0, to: 32, by: 2).map { UInt8(String(decoding: hex[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
        }
        let days = [0, 1, -1, 8035, -730_000, 2_000_000] + (0..<100).map { _ in Int32.random(in: -700_000...2_000_000, using: &random) }
        let dates = try db.connection.query(
            "SELECT (DATE '2000-01-01' + d)::text FROM unnest($1::int[]) WITH ORDINALITY AS u(d, n) ORDER BY n",
            [SQL.textArray(days.map(String.init))]
        ).rows.map { $0[0]! }
        var byDate: [String: Int32] = [:]
        for (text, day) in zip(dates, days) { byDate[text] = day }
        try check(.date, "date", dates) { bigEndian(byDate[$0]!) }
    }

    /// Rows sent straight to the shards land where Citus looks for them: per shard, the rows it
    /// holds are exactly those whose value Citus maps to it.
    @Test(arguments: ["id", "item"])
    func rowsSentStraightToTheShardsAreWhereCitusLooks(_ column: String) throws {
        let db = try Self.database()
        let summary = try db.load(Self.csv(1...5000), as: "orders.csv", into: "orders") {
            $0.distribution = Distribution(column: column, shardCount: 7)
            $0.batchRows = 700
        }
        #expect(summary.rows == 5000)
        #expect(summary.shardsWritten == 7, "\(summary)")
        let name = db.table("orders").quoted
        let expected = try db.rows(
            "SELECT get_shard_id_for_distribution_column('\(name)', \(column))::text, count(*)::text FROM \(name) GROUP BY 1 ORDER BY 1")
        let actual = try db.rows(
            "SELECT shardid::text, result FROM run_command_on_shards('\(name)', $$SELECT count(*) FROM %s$$) ORDER BY 1")
        #expect(expected == actual)
        // Every row is found by a query Citus prunes to the shards of the values asked for.
        let values = stride(from: 1, through: 5000, by: 97).map { column == "id" ? "\($0)" : "'item \($0)'" }
        let found = try db.column("SELECT count(*) FROM \(name) WHERE \(column) IN (\(values.joined(separator: ", ")))")
        #expect(found == [String(values.count)])
        #expect(try db.count("orders") == 5000)
    }
}

extension CitusTests {
    /// Values the shards cannot take fail the load in words that say why, and leave neither the
    /// table nor its hidden stand-in on any node.
    @Test func aNullOrAWideningDistributionValueFailsCleanly() throws {
        let db = try Self.database()
        var withNull = Self.csv(1...3000)
        withNull += ",1,no id,2.5\n"
        #expect {
            try db.load(withNull, as: "orders.csv", into: "orders") {
                $0.distribution = Distribution(column: "id")
                $0.batchRows = 1000
            }
        } throws: { error in "\(error)".lowercased().contains("null") }
        var widened = Self.csv(1...3000)
        widened += "abc,1,text id,2.5\n"
        #expect {
            try db.load(widened, as: "orders.csv", into: "orders") {
                $0.distribution = Distribution(column: "id")
                $0.batchRows = 1000
            }
        } throws: { error in
            "\(error)".contains("cannot widen column id") && "\(error)".contains("distribution column")
                && "\(error)".contains("line 3002 of") && "\(error)".contains("\(db.schema).orders from bigint")
        }
        #expect(try !db.exists("orders"))
        #expect(try db.column("SELECT count(*) FROM pg_tables WHERE schemaname = '\(db.schema)' AND tablename LIKE '\\_pgsink\\_parallel\\_%'") == ["0"])
        #expect(try Self.workerTables(db, like: "%orders%") == ["0", "0"])
    }
}

extension CitusTests {
    /// `--jobs auto` on a coordinator takes its worker count as the server's hint.
    @Test func jobsAutoCountsTheWorkers() throws {
        let db = try Self.database()
        #expect(try AutoJobs.serverHint(on: db.connection).count == 2)
        let summary = try db.load(Self.csv(1...3000), as: "orders.csv", into: "orders") {
            $0.distribution = Distribution(column: "id")
            $0.jobs = .auto
            $0.batchRows = 500
        }
        #expect(summary.autoJobs == min(2, ProcessInfo.processInfo.activeProcessorCount))
        #expect(summary.shardsWritten == 32 && summary.workersWritten == 2)
        #expect(try Self.rowsPerNode(db, "orders").values.reduce(0, +) == 3000)
    }
}

extension CitusTests {
    /// `--jobs 2` into an existing distributed table: the staging tables stay on the coordinator
    /// and one transaction moves their rows in, in every mode.
    @Test func jobsIntoAnExistingDistributedTableInEveryMode() throws {
        let db = try Self.database()
        try db.load(Self.csv(1...1000), as: "orders.csv", into: "orders", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.distribution = Distribution(column: "id", shardCount: 4)
        }
        let merged = try db.load(Self.csv(501...2000, item: "new", extra: "note"), as: "more.csv", into: "orders", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.jobs = 2
            $0.batchRows = 200
        }
        #expect(merged.connections == 2)
        // One staging table distributed like the target: the rows went straight to its shards.
        #expect(merged.shardsWritten == 4 && merged.workersWritten == 2, "\(merged)")
        #expect(try db.column("SELECT count(*) FILTER (WHERE item LIKE 'new%') || '/' || count(note) || '/' || count(*) FROM \(db.table("orders").quoted)") == ["1500/1500/2000"])
        #expect(try db.tables(startingWith: "_pgsink_parallel_").isEmpty)
        let appended = try db.load(Self.csv(2001...2400), as: "later.csv", into: "orders") {
            $0.jobs = 2
            $0.batchRows = 100
        }
        #expect(appended.shardsWritten == 4, "\(appended)")
        #expect(try db.count("orders") == 2400)
        let replaced = try db.load(Self.csv(1...300), as: "orders.csv", into: "orders", mode: .replace) {
            $0.jobs = 2
            $0.batchRows = 100
        }
        #expect(replaced.connections == 2)
        #expect(replaced.shardsWritten == 4)
        #expect(try db.count("orders") == 300)
        #expect(try Self.placement(db, "orders") == ["distributed", "id", "4"])
        #expect(try Self.rowsPerNode(db, "orders").values.reduce(0, +) == 300)
    }

    @Test func oneJobIntoAnExistingDistributedTableSendsItsRowsStraightToTheShards() throws {
        let db = try Self.database()
        try db.load(Self.csv(1...1000), as: "orders.csv", into: "orders", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.distribution = Distribution(column: "id", shardCount: 4)
        }
        let appended = try db.load(Self.csv(1001...1500), as: "more.csv", into: "orders") { $0.batchRows = 100 }
        #expect(appended.connections == 1)
        #expect(appended.shardsWritten == 4 && appended.workersWritten == 2, "\(appended)")
        let merged = try db.load(Self.csv(1401...2000, item: "new"), as: "merge.csv", into: "orders", mode: .merge) {
            $0.primaryKey = ["id"]
            $0.batchRows = 100
        }
        #expect(merged.shardsWritten == 4, "\(merged)")
        #expect(try db.column("SELECT count(*) FILTER (WHERE item LIKE 'new%') || '/' || count(*) FROM \(db.table("orders").quoted)") == ["600/2000"])
        #expect(try db.tables(startingWith: "_pgsink_parallel_").isEmpty)
        #expect(try Self.rowsPerNode(db, "orders").values.reduce(0, +) == 2000)
        // A failed load leaves the table as it was and no staging table on any node.
        #expect(throws: (any Error).self) {
            try db.load("id,tenant,item,amount\n2001,1,x,1.5\n2002,1,y,notanumber\n", as: "bad.csv", into: "orders") {
                $0.contract = .freeze
            }
        }
        #expect(try db.count("orders") == 2000)
        #expect(try db.tables(startingWith: "_pgsink_parallel_").isEmpty)
    }
}
