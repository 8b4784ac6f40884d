/// Decompresses one page: the codec's number, the compressed bytes and the size they expand to.
public typealias ParquetInflate = (_ codec: Int32, _ input: UnsafeRawBufferPointer, _ size: Int) throws -> [UInt8]

/// The decoded values of one column chunk. Only the storage of the column's physical type is
/// used: booleans, integers (INT32 sign-extended), floats, doubles, or byte strings (BYTE_ARRAY,
/// FIXED_LEN_BYTE_ARRAY and INT96) as one byte buffer with offsets.
public struct ParquetValues: Sendable {
    public var booleans: [Bool] = []
    public var ints: [Int64] = []
    public var floats: [Float] = []
    public var doubles: [Double] = []
    public var bytes: [UInt8] = []
    public var offsets: [Int] = [0]

    public init() {}

    @inline(__always)
    mutating func appendBytes(_ p: UnsafeRawBufferPointer, _ start: Int, _ n: Int) {
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[start..<start + n]))
        offsets.append(bytes.count)
    }

    /// Byte string `i`'s range in `bytes`.
    @inline(__always)
    public func range(_ i: Int) -> Range<Int> { offsets[i]..<offsets[i + 1] }

    /// Appends the entries of `dictionary` that `indices` name (a dictionary-encoded page): the
    /// indices checked first, then each type's entries copied in one loop, byte strings from the
    /// dictionary's buffer with no slice per value.
    mutating func append(_ dictionary: ParquetValues, indices: [UInt64], _ type: ParquetPhysicalType) throws(ParquetError) {
        try dictionary.check(indices, type)
        switch type {
        case .boolean: booleans += indices.lazy.map { dictionary.booleans[Int($0)] }
        case .int32, .int64: ints += indices.lazy.map { dictionary.ints[Int($0)] }
        case .float: floats += indices.lazy.map { dictionary.floats[Int($0)] }
        case .double: doubles += indices.lazy.map { dictionary.doubles[Int($0)] }
        case .byteArray, .fixedLenByteArray, .int96:
            offsets.reserveCapacity(offsets.count + indices.count)
            dictionary.bytes.withUnsafeBufferPointer { source in
                dictionary.offsets.withUnsafeBufferPointer { starts in
                    for index in indices {
                        let k = Int(index)
                        bytes.append(contentsOf: UnsafeBufferPointer(rebasing: source[starts[k]..<starts[k + 1]]))
                        offsets.append(bytes.count)
                    }
                }
            }
        }
    }
}

extension ParquetValues {
    /// The values held, of `type`'s storage.
    func count(_ type: ParquetPhysicalType) -> Int {
        switch type {
        case .boolean: booleans.count
        case .int32, .int64: ints.count
        case .float: floats.count
        case .double: doubles.count
        case .byteArray, .fixedLenByteArray, .int96: offsets.count - 1
        }
    }

    /// Throws unless every index names one of these values (a dictionary's).
    func check(_ indices: [UInt64], _ type: ParquetPhysicalType) throws(ParquetError) {
        let entries = UInt64(count(type))
        if let bad = indices.first(where: { $0 >= entries }) { throw ParquetError.badIndex(Int(clamping: bad)) }
    }
}

extension ParquetError {
    static func badIndex(_ i: Int) -> ParquetError { ParquetError("a dictionary index (\(i)) is beyond the dictionary") }
}

/// One column chunk, decoded: levels (empty when the column's maximum is 0) and non-null values.
public struct ParquetColumnData: Sendable {
    public var definitionLevels: [UInt8] = []
    public var repetitionLevels: [UInt8] = []
    public var values = ParquetValues()
    /// A dictionary-encoded page read by a `ParquetPageStream`: its values as indices into the
    /// stream's dictionary, `values` left empty (nil: the values are in `values`).
    public var dictionaryIndices: [UInt32]?
    /// Level entries (values and nulls) in the chunk.
    public var count = 0

    public init() {}
}

/// Decodes the pages of one column chunk: dictionary and data pages (v1 and v2), every encoding
/// of the format except the deprecated BIT_PACKED levels.
public struct ParquetChunkDecoder {
    public let leaf: ParquetLeaf
    public let codec: Int32
    let inflate: ParquetInflate
    var dictionary: ParquetValues?
    /// Dictionary pages read so far: tells a reader of `dictionaryIndices` when the dictionary changed.
    var dictionaryVersion = 0
    /// Whether a dictionary-encoded page is left as indices (`dictionaryIndices`): set by a
    /// stream, which hands out one page at a time, so no page mixes indices and values.
    var keepsDictionaryIndices = false
    var data = ParquetColumnData()

