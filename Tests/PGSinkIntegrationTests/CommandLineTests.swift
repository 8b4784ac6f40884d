import Foundation
import PGSink
import PGSinkCore
import Testing

/// The `pgsink` executable as a user runs it: exit codes, messages, summaries.
@Suite("Command line")
struct CommandLineTests {
    static let executable: URL = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/pgsink")
    }()

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs pgsink with this process's environment plus `environment`, less `removing`.
    static func run(
        _ arguments: [String], stdin: String? = nil, stdinData: Data? = nil, environment: [String: String] = [:],
        removing: [String] = [], in directory: URL? = nil
    ) throws -> Run {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        for key in removing { env.removeValue(forKey: key) }
        process.environment = env
        if let directory { process.currentDirectoryURL = directory }
        // stdin is written by its own thread and stderr goes to a file, so neither a large input
        // nor a chatty stderr can block the process while stdout is read.
        let errorPath = try TestDatabase.file("stderr.log", "")
        let out = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        process.standardInput = input
        try process.run()
        let writer = input.fileHandleForWriting
        let payload = stdinData ?? stdin.map { Data($0.utf8) }
        let written = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            if let payload { writer.write(payload) }
            try? writer.close()
            written.signal()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        written.wait()
        process.waitUntilExit()
        let errData = FileManager.default.contents(atPath: errorPath) ?? Data()
        return Run(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    @Test func loadsAndPrintsAJSONSummary() throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("Cities 2024.csv", "name,pop\nOslo,709037\nBergen,291940\n")
        let run = try Self.run(["load", path, "--to", db.url, "--schema", db.schema, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try JSONDecoder().decode(LoadSummary.self, from: Data(run.stdout.utf8))
        #expect(summary.rows == 2)
        #expect(summary.table == "\(db.schema).cities_2024")
        #expect(summary.columnsCreated == ["name", "pop"])
        #expect(run.stderr.isEmpty, "no progress bar when stderr is not a terminal: \(run.stderr)")
    }

    @Test func readsStandardInput() throws {
        let db = try TestDatabase()
        let run = try Self.run(
            ["load", "-", "--format", "jsonl", "--table", "\(db.schema).piped", "--to", db.url],
            stdin: "{\"a\": 1}\n{\"a\": 2}\n")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("loaded 2 rows into \(db.schema).piped"))
        #expect(try db.count("piped") == 2)
    }

    @Test func rejectsAreCountedAndTheSummarySaysHowToQueryThem() throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("events.jsonl", "{\"id\":1,\"n\":1}\n{\"id\":2,\"n\":\"x\"}\n{\"id\":3}\n")
        try db.connection.execute("CREATE TABLE \(db.table("events").quoted) (id bigint, n integer)")
        let run = try Self.run([
            "load", path, "--to", db.url, "--schema", db.schema, "--schema-contract", "freeze", "--max-rejects", "1",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("loaded 2 rows"))
        #expect(run.stdout.contains("rejected 1 row;"))
        #expect(run.stdout.contains("SELECT * FROM \(db.schema)._pgsink_rejects WHERE load_id = "))
        let over = try Self.run([
            "load", path, "--to", db.url, "--schema", db.schema, "--schema-contract", "freeze", "--force",
        ])
        #expect(over.status == 1)
        #expect(over.stderr.contains("events.jsonl:2, column \"n\""))
        #expect(over.stderr.contains("--max-rejects"))
        #expect(over.stderr.contains("nothing was committed"))
    }

    @Test func nestedAndIndexOptionsReachTheLoad() throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("orders.jsonl", "{\"id\":1,\"customer\":{\"email\":\"a@x\"},\"items\":[{\"sku\":\"A\"}]}\n")
        let run = try Self.run([
            "load", path, "--to", db.url, "--schema", db.schema, "--nested", "tables", "--unique", "id",
            "--index", "customer__email", "--metadata", "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let summary = try JSONDecoder().decode(LoadSummary.self, from: Data(run.stdout.utf8))
        #expect(summary.childTables == ["\(db.schema).orders__items": 1])
        #expect(summary.indexesCreated.count == 3)
        #expect(try db.columnTypes("orders")["_pgsink_load_id"] == "bigint")
        #expect(try db.column("SELECT sku FROM \(db.table("orders__items").quoted)") == ["A"])
        let bad = try Self.run(["load", path, "--nested", "deep"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--nested takes jsonb, flatten"))
        let stray = try Self.run(["load", path, "--json-column", "a.b"])
        #expect(stray.status == 2)
    }

    @Test func usageErrorsExitWith2() throws {
        let merge = try Self.run(["load", "x.csv", "--mode", "merge"])
        #expect(merge.status == 2)
        #expect(merge.stderr.contains("--primary-key"))
        let stdin = try Self.run(["load", "-"])
        #expect(stdin.status == 2)
        #expect(stdin.stderr.contains("--format"))
        let unknown = try Self.run(["load", "--frobnicate"])
        #expect(unknown.status == 2)
    }

    @Test func failedLoadsExitWith1AndNameTheLine() throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("broken.csv", "a,b\n1,2\n\"3,4\n")
        let run = try Self.run(["load", path, "--to", db.url, "--schema", db.schema])
        #expect(run.status == 1)
        #expect(run.stderr.contains("broken.csv:3"))
        #expect(run.stderr.contains("nothing was committed"))
        #expect(try db.exists("broken") == false)
    }

    @Test func connectionFailuresNameTheServerAndHideThePassword() throws {
        let path = try TestDatabase.file("x.csv", "a\n1\n")
        let run = try Self.run(["load", path, "--to", "postgresql://someone:s3cretpass@127.0.0.1:1/db?connect_timeout=2"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("127.0.0.1"))
        #expect(run.stderr.contains("port 1"))
        #expect(!run.stderr.contains("s3cretpass"))
    }

    @Test func missingFilesFailBeforeConnecting() throws {
        let run = try Self.run(["load", "/nonexistent/data.csv", "--to", "postgresql://nobody@127.0.0.1:1/db"])
        #expect(run.status == 1)
        #expect(run.stderr.contains("cannot read /nonexistent/data.csv: no such file"))
    }

    @Test func tsvFilesAreTabSeparated() throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("pairs.tsv", "a\tb\n1,5\tx y\n")
        let run = try Self.run(["load", path, "--to", db.url, "--schema", db.schema])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.rows("SELECT a, b FROM \(db.table("pairs").quoted)") == [["1,5", "x y"]])
    }

    @Test func databaseURLEnvironmentVariableIsUsed() throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("fromenv.csv", "a\n1\n")
        let run = try Self.run(["load", path, "--schema", db.schema], environment: ["PGSINK_URL": "", "DATABASE_URL": db.url])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.count("fromenv") == 1)
    }
}
