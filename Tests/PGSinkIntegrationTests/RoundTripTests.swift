import Foundation
import PGSink
import PGSinkCore
import Testing

/// Values go in through COPY and come back out of the server unchanged.
@Suite("Round trips through the server")
struct RoundTripTests {
    @Test func textSurvivesUnicodeQuotesBackslashesTabsAndNewlines() throws {
        let db = try TestDatabase()
        let csv = """
            id,value
            1,"héllo wörld ✓ 😀 日本語"
            2,"she said ""hi"", then left"
            3,back\\slash \\N \\t literal
            4,"tab\there"
            5,"line one
            line two\r
            line three"
            6,""
            7,

            """
        try db.load(csv, as: "texts.csv", into: "texts")
        let values = try db.column("SELECT value FROM \(db.table("texts").quoted) ORDER BY id")
        #expect(
            values == [
                "héllo wörld ✓ 😀 日本語", "she said \"hi\", then left", "back\\slash \\N \\t literal", "tab\there",
                "line one\nline two\r\nline three", "", nil,
            ])
    }

    @Test func jsonLinesKeepExactNumbersAndNestedValues() throws {
        let db = try TestDatabase()
        let jsonl = """
            {"id": 1, "big": 12345678901234567890, "dec": 0.1, "neg": -1.5e-7, "obj": {"a": [1, 2, {"b": null}]}, "s": "x\\ty\\u00e9\\ud83d\\ude00"}
            {"id": 2, "big": 1, "dec": 123456789.123456789, "neg": 0, "obj": [], "s": ""}
            {"id": 9223372036854775807, "big": -99999999999999999999999999999.5, "dec": 1e3, "neg": null, "obj": {}, "s": null}

            """
        try db.load(jsonl, as: "numbers.jsonl", into: "numbers")
        let types = try db.columnTypes("numbers")
        #expect(types["id"] == "bigint")
        #expect(types["big"] == "numeric")
        #expect(types["dec"] == "numeric")
        #expect(types["obj"] == "jsonb")
        #expect(types["s"] == "text")
        let rows = try db.rows("SELECT id, big, dec, neg, obj, s FROM \(db.table("numbers").quoted) ORDER BY id")
        #expect(rows[0] == ["1", "12345678901234567890", "0.1", "-0.00000015", #"{"a": [1, 2, {"b": null}]}"#, "x\tyé😀"])
        #expect(rows[1] == ["2", "1", "123456789.123456789", "0", "[]", ""])
        #expect(rows[2] == ["9223372036854775807", "-99999999999999999999999999999.5", "1000", nil, "{}", nil])
    }

    @Test func integersBeyond64BitsBecomeNumeric() throws {
        let db = try TestDatabase()
        try db.load("n\n-9223372036854775808\n9223372036854775807\n", as: "ints.csv", into: "ints")
        #expect(try db.columnTypes("ints")["n"] == "bigint")
        #expect(try db.column("SELECT n::text FROM \(db.table("ints").quoted) ORDER BY n") == ["-9223372036854775808", "9223372036854775807"])
        try db.load("n\n9223372036854775808\n1\n", as: "bigger.csv", into: "bigger")
        #expect(try db.columnTypes("bigger")["n"] == "numeric")
        #expect(try db.column("SELECT n::text FROM \(db.table("bigger").quoted) ORDER BY n") == ["1", "9223372036854775808"])
    }

    @Test func exactDecimalsKeepTheirScale() throws {
        let db = try TestDatabase()
        try db.load("amount\n12.50\n0.10\n-0.0001\n100\n0\n0.000\n", as: "money.csv", into: "money")
        #expect(try db.columnTypes("money")["amount"] == "numeric")
        #expect(
            try db.column("SELECT amount::text FROM \(db.table("money").quoted)")
                == ["12.50", "0.10", "-0.0001", "100", "0", "0.000"])
    }

    @Test func timestampsWithZonesLandInUTC() throws {
        let db = try TestDatabase()
        let csv = """
            at,local,day
            2024-03-10T12:00:00Z,2024-03-10 12:00:00,2024-02-29
            2024-03-10T14:30:00+02:30,2024-03-10T23:59:59.123456,1999-12-31
            2024-03-10 07:00:00.5-05:00,1970-01-01 00:00,0001-01-01

            """
        try db.load(csv, as: "times.csv", into: "times")
        let types = try db.columnTypes("times")
        #expect(types["at"] == "timestamp with time zone")
        #expect(types["local"] == "timestamp without time zone")
        #expect(types["day"] == "date")
        let rows = try db.rows(
            "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), local::text, day::text FROM \(db.table("times").quoted)")
        #expect(rows[0] == ["2024-03-10 12:00:00.000000", "2024-03-10 12:00:00", "2024-02-29"])
        #expect(rows[1] == ["2024-03-10 12:00:00.000000", "2024-03-10 23:59:59.123456", "1999-12-31"])
        #expect(rows[2] == ["2024-03-10 12:00:00.500000", "1970-01-01 00:00:00", "0001-01-01"])
    }

    @Test func everyInferredTypeRoundTrips() throws {
        let db = try TestDatabase()
        let csv = """
            b,i,n,d,ts,tz,u,t
            true,42,3.14,2020-01-02,2020-01-02T03:04:05,2020-01-02T03:04:05Z,6F9619FF-8B86-D011-B42D-00C04FC964FF,hello
            FALSE,-7,-0.5,2020-12-31,2020-12-31T23:59:59.999999,2020-12-31T23:59:59.999999-01:00,00000000-0000-0000-0000-000000000000,world

            """
        try db.load(csv, as: "kinds.csv", into: "kinds")
        let types = try db.columnTypes("kinds")
        #expect(types["b"] == "boolean")
        #expect(types["i"] == "bigint")
        #expect(types["n"] == "numeric")
        #expect(types["d"] == "date")
        #expect(types["ts"] == "timestamp without time zone")
        #expect(types["tz"] == "timestamp with time zone")
        #expect(types["u"] == "uuid")
        #expect(types["t"] == "text")
        let rows = try db.rows("SELECT b::text, i::text, n::text, d::text, ts::text, tz::text, u::text, t FROM \(db.table("kinds").quoted)")
        #expect(
            rows == [
                ["true", "42", "3.14", "2020-01-02", "2020-01-02 03:04:05", "2020-01-02 03:04:05+00",
                 "6f9619ff-8b86-d011-b42d-00c04fc964ff", "hello"],
                ["false", "-7", "-0.5", "2020-12-31", "2020-12-31 23:59:59.999999", "2021-01-01 00:59:59.999999+00",
                 "00000000-0000-0000-0000-000000000000", "world"],
            ])
    }

    @Test func nulCharactersAreRemovedAndCounted() throws {
        let db = try TestDatabase()
        let jsonl = #"{"s": "a\u0000b", "j": {"k": "x\u0000y"}}"# + "\n"
        let summary = try db.load(jsonl, as: "nul.jsonl", into: "nul")
        #expect(summary.nulsRemoved == 2)
        #expect(try db.rows("SELECT s, j->>'k' FROM \(db.table("nul").quoted)") == [["ab", "xy"]])
        let csvSummary = try db.load("s\nq\u{0}r\n", as: "nul.csv", into: "nulcsv")
        #expect(csvSummary.nulsRemoved == 1)
        #expect(try db.column("SELECT s FROM \(db.table("nulcsv").quoted)") == ["qr"])
    }

    @Test func gzipInputIsReadTransparently() throws {
        let db = try TestDatabase()
        let plain = try TestDatabase.file("zipped.csv", "a,b\n1,x\n2,y\n")
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gzip.arguments = ["-f", plain]
        try gzip.run()
        gzip.waitUntilExit()
        #expect(gzip.terminationStatus == 0)
        let summary = try db.load(paths: [plain + ".gz"], into: "zipped")
        #expect(summary.rows == 2)
        #expect(try db.rows("SELECT a::text, b FROM \(db.table("zipped").quoted) ORDER BY a") == [["1", "x"], ["2", "y"]])
    }
}
