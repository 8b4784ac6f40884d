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
}

/// A flat leaf's current page as plain pointers into `ParquetPageBuffers`, with the row loop's
/// place in it: a trivial value, so reading a cell retains and releases nothing (the page's
/// arrays, reached through the row group's array of columns, were retained per cell).
struct ParquetPageView: ParquetValueSource {
    /// Definition levels, `count` of them (unused when the leaf's maximum is 0).
    let levels: UnsafePointer<UInt8>
    /// Level entries in the page.
    let count: Int
    /// The values of the leaf's physical type, or a byte string column's bytes.
    let values: UnsafeRawPointer
    /// A byte string column's offsets into `values`, one more than its values.
    let offsets: UnsafePointer<Int>
    /// The next level entry, and the next value.
    var entry = 0
    var valueIndex = 0

    /// No page yet: the first cell reads the leaf's first page.
    nonisolated(unsafe) static let empty = ParquetPageView(
        levels: ParquetPageBuffers.nothing.assumingMemoryBound(to: UInt8.self), count: 0,
        values: ParquetPageBuffers.nothing, offsets: ParquetPageBuffers.nothing.assumingMemoryBound(to: Int.self))

    @inline(__always) func boolean(_ i: Int) -> Bool { values.load(fromByteOffset: i, as: Bool.self) }
    @inline(__always) func int(_ i: Int) -> Int64 { values.load(fromByteOffset: 8 * i, as: Int64.self) }
    @inline(__always) func float(_ i: Int) -> Float { values.load(fromByteOffset: 4 * i, as: Float.self) }
    @inline(__always) func double(_ i: Int) -> Double { values.load(fromByteOffset: 8 * i, as: Double.self) }
    @inline(__always) func byteString(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: values.assumingMemoryBound(to: UInt8.self) + offsets[i], count: offsets[i + 1] - offsets[i])
    }
    @inline(__always) func withBytes<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R { body(byteString(i)) }
}

/// The memory behind each flat leaf's `ParquetPageView`: a page's levels, values and offsets are
/// copied in when the page is decoded, into buffers reused (grown when a page needs more) page
/// after page, so the row group holds one decoded page per flat leaf.
final class ParquetPageBuffers {
    /// Where an empty buffer points: never read, as an empty page has no entries.
    nonisolated(unsafe) static let nothing = UnsafeRawPointer(UnsafeMutableRawPointer.allocate(byteCount: 16, alignment: 16))

    /// Per leaf, its current page.
    let views: UnsafeMutablePointer<ParquetPageView>
    private var regions: [Region]
    private let leaves: Int

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
        regions = Array(repeating: Region(), count: 3 * leaves)
    }

    deinit {
        for region in regions { region.base?.deallocate() }
        views.deinitialize(count: max(leaves, 1))
        views.deallocate()
    }

    /// Makes `page` leaf `c`'s current page, its values those of `type`.
    func load(_ c: Int, _ page: ParquetColumnData, _ type: ParquetPhysicalType) {
        let levels = regions[3 * c].store(page.definitionLevels)
        let values: UnsafeRawPointer
        var offsets = ParquetPageBuffers.nothing
        switch type {
        case .boolean: values = regions[3 * c + 1].store(page.values.booleans)
        case .int32, .int64: values = regions[3 * c + 1].store(page.values.ints)
        case .float: values = regions[3 * c + 1].store(page.values.floats)
        case .double: values = regions[3 * c + 1].store(page.values.doubles)
        case .byteArray, .fixedLenByteArray, .int96:
            values = regions[3 * c + 1].store(page.values.bytes)
            offsets = regions[3 * c + 2].store(page.values.offsets)
        }
        views[c] = ParquetPageView(
            levels: levels.assumingMemoryBound(to: UInt8.self), count: page.count, values: values,
            offsets: offsets.assumingMemoryBound(to: Int.self))
    }
}
