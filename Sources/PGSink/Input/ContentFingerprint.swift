import Crypto

/// SHA-256 of the (decompressed) bytes of one input, as the ledger stores it: `sha256:<hex>`.
/// CRC-32 and length used to stand here; two different 22-byte files collided within 400k tries.
struct ContentFingerprint {
    private var hasher = SHA256()

    mutating func update(_ bytes: UnsafeRawBufferPointer) { hasher.update(bufferPointer: bytes) }

    /// The fingerprint of everything passed to `update` so far.
    var text: String {
        let hex = hasher.finalize().map { byte in
            let digits = String(byte, radix: 16)
            return byte < 16 ? "0" + digits : digits
        }
        return "sha256:" + hex.joined()
    }
}
