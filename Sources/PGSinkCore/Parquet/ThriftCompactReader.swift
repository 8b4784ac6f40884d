/// A problem with a Parquet file's structure or a feature pgsink does not read; the reader adds
/// the file's name.
public struct ParquetError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Reads Apache Thrift's compact protocol, the encoding of Parquet's footer and page headers:
/// only what those structures use (varints, zigzag integers, binary, lists, nested structs),
/// and skipping of any field it does not know.
public struct ThriftCompactReader {
    public enum FieldType: UInt8 {
        case stop = 0, boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6, double = 7, binary = 8,
            list = 9, set = 10, map = 11, structure = 12
    }

    let bytes: UnsafeRawBufferPointer
    public private(set) var position: Int
    /// Field ids of the structs being read, for the delta encoding of field headers.
    private var lastField: [Int16] = []
    private var depth = 0

    public init(_ bytes: UnsafeRawBufferPointer, at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    mutating func byte() throws(ParquetError) -> UInt8 {
        guard position < bytes.count else { throw ParquetError("thrift data ends early (at byte \(position))") }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func varint() throws(ParquetError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            guard shift < 64 else { throw ParquetError("thrift varint longer than 10 bytes (at byte \(position))") }
        }
    }

    public mutating func i64() throws(ParquetError) -> Int64 {
        let v = try varint()
        return Int64(bitPattern: (v >> 1) ^ (0 &- (v & 1)))
    }

    public mutating func i32() throws(ParquetError) -> Int32 {
        let v = try i64()
        guard let narrow = Int32(exactly: v) else { throw ParquetError("thrift i32 out of range (at byte \(position))") }
        return narrow
    }

    /// A size (of a binary, a list or a map) that cannot reach past the data: each byte,
    /// element or entry takes at least one byte, so a larger one is corrupt (and would otherwise
    /// overflow, or loop over entries that read nothing).
    mutating func size(of what: String) throws(ParquetError) -> Int {
        let at = position
        let raw = try varint()
        guard raw <= UInt64(bytes.count - position) else {
            throw ParquetError("thrift \(what) of \(raw) runs past the data (at byte \(at))")
        }
        return Int(raw)
    }

    public mutating func binary() throws(ParquetError) -> [UInt8] {
        let n = try size(of: "binary")
        defer { position += n }
        return Array(bytes[position..<position + n])
    }

    public mutating func string() throws(ParquetError) -> String {
        String(decoding: try binary(), as: UTF8.self)
    }

    /// Starts reading a struct's fields.
    public mutating func beginStruct() throws(ParquetError) {
        depth += 1
        guard depth < 64 else { throw ParquetError("thrift structs nested too deeply") }
        lastField.append(0)
    }

    /// The next field's id and type; nil at the struct's end (which it also leaves).
    public mutating func field() throws(ParquetError) -> (id: Int16, type: FieldType)? {
        let header = try byte()
        guard let type = FieldType(rawValue: header & 0x0F) else {
            throw ParquetError("thrift field of unknown type \(header & 0x0F) (at byte \(position - 1))")
        }
        if type == .stop {
            lastField.removeLast()
            depth -= 1
            return nil
        }
        let delta = Int16(header >> 4)
        let id: Int16
        if delta == 0 {
            let wide = try i64()
            guard let narrow = Int16(exactly: wide) else { throw ParquetError("thrift field id out of range") }
            id = narrow
        } else {
            id = lastField[lastField.count - 1] &+ delta
        }
        lastField[lastField.count - 1] = id
        return (id, type)
    }

    /// A list's element type and size.
    public mutating func listHeader() throws(ParquetError) -> (type: FieldType, count: Int) {
        let header = try byte()
        guard let type = FieldType(rawValue: header & 0x0F) else {
            throw ParquetError("thrift list of unknown element type (at byte \(position - 1))")
        }
        let count = header >> 4 == 15 ? try size(of: "list") : Int(header >> 4)
        guard count <= bytes.count - position else {
            throw ParquetError("thrift list of \(count) elements runs past the data (at byte \(position))")
        }
        return (type, count)
    }

    /// A boolean field's value is in its type.
    public func bool(_ type: FieldType) -> Bool { type == .boolTrue }

    /// Steps over a value of `type`.
    public mutating func skip(_ type: FieldType) throws(ParquetError) {
        // Lists and maps nest as structs do: bounded, so a crafted header cannot exhaust the stack.
        depth += 1
        defer { depth -= 1 }
        guard depth < 64 else { throw ParquetError("thrift values nested too deeply (at byte \(position))") }
        switch type {
        case .stop: break
        case .boolTrue, .boolFalse: break
        case .byte: position += 1
        case .i16, .i32, .i64: _ = try varint()
        case .double: position += 8
        case .binary:
            position += try size(of: "binary")
        case .list, .set:
            let (element, count) = try listHeader()
            for _ in 0..<count {
                if element == .boolTrue || element == .boolFalse { position += 1 } else { try skip(element) }
            }
        case .map:
            let count = try size(of: "map")
            if count > 0 {
                let kinds = try byte()
                guard let key = FieldType(rawValue: kinds >> 4), let value = FieldType(rawValue: kinds & 0x0F) else {
                    throw ParquetError("thrift map of unknown types")
                }
                for _ in 0..<count {
                    try skip(key)
                    try skip(value)
                }
            }
        case .structure:
            try beginStruct()
            while let (_, inner) = try field() { try skip(inner) }
        }
        guard position <= bytes.count else { throw ParquetError("thrift data ends early (at byte \(bytes.count))") }
    }
}
