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

    /// Reads the server's hint and logs the choice.
    static func choose(on connection: PGConnection, logger: Logger) throws -> Int {
        let server = try serverHint(on: connection)
        let client = ProcessInfo.processInfo.activeProcessorCount
        let jobs = choose(server: server.count, client: client)
        logger.info(
            "--jobs auto: \(jobs) connections (server: \(server.source); client: \(client) cores; at most \(limit))")
        return jobs
    }

    /// The server's hint, and what it was read from.
    static func serverHint(on connection: PGConnection) throws -> (count: Int, source: String) {
        if try connection.query(SQL.citusNodesExist, []).value(0, 0) == "t",
            let workers = try connection.query(SQL.citusWorkers, []).value(0, 0).flatMap(Int.init), workers > 0
        {
            return (workers, "\(workers) Citus worker nodes")
        }
        let settings = try connection.query(SQL.parallelWorkerSettings, [])
        let workerProcesses = settings.value(0, 0).flatMap(Int.init) ?? 1
        let parallelWorkers = settings.value(0, 1).flatMap(Int.init) ?? 1
        return (
            min(workerProcesses, parallelWorkers),
            "max_parallel_workers \(parallelWorkers), max_worker_processes \(workerProcesses)"
        )
    }
}
