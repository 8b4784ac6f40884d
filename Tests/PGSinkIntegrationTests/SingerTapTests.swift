import Foundation
import PGSink
import PGSinkCore
import Testing

/// A real Singer tap (MeltanoLabs tap-postgres, installed by scripts/install-test-tools) reading
/// a source schema this test creates, piped into `pgsink singer`.
@Suite("Singer target with a real tap")
struct SingerTapTests {
    struct MissingTools: Error, CustomStringConvertible {
        var description: String {
            "PGSINK_TEST_TOOLS is not set or has no tap-postgres: run the tests with `make test`, which installs it"
        }
    }

    /// Runs a program to completion, returning its standard output.
    static func run(_ path: String, _ arguments: [String], stdin: Data? = nil) throws -> Data {
        let process = Process()
        // Test threads block most signals and a spawned process inherits that mask; Python's
        // multiprocessing (source-faker uses it) then deadlocks now and then. The program is
        // started through a Python that clears the mask and execs it.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execv(sys.argv[1], sys.argv[1:])",
            path,
        ] + arguments
        // stderr goes to a file: a program that logs much would otherwise fill the pipe and
        // block while we read its stdout.
        let errorPath = try TestDatabase.file("stderr.log", "")
        let out = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let errors = FileManager.default.contents(atPath: errorPath) ?? Data()
        guard process.terminationStatus == 0 else {
            throw LoadError("\(path) failed (\(process.terminationStatus)): \(String(decoding: errors.suffix(2000), as: UTF8.self))")
        }
        return output
    }

    /// A discovered catalog with every stream selected for INCREMENTAL replication on `key`.
    static func selectingIncremental(_ discovered: [String: Any], key: String) throws -> [String: Any] {
        var catalog = discovered
        var streams = try #require(catalog["streams"] as? [[String: Any]])
        for (s, stream) in streams.enumerated() {
            var metadata = try #require(stream["metadata"] as? [[String: Any]])
            for (m, entry) in metadata.enumerated() where (entry["breadcrumb"] as? [Any])?.isEmpty == true {
                var inner = entry["metadata"] as? [String: Any] ?? [:]
                inner["selected"] = true
                inner["replication-method"] = "INCREMENTAL"
                inner["replication-key"] = key
                metadata[m]["metadata"] = inner
            }
            streams[s]["metadata"] = metadata
        }
        catalog["streams"] = streams
        return catalog
    }

    @Test func tapPostgresLoadsAndResumesWithoutDuplicates() throws {
        let db = try TestDatabase()
        guard let tools = ProcessInfo.processInfo.environment["PGSINK_TEST_TOOLS"],
            FileManager.default.isExecutableFile(atPath: tools + "/tap-postgres")
        else { throw MissingTools() }
        let tap = tools + "/tap-postgres"
        let source = db.schema + "_src"
        try db.connection.execute("CREATE SCHEMA \(quoteIdentifier(source))")
        let customers = "\(quoteIdentifier(source)).customers"
        try db.connection.execute(
            """
            CREATE TABLE \(customers) (id integer PRIMARY KEY, "firstName" text, balance numeric(12,2),
              joined timestamptz, tags text[], meta jsonb, big bigint)
            """)
        try db.connection.execute(
            """
            INSERT INTO \(customers) SELECT i, 'n' || i, i * 1.25, '2024-01-01'::timestamptz + i * interval '1 hour',
              ARRAY['a', 'b'], jsonb_build_object('k', i), 9223372036854775807 - i FROM generate_series(1, 40) i
            """)
        // tap-postgres's connection to the test server, and a catalog that selects the table
        // for incremental replication on id.
        let url = try #require(URLComponents(string: db.url))
        let tapConfig = try TestDatabase.file(
            "tap.json",
            try JSONSerialization.data(withJSONObject: [
                "host": url.host ?? "127.0.0.1", "port": url.port ?? 5432, "user": url.user ?? "pgsink",
                "password": url.password ?? "unused", "database": String(url.path.dropFirst()),
                "filter_schemas": [source],
            ]))
        let discovered = try JSONSerialization.jsonObject(with: try Self.run(tap, ["--config", tapConfig, "--discover"]))
        let catalog = try Self.selectingIncremental(try #require(discovered as? [String: Any]), key: "id")
        let catalogFile = try TestDatabase.file("catalog.json", try JSONSerialization.data(withJSONObject: catalog))
        let targetConfig = try TestDatabase.file(
            "target.json", try JSONSerialization.data(withJSONObject: ["default_target_schema": db.schema]))
        let table = db.table("\(source)_customers").name

        func sync(state: String?) throws -> String {
            var arguments = ["--config", tapConfig, "--catalog", catalogFile]
            if let state { arguments += ["--state", try TestDatabase.file("state.json", state)] }
            let messages = try Self.run(tap, arguments)
            let run = try CommandLineTests.run(
                ["singer", "--config", targetConfig, "--to", db.url], stdin: String(decoding: messages, as: UTF8.self))
            #expect(run.status == 0, "\(run.stderr)")
            let states = run.stdout.split(separator: "\n")
            return String(try #require(states.last))
        }

        let firstState = try sync(state: nil)
        #expect(firstState.contains("\"replication_key_value\":40"))
        #expect(try db.count(table) == 40)
        #expect(
            try db.rows(
                "SELECT firstname, balance::text, joined::text, tags::text, meta::text, big::text FROM \(db.table(table).quoted) WHERE id = 7")
                == [["n7", "8.75", "2024-01-01 07:00:00+00", "[\"a\", \"b\"]", "{\"k\": 7}", "9223372036854775800"]])
        #expect(try db.columnTypes(table)["joined"] == "timestamp with time zone")
        #expect(try db.column("SELECT state::text FROM \(db.table("_pgsink_state").quoted)").first??.contains("40") == true)

        // New and changed rows at the source; the tap resumes from the state pgsink printed.
        try db.connection.execute("INSERT INTO \(customers) (id, \"firstName\") SELECT i, 'new' || i FROM generate_series(41, 45) i")
        let secondState = try sync(state: firstState)
        #expect(secondState.contains("\"replication_key_value\":45"))
        #expect(try db.count(table) == 45)
        #expect(try db.column("SELECT count(DISTINCT id)::text FROM \(db.table(table).quoted)") == ["45"])
        // Running again from the same state sends the last row again; the merge keeps one copy.
        _ = try sync(state: secondState)
        #expect(try db.count(table) == 45)
    }
}
