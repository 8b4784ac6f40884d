import Foundation
import Logging
import PGSinkCore

/// `--jobs auto`: as many connections as both ends have cores for, and at most `limit` (past
/// that, the server's COPY parsers contend more than they gain). PostgreSQL reports no core
/// count, so the server's hint is its budget of parallel workers (`max_parallel_workers`, within
/// `max_worker_processes`), which administrators size to the cores; on a Citus coordinator it is
/// the number of worker nodes, each of which parses its own shards' rows.
enum AutoJobs {
    static let limit = 8

    /// The connections for a server hint and the client's cores.
    static func choose(server: Int, client: Int) -> Int { max(1, min(server, client, limit)) }

    /// Fewer connections than this into an existing table cost more than they save: each row is
    /// written twice there (into a staging table, then into the target), and only the first
    /// write is spread over the connections (docs/loading.md).
    static let stagedMinimum = 4

    /// The connections for a server hint and the client's cores; into an existing table
    /// (`staged`), one unless both ends have room for `stagedMinimum`.
    static func choose(server: Int, client: Int, staged: Bool) -> Int {
        let jobs = choose(server: server, client: client)
        return staged && jobs < stagedMinimum ? 1 : jobs
    }

    /// Reads the server's hint and logs the choice.
    static func choose(on connection: PGConnection, staged: Bool, logger: Logger) throws -> Int {
        let server = try serverHint(on: connection)
        let client = ProcessInfo.processInfo.activeProcessorCount
        let jobs = choose(server: server.count, client: client, staged: staged)
        let why = staged && jobs == 1 && choose(server: server.count, client: client) > 1
            ? "; into an existing table fewer than \(stagedMinimum) would be slower than one" : ""
        logger.info(
            "--jobs auto: \(jobs) connections (server: \(server.source); client: \(client) cores; at most \(limit))\(why)")
        return jobs
    }

    /// The server's hint, and what it was read from.
    static func serverHint(on connection: PGConnection) throws -> (count: Int, source: String) {
        if try Citus.version(on: connection) != nil, try Citus.isCoordinator(on: connection) {
            let workers = try connection.query(SQL.citusWorkers, []).rows.count
            if workers > 0 { return (workers, "\(workers) Citus worker nodes") }
        }
        let settings = try connection.query(SQL.parallelWorkerSettings, [])
        let workerProcesses = settings.value(0, 0).flatMap(Int.init) ?? 1
        let parallelWorkers = settings.value(0, 1).flatMap(Int.init) ?? 1
        return (
            min(workerProcesses, parallelWorkers),
            "max_parallel_workers \(parallelWorkers), max_worker_processes \(workerProcesses)"
        )
    }

    /// Readers for a parallel read of `jobs` connections (`--readers auto`): one per connection,
    /// within the client's cores; when the server shares this machine its COPYs need cores too,
    /// so only the cores the connections leave (at least one: one reader, as without --jobs).
    static func readers(jobs: Int, client: Int, serverIsLocal: Bool) -> Int {
        max(1, min(jobs, serverIsLocal ? client - jobs : client))
    }
}
