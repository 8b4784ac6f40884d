#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads the big-endian fields of one replication message in order, and turns a short or
/// malformed message into a `PgOutputError` that names the message, the byte and the field.
/// Field names are static strings, so reading allocates nothing until something is wrong.
struct WireReader {
    let bytes: UnsafeRawBufferPointer
    let message: StaticString
    var offset: Int

    init(_ bytes: UnsafeRawBufferPointer, message: StaticString, offset: Int = 1) {
        self.bytes = bytes
        self.message = message
        self.offset = offset
    }

    var remaining: Int { bytes.count - offset }

    func error(_ code: PgOutputError.Code, at offset: Int? = nil, _ field: String) -> PgOutputError {
        PgOutputError(
            code: code, message: "\(message)", length: bytes.count, offset: offset ?? self.offset, field: field)
    }

    @inline(__always)
    private func need(_ count: Int, _ field: @autoclosure () -> String) throws {
        if remaining < count { throw error(.truncated(needed: count - remaining), field()) }
    }

    @inline(__always)
    mutating func uint8(_ field: StaticString) throws -> UInt8 {
        try need(1, "\(field)")
        defer { offset += 1 }
        return bytes[offset]
    }

    @inline(__always)
    mutating func uint16(_ field: StaticString) throws -> UInt16 {
        try need(2, "\(field)")
        defer { offset += 2 }
        return UInt16(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    mutating func uint32(_ field: StaticString) throws -> UInt32 {
        try need(4, "\(field)")
        defer { offset += 4 }
        return UInt32(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    @inline(__always)
    mutating func uint64(_ field: StaticString) throws -> UInt64 {
        try need(8, "\(field)")
        defer { offset += 8 }
        return UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    mutating func int64(_ field: StaticString) throws -> Int64 { Int64(bitPattern: try uint64(field)) }

    mutating func lsn(_ field: StaticString) throws -> LSN { LSN(try uint64(field)) }

    mutating func bool(_ field: StaticString) throws -> Bool {
        let start = offset
        switch try uint8(field) {
        case 0: return false
        case 1: return true
        case let byte: throw error(.unexpectedByte(byte), at: start, "\(field) (0 or 1)")
        }
    }

    /// An Int32 length, then that many bytes: their range in the message.
    mutating func counted(_ field: StaticString) throws -> Range<Int> {
        let start = offset
        let length = Int32(bitPattern: try uint32(field))
        guard length >= 0 else { throw error(.negativeLength(length), at: start, "length of the \(field)") }
        try need(Int(length), "\(field)")
        defer { offset += Int(length) }
        return offset..<offset + Int(length)
    }

    /// A NUL-terminated string: its range in the message, without the NUL.
    mutating func cString(_ field: StaticString) throws -> Range<Int> {
        guard remaining > 0,
            let found = memchr(bytes.baseAddress! + offset, 0, remaining)
        else { throw error(.truncated(needed: 1), "NUL that ends the \(field)") }
        let end = UnsafeRawPointer(found) - bytes.baseAddress!
        defer { offset = end + 1 }
        return offset..<end
    }

    func string(_ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// Fails when bytes are left after the message's last field.
    func finish(after field: StaticString) throws {
        if remaining > 0 { throw error(.trailingBytes(remaining), "\(field)") }
    }
}
