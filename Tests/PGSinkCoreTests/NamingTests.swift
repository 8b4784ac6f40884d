import Testing

@testable import PGSinkCore

@Suite("Naming")
struct NamingTests {
    let rules = NamingRules()

    @Test(arguments: [
        ("Name", "name"), ("My Column!", "my_column_"), ("1abc", "_1abc"), ("order", "_order"), ("ORDER", "_order"),
        ("select", "_select"), ("user", "_user"), ("name", "name"), ("a-b.c", "a_b_c"), ("_x", "_x"),
        ("héllo", "h_llo"), ("日本", "__"), ("9", "_9"), ("snake_case_42", "snake_case_42"),
    ])
    func normalize(_ source: String, _ expected: String) {
        #expect(rules.normalize(source) == expected)
    }

    @Test func fallbackForEmptyNames() {
        #expect(rules.normalize("", fallback: "data") == "data")
        // The default fallback is not a reserved word, so it needs no prefix.
        let empty = rules.normalize("")
        #expect(empty == "unnamed")
        #expect(!ReservedWords.contains(empty))
        #expect(NamingRules(allowReservedWords: true).normalize("") == "unnamed")
    }

    @Test func allowReservedWordsAndKeepCase() {
        let reserved = NamingRules(allowReservedWords: true)
        #expect(reserved.normalize("order") == "order")
        #expect(reserved.normalize("Order Date") == "order_date")
        let keep = NamingRules(keepCase: true)
        #expect(keep.normalize("MyCol") == "MyCol")
        #expect(keep.normalize("My Col") == "My_Col")
        #expect(keep.normalize("Order") == "_Order")
        #expect(NamingRules(keepCase: true, allowReservedWords: true).normalize("Order") == "Order")
    }

    @Test func fnv1aHashMatchesKnownVectors() {
        #expect(NamingRules.hashHex("") == "811c9dc5")
        #expect(NamingRules.hashHex("a") == "e40c292c")
        #expect(NamingRules.hashHex("foobar") == "bf9cf968")
    }

    @Test func namesUpTo63BytesAreKept() {
        let exact = String(repeating: "a", count: 63)
        #expect(rules.normalize(exact) == exact)
    }

    @Test func longNamesAreShortenedDeterministically() {
        let long = String(repeating: "a", count: 70)
        let short = rules.normalize(long)
        #expect(short.utf8.count == 63)
        #expect(short == String(repeating: "a", count: 54) + "_" + NamingRules.hashHex(long))
        #expect(rules.normalize(long) == short)
    }

    @Test func longNamesSharingA63BytePrefixStayDistinct() {
        let prefix = String(repeating: "column_", count: 10)  // 70 bytes
        let a = rules.normalize(prefix + "first")
        let b = rules.normalize(prefix + "second")
        #expect(a != b)
        #expect(a.utf8.count <= 63 && b.utf8.count <= 63)
        #expect(a.hasPrefix(String(prefix.prefix(40))))
    }

    @Test func multiByteNamesNormalizeToValidShortASCII() {
        let name = "Größe " + String(repeating: "é", count: 60) + "日本語"
        let normalized = rules.normalize(name)
        #expect(normalized.utf8.count <= 63)
        #expect(normalized.utf8.allSatisfy { $0 < 0x80 })
        #expect(!normalized.unicodeScalars.contains("\u{FFFD}"))
    }

    /// `fitting` is public and documented to give at most `limit` bytes; it must not cut a
    /// multi-byte character in half (which decodes to U+FFFD and overshoots the limit).
    @Test(arguments: ["a" + String(repeating: "é", count: 40), String(repeating: "日", count: 30), "abc" + String(repeating: "😀", count: 20)])
    func fittingNeverCutsACharacter(_ name: String) {
        let fitted = NamingRules.fitting(name)
        #expect(fitted.utf8.count <= 63, "\(fitted.utf8.count) bytes")
        #expect(!fitted.unicodeScalars.contains("\u{FFFD}"))
        #expect(name.hasPrefix(String(fitted.prefix(5))))
    }

    @Test func distinctNames() {
        #expect(rules.distinctNames(for: ["a b", "a_b"]) == ["a_b", "a_b_2"])
        #expect(rules.distinctNames(for: ["x", "X", "x!", "x"]) == ["x", "x_2", "x_", "x_3"])
        #expect(rules.distinctNames(for: ["id", "ID"], taken: ["id"]) == ["id_2", "id_3"])
        #expect(rules.distinctNames(for: []) == [])
    }

    @Test func distinctLongNamesStayWithinTheLimit() {
        let long = String(repeating: "b", count: 80)
        let names = rules.distinctNames(for: [long, long, long])
        #expect(Set(names).count == 3)
        #expect(names.allSatisfy { $0.utf8.count <= 63 })
        let edge = String(repeating: "c", count: 63)
        let edged = rules.distinctNames(for: [edge, edge])
        #expect(edged[0] == edge)
        #expect(edged[1] != edge && edged[1].utf8.count <= 63)
    }

    // MARK: tables and quoting

    @Test(arguments: [
        ("dir/My Sales.csv.gz", "My Sales"), ("data.JSONL", "data"), ("a/b/c.tsv", "c"), ("noext", "noext"),
        ("x.ndjson.gz", "x"), ("/abs/path/report.txt", "report"), ("events.json", "events"), ("archive.tar", "archive.tar"),
    ])
    func baseName(_ path: String, _ expected: String) {
        #expect(TableName.baseName(ofPath: path) == expected)
    }

    @Test func quoting() {
        #expect(quoteIdentifier("plain") == "\"plain\"")
        #expect(quoteIdentifier("we\"ird") == "\"we\"\"ird\"")
        #expect(quoteIdentifier("\"\"") == "\"\"\"\"\"\"")
        let table = TableName(schema: "my schema", name: "t\"x")
        #expect(table.quoted == "\"my schema\".\"t\"\"x\"")
        #expect(table.description == "my schema.t\"x")
    }

    @Test func reservedWordsAreLowerCaseAndIncludeTheUsualSuspects() {
        #expect(ReservedWords.all.allSatisfy { $0 == $0.lowercased() })
        for word in ["select", "from", "where", "table", "user", "order", "group", "limit"] {
            #expect(ReservedWords.contains(word), "\(word)")
        }
        #expect(!ReservedWords.contains("name"))
        #expect(!ReservedWords.contains("id"))
    }
}
