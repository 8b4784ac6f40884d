/// The parts of Parquet's footer (`FileMetaData`) and page headers that pgsink reads, decoded
/// from Thrift's compact protocol. Field numbers are those of parquet-format's `parquet.thrift`.
public enum ParquetPhysicalType: Int32, Sendable {
    case boolean = 0, int32 = 1, int64 = 2, int96 = 3, float = 4, double = 5, byteArray = 6, fixedLenByteArray = 7

    public var name: String {
        switch self {
        case .boolean: "BOOLEAN"
        case .int32: "INT32"
        case .int64: "INT64"
        case .int96: "INT96"
        case .float: "FLOAT"
        case .double: "DOUBLE"
        case .byteArray: "BYTE_ARRAY"
        case .fixedLenByteArray: "FIXED_LEN_BYTE_ARRAY"
        }
    }
}

public enum ParquetCodec: Int32, Sendable {
    case uncompressed = 0, snappy = 1, gzip = 2, lzo = 3, brotli = 4, lz4 = 5, zstd = 6, lz4Raw = 7

    public static func name(_ raw: Int32) -> String {
        ["UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"].indices.contains(Int(raw))
            ? ["UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"][Int(raw)] : "codec \(raw)"
    }
}

public enum ParquetEncoding {
    public static let plain: Int32 = 0
    public static let plainDictionary: Int32 = 2
    public static let rle: Int32 = 3
    public static let bitPacked: Int32 = 4
    public static let deltaBinaryPacked: Int32 = 5
    public static let deltaLengthByteArray: Int32 = 6
    public static let deltaByteArray: Int32 = 7
    public static let rleDictionary: Int32 = 8
    public static let byteStreamSplit: Int32 = 9

    public static func name(_ raw: Int32) -> String {
        switch raw {
        case 0: "PLAIN"
        case 1: "GROUP_VAR_INT"
        case 2: "PLAIN_DICTIONARY"
        case 3: "RLE"
        case 4: "BIT_PACKED"
        case 5: "DELTA_BINARY_PACKED"
        case 6: "DELTA_LENGTH_BYTE_ARRAY"
        case 7: "DELTA_BYTE_ARRAY"
        case 8: "RLE_DICTIONARY"
        case 9: "BYTE_STREAM_SPLIT"
        default: "encoding \(raw)"
        }
    }
}

/// A logical type annotation (the `LogicalType` union, or the legacy `ConvertedType` mapped to it).
public enum ParquetLogicalType: Equatable, Sendable {
    public enum TimeUnit: Sendable { case millis, micros, nanos }
    case string, map, list, enumeration, json, bson, uuid, date, float16, unknown
    case decimal(precision: Int, scale: Int)
    case time(utc: Bool, unit: TimeUnit)
    case timestamp(utc: Bool, unit: TimeUnit)
    case integer(bits: Int, signed: Bool)
    /// A newer annotation pgsink does not know (VARIANT, GEOMETRY, …), by its name.
    case unsupported(String)
}

public struct ParquetSchemaElement: Sendable {
    public var type: ParquetPhysicalType?
    public var typeLength = 0
    /// 0 required, 1 optional, 2 repeated; nil for the root.
    public var repetition: Int32?
    public var name = ""
    public var childCount = 0
    public var convertedType: Int32?
    public var scale = 0
    public var precision = 0
    public var logicalType: ParquetLogicalType?
}

public struct ParquetColumnMeta: Sendable {
    public var type: ParquetPhysicalType = .boolean
    public var encodings: [Int32] = []
    public var path: [String] = []
    public var codec: Int32 = 0
    public var valueCount: Int64 = 0
    public var compressedSize: Int64 = 0
    public var dataPageOffset: Int64 = 0
    public var dictionaryPageOffset: Int64?

    /// Where the chunk's pages start (the dictionary page when there is one).
    public var start: Int64 {
        if let dictionaryPageOffset, dictionaryPageOffset > 0, dictionaryPageOffset < dataPageOffset {
            return dictionaryPageOffset
        }
        return dataPageOffset
    }
}

public struct ParquetRowGroup: Sendable {
    public var columns: [ParquetColumnMeta] = []
    public var rowCount: Int64 = 0
}

public struct ParquetFileMetadata: Sendable {
    public var version: Int32 = 0
    public var schema: [ParquetSchemaElement] = []
    public var rowCount: Int64 = 0
    public var rowGroups: [ParquetRowGroup] = []
    public var createdBy: String?
}

public struct ParquetPageHeader: Sendable {
    public enum Kind: Int32, Sendable { case data = 0, index = 1, dictionary = 2, dataV2 = 3 }
    public var kind: Int32 = -1
    public var uncompressedSize = 0
    public var compressedSize = 0
    public var valueCount = 0
    public var encoding: Int32 = 0
    public var definitionLevelEncoding: Int32 = 3
    public var repetitionLevelEncoding: Int32 = 3
    // Data page v2.
    public var nullCount = 0
    public var rowCount = 0
    public var definitionLevelsLength = 0
    public var repetitionLevelsLength = 0
    public var isCompressed = true
    /// The header's own length in bytes.
    public var headerLength = 0
}

