import Testing

@testable import PGSinkCore

/// The candidates of one value.
func candidates(_ text: String, kind: CellKind = .raw, jsonStrict: Bool = true) -> Candidates {
    withBytes(text) { Candidates.of($0, $1, kind: kind, jsonStrict: jsonStrict) }
}

/// The candidates of a column, folded the way the planner folds them (intersection, `wanted`
/// narrowing as it goes). A nil value is NULL.
func columnCandidates(_ values: [String?], kind: CellKind = .raw) -> Candidates {
    var fits = Candidates.all
    for value in values {
        guard let value else {
            fits.formIntersection(Candidates.of(UnsafePointer(bitPattern: 1)!, 0, kind: .null))
            continue
        }
        fits.formIntersection(withBytes(value) { Candidates.of($0, $1, kind: kind, wanted: fits) })
    }
    return fits
}

@Suite("Type inference")
struct InferenceTests {
    @Test(arguments: [
        (["1", "2", "-3", "+4"], ColumnType.bigint),
        (["1", "99999999999999999999"], .numeric),
        (["1.5", "2"], .numeric),
        (["2", ".5", "1e3"], .numeric),
        (["2020-01-01", "2021-12-31"], .date),
        (["2020-01-01", "2020-01-01T10:00:00"], .timestamp),
        (["2020-01-01 10:00", "2020-01-01T10:00:00+02:00"], .timestamptz),
        (["2020-01-01", "2020-01-01T10:00:00Z"], .timestamptz),
        (["2020-01-01T10:00:00Z"], .timestamptz),
        (["123e4567-e89b-12d3-a456-426614174000", "00000000-0000-0000-0000-000000000000"], .uuid),
        (["true", "FALSE", "True"], .boolean),
        (["007"], .text),
        (["007", "1"], .text),
        (["1", "007"], .text),
        (["0", "-0"], .bigint),
        (["1", "abc"], .text),
        (["t", "f"], .text),
        (["yes", "no"], .text),
        (["2020-02-30"], .text),
        (["2020-01-01", "1"], .text),
        (["true", "1"], .text),
        (["{123e4567-e89b-12d3-a456-426614174000}"], .text),
    ] as [([String], ColumnType)])
    func csvColumns(_ values: [String], _ type: ColumnType) {
        #expect(columnCandidates(values).inferredType == type)
        #expect(columnCandidates(values, kind: .quoted).inferredType == type)
    }

    @Test func nullsAreIgnoredAndAllNullIsText() {
        #expect(columnCandidates(["1", nil, "2"]).inferredType == .bigint)
        #expect(columnCandidates([nil, nil]).inferredType == .text)
        #expect(columnCandidates([]).inferredType == .text)
        #expect(Candidates.all.inferredType == .text)
    }

    @Test func quotedEmptyStringIsText() {
        #expect(columnCandidates(["1", ""], kind: .quoted).inferredType == .text)
    }

    @Test func integerWidthsOfOneValue() {
        #expect(candidates("5") == [.int16, .int32, .int64, .numeric, .text])
        #expect(candidates("40000") == [.int32, .int64, .numeric, .text])
        #expect(candidates("-32768").contains(.int16))
        #expect(!candidates("-32769").contains(.int16))
        #expect(candidates("3000000000") == [.int64, .numeric, .text])
        #expect(candidates("-2147483648").contains(.int32))
        #expect(candidates(".5") == [.numeric, .text])
        #expect(candidates("abc") == .text)
        #expect(candidates("2020-01-01") == [.date, .timestamp, .timestamptz, .text])
        #expect(candidates("2020-01-01T00:00") == [.timestamp, .timestamptz, .text])
        #expect(candidates("2020-01-01T00:00Z") == [.timestamptz, .text])
    }

    // MARK: JSON's own types

    @Test(arguments: [
        ([("123", CellKind.jsonString)], ColumnType.text),
        ([("123", .jsonNumber)], .bigint),
        ([("1.5", .jsonNumber), ("2", .jsonNumber)], .numeric),
        ([("1e400", .jsonNumber)], .numeric),
        ([("12345678901234567890", .jsonNumber)], .numeric),
        ([("1", .jsonNumber), ("1", .jsonString)], .text),
        ([("true", .jsonBool), ("false", .jsonBool)], .boolean),
        ([("true", .jsonString)], .text),
        ([("true", .jsonBool), ("1", .jsonNumber)], .text),
        ([("{\"a\":1}", .jsonNested), ("[1]", .jsonNested)], .jsonb),
        ([("{\"a\":1}", .jsonNested), ("x", .jsonString)], .text),
        ([("2020-01-01", .jsonString)], .date),
        ([("2020-01-01T10:00:00Z", .jsonString)], .timestamptz),
        ([("20200101", .jsonNumber)], .bigint),
        ([("123e4567-e89b-12d3-a456-426614174000", .jsonString)], .uuid),
    ] as [([(String, CellKind)], ColumnType)])
    func jsonStrictRules(_ values: [(String, CellKind)], _ type: ColumnType) {
        var fits = Candidates.all
        for (text, kind) in values {
            fits.formIntersection(withBytes(text) { Candidates.of($0, $1, kind: kind, wanted: fits) })
        }
        #expect(fits.inferredType == type)
    }

