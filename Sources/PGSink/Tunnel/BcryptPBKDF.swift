import Crypto

/// OpenBSD's bcrypt_pbkdf, the key derivation OpenSSH uses for passphrase-protected keys.
///
/// Unlike PBKDF2 it spreads each hash block's bytes across the output with a stride, so the
/// byte placement below must match OpenSSH exactly or every passphrase looks wrong.
enum BcryptPBKDF {
    private static let hashSize = 32
    private static let magic = Array("OxychromaticBlowfishSwatDynamite".utf8)

    static func derive(passphrase: [UInt8], salt: [UInt8], rounds: Int, count: Int) -> [UInt8] {
        precondition(rounds >= 1 && count > 0)
        let stride = (count + hashSize - 1) / hashSize
        var amount = (count + stride - 1) / stride
        let hashedPassphrase = Array(SHA512.hash(data: passphrase))
        var key = [UInt8](repeating: 0, count: count)
        var left = count
        var block: UInt32 = 1
        while left > 0 {
            let blockSalt = salt + withUnsafeBytes(of: block.bigEndian, Array.init)
            var hash = bcryptHash(hashedPassphrase, Array(SHA512.hash(data: blockSalt)))
            var out = hash
            for _ in 1..<rounds {
                hash = bcryptHash(hashedPassphrase, Array(SHA512.hash(data: hash)))
                for i in out.indices { out[i] ^= hash[i] }
            }
            amount = min(amount, left)
            var written = 0
            while written < amount {
                let dest = written * stride + Int(block - 1)
                if dest >= count { break }
                key[dest] = out[written]
                written += 1
            }
            left -= written
            block += 1
        }
        return key
    }

    private static func bcryptHash(_ passphrase: [UInt8], _ salt: [UInt8]) -> [UInt8] {
        var blowfish = Blowfish()
        blowfish.expand(key: passphrase, data: salt)
        for _ in 0..<64 {
            blowfish.expand(key: salt)
            blowfish.expand(key: passphrase)
        }
        var words = magic.withUnsafeBufferPointer { bytes in
            var j = 0
            return (0..<hashSize / 4).map { _ in Blowfish.word(bytes, &j) }
        }
        for _ in 0..<64 { blowfish.encrypt(&words) }
        // bcrypt_pbkdf emits each word little-endian, unlike the big-endian input.
        return words.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) }
    }
}