    public init(leaf: ParquetLeaf, codec: Int32, inflate: @escaping ParquetInflate) {
        self.leaf = leaf
        self.codec = codec
        self.inflate = inflate
    }

    var type: ParquetPhysicalType { leaf.physical }

    /// The chunk's bytes (from its first page), holding `valueCount` level entries.
    public static func decode(
        _ chunk: UnsafeRawBufferPointer, leaf: ParquetLeaf, meta: ParquetColumnMeta, inflate: @escaping ParquetInflate
    ) throws -> ParquetColumnData {
        var decoder = ParquetChunkDecoder(leaf: leaf, codec: meta.codec, inflate: inflate)
        var pos = 0
        while decoder.data.count < meta.valueCount {
            guard pos < chunk.count else {
                throw ParquetError(
                    "column \(leaf.name): the chunk ends after \(decoder.data.count) of its \(meta.valueCount) values")
            }
            let (header, start) = try pageHeader(chunk, at: pos, leaf: leaf, meta: meta, delivered: decoder.data.count)
            pos = start
            let page = UnsafeRawBufferPointer(rebasing: chunk[pos..<pos + header.compressedSize])
            pos += header.compressedSize
            try decoder.page(header, page)
        }
        return decoder.data
    }

    mutating func page(_ header: ParquetPageHeader, _ page: UnsafeRawBufferPointer) throws {
        switch header.kind {
        case ParquetPageHeader.Kind.dictionary.rawValue:
            guard header.encoding == ParquetEncoding.plain || header.encoding == ParquetEncoding.plainDictionary else {
                throw ParquetError("column \(leaf.name): a dictionary page in \(ParquetEncoding.name(header.encoding))")
            }
            let bytes = try expand(page, header.uncompressedSize)
            var values = ParquetValues()
            try bytes.withUnsafeBytes { p in
                _ = try plain(p, 0, count: header.valueCount, into: &values)
            }
            dictionary = values
            dictionaryVersion += 1
        case ParquetPageHeader.Kind.data.rawValue:
            let bytes = try expand(page, header.uncompressedSize)
            try bytes.withUnsafeBytes { p in try dataPageV1(header, p) }
        case ParquetPageHeader.Kind.dataV2.rawValue:
            try dataPageV2(header, page)
        case ParquetPageHeader.Kind.index.rawValue:
            break
        default:
            throw ParquetError("column \(leaf.name): unknown page type \(header.kind)")
        }
    }

    private func expand(_ page: UnsafeRawBufferPointer, _ size: Int) throws -> [UInt8] {
        if codec == ParquetCodec.uncompressed.rawValue { return Array(page) }
        let out = try inflate(codec, page, size)
        guard out.count == size else {
            throw ParquetError("column \(leaf.name): a page expanded to \(out.count) bytes, its header says \(size)")
        }
        return out
    }

    private mutating func dataPageV1(_ header: ParquetPageHeader, _ p: UnsafeRawBufferPointer) throws {
        var pos = 0
        let n = header.valueCount
        if leaf.maxRepetition > 0 {
            try levels(p, &pos, encoding: header.repetitionLevelEncoding, max: leaf.maxRepetition, count: n,
                into: &data.repetitionLevels)
        }
        var present = n
        if leaf.maxDefinition > 0 {
            let before = data.definitionLevels.count
            try levels(p, &pos, encoding: header.definitionLevelEncoding, max: leaf.maxDefinition, count: n,
                into: &data.definitionLevels)
            let top = UInt8(leaf.maxDefinition)
            present = data.definitionLevels[before...].reduce(0) { $0 + ($1 == top ? 1 : 0) }
        }
        try values(p, pos, encoding: header.encoding, count: present, v2: false)
        data.count += n
    }

    private func levels(
        _ p: UnsafeRawBufferPointer, _ pos: inout Int, encoding: Int32, max: Int, count: Int, into out: inout [UInt8]
    ) throws(ParquetError) {
        guard encoding == ParquetEncoding.rle else {
            throw ParquetError("column \(leaf.name): levels in \(ParquetEncoding.name(encoding)) are not supported")
        }
        guard pos + 4 <= p.count else { throw ParquetError("column \(leaf.name): a data page ends in its levels") }
        let length = Int(p.loadUnaligned(fromByteOffset: pos, as: UInt32.self).littleEndian)
        pos += 4
        guard length <= p.count - pos else { throw ParquetError("column \(leaf.name): levels run past the page") }
        try appendLevels(p, start: pos, end: pos + length, max: max, count: count, into: &out)
        pos += length
    }

