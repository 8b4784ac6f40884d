import Foundation
import PGSink
import PGSinkCore
import Testing

/// With no connection configured, pgsink runs its own server under ./.pgsink/.
@Suite("Embedded default server", .serialized)
struct EmbeddedServerTests {
    @Test func loadWithoutAConnectionStartsAPrivateServer() throws {
        _ = try TestDatabase()  // the suite needs server binaries, which `make test` guarantees
        let work = URL(fileURLWithPath: "/tmp/pgsink-embedded-" + UUID().uuidString.prefix(8).lowercased())
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let csv = work.appendingPathComponent("birds.csv")
        try Data("species,count\nrobin,3\nwren,5\n".utf8).write(to: csv)
        let env = ["PGSINK_URL", "DATABASE_URL", "PGHOST", "PGDATABASE"]
        defer {
            _ = try? run(["db", "stop"], env, work)
            try? FileManager.default.removeItem(at: work)
        }
        let load = try run(["load", "birds.csv"], env, work)
        #expect(load.status == 0, "\(load.stderr)")
        #expect(load.stderr.contains("psql \"host="))
        #expect(load.stdout.contains("loaded 2 rows into public.birds"))
        let status = try run(["db", "status"], env, work)
        #expect(status.stdout.hasPrefix("running"))
        let url = try run(["db", "url"], env, work).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let connection = try PGConnection.connect(url)
        #expect(try connection.query("SELECT sum(count)::text FROM public.birds", []).value(0, 0) == "8")
        // A second load reuses the running server.
        let again = try run(["load", "birds.csv", "--mode", "replace"], env, work)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(!again.stderr.contains("started"))
        let stop = try run(["db", "stop"], env, work)
        #expect(stop.status == 0)
        #expect(try run(["db", "status"], env, work).stdout.hasPrefix("not running"))
    }

    private func run(_ arguments: [String], _ unset: [String], _ directory: URL) throws -> CommandLineTests.Run {
        try CommandLineTests.run(arguments, removing: unset, in: directory)
    }
}
