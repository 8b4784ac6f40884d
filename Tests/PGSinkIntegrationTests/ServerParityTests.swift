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

    /// Dates and timestamps before Christ (` BC`) and after 9999 (five and six digit years), as
    /// PostgreSQL writes and reads them: encoded in binary by pgsink, they must equal the server's
    /// cast of the same text, and a new table's columns are inferred as dates and timestamps.
    @Test func datesOutsideYearsOneTo9999MatchTheServer() throws {
        let db = try TestDatabase()
        var random = SplitMix(seed: 11)
        var values = [
            "0001-01-01 BC", "0001-12-31 BC", "0001-02-29 BC", "0005-02-29 BC", "4712-01-01 BC", "10000-01-01",
            "99999-12-31", "294276-12-31", "0001-01-01", "9999-12-31", "12344-02-29",
        ]
        for _ in 0..<5_000 {
            let bc = random.next() % 3 == 0
            let year = bc ? 1 + Int(random.next() % 4712) : 1 + Int(random.next() % 294_276)
            let month = 1 + Int(random.next() % 12)
            let day = 1 + Int(random.next() % 28)
            let padded = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
            values.append("\(padded)-\(month < 10 ? "0" : "")\(month)-\(day < 10 ? "0" : "")\(day)\(bc ? " BC" : "")")
        }
        // The timestamp form: the date, a time, and the era after the zone, as the server writes it.
        func timestamp(_ date: String, zone: String) -> String {
            date.hasSuffix(" BC") ? String(date.dropLast(3)) + " 13:14:15.5" + zone + " BC" : date + " 13:14:15.5" + zone
        }
        let csv = "label,d,ts,tz\n"
            + values.enumerated().map { "\($0.offset),\($0.element),\(timestamp($0.element, zone: "")),\(timestamp($0.element, zone: "+02"))" }
                .joined(separator: "\n") + "\n"
        try db.connection.execute("CREATE TABLE \(db.table("eras").quoted) (label int, d date, ts timestamp, tz timestamptz)")
        try db.load(csv, as: "eras.csv", into: "eras")
        #expect(try db.count("eras") == values.count)
        let differing = try db.rows(
            """
            SELECT t.label, t.d::text, t.ts::text, v FROM \(db.table("eras").quoted) t
            JOIN unnest($1::text[]) WITH ORDINALITY AS u(v, o) ON u.o - 1 = t.label
            WHERE t.d IS DISTINCT FROM v::date
               OR t.ts IS DISTINCT FROM (CASE WHEN v LIKE '% BC' THEN left(v, -3) || ' 13:14:15.5 BC' ELSE v || ' 13:14:15.5' END)::timestamp
               OR t.tz IS DISTINCT FROM (CASE WHEN v LIKE '% BC' THEN left(v, -3) || ' 13:14:15.5+02 BC' ELSE v || ' 13:14:15.5+02' END)::timestamptz
            ORDER BY t.label LIMIT 5
            """.replacingOccurrences(of: "$1", with: "'\(SQL.textArray(values))'"))
        #expect(differing.isEmpty, "pgsink and the server disagree: \(differing)")
        // Inferred: a new table's columns become date, timestamp and timestamptz, not text.
        try db.load(csv, as: "eras.csv", into: "inferred")
        #expect(try db.columnTypes("inferred") == ["label": "bigint", "d": "date", "ts": "timestamp without time zone", "tz": "timestamp with time zone"])
        #expect(try db.column("SELECT count(*) FROM \(db.table("inferred").quoted) i JOIN \(db.table("eras").quoted) e USING (label) WHERE i.d = e.d AND i.ts = e.ts AND i.tz = e.tz") == [String(values.count)])
    }
}
