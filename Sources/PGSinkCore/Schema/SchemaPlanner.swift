/// Decides, batch by batch, what the target table must look like and which DDL gets it there:
/// the table when it is missing, columns new in the data, types widened when values no longer fit.
///
/// A value type with no I/O: the loader feeds it batches and runs the statements it returns, in
/// order, on the connection. Types only ever widen, so the planner's view and the server's agree.
public struct SchemaPlanner: Sendable {
    public let table: TableName
    public let rules: NamingRules
    /// `--type` overrides, by source name or by normalized name.
    public let overrides: [String: ColumnType]
    /// Merge keys as the user gave them (matched like column names).
    public let requestedKey: [String]

    public private(set) var tableExists: Bool
    public private(set) var columns: [TargetColumn]
    /// Source slot → target column index.
    public private(set) var targetOf: [Int] = []
    /// Key columns by target name, once resolved.
    public private(set) var key: [String] = []

    // What the summary reports.
    public private(set) var created = false
    public private(set) var addedColumns: [String] = []
    public private(set) var widenings: [Widening] = []
    /// Source names that normalized to a name another source already had, and what they got.
    public private(set) var renamed: [(source: String, name: String)] = []

    public init(
        table: TableName, existingColumns: [TargetColumn]?, rules: NamingRules = NamingRules(),
        overrides: [String: ColumnType] = [:], primaryKey: [String] = []
    ) {
        self.table = table
        self.rules = rules
        self.overrides = overrides
        self.requestedKey = primaryKey
        self.tableExists = existingColumns != nil
        self.columns = existingColumns ?? []
    }

    /// The statements that make the table ready for `batch`: CREATE TABLE for the first batch of a
    /// new table, ADD COLUMN for source columns the table lacks.
    public mutating func prepare(_ batch: RecordBatch, sources: SourceColumns) throws(PlanError) -> [String] {
        guard sources.count > targetOf.count else { return [] }
        var newColumns: [TargetColumn] = []
        var usedNames = Set(targetOf.map { columns[$0].name })
        for slot in targetOf.count..<sources.count {
            let source = sources.names[slot]
            let base = rules.normalize(source)
            var name = base
            var n = 2
            while usedNames.contains(name) {
                name = NamingRules.fitting(base, limit: NamingRules.maxLength - 1 - String(n).count) + "_\(n)"
                n += 1
            }
            if name != base { renamed.append((source, name)) }
            usedNames.insert(name)
            // An existing table's column matches by normalized name, or by the exact source name
            // (a table created with --keep-case).
            if let existing = columns.firstIndex(where: { $0.name == name }) ?? columns.firstIndex(where: { $0.name == source }) {
                targetOf.append(existing)
                continue
            }
            let type = overrides[source] ?? overrides[name] ?? Self.infer(batch, slot: slot)
            targetOf.append(columns.count + newColumns.count)
            newColumns.append(TargetColumn(name: name, type: type))
        }
        if key.isEmpty && !requestedKey.isEmpty { try resolveKey(with: newColumns) }
        defer { columns += newColumns }
        if !tableExists {
            tableExists = true
            created = true
            if newColumns.isEmpty { throw PlanError(message: "the input has no columns to create \(table) from") }
            return [SQL.createTable(table, columns: newColumns, primaryKey: key)]
        }
        addedColumns += newColumns.map(\.name)
        return newColumns.map { SQL.addColumn(table, $0) }
    }

    private mutating func resolveKey(with newColumns: [TargetColumn]) throws(PlanError) {
        let all = columns + newColumns
        var resolved: [String] = []
        for requested in requestedKey {
            let normalized = rules.normalize(requested)
            guard let column = all.first(where: { $0.name == requested || $0.name == normalized }) else {
                throw PlanError(
                    message: "--primary-key names \"\(requested)\", which is not a column of the data or of \(table); "
                        + "columns: \(all.map(\.name).joined(separator: ", "))")
            }
            resolved.append(column.name)
        }
        key = resolved
    }

    /// The narrowest type all of this batch's values in `slot` fit.
    static func infer(_ batch: RecordBatch, slot: Int) -> ColumnType {
        var fits = Candidates.all
        for row in 0..<batch.rowCount {
            let cell = batch.cell(row: row, column: slot)
            if cell.isNull { continue }
            fits.formIntersection(Candidates.of(batch.pointer(cell), Int(cell.length), kind: cell.kind, wanted: fits))
            if fits == .text { break }
        }
        return fits.inferredType
    }

    /// The COPY columns for the load: every target column the data has, with its source.
    public var copyColumns: [CopyColumn] {
        var result: [CopyColumn] = []
        var seen = Set<Int>()
        for (slot, target) in targetOf.enumerated() where seen.insert(target).inserted {
            let column = columns[target]
            result.append(
                CopyColumn(name: column.name, type: column.type, source: slot, required: key.contains(column.name)))
        }
        return result
    }

    /// Widens the columns whose values did not fit, returning the ALTER statements. A value no
    /// widening can hold is an input error naming its line and column.
    public mutating func widen(_ misfits: BatchEncoder.Misfits, in batch: RecordBatch) throws(InputError) -> [String] {
        let copy = copyColumns
        var statements: [String] = []
        for (index, firstRow) in misfits.sorted(by: { $0.key < $1.key }) {
            let column = copy[index]
            guard let slot = column.source, let target = columns.firstIndex(where: { $0.name == column.name }) else {
                continue
            }
            var fits = Candidates.all
            for row in 0..<batch.rowCount {
                let cell = batch.cell(row: row, column: slot)
                if cell.isNull { continue }
                fits.formIntersection(
                    Candidates.of(batch.pointer(cell), Int(cell.length), kind: cell.kind, jsonStrict: false))
            }
            let current = columns[target].type
            guard let wider = fits.widening(of: current) else {
                let value = batch.string(batch.cell(row: firstRow, column: slot)) ?? ""
                throw InputError(
                    source: batch.source, line: batch.rowLines[firstRow], column: column.name,
                    message: "\(Self.excerpt(value)) is not a valid \(current.sqlName), and the column cannot be "
                        + "widened to hold it; fix the value or load into a column of a wider type")
            }
            statements.append(SQL.alterType(table, column: column.name, to: wider))
            widenings.append(Widening(column: column.name, from: current, to: wider))
            columns[target].type = wider
        }
        return statements
    }

    static func excerpt(_ value: String) -> String {
        let short = value.count > 60 ? String(value.prefix(60)) + "…" : value
        return "\"" + short + "\""
    }
}

/// A load that cannot be planned as asked.
public struct PlanError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
