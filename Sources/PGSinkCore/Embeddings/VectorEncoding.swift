/// pgvector's `vector` values as a COPY carries them.
public enum VectorEncoding {
    /// The binary form (`vector_send`): the dimension count and an unused word as 16-bit integers,
    /// then each element as a big-endian IEEE float4.
    public static func appendBinary(_ vector: [Float], to out: ByteStorage) {
        let count = UInt16(truncatingIfNeeded: vector.count)
        out.append(UInt8(count >> 8))
        out.append(UInt8(count & 0xff))
        out.append(0)
        out.append(0)
        for value in vector {
            let bits = value.bitPattern
            out.append(UInt8(bits >> 24))
            out.append(UInt8((bits >> 16) & 0xff))
            out.append(UInt8((bits >> 8) & 0xff))
            out.append(UInt8(bits & 0xff))
        }
    }

    /// The text form: `[0.1,-0.25,…]`.
    public static func text(_ vector: [Float]) -> String {
        "[" + vector.map { "\($0)" }.joined(separator: ",") + "]"
    }

    /// Bytes of the binary form of a vector of `dimensions` elements.
    public static func binaryLength(dimensions: Int) -> Int { 4 + 4 * dimensions }
}
