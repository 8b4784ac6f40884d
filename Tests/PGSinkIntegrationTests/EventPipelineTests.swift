import Foundation
import PGSink
import PGSinkCore
import Testing

/// An `events` pipeline source: `pgsink run --watch` serves the event API and loads on the
/// pipeline's schedule (each load a run of the history); `pgsink run` loads what is staged.
/// Events are sent by a real HTTP client to the real server.
@Suite("Event pipelines", .serialized)
struct EventPipelineTests {
    static let key = "wk_pipeline_key"

    /// A project whose one pipeline serves events on a free port, keyed by the file's `events:`
    /// section, with `schedule`.
    static func project(_ db: TestDatabase, schedule: String) throws -> URL {
        try PipelineTests.project(
            PipelineTests.destination(db) + """
                events:
                  schema: \(db.schema)
                  write_keys: [{key: \(key), source: \(db.schema)}]
                pipelines:
                  - name: web
                    source: {type: events, listen: "127.0.0.1:0"}
                    schedule: \(schedule)
                """)
    }

    static func watch(_ directory: URL, _ db: TestDatabase) throws -> EventServeTests.Server {
        try EventServeTests.Server(
            ["run", directory.appendingPathComponent("pgsink.yaml").path, "--watch", "--grace", "20"], key: key,
            namespace: WarehouseNames.namespace(db.schema))
    }

    static func send(_ server: EventServeTests.Server, _ users: [String]) throws {
        let batch = users.map { #"{"type":"track","userId":"\#($0)","event":"Signed Up","properties":{"plan":"pro"}}"# }
        let reply = try EventServeTests.request(
            "\(server.url)/v1/batch", body: Data(#"{"batch":[\#(batch.joined(separator: ","))]}"#.utf8), key: server.key)
        #expect(reply.status == 200, "\(reply)")
    }

    static func tracks(_ db: TestDatabase, _ server: EventServeTests.Server) throws -> [String?] {
        let exists = try db.column("SELECT to_regclass('\(quoteIdentifier(server.namespace)).tracks')::text")
        guard exists != [nil] else { return [] }
        return try db.column("SELECT user_id FROM \(quoteIdentifier(server.namespace)).tracks ORDER BY user_id")
    }

    @Test func watchServesTheEventAPIAndLoadsOnThePipelinesSchedule() throws {
        let db = try TestDatabase()
        let directory = try Self.project(db, schedule: "{every: 1s}")
        let server = try Self.watch(directory, db)
        try Self.send(server, ["u1", "u2"])
        #expect(try ExactlyOnceTests.eventually { try Self.tracks(db, server) == ["u1", "u2"] }, "\(server.log)")
        try Self.send(server, ["u3"])
        #expect(try ExactlyOnceTests.eventually { try Self.tracks(db, server).count == 3 }, "\(server.log)")
        kill(server.process.processIdentifier, SIGTERM)
        server.process.waitUntilExit()
        #expect(server.process.terminationStatus == 0, "\(server.log)")
        // Each load that moved events is a run: two loads, three tracks and their per-event rows.
        let runs = try PipelineTests.history(db, in: directory, "web")
        #expect(runs.count == 2, "\(runs)")
        #expect(runs.allSatisfy { $0["status"] as? String == "succeeded" && $0["source"] as? String == "events" }, "\(runs)")
        let tracked = runs.compactMap { ($0["rows"] as? [String: Int])?["\(server.namespace).tracks"] }
        #expect(tracked.sorted() == [1, 2], "\(runs)")
        #expect((runs[0]["state"] as? String)?.hasPrefix(#"{"id":"#) == true, "\(runs)")
    }

    @Test func runWithoutWatchLoadsWhatTheEventAPIStaged() throws {
        let db = try TestDatabase()
        // The schedule holds every load: accepted events stay staged (committed before their 200).
        let directory = try Self.project(db, schedule: "{every: 1h}")
        let server = try Self.watch(directory, db)
        try Self.send(server, ["a", "b", "c"])
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        #expect(try Self.tracks(db, server) == [])
        // pgsink status counts what is staged and not loaded.
        #expect(try Self.stagedLag(directory) == 3)
        let run = try PipelineTests.run(["run", "--json"], in: directory)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains(#""\#(server.namespace).tracks":3"#), "\(run.stdout)")
        #expect(try Self.tracks(db, server) == ["a", "b", "c"])
        // Nothing is loaded twice.
        let again = try PipelineTests.run(["run", "--json"], in: directory)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains(#""rows":{}"#), "\(again.stdout)")
        #expect(try Self.tracks(db, server).count == 3)
        #expect(try Self.stagedLag(directory) == 0)
    }

    /// `pgsink status --json`'s count of the events staged and not loaded.
    static func stagedLag(_ directory: URL) throws -> Int? {
        let status = try PipelineTests.run(["status", "--json"], in: directory)
        #expect(status.status == 0, "\(status.stderr)")
        let lines = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [[String: Any]]
        return (lines?.first?["source_lag"] as? [String: Any])?["events"] as? Int
    }

    @Test func anEventsSourceRefusesSyncKeysAndNeedsWriteKeysToServe() throws {
        let db = try TestDatabase()
        let directory = try PipelineTests.project(
            PipelineTests.destination(db) + """
                pipelines:
                  - name: web
                    source: {type: events, sync: {frequency: 1m}}
                """)
        let run = try PipelineTests.run(["run"], in: directory)
        #expect(run.status != 0)
        #expect(run.stderr.contains("pipeline web: source: sync is the pipeline's schedule:"), "\(run.stderr)")
        let keyless = try PipelineTests.project(
            PipelineTests.destination(db) + """
                pipelines:
                  - name: web
                    source: {type: events, listen: "127.0.0.1:0"}
                    schedule: {every: 1s}
                """)
        let watch = try PipelineTests.watch(in: keyless, grace: 5, for: 2)
        #expect(watch.log.contains("pipeline web") && watch.log.contains("write_keys"), "\(watch.log)")
    }
}
