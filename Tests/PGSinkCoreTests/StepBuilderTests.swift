import Testing

@testable import PGSinkCore

/// Step building with no server: what a batch becomes for the writer in each mode, with rejects,
/// contracts, nested child tables and merge de-duplication.
@Suite("Step building")
struct StepBuilderTests {
    static let table = TableName(schema: "public", name: "t")

    private func builder(
        _ settings: StepSettings = StepSettings(), existing: [TargetColumn]? = nil, key: [String] = [],
        overrides: [String: ColumnType] = [:], layout: NestedLayout? = nil
    ) -> StepBuilder {
        let systemColumns = layout == nil ? [] : [SystemColumn(name: SQL.rowIdColumn, generated: .rowId)]
        let planner = SchemaPlanner(
            table: Self.table, existingColumns: existing, overrides: overrides, primaryKey: key, contract: settings.contract,
            systemColumns: systemColumns)
        return StepBuilder(settings: settings, planner: planner, layout: layout) { child, _ in
            SchemaPlanner(
                table: TableName(schema: "public", name: "t__" + child.path), existingColumns: nil,
                systemColumns: [
                    SystemColumn(name: SQL.rowIdColumn, generated: .rowId),
                    SystemColumn(name: SQL.parentIdColumn, generated: .parentId),
                ])
        }
    }

    /// `text` scanned as CSV into the builder's columns.
    private func csv(_ text: String, _ builder: StepBuilder) throws -> RecordBatch {
        let storage = ByteStorage()
        storage.append(contentsOf: Array(text.utf8))
        let batch = RecordBatch(source: "t.csv", bytes: storage)
        var scanner = CSVScanner(source: "t.csv", delimiter: 44, hasHeader: true)
        _ = try scanner.scan(into: batch, columns: builder.root.sources, isEOF: true, maxRows: 1000)
        return batch
    }

    private func jsonl(_ text: String, _ builder: StepBuilder) throws -> RecordBatch {
        let storage = ByteStorage()
        storage.append(contentsOf: Array(text.utf8))
        let batch = RecordBatch(source: "t.jsonl", bytes: storage)
        var scanner = JSONLinesScanner(
            source: "t.jsonl", nesting: Nesting(flattenDepth: 1000, separator: "__", layout: builder.layout))
        _ = try scanner.scan(into: batch, columns: builder.root.sources, isEOF: true, maxRows: 1000)
        return batch
    }

    @Test func aNewTableIsCreatedOnceAndEveryRowEncoded() throws {
        let steps = builder()
        let first = try steps.makeStep(try csv("id,name\n1,a\n2,b\n", steps))
        #expect(first.statements == [
            .createTable(Self.table, columns: [TargetColumn(name: "id", type: .bigint), TargetColumn(name: "name", type: .text)], primaryKey: [])
        ])
        #expect(first.rows == 2)
        #expect(first.root.lines == [2, 3])
        #expect(!first.keysRepeat)
        let second = try steps.makeStep(try csv("id,name\n3,c\n", steps))
        #expect(second.statements.isEmpty)
        #expect(steps.rows == 3)
    }

    @Test func aWiderValueInALaterBatchWidensTheColumn() throws {
        let steps = builder()
        _ = try steps.makeStep(try csv("n\n1\n", steps))
        let step = try steps.makeStep(try csv("n\n1.5\n", steps))
        #expect(step.statements == [.alterType(Self.table, column: "n", from: .bigint, to: .numeric)])
    }

    @Test func aMergeSeesRepeatedKeysInItsBatch() throws {
        let steps = builder(StepSettings(mode: .merge), key: ["id"])
        let repeated = try steps.makeStep(try csv("id,v\n1,a\n1,b\n2,c\n", steps))
        #expect(repeated.keysRepeat)
        #expect(repeated.root.columns.filter(\.required).map(\.name) == ["id"])
        let distinct = try steps.makeStep(try csv("id,v\n3,x\n4,y\n", steps))
        #expect(!distinct.keysRepeat)
    }

    @Test func rejectsUnderTheLimitAreSetAsideAndTheNextOneFailsTheLoad() throws {
        let steps = builder(StepSettings(maxRejects: 1), overrides: ["n": .bigint])
        let step = try steps.makeStep(try csv("n\n1\nx\n3\n", steps))
        #expect(step.rows == 2)
        #expect(step.rejects.map(\.line) == [3])
        #expect(step.rejects.allSatisfy { !$0.discarded })
        #expect(steps.rejected == 1)
        #expect(throws: RejectLimit.self) { _ = try steps.makeStep(try csv("n\ny\n", steps)) }
        let strict = builder(overrides: ["n": .bigint])
        #expect(throws: InputError.self) { _ = try strict.makeStep(try csv("n\nx\n", strict)) }
    }

    @Test(arguments: [SchemaContract.discardRow, .discardValue])
    func aDiscardingContractKeepsNewColumnsOut(_ contract: SchemaContract) throws {
        let steps = builder(StepSettings(contract: contract), existing: [TargetColumn(name: "a", type: .bigint)])
        let step = try steps.makeStep(try csv("a,b\n1,x\n2,\n", steps))
        #expect(step.statements.isEmpty)
        #expect(step.root.columns.map(\.name) == ["a"])
        #expect(step.rejects.count == 1)
        #expect(step.rejects.first?.discarded == true)
        #expect(step.rejects.first?.column == "b")
        #expect(step.rows == (contract == .discardRow ? 1 : 2))
        #expect(steps.discarded == 1)
    }

    @Test func aMergeWithChildTablesSendsOnlyTheLastRecordOfAKeyAndItsChildren() throws {
        let steps = builder(StepSettings(mode: .merge), key: ["id"], layout: NestedLayout())
        let batch = try jsonl(#"{"id":1,"items":[{"n":1}]}"# + "\n" + #"{"id":1,"items":[{"n":2},{"n":3}]}"# + "\n", steps)
        let step = try steps.makeStep(batch)
        #expect(step.rows == 1)
        #expect(step.root.encoded.rows == [1])
        let child = try #require(step.children.first)
        #expect(child.table.name == "t__items")
        #expect(child.encoded.rows.count == 2)
        #expect(child.rootRows.map { rows in child.encoded.rows.map { rows[$0] } } == [1, 1])
        #expect(step.statements.map(\.table.name) == ["t", "t__items"])
    }

    @Test func aMergeGivesARecordTheSameIdInEveryLoadAndAppendsGiveFreshOnes() throws {
        func ids(_ mode: LoadMode) throws -> [RowId] {
            let steps = builder(StepSettings(mode: mode), key: mode == .merge ? ["id"] : [], layout: NestedLayout())
            let batch = try jsonl(#"{"id":7,"items":[{"n":1}]}"# + "\n" + #"{"id":8,"items":[{"n":2}]}"# + "\n", steps)
            _ = try steps.makeStep(batch)
            return batch.rowIds
        }
        let merged = try ids(.merge)
        #expect(merged == (try ids(.merge)))
        #expect(Set(merged).count == 2)
        let appended = try ids(.append)
        #expect(appended != (try ids(.append)))
    }
}
