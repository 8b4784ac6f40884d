import Testing

@testable import PGSinkCore

@Suite("Value syntax")
struct ValueSyntaxTests {
    // MARK: integers

    @Test(arguments: [
        ("0", Int64(0)), ("-0", 0), ("+5", 5), ("42", 42), ("-42", -42),
        ("9223372036854775807", Int64.max), ("-9223372036854775808", Int64.min),
        ("+9223372036854775807", Int64.max), ("1000000000000000000", 1_000_000_000_000_000_000),
    ])
    func parseInt64Accepts(_ text: String, _ value: Int64) {
        #expect(withBytes(text) { ValueSyntax.parseInt64($0, $1) } == value)
    }

    @Test(arguments: [
        "", "-", "+", "9223372036854775808", "-9223372036854775809", "18446744073709551616",
        "99999999999999999999", "007", "00", "-01", "+01", "1a", " 1", "1 ", "1.0", "1e3", "--1", "+-1", "0x10",
    ])
    func parseInt64Refuses(_ text: String) {
        #expect(withBytes(text) { ValueSyntax.parseInt64($0, $1) } == nil)
    }

    // MARK: decimals

    /// (negative, integer digits, fraction digits, exponent) of a parse.
    private func decimal(_ text: String, strictZeros: Bool = true) -> (Bool, String, String, Int)? {
        withBytes(text) { p, n in
            guard let d = ValueSyntax.parseDecimal(p, n, strictZeros: strictZeros) else { return nil }
            let bytes = Array(UnsafeBufferPointer(start: p, count: n))
            return (
                d.negative, String(decoding: bytes[d.integerStart..<d.integerEnd], as: UTF8.self),
                String(decoding: bytes[d.fractionStart..<d.fractionEnd], as: UTF8.self), d.exponent
            )
        }
    }

    @Test(arguments: [
        ("12.50", false, "12", "50", 0),
        ("-1.5e-7", true, "1", "5", -7),
        (".5", false, "", "5", 0),
        ("5.", false, "5", "", 0),
        ("+3E+2", false, "3", "", 2),
        ("0", false, "0", "", 0),
        ("0.5", false, "0", "5", 0),
        ("-0.000", true, "0", "000", 0),
        ("12345678901234567890", false, "12345678901234567890", "", 0),
        ("1e-0", false, "1", "", 0),
    ])
    func parseDecimalParts(_ text: String, _ negative: Bool, _ integer: String, _ fraction: String, _ exponent: Int)
        throws
    {
        let d = try #require(decimal(text))
        #expect(d.0 == negative)
        #expect(d.1 == integer)
        #expect(d.2 == fraction)
        #expect(d.3 == exponent)
    }

    @Test(arguments: ["", ".", "-", "+", "1e", "1e+", "e5", ".e5", "1.2.3", "1,5", "abc", "1 ", " 1", "1x", "--1", "0x1"])
    func parseDecimalRefuses(_ text: String) {
        #expect(decimal(text) == nil)
        #expect(decimal(text, strictZeros: false) == nil)
    }

    @Test func leadingZerosOnlyWithoutStrictZeros() throws {
        for text in ["007", "00.5", "-01.5", "00"] {
            #expect(decimal(text) == nil, "\(text)")
            #expect(decimal(text, strictZeros: false) != nil, "\(text)")
        }
        let d = try #require(decimal("007.50", strictZeros: false))
        #expect(d.1 == "007" && d.2 == "50")
    }

    // MARK: dates

    @Test(arguments: [
        ("2000-01-01", Int32(0)), ("1999-12-31", -1), ("2000-01-02", 1), ("2000-02-29", 59),
        ("2024-02-29", 8825), ("1970-01-01", -10957), ("0001-01-01", -730_119), ("9999-12-31", 2_921_939),
        ("2100-03-01", 36584), ("0001-12-31 BC", -730_120), ("0001-01-01 BC", -730_485), ("0001-02-29 bc", -730_426),
        ("10000-01-01", 2_921_940),
    ])
    func parseDate(_ text: String, _ days: Int32) {
        #expect(withBytes(text) { ValueSyntax.parseDate($0, $1) } == days)
    }

    @Test(arguments: [
        "2023-02-29", "1900-02-29", "2100-02-29", "2000-02-30", "2000-04-31", "2000-13-01", "2000-00-10",
        "2000-01-00", "2000-01-32", "0000-01-01", "2000-1-01", "2000/01/01", "20000101", "2000-01-01x",
        "2000-01-01T00:00", "", "abcd-ef-gh", "0002-02-29 BC", "0000-01-01 BC", "4713-01-01 BC", "294277-01-01",
        "1234567-01-01", "2000-01-01 B", "2000-01-01BC",
    ])
    func parseDateRefuses(_ text: String) {
        #expect(withBytes(text) { ValueSyntax.parseDate($0, $1) } == nil)
    }

    // MARK: timestamps

    static let hour: Int64 = 3_600_000_000
    static let day: Int64 = 86_400_000_000

