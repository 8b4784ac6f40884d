/// The text a row gives its embeddings, and the hash stored with its chunks.
public enum EmbeddedText {
    /// The non-empty values of the embedded columns, in the configured order, one per line
    /// (CloudQuery joins them with `"\n"` too).
    public static func text(_ values: [String?]) -> String {
        values.compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "\n")
    }

    /// 128 bits of the text and the settings that shape its chunks and vectors, as 32 hex digits:
    /// the same text embedded the same way gives the same hash, so an unchanged row is not sent
    /// to the provider again.
    public static func hash(_ text: String, settings: String) -> String {
        var hash = StableHash(key0: 0x7067_7369_6e6b_656d, key1: 0x6265_6464_696e_6773)
        var bytes = settings + "\u{0}" + text
        bytes.withUTF8 { buffer in
            if let base = buffer.baseAddress { hash.combine(base, buffer.count) }
        }
        let id = hash.finalize()
        var second = StableHash(key0: 0x6578_7432_6861_7368, key1: id)
        bytes.withUTF8 { buffer in
            if let base = buffer.baseAddress { second.combine(base, buffer.count) }
        }
        let hex = String(id, radix: 16) + ":" + String(second.finalize(), radix: 16)
        return hex.split(separator: ":").map { String(repeating: "0", count: 16 - $0.count) + $0 }.joined()
    }
}
