/// A replication message that cannot be read: which message, how long it is, at which byte the
/// problem is, and what was expected there. Such bytes mean a server speaking another protocol
/// version than the one asked for, or a corrupted stream: nothing after them can be trusted.
public struct PgOutputError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: Sendable, Equatable {
        /// The message ends `needed` bytes too early.
        case truncated(needed: Int)
        /// A byte that is not one of the values the field allows.
        case unexpectedByte(UInt8)
        /// A length that is negative.
        case negativeLength(Int32)
        /// Bytes left after the last field of the message.
        case trailingBytes(Int)
    }

    public var code: Code
    /// The protocol and the message, e.g. `pgoutput Update ('U')`, `replication XLogData ('w')`,
    /// `pgoutput unknown` when the type byte is not one of the protocol's.
    public var message: String
    /// The message's length in bytes.
    public var length: Int
    /// The byte offset into the message where the problem is (0 is the type byte).
    public var offset: Int
    /// What was being read there, e.g. `relation id`, `kind of value 3 of the new tuple`.
    public var field: String

    public init(code: Code, message: String, length: Int, offset: Int, field: String) {
        self.code = code
        self.message = message
        self.length = length
        self.offset = offset
        self.field = field
    }

    public var description: String {
        let problem: String
        switch code {
        case .truncated(let needed):
            problem = "the message ends \(needed) byte\(needed == 1 ? "" : "s") short of the \(field)"
        case .unexpectedByte(let byte):
            problem = "\(Self.show(byte)) is not a valid \(field)"
        case .negativeLength(let value):
            problem = "the \(field) is negative (\(value))"
        case .trailingBytes(let count):
            problem = "\(count) unexpected byte\(count == 1 ? "" : "s") after the \(field)"
        }
        return "\(message) message of \(length) bytes, at byte \(offset): \(problem)"
    }

    /// `0x41 ('A')` for printable ASCII, `0x00` otherwise.
    static func show(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        let code = "0x" + (hex.count == 1 ? "0" + hex : hex)
        return (0x21...0x7E).contains(byte) ? "\(code) ('\(Character(Unicode.Scalar(byte)))')" : code
    }
}
