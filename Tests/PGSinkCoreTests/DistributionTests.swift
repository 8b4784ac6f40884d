import Testing

@testable import PGSinkCore

/// The Citus options together (`--distribute-by`, `--reference-table`, `--colocate-with`,
/// `--shard-count`), and the statements they give.
@Suite("Distribution options")
struct DistributionTests {
    @Test func contradictionsSayTheFix() {
        #expect(Distribution().problem == nil)
        #expect(!Distribution().isRequested)
        #expect(Distribution(column: "id").problem == nil)
        #expect(Distribution(column: "id", colocateWith: "orders").problem == nil)
        #expect(Distribution(column: "id", shardCount: 8).problem == nil)
        #expect(Distribution(reference: true).problem == nil)
        #expect(Distribution(column: "id", reference: true).problem?.contains("exclude each other") == true)
        #expect(Distribution(reference: true, shardCount: 2).problem?.contains("not to a reference table") == true)
        #expect(Distribution(colocateWith: "orders").problem?.contains("--colocate-with needs --distribute-by") == true)
        #expect(Distribution(shardCount: 4).problem?.contains("--shard-count needs --distribute-by") == true)
        #expect(Distribution(column: "id", colocateWith: "o", shardCount: 4).problem?.contains("drop --shard-count") == true)
        #expect(Distribution(column: "id", shardCount: 0).problem?.contains("1 to 64000") == true)
    }

    @Test func aMergeKeyMustHoldTheDistributionColumn() {
        let table = TableName(schema: "s", name: "orders")
        #expect(Distribution().keyProblem(table: table, key: ["tenant", "id"], column: "tenant") == nil)
        #expect(Distribution().keyProblem(table: table, key: [], column: "tenant") == nil)
        let problem = Distribution().keyProblem(table: table, key: ["id"], column: "tenant")
        #expect(problem?.contains("--primary-key tenant,id") == true)
    }

    @Test func statements() {
        #expect(SQL.distribute(Distribution(column: "id")) == "SELECT create_distributed_table($1::regclass, $2)")
        #expect(
            SQL.distribute(Distribution(column: "id", colocateWith: "o"))
                == "SELECT create_distributed_table($1::regclass, $2, colocate_with => $3)")
        #expect(
            SQL.distribute(Distribution(column: "id", shardCount: 6))
                == "SELECT create_distributed_table($1::regclass, $2, shard_count => 6)")
        #expect(SQL.distribute(Distribution(reference: true)) == "SELECT create_reference_table($1::regclass)")
    }
}
