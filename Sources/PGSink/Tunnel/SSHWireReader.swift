/// Reads the SSH wire encoding (RFC 4251 §5) that OpenSSH key files use inside.
///
/// Every read checks bounds, so a truncated or hostile file gives an error, not a crash.
struct SSHWireReader {
    struct Truncated: Error {}

    private let bytes: [UInt8]
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    mutating func readBytes(_ count: Int) throws -> [UInt8] {
        guard count >= 0, count <= remaining else { throw Truncated() }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    mutating func readUInt32() throws -> UInt32 {
        try readBytes(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// A length-prefixed byte string.
    mutating func readString() throws -> [UInt8] {
        try readBytes(Int(try readUInt32()))
    }

    mutating func readText() throws -> String {
        String(decoding: try readString(), as: UTF8.self)
    }

    /// The remaining bytes.
    mutating func readRest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }
}