extension ParquetFileMetadata {
    /// Decodes the footer's Thrift bytes.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(ParquetError) -> ParquetFileMetadata {
        var r = ThriftCompactReader(bytes)
        var meta = ParquetFileMetadata()
        try r.beginStruct()
        while let (id, type) = try r.field() {
            switch (id, type) {
            case (1, .i32): meta.version = try r.i32()
            case (2, .list):
                let (_, count) = try r.listHeader()
                for _ in 0..<count { meta.schema.append(try decodeSchemaElement(&r)) }
            case (3, .i64): meta.rowCount = try r.i64()
            case (4, .list):
                let (_, count) = try r.listHeader()
                for _ in 0..<count { meta.rowGroups.append(try decodeRowGroup(&r)) }
            case (6, .binary): meta.createdBy = try r.string()
            case (8, _): throw ParquetError("the file is encrypted (its footer names an encryption algorithm); pgsink does not read encrypted Parquet")
            default: try r.skip(type)
            }
        }
        return meta
    }

    /// A physical type field, refused by number when pgsink does not know it.
    static func physicalType(_ r: inout ThriftCompactReader, of what: String) throws(ParquetError) -> ParquetPhysicalType {
        let raw = try r.i32()
        guard let physical = ParquetPhysicalType(rawValue: raw) else {
            throw ParquetError("\(what) has unknown physical type \(raw)")
        }
        return physical
    }

    static func decodeSchemaElement(_ r: inout ThriftCompactReader) throws(ParquetError) -> ParquetSchemaElement {
        var e = ParquetSchemaElement()
        try r.beginStruct()
        while let (id, type) = try r.field() {
            switch (id, type) {
            case (1, .i32): e.type = try physicalType(&r, of: "a schema element")
            case (2, .i32): e.typeLength = Int(try r.i32())
            case (3, .i32): e.repetition = try r.i32()
            case (4, .binary): e.name = try r.string()
            case (5, .i32): e.childCount = Int(try r.i32())
            case (6, .i32): e.convertedType = try r.i32()
            case (7, .i32): e.scale = Int(try r.i32())
            case (8, .i32): e.precision = Int(try r.i32())
            case (10, .structure): e.logicalType = try decodeLogicalType(&r)
            default: try r.skip(type)
            }
        }
        return e
    }

    static func decodeLogicalType(_ r: inout ThriftCompactReader) throws(ParquetError) -> ParquetLogicalType? {
        var result: ParquetLogicalType?
        try r.beginStruct()
        while let (id, type) = try r.field() {
            guard type == .structure else {
                try r.skip(type)
                continue
            }
            switch id {
            case 1: result = .string
            case 2: result = .map
            case 3: result = .list
            case 4: result = .enumeration
            case 5:
                var scale = 0
                var precision = 0
                try r.beginStruct()
                while let (f, t) = try r.field() {
                    switch (f, t) {
                    case (1, .i32): scale = Int(try r.i32())
                    case (2, .i32): precision = Int(try r.i32())
                    default: try r.skip(t)
                    }
                }
                result = .decimal(precision: precision, scale: scale)
                continue
            case 6: result = .date
            case 7, 8:
                var utc = false
                var unit = ParquetLogicalType.TimeUnit.millis
                try r.beginStruct()
                while let (f, t) = try r.field() {
                    switch (f, t) {
                    case (1, .boolTrue), (1, .boolFalse): utc = r.bool(t)
                    case (2, .structure):
                        try r.beginStruct()
                        while let (u, ut) = try r.field() {
                            switch u {
                            case 1: unit = .millis
                            case 2: unit = .micros
                            case 3: unit = .nanos
                            default: break
                            }
                            try r.skip(ut)
                        }
                    default: try r.skip(t)
                    }
                }
                result = id == 7 ? .time(utc: utc, unit: unit) : .timestamp(utc: utc, unit: unit)
                continue
            case 10:
                var bits = 0
                var signed = true
                try r.beginStruct()
                while let (f, t) = try r.field() {
                    switch (f, t) {
                    case (1, .byte):
                        bits = Int(Int8(bitPattern: try r.byte()))
                    case (2, .boolTrue), (2, .boolFalse): signed = r.bool(t)
                    default: try r.skip(t)
                    }
                }
                result = .integer(bits: bits, signed: signed)
                continue
            case 11: result = .unknown
            case 12: result = .json
            case 13: result = .bson
            case 14: result = .uuid
            case 15: result = .float16
            case 16: result = .unsupported("VARIANT")
            case 17: result = .unsupported("GEOMETRY")
            case 18: result = .unsupported("GEOGRAPHY")
            default: result = .unsupported("logical type \(id)")
            }
            try r.skip(type)
        }
        return result
    }

    static func decodeRowGroup(_ r: inout ThriftCompactReader) throws(ParquetError) -> ParquetRowGroup {
        var group = ParquetRowGroup()
        try r.beginStruct()
        while let (id, type) = try r.field() {
            switch (id, type) {
            case (1, .list):
                let (_, count) = try r.listHeader()
                for _ in 0..<count { group.columns.append(try decodeColumnChunk(&r)) }
            case (3, .i64): group.rowCount = try r.i64()
            default: try r.skip(type)
            }
        }
        return group
    }

    static func decodeColumnChunk(_ r: inout ThriftCompactReader) throws(ParquetError) -> ParquetColumnMeta {
        var meta: ParquetColumnMeta?
        var filePath: String?
        try r.beginStruct()
        while let (id, type) = try r.field() {
            switch (id, type) {
            case (1, .binary): filePath = try r.string()
            case (3, .structure): meta = try decodeColumnMeta(&r)
            case (8, _), (9, _):
                throw ParquetError("a column chunk is encrypted; pgsink does not read encrypted Parquet")
            default: try r.skip(type)
            }
        }
        if let filePath {
            throw ParquetError("a column chunk lives in another file (\(filePath)); pgsink reads only self-contained Parquet files")
        }
        guard let meta else { throw ParquetError("a column chunk has no metadata") }
        return meta
    }

    static func decodeColumnMeta(_ r: inout ThriftCompactReader) throws(ParquetError) -> ParquetColumnMeta {
        var m = ParquetColumnMeta()
        try r.beginStruct()
        while let (id, type) = try r.field() {
            switch (id, type) {
            case (1, .i32): m.type = try physicalType(&r, of: "a column chunk")
            case (2, .list):
                let (_, count) = try r.listHeader()
                for _ in 0..<count { m.encodings.append(try r.i32()) }
            case (3, .list):
                let (_, count) = try r.listHeader()
                for _ in 0..<count { m.path.append(try r.string()) }
            case (4, .i32): m.codec = try r.i32()
            case (5, .i64): m.valueCount = try r.i64()
            case (7, .i64): m.compressedSize = try r.i64()
            case (9, .i64): m.dataPageOffset = try r.i64()
            case (11, .i64): m.dictionaryPageOffset = try r.i64()
            default: try r.skip(type)
            }
        }
        return m
    }
}