    private func appendLevels(
        _ p: UnsafeRawBufferPointer, start: Int, end: Int, max: Int, count: Int, into out: inout [UInt8]
    ) throws(ParquetError) {
        let width = Self.bitWidth(max)
        let decoded = try ParquetEncodings.rleHybrid(p, start: start, end: end, bitWidth: width, count: count)
        for level in decoded {
            guard level <= UInt64(max) else { throw ParquetError("column \(leaf.name): a level of \(level) above its maximum \(max)") }
            out.append(UInt8(level))
        }
    }

    static func bitWidth(_ max: Int) -> Int { max == 0 ? 0 : Int.bitWidth - max.leadingZeroBitCount }

    private mutating func dataPageV2(_ header: ParquetPageHeader, _ page: UnsafeRawBufferPointer) throws {
        let n = header.valueCount
        let levelBytes = header.repetitionLevelsLength + header.definitionLevelsLength
        guard header.repetitionLevelsLength >= 0, header.definitionLevelsLength >= 0, levelBytes <= page.count else {
            throw ParquetError("column \(leaf.name): a v2 data page's levels run past the page")
        }
        if leaf.maxRepetition > 0 {
            try appendLevels(page, start: 0, end: header.repetitionLevelsLength, max: leaf.maxRepetition, count: n,
                into: &data.repetitionLevels)
        }
        var present = n - header.nullCount
        if leaf.maxDefinition > 0 {
            let before = data.definitionLevels.count
            try appendLevels(page, start: header.repetitionLevelsLength, end: levelBytes, max: leaf.maxDefinition,
                count: n, into: &data.definitionLevels)
            let top = UInt8(leaf.maxDefinition)
            present = data.definitionLevels[before...].reduce(0) { $0 + ($1 == top ? 1 : 0) }
        }
        let body = UnsafeRawBufferPointer(rebasing: page[levelBytes...])
        let bytes: [UInt8]
        if header.isCompressed && codec != ParquetCodec.uncompressed.rawValue {
            bytes = try expand(body, header.uncompressedSize - levelBytes)
        } else {
            bytes = Array(body)
        }
        try bytes.withUnsafeBytes { p in try values(p, 0, encoding: header.encoding, count: present, v2: true) }
        data.count += n
    }

