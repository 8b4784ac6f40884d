import Foundation
import PGSink
import PGSinkCore
import Testing

/// The hostile-input corpus (`Tests/Corpus/<case>/case.json`): each case is a folder of input
/// files and the outcome expected of them, run through the real `pgsink` executable.
///
/// case.json:
/// ```
/// { "about": "what the case shows", "item": "11.1",
///   "setup": ["SQL run before the steps"],
///   "steps": [{ "args": ["load", "{dir}/t.csv.gz", "--to", "{url}", "--schema", "{schema}"],
///               "stdin": "file in the case folder (optional)", "env": {"K": "V"},
///               "exit": 1, "stderr": ["text that must appear"], "stdout": ["…"],
///               "not": ["text that must appear in neither stream"] },
///             { "sql": "SQL run between two commands" }],
///   "checks": [{ "sql": "SELECT … FROM {schema}.t", "rows": ["a|b", "<null>|c"] }] }
/// ```
/// `{dir}` is a private copy of the case folder, `{schema}` a fresh schema, `{url}` the test server,
/// `{env:NAME}` a variable of the tests' environment (`{env:PGSINK_TEST_TLS_PORT}`: the server that
/// checks passwords). `{{` and `}}` stand for literal braces, so `{{schema}}` passes pgsink's own
/// `{schema}` placeholder (`cdc apply --table-format`) through unfilled.
/// `generate` (optional) is a Python script in the folder run first (in the copy) to write inputs
/// that are easier to describe than to store.
struct CorpusCase: CustomTestStringConvertible, Sendable {
    let name: String
    let folder: URL
    var testDescription: String { name }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Corpus")

    static let all: [CorpusCase] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return names.sorted().compactMap { name in
            let folder = root.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("case.json").path) else { return nil }
            return CorpusCase(name: name, folder: folder)
        }
    }()
}

@Suite("Hostile-input corpus")
struct CorpusTests {
    struct Step: Decodable {
        var args: [String]?
        /// SQL run between commands instead of a command (e.g. dropping a table).
        var sql: String?
        var stdin: String?
        var env: [String: String]?
        var exit: Int32?
        var stderr: [String]?
        var stdout: [String]?
        var not: [String]?
    }

    struct Check: Decodable {
        var sql: String
        var rows: [String]
    }

    struct Case: Decodable {
        var about: String
        var item: String?
        var generate: String?
        var setup: [String]?
        var steps: [Step]
        var checks: [Check]?
    }

    @Test func corpusIsNotEmpty() {
        #expect(CorpusCase.all.count >= 1, "no cases under \(CorpusCase.root.path)")
    }

    @Test(arguments: CorpusCase.all)
    func corpusCase(_ corpus: CorpusCase) throws {
        let data = try Data(contentsOf: corpus.folder.appendingPathComponent("case.json"))
        let spec = try JSONDecoder().decode(Case.self, from: data)
        let db = try TestDatabase()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgsink-corpus-" + UUID().uuidString)
        try FileManager.default.copyItem(at: corpus.folder, to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        func fill(_ text: String) -> String {
            var filled = text.replacingOccurrences(of: "{{", with: "\u{1}")
                .replacingOccurrences(of: "}}", with: "\u{2}")
                .replacingOccurrences(of: "{dir}", with: dir.path)
                .replacingOccurrences(of: "{schema}", with: db.schema)
                .replacingOccurrences(of: "{url}", with: db.url)
            while let range = filled.range(of: #"\{env:[A-Za-z0-9_]+\}"#, options: .regularExpression) {
                let name = String(filled[range].dropFirst(5).dropLast())
                filled.replaceSubrange(range, with: ProcessInfo.processInfo.environment[name] ?? "<\(name) is not set>")
            }
            return filled.replacingOccurrences(of: "\u{1}", with: "{").replacingOccurrences(of: "\u{2}", with: "}")
        }
        if let script = spec.generate {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", dir.appendingPathComponent(script).path]
            process.currentDirectoryURL = dir
            try process.run()
            process.waitUntilExit()
            try #require(process.terminationStatus == 0, "\(corpus.name): \(script) failed")
        }
        for sql in spec.setup ?? [] { try db.connection.execute(fill(sql)) }
        for (index, step) in spec.steps.enumerated() {
            let label = "\(corpus.name) step \(index + 1) (\(spec.about))"
            if let sql = step.sql {
                try db.connection.execute(fill(sql))
                continue
            }
            let args = try #require(step.args, "\(label): a step needs args or sql")
            let input = try step.stdin.map { String(decoding: try Data(contentsOf: dir.appendingPathComponent($0)), as: UTF8.self) }
            let run = try CommandLineTests.run(
                args.map(fill), stdin: input, environment: (step.env ?? [:]).mapValues(fill), in: dir)
            #expect(run.status == step.exit ?? 0, "\(label): exit \(run.status), stderr: \(run.stderr)")
            for text in step.stderr ?? [] {
                #expect(run.stderr.contains(fill(text)), "\(label): stderr lacks \(text.debugDescription): \(run.stderr)")
            }
            for text in step.stdout ?? [] {
                #expect(run.stdout.contains(fill(text)), "\(label): stdout lacks \(text.debugDescription): \(run.stdout)")
            }
            for text in step.not ?? [] {
                #expect(!run.stderr.contains(text) && !run.stdout.contains(text), "\(label): output shows \(text.debugDescription)")
            }
        }
        for check in spec.checks ?? [] {
            let rows = try db.rows(fill(check.sql)).map { $0.map { $0 ?? "<null>" }.joined(separator: "|") }
            #expect(rows == check.rows, "\(corpus.name): \(check.sql)")
        }
    }
}
