/// What becomes of some values before they are typed: markers that mean NULL, local numbers and
/// dates turned into PostgreSQL's own forms, so the COPY carries values the server reads as they
/// are. Built once per input (from the options and the sniffer's sample); runs over a batch only
/// for the columns it names, so a load with the defaults never pays for it.
public struct ValueRewrite: Sendable {
    /// Values that mean NULL in every column.
    public var markers: [[UInt8]] = []
    /// Rules for single columns, by field position (CSV) — what the sniffer decided.
    public var columns: [Int: ColumnRule] = [:]

    public struct ColumnRule: Sendable, Equatable {
        public var markers: [[UInt8]] = []
        public var number: LocalNumberFormat? = nil
        public var date: LocalDateFormat? = nil

        public init(markers: [[UInt8]] = [], number: LocalNumberFormat? = nil, date: LocalDateFormat? = nil) {
            self.markers = markers
            self.number = number
            self.date = date
        }
    }

    public init(markers: [[UInt8]] = [], columns: [Int: ColumnRule] = [:]) {
        self.markers = markers
        self.columns = columns
    }

    public var isEmpty: Bool { markers.isEmpty && columns.isEmpty }

    /// Rewrites the batch's values. `slots` maps a field position to the batch's column (nil:
    /// the same number).
    public func apply(to batch: RecordBatch, slots: [Int]?) {
        if !markers.isEmpty {
            for index in batch.cells.indices where Self.matches(batch.cells[index], markers, in: batch) {
                batch.cells[index] = .null
            }
        }
        // Dates grow (`1/2/2024` → `2024-01-02`): their ISO forms go to one buffer, then the batch.
        var texts: [UInt8] = []
        var spans: [(row: Int, column: Int, start: Int, count: Int)] = []
        for (field, rule) in columns.sorted(by: { $0.key < $1.key }) {
            let slot = slots.map { field < $0.count ? $0[field] : -1 } ?? field
            guard slot >= 0 else { continue }
            for row in 0..<batch.rowCount {
                let start = Int(batch.rowStarts[row])
                guard slot < Int(batch.rowStarts[row + 1]) - start else { continue }
                let cell = batch.cells[start + slot]
                if cell.isNull { continue }
                if !rule.markers.isEmpty && Self.matches(cell, rule.markers, in: batch) {
                    batch.cells[start + slot] = .null
                    continue
                }
                let p = batch.pointer(cell)
                let n = Int(cell.length)
                if let number = rule.number,
                    let length = number.rewriteInPlace(batch.bytes.base + Int(cell.offset), n)
                {
                    batch.cells[start + slot].length = UInt32(length)
                } else if let date = rule.date {
                    let before = texts.count
                    if date.appendISO(p, n, to: &texts) { spans.append((row, slot, before, texts.count - before)) }
                }
            }
        }
        batch.replace(spans: spans, of: texts)
    }

    @inline(__always)
    static func matches(_ cell: Cell, _ markers: [[UInt8]], in batch: RecordBatch) -> Bool {
        guard cell.kind == .raw || cell.kind == .quoted || cell.kind == .jsonString else { return false }
        let n = Int(cell.length)
        let p = batch.pointer(cell)
        for marker in markers where marker.count == n {
            if marker.withUnsafeBufferPointer({ memcmp($0.baseAddress!, p, n) == 0 }) { return true }
        }
        return false
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
