import Foundation
import PGSink
import PGSinkCore
import Testing

/// Failures are classified once (`FailureReport`): a stable code, transient or not, and a
/// secret-free message; `--json` prints them as JSON.
@Suite("Failure reports")
struct FailureReportTests {
    @Test func aFailedLoadUnderJSONPrintsItsFailureAsJSON() throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("broken.csv", "id,name\n1,\"open\n")
        let run = try CommandLineTests.run(["load", path, "--to", db.url, "--schema", db.schema, "--json"])
        #expect(run.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]
        let error = try #require(object?["error"] as? [String: Any])
        #expect(error["code"] as? String == "input")
        #expect(error["transient"] as? Bool == false)
        #expect((error["message"] as? String)?.contains("broken.csv:2") == true)
        #expect(run.stderr.contains("nothing was committed"))
    }

    /// Failures before any load starts are JSON too: a server that is not there, a missing file.
    @Test func aFailureBeforeTheLoadUnderJSONIsJSONToo() throws {
        let path = try TestDatabase.file("ok.csv", "id\n1\n")
        let refused = try CommandLineTests.run(
            ["load", path, "--to", "postgresql://nobody:s3cret-x@127.0.0.1:1/db", "--json", "--connect-retries", "0"])
        #expect(refused.status == 1)
        let object = try JSONSerialization.jsonObject(with: Data(refused.stdout.utf8)) as? [String: Any]
        let error = try #require(object?["error"] as? [String: Any], "\(refused.stdout)")
        #expect(error["code"] as? String == "connection")
        #expect(!refused.stdout.contains("s3cret-x") && !refused.stderr.contains("s3cret-x"))
        let db = try TestDatabase()
        let missing = try CommandLineTests.run(["load", "/nonexistent/data.csv", "--to", db.url, "--json"])
        #expect(missing.status == 1)
        let second = try JSONSerialization.jsonObject(with: Data(missing.stdout.utf8)) as? [String: Any]
        #expect((second?["error"] as? [String: Any])?["code"] as? String == "input", "\(missing.stdout)")
    }

    @Test func errorsAreClassifiedOnce() {
        #expect(FailureReport(InputError(source: "a.csv", line: 3, message: "bad")).code == "input")
        #expect(FailureReport(PGError(kind: .connection, message: "server closed the connection unexpectedly")).transient)
        #expect(FailureReport(PGError(kind: .server, message: "x", sqlState: "40001")).transient)
        #expect(!FailureReport(PGError(kind: .server, message: "x", sqlState: "22P02")).transient)
        let lost = CommitUncertain(underlying: PGError(kind: .connection, message: "no connection to the server"))
        #expect(FailureReport(lost).code == "commit_uncertain")
        #expect(FailureReport(Interrupted(signal: SIGTERM)).code == "interrupted")
        #expect(Interrupted(signal: SIGTERM).exitCode == 143)
        Secrets.register("hunter2-secret")
        #expect(!FailureReport(LoadError("password hunter2-secret was wrong")).message.contains("hunter2-secret"))
    }
}
