import Foundation
import PGSink
import PGSinkCore
import PGSinkTestSupport
import Testing

/// Generated values of every type, through the binary encoders and the server, compared with
/// what independent code (Swift's own formatting, Foundation's calendar) says they are.
@Suite("Generated round trips")
struct GeneratedRoundTripTests {
    static let rows = 2000

    @Test(arguments: [1 as UInt64, 2, 3])
    func everyTypeSurvivesTheServer(seed: UInt64) throws {
        let db = try TestDatabase()
        var g = SplitMix64(seed: seed)
        let calendar: Calendar = {
            var c = Calendar(identifier: .gregorian)
            c.timeZone = TimeZone(identifier: "UTC")!
            return c
        }()
        let iso = ISO8601DateFormatter()
        iso.timeZone = TimeZone(identifier: "UTC")
        let alphabet = Array("ab,\"\\\t\n\r 'é日😀;|{}[]0")
        var csv = "id,i,n,d,ts,u,t,b\n"
        var expected: [[String?]] = []
        for id in 0..<Self.rows {
            let i = Int64(bitPattern: g.next()) >> g.below(63)
            let digits = String(g.next() % 1_000_000_000_000)
            let scale = g.below(8)
            let n = (g.below(2) == 0 ? "-" : "") + digits + (scale > 0 ? "." + String(repeating: "7", count: scale) : "")
            // Seconds from 1901 to 2099 (a range Foundation formats the same way PostgreSQL does).
            let epoch = -2_177_452_800 + Double(g.below(6_300_000_000))
            let date = Date(timeIntervalSince1970: epoch)
            let parts = calendar.dateComponents([.year, .month, .day], from: date)
            let day = String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
            let micros = g.below(1_000_000)
            let timestamp = iso.string(from: date).dropLast() + String(format: ".%06dZ", micros)
            let uuid = UUID(uuid: (
                UInt8(g.below(256)), UInt8(g.below(256)), UInt8(g.below(256)), UInt8(g.below(256)),
                UInt8(g.below(256)), UInt8(g.below(256)), UInt8(g.below(256)), UInt8(g.below(256)),
                UInt8(g.below(256)), UInt8(g.below(256)), UInt8(g.below(256)), UInt8(g.below(256)),
                UInt8(g.below(256)), UInt8(g.below(256)), UInt8(g.below(256)), UInt8(g.below(256))))
            let text = String((0..<g.below(12)).map { _ in alphabet[g.below(alphabet.count)] })
            let flag = g.below(2) == 0
            let quoted = "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            csv += "\(id),\(i),\(n),\(day),\(timestamp),\(uuid.uuidString),\(quoted),\(flag)\n"
            let normalizedN = n == "-0" || n.allSatisfy({ $0 == "-" || $0 == "0" || $0 == "." }) ? String(n.drop { $0 == "-" }) : n
            expected.append([
                String(id), String(i), normalizedN, day, String(Int64(epoch) * 1_000_000 + Int64(micros)),
                uuid.uuidString.lowercased(), text, flag ? "true" : "false",
            ])
        }
        try db.load(csv, as: "generated.csv", into: "generated") { $0.batchRows = 300 }
        #expect(try db.columnTypes("generated") == [
            "id": "bigint", "i": "bigint", "n": "numeric", "d": "date", "ts": "timestamp with time zone",
            "u": "uuid", "t": "text", "b": "boolean",
        ])
        let actual = try db.rows(
            """
            SELECT g.id::text, i::text, n::text, d::text, (extract(epoch FROM ts) * 1000000)::bigint::text,
                   u::text, t, b::text
            FROM \(db.table("generated").quoted) g ORDER BY g.id
            """)
        #expect(actual.count == Self.rows)
        for (row, want) in zip(actual, expected) where row != want {
            Issue.record("row \(want[0] ?? "?"): got \(row), expected \(want)")
            break
        }
    }
}
