import Foundation
import Logging
import PGSinkCore

/// Sends a parallel load's rows straight to the shards of its hidden distributed table on the
/// workers, one connection per worker, instead of through the coordinator (which would decode
/// every row, hash it and encode it again). Each row goes to the shard Citus itself would pick
/// (`CitusHash`, `ShardSplit`); the hidden table is published by the load's final transaction
/// as always, so readers never see a partial table. (docs/scale-out.md)
final class ShardRouter: @unchecked Sendable {
    private let split: ShardSplit
    /// The qualified name of each shard (same order as `split.shards`) and the worker it is on.
    private let names: [String]
    private let nodes: [Int]
    private let connections: [PGConnection]
    private let logger: Logger

    var shardCount: Int { names.count }
    var workerCount: Int { connections.count }

    private init(split: ShardSplit, names: [String], nodes: [Int], connections: [PGConnection], logger: Logger) {
        self.split = split
        self.names = names
        self.nodes = nodes
        self.connections = connections
        self.logger = logger
    }

    /// The router of `table` (hash-distributed, its shards committed), or nil when its shards
    /// cannot be written directly: more than one placement per shard, a worker this client cannot
    /// reach with the coordinator's connection settings, a range layout Citus did not make.
    static func open(for table: TableName, on coordinator: PGConnection, logger: Logger) throws -> ShardRouter? {
        let rows = try coordinator.query(SQL.citusShardPlacements, [table.quoted]).rows
        var shards: [ShardSplit.Shard] = []
        /// Each shard's qualified name and the worker (host, port) its one placement is on.
        var placements: [Int64: (name: String, host: String, port: String)] = [:]
        for row in rows {
            guard let id = row[0].flatMap({ Int64($0) }), let min = row[1].flatMap({ Int32($0) }),
                let max = row[2].flatMap({ Int32($0) }), let name = row[3], let host = row[4], let port = row[5],
                placements[id] == nil
            else { return nil }
            shards.append(ShardSplit.Shard(id: id, min: min, max: max))
            placements[id] = (name, host, port)
        }
        guard let split = ShardSplit(shards: shards) else { return nil }
        var workers: [(host: String, port: String)] = []
        var nodes: [Int] = []
        for shard in split.shards {
            let placement = placements[shard.id]!
            if let known = workers.firstIndex(where: { $0 == (placement.host, placement.port) }) {
                nodes.append(known)
            } else {
                workers.append((placement.host, placement.port))
                nodes.append(workers.count - 1)
            }
        }
        var connections: [PGConnection] = []
        for (host, port) in workers {
            let parameters = coordinator.parameters.filter { !["host", "hostaddr", "port"].contains($0.keyword) }
                + [.init("host", host), .init("port", port)]
            do {
                connections.append(try PGConnection.connect(parameters: parameters, logger: logger))
            } catch {
                logger.info("\(table): the worker \(host):\(port) is not reachable from here (\(error)); rows go through the coordinator")
                return nil
            }
        }
        logger.info("\(table): rows go straight to its \(split.shards.count) shards on \(Wording.count(workers.count, "worker"))")
        return ShardRouter(
            split: split, names: split.shards.map { placements[$0.id]!.name }, nodes: nodes, connections: connections,
            logger: logger)
    }

    /// COPYs a part's rows into their shards, each worker's on its own connection at once (each
    /// COPY commits on its own: the table is hidden until the load publishes it). Returns the rows
    /// copied, or nil when the part cannot be split here (a text payload, a NULL or unreadable
    /// distribution value): the caller sends it through the coordinator.
    /// `sequence`: the payload ends with a merge's load order (`SQL.sequenceColumn`).
    func send(_ part: StepPart, column: String, sequence: Bool = false) throws -> Int? {
        guard let field = part.columns.firstIndex(where: { $0.name == column }),
            let pieces = split.split(part.encoded, field: field, type: part.columns[field].type)
        else { return nil }
        let columns = part.copyColumnNames(sequence: sequence)
        var grouped: [[Int]] = Array(repeating: [], count: connections.count)
        for index in pieces.keys.sorted() { grouped[nodes[index]].append(index) }
        let perNode = grouped
        let results = ParallelOutcome()
        DispatchQueue.concurrentPerform(iterations: connections.count) { node in
            do {
                for index in perNode[node] {
                    let sql = "COPY \(names[index]) (\(columns.map(quoteIdentifier).joined(separator: ", "))) FROM STDIN (FORMAT binary)"
                    results.add(rows: try connections[node].copyIn(sql, data: pieces[index]!))
                }
            } catch {
                results.fail(error)
            }
        }
        if let failure = results.failure { throw failure }
        return results.rows
    }
}

/// The shard routers of a parallel load's jobs, each opened by its job at its first batch once
/// the hidden table is distributed (nil: its rows go through the coordinator).
final class ShardRouters: @unchecked Sendable {
    private let loader: Loader
    private var routers: [ShardRouter?]
    private var opened: [Bool]

    init(loader: Loader, jobs: Int) {
        self.loader = loader
        routers = Array(repeating: nil, count: jobs)
        opened = Array(repeating: false, count: jobs)
    }

    /// Sends a step's rows to the shards on job `job`'s router (each job touches only its own
    /// slot); nil when the step goes through the coordinator: not a distributed table, child rows,
    /// rejects, defaults set per batch, or a part the router cannot split.
    func send(_ step: LoadStep, job: Int, to hidden: TableName, on connection: PGConnection, sequence: Bool = false)
        throws -> Int?
    {
        guard let column = loader.citus.target?.column, step.children.isEmpty, step.rejects.isEmpty, step.settings.isEmpty
        else { return nil }
        if !opened[job] {
            opened[job] = true
            routers[job] = try ShardRouter.open(for: hidden, on: connection, logger: loader.logger)
            if let router = routers[job] { loader.citus.routed = (router.shardCount, router.workerCount) }
        }
        return try routers[job]?.send(step.root, column: column, sequence: sequence)
    }
}