    @Test func withoutJsonStrictAJSONStringCanBeANumber() {
        #expect(candidates("123", kind: .jsonString, jsonStrict: false).inferredType == .bigint)
        #expect(candidates("true", kind: .jsonString, jsonStrict: false).inferredType == .boolean)
        #expect(candidates("{}", kind: .jsonNested, jsonStrict: false).inferredType == .jsonb)
    }

    /// End to end: scanned JSON Lines, inferred by the planner.
    @Test func plannerInfersFromAScannedJSONBatch() throws {
        let (batch, columns) = try makeBatch(
            "{\"n\":1,\"s\":\"123\",\"d\":\"2020-01-01\",\"j\":{\"a\":1},\"b\":true,\"f\":1.5,\"z\":null}\n"
                + "{\"n\":2,\"s\":\"x\",\"d\":\"2020-01-02\",\"j\":[],\"b\":false,\"f\":2,\"z\":null}\n", .jsonl)
        let types = (0..<columns.count).map { SchemaPlanner.infer(batch, slot: $0) }
        #expect(columns.names == ["n", "s", "d", "j", "b", "f", "z"])
        #expect(types == [.bigint, .text, .date, .jsonb, .boolean, .numeric, .text])
    }

    // MARK: widening

    @Test(arguments: [
        (["1.5"], ColumnType.bigint, ColumnType?.some(.numeric)),
        (["1", "2.5"], .bigint, .numeric),
        (["3000000000"], .integer, .bigint),
        (["70000"], .smallint, .integer),
        (["1.5"], .smallint, .numeric),
        (["2020-01-01T10:00"], .date, .timestamp),
        (["2020-01-01", "2020-01-01T10:00"], .date, .timestamp),
        (["2020-01-01T10:00Z"], .date, .timestamptz),
        (["2020-01-01T10:00Z"], .timestamp, .timestamptz),
        (["abc"], .integer, .text),
        (["1", "abc"], .bigint, .text),
        (["abc"], .uuid, .text),
        (["abc"], .boolean, .text),
        (["abc"], .numeric, .text),
        (["x"], .text, nil),
        (["x"], .other("geometry"), nil),
    ])
    func wideningOf(_ values: [String], _ from: ColumnType, _ to: ColumnType?) {
        #expect(columnCandidates(values).widening(of: from) == to)
    }

    @Test(arguments: [
        (ColumnType.smallint, "5", CellKind.raw), (.integer, "40000", .raw), (.bigint, "3000000000", .raw),
        (.numeric, "1.5", .raw), (.real, "1.5", .raw), (.date, "2020-01-01", .raw),
        (.timestamp, "2020-01-01T10:00", .raw), (.timestamptz, "2020-01-01T10:00Z", .raw), (.boolean, "true", .raw),
        (.uuid, "123e4567-e89b-12d3-a456-426614174000", .raw), (.jsonb, "{}", .jsonNested),
    ])
    func everyWideningKeepsTheValuesOfTheNarrowerType(_ type: ColumnType, _ value: String, _ kind: CellKind) {
        let fits = candidates(value, kind: kind)
        #expect(fits.isSuperset(of: Candidates.accepted(by: type)))
        for wider in Candidates.widenings(of: type) {
            #expect(fits.isSuperset(of: Candidates.accepted(by: wider)), "\(type) → \(wider) loses \(value)")
        }
        #expect(Candidates.widenings(of: type).last == .text)
        #expect(Candidates.widenings(of: .text).isEmpty)
    }

    // MARK: type spellings

    @Test(arguments: [
        ("int", ColumnType.integer), ("INT8", .bigint), ("  bigint ", .bigint), ("float", .double),
        ("varchar(10)", .text), ("character varying(255)", .text), ("numeric(12,2)", .numeric),
        ("timestamp(3) with time zone", .timestamptz), ("timestamp(6) without time zone", .timestamp),
        ("timestamptz", .timestamptz), ("decimal", .numeric), ("string", .text), ("geometry", .other("geometry")),
        ("bool", .boolean), ("jsonb", .jsonb), ("character varying(10)[]", .other("character varying(10)[]")),
        ("integer[]", .other("integer[]")),
    ])
    func parsingTypeNames(_ raw: String, _ type: ColumnType) {
        #expect(ColumnType(parsing: raw) == type)
    }

    @Test func sqlNames() {
        #expect(ColumnType.timestamp.sqlName == "timestamp without time zone")
        #expect(ColumnType.double.sqlName == "double precision")
        #expect(ColumnType.other("point").sqlName == "point")
        #expect(!ColumnType.other("point").hasBinaryEncoder)
        #expect(ColumnType.numeric.hasBinaryEncoder)
        #expect(CopyFormat.best(for: [CopyColumn(name: "a", type: .other("point"), source: 0)]) == .text)
        #expect(CopyFormat.best(for: [CopyColumn(name: "a", type: .uuid, source: 0)]) == .binary)
    }
}
