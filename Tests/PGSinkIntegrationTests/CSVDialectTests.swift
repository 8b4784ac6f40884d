import Foundation
import PGSink
import PGSinkCore
import Testing

/// CSV as other tools write it, loaded with no options: the sniffer must find the dialect, and the
/// values must land as the writer meant them. (The corpus, Tests/Corpus/18-*, has one small file
/// per dialect, marker, number, date and encoding.)
@Suite("CSV dialects")
struct CSVDialectTests {
    /// A dialect of Python's csv module, as keyword arguments of csv.writer.
    struct PythonDialect: CustomTestStringConvertible, Sendable {
        var name: String
        var arguments: String
        /// What pgsink should report (delimiter, quote, escape).
        var delimiter: String
        var escape: String?
        var testDescription: String { name }
    }

    static let dialects: [PythonDialect] = {
        var all: [PythonDialect] = []
        for (delimiter, spelled, python) in [(",", ",", ","), (";", ";", ";"), ("\\t", "\\t", "\\t"), ("|", "|", "|")] {
            all.append(PythonDialect(
                name: "'\(spelled)' minimal", arguments: "delimiter='\(python)', quoting=csv.QUOTE_MINIMAL",
                delimiter: delimiter, escape: nil))
            all.append(PythonDialect(
                name: "'\(spelled)' quote all, CRLF", arguments: "delimiter='\(python)', quoting=csv.QUOTE_ALL, lineterminator='\\r\\n'",
                delimiter: delimiter, escape: nil))
            all.append(PythonDialect(
                name: "'\(spelled)' backslash escape",
                arguments: "delimiter='\(python)', quoting=csv.QUOTE_MINIMAL, doublequote=False, escapechar='\\\\'",
                delimiter: delimiter, escape: "\\"))
        }
        return all
    }()

    /// Writes rows with Python's csv module in `dialect`, and what Python reads back from the
    /// file, as JSON (the values pgsink must store).
    static func pythonWrites(_ dialect: PythonDialect, to path: String) throws -> [[String]] {
        let script = """
            import csv, json, sys
            rows = [["id", "name", "note", "amount"]]
            notes = ['plain', 'with , comma', 'with ; semicolon', 'with | pipe', 'with\\ttab', 'say "hi"',
                     'two\\nlines', 'Zoë €', 'back\\\\slash', '']
            for i, note in enumerate(notes):
                rows.append([str(i + 1), 'name %d' % i, note, str(i * 7)])
            with open(sys.argv[1], 'w', newline='', encoding='utf-8') as f:
                csv.writer(f, \(dialect.arguments)).writerows(rows)
            with open(sys.argv[1], newline='', encoding='utf-8') as f:
                back = list(csv.reader(f, \(dialect.arguments)))
            print(json.dumps(back[1:]))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        return try JSONDecoder().decode([[String]].self, from: data)
    }

    @Test(arguments: dialects)
    func pythonsCSVModuleRoundTrips(_ dialect: PythonDialect) throws {
        let db = try TestDatabase()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgsink-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("t.csv").path
        let expected = try Self.pythonWrites(dialect, to: path)
        let summary = try db.load(paths: [path], into: "t")
        let report = try #require(summary.csvDialects?.first)
        #expect(report.delimiter == dialect.delimiter)
        #expect(report.header)
        let written = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
        #expect(report.escape == dialect.escape, "\(written)")
        #expect(summary.rows == expected.count)
        let rows = try db.rows("SELECT id::text, name, coalesce(note, ''), amount::text FROM \(db.table("t").quoted) ORDER BY t.id")
        #expect(rows.map { $0.map { $0 ?? "<null>" } } == expected)
        #expect(try db.columnTypes("t") == ["id": "bigint", "name": "text", "note": "text", "amount": "bigint"])
    }

    /// The sniffer reads its sample (the first MiB) into the first batch, and the load goes on
    /// from there: the first COPY starts long before the file is read, and no byte is read twice.
    @Test func theSnifferReadsOnlyItsSample() throws {
        let db = try TestDatabase()
        var text = "id;amount;day\n"
        var row = 0
        while text.utf8.count < 6 << 20 {
            row += 1
            text += "\(row);\(row % 1000),\(row % 100);\(row % 28 + 1)/\(row % 12 + 1)/2024\n"
        }
        let path = try TestDatabase.file("big.csv", text)
        let seen = ReadCounts()
        let summary = try db.load(paths: [path], into: "big") { request in
            request.batchBytes = 1 << 20
            request.firstBatchObserver = { _, bytes in seen.append(bytes) }
        }
        let readFirst = try #require(seen.all.first)
        #expect(readFirst <= CSVSniffer.sampleSize + (1 << 20), "read \(readFirst) bytes before the first COPY")
        #expect(readFirst < text.utf8.count / 3)
        #expect(summary.rows == row)
        let report = try #require(summary.csvDialects?.first)
        #expect(report.delimiter == ";")
        #expect(report.numberColumns == ["amount"])
        #expect(report.dateFormats == ["day": "%d/%m/%Y"])
        #expect(try db.columnTypes("big") == ["id": "bigint", "amount": "numeric", "day": "date"])
        #expect(try db.rows("SELECT amount::text, day::text FROM \(db.table("big").quoted) WHERE id = 1234") == [["234.34", "2024-11-03"]])
    }

    /// A value that is not UTF-8 past the sample reaches the server, whose error gets the same advice.
    @Test func invalidUTF8PastTheSampleGetsTheEncodingAdvice() throws {
        let db = try TestDatabase()
        var data = Data("id,name\n".utf8)
        var row = 0
        while data.count < CSVSniffer.sampleSize + 1000 {
            row += 1
            data += Data("\(row),plain text\n".utf8)
        }
        data += Data("\(row + 1),caf".utf8) + Data([0xE9]) + Data("\n".utf8)
        let path = try TestDatabase.file("late.csv", data)
        do {
            try db.load(paths: [path], into: "late")
            Issue.record("invalid UTF-8 loaded")
        } catch {
            #expect("\(error)".contains("late.csv:\(row + 2)"), "\(error)")
            #expect("\(error)".contains("pass --encoding windows-1252"), "\(error)")
        }
    }
}

/// Bytes read before each input's first batch, told from the producer's thread.
final class ReadCounts: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int] = []
    func append(_ value: Int) {
        lock.lock()
        values.append(value)
        lock.unlock()
    }
    var all: [Int] {
        lock.lock()
        defer { lock.unlock() }
        return values
    }
}
