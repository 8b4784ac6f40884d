import Crypto
import _CryptoExtras

/// The ciphers `ssh-keygen` encrypts private keys with (aes256-ctr unless told otherwise).
struct OpenSSHKeyCipher {
    private let keySize: Int
    private static let ivSize = 16

    init(name: String) throws {
        switch name {
        case "aes256-ctr": keySize = 32
        case "aes192-ctr": keySize = 24
        case "aes128-ctr": keySize = 16
        default:
            throw SSHTunnelError.unsupportedKey(
                "encrypted with cipher \(SSHTunnelError.printableName(name)); "
                    + "re-encrypt it with `ssh-keygen -p -Z aes256-ctr -f KEYFILE`")
        }
    }

    func decrypt(_ sealed: [UInt8], passphrase: String, salt: [UInt8], rounds: Int) throws -> [UInt8] {
        guard rounds >= 1, rounds <= 1 << 16, sealed.count % 16 == 0 else {
            throw SSHTunnelError.malformedKey("bad encryption parameters")
        }
        let material = BcryptPBKDF.derive(
            passphrase: Array(passphrase.utf8), salt: salt, rounds: rounds, count: keySize + Self.ivSize)
        let key = SymmetricKey(data: material.prefix(keySize))
        let nonce = try AES._CTR.Nonce(nonceBytes: material.suffix(Self.ivSize))
        return Array(try AES._CTR.decrypt(sealed, using: key, nonce: nonce))
    }
}
