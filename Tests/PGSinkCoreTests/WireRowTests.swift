import Testing

@testable import PGSinkCore

/// Rows that came as a source's binary COPY tuples (`RecordBatch.beginWireRecord`) are sent as
/// the tuples they were when the COPY's columns are exactly theirs, and from their cells
/// otherwise: both ways give the bytes a batch built cell by cell gives.
@Suite("Binary COPY tuples passed through")
struct WireRowTests {
    static let header: [UInt8] = BatchEncoder.binarySignature + be32(0) + be32(0)

    /// One tuple of binary COPY: the field count, then each field's length (-1 NULL) and bytes.
    static func tuple(_ fields: [[UInt8]?]) -> [UInt8] {
        be16(Int16(fields.count)) + fields.flatMap { $0.map { be32(Int32($0.count)) + $0 } ?? be32(-1) }
    }

    /// A whole COPY: the header, the parts, the trailer.
    static func copy(_ parts: [UInt8]...) -> [UInt8] {
        var out = header
        for part in parts { out += part }
        return out + be16(-1)
    }

    static let rows: [[[UInt8]?]] = [
        [be64(1), Array("ab".utf8), be32(7)],
        [be64(2), nil, []],
        [be64(-3), [], nil],
    ]

    /// The rows as tuples kept whole, and (`twin`) as `.wire` cells set one by one.
    static func batches(_ rows: [[[UInt8]?]] = rows) -> (whole: RecordBatch, twin: RecordBatch) {
        let whole = RecordBatch(source: "postgres source", bytes: ByteStorage(capacity: 64))
        let twin = RecordBatch(source: "postgres source", bytes: ByteStorage(capacity: 64))
        for (index, fields) in rows.enumerated() {
            let bytes = tuple(fields)
            bytes.withUnsafeBufferPointer { whole.beginWireRecord($0.baseAddress!, count: $0.count, fields: fields.count, line: index + 1) }
            whole.endRecord()
            twin.beginRecord(line: index + 1)
            twin.carriesWire = true
            for (column, field) in fields.enumerated() {
                guard let field else { continue }
                let offset = twin.bytes.count
                twin.bytes.append(contentsOf: field)
                twin.setCell(Cell(offset: UInt32(offset), length: UInt32(field.count), kind: .wire), column: column)
            }
            twin.endRecord()
        }
        return (whole, twin)
    }

    static let columns = [
        CopyColumn(name: "id", type: .bigint, source: 0, required: true), CopyColumn(name: "name", type: .text, source: 1),
        CopyColumn(name: "n", type: .integer, source: 2),
    ]

    private func encode(_ batch: RecordBatch, _ columns: [CopyColumn], sequenceStart: Int64? = nil) throws -> BatchEncoder.EncodedBatch {
        var encoder = BatchEncoder()
        defer { encoder.release() }
        guard case .encoded(let out) = try encoder.encode(batch, columns: columns, format: .binary, sequenceStart: sequenceStart)
        else {
            Issue.record("misfits")
            throw InputError(source: "", line: 0, message: "misfits")
        }
        return out
    }

    @Test func tuplesOfExactlyTheColumnsGoAsTheyAre() throws {
        let (whole, twin) = Self.batches()
        #expect(whole.imagesCoverRows && whole.imageFields == 3 && whole.carriesWire)
        #expect(!twin.imagesCoverRows)
        let out = try encode(whole, Self.columns)
        #expect(out.data.copyBytes() == Self.copy(Self.rows.flatMap(Self.tuple)))
        let cells = try encode(twin, Self.columns)
        #expect(out.data.copyBytes() == cells.data.copyBytes())
        #expect(out.offsets == cells.offsets)
        #expect(out.rows == [0, 1, 2])
        // The cells stand for the same values, for whatever reads them (keys, hashes).
        for row in 0..<3 {
            for column in 0..<3 {
                let a = whole.cell(row: row, column: column), b = twin.cell(row: row, column: column)
                #expect(a.kind == b.kind)
                #expect(whole.string(a) == twin.string(b))
            }
        }
        // The tuples themselves are what went: a cell changed behind the batch's back does not show.
        whole.cells[1] = .null
        #expect(try encode(whole, Self.columns).data.copyBytes() == out.data.copyBytes())
    }

    /// Another column list (reordered, fewer, a generated value, a merge's load order) is
    /// encoded from the cells, and gives what the twin gives.
    @Test(arguments: [0, 1, 2, 3])
    func otherColumnListsAreEncodedFromTheCells(_ variant: Int) throws {
        let (whole, twin) = Self.batches()
        var columns = Self.columns
        var sequence: Int64?
        switch variant {
        case 0: columns.reverse()
        case 1: columns.removeLast()
        case 2: columns.append(CopyColumn(name: "at", type: .bigint, source: nil, generated: .sequence(start: 10)))
        default: sequence = 41
        }
        let out = try encode(whole, columns, sequenceStart: sequence)
        let expected = try encode(twin, columns, sequenceStart: sequence)
        #expect(out.data.copyBytes() == expected.data.copyBytes())
        #expect(out.offsets == expected.offsets)
        #expect(out.data.copyBytes() != Self.copy(Self.rows.flatMap(Self.tuple)))
    }

