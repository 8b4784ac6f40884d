/// The `local` embedding provider: no network, no model. Each chunk's character trigrams
/// (lower-cased, with a space added at both ends) are hashed into `dimensions` buckets with a
/// hashed sign, and the vector is scaled to length 1. Texts that share many character sequences
/// get a high cosine similarity: it measures lexical overlap (spelling), not meaning, and is meant
/// for offline use, tests and demos.
public struct LocalEmbedding: Sendable {
    public let dimensions: Int

    public init(dimensions: Int) {
        self.dimensions = max(1, dimensions)
    }

    public func embed(_ text: String) -> [Float] {
        var vector = [Float](repeating: 0, count: dimensions)
        var scalars: [UInt32] = [32]
        for scalar in text.lowercased().unicodeScalars {
            // Runs of whitespace count as one space.
            if scalar.properties.isWhitespace {
                if scalars.last != 32 { scalars.append(32) }
            } else {
                scalars.append(scalar.value)
            }
        }
        if scalars.last != 32 { scalars.append(32) }
        guard scalars.count >= 3 else { return vector }
        let buckets = UInt64(dimensions)
        for start in 0...(scalars.count - 3) {
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            for offset in 0..<3 {
                var value = scalars[start + offset]
                for _ in 0..<4 {
                    hash = (hash ^ UInt64(value & 0xff)) &* 0x0000_0100_0000_01b3
                    value >>= 8
                }
            }
            // A final mix, so that nearby trigrams land far apart.
            hash ^= hash >> 33
            hash = hash &* 0xff51_afd7_ed55_8ccd
            hash ^= hash >> 33
            let bucket = Int(hash % buckets)
            vector[bucket] += (hash >> 63) == 0 ? 1 : -1
        }
        var norm: Float = 0
        for value in vector { norm += value * value }
        guard norm > 0 else { return vector }
        let scale = 1 / norm.squareRoot()
        for index in vector.indices { vector[index] *= scale }
        return vector
    }
}
