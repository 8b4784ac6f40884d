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
        let scalars = Self.normalizedScalars(text)
        guard scalars.count >= 3 else { return vector }
        let buckets = UInt64(dimensions)
        scalars.withUnsafeBufferPointer { scalars in
            vector.withUnsafeMutableBufferPointer { vector in
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
            }
        }
        var norm: Float = 0
        for value in vector { norm += value * value }
        guard norm > 0 else { return vector }
        let scale = 1 / norm.squareRoot()
        for index in vector.indices { vector[index] *= scale }
        return vector
    }

    /// The text's Unicode scalars, lower-cased, whitespace runs as one space, with a space at both
    /// ends. ASCII text (the common case) is read byte by byte; other text scalar by scalar.
    static func normalizedScalars(_ text: String) -> [UInt32] {
        var text = text
        let ascii: [UInt32]? = text.withUTF8 { bytes in
            var scalars: [UInt32] = []
            scalars.reserveCapacity(bytes.count + 2)
            scalars.append(32)
            for byte in bytes {
                if byte >= 0x80 { return nil }
                // U+0009 to U+000D and the space are ASCII's whitespace.
                if byte == 32 || (byte >= 9 && byte <= 13) {
                    if scalars.last != 32 { scalars.append(32) }
                } else {
                    scalars.append(UInt32(byte >= 65 && byte <= 90 ? byte + 32 : byte))
                }
            }
            return scalars
        }
        var scalars: [UInt32]
        if let ascii {
            scalars = ascii
        } else {
            scalars = [32]
            for scalar in text.lowercased().unicodeScalars {
                if scalar.properties.isWhitespace {
                    if scalars.last != 32 { scalars.append(32) }
                } else {
                    scalars.append(scalar.value)
                }
            }
        }
        if scalars.last != 32 { scalars.append(32) }
        return scalars
    }
}
