#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Encodes a batch into one COPY stream (binary or text), straight from the cells' bytes.
///
/// A value that does not fit its column's type is not an error here: the encoder reports the
/// column as a misfit, the schema planner widens it, and the batch is encoded again.
public struct BatchEncoder {
    /// Where values did not fit: copy-column index → first row that did not fit.
    public typealias Misfits = [Int: Int]

    public enum Outcome {
        case encoded(EncodedBatch)
        case misfits(Misfits)
    }

    /// A COPY payload and where each of its rows starts, so one row can be cut out and the rest sent again.
    public struct EncodedBatch: @unchecked Sendable {
        public var data: ByteStorage
        /// The batch row of each COPY row.
        public var rows: [Int]
        /// The byte offset of each COPY row, plus the offset where the trailer starts.
        public var offsets: [Int]
        public var format: CopyFormat

        /// The text of field `field` of COPY row `index` in a binary payload, for a column that
        /// travels as text (text, json, a type without a binary encoder): what the server refused,
        /// which its error does not quote in binary COPY. nil for NULL or another wire form.
        public func binaryText(row index: Int, field: Int) -> String? {
            guard let bytes = binaryField(row: index, field: field) else { return nil }
            return String(decoding: UnsafeBufferPointer(start: data.base + bytes.lowerBound, count: bytes.count), as: UTF8.self)
        }

        /// Where the value of field `field` of COPY row `index` lies in `data` (a binary payload);
        /// nil for NULL, a text payload, or a row that does not hold the field whole.
        public func binaryField(row index: Int, field: Int) -> Range<Int>? {
            guard format == .binary, index + 1 < offsets.count else { return nil }
            var at = offsets[index]
            let end = offsets[index + 1]
            func int(_ width: Int) -> Int? {
                guard at + width <= end else { return nil }
                var value = 0
                for k in 0..<width { value = value << 8 | Int(data.base[at + k]) }
                at += width
                return value
            }
            guard let count = int(2), field < count else { return nil }
            for k in 0...field {
                guard let raw = int(4) else { return nil }
                let length = raw >= 0x8000_0000 ? -1 : raw
                if k == field {
                    guard length >= 0, at + length <= end else { return nil }
                    return at..<(at + length)
                }
                if length > 0 { at += length }
            }
            return nil
        }

        /// The same payload without the trailing load-order field `encode(sequenceStart:)` added
        /// to each row (a merge that copies straight into its table).
        public func droppingSequence() -> EncodedBatch {
            let out = ByteStorage(capacity: data.count)
            let start = offsets.first ?? data.count
            out.append(data.base, count: start)
            var newOffsets: [Int] = []
            newOffsets.reserveCapacity(offsets.count)
            for index in 0..<(offsets.count - 1) {
                newOffsets.append(out.count)
                let from = offsets[index], to = offsets[index + 1]
                if format == .binary {
                    let count = Int16(bitPattern: UInt16(data.base[from]) << 8 | UInt16(data.base[from + 1]))
                    out.appendInt16(count - 1)
                    out.append(data.base + from + 2, count: to - from - 2 - 12)
                } else {
                    var tab = to - 2
                    while tab > from && data.base[tab] != 9 { tab -= 1 }
                    out.append(data.base + from, count: tab - from)
                    out.append(10)
                }
            }
            newOffsets.append(out.count)
            let last = offsets.last ?? data.count
            out.append(data.base + last, count: data.count - last)
            return EncodedBatch(data: out, rows: rows, offsets: newOffsets, format: format)
        }

        /// The same payload without the COPY row at `index`.
        public func removing(row index: Int) -> EncodedBatch {
            let out = ByteStorage(capacity: data.count)
            out.append(data.base, count: offsets[index])
            let cut = offsets[index + 1] - offsets[index]
            out.append(data.base + offsets[index + 1], count: data.count - offsets[index + 1])
            var rows = self.rows
            rows.remove(at: index)
            var offsets = self.offsets
            offsets.remove(at: index + 1)
            for k in (index + 1)..<offsets.count { offsets[k] -= cut }
            return EncodedBatch(data: out, rows: rows, offsets: offsets, format: format)
        }
    }