    /// Decodes `count` non-null values at `pos`.
    private mutating func values(
        _ p: UnsafeRawBufferPointer, _ pos: Int, encoding: Int32, count: Int, v2: Bool
    ) throws {
        switch encoding {
        case ParquetEncoding.plain:
            _ = try plain(p, pos, count: count, into: &data.values)
        case ParquetEncoding.plainDictionary, ParquetEncoding.rleDictionary:
            guard let dictionary else {
                throw ParquetError("column \(leaf.name): a dictionary-encoded page without a dictionary page")
            }
            guard count > 0 else { return }
            guard pos < p.count else { throw ParquetError("column \(leaf.name): a dictionary page has no bit width") }
            let width = Int(p[pos])
            let indices = try ParquetEncodings.rleHybrid(p, start: pos + 1, end: p.count, bitWidth: width, count: count)
            if keepsDictionaryIndices {
                try dictionary.check(indices, type)
                data.dictionaryIndices = indices.map { UInt32(truncatingIfNeeded: $0) }
            } else {
                try data.values.append(dictionary, indices: indices, type)
            }
        case ParquetEncoding.rle where type == .boolean:
            guard pos + 4 <= p.count else { throw ParquetError("column \(leaf.name): an RLE boolean page is cut short") }
            let length = Int(p.loadUnaligned(fromByteOffset: pos, as: UInt32.self).littleEndian)
            let bits = try ParquetEncodings.rleHybrid(
                p, start: pos + 4, end: min(p.count, pos + 4 + length), bitWidth: 1, count: count)
            data.values.booleans += bits.map { $0 != 0 }
        case ParquetEncoding.deltaBinaryPacked where type == .int32 || type == .int64:
            let (decoded, _) = try ParquetEncodings.deltaBinaryPacked(p, start: pos)
            guard decoded.count >= count else { throw ParquetError("column \(leaf.name): a delta page holds too few values") }
            if type == .int32 {
                data.values.ints += decoded.prefix(count).map { Int64(Int32(truncatingIfNeeded: $0)) }
            } else {
                data.values.ints += decoded.prefix(count)
            }
        case ParquetEncoding.deltaLengthByteArray where type == .byteArray:
            let (lengths, end) = try ParquetEncodings.deltaBinaryPacked(p, start: pos)
            var at = end
            for length in lengths.prefix(count) {
                guard length >= 0, Int(length) <= p.count - at else {
                    throw ParquetError("column \(leaf.name): a DELTA_LENGTH_BYTE_ARRAY value runs past the page")
                }
                data.values.appendBytes(p, at, Int(length))
                at += Int(length)
            }
        case ParquetEncoding.deltaByteArray where type == .byteArray || type == .fixedLenByteArray:
            let (prefixes, prefixEnd) = try ParquetEncodings.deltaBinaryPacked(p, start: pos)
            let (lengths, end) = try ParquetEncodings.deltaBinaryPacked(p, start: prefixEnd)
            var at = end
            var previous: [UInt8] = []
            for i in 0..<count {
                guard i < prefixes.count, i < lengths.count else {
                    throw ParquetError("column \(leaf.name): a DELTA_BYTE_ARRAY page holds too few values")
                }
                let prefix = Int(prefixes[i])
                let length = Int(lengths[i])
                guard prefix >= 0, prefix <= previous.count, length >= 0, length <= p.count - at else {
                    throw ParquetError("column \(leaf.name): a DELTA_BYTE_ARRAY value runs past the page")
                }
                previous.removeSubrange(prefix...)
                previous += UnsafeRawBufferPointer(rebasing: p[at..<at + length])
                at += length
                data.values.bytes += previous
                data.values.offsets.append(data.values.bytes.count)
            }
        case ParquetEncoding.byteStreamSplit:
            let width: Int
            switch type {
            case .float, .int32: width = 4
            case .double, .int64: width = 8
            case .fixedLenByteArray: width = leaf.element.typeLength
            default:
                throw ParquetError("column \(leaf.name): BYTE_STREAM_SPLIT for \(type.name) is not part of the format")
            }
            let joined = try ParquetEncodings.byteStreamSplit(p, start: pos, count: count, width: width)
            var decoded = ParquetValues()
            try joined.withUnsafeBytes { q in _ = try plain(q, 0, count: count, into: &decoded) }
            switch type {
            case .float: data.values.floats += decoded.floats
            case .double: data.values.doubles += decoded.doubles
            case .int32, .int64: data.values.ints += decoded.ints
            default:
                data.values.bytes += decoded.bytes
                for k in 1..<decoded.offsets.count { data.values.offsets.append(data.values.bytes.count - decoded.bytes.count + decoded.offsets[k]) }
            }
        default:
            throw ParquetError(
                "column \(leaf.name): the \(ParquetEncoding.name(encoding)) encoding of \(type.name) values is not supported")
        }
    }

    private func need(_ p: UnsafeRawBufferPointer, _ pos: Int, _ n: Int) throws(ParquetError) {
        guard n >= 0, n <= p.count - pos else {
            throw ParquetError("column \(leaf.name): PLAIN values run past the end of the page")
        }
    }

    /// PLAIN values; returns where they end.
    func plain(_ p: UnsafeRawBufferPointer, _ start: Int, count: Int, into out: inout ParquetValues) throws(ParquetError)
        -> Int
    {
        var pos = start
        switch type {
        case .boolean:
            try need(p, pos, (count + 7) / 8)
            for i in 0..<count { out.booleans.append(p[pos + i >> 3] >> UInt8(i & 7) & 1 == 1) }
            pos += (count + 7) / 8
        case .int32:
            try need(p, pos, 4 * count)
            out.ints.reserveCapacity(out.ints.count + count)
            for i in 0..<count {
                out.ints.append(Int64(Int32(littleEndian: p.loadUnaligned(fromByteOffset: pos + 4 * i, as: Int32.self))))
            }
            pos += 4 * count
        case .int64:
            try need(p, pos, 8 * count)
            out.ints.reserveCapacity(out.ints.count + count)
            for i in 0..<count {
                out.ints.append(Int64(littleEndian: p.loadUnaligned(fromByteOffset: pos + 8 * i, as: Int64.self)))
            }
            pos += 8 * count
        case .float:
            try need(p, pos, 4 * count)
            for i in 0..<count {
                out.floats.append(
                    Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: pos + 4 * i, as: UInt32.self))))
            }
            pos += 4 * count
        case .double:
            try need(p, pos, 8 * count)
            for i in 0..<count {
                out.doubles.append(
                    Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(fromByteOffset: pos + 8 * i, as: UInt64.self))))
            }
            pos += 8 * count
        case .int96, .fixedLenByteArray:
            let width = type == .int96 ? 12 : leaf.element.typeLength
            try need(p, pos, width * count)
            out.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[pos..<pos + width * count]))
            var end = out.offsets[out.offsets.count - 1]
            for _ in 0..<count {
                end += width
                out.offsets.append(end)
            }
            pos += width * count
        case .byteArray:
            for _ in 0..<count {
                try need(p, pos, 4)
                let length = Int(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: pos, as: UInt32.self)))
                pos += 4
                try need(p, pos, length)
                out.appendBytes(p, pos, length)
                pos += length
            }
        }
        return pos
    }
}

