import Foundation
import Logging
import PGSinkCore

/// A table's place on a Citus coordinator (docs/scale-out.md).
struct CitusPlacement: Sendable, Equatable {
    /// The distribution column of a hash-distributed table.
    var column: String?
    var reference = false

    /// How the table is placed, for messages: `distributed by id`, `a reference table`.
    var phrase: String { reference ? "a reference table" : "distributed by \(column ?? "?")" }
}

/// The Citus coordinator a load writes to, if it is one: what `openTable` found and what
/// creating the tables decided, shared by the connections of the load.
final class CitusState: @unchecked Sendable {
    private let lock = NSLock()
    private var placement: CitusPlacement?
    private var routedTo: (shards: Int, workers: Int)?
    private var server: (version: String?, coordinator: Bool)?

    /// Whether the server is a Citus coordinator (false until `probed`).
    var isCoordinator: Bool { probed?.coordinator ?? false }

    /// The server's Citus version (nil: none) and whether it is the coordinator, once read.
    var probed: (version: String?, coordinator: Bool)? {
        get { lock.withLock { server } }
        set { lock.withLock { server = newValue } }
    }

    /// Shards and workers a `ShardRouter` of the load writes to.
    var routed: (shards: Int, workers: Int)? {
        get { lock.withLock { routedTo } }
        set { lock.withLock { routedTo = newValue } }
    }

    /// Where the load's top-level table is (nil: a plain table, or not known yet).
    var target: CitusPlacement? {
        get { lock.withLock { placement } }
        set { lock.withLock { placement = newValue } }
    }
}

/// Reading Citus's catalog.
enum Citus {
    /// The Citus version, when the server has the extension.
    static func version(on connection: PGConnection) throws -> String? {
        try connection.query(SQL.citusVersion, []).rows.first?[0] ?? nil
    }

    static func isCoordinator(on connection: PGConnection) throws -> Bool {
        try connection.query(SQL.citusIsCoordinator, []).rows.first?[0] == "t"
    }

    /// Where Citus keeps `table`; nil for a table it does not know (a plain local table).
    static func placement(of table: TableName, on connection: PGConnection) throws -> CitusPlacement? {
        guard let row = try connection.query(SQL.citusTable, [table.quoted]).rows.first else { return nil }
        switch row[0] {
        case "distributed": return CitusPlacement(column: row[1])
        case "reference": return CitusPlacement(reference: true)
        default: return nil
        }
    }
}

extension Loader {
    /// Checks the distribution options against the server and the table before a row is read,
    /// and notes where the table is (`citus`): a merge into a distributed table needs the
    /// distribution column in its key; the options need a Citus coordinator.
    func checkDistribution(of table: TableName, existing: [TargetColumn]?, on connection: PGConnection) throws {
        let wanted = request.distribution
        if let problem = wanted.problem { throw LoadError(problem) }
        let probed = try probeCitus(on: connection)
        let version = probed.version
        guard probed.coordinator else {
            guard wanted.isRequested else { return }
            let what = version == nil ? "has no citus extension" : "is a Citus worker, not the coordinator"
            throw LoadError(
                "\(Self.distributionFlags(wanted)) needs a Citus coordinator, and \(connection.endpoint) \(what); "
                    + "connect to the coordinator, or drop the option to load into one server")
        }
        guard existing != nil else {
            if let column = wantedColumn, request.mode == .merge,
                let problem = wanted.keyProblem(
                    table: table, key: request.primaryKey.map { request.naming.normalize($0) }, column: column)
            {
                throw LoadError(problem)
            }
            citus.target = nil
            return
        }
        let placement = try Citus.placement(of: table, on: connection)
        citus.target = placement
        if wanted.isRequested && placement != CitusPlacement(column: wantedColumn, reference: wanted.reference) {
            let now = placement?.phrase ?? "a local table"
            let flags = Self.distributionFlags(wanted)
            logger.warning(
                "\(table) exists as \(now); \(flags) applies only when pgsink creates the table, so it stays as it is (to change it, see Citus's alter_distributed_table and undistribute_table)")
        }
        if request.mode == .merge, let column = placement?.column, let existing,
            let problem = wanted.keyProblem(table: table, key: keyNames(existing), column: column)
        {
            throw LoadError(problem)
        }
    }