    /// The 11 bytes binary COPY starts with (`PGCOPY\n\377\r\n\0`), before its flags and header extension.
    public static let binarySignature: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00]

    /// NUL characters removed from text (PostgreSQL cannot store them).
    public internal(set) var nulsRemoved = 0
    private var scratch: UnsafeMutablePointer<UInt8>
    private var scratchCapacity = 256

    /// Where text COPY's values are test-encoded.
    private let probe = ByteStorage(capacity: 256)
    /// Random row ids (`Generated.randomId`): uniqueness, not secrecy.
    private var random = SplitMix(seed: UInt64.random(in: 0...UInt64.max))

    public init() {
        scratch = .allocate(capacity: scratchCapacity)
    }

    /// Frees the scratch buffer. The encoder is a value owned by one loader; it is released once.
    public func release() { scratch.deallocate() }

    private mutating func ensureScratch(_ n: Int) {
        guard n + 1 > scratchCapacity else { return }
        scratch.deallocate()
        scratchCapacity = max(n + 1, scratchCapacity * 2)
        scratch = .allocate(capacity: scratchCapacity)
    }

    /// Where a column's values come from, without payloads, for the row loop.
    private enum ValueOrigin {
        case source(Int), null, constant(Int), rowId, parentId, rootId, listIndex, sequence(Int64), randomId
        case epochMilliseconds(slot: Int, fallback: Int64?)
        case integer(slot: Int)
        case json(Int)
        case rootValue(slot: Int)
    }

    /// Encodes every row that is not set aside. With `sequenceStart`, a trailing `bigint` column
    /// numbers the rows (the merge staging table's load order).
    public mutating func encode(
        _ batch: RecordBatch, columns: [CopyColumn], format: CopyFormat, sequenceStart: Int64? = nil,
        capacityHint: Int = 0
    ) throws(InputError) -> Outcome {
        if batch.carriesWire && format != .binary {
            throw InputError(
                source: batch.source, line: 0, message: "internal: values in binary COPY form cannot travel as text COPY")
        }
        let out = ByteStorage(capacity: max(capacityHint, batch.bytes.count + batch.rowCount * (columns.count * 4 + 8)))
        var misfits: Misfits = [:]
        var nuls = 0
        if format == .binary {
            out.append(contentsOf: Self.binarySignature)
            out.appendInt32(0)
            out.appendInt32(0)
        }
        let fieldCount = Int16(columns.count + (sequenceStart == nil ? 0 : 1))
        // Plain arrays for the row loop: no String or enum payload is copied per cell.
        let columnCount = columns.count
        let wire = columns.map { WireType($0.type) }
        var constants: [ConstantValue] = []
        var templates: [(prefix: [UInt8], slot: Int, ifNull: [UInt8], suffix: [UInt8])] = []
        let origins: [ValueOrigin] = columns.map { column in
            switch column.generated {
            case .constant(let value)?:
                constants.append(value)
                return .constant(constants.count - 1)
            case .rowId?: return .rowId
            case .parentId?: return .parentId
            case .rootId?: return .rootId
            case .listIndex?: return .listIndex
            case .sequence(let start)?: return .sequence(start)
            case .randomId?: return .randomId
            case .epochMilliseconds(let slot, let fallback)?: return .epochMilliseconds(slot: slot, fallback: fallback)
            case .integer(let slot)?: return .integer(slot: slot)
            case .json(let prefix, let slot, let ifNull, let suffix)?:
                templates.append((prefix, slot, ifNull, suffix))
                return .json(templates.count - 1)
            case .rootValue(let slot, _)?: return .rootValue(slot: slot)
            case nil: return column.source.map { .source($0) } ?? .null
            }
        }
        // The hot loop reads a plain Int per column: ≥ 0 a source slot, -1 NULL, -2 generated.
        let sources: [Int] = zip(columns, origins).map { column, origin in
            if case .source(let slot) = origin { return slot }
            return column.generated == nil ? -1 : -2
        }
        let required = columns.map(\.required)
        let checkSkips = batch.skippedCount > 0 || batch.parent != nil
        let root = Self.root(of: batch)
        var sentRows: [Int] = []
        var offsets: [Int] = []
        sentRows.reserveCapacity(batch.rowCount)
        offsets.reserveCapacity(batch.rowCount + 1)
        var sequence = sequenceStart ?? 0
        // Rows that came as a source's binary COPY tuples of exactly these columns go as they are.
        if format == .binary && sequenceStart == nil && !checkSkips && batch.imagesCoverRows
            && batch.imageFields == columnCount && sources.elementsEqual(0..<columnCount)
        {
            let keys = required.indices.filter { required[$0] }
            for row in 0..<batch.rowCount {
                for index in keys where batch.cell(row: row, column: index).isNull {
                    throw Self.emptyKey(batch, row: row, column: columns[index].name)
                }
                sentRows.append(row)
                offsets.append(out.count)
                let image = batch.rowImages[row]
                out.append(batch.bytes.base + Int(image.start), count: Int(image.end - image.start))
            }
            offsets.append(out.count)
            out.appendInt16(-1)
            return .encoded(EncodedBatch(data: out, rows: sentRows, offsets: offsets, format: format))
        }
        for row in 0..<batch.rowCount {
            if checkSkips && batch.isSkippedWithAncestors(row) { continue }
            sentRows.append(row)
            offsets.append(out.count)
            if format == .binary { out.appendInt16(fieldCount) }
            for index in 0..<columnCount {
                let source = sources[index]
                let cell: Cell
                if source >= 0 {
                    cell = batch.cell(row: row, column: source)
                } else if source == -1 {
                    cell = .null
                } else {
                    writeGenerated(
                        origins[index], constants, templates, batch: batch, row: row, root: root, format: format,
                        wire: wire[index], first: index == 0, to: out, nuls: &nuls)
                    continue
                }
                if cell.isNull {
                    if required[index] { throw Self.emptyKey(batch, row: row, column: columns[index].name) }
                    if format == .binary { out.appendInt32(-1) } else { appendTextNull(out, first: index == 0) }
                    continue
                }
                let p = batch.pointer(cell)
                let n = Int(cell.length)
                let fits: Bool
                if format == .binary {
                    fits = writeBinary(p, n, cell.kind, as: wire[index], to: out, nuls: &nuls)
                } else {
                    if index > 0 { out.append(9) }
                    writeText(p, n, cell.kind, as: wire[index], to: out, nuls: &nuls)
                    // The server parses text COPY; a value of a type pgsink knows is still checked
                    // here, so the column widens instead of the server refusing the row.
                    if wire[index] == .text {
                        fits = true
                    } else {
                        probe.count = 0
                        var ignored = 0
                        fits = writeBinary(p, n, cell.kind, as: wire[index], to: probe, nuls: &ignored)
                    }
                }
                if !fits && misfits[index] == nil { misfits[index] = row }
            }
            if sequenceStart != nil {
                if format == .binary {
                    out.appendInt32(8)
                    out.appendInt64(sequence)
                } else {
                    out.append(9)
                    out.append(contentsOf: String(sequence).utf8)
                }
                sequence += 1
            }
            if format == .text { out.append(10) }
        }
        offsets.append(out.count)
        if format == .binary { out.appendInt16(-1) }
        guard misfits.isEmpty else { return .misfits(misfits) }
        nulsRemoved += nuls
        return .encoded(EncodedBatch(data: out, rows: sentRows, offsets: offsets, format: format))
    }

    private static func emptyKey(_ batch: RecordBatch, row: Int, column: String) -> InputError {
        InputError(
            source: batch.source, line: batch.rowLines[row], column: column,
            message: "the key column is empty; every record needs a value for each --primary-key column")
    }

    /// A value pgsink makes: a constant, a row id, a parent or root id, a list position.
    private mutating func writeGenerated(
        _ origin: ValueOrigin, _ constants: [ConstantValue],
        _ templates: [(prefix: [UInt8], slot: Int, ifNull: [UInt8], suffix: [UInt8])], batch: RecordBatch, row: Int,
        root: RecordBatch, format: CopyFormat, wire: WireType, first: Bool, to out: ByteStorage, nuls: inout Int
    ) {
        switch origin {
        case .constant(let k):
            if format == .text && !first { out.append(9) }
            if format == .binary { out.append(contentsOf: constants[k].binary) } else { out.append(contentsOf: constants[k].text) }
        case .rowId:
            writeId(batch.rowIds[row], format: format, first: first, to: out)
        case .parentId:
            writeId(batch.parent!.rowIds[Int(batch.parentRows[row])], format: format, first: first, to: out)
        case .rootId:
            writeId(root.rowIds[batch.rootRow(of: row)], format: format, first: first, to: out)
        case .listIndex:
            let value = batch.listIndex[row]
            if format == .binary {
                out.appendInt32(4)
                out.appendInt32(value)
            } else {
                if !first { out.append(9) }
                out.append(contentsOf: String(value).utf8)
            }
        case .sequence(let start):
            let value = start + Int64(row)
            if format == .binary {
                out.appendInt32(8)
                out.appendInt64(value)
            } else {
                if !first { out.append(9) }
                out.append(contentsOf: String(value).utf8)
            }
        case .randomId:
            writeId(RowId(high: random.next(), low: random.next()), format: format, first: first, to: out)
        case .epochMilliseconds(let slot, let fallback):
            let cell = batch.cell(row: row, column: slot)
            let millis = cell.kind == .jsonNumber ? Self.wholeMilliseconds(batch.pointer(cell), Int(cell.length)) : nil
            guard let micros = millis.map({ $0 &* 1000 }) ?? fallback else { return Self.writeNull(format: format, first: first, to: out) }
            if format == .binary {
                out.appendInt32(8)
                out.appendInt64(micros &- 946_684_800_000_000)
            } else {
                if !first { out.append(9) }
                out.append(contentsOf: ISOTime.format(micros).utf8)
            }
        case .integer(let slot):
            let cell = batch.cell(row: row, column: slot)
            guard cell.kind == .jsonNumber, let value = ValueSyntax.parseInt64(batch.pointer(cell), Int(cell.length)) else {
                return Self.writeNull(format: format, first: first, to: out)
            }
            if format == .binary {
                out.appendInt32(8)
                out.appendInt64(value)
            } else {
                if !first { out.append(9) }
                out.append(contentsOf: String(value).utf8)
            }
        case .json(let k):
            let template = templates[k]
            let cell = batch.cell(row: row, column: template.slot)
            let useCell = cell.kind == .jsonNested
            let middleCount = useCell ? Int(cell.length) : template.ifNull.count
            if format == .binary {
                out.appendInt32(Int32(1 + template.prefix.count + middleCount + template.suffix.count))
                out.append(1)
                out.append(contentsOf: template.prefix)
                if useCell { out.append(batch.pointer(cell), count: middleCount) } else { out.append(contentsOf: template.ifNull) }
                out.append(contentsOf: template.suffix)
            } else {
                if !first { out.append(9) }
                template.prefix.withUnsafeBufferPointer { appendTextEscaped($0.baseAddress!, $0.count, to: out, nuls: &nuls) }
                if useCell {
                    appendTextEscaped(batch.pointer(cell), middleCount, to: out, nuls: &nuls)
                } else {
                    template.ifNull.withUnsafeBufferPointer { appendTextEscaped($0.baseAddress!, $0.count, to: out, nuls: &nuls) }
                }
                template.suffix.withUnsafeBufferPointer { appendTextEscaped($0.baseAddress!, $0.count, to: out, nuls: &nuls) }
            }
        case .rootValue(let slot):
            // The root row's value was checked against the same type when the root was encoded.
            let cell = root.cell(row: batch.rootRow(of: row), column: slot)
            guard !cell.isNull else { return Self.writeNull(format: format, first: first, to: out) }
            if format == .binary {
                _ = writeBinary(root.pointer(cell), Int(cell.length), cell.kind, as: wire, to: out, nuls: &nuls)
            } else {
                if !first { out.append(9) }
                writeText(root.pointer(cell), Int(cell.length), cell.kind, as: wire, to: out, nuls: &nuls)
            }
        case .source, .null:
            break
        }
    }

    /// A JSON number of milliseconds as a whole number (a fraction is dropped); nil when it is
    /// not a plain number that fits.
    /// A NULL field of a generated column.
    private static func writeNull(format: CopyFormat, first: Bool, to out: ByteStorage) {
        if format == .binary {
            out.appendInt32(-1)
        } else {
            if !first { out.append(9) }
            out.append(contentsOf: [92, 78] as [UInt8])
        }
    }

    static func wholeMilliseconds(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int64? {
        var i = 0
        let negative = n > 0 && p[0] == 45
        if negative { i = 1 }
        var value: Int64 = 0
        var digits = 0
        while i < n, ValueSyntax.isDigit(p[i]) {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int64(p[i] - 48))
            if o1 || o2 || sum > 9_000_000_000_000_000 / 1000 { return nil }
            value = sum
            digits += 1
            i += 1
        }
        guard digits > 0 else { return nil }
        if i < n && p[i] == 46 {
            i += 1
            while i < n, ValueSyntax.isDigit(p[i]) { i += 1 }
        }
        guard i == n else { return nil }
        return negative ? -value : value
    }

    /// Whether one value can be stored in a column of `type` as it is (nothing is kept).
    public mutating func fits(_ batch: RecordBatch, row: Int, column: Int, as type: ColumnType) -> Bool {
        let cell = batch.cell(row: row, column: column)
        guard !cell.isNull, type.hasBinaryEncoder else { return true }
        let scratchOut = ByteStorage(capacity: Int(cell.length) * 2 + 64)
        var ignored = 0
        return writeBinary(batch.pointer(cell), Int(cell.length), cell.kind, as: WireType(type), to: scratchOut, nuls: &ignored)
    }

    private static func root(of batch: RecordBatch) -> RecordBatch {
        var current = batch
        while let parent = current.parent { current = parent }
        return current
    }

    @inline(__always)
    private func writeId(_ id: RowId, format: CopyFormat, first: Bool, to out: ByteStorage) {
        let (high, low) = id.uuidBytes
        if format == .binary {
            out.appendInt32(16)
            out.appendInt64(Int64(bitPattern: high))
            out.appendInt64(Int64(bitPattern: low))
            return
        }
        if !first { out.append(9) }
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for (k, shift) in stride(from: 60, through: 0, by: -4).enumerated() {
            if k == 8 || k == 12 { out.append(45) }
            out.append(hex[Int(high >> UInt64(shift) & 15)])
        }
        for (k, shift) in stride(from: 60, through: 0, by: -4).enumerated() {
            if k == 0 || k == 4 { out.append(45) }
            out.append(hex[Int(low >> UInt64(shift) & 15)])
        }
    }

    @inline(__always)
    private func appendTextNull(_ out: ByteStorage, first: Bool) {
        if !first { out.append(9) }
        out.append(92)
        out.append(78)
    }

    // MARK: binary

    /// Writes one length-prefixed value. Returns false when the bytes are not a value of `type`.
    @inline(__always)
    private mutating func writeBinary(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ kind: CellKind, as type: WireType, to out: ByteStorage,
        nuls: inout Int
    ) -> Bool {
        if kind == .wire {
            out.appendInt32(Int32(n))
            out.append(p, count: n)
            return true
        }
        switch type {
        case .text:
            writeTextBytes(p, n, to: out, nuls: &nuls)
            return true
        case .bigint:
            guard kind != .jsonNested, let value = Self.lenientInt(p, n) else { return false }
            out.appendInt32(8)
            out.appendInt64(value)
            return true
        case .integer:
            guard kind != .jsonNested, let value = Self.lenientInt(p, n), let narrow = Int32(exactly: value) else {
                return false
            }
            out.appendInt32(4)
            out.appendInt32(narrow)
            return true
        case .smallint:
            guard kind != .jsonNested, let value = Self.lenientInt(p, n), let narrow = Int16(exactly: value) else {
                return false
            }
            out.appendInt32(2)
            out.appendInt16(narrow)
            return true
        case .numeric:
            guard kind != .jsonNested else { return false }
            if let parts = ValueSyntax.parseDecimal(p, n, strictZeros: false) {
                ensureScratch(n)
                return NumericEncoding.write(parts, p, scratch: scratch, to: out)
            }
            if n == 3 && (p[0] | 0x20) == 110 && (p[1] | 0x20) == 97 && (p[2] | 0x20) == 110 {
                NumericEncoding.writeNaN(to: out)
                return true
            }
            // The server's own spelling (its answer for 'inf' or ' Infinity ').
            if let negative = Self.infinitySign(p, n) {
                NumericEncoding.writeInfinity(negative: negative, to: out)
                return true
            }
            return false
        case .double, .real:
            guard kind != .jsonNested, let value = parseDouble(p, n) else { return false }
            // A finite value beyond the type's range would be stored as Infinity: widen instead.
            if value.isInfinite && !Self.spellsInfinity(p, n) { return false }
            if type == .real && Float(value).isInfinite && !value.isInfinite { return false }
            if type == .real && value != 0 && Float(value) == 0 { return false }
            if type == .real {
                out.appendInt32(4)
                out.appendInt32(Int32(bitPattern: Float(value).bitPattern))
            } else {
                out.appendInt32(8)
                out.appendInt64(Int64(bitPattern: value.bitPattern))
            }
            return true
        case .boolean:
            guard let value = ValueSyntax.parseBool(p, n, lenient: kind != .jsonString) else { return false }
            out.appendInt32(1)
            out.append(value ? 1 : 0)
            return true
        case .date:
            let days: Int32
            if let parsed = ValueSyntax.parseDate(p, n) {
                days = parsed
            } else if let negative = Self.infinitySign(p, n) {
                // PostgreSQL's binary form of 'infinity' and '-infinity'.
                days = negative ? .min : .max
            } else {
                return false
            }
            out.appendInt32(4)
            out.appendInt32(days)
            return true
        case .timestamp, .timestamptz:
            let micros: Int64
            if let days = ValueSyntax.parseDate(p, n) {
                micros = Int64(days) * 86_400_000_000
            } else if let ts = ValueSyntax.parseTimestamp(p, n), !(type == .timestamp && ts.hasZone) {
                micros = ts.microseconds
            } else if let negative = Self.infinitySign(p, n) {
                micros = negative ? .min : .max
            } else {
                return false
            }
            out.appendInt32(8)
            out.appendInt64(micros)
            return true
        case .uuid:
            out.reserve(20)
            out.appendInt32(16)
            guard ValueSyntax.parseUUID(p, n, lenient: true, into: out.base + out.count) else {
                out.count -= 4
                return false
            }
            out.count += 16
            return true
        case .json:
            writeJSON(p, n, kind, to: out, versionByte: false, nuls: &nuls)
            return true
        case .jsonb:
            writeJSON(p, n, kind, to: out, versionByte: true, nuls: &nuls)
            return true
        }
    }

    /// Whether the value is PostgreSQL's spelling `infinity` (false) or `-infinity` (true), in any
    /// case; nil for anything else.
    static func infinitySign(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool? {
        guard n == 8 || n == 9, ValueSyntax.equalsIgnoringCase(p + (n - 8), 8, "infinity") else { return nil }
        if n == 8 { return false }
        return p[0] == 45 ? true : nil
    }

    /// `inf`, `-Infinity` and the like (as opposed to a number too large for the type).
    static func spellsInfinity(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        (0..<n).contains { p[$0] | 0x20 == 105 }  // an 'i' or 'I': only the spelled-out forms have one
    }

    /// An integer as PostgreSQL reads one: an optional sign, then digits, leading zeros allowed.
    @inline(__always)
    static func lenientInt(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int64? {
        if let value = ValueSyntax.parseInt64(p, n) { return value }
        var i = 0
        var negative = false
        if n > 0 && (p[0] == 45 || p[0] == 43) {
            negative = p[0] == 45
            i = 1
        }
        guard i < n else { return nil }
        while i < n - 1 && p[i] == 48 { i += 1 }
        guard n - i <= 19 else { return nil }
        var magnitude: UInt64 = 0
        while i < n {
            let d = p[i] &- 48
            guard d < 10 else { return nil }
            magnitude = magnitude * 10 + UInt64(d)
            i += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    private mutating func parseDouble(_ p: UnsafePointer<UInt8>, _ n: Int) -> Double? {
        guard n > 0 else { return nil }
        ensureScratch(n)
        scratch.update(from: p, count: n)
        scratch[n] = 0
        var end: UnsafeMutablePointer<CChar>? = nil
        errno = 0
        let value = scratch.withMemoryRebound(to: CChar.self, capacity: n + 1) { strtod($0, &end) }
        let base = scratch
        guard let end, end.withMemoryRebound(to: UInt8.self, capacity: 1, { $0 == base + n }) else { return nil }
        // Too small for the type (1e-400): PostgreSQL refuses what strtod would round to zero.
        if errno == ERANGE && value == 0 { return nil }
        return value
    }

    /// Text without NUL characters: a length prefix, then the bytes.
    @inline(__always)
    private func writeTextBytes(_ p: UnsafePointer<UInt8>, _ n: Int, to out: ByteStorage, nuls: inout Int) {
        let lengthAt = out.count
        out.appendInt32(Int32(n))
        let removed = appendWithoutNUL(p, n, to: out)
        if removed > 0 {
            nuls += removed
            out.storeInt32(Int32(n - removed), at: lengthAt)
        }
    }

    @inline(__always)
    private func appendWithoutNUL(_ p: UnsafePointer<UInt8>, _ n: Int, to out: ByteStorage) -> Int {
        guard n > 0, memchr(p, 0, n) != nil else {
            out.append(p, count: n)
            return 0
        }
        var removed = 0
        for k in 0..<n {
            if p[k] == 0 {
                removed += 1
            } else {
                out.append(p[k])
            }
        }
        return removed
    }

    /// JSON text for a json/jsonb column: a JSON string cell is quoted again, `\u0000` (which
    /// jsonb refuses) is removed and counted.
    private func writeJSON(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ kind: CellKind, to out: ByteStorage, versionByte: Bool, nuls: inout Int
    ) {
        let lengthAt = out.count
        out.appendInt32(0)
        let start = out.count
        if versionByte { out.append(1) }
        if kind == .jsonString {
            JSONText.appendQuoted(p, n, to: out, nuls: &nuls)
        } else if versionByte {
            nuls += JSONText.appendRemovingNULEscapes(p, n, to: out)
        } else {
            out.append(p, count: n)
        }
        out.storeInt32(Int32(out.count - start), at: lengthAt)
    }

    // MARK: text

    /// COPY text format: the server parses the value; backslash, tab, newline and CR are escaped.
    @inline(__always)
    private func writeText(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ kind: CellKind, as type: WireType, to out: ByteStorage,
        nuls: inout Int
    ) {
        if kind == .jsonString && (type == .json || type == .jsonb) {
            let quoted = ByteStorage(capacity: n + 8)
            JSONText.appendQuoted(p, n, to: quoted, nuls: &nuls)
            appendTextEscaped(quoted.base, quoted.count, to: out, nuls: &nuls)
        } else if type == .jsonb {
            let cleaned = ByteStorage(capacity: n + 8)
            nuls += JSONText.appendRemovingNULEscapes(p, n, to: cleaned)
            appendTextEscaped(cleaned.base, cleaned.count, to: out, nuls: &nuls)
        } else {
            appendTextEscaped(p, n, to: out, nuls: &nuls)
        }
    }

    @inline(__always)
    private func appendTextEscaped(_ p: UnsafePointer<UInt8>, _ n: Int, to out: ByteStorage, nuls: inout Int) {
        out.reserve(n)
        for k in 0..<n {
            let c = p[k]
            switch c {
            case 0: nuls += 1
            case 92: out.append(92); out.append(92)
            case 9: out.append(92); out.append(116)
            case 10: out.append(92); out.append(110)
            case 13: out.append(92); out.append(114)
            default: out.append(c)
            }
        }
    }
}

/// How a column's values are written: `ColumnType` without payloads, cheap to copy per cell.
/// Types without a binary encoder travel as text (and only in text COPY).
enum WireType: UInt8 {
    case text, boolean, smallint, integer, bigint, numeric, real, double, date, timestamp, timestamptz, uuid, json, jsonb

    init(_ type: ColumnType) {
        switch type {
        case .text, .other: self = .text
        case .boolean: self = .boolean
        case .smallint: self = .smallint
        case .integer: self = .integer
        case .bigint: self = .bigint
        case .numeric: self = .numeric
        case .real: self = .real
        case .double: self = .double
        case .date: self = .date
        case .timestamp: self = .timestamp
        case .timestamptz: self = .timestamptz
        case .uuid: self = .uuid
        case .json: self = .json
        case .jsonb: self = .jsonb
        }
    }
}

/// Small JSON text helpers for the encoder.
enum JSONText {
    /// Appends `p` as a JSON string literal.
    static func appendQuoted(_ p: UnsafePointer<UInt8>, _ n: Int, to out: ByteStorage, nuls: inout Int) {
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        out.append(34)
        for k in 0..<n {
            let c = p[k]
            switch c {
            case 0: nuls += 1
            case 34: out.append(92); out.append(34)
            case 92: out.append(92); out.append(92)
            case 10: out.append(92); out.append(110)
            case 13: out.append(92); out.append(114)
            case 9: out.append(92); out.append(116)
            case 1..<32:
                out.append(contentsOf: [92, 117, 48, 48, hex[Int(c >> 4)], hex[Int(c & 15)]] as [UInt8])
            default: out.append(c)
            }
        }
        out.append(34)
    }

    /// Appends JSON text without its `\u0000` escapes; returns how many it removed.
    static func appendRemovingNULEscapes(_ p: UnsafePointer<UInt8>, _ n: Int, to out: ByteStorage) -> Int {
        guard n > 0, memchr(p, 92, n) != nil else {
            out.append(p, count: n)
            return 0
        }
        var removed = 0
        var k = 0
        while k < n {
            let c = p[k]
            if c == 92 && k + 1 < n {
                if p[k + 1] == 117 && k + 5 < n && p[k + 2] == 48 && p[k + 3] == 48 && p[k + 4] == 48 && p[k + 5] == 48 {
                    removed += 1
                    k += 6
                    continue
                }
                out.append(c)
                out.append(p[k + 1])
                k += 2
                continue
            }
            out.append(c)
            k += 1
        }
        return removed
    }
}
