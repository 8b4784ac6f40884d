#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decoded values read by index: what `ParquetRowGroupRows.writeText` and `writeWire` need of a
/// column, so one writer serves a nested leaf's whole chunk (`ParquetValues`) and a flat leaf's
/// current page (`ParquetPageView`).
protocol ParquetValueSource {
    associatedtype ByteString: Collection<UInt8>
    func boolean(_ i: Int) -> Bool
    /// An INT32 (sign-extended) or INT64 value.
    func int(_ i: Int) -> Int64
    func float(_ i: Int) -> Float
    func double(_ i: Int) -> Double
    /// Byte string `i` (BYTE_ARRAY, FIXED_LEN_BYTE_ARRAY, INT96).
    func byteString(_ i: Int) -> ByteString
    /// Byte string `i` as a buffer; its base address may be nil when it is empty.
    func withBytes<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R
    /// False when no byte string holds a NUL byte, so none needs looking at for one.
    var mayHoldNUL: Bool { get }
}

extension ParquetValues: ParquetValueSource {
    @inline(__always) func boolean(_ i: Int) -> Bool { booleans[i] }
    @inline(__always) func int(_ i: Int) -> Int64 { ints[i] }
    @inline(__always) func float(_ i: Int) -> Float { floats[i] }
    @inline(__always) func double(_ i: Int) -> Double { doubles[i] }
    @inline(__always) func byteString(_ i: Int) -> ArraySlice<UInt8> { bytes[range(i)] }
    @inline(__always) func withBytes<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let r = range(i)
        return bytes.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[r])) }
    }
    var mayHoldNUL: Bool { true }
}

/// A flat leaf's current page as plain pointers into `ParquetPageBuffers`, with the row loop's
/// place in it: a trivial value, so reading a cell retains and releases nothing (the page's
/// arrays, reached through the row group's array of columns, were retained per cell).
struct ParquetPageView: ParquetValueSource {
    /// Definition levels, `count` of them (unused when the leaf's maximum is 0).
    let levels: UnsafePointer<UInt8>
    /// Level entries in the page.
    let count: Int
    /// The values of the leaf's physical type, or a byte string column's bytes: the page's own,
    /// or its dictionary's when `indices` is set.
    let values: UnsafeRawPointer
    /// A byte string column's offsets into `values`, one more than its values.
    let offsets: UnsafePointer<Int>
    /// A dictionary-encoded page's values as indices into `values`: a cell reads its dictionary
    /// entry where it lies, with no copy of the entry per value.
    let indices: UnsafePointer<UInt32>?
    let mayHoldNUL: Bool
    /// The next level entry, and the next value.
    var entry = 0
    var valueIndex = 0

    /// No page yet: the first cell reads the leaf's first page.
    nonisolated(unsafe) static let empty = ParquetPageView(
        levels: ParquetPageBuffers.nothing.assumingMemoryBound(to: UInt8.self), count: 0,
        values: ParquetPageBuffers.nothing, offsets: ParquetPageBuffers.nothing.assumingMemoryBound(to: Int.self),
        indices: nil, mayHoldNUL: false)

    /// Where value `i` is in `values`.
    @inline(__always) func slot(_ i: Int) -> Int {
        if let indices { Int(indices[i]) } else { i }
    }

    @inline(__always) func boolean(_ i: Int) -> Bool { values.load(fromByteOffset: slot(i), as: Bool.self) }
    @inline(__always) func int(_ i: Int) -> Int64 { values.load(fromByteOffset: 8 * slot(i), as: Int64.self) }
    @inline(__always) func float(_ i: Int) -> Float { values.load(fromByteOffset: 4 * slot(i), as: Float.self) }
    @inline(__always) func double(_ i: Int) -> Double { values.load(fromByteOffset: 8 * slot(i), as: Double.self) }
    @inline(__always) func byteString(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        let k = slot(i)
        return UnsafeBufferPointer(
            start: values.assumingMemoryBound(to: UInt8.self) + offsets[k], count: offsets[k + 1] - offsets[k])
    }
    @inline(__always) func withBytes<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R { body(byteString(i)) }
}