    /// A value changed after the row was read (set NULL, replaced, or a column of the tuple set
    /// again) is sent as changed, never from the tuple.
    @Test(arguments: [0, 1])
    func aChangedValueIsSentAsChanged(_ variant: Int) throws {
        let (whole, twin) = Self.batches()
        for batch in [whole, twin] {
            if variant == 0 { batch.setNull(row: 0, column: 1) } else { batch.replace(row: 1, column: 2, with: be32(9), kind: .wire) }
        }
        #expect(!whole.imagesCoverRows)
        let out = try encode(whole, Self.columns)
        #expect(out.data.copyBytes() == (try encode(twin, Self.columns)).data.copyBytes())
        var rows = Self.rows
        if variant == 0 { rows[0][1] = nil } else { rows[1][2] = be32(9) }
        #expect(out.data.copyBytes() == Self.copy(rows.flatMap(Self.tuple)))
    }

    @Test func aColumnOfTheTupleSetAgainForgetsTheTuples() throws {
        let (whole, _) = Self.batches([[be64(1), Array("x".utf8), be32(1)]])
        let extra = Array(Self.tuple([be64(5), nil, nil]))
        extra.withUnsafeBufferPointer { whole.beginWireRecord($0.baseAddress!, count: $0.count, fields: 3, line: 2) }
        let offset = whole.bytes.count
        whole.bytes.append(contentsOf: Array("late".utf8))
        whole.setCell(Cell(offset: UInt32(offset), length: 4, kind: .wire), column: 1)
        whole.endRecord()
        #expect(!whole.imagesCoverRows)
        let out = try encode(whole, Self.columns)
        let expected = Self.copy(Self.tuple([be64(1), Array("x".utf8), be32(1)]), Self.tuple([be64(5), Array("late".utf8), nil]))
        #expect(out.data.copyBytes() == expected)
    }

    /// Columns set after the tuple's (a change feed's position columns) keep the tuples, and a
    /// COPY that sends them is encoded from the cells.
    @Test func columnsAfterTheTupleAreSentFromTheCells() throws {
        let (whole, _) = Self.batches([[be64(1), nil, be32(2)]])
        let extra = Array(Self.tuple([be64(2), nil, be32(3)]))
        extra.withUnsafeBufferPointer { whole.beginWireRecord($0.baseAddress!, count: $0.count, fields: 3, line: 2) }
        whole.setCell(whole.numberCell(77), column: 3)
        whole.endRecord()
        #expect(whole.imagesCoverRows)
        let columns = Self.columns + [CopyColumn(name: "lsn", type: .bigint, source: 3)]
        let out = try encode(whole, columns)
        let first: [UInt8] = be16(4) + be32(8) + be64(1) + be32(-1) + be32(4) + be32(2) + be32(-1)
        let second: [UInt8] = be16(4) + be32(8) + be64(2) + be32(-1) + be32(4) + be32(3) + be32(8) + be64(77)
        #expect(out.data.copyBytes() == Self.copy(first, second))
    }

    @Test func anEmptyKeyIsRefusedWithItsLine() throws {
        let (whole, _) = Self.batches([[be64(1), nil, nil], [nil, Array("k".utf8), nil]])
        #expect(whole.imagesCoverRows)
        var encoder = BatchEncoder()
        defer { encoder.release() }
        #expect(throws: InputError.self) { try encoder.encode(whole, columns: Self.columns, format: .binary) }
        do {
            _ = try encoder.encode(whole, columns: Self.columns, format: .binary)
        } catch {
            #expect(error.line == 2)
            #expect(error.column == "id")
            #expect(error.source == "postgres source")
        }
    }

    /// A row built another way, tuples of another width, or a dropped last row.
    @Test func rowsNotAllTuplesOfOneWidthAreEncodedFromTheCells() throws {
        let mixed = RecordBatch(source: "s", bytes: ByteStorage(capacity: 64))
        mixed.beginRecord(line: 1)
        mixed.endRecord()
        let bytes = Self.tuple([be64(4), nil, nil])
        bytes.withUnsafeBufferPointer { mixed.beginWireRecord($0.baseAddress!, count: $0.count, fields: 3, line: 2) }
        mixed.endRecord()
        #expect(!mixed.imagesCoverRows)
        let optional = Self.columns.map { column -> CopyColumn in
            var column = column
            column.required = false
            return column
        }
        #expect(try encode(mixed, optional).data.copyBytes() == Self.copy(Self.tuple([nil, nil, nil]), bytes))

        let (widths, _) = Self.batches([[be64(1), nil, nil]])
        let two = Self.tuple([be64(2), nil])
        two.withUnsafeBufferPointer { widths.beginWireRecord($0.baseAddress!, count: $0.count, fields: 2, line: 2) }
        widths.endRecord()
        #expect(!widths.imagesCoverRows)
        let padded = Self.copy(Self.tuple([be64(1), nil, nil]), Self.tuple([be64(2), nil, nil]))
        #expect(try encode(widths, Self.columns).data.copyBytes() == padded)

        let (dropped, _) = Self.batches()
        let last = Self.tuple([be64(9), nil, nil])
        last.withUnsafeBufferPointer { dropped.beginWireRecord($0.baseAddress!, count: $0.count, fields: 3, line: 4) }
        dropped.abandonRecord()
        #expect(dropped.imagesCoverRows && dropped.rowCount == 3)
        #expect(try encode(dropped, Self.columns).data.copyBytes() == Self.copy(Self.rows.flatMap(Self.tuple)))
    }
}