/// The data pages of one column chunk, decoded one at a time as rows are written, so a flat
/// column holds its compressed chunk and one decoded page, not the whole decoded chunk.
public struct ParquetPageStream {
    let chunk: [UInt8]
    let meta: ParquetColumnMeta
    var decoder: ParquetChunkDecoder
    var position = 0
    /// Level entries of the pages already handed out.
    public private(set) var delivered = 0

    public init(chunk: [UInt8], leaf: ParquetLeaf, meta: ParquetColumnMeta, inflate: @escaping ParquetInflate) {
        self.chunk = chunk
        self.meta = meta
        self.decoder = ParquetChunkDecoder(leaf: leaf, codec: meta.codec, inflate: inflate)
        decoder.keepsDictionaryIndices = true
    }

    /// The dictionary a page's `dictionaryIndices` index, and how many dictionary pages came
    /// before it (a new one replaces the last).
    public var dictionary: (values: ParquetValues, version: Int)? {
        decoder.dictionary.map { ($0, decoder.dictionaryVersion) }
    }

    /// The next data page's levels and values; nil once the chunk's values are all handed out.
    public mutating func next() throws -> ParquetColumnData? {
        let leaf = decoder.leaf
        while delivered < meta.valueCount {
            guard position < chunk.count else {
                throw ParquetError("column \(leaf.name): the chunk ends after \(delivered) of its \(meta.valueCount) values")
            }
            let (header, start) = try chunk.withUnsafeBytes { p in
                try ParquetChunkDecoder.pageHeader(p, at: position, leaf: leaf, meta: meta, delivered: delivered)
            }
            position = start + header.compressedSize
            decoder.data = ParquetColumnData()
            try chunk.withUnsafeBytes { p in
                try decoder.page(header, UnsafeRawBufferPointer(rebasing: p[start..<start + header.compressedSize]))
            }
            let isData = header.kind == ParquetPageHeader.Kind.data.rawValue || header.kind == ParquetPageHeader.Kind.dataV2.rawValue
            guard isData else { continue }
            delivered += decoder.data.count
            return decoder.data
        }
        return nil
    }
}

extension ParquetChunkDecoder {
    /// The page header at `position` of a chunk, checked against the chunk, and where its page starts.
    static func pageHeader(
        _ chunk: UnsafeRawBufferPointer, at position: Int, leaf: ParquetLeaf, meta: ParquetColumnMeta, delivered: Int
    ) throws(ParquetError) -> (ParquetPageHeader, Int) {
        let header: ParquetPageHeader
        do {
            header = try ParquetPageHeader.decode(chunk, at: position)
        } catch {
            throw ParquetError("column \(leaf.name): bad page header at chunk byte \(position): \(error.message)")
        }
        let start = position + header.headerLength
        let isData = header.kind == ParquetPageHeader.Kind.data.rawValue || header.kind == ParquetPageHeader.Kind.dataV2.rawValue
        guard !isData || header.valueCount <= Int(meta.valueCount) - delivered else {
            throw ParquetError(
                "column \(leaf.name): a page of \(header.valueCount) values overruns its column chunk of \(meta.valueCount)")
        }
        guard header.compressedSize <= chunk.count - start else {
            throw ParquetError("column \(leaf.name): a page of \(header.compressedSize) bytes runs past its column chunk")
        }
        return (header, start)
    }
}