/// The memory behind each flat leaf's `ParquetPageView`: a page's levels, values and offsets (or
/// dictionary indices) are copied in when the page is decoded, into buffers reused (grown when a
/// page needs more) page after page, so the row group holds one decoded page per flat leaf. A
/// dictionary is copied in once, when the first page indexing it comes.
final class ParquetPageBuffers {
    /// Where an empty buffer points: never read, as an empty page has no entries.
    nonisolated(unsafe) static let nothing = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16))

    /// Per leaf, its current page.
    let views: UnsafeMutablePointer<ParquetPageView>
    private var regions: [Region]
    /// Per leaf, the version of the dictionary its value regions hold (nil: a page's own values).
    private var dictionaryVersions: [Int?]
    /// Per leaf, where its value regions' values and offsets are, and whether a byte string there
    /// holds a NUL.
    private var valuesBase: [UnsafeRawPointer]
    private var offsetsBase: [UnsafeRawPointer]
    private var mayHoldNUL: [Bool]
    private let leaves: Int
    /// A leaf's regions: levels, values, offsets, dictionary indices.
    private static let regionsPerLeaf = 4

    /// One growable allocation.
    private struct Region {
        var base: UnsafeMutableRawPointer?
        var capacity = 0

        /// Copies `array` in, growing the allocation when it is too small.
        mutating func store<T>(_ array: [T]) -> UnsafeRawPointer {
            let size = array.count * MemoryLayout<T>.stride
            if size > capacity {
                base?.deallocate()
                capacity = max(size, capacity * 2)
                base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
            }
            guard let base, size > 0 else { return ParquetPageBuffers.nothing }
            array.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: size) }
            base.bindMemory(to: T.self, capacity: array.count)
            return UnsafeRawPointer(base)
        }
    }

    init(leaves: Int) {
        self.leaves = leaves
        views = .allocate(capacity: max(leaves, 1))
        views.initialize(repeating: .empty, count: max(leaves, 1))
        regions = Array(repeating: Region(), count: Self.regionsPerLeaf * leaves)
        dictionaryVersions = Array(repeating: nil, count: leaves)
        valuesBase = Array(repeating: ParquetPageBuffers.nothing, count: leaves)
        offsetsBase = Array(repeating: ParquetPageBuffers.nothing, count: leaves)
        mayHoldNUL = Array(repeating: false, count: leaves)
    }

    deinit {
        for region in regions { region.base?.deallocate() }
        views.deinitialize(count: max(leaves, 1))
        views.deallocate()
    }

    /// Makes `page` leaf `c`'s current page, its values those of `type`; `dictionary` is the
    /// one its `dictionaryIndices` index.
    func load(
        _ c: Int, _ page: ParquetColumnData, _ type: ParquetPhysicalType, dictionary: (values: ParquetValues, version: Int)?
    ) {
        let first = Self.regionsPerLeaf * c
        let levels = regions[first].store(page.definitionLevels)
        var indices: UnsafePointer<UInt32>?
        if let pageIndices = page.dictionaryIndices, let dictionary {
            indices = regions[first + 3].store(pageIndices).assumingMemoryBound(to: UInt32.self)
            if dictionaryVersions[c] != dictionary.version {
                storeValues(c, dictionary.values, type)
                dictionaryVersions[c] = dictionary.version
            }
        } else {
            storeValues(c, page.values, type)
            dictionaryVersions[c] = nil
        }
        views[c] = ParquetPageView(
            levels: levels.assumingMemoryBound(to: UInt8.self), count: page.count, values: valuesBase[c],
            offsets: offsetsBase[c].assumingMemoryBound(to: Int.self), indices: indices, mayHoldNUL: mayHoldNUL[c])
    }

    /// Copies `values` into leaf `c`'s value regions, noting whether its byte strings hold a NUL.
    private func storeValues(_ c: Int, _ values: ParquetValues, _ type: ParquetPhysicalType) {
        let first = Self.regionsPerLeaf * c
        offsetsBase[c] = ParquetPageBuffers.nothing
        mayHoldNUL[c] = false
        switch type {
        case .boolean: valuesBase[c] = regions[first + 1].store(values.booleans)
        case .int32, .int64: valuesBase[c] = regions[first + 1].store(values.ints)
        case .float: valuesBase[c] = regions[first + 1].store(values.floats)
        case .double: valuesBase[c] = regions[first + 1].store(values.doubles)
        case .byteArray, .fixedLenByteArray, .int96:
            valuesBase[c] = regions[first + 1].store(values.bytes)
            offsetsBase[c] = regions[first + 2].store(values.offsets)
            mayHoldNUL[c] = values.bytes.withUnsafeBufferPointer { !$0.isEmpty && memchr($0.baseAddress!, 0, $0.count) != nil }
        }
    }
}
