import Foundation
import PGSink
import PGSinkCore
import Testing

/// Nested JSON, bookkeeping columns, stale rows, indexes and partitioned targets.
@Suite("Nested data, stale rows, indexes and partitions")
struct NestedAndStaleTests {
    static let people = """
        {"id":1,"name":"Ann","address":{"city":"Oslo","geo":{"lat":59.9,"lon":10.7}},"tags":["a","b"]}
        {"id":2,"name":"Bo","address":{"city":"Rome"},"extra":{"k":{"deep":true}}}

        """

    @Test func jsonbKeepsObjectsAndArraysInOneColumn() throws {
        let db = try TestDatabase()
        try db.load(Self.people, as: "p.jsonl", into: "p")
        #expect(try db.columnTypes("p") == ["id": "bigint", "name": "text", "address": "jsonb", "tags": "jsonb", "extra": "jsonb"])
        #expect(try db.column("SELECT address->'geo'->>'lat' FROM \(db.table("p").quoted) WHERE id = 1") == ["59.9"])
    }

    @Test func flattenMakesParentChildColumnsAndKeepsArraysAsJSON() throws {
        let db = try TestDatabase()
        try db.load(Self.people, as: "p.jsonl", into: "p") { $0.nested = .flatten(depth: 1000) }
        let types = try db.columnTypes("p")
        #expect(types["address__city"] == "text")
        #expect(types["address__geo__lat"] == "numeric")
        #expect(types["extra__k__deep"] == "boolean")
        #expect(types["tags"] == "jsonb")
        #expect(types["address"] == nil)
        #expect(
            try db.rows("SELECT address__city, address__geo__lon::text, tags::text FROM \(db.table("p").quoted) ORDER BY id")
                == [["Oslo", "10.7", "[\"a\", \"b\"]"], ["Rome", nil, nil]])
    }

    @Test func flattenStopsAtTheDepthAndHonoursSeparatorAndJSONColumns() throws {
        let db = try TestDatabase()
        try db.load(Self.people, as: "p.jsonl", into: "one") { $0.nested = .flatten(depth: 1) }
        #expect(try db.columnTypes("one")["address__geo"] == "jsonb")
        #expect(try db.columnTypes("one")["extra__k"] == "jsonb")

        try db.load(Self.people, as: "p.jsonl", into: "rudder") {
            $0.nested = .flatten(depth: 1000)
            $0.nestedSeparator = "_"
            $0.jsonColumns = ["address.geo"]
        }
        let types = try db.columnTypes("rudder")
        #expect(types["address_city"] == "text")
        #expect(types["address_geo"] == "jsonb")
        #expect(types["extra_k_deep"] == "boolean")
        #expect(try db.column("SELECT address_geo->>'lat' FROM \(db.table("rudder").quoted) WHERE id = 1") == ["59.9"])
    }

    static let owners = """
        {"id":1,"name":"Ann","pets":[{"name":"Rex","toys":[{"t":"ball"},{"t":"rope"}]},{"name":"Tom","toys":[]}],"tags":["x","y"]}
        {"id":2,"name":"Bo","pets":[{"name":"Kit","info":{"age":3}}]}
        {"id":3,"name":"Cy","pets":[]}

        """

    @Test func tablesTurnsArraysIntoLinkedChildTables() throws {
        let db = try TestDatabase()
        let summary = try db.load(Self.owners, as: "owners.jsonl", into: "owners") { $0.nested = .tables }
        #expect(summary.rows == 3)
        #expect(try db.tables(startingWith: "owners") == ["owners", "owners__pets", "owners__pets__toys", "owners__tags"])
        #expect(summary.childTables["\(db.schema).owners__pets"] == 3)
        #expect(try db.columnTypes("owners__pets")["info__age"] == "bigint")
        #expect(try db.columnTypes("owners__tags")["value"] == "text")
        // Every child row links to its parent and to the top-level row, with its list position.
        let pets = try db.rows(
            """
            SELECT o.name, p.name, p._pgsink_list_idx::text FROM \(db.table("owners").quoted) o
            JOIN \(db.table("owners__pets").quoted) p ON p._pgsink_parent_id = o._pgsink_id AND p._pgsink_root_id = o._pgsink_id
            ORDER BY o.id, p._pgsink_list_idx
            """)
        #expect(pets == [["Ann", "Rex", "0"], ["Ann", "Tom", "1"], ["Bo", "Kit", "0"]])
        let toys = try db.rows(
            """
            SELECT p.name, t.t FROM \(db.table("owners__pets").quoted) p
            JOIN \(db.table("owners__pets__toys").quoted) t ON t._pgsink_parent_id = p._pgsink_id
            WHERE t._pgsink_root_id = p._pgsink_root_id ORDER BY t._pgsink_list_idx
            """)
        #expect(toys == [["Rex", "ball"], ["Rex", "rope"]])
        #expect(
            try db.column("SELECT value FROM \(db.table("owners__tags").quoted) ORDER BY _pgsink_list_idx") == ["x", "y"])
    }

    @Test func mergeReplacesAParentsChildrenConsistently() throws {
        let db = try TestDatabase()
        let merge: (inout LoadRequest) -> Void = {
            $0.nested = .tables
            $0.primaryKey = ["id"]
        }
        try db.load(Self.owners, as: "owners.jsonl", into: "owners", mode: .merge, merge)
        // Ann now has one pet without toys and no tags; Bo repeats in the batch (the last wins);
        // Cy is not in this load and keeps everything.
        let update = """
            {"id":1,"name":"Ann","pets":[{"name":"Max"}],"tags":[]}
            {"id":2,"name":"Bo","pets":[{"name":"Old"}]}
            {"id":2,"name":"Bo","pets":[{"name":"Kit"},{"name":"New"}]}

            """
        try db.load(update, as: "update.jsonl", into: "owners", mode: .merge, merge)
        #expect(try db.count("owners") == 3)
        #expect(
            try db.rows(
                """
                SELECT o.name, p.name FROM \(db.table("owners").quoted) o JOIN \(db.table("owners__pets").quoted) p
                ON p._pgsink_root_id = o._pgsink_id ORDER BY o.id, p._pgsink_list_idx
                """) == [["Ann", "Max"], ["Bo", "Kit"], ["Bo", "New"]])
        #expect(try db.count("owners__pets__toys") == 0)
        #expect(try db.count("owners__tags") == 0)
        // The same merge again changes nothing.
        try db.load(update, as: "update.jsonl", into: "owners", mode: .merge, merge)
        #expect(try db.count("owners__pets") == 3)
    }

    @Test func replaceEmptiesChildTablesToo() throws {
        let db = try TestDatabase()
        try db.load(Self.owners, as: "owners.jsonl", into: "owners") { $0.nested = .tables }
        try db.load(#"{"id":9,"name":"Zed"}"# + "\n", as: "z.jsonl", into: "owners", mode: .replace) { $0.nested = .tables }
        #expect(try db.count("owners") == 1)
        #expect(try db.count("owners__pets") == 0)
        #expect(try db.count("owners__pets__toys") == 0)
    }

    // MARK: bookkeeping and stale rows

    @Test func metadataColumnsCarryTheLoad() throws {
        let db = try TestDatabase()
        let first = try db.load("id\n1\n2\n", as: "m.csv", into: "m") { $0.metadata = true }
        let second = try db.load("id\n3\n", as: "n.csv", into: "m") { $0.metadata = true }
        #expect(try db.columnTypes("m")["_pgsink_loaded_at"] == "timestamp with time zone")
        #expect(
            try db.rows("SELECT id::text, _pgsink_load_id::text FROM \(db.table("m").quoted) ORDER BY id")
                == [["1", String(first.loadId)], ["2", String(first.loadId)], ["3", String(second.loadId)]])
        #expect(
            try db.column(
                "SELECT count(*) FROM \(db.table("m").quoted) m JOIN \(db.table("_pgsink_loads").quoted) l "
                    + "ON l.id = m._pgsink_load_id WHERE m._pgsink_loaded_at = date_trunc('milliseconds', l.started_at) "
                    + "OR abs(extract(epoch FROM m._pgsink_loaded_at - l.started_at)) < 0.001") == ["3"])
    }

    @Test func deleteStaleRemovesExactlyTheRowsThisSourceNoLongerHas() throws {
        let db = try TestDatabase()
        let sync: (String, Bool) -> (inout LoadRequest) -> Void = { source, index in
            { request in
                request.primaryKey = ["id"]
                request.deleteStale = true
                request.sourceName = source
                request.performanceIndexes = index
            }
        }
        try db.load("id,v\n1,a\n2,b\n3,c\n", as: "s1.csv", into: "items", mode: .merge, sync("crm", true))
        try db.load("id,v\n10,x\n11,y\n", as: "s2.csv", into: "items", mode: .merge, sync("shop", true))
        // crm's next sync no longer has 3, and 1 is unchanged.
        let summary = try db.load("id,v\n1,a\n2,B\n", as: "s1b.csv", into: "items", mode: .merge, sync("crm", true))
        #expect(summary.staleDeleted == 1)
        #expect(
            try db.rows("SELECT id::text, v, _pgsink_source FROM \(db.table("items").quoted) t ORDER BY t.id")
                == [["1", "a", "crm"], ["2", "B", "crm"], ["10", "x", "shop"], ["11", "y", "shop"]])
        // The performance index was created once.
        let indexes = try db.column(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = '\(db.schema)' AND tablename = 'items' AND indexdef LIKE '%_pgsink_source%'")
        #expect(indexes.count == 1)
        #expect(indexes.first??.contains("(_pgsink_source, _pgsink_synced_at)") == true)
    }

    @Test func deleteStaleWithAppendKeepsOnlyTheLatestSync() throws {
        let db = try TestDatabase()
        let sync: (inout LoadRequest) -> Void = {
            $0.deleteStale = true
            $0.sourceName = "feed"
        }
        try db.load("id\n1\n2\n", as: "a.csv", into: "feed", sync)
        let summary = try db.load("id\n3\n", as: "b.csv", into: "feed", sync)
        #expect(summary.staleDeleted == 2)
        #expect(try db.column("SELECT id::text FROM \(db.table("feed").quoted)") == ["3"])
    }

    // MARK: indexes

    @Test func indexesAreCreatedOnceWithShortDistinctNames() throws {
        let db = try TestDatabase()
        let long = String(repeating: "wide_table_name_", count: 4)
        let options: (inout LoadRequest) -> Void = {
            $0.uniqueIndexes = [["email"]]
            $0.plainIndexes = [["city", "Name"]]
            $0.force = true
        }
        // Something already holds the name the unique index would get.
        let expected = NamingRules.fitting(long + "_email_key")
        try db.connection.execute("CREATE TABLE \(db.table(expected).quoted) (x int)")
        let first = try db.load("email,city,Name\na@x,Oslo,Ann\n", as: "i.csv", into: long, options)
        #expect(first.indexesCreated.count == 2)
        #expect(first.indexesCreated.allSatisfy { $0.utf8.count <= 63 })
        #expect(!first.indexesCreated.contains(expected))
        let second = try db.load("email,city,Name\nb@x,Rome,Bo\n", as: "j.csv", into: long, options)
        #expect(second.indexesCreated.isEmpty)
        let defs = try db.column(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = '\(db.schema)' AND tablename = '\(long)' ORDER BY indexdef")
        #expect(defs.count == 2)
        #expect(defs.contains { $0?.contains("UNIQUE") == true && $0?.contains("(email)") == true })
        #expect(defs.contains { $0?.contains("(city, name)") == true })
        // --no-indexes creates none.
        let none = try db.load("email\nc@x\n", as: "k.csv", into: "plain") {
            $0.uniqueIndexes = [["email"]]
            $0.createIndexes = false
        }
        #expect(none.indexesCreated.isEmpty)
        // A duplicate under a requested unique index is a clear error.
        let error = #expect(throws: LoadError.self) {
            try db.load("email\nd@x\nd@x\n", as: "dup.csv", into: "dups") { $0.uniqueIndexes = [["email"]] }
        }
        #expect(error?.message.contains("duplicates") == true)
        #expect(try !db.exists("dups"))
    }

    // MARK: partitioned targets

    private func partitioned(_ db: TestDatabase) throws {
        let t = db.table("sales").quoted
        try db.connection.execute("CREATE TABLE \(t) (id bigint, region text, amount numeric, PRIMARY KEY (id, region)) PARTITION BY LIST (region)")
        try db.connection.execute("CREATE TABLE \(db.table("sales_eu").quoted) PARTITION OF \(t) FOR VALUES IN ('eu')")
        try db.connection.execute("CREATE TABLE \(db.table("sales_us").quoted) PARTITION OF \(t) FOR VALUES IN ('us')")
    }

    @Test func aPartitionedTableTakesEveryMode() throws {
        let db = try TestDatabase()
        try partitioned(db)
        try db.load("id,region,amount\n1,eu,10\n2,us,20\n", as: "a.csv", into: "sales")
        #expect(try db.count("sales_eu") == 1)
        try db.load("id,region,amount\n1,eu,11\n3,us,30\n", as: "b.csv", into: "sales", mode: .merge) {
            $0.primaryKey = ["id", "region"]
        }
        #expect(
            try db.rows("SELECT id::text, amount::text FROM \(db.table("sales").quoted) ORDER BY id")
                == [["1", "11"], ["2", "20"], ["3", "30"]])
        try db.load("id,region,amount,note\n5,eu,50,new\n", as: "c.csv", into: "sales", mode: .replace)
        #expect(try db.rows("SELECT id::text, note FROM \(db.table("sales_eu").quoted)") == [["5", "new"]])
        #expect(try db.count("sales_us") == 0)
        // A row no partition takes is a reject when rejects are allowed.
        let summary = try db.load("id,region,amount\n6,eu,1\n7,asia,2\n", as: "d.csv", into: "sales") { $0.maxRejects = 1 }
        #expect(summary.rejected == 1)
        #expect(try db.count("sales") == 2)
    }

    @Test func mergeIntoAPartitionedTableNeedsThePartitionColumnInTheKey() throws {
        let db = try TestDatabase()
        try partitioned(db)
        let error = #expect(throws: LoadError.self) {
            try db.load("id,region,amount\n1,eu,10\n", as: "a.csv", into: "sales", mode: .merge) { $0.primaryKey = ["id"] }
        }
        #expect(error?.message.contains("partitioned by (region)") == true)
        #expect(error?.message.contains("--primary-key id,region") == true)
    }
}
