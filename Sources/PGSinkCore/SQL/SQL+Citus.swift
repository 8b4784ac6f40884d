/// How a table that pgsink creates is spread over a Citus cluster (`--distribute-by`,
/// `--reference-table`, `--colocate-with`, `--shard-count`; docs/scale-out.md). It applies when
/// the load creates the table, inside the load's transaction.
public struct Distribution: Sendable, Equatable {
    /// The distribution column: rows are hashed on it into shards spread over the workers.
    public var column: String?
    /// A reference table: one copy on every node (small dimension tables joined to distributed ones).
    public var reference = false
    /// A distributed table whose shards this table's shards sit beside (same hash ranges, same nodes).
    public var colocateWith: String?
    /// Shards of a new distributed table (Citus's `citus.shard_count`, 32, when nil).
    public var shardCount: Int?

    public init(column: String? = nil, reference: Bool = false, colocateWith: String? = nil, shardCount: Int? = nil) {
        self.column = column
        self.reference = reference
        self.colocateWith = colocateWith
        self.shardCount = shardCount
    }

    /// Whether any of the options is set.
    public var isRequested: Bool { column != nil || reference || colocateWith != nil || shardCount != nil }

    /// What is wrong with the combination of options, in words that say the fix; nil when it holds.
    public var problem: String? {
        if reference && column != nil {
            return "--reference-table and --distribute-by exclude each other: a reference table is copied whole to every "
                + "node and has no distribution column; drop one of them"
        }
        if reference && (colocateWith != nil || shardCount != nil) {
            return "--colocate-with and --shard-count apply to distributed tables, not to a reference table (it has one shard)"
        }
        if column == nil && (colocateWith != nil || shardCount != nil) {
            let option = colocateWith != nil ? "--colocate-with" : "--shard-count"
            return "\(option) needs --distribute-by COLUMN: it shapes the shards of a table distributed by that column"
        }
        if colocateWith != nil && shardCount != nil {
            return "--colocate-with and --shard-count exclude each other: a colocated table takes the shards of the table "
                + "it is colocated with; drop --shard-count"
        }
        if let shardCount, !(1...64_000).contains(shardCount) {
            return "--shard-count takes 1 to 64000 shards (got \(shardCount))"
        }
        return nil
    }

    /// The distribution a merge key must include: Citus enforces a unique key shard by shard.
    public func keyProblem(table: TableName, key: [String], column: String) -> String? {
        guard !key.isEmpty, !key.contains(column) else { return nil }
        let fixed = ([column] + key).joined(separator: ",")
        return "the merge key (\(key.joined(separator: ", "))) of \(table) does not include its distribution column "
            + "\(column): Citus keeps a key unique only within one shard, so a merge key must contain the column the "
            + "rows are distributed by. Load with --primary-key \(fixed), or distribute the table by a key column"
    }
}

extension SQL {
    /// The installed Citus version; no row without the extension.
    public static let citusVersion = "SELECT extversion FROM pg_extension WHERE extname = 'citus'"

    /// Whether this node is the coordinator (the node that owns the metadata and plans queries).
    public static let citusIsCoordinator = "SELECT coalesce((SELECT groupid = 0 FROM pg_dist_local_group), false)"

    /// The active workers: name, port.
    public static let citusWorkers = "SELECT node_name, node_port FROM citus_get_active_worker_nodes() ORDER BY 1, 2"

    /// A table's Citus type (`distributed`, `reference`, `local`) and distribution column (`<none>`
    /// for the others). $1: the quoted table name; no row for a table Citus does not know.
    public static let citusTable =
        "SELECT citus_table_type, distribution_column FROM citus_tables WHERE table_name = to_regclass($1)"

    /// The distributed and reference tables: name, type, distribution column, shards.
    public static let citusTables =
        "SELECT table_name::text, citus_table_type, distribution_column, shard_count FROM citus_tables ORDER BY 1"

    /// Makes a table (created in the same transaction, still empty) distributed or a reference
    /// table. Parameters: $1 the quoted table name, $2 the distribution column, $3 the table to
    /// colocate with (each only when the statement names it).
    public static func distribute(_ distribution: Distribution) -> String {
        guard !distribution.reference else { return "SELECT create_reference_table($1::regclass)" }
        var arguments = "$1::regclass, $2"
        if distribution.colocateWith != nil { arguments += ", colocate_with => $3" }
        if let shards = distribution.shardCount { arguments += ", shard_count => \(shards)" }
        return "SELECT create_distributed_table(\(arguments))"
    }

    /// A staging table for a merge into a distributed table: unlogged, in the target's schema,
    /// with the target's columns and the load order, distributed like the target and colocated
    /// with it, so that the upsert runs on each shard without passing rows through the coordinator.
    public static func createDistributedStage(_ stage: TableName, like table: TableName, columns: [String]) -> String {
        "CREATE UNLOGGED TABLE \(stage.quoted) AS SELECT \(list(columns)), NULL::bigint AS "
            + "\(quoteIdentifier(sequenceColumn)) FROM \(table.quoted) WITH NO DATA"
    }

    /// The shards of a hash-distributed table ($1, quoted) with their hash ranges, qualified
    /// names and placements: id, min, max, name, host, port.
    public static let citusShardPlacements = """
        SELECT s.shardid, s.shardminvalue, s.shardmaxvalue, shard_name(s.logicalrelid, s.shardid), n.nodename, n.nodeport \
        FROM pg_dist_shard s JOIN pg_dist_placement p USING (shardid) JOIN pg_dist_node n USING (groupid) \
        WHERE s.logicalrelid = to_regclass($1) AND n.isactive ORDER BY s.shardid
        """

    /// Distributes a table by a column, colocated with another table distributed by the same
    /// values: a merge's staging table like its target, a child table like its parent
    /// ($1 the table, $2 the column, $3 the table to colocate with).
    public static let distributeLike = "SELECT create_distributed_table($1::regclass, $2, colocate_with => $3)"
}
