/// The source columns of one load, in order of first appearance across all its inputs.
///
/// A CSV header may name a column twice; each occurrence gets its own slot, and the next file's
/// header maps its n-th occurrence of a name to the same slot.
public final class SourceColumns: @unchecked Sendable {
    public private(set) var names: [String] = []
    /// UTF-8 bytes of each name, for matching JSON keys without making a `String`.
    @exclusivity(unchecked) private(set) var nameBytes: [[UInt8]] = []
    /// Whether a name is written in JSON exactly as its bytes are (no quote, backslash or
    /// control character), so a key can be matched in the raw line.
    @exclusivity(unchecked) private var plain: [Bool] = []
    private var slots: [[UInt8]: [Int]] = [:]

    public init() {}

    public var count: Int { names.count }

    /// The slot of the `occurrence`-th column called `name` (0 = first), created if new.
    public func slot(for name: [UInt8], occurrence: Int = 0) -> Int {
        if let existing = slots[name], occurrence < existing.count { return existing[occurrence] }
        let index = names.count
        names.append(String(decoding: name, as: UTF8.self))
        nameBytes.append(name)
        plain.append(!name.contains { $0 == 34 || $0 == 92 || $0 < 32 })
        slots[name, default: []].append(index)
        return index
    }

    /// The slot of a column already seen, without adding one.
    public func existingSlot(_ name: String) -> Int? { slots[Array(name.utf8)]?.first }

    public func slot(for name: String, occurrence: Int = 0) -> Int {
        slot(for: Array(name.utf8), occurrence: occurrence)
    }

    /// The names so far, as bytes: a snapshot another thread can keep (`catchUp(to:)`).
    public var snapshot: [[UInt8]] { nameBytes }

    /// For each of `other`'s columns, its slot here (added when new, a repeated name as its next
    /// occurrence); nil when every column has the same slot in both.
    public func numbering(from other: SourceColumns) -> [Int]? {
        var seen: [[UInt8]: Int] = [:]
        var map: [Int] = []
        var identity = true
        for name in other.nameBytes {
            let occurrence = seen[name, default: 0]
            seen[name] = occurrence + 1
            let slot = slot(for: name, occurrence: occurrence)
            if slot != map.count { identity = false }
            map.append(slot)
        }
        return identity ? nil : map
    }

    /// Adds the slots of a snapshot this copy does not have yet, in the same order and with the
    /// same numbers: a second thread's copy of a reader's columns, kept in step batch by batch.
    public func catchUp(to names: [[UInt8]]) {
        while count < names.count {
            let name = names[count]
            _ = slot(for: name, occurrence: slots[name]?.count ?? 0)
        }
    }

    /// The length of column `index`'s name when the JSON text at `p` (just after a key's opening
    /// quote, `available` bytes) is that name and its closing quote; nil otherwise.
    @inline(__always)
    func rawKeyLength(_ index: Int, _ p: UnsafePointer<UInt8>, available: Int) -> Int? {
        guard plain[index] else { return nil }
        return nameBytes[index].withUnsafeBufferPointer { name in
            let n = name.count
            guard n < available, p[n] == 34, n == 0 || memcmpEqual(name.baseAddress!, p, n) else { return nil }
            return n
        }
    }

    @inline(__always)
    func matches(_ index: Int, _ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        // Borrowed in place: no copy of the name (and no reference counting) per key.
        nameBytes[index].withUnsafeBufferPointer { $0.count == n && (n == 0 || memcmpEqual($0.baseAddress!, p, n)) }
    }
}

@inline(__always)
func memcmpEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    var i = 0
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}

/// What a scanner did with the bytes it was given.
public enum ScanStatus: Equatable, Sendable {
    /// The batch reached its row limit; more records may follow.
    case batchFull
    /// The bytes end inside a record: read more and scan again.
    case needMore
    /// Every record has been scanned.
    case endOfInput
}

/// A scanner turns the unscanned bytes of a batch into rows.
public protocol RecordScanner {
    /// Scans records from `batch.scanned` on. `isEOF` says no more bytes will be appended.
    mutating func scan(into batch: RecordBatch, columns: SourceColumns, isEOF: Bool, maxRows: Int) throws(InputError)
        -> ScanStatus
    /// The physical line the next record starts on (1-based).
    var line: Int { get }
}