extension ParquetPageHeader {
    /// Decodes a page header at `position` of `bytes`.
    public static func decode(_ bytes: UnsafeRawBufferPointer, at position: Int) throws(ParquetError) -> ParquetPageHeader {
        var r = ThriftCompactReader(bytes, at: position)
        var h = ParquetPageHeader()
        try r.beginStruct()
        while let (id, type) = try r.field() {
            switch (id, type) {
            case (1, .i32): h.kind = try r.i32()
            case (2, .i32): h.uncompressedSize = Int(try r.i32())
            case (3, .i32): h.compressedSize = Int(try r.i32())
            case (5, .structure):
                try r.beginStruct()
                while let (f, t) = try r.field() {
                    switch (f, t) {
                    case (1, .i32): h.valueCount = Int(try r.i32())
                    case (2, .i32): h.encoding = try r.i32()
                    case (3, .i32): h.definitionLevelEncoding = try r.i32()
                    case (4, .i32): h.repetitionLevelEncoding = try r.i32()
                    default: try r.skip(t)
                    }
                }
            case (7, .structure):
                try r.beginStruct()
                while let (f, t) = try r.field() {
                    switch (f, t) {
                    case (1, .i32): h.valueCount = Int(try r.i32())
                    case (2, .i32): h.encoding = try r.i32()
                    default: try r.skip(t)
                    }
                }
            case (8, .structure):
                try r.beginStruct()
                while let (f, t) = try r.field() {
                    switch (f, t) {
                    case (1, .i32): h.valueCount = Int(try r.i32())
                    case (2, .i32): h.nullCount = Int(try r.i32())
                    case (3, .i32): h.rowCount = Int(try r.i32())
                    case (4, .i32): h.encoding = try r.i32()
                    case (5, .i32): h.definitionLevelsLength = Int(try r.i32())
                    case (6, .i32): h.repetitionLevelsLength = Int(try r.i32())
                    case (7, .boolTrue), (7, .boolFalse): h.isCompressed = r.bool(t)
                    default: try r.skip(t)
                    }
                }
            default: try r.skip(type)
            }
        }
        guard h.kind >= 0, h.compressedSize >= 0, h.uncompressedSize >= 0, h.valueCount >= 0 else {
            throw ParquetError("a page header has no page type or a negative size")
        }
        h.headerLength = r.position - position
        return h
    }
}