    /// Whether `table` is hash-distributed on a Citus coordinator: a load from files into it stages
    /// on shards of its own even with one job (`runStaged`), so that its rows reach the workers
    /// straight and move in shard by shard, instead of each passing through the coordinator.
    func isDistributed(_ table: TableName, on connection: PGConnection) throws -> Bool {
        guard try probeCitus(on: connection).coordinator else { return false }
        return try Citus.placement(of: table, on: connection)?.column != nil
    }

    /// The server's Citus version (nil: none) and whether it is the coordinator, read once per
    /// loader (a stream's loader opens its table at every commit).
    func probeCitus(on connection: PGConnection) throws -> (version: String?, coordinator: Bool) {
        if let probed = citus.probed { return probed }
        let version = try Citus.version(on: connection)
        let probed = (version, try version != nil && Citus.isCoordinator(on: connection))
        citus.probed = probed
        return probed
    }

    /// The distribution column the options ask for, named as the table names its columns.
    var wantedColumn: String? { request.distribution.column.map { request.naming.normalize($0) } }

    /// Distributes a table this load has just created, inside the same transaction: the top-level
    /// table as the options say; a child table (`--nested tables`) of a distributed parent by the
    /// parent's distribution column, which it carries, colocated with the parent.
    func distribute(created table: TableName, root: TableName, on connection: PGConnection) throws {
        guard citus.isCoordinator else { return }
        let wanted = request.distribution
        if table == root {
            guard wanted.isRequested else { return }
            let column = wantedColumn
            let asked = CitusPlacement(column: column, reference: wanted.reference).phrase
            let colocate = wanted.colocateWith.map { name in
                name.contains(".") ? name : TableName(schema: table.schema, name: name).quoted
            }
            let parameters: [String?] = [table.quoted] + (wanted.reference ? [] : [column]) + (colocate.map { [$0] } ?? [])
            logger.info(
                "\(table): \(asked)",
                metadata: ["load.table": "\(request.table)"])
            do {
                try connection.query(SQL.distribute(wanted), parameters)
            } catch let error as PGError {
                let missing = column.map { error.message.contains("column \"\($0)\"") } ?? false
                // The server names a parallel load's hidden table; the user knows the target.
                let message = error.message.replacing("\"\(table.name)\"", with: "\"\(request.table.name)\"")
                throw LoadError(
                    "cannot make \(request.table) \(asked): "
                        + "\(Wording.clause(message))\(error.hint.map { " (\(Wording.clause($0)))" } ?? ""). "
                        + (missing ? "The input has no column \(column ?? ""); name one of its columns in --distribute-by"
                            : "Fix \(Self.distributionFlags(wanted)) and load again"))
            }
            citus.target = CitusPlacement(column: column, reference: wanted.reference)
        } else if let column = citus.target?.column {
            // A child table (--nested tables) carries its parent's distribution column: colocated with it.
            logger.info("\(table): distributed by \(column), colocated with \(root)", metadata: ["load.table": "\(request.table)"])
            try connection.query(SQL.distributeLike, [table.quoted, column, root.quoted])
        }
    }

    /// The distribution column of the load's table: the one it has, or the one it is created with.
    var distributionColumn: String? {
        guard citus.isCoordinator else { return nil }
        if let placement = citus.target { return placement.column }
        return wantedColumn
    }

    /// The flags of a distribution, as the user gave them, for messages.
    static func distributionFlags(_ distribution: Distribution) -> String {
        var flags: [String] = []
        if let column = distribution.column { flags.append("--distribute-by \(column)") }
        if distribution.reference { flags.append("--reference-table") }
        if let table = distribution.colocateWith { flags.append("--colocate-with \(table)") }
        if let shards = distribution.shardCount { flags.append("--shard-count \(shards)") }
        return flags.joined(separator: " ")
    }
}