    @Test(arguments: [
        ("2000-01-01T00:00:00Z", Int64(0), true),
        ("2000-01-01T01:00:00+01:00", 0, true),
        ("2000-01-01 00:00:00", 0, false),
        ("2000-01-01T00:00", 0, false),
        ("2000-01-01t12:34", 12 * hour + 34 * 60_000_000, false),
        ("2000-01-01T00:00:00z", 0, true),
        ("1999-12-31T23:59:59.999999", -1, false),
        ("2000-01-01T00:00:00.5", 500_000, false),
        ("2000-01-01T00:00:00.000001", 1, false),
        ("2000-01-01T00:00:00.1234564", 123_456, false),
        // PostgreSQL reads .1234565 as the double 0.12345649…, so it rounds down (ServerParityTests).
        ("2000-01-01T00:00:00.1234565", 123_456, false),
        ("2000-01-01T00:00:00.12345649", 123_456, false),
        ("1999-12-31T23:59:59.9999995", 0, false),
        ("2000-01-01T00:00:00-0530", 5 * hour + hour / 2, true),
        ("2000-01-01T00:00:00+05", -5 * hour, true),
        ("2000-01-01T00:00:00 +02:00", -2 * hour, true),
        ("2000-01-01T00:00-03:00", 3 * hour, true),
        ("2000-01-02T00:00:00.25+00:00", day + 250_000, true),
        ("2024-02-29T12:00:00Z", 8825 * day + 12 * hour, true),
        ("1970-01-01T00:00:00Z", -10957 * day, true),
        ("2021-06-15T08:30:15.25-05:30", 677_080_815_250_000, true),
    ])
    func parseTimestamp(_ text: String, _ micros: Int64, _ hasZone: Bool) throws {
        let ts = try #require(withBytes(text) { ValueSyntax.parseTimestamp($0, $1) })
        #expect(ts.microseconds == micros)
        #expect(ts.hasZone == hasZone)
    }

    @Test(arguments: [
        "2000-01-01T24:00:00", "2000-01-01T12:60", "2000-01-01T12:00:60", "2000-01-01T1:00:00",
        "2000-01-01X12:00", "2000-01-01T12:00:00.", "2000-01-01T12:00:00+", "2000-01-01T12:00:00+1",
        "2000-01-01T12:00:00+16:00", "2000-01-01T12:00:00+05:60", "2000-01-01T12:00:00 UTC",
        "2000-01-01T12:00:0", "2000-01-01", "2000-02-30T00:00", "2000-01-01T12:00.5", "2000-01-01T12:00:00Zx",
        "2000-01-01T12:00:00.5.5", "2000-01-01T12",
    ])
    func parseTimestampRefuses(_ text: String) {
        #expect(withBytes(text) { ValueSyntax.parseTimestamp($0, $1) } == nil)
    }

    // MARK: UUID

    static let canonical = "123e4567-e89b-12d3-a456-426614174000"
    static let canonicalBytes: [UInt8] = [
        0x12, 0x3E, 0x45, 0x67, 0xE8, 0x9B, 0x12, 0xD3, 0xA4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00,
    ]

    private func uuid(_ text: String, lenient: Bool) -> [UInt8]? {
        var out = [UInt8](repeating: 0xAA, count: 16)
        let ok = withBytes(text) { p, n in
            out.withUnsafeMutableBufferPointer { ValueSyntax.parseUUID(p, n, lenient: lenient, into: $0.baseAddress!) }
        }
        return ok ? out : nil
    }

    @Test(arguments: [
        (canonical, true, true),
        (canonical.uppercased(), true, true),
        ("{\(canonical)}", false, true),
        (canonical.replacing("-", with: ""), false, true),
        ("123e4567e-89b-12d3-a456-426614174000", false, false),
        ("123e4567-e89b-12d3-a456-42661417400g", false, false),
        ("123e4567-e89b-12d3-a456-42661417400", false, false),
        ("123e4567-e89b-12d3-a456-4266141740000", false, false),
        ("{\(canonical)", false, false),
        ("(\(canonical))", false, false),
        ("", false, false),
    ])
    func parseUUID(_ text: String, _ strict: Bool, _ lenient: Bool) {
        let s = uuid(text, lenient: false)
        let l = uuid(text, lenient: true)
        #expect((s != nil) == strict)
        #expect((l != nil) == lenient)
        if let l { #expect(l == Self.canonicalBytes) }
        // Validation without an output buffer agrees.
        #expect(withBytes(text) { ValueSyntax.parseUUID($0, $1) } == strict)
    }

    // MARK: booleans

    @Test(arguments: [
        ("true", true, true), ("TRUE", true, true), ("False", false, false), ("fAlSe", false, false),
        ("t", nil, true), ("YES", nil, true), ("y", nil, true), ("on", nil, true), ("1", nil, true),
        ("f", nil, false), ("no", nil, false), ("N", nil, false), ("OFF", nil, false), ("0", nil, false),
    ] as [(String, Bool?, Bool)])
    func parseBool(_ text: String, _ strict: Bool?, _ lenient: Bool) {
        #expect(withBytes(text) { ValueSyntax.parseBool($0, $1) } == strict)
        #expect(withBytes(text) { ValueSyntax.parseBool($0, $1, lenient: true) } == lenient)
    }

    @Test(arguments: ["", "2", "tru", "truex", "yess", "nope", "-1", " true"])
    func parseBoolRefuses(_ text: String) {
        #expect(withBytes(text) { ValueSyntax.parseBool($0, $1) } == nil)
        #expect(withBytes(text) { ValueSyntax.parseBool($0, $1, lenient: true) } == nil)
    }
}
