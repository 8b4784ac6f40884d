import Foundation
import Testing

@testable import PGSinkCore

/// Splitting a binary COPY payload by Citus shard (the values' hashes are checked against the
/// server's own in the integration tests, `CitusTests`).
@Suite("Shard split")
struct ShardSplitTests {
    static let quarters = [
        ShardSplit.Shard(id: 3, min: 0, max: 1_073_741_823), ShardSplit.Shard(id: 1, min: .min, max: -1_073_741_825),
        ShardSplit.Shard(id: 2, min: -1_073_741_824, max: -1), ShardSplit.Shard(id: 4, min: 1_073_741_824, max: .max),
    ]

    @Test func rangesMustCoverEveryHashOnce() {
        #expect(ShardSplit(shards: Self.quarters)?.shards.map(\.id) == [1, 2, 3, 4])
        #expect(ShardSplit(shards: Array(Self.quarters.dropLast())) == nil)
        var gap = Self.quarters
        gap[0].min = 1
        #expect(ShardSplit(shards: gap) == nil)
        var overlap = Self.quarters
        overlap[0].min = -5
        #expect(ShardSplit(shards: overlap) == nil)
        #expect(ShardSplit(shards: []) == nil)
    }

    @Test func eachHashFindsItsShard() throws {
        let split = try #require(ShardSplit(shards: Self.quarters))
        #expect(split.shard(of: .min) == 0)
        #expect(split.shard(of: -1_073_741_825) == 0)
        #expect(split.shard(of: -1_073_741_824) == 1)
        #expect(split.shard(of: -1) == 1)
        #expect(split.shard(of: 0) == 2)
        #expect(split.shard(of: .max) == 3)
    }

    /// A payload of (id bigint, name text) rows: each piece is a whole COPY stream holding the
    /// rows whose id hashes into its shard, in order; NULL keys send the batch to the coordinator.
    @Test func aPayloadSplitsIntoWholeCopyStreams() throws {
        let split = try #require(ShardSplit(shards: Self.quarters))
        let ids: [Int64] = Array(1...200)
        var encoder = BatchEncoder()
        defer { encoder.release() }
        let (batch, _) = try makeBatch("id,name\n" + ids.map { "\($0),name \($0)\n" }.joined())
        let columns = [CopyColumn(name: "id", type: .bigint, source: 0), CopyColumn(name: "name", type: .text, source: 1)]
        guard case .encoded(let encoded) = try encoder.encode(batch, columns: columns, format: .binary) else {
            Issue.record("the batch did not encode")
            return
        }
        let pieces = try #require(split.split(encoded, field: 0, type: .bigint))
        var seen: [Int64] = []
        for (index, piece) in pieces {
            let bytes = Array(UnsafeBufferPointer(start: piece.base, count: piece.count))
            #expect(Array(bytes.prefix(11)) == Array(BatchEncoder.binarySignature))
            #expect(Array(bytes.suffix(2)) == [0xff, 0xff])
            // Walk the rows: field count, then (length, value) of id and name.
            var at = 19
            while at < bytes.count - 2 {
                #expect(bytes[at] == 0 && bytes[at + 1] == 2)
                let id = bytes[(at + 6)..<(at + 14)].reduce(Int64(0)) { $0 << 8 | Int64($1) }
                let value = withUnsafeBytes(of: id.bigEndian) { Array($0) }
                let hash = try #require(value.withUnsafeBufferPointer { CitusHash.hash($0.baseAddress!, 8, as: .bigint) })
                #expect(split.shard(of: hash) == index)
                seen.append(id)
                let nameLength = bytes[(at + 14)..<(at + 18)].reduce(0) { $0 << 8 | Int($1) }
                at += 18 + nameLength
            }
        }
        #expect(seen.sorted() == ids)
        #expect(pieces.count == 4)
    }
}
