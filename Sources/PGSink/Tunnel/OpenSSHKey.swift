import Crypto
import NIOSSH

/// The "openssh-key-v1" private key format `ssh-keygen` writes by default (OpenSSH PROTOCOL.key).
enum OpenSSHKey {
    private static let magic = Array("openssh-key-v1\0".utf8)

    /// `body` is the base64-decoded content of the PEM block.
    static func parse(_ body: [UInt8], passphrase: String?) throws -> NIOSSHPrivateKey {
        guard body.starts(with: magic) else { throw SSHTunnelError.malformedKey("not an openssh-key-v1 key") }
        var reader = SSHWireReader(body, offset: magic.count)
        do {
            let cipher = try reader.readText()
            let kdf = try reader.readText()
            let kdfOptions = try reader.readString()
            guard try reader.readUInt32() == 1 else {
                throw SSHTunnelError.malformedKey("the file holds more than one key")
            }
            _ = try reader.readString()  // the public key, repeated inside the private section
            let sealed = try reader.readString()
            let plain = try decrypt(sealed, cipher: cipher, kdf: kdf, kdfOptions: kdfOptions, passphrase: passphrase)
            return try privateSection(plain)
        } catch is SSHWireReader.Truncated {
            throw SSHTunnelError.malformedKey("the OpenSSH key is truncated")
        }
    }

    private static func decrypt(
        _ sealed: [UInt8], cipher: String, kdf: String, kdfOptions: [UInt8], passphrase: String?
    ) throws -> [UInt8] {
        if cipher == "none" { return sealed }
        guard let passphrase, !passphrase.isEmpty else {
            throw SSHTunnelError(
                .passphraseRequired,
                "the private key is encrypted; give its passphrase (or remove it with `ssh-keygen -p`)")
        }
        guard kdf == "bcrypt" else {
            throw SSHTunnelError.unsupportedKey("encrypted with key derivation \(SSHTunnelError.printableName(kdf))")
        }
        var options = SSHWireReader(kdfOptions)
        let salt = try options.readString()
        let rounds = Int(try options.readUInt32())
        return try OpenSSHKeyCipher(name: cipher).decrypt(sealed, passphrase: passphrase, salt: salt, rounds: rounds)
    }

    /// checkint, checkint, then type-specific fields; equal checkints prove the passphrase was right.
    private static func privateSection(_ plain: [UInt8]) throws -> NIOSSHPrivateKey {
        var reader = SSHWireReader(plain)
        guard try reader.readUInt32() == reader.readUInt32() else {
            throw SSHTunnelError(.wrongPassphrase, "the passphrase for the private key is wrong")
        }
        let type = try reader.readText()
        switch type {
        case "ssh-ed25519":
            _ = try reader.readString()  // public key
            let secret = try reader.readString()  // seed (32 bytes) followed by the public key
            guard secret.count == 64 else { throw SSHTunnelError.malformedKey("bad ed25519 key length") }
            return NIOSSHPrivateKey(ed25519Key: try Curve25519.Signing.PrivateKey(rawRepresentation: secret.prefix(32)))
        case "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521":
            _ = try reader.readString()  // curve name
            _ = try reader.readString()  // public point
            return try ecdsa(type: type, scalar: try reader.readString())
        case "ssh-rsa":
            throw SSHTunnelError.rsaKey()
        default:
            throw SSHTunnelError.unsupportedKey("of type \(SSHTunnelError.printableName(type))")
        }
    }

    /// The scalar is an SSH mpint: big-endian, maybe with a leading zero byte, maybe shorter than the curve size.
    private static func ecdsa(type: String, scalar: [UInt8]) throws -> NIOSSHPrivateKey {
        let size = type.hasSuffix("256") ? 32 : type.hasSuffix("384") ? 48 : 66
        let digits = scalar.drop { $0 == 0 }
        guard digits.count <= size else { throw SSHTunnelError.malformedKey("bad ecdsa key length") }
        let raw = [UInt8](repeating: 0, count: size - digits.count) + digits
        do {
            switch size {
            case 32: return NIOSSHPrivateKey(p256Key: try P256.Signing.PrivateKey(rawRepresentation: raw))
            case 48: return NIOSSHPrivateKey(p384Key: try P384.Signing.PrivateKey(rawRepresentation: raw))
            default: return NIOSSHPrivateKey(p521Key: try P521.Signing.PrivateKey(rawRepresentation: raw))
            }
        } catch {
            throw SSHTunnelError.malformedKey("the ecdsa private scalar is invalid")
        }
    }
}
