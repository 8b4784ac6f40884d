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

    /// As root the server runs as postgres, which cannot enter a 0700 folder of root's (such as
    /// /root): the cluster goes to /var/lib/pgsink/<folder>-<hash>, the same one on every run.
    @Test func aPrivateFolderAsRootKeepsTheClusterWhereTheServerCanReachIt() throws {
        _ = try TestDatabase()
        try #require(geteuid() == 0, "this test shows what happens as root, which the test servers also need")
        let work = URL(fileURLWithPath: "/tmp/pgsink-private-" + UUID().uuidString.prefix(8).lowercased())
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: work.path)
        try Data("species,count\nrobin,3\nwren,5\n".utf8).write(to: work.appendingPathComponent("birds.csv"))
        let cluster = EmbeddedServer(directory: work.appendingPathComponent(".pgsink")).directory
        let env = ["PGSINK_URL", "DATABASE_URL", "PGHOST", "PGDATABASE"]
        defer {
            _ = try? run(["db", "stop"], env, work)
            try? FileManager.default.removeItem(at: work)
            try? FileManager.default.removeItem(at: cluster)
        }
        #expect(cluster.path.hasPrefix("/var/lib/pgsink/pgsink-private-"), "\(cluster.path)")
        let load = try run(["load", "birds.csv"], env, work)
        #expect(load.status == 0, "\(load.stderr)")
        #expect(
            load.stderr.contains(
                "pgsink: started a private PostgreSQL in \(cluster.path) (the server runs as postgres, who cannot enter "
                    + "\(work.path), so its data is kept here); connect with: psql \"host=\(cluster.path) "),
            "\(load.stderr)")
        #expect(load.stdout.contains("loaded 2 rows into public.birds"), "\(load.stdout)")
        let owner = try FileManager.default.attributesOfItem(atPath: cluster.path)
        #expect(owner[.ownerAccountName] as? String == "postgres")
        #expect(owner[.posixPermissions] as? Int == 0o700)
        #expect(try run(["db", "status"], env, work).stdout.hasPrefix("running in \(cluster.path) ("))
        // Stopped and started again from the same folder, it is the same cluster.
        #expect(try run(["db", "stop"], env, work).status == 0)
        let again = try run(["load", "birds.csv", "--force"], env, work)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("load 2"), "\(again.stdout)")
        #expect(again.stderr.contains("started a private PostgreSQL in \(cluster.path) "), "\(again.stderr)")
        let url = try run(["db", "url"], env, work).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try PGConnection.connect(url).query("SELECT sum(count)::text FROM public.birds", []).value(0, 0) == "16")
        #expect(try FileManager.default.contentsOfDirectory(atPath: work.path) == ["birds.csv"])
    }

    private func run(_ arguments: [String], _ unset: [String], _ directory: URL) throws -> CommandLineTests.Run {
        try CommandLineTests.run(arguments, removing: unset, in: directory)
    }
}
