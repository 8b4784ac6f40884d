import Foundation
import PGSink
import PGSinkCore
import Testing

/// JSON documents (`--format json`, `.json`): arrays of objects, one object, and the array at a
/// records path, loaded through the JSON Lines record path into real tables.
@Suite("JSON documents")
struct JSONDocumentTests {
    static let people = """
        [
          {"id": 1, "name": "Ann, \\"the first\\"", "tags": ["a", "]"], "score": 1.5},
          {"id": 2,
           "name": "Bob {x}", "tags": [], "score": null},
          {"id": 3, "name": "Cy", "address": {"city": "Oslo"}, "active": true}
        ]

        """

    @Test func arrayFileLoadsOneRowPerElement() throws {
        let db = try TestDatabase()
        let summary = try db.load(Self.people, as: "people.json", into: "people")
        #expect(summary.rows == 3)
        #expect(try db.rows("SELECT id, name, tags::text, score, address->>'city', active FROM \(db.table("people").quoted) ORDER BY id") == [
            ["1", "Ann, \"the first\"", "[\"a\", \"]\"]", "1.5", nil, nil],
            ["2", "Bob {x}", "[]", nil, nil, nil],
            ["3", "Cy", nil, nil, "Oslo", "t"],
        ])
        #expect(try db.columnTypes("people")["id"] == "bigint")
        #expect(try db.columnTypes("people")["tags"] == "jsonb")
    }

    @Test func gzippedArrayLoads() throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("people.json.gz", try InputIntegrityTests.gzip(Data(Self.people.utf8)))
        let summary = try db.load(paths: [path], into: "people")
        #expect(summary.rows == 3)
        #expect(try db.column("SELECT name FROM \(db.table("people").quoted) ORDER BY id") == ["Ann, \"the first\"", "Bob {x}", "Cy"])
    }

    @Test func singleObjectIsOneRow() throws {
        let db = try TestDatabase()
        try db.load("{\"id\": 7,\n \"name\": \"only\"}\n", as: "one.json", into: "one")
        #expect(try db.rows("SELECT id, name FROM \(db.table("one").quoted)") == [["7", "only"]])
    }

    @Test func recordsPathPicksTheArrayInsideTheObject() throws {
        let db = try TestDatabase()
        let document = """
            {"meta": {"page": 1, "items": "not these"}, "data": {"items": [{"id": 1}, {"id": 2}], "next": null}, "z": [1]}
            """
        try db.load(document, as: "page.json", into: "page") { $0.recordsPath = ["data", "items"] }
        #expect(try db.column("SELECT id FROM \(db.table("page").quoted) ORDER BY id") == ["1", "2"])
    }

    @Test func recordsPathFromTheCommandLineAndTheConfigFile() throws {
        let db = try TestDatabase()
        let path = try TestDatabase.file("api.json", "{\"count\": 2, \"items\": [{\"a\": 1}, {\"a\": 2}]}")
        let flag = try CommandLineTests.run(["load", path, "--records-path", "items", "--to", db.url, "--table", "\(db.schema).api"])
        #expect(flag.status == 0, "\(flag.stderr)")
        #expect(try db.count("api") == 2)
        let environment = try CommandLineTests.run(
            ["load", path, "--to", db.url, "--table", "\(db.schema).api2"], environment: ["PGSINK_RECORDS_PATH": "items"])
        #expect(environment.status == 0, "\(environment.stderr)")
        #expect(try db.count("api2") == 2)
        let piped = try CommandLineTests.run(
            ["load", "-", "--format", "json", "--to", db.url, "--table", "\(db.schema).piped"], stdin: "[{\"a\":1},\n{\"a\":2}]")
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(try db.count("piped") == 2)
        let bad = try CommandLineTests.run(["load", path, "--records-path", "items..x", "--to", db.url])
        #expect(bad.status == 2)
        let missing = try CommandLineTests.run(
            ["load", path, "--records-path", "data.items", "--to", db.url, "--table", "\(db.schema).missing"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("records path 'data.items': the top-level object has no key 'data'"), "\(missing.stderr)")
        // From the environment (or a config file) with inputs that are not JSON documents: said, not silently dropped.
        let csv = try TestDatabase.file("plain.csv", "a\n1\n")
        let other = try CommandLineTests.run(
            ["load", csv, "--to", db.url, "--table", "\(db.schema).plain"], environment: ["PGSINK_RECORDS_PATH": "items"])
        #expect(other.status == 0, "\(other.stderr)")
        #expect(other.stderr.contains("records_path (items) applies to JSON documents"), "\(other.stderr)")
    }

    @Test func hundredThousandElementsStreamInBatches() throws {
        let db = try TestDatabase()
        let count = 100_000
        var text = "[\n"
        text.reserveCapacity(count * 48)
        for k in 0..<count {
            text += "{\"id\": \(k), \"s\": \"v,]\(k)\", \"o\": {\"k\": [\(k)]}}"
            text += k == count - 1 ? "\n]\n" : ",\n"
        }
        let summary = try db.load(text, as: "big.json", into: "big") { $0.batchRows = 7_000 }
        #expect(summary.rows == count)
        #expect(try db.rows("SELECT count(*), sum(id), max(s) FROM \(db.table("big").quoted)") == [["100000", "4999950000", "v,]99999"]])
    }

    /// Each broken document fails with its byte offset (and element), and commits nothing, even
    /// after earlier batches were sent.
    @Test(arguments: [
        ("truncated", "{\"id\":1,\"v\":", "the input ends inside element 300 of the array", 12),
        ("non-object", "2", "element 300 of the array is a number, not an object", 0),
        ("bad token", "{\"id\":1,\"v\":tru}", "invalid JSON value; expected true", 12),
        ("between elements", "{\"id\":1};", "expected ',' or ']' after element 300 of the array, found ';'", 8),
    ])
    func brokenDocumentsCommitNothing(_ name: String, _ last: String, _ message: String, _ at: Int) throws {
        let db = try TestDatabase()
        try db.load("[{\"id\": 0, \"v\": \"kept\"}]", as: "t.json", into: "t")
        let good = (1...300).map { "{\"id\":\($0),\"v\":\"x\"}" }.joined(separator: ",")
        let text = "[" + good + "," + last + (name == "truncated" ? "" : "]")
        do {
            try db.load(text, as: "t.json", into: "t") {
                $0.batchRows = 50
                $0.force = true
            }
            Issue.record("\(name) should fail")
        } catch let error as InputError {
            #expect(error.message.contains(message), "\(error)")
            #expect(error.message.contains("(byte \(1 + good.utf8.count + 1 + at)"), "\(error)")
        }
        #expect(try db.column("SELECT v FROM \(db.table("t").quoted)") == ["kept"])
    }

    @Test func trailingGarbageAndMissingPathCommitNothing() throws {
        let db = try TestDatabase()
        do {
            try db.load("[{\"id\":1}] [{\"id\":2}]", as: "g.json", into: "g")
            Issue.record("trailing garbage should fail")
        } catch let error as InputError {
            #expect(error.description.hasSuffix("g.json:1: unexpected text after the JSON array (byte 11)"))
        }
        #expect(try db.exists("g") == false)
        do {
            try db.load("{\"items\": {\"id\": 1}}", as: "p.json", into: "p") { $0.recordsPath = ["items"] }
            Issue.record("a records path that is not an array should fail")
        } catch let error as InputError {
            #expect(error.message == "records path 'items': 'items' is an object, not an array (byte 10)")
        }
        #expect(try db.exists("p") == false)
    }

    @Test func emptyArrayBehavesAsAnEmptyJSONLinesFile() throws {
        let db = try TestDatabase()
        let json = try db.load("[ ]\n", as: "e.json", into: "e_json")
        let jsonl = try db.load("", as: "e.jsonl", into: "e_jsonl")
        #expect(json.rows == 0)
        #expect(try db.exists("e_json") == db.exists("e_jsonl"))
    }

    /// The same records as JSON Lines and as a JSON array give the same table: columns, types, values.
    @Test(arguments: [NestedMode.jsonb, .flatten(depth: 1000), .tables])
    func sameRowsAsJSONLinesGiveIdenticalTables(_ nested: NestedMode) throws {
        let db = try TestDatabase()
        let records = (0..<500).map { k in
            "{\"id\": \(k), \"n\": \(k % 7 == 0 ? "null" : "\(k).25"), \"when\": \"2024-01-\(String(format: "%02d", k % 28 + 1))T08:00:00Z\", "
                + "\"s\": \"line\\nbreak \\\"q\\\" \\u00e9 [\(k)]\", \"ok\": \(k % 2 == 0), "
                + "\"o\": {\"a\": \(k), \"b\": [\(k), \"x\"]}, \"list\": [{\"v\": \(k)}, {\"v\": \(k + 1)}]"
                + (k > 250 ? ", \"late\": \"\(k)\"" : "") + "}"
        }
        let lines = records.joined(separator: "\n") + "\n"
        let array = "[\n  " + records.map { $0.replacingOccurrences(of: ", \"", with: ",\n    \"") }.joined(separator: ",\n  ") + "\n]"
        let configure: (inout LoadRequest) -> Void = {
            $0.nested = nested
            $0.batchRows = 100
        }
        try db.load(lines, as: "a.jsonl", into: "from_jsonl", configure)
        try db.load(array, as: "a.json", into: "from_json", configure)
        #expect(try db.columnTypes("from_jsonl") == db.columnTypes("from_json"))
        let jsonl = db.table("from_jsonl").quoted, json = db.table("from_json").quoted
        let columns = try db.column(
            "SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) FROM information_schema.columns "
                + "WHERE table_schema = '\(db.schema)' AND table_name = 'from_json' AND column_name NOT LIKE '\\_pgsink%'")[0]!
        #expect(try db.column("SELECT count(*) FROM (SELECT \(columns) FROM \(jsonl) EXCEPT ALL SELECT \(columns) FROM \(json)) d") == ["0"])
        #expect(try db.column("SELECT count(*) FROM (SELECT \(columns) FROM \(json) EXCEPT ALL SELECT \(columns) FROM \(jsonl)) d") == ["0"])
        #expect(try db.count("from_json") == 500)
        if nested == .tables {
            #expect(try db.count("from_json__list") == 1000)
        }
    }
}
