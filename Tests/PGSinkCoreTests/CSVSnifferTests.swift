import Testing

@testable import PGSinkCore

/// The sniffer's decisions on small samples, the scanner in the dialects it chooses, and the
/// local number and date readers. No server: the corpus (Tests/Corpus/18-*) loads such files.
@Suite("CSV sniffer")
struct CSVSnifferTests {
    private func sniff(
        _ text: String, isWhole: Bool = true, options: CSVDialectOptions = CSVDialectOptions(),
        values: ValueOptions = ValueOptions()
    ) throws(InputError) -> CSVSniffer.Result {
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buffer throws(InputError) in
            try CSVSniffer.sniff(
                buffer.baseAddress!, buffer.count, isWhole: isWhole, source: "t.csv", options: options,
                defaultDelimiter: 44, values: values)
        }
    }

    @Test(arguments: [
        ("a,b\n1,2\n", UInt8(44)), ("a;b\n1,5;2\n3,5;4\n", 59), ("a\tb\n1\t2,5\n", 9), ("id|name\n1|Smith, John\n", 124),
    ])
    func findsTheDelimiter(_ text: String, _ delimiter: UInt8) throws {
        #expect(try sniff(text).dialect.delimiter == delimiter)
    }

    @Test func oneColumnKeepsTheDefault() throws {
        let result = try sniff("name\nann\nbob\n")
        #expect(result.dialect.delimiter == 44)
        #expect(result.dialect.hasHeader)
    }

    @Test func twoDelimitersThatSplitAlikeAreNamedNotGuessed() {
        do {
            _ = try sniff("a;b,c\n1;2,3\n")
            Issue.record("an ambiguous sample was decided")
        } catch {
            #expect(error.message.contains("cannot tell the delimiter: ',' (2 fields) and ';' (2 fields)"))
            #expect(error.message.contains("pass --delimiter"))
        }
        var options = CSVDialectOptions()
        options.delimiter = 59
        #expect((try? sniff("a;b,c\n1;2,3\n", options: options))?.dialect.delimiter == 59)
    }

    @Test func commentAndJunkLinesBeforeTheHeader() throws {
        let comments = try sniff("# made by x\n# on monday\nid,v\n1,2\n")
        #expect(comments.dialect.comment == 35)
        #expect(comments.dialect.skipLines == 0)
        let junk = try sniff("Report\nfor March\n\nid,v,w\n1,2,3\n4,5,6\n")
        #expect(junk.dialect.skipLines == 3)
        #expect(junk.dialect.comment == nil)
        // A header one field short is not junk: the scanner reports the record that is too long.
        #expect(try sniff("a,b\n1,2,3\n4,5,6\n").dialect.skipLines == 0)
    }

    @Test func aFirstRecordThatFitsTheTypesBelowIsData() throws {
        #expect(try sniff("1,2024-01-01\n2,2024-01-02\n").dialect.hasHeader == false)
        #expect(try sniff("id,day\n1,2024-01-01\n").dialect.hasHeader)
        #expect(try sniff("a,b\nx,y\n").dialect.hasHeader)
        var options = CSVDialectOptions()
        options.hasHeader = true
        #expect(try sniff("1,2\n3,4\n", options: options).dialect.hasHeader)
    }

    @Test func quoteAndEscape() throws {
        let single = try sniff("id,name\n1,'a, b'\n2,'c, d'\n")
        #expect(single.dialect.quote == 39)
        let backslash = try sniff("id,q\n1,\"say \\\"hi\\\"\"\n")
        #expect(backslash.dialect.escape == 92)
        // A quote left open is the file's error, not a sign of another quote character.
        #expect(try sniff("a,b\n1,2\n\"3,4\n").dialect.quote == 34)
        #expect(try sniff("id,name\n1,\"open\n").dialect.quote == 34)
        let doubled = try sniff("id,q\n1,\"say \"\"hi\"\"\"\n2,\"C:\\dir\\\"\n")
        #expect(doubled.dialect.escape == nil)
    }

    @Test func aSampleCutMidLineOrMidCharacterIsFine() throws {
        let text = "id;name\n1;Zoë\n2;Zoë\n"
        let bytes = Array(text.utf8)
        // Cut inside the second ë (2 bytes), mid-line.
        let result = try bytes.withUnsafeBufferPointer { buffer throws(InputError) in
            try CSVSniffer.sniff(
                buffer.baseAddress!, buffer.count - 2, isWhole: false, source: "t.csv", options: CSVDialectOptions(),
                defaultDelimiter: 44, values: ValueOptions())
        }
        #expect(result.dialect.delimiter == 59)
        // Old Mac line ends: a sample cut mid-line still has whole lines.
        let mac = Array("id;name\r1;a\r2;b\r3;c".utf8)
        let macResult = try mac.withUnsafeBufferPointer { buffer throws(InputError) in
            try CSVSniffer.sniff(
                buffer.baseAddress!, buffer.count, isWhole: false, source: "t.csv", options: CSVDialectOptions(),
                defaultDelimiter: 44, values: ValueOptions())
        }
        #expect(macResult.dialect.delimiter == 59)
    }

    @Test func textThatIsNotUTF8NamesTheLineAndTheFlag() {
        let bytes: [UInt8] = Array("id,name\n1,ok\n2,caf".utf8) + [0xE9] + Array("\n".utf8)
        do {
            _ = try bytes.withUnsafeBufferPointer { buffer throws(InputError) in
                try CSVSniffer.sniff(
                    buffer.baseAddress!, buffer.count, isWhole: true, source: "t.csv", options: CSVDialectOptions(),
                    defaultDelimiter: 44, values: ValueOptions())
            }
            Issue.record("Windows-1252 passed as UTF-8")
        } catch {
            #expect(error.line == 3)
            #expect(error.message.contains("pass --encoding windows-1252"))
        }
    }

    @Test func nullMarkersHintAndAuto() throws {
        let text = "id,score,code\n1,NA,NA\n2,3.5,FR\n3,N/A,DE\n"
        let plain = try sniff(text)
        #expect(plain.hints == ["column \"score\" would be numeric if NA,N/A meant NULL: pass --null-values NA,N/A (or --null-values auto)"])
        #expect(plain.rewrite.isEmpty)
        var values = ValueOptions()
        values.autoNullValues = true
        let auto = try sniff(text, values: values)
        #expect(auto.nullMarkerColumns == ["score"])
        #expect(auto.rewrite.columns[1]?.markers == [Array("NA".utf8), Array("N/A".utf8)])
        #expect(auto.rewrite.columns[2] == nil)
    }

    @Test func decimalCommaOnlyWhereAValueDecidesIt() throws {
        let result = try sniff("a;b;c;d\n1,5;1,234;1.234,5;x\n2,25;5,678;7;y\n")
        #expect(result.numberColumns == ["a", "c"])
        #expect(result.hints.count == 1)
        #expect(result.hints.first?.contains("column \"b\" holds numbers like 1,234") == true)
    }

    @Test func datesDecidedByADayAboveTwelve() throws {
        let result = try sniff("a,b,c,d\n31/01/2024,01/31/2024 1:45 PM,01/02/2024,31.12.2024\n01/02/2024,02/01/2024,03/04/2024,1.1.2024\n")
        #expect(result.dateColumns == ["a": "%d/%m/%Y", "b": "%m/%d/%Y", "d": "%d.%m.%Y"])
        #expect(result.hints == [
            "column \"c\" holds dates that fit more than one format (no day above 12 decides), so it stays text: "
                + "pass --date-format %d/%m/%Y or --date-format %m/%d/%Y"
        ])
        var values = ValueOptions()
        values.dateFormat = LocalDateFormat(spelling: "%m/%d/%Y")
        #expect(try sniff("c\n01/02/2024\n", values: values).dateColumns == ["c": "%m/%d/%Y"])
    }

    // MARK: - Local formats

    private func iso(_ format: String, _ value: String) -> String? {
        let f = LocalDateFormat(spelling: format)!
        return Array(value.utf8).withUnsafeBufferPointer { f.iso($0.baseAddress!, $0.count) }
            .map { String(decoding: $0, as: UTF8.self) }
    }

    @Test(arguments: [
        ("%d/%m/%Y", "31/01/2024", "2024-01-31"), ("%d/%m/%Y", "1/2/2024", "2024-02-01"),
        ("%m/%d/%Y", "01/31/2024 1:45 PM", "2024-01-31 13:45:00"), ("%m/%d/%Y", "12/31/2024 12:00 am", "2024-12-31 00:00:00"),
        ("%d.%m.%Y", "29.02.2024 23:59:59.25", "2024-02-29 23:59:59.25"), ("%Y/%m/%d", "2024/1/31", "2024-01-31"),
        ("%d-%m-%Y %H:%M", "05-06-2024T07:08", "2024-06-05 07:08:00"),
    ])
    func readsDates(_ format: String, _ value: String, _ expected: String) {
        #expect(iso(format, value) == expected)
    }

    @Test(arguments: [
        ("%d/%m/%Y", "31/02/2024"), ("%m/%d/%Y", "31/01/2024"), ("%d/%m/%Y", "1/1/24"), ("%d/%m/%Y", "01/01/2024 13:00 PM"),
        ("%d/%m/%Y", "01/01/2024 1:5"), ("%d.%m.%Y", "01/01/2024"), ("%d/%m/%Y", "01/01/2024x"),
    ])
    func refusesWhatIsNotADate(_ format: String, _ value: String) {
        #expect(iso(format, value) == nil)
    }

    @Test func unknownDateSpellingsAreRefused() {
        #expect(LocalDateFormat(spelling: "%d/%m/%Y %I:%M %p") != nil)
        #expect(LocalDateFormat(spelling: "%Y%m%d") == nil)
        #expect(LocalDateFormat(spelling: "%d/%m/%Y %Q") == nil)
    }

    @Test(arguments: [
        ("1,5", "1.5", false), ("1.234,50", "1234.50", false), ("-0,75", "-0.75", false), ("+12", "12", false),
        ("1,234", "1.234", true),
    ])
    func readsLocalNumbers(_ value: String, _ plain: String, _ couldBeGrouping: Bool) throws {
        let format = LocalNumberFormat(decimal: 44, thousands: 46)
        let reading = try #require(Array(value.utf8).withUnsafeBufferPointer { format.read($0.baseAddress!, $0.count) })
        #expect(String(decoding: reading.plain, as: UTF8.self) == plain)
        #expect(reading.couldBeGrouping == couldBeGrouping)
    }

    @Test(arguments: ["1.23,4", "1,", ",5", "12.34", "1.2345,6", "a", "1,5e3"])
    func refusesWhatIsNotALocalNumber(_ value: String) {
        let format = LocalNumberFormat(decimal: 44, thousands: 46)
        #expect(Array(value.utf8).withUnsafeBufferPointer { format.read($0.baseAddress!, $0.count) } == nil)
    }

    // MARK: - The scanner in other dialects

    static let dialectTexts: [(String, CSVDialect, String)] = [
        ("escape", CSVDialect(escape: 92), "id,q\n1,\"say \\\"hi\\\", ok\"\n2,back\\\\slash\n3,un\\\"quoted\n"),
        ("comments and junk", CSVDialect(comment: 35, skipLines: 2), "Title\r\n\r\nid,q\n# note\n1,\"say \"\"hi\"\", ok\"\n2,back\\\\slash\n3,un\\\"quoted\n"),
        ("single quote", CSVDialect(delimiter: 59, quote: 39), "id;q\n1;'say \"hi\", ok'\n2;back\\\\slash\n3;un\\\"quoted\n"),
    ]

    @Test(arguments: 0..<3)
    func scannerReadsEveryDialectInAnyChunks(_ index: Int) throws {
        let (name, dialect, text) = Self.dialectTexts[index]
        let expected: [[String?]] =
            index == 0
            ? [["1", "say \"hi\", ok"], ["2", "back\\slash"], ["3", "un\"quoted"]]
            : [["1", "say \"hi\", ok"], ["2", "back\\\\slash"], ["3", "un\\\"quoted"]]
        for chunk in [1, 2, 3, 5, 1000] {
            let outcome = scanChunked(text, .dialect(dialect), chunkSize: chunk)
            let result = try #require(outcome.result, "\(name), chunks of \(chunk): \(outcome)")
            #expect(result.names == ["id", "q"], "\(name) \(chunk)")
            #expect(result.texts == expected, "\(name) \(chunk)")
        }
    }
}
