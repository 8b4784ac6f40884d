import Foundation
import PGSink
import PGSinkCore
import Testing

/// pgsink encodes values itself (binary COPY); each one must mean exactly what the server's own
/// input function makes of the same text, as `\copy` would store it.
@Suite("Parity with the server's input functions")
struct ServerParityTests {
    /// Fractions beyond microseconds round the way PostgreSQL rounds them (rint of the double,
    /// half to even), not half up: 30,000 random values and the half-way cases, against the
    /// server's cast of the same text.
    @Test func timestampFractionsRoundLikeTheServer() throws {
        let db = try TestDatabase()
        var random = SplitMix(seed: 7)
        var values = [
            "2024-01-04 10:00:00.1234565", "2024-01-04 10:00:00.1234575", "2024-01-04 10:00:00.0000005",
            "2024-01-04 10:00:00.0000015", "2024-01-04 10:00:00.9999995", "2024-12-31 23:59:59.9999999",
            "2024-01-04T10:00:00.12345650", "2024-01-04 10:00:00.123456500001",
        ]
        for _ in 0..<30_000 {
            let digits = 7 + Int(random.next() % 3)
            var fraction = ""
            for _ in 0..<digits { fraction += String(random.next() % 10) }
            // Many half-way values: a 5 in the seventh place and nothing after it.
            if random.next() % 4 == 0 { fraction = String(fraction.prefix(6)) + "5" }
            let second = random.next() % 60
            values.append("2024-03-0\(1 + random.next() % 9) 0\(random.next() % 10):1\(random.next() % 10):\(second < 10 ? "0" : "")\(second).\(fraction)")
        }
        let csv = "label,ts,tz\n" + values.enumerated().map { "\($0.offset),\($0.element),\($0.element)Z" }.joined(separator: "\n") + "\n"
        try db.connection.execute("CREATE TABLE \(db.table("times").quoted) (label int, ts timestamp, tz timestamptz)")
        try db.load(csv, as: "times.csv", into: "times")
        let differing = try db.rows(
            """
            SELECT t.label, t.ts::text, v FROM \(db.table("times").quoted) t
            JOIN unnest($1::text[]) WITH ORDINALITY AS u(v, o) ON u.o - 1 = t.label
            WHERE t.ts IS DISTINCT FROM v::timestamp OR t.tz IS DISTINCT FROM (v || 'Z')::timestamptz
            ORDER BY t.label LIMIT 5
            """.replacingOccurrences(of: "$1", with: "'\(SQL.textArray(values))'"))
        #expect(try db.count("times") == values.count)
        #expect(differing.isEmpty, "pgsink and the server disagree: \(differing)")
    }
}
