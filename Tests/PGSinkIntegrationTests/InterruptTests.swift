import Foundation
import PGSink
import PGSinkCore
import Testing

/// SIGINT and SIGTERM in the middle of a load: the running statement is cancelled, the
/// transaction rolls back, hidden tables go, and pgsink exits 130 or 143 with one line.
@Suite("Interrupts")
struct InterruptTests {
    /// Starts pgsink with stdin and stderr of its own; stdin stays open until the caller closes it.
    static func start(_ arguments: [String], input lines: [String] = []) throws -> (Process, FileHandle, String) {
        let process = Process()
        process.executableURL = CommandLineTests.executable
        process.arguments = arguments
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        let errorPath = try TestDatabase.file("stderr.log", "")
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        try process.run()
        if !lines.isEmpty { input.fileHandleForWriting.write(Data((lines.joined(separator: "\n") + "\n").utf8)) }
        return (process, input.fileHandleForWriting, errorPath)
    }

    /// Waits for a COPY into `table` of the test's schema to be running.
    static func waitForCopy(_ db: TestDatabase, into table: String) throws -> Bool {
        try ExactlyOnceTests.eventually {
            try db.column(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY \"\(db.schema)\".\"\(table)%'") != ["0"]
        }
    }

    static func finish(_ process: Process, after signal: Int32) -> Int32 {
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test(arguments: [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")])
    func aLoadStoppedBySignalCommitsNothingAndExitsWith128PlusTheSignal(_ signal: Int32, _ name: String) throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("big.csv", ParallelLoadTests.numbers(400_000))
        let (process, input, errors) = try Self.start(
            ["load", path, "--to", db.url, "--schema", db.schema, "--table", "big", "--batch-rows", "10000"])
        #expect(try Self.waitForCopy(db, into: "big"))
        #expect(Self.finish(process, after: signal) == 128 + signal)
        try? input.close()
        let stderr = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        #expect(stderr.contains("interrupted by \(name)"), "\(stderr)")
        #expect(stderr.split(separator: "\n").count == 1, "\(stderr)")
        #expect(try !db.exists("big"))
    }

    @Test func aParallelLoadStoppedBySIGTERMLeavesNoHiddenTable() throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("big.csv", ParallelLoadTests.numbers(400_000))
        let (process, input, _) = try Self.start(
            ["load", path, "--to", db.url, "--schema", db.schema, "--table", "big", "--jobs", "2", "--batch-rows", "10000"])
        #expect(try ExactlyOnceTests.eventually { try !db.tables(startingWith: "_pgsink_parallel_big_").isEmpty })
        #expect(Self.finish(process, after: SIGTERM) == 143)
        try? input.close()
        #expect(try db.tables(startingWith: "_pgsink_parallel_").isEmpty)
        #expect(try !db.exists("big"))
    }

    @Test func aSingerTargetWaitingForInputStopsOnSIGTERM() throws {
        let db = try TestDatabase()
        let settings: [String: Any] = ["default_target_schema": db.schema]
        let config = try TestDatabase.file("target.json", try JSONSerialization.data(withJSONObject: settings))
        let messages = [SingerTests.schema("waiting", #""id":{"type":"integer"}"#, keys: [])]
            + (1...3).map { SingerTests.record("waiting", #"{"id":\#($0)}"#) }
        let (process, input, errors) = try Self.start(["singer", "--config", config, "--to", db.url], input: messages)
        Thread.sleep(forTimeInterval: 1)
        #expect(Self.finish(process, after: SIGTERM) == 143)
        try? input.close()
        let stderr = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        #expect(stderr.contains("interrupted by SIGTERM"), "\(stderr)")
        // The three records were never committed: no state was printed for them.
        #expect(try !db.exists("waiting") || db.count("waiting") == 0)
    }
}
