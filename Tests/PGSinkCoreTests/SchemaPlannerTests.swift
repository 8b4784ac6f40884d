import Testing

@testable import PGSinkCore

@Suite("Schema planner")
struct SchemaPlannerTests {
    static let table = TableName(schema: "public", name: "t")

    @Test func newTableIsCreatedWithInferredTypesAndPrimaryKey() throws {
        let (batch, columns) = try makeBatch(
            "Order ID,Name,when,amount,ok,uid\n"
                + "1,ann,2020-01-01,1.5,true,123e4567-e89b-12d3-a456-426614174000\n"
                + "2,bob,2020-01-02T10:00,2,false,\n")
        var planner = SchemaPlanner(table: Self.table, existingColumns: nil, primaryKey: ["Order ID"])
        let statements = try planner.prepare(batch, sources: columns).map(\.sql)
        #expect(
            statements == [
                "CREATE TABLE \"public\".\"t\" (\"order_id\" bigint, \"name\" text, \"_when\" timestamp without time zone, "
                    + "\"amount\" numeric, \"ok\" boolean, \"uid\" uuid, PRIMARY KEY (\"order_id\"))"
            ])
        #expect(planner.created)
        #expect(planner.tableExists)
        #expect(planner.key == ["order_id"])
        #expect(planner.addedColumns.isEmpty)
        let copy = planner.copyColumns
        #expect(copy.map(\.name) == ["order_id", "name", "_when", "amount", "ok", "uid"])
        #expect(copy.map(\.source) == [0, 1, 2, 3, 4, 5])
        #expect(copy.map(\.required) == [true, false, false, false, false, false])
        // Nothing new: nothing to do.
        #expect(try planner.prepare(batch, sources: columns).map(\.sql) == [])
    }

    @Test func withoutKeyThereIsNoPrimaryKeyClause() throws {
        let (batch, columns) = try makeBatch("a\n1\n")
        var planner = SchemaPlanner(table: Self.table, existingColumns: nil)
        #expect(try planner.prepare(batch, sources: columns).map(\.sql) == ["CREATE TABLE \"public\".\"t\" (\"a\" bigint)"])
        #expect(planner.copyColumns.map(\.required) == [false])
    }

    @Test func typeOverridesBySourceOrNormalizedName() throws {
        let (batch, columns) = try makeBatch("My Id,code\n1,2\n")
        var planner = SchemaPlanner(
            table: Self.table, existingColumns: nil, overrides: ["My Id": .integer, "code": .text])
        #expect(
            try planner.prepare(batch, sources: columns).map(\.sql) == [
                "CREATE TABLE \"public\".\"t\" (\"my_id\" integer, \"code\" text)"
            ])
    }

    @Test func aLaterBatchWithANewKeyAddsAColumn() throws {
        let columns = SourceColumns()
        var scanner = JSONLinesScanner(source: "t.jsonl")
        var planner = SchemaPlanner(table: Self.table, existingColumns: nil)

        let first = RecordBatch(source: "t.jsonl", bytes: ByteStorage())
        first.bytes.append(contentsOf: Array("{\"a\":1}\n{\"a\":2,\"b\":\"x\",\"c\":{\"k\":1}}\n".utf8))
        #expect(try scanner.scan(into: first, columns: columns, isEOF: true, maxRows: 1) == .batchFull)
        #expect(try planner.prepare(first, sources: columns).map(\.sql) == ["CREATE TABLE \"public\".\"t\" (\"a\" bigint)"])

        let second = RecordBatch(source: "t.jsonl", bytes: ByteStorage())
        first.handOverUnscanned(to: second)
        #expect(try scanner.scan(into: second, columns: columns, isEOF: true, maxRows: 10) == .endOfInput)
        #expect(
            try planner.prepare(second, sources: columns).map(\.sql) == [
                "ALTER TABLE \"public\".\"t\" ADD COLUMN \"b\" text",
                "ALTER TABLE \"public\".\"t\" ADD COLUMN \"c\" jsonb",
            ])
        #expect(planner.addedColumns == ["b", "c"])
        #expect(planner.copyColumns.map(\.name) == ["a", "b", "c"])
        #expect(planner.copyColumns.map(\.type) == [.bigint, .text, .jsonb])
        #expect(try planner.prepare(second, sources: columns).map(\.sql) == [])
    }

    @Test func collidingNamesAreRenamedAndReported() throws {
        let (batch, columns) = try makeBatch("a b,a_b,A B,x\n1,2,3,4\n")
        var planner = SchemaPlanner(table: Self.table, existingColumns: nil)
        let statements = try planner.prepare(batch, sources: columns).map(\.sql)
        #expect(
            statements == [
                "CREATE TABLE \"public\".\"t\" (\"a_b\" bigint, \"a_b_2\" bigint, \"a_b_3\" bigint, \"x\" bigint)"
            ])
        #expect(planner.renamed.map { "\($0.source)→\($0.name)" } == ["a_b→a_b_2", "A B→a_b_3"])
    }

    @Test func existingTableColumnsAreMatchedAndOnlyNewOnesAdded() throws {
        let (batch, columns) = try makeBatch("ID,Name,extra,Keep\n1,x,2020-01-01,k\n")
        let existing = [
            TargetColumn(name: "id", type: .integer), TargetColumn(name: "name", type: .other("citext")),
            TargetColumn(name: "Keep", type: .text), TargetColumn(name: "unused", type: .date),
        ]
        var planner = SchemaPlanner(table: Self.table, existingColumns: existing)
        #expect(try planner.prepare(batch, sources: columns).map(\.sql) == ["ALTER TABLE \"public\".\"t\" ADD COLUMN \"extra\" date"])
        #expect(!planner.created)
        let copy = planner.copyColumns
        #expect(copy.map(\.name) == ["id", "name", "extra", "Keep"])
        #expect(copy.map(\.type) == [.integer, .other("citext"), .date, .text])
        #expect(CopyFormat.best(for: copy) == .text)
    }

    @Test func widenAfterAMisfitAltersTheColumnType() throws {
        let (batch, columns) = try makeBatch("id,n\n1,2\n2,1.5\n3,\n")
        var planner = SchemaPlanner(
            table: Self.table, existingColumns: [TargetColumn(name: "id", type: .bigint), TargetColumn(name: "n", type: .bigint)])
        #expect(try planner.prepare(batch, sources: columns).map(\.sql) == [])
        var encoder = BatchEncoder()
        defer { encoder.release() }
        guard case .misfits(let misfits) = try encoder.encode(batch, columns: planner.copyColumns, format: .binary) else {
            Issue.record("1.5 fit a bigint column")
            return
        }
        #expect(misfits == [1: 1])
        let (changes, stuck) = planner.widen(misfits, in: batch)
        let statements = changes.map(\.sql)
        #expect(stuck.isEmpty)
        #expect(statements == ["ALTER TABLE \"public\".\"t\" ALTER COLUMN \"n\" TYPE numeric USING \"n\"::numeric"])
        #expect(planner.widenings == [Widening(column: "n", from: .bigint, to: .numeric)])
        #expect(planner.copyColumns.map(\.type) == [.bigint, .numeric])
        // Now the batch encodes.
        guard case .encoded = try encoder.encode(batch, columns: planner.copyColumns, format: .binary) else {
            Issue.record("still misfits after widening")
            return
        }
    }

    @Test func widenConsidersEveryValueOfTheBatch() throws {
        let (batch, columns) = try makeBatch("d\n2020-01-01\n2020-01-01T10:00\n2020-01-01T10:00+02:00\n")
        var planner = SchemaPlanner(table: Self.table, existingColumns: [TargetColumn(name: "d", type: .date)])
        _ = try planner.prepare(batch, sources: columns).map(\.sql)
        let statements = planner.widen([0: 1], in: batch).statements.map(\.sql)
        #expect(
            statements == [
                "ALTER TABLE \"public\".\"t\" ALTER COLUMN \"d\" TYPE timestamp with time zone "
                    + "USING \"d\"::timestamp with time zone"
            ])
    }

    @Test func aColumnNoWideningHoldsIsReportedStuck() throws {
        let (batch, columns) = try makeBatch("v\n1\nbad\n", source: "w.csv")
        var planner = SchemaPlanner(table: Self.table, existingColumns: [TargetColumn(name: "v", type: .uuid)])
        _ = try planner.prepare(batch, sources: columns).map(\.sql)
        // uuid widens to text: not stuck.
        #expect(planner.widen([0: 1], in: batch).stuck.isEmpty)
        var frozen = SchemaPlanner(
            table: Self.table, existingColumns: [TargetColumn(name: "v", type: .bigint)], contract: .freeze)
        _ = try frozen.prepare(batch, sources: columns).map(\.sql)
        let (changes, stuck) = frozen.widen([0: 1], in: batch)
        let statements = changes.map(\.sql)
        #expect(statements.isEmpty)
        #expect(stuck.map(\.column.name) == ["v"])
        #expect(stuck.first?.reason.contains("freeze") == true)
    }

    @Test func aColumnPinnedByTypeIsNotWidened() throws {
        let (batch, columns) = try makeBatch("n\n1\n1.5\n")
        var planner = SchemaPlanner(table: Self.table, existingColumns: nil, overrides: ["n": .integer])
        _ = try planner.prepare(batch, sources: columns).map(\.sql)
        let (changes, stuck) = planner.widen([0: 1], in: batch)
        let statements = changes.map(\.sql)
        #expect(statements.isEmpty)
        #expect(stuck.first?.reason.contains("--type") == true)
    }

    @Test func freezeRefusesNewTablesAndColumns() throws {
        let (batch, columns) = try makeBatch("a,b\n1,2\n")
        var missing = SchemaPlanner(table: Self.table, existingColumns: nil, contract: .freeze)
        let noTable = #expect(throws: PlanError.self) { _ = try missing.prepare(batch, sources: columns).map(\.sql) }
        #expect(noTable?.message.contains("freeze creates no tables") == true)
        var existing = SchemaPlanner(
            table: Self.table, existingColumns: [TargetColumn(name: "a", type: .bigint)], contract: .freeze)
        let noColumn = #expect(throws: PlanError.self) { _ = try existing.prepare(batch, sources: columns).map(\.sql) }
        #expect(noColumn?.message.contains("has no column b") == true)
    }

    @Test func discardingContractsLeaveNewColumnsOut() throws {
        let (batch, columns) = try makeBatch("a,b\n1,2\n")
        for contract in [SchemaContract.discardRow, .discardValue] {
            var planner = SchemaPlanner(
                table: Self.table, existingColumns: [TargetColumn(name: "a", type: .bigint)], contract: contract)
            #expect(try planner.prepare(batch, sources: columns).map(\.sql) == [])
            #expect(planner.targetOf == [0, -1])
            #expect(planner.discardedNames == [1: "b"])
            #expect(planner.copyColumns.map(\.name) == ["a"])
        }
    }

    @Test func systemColumnsAreCreatedOnceAndFilledByTheEncoder() throws {
        let (batch, columns) = try makeBatch("a\n1\n")
        let system = [SystemColumn(name: "_pgsink_load_id", generated: .constant(.bigint(42)))]
        var fresh = SchemaPlanner(table: Self.table, existingColumns: nil, systemColumns: system)
        #expect(try fresh.prepare(batch, sources: columns).map(\.sql) == [
            "CREATE TABLE \"public\".\"t\" (\"a\" bigint, \"_pgsink_load_id\" bigint)"
        ])
        var old = SchemaPlanner(
            table: Self.table, existingColumns: [TargetColumn(name: "a", type: .bigint)], systemColumns: system)
        #expect(try old.prepare(batch, sources: columns).map(\.sql) == [
            "ALTER TABLE \"public\".\"t\" ADD COLUMN \"_pgsink_load_id\" bigint"
        ])
        #expect(old.copyColumns.last?.generated == .constant(.bigint(42)))
        var done = SchemaPlanner(
            table: Self.table,
            existingColumns: [TargetColumn(name: "a", type: .bigint), TargetColumn(name: "_pgsink_load_id", type: .bigint)],
            systemColumns: system)
        #expect(try done.prepare(batch, sources: columns).map(\.sql) == [])
    }

    @Test func moreThan1600ColumnsIsAPlanError() throws {
        let header = (1...1601).map { "c\($0)" }.joined(separator: ",")
        let row = (1...1601).map { String($0) }.joined(separator: ",")
        let (batch, columns) = try makeBatch(header + "\n" + row + "\n")
        var planner = SchemaPlanner(table: Self.table, existingColumns: nil)
        let error = #expect(throws: PlanError.self) { _ = try planner.prepare(batch, sources: columns).map(\.sql) }
        #expect(error?.message.contains("1601 columns") == true)
    }

    @Test func requestedKeyAbsentFromTheDataIsAPlanError() throws {
        let (batch, columns) = try makeBatch("a,b\n1,2\n")
        var planner = SchemaPlanner(table: Self.table, existingColumns: nil, primaryKey: ["id"])
        let error = #expect(throws: PlanError.self) { _ = try planner.prepare(batch, sources: columns).map(\.sql) }
        #expect(error?.message.contains("\"id\"") == true)
        #expect(error?.message.contains("a, b") == true)
    }

    @Test func keyMayNameAnExistingColumn() throws {
        let (batch, columns) = try makeBatch("v\n1\n")
        var planner = SchemaPlanner(
            table: Self.table, existingColumns: [TargetColumn(name: "v", type: .bigint)], primaryKey: ["V"])
        #expect(try planner.prepare(batch, sources: columns).map(\.sql) == [])
        #expect(planner.key == ["v"])
        #expect(planner.copyColumns.map(\.required) == [true])
    }
}
