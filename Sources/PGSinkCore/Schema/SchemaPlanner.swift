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
    /// What may change in the table's shape.
    public let contract: SchemaContract
    /// Columns pgsink fills itself (bookkeeping, child-table links), added when missing. A
    /// constant's value may change between batches; the set of columns may not.
    public var systemColumns: [SystemColumn]
    /// Types a source declares (a Singer SCHEMA), by source name: used for new columns instead of
    /// inference, but unlike `overrides` they do not pin the column.
    public var declaredTypes: [String: ColumnType] = [:]
    /// Source columns without a declared type are ignored (an Airbyte catalog lists the fields).
    public var onlyDeclared = false
    /// Source names a reader keeps for itself (values of a message's envelope, a flattened change
    /// event's `__op`): never columns.
    public var ignored: Set<String> = []
    /// Source names with this prefix are ignored too (Debezium's flattened `__` metadata).
    public var ignoredPrefix: String?
    /// The source columns `onlyDeclared` ignored, in order of appearance.
    public private(set) var undeclared: [String] = []
    /// A child table of `--nested tables` may hold nothing but its links (`"orders":[{}]`).
    public var systemColumnsSuffice = false
    /// Columns whose type may not change, and why (a view uses them): their misfits are stuck
    /// instead of widening.
    public var fixedTypes: [String: String] = [:]

    public private(set) var tableExists: Bool
    public private(set) var columns: [TargetColumn]
    /// Source slot → target column index, or -1 for a source column the contract discards.
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
        overrides: [String: ColumnType] = [:], primaryKey: [String] = [], contract: SchemaContract = .evolve,
        systemColumns: [SystemColumn] = []
    ) {
        self.table = table
        self.rules = rules
        self.overrides = overrides
        self.requestedKey = primaryKey
        self.contract = contract
        self.systemColumns = systemColumns
        self.tableExists = existingColumns != nil
        self.columns = existingColumns ?? []
    }

    /// PostgreSQL's limit on the columns of one table.
    public static let maxColumns = 1600

    /// The statements that make the table ready for `batch`: CREATE TABLE for the first batch of a
    /// new table, ADD COLUMN for source columns the table lacks (and for missing system columns).
    /// Under a discarding contract a new source column gets no target (-1 in `targetOf`); under
    /// freeze it is an error.
    public mutating func prepare(_ batch: RecordBatch, sources: SourceColumns) throws(PlanError) -> [SchemaChange] {
        let firstBatch = targetOf.isEmpty && !systemReady
        guard sources.count > targetOf.count || firstBatch else { return [] }
        if !tableExists && contract == .freeze {
            throw PlanError(
                message: "\(table) does not exist, and --schema-contract freeze creates no tables; create it first, "
                    + "or load with --schema-contract evolve")
        }
        var newColumns: [TargetColumn] = []
        let systemNames = Set(systemColumns.map(\.name))
        let newSlots = targetOf.count..<sources.count
        // Columns already fed by a source of this load; no second source may land in them.
        var claimed = Set(targetOf.filter { $0 >= 0 })
        // First, each source finds the column made for it (its recorded source name, or a column
        // named exactly like it), so `ID,id` and a later `id,ID` land in the same columns.
        var matched: [Int: Int] = [:]
        for slot in newSlots {
            let source = sources.names[slot]
            if let index = columns.indices.first(where: {
                !claimed.contains($0) && columns[$0].owner == source && !systemNames.contains(columns[$0].name)
            }) {
                matched[slot] = index
                claimed.insert(index)
            }
        }
        var usedNames = Set(columns.map(\.name)).union(systemNames)
        for slot in newSlots {
            let source = sources.names[slot]
            if ignored.contains(source) || ignoredPrefix.map(source.hasPrefix) == true {
                targetOf.append(-1)
                continue
            }
            if let index = matched[slot] {
                targetOf.append(index)
                continue
            }
            let base = rules.normalize(source)
            // Then by folded name, when no other source of this load holds that column.
            if let index = columns.firstIndex(where: { $0.name == base && !systemNames.contains(base) }),
                !claimed.contains(index)
            {
                targetOf.append(index)
                claimed.insert(index)
                continue
            }
            var name = base
            var n = 2
            var legacy: Int?
            while usedNames.contains(name) {
                name = NamingRules.fitting(base, limit: NamingRules.maxLength - 1 - String(n).count) + "_\(n)"
                n += 1
                // A table from before source names were recorded: its `id_2` is the second `id`.
                if let index = columns.firstIndex(where: { $0.name == name }), columns[index].source == nil,
                    !claimed.contains(index)
                {
                    legacy = index
                    break
                }
            }
            if let legacy {
                targetOf.append(legacy)
                claimed.insert(legacy)
                continue
            }
            if name != base { renamed.append((source, name)) }
            if onlyDeclared && declaredTypes[source] == nil {
                undeclared.append(source)
                targetOf.append(-1)
                continue
            }
            if tableExists {
                switch contract {
                case .evolve: break
                case .freeze:
                    throw PlanError(
                        message: "\(table) has no column \(name)\(name == source ? "" : " (\"\(source)\" in the data)"), "
                            + "and --schema-contract freeze adds no columns; add it with ALTER TABLE \(table.quoted) "
                            + "ADD COLUMN \(quoteIdentifier(name)) …, or load with --schema-contract evolve")
                case .discardRow, .discardValue:
                    targetOf.append(-1)
                    discardedNames[slot] = name
                    continue
                }
            }
            usedNames.insert(name)
            let type = overrides[source] ?? overrides[name] ?? declaredTypes[source] ?? Self.infer(batch, slot: slot)
            targetOf.append(columns.count + newColumns.count)
            claimed.insert(columns.count + newColumns.count)
            newColumns.append(TargetColumn(name: name, type: type, source: name == source ? nil : source))
        }
        if key.isEmpty && !requestedKey.isEmpty { try resolveKey(with: newColumns) }
        var missingSystem: [TargetColumn] = []
        if !systemReady {
            systemReady = true
            for system in systemColumns where !columns.contains(where: { $0.name == system.name }) {
                missingSystem.append(
                    TargetColumn(
                        name: system.name, type: system.generated.type, defaultExpression: system.batchDefault?.expression))
            }
            if tableExists && contract == .freeze && !missingSystem.isEmpty {
                let adds = missingSystem.map { "ADD COLUMN \(quoteIdentifier($0.name)) \($0.type.sqlName)" }
                throw PlanError(
                    message: "\(table) has no column \(missingSystem.map(\.name).joined(separator: ", ")), which pgsink "
                        + "fills itself, and --schema-contract freeze adds no columns; add them with ALTER TABLE "
                        + "\(table.quoted) \(adds.joined(separator: ", ")), or turn off what asks for them (--metadata, "
                        + "add_record_metadata, --delete-stale), or load with --schema-contract evolve")
            }
        }
        let total = columns.count + newColumns.count + missingSystem.count
        if total > Self.maxColumns {
            throw PlanError(
                message: "\(table) would have \(total) columns, and PostgreSQL allows at most \(Self.maxColumns) in a "
                    + "table; keep nested data in one column (--nested jsonb, or --json-column PATH with --nested "
                    + "flatten), or load fewer columns")
        }
        defer { columns += newColumns + missingSystem }
        if !tableExists {
            tableExists = true
            created = true
            if newColumns.isEmpty && !(systemColumnsSuffice && !missingSystem.isEmpty) { throw PlanError(message: "the input has no columns to create \(table) from") }
            return [.createTable(table, columns: newColumns + missingSystem, primaryKey: key)]
        }
        addedColumns += newColumns.map(\.name) + missingSystem.map(\.name)
        return (newColumns + missingSystem).map { .addColumn(table, $0) }
    }

    /// Widens existing columns to newly declared types (a later Singer SCHEMA saying `string` where
    /// the table has `bigint`); narrower or unrelated declarations leave the column as it is.
    public mutating func redeclare(_ types: [String: ColumnType]) -> [SchemaChange] {
        declaredTypes = types
        var statements: [SchemaChange] = []
        for (source, type) in types.sorted(by: { $0.key < $1.key }) {
            let name = rules.normalize(source)
            guard let index = columns.firstIndex(where: { $0.name == name || $0.name == source }) else { continue }
            let current = columns[index].type
            guard current != type, Candidates.widenings(of: current).contains(type) else { continue }
            statements.append(.alterType(table, column: columns[index].name, from: current, to: type))
            widenings.append(Widening(column: columns[index].name, from: current, to: type))
            columns[index].type = type
        }
        return statements
    }

    /// Whether the system columns were checked (they are added with the first batch).
    private var systemReady = false
    /// Source slots a discarding contract keeps out of the table, with the name they would have had.
    public private(set) var discardedNames: [Int: String] = [:]

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

    /// The COPY columns for the load: every target column the data has, with its source, then
    /// the system columns.
    public var copyColumns: [CopyColumn] {
        var result: [CopyColumn] = []
        var seen = Set<Int>()
        for (slot, target) in targetOf.enumerated() where target >= 0 && seen.insert(target).inserted {
            let column = columns[target]
            result.append(
                CopyColumn(name: column.name, type: column.type, source: slot, required: key.contains(column.name)))
        }
        for system in systemColumns where columns.contains(where: { $0.name == system.name }) {
            result.append(
                CopyColumn(name: system.name, type: system.generated.type, source: nil, generated: system.generated))
        }
        return result
    }

    /// The system columns a batch leaves out of its COPY, with the setting and value their
    /// default then returns: columns whose table column has the system column's batch default
    /// and whose value is the same in every row of the batch (`BatchDefault`).
    public func batchDefaults(in batch: RecordBatch) -> [(column: String, setting: String, value: String)] {
        var result: [(column: String, setting: String, value: String)] = []
        for system in systemColumns {
            guard let batchDefault = system.batchDefault, case .json(let prefix, let slot, let ifNull, let suffix) = system.generated,
                let column = columns.first(where: { $0.name == system.name }), batchDefault.isDefault(of: column)
            else { continue }
            let empty = slot >= batch.columnCount
                || (0..<batch.rowCount).allSatisfy { batch.isSkipped($0) || batch.cell(row: $0, column: slot).isNull }
            guard empty else { continue }
            result.append((system.name, batchDefault.setting, String(decoding: prefix + ifNull + suffix, as: UTF8.self)))
        }
        return result
    }

    /// A column whose values did not all fit and that may not change type: the contract is not
    /// evolve, `--type` pinned it, or no wider type holds the values.
    public struct StuckColumn: Sendable {
        /// The index in `copyColumns`.
        public var index: Int
        public var column: CopyColumn
        public var reason: String
    }

    /// Widens the columns whose values did not fit, returning the ALTER statements and the columns
    /// that cannot be widened (their rows must be rejected, or the load fails).
    public mutating func widen(_ misfits: BatchEncoder.Misfits, in batch: RecordBatch) -> (
        statements: [SchemaChange], stuck: [StuckColumn]
    ) {
        let copy = copyColumns
        var statements: [SchemaChange] = []
        var stuck: [StuckColumn] = []
        for (index, _) in misfits.sorted(by: { $0.key < $1.key }) {
            let column = copy[index]
            guard let slot = column.source, let target = columns.firstIndex(where: { $0.name == column.name }) else {
                continue
            }
            let current = columns[target].type
            if contract != .evolve {
                stuck.append(StuckColumn(index: index, column: column, reason: "--schema-contract \(contract.rawValue) keeps its type"))
                continue
            }
            if let why = fixedTypes[column.name] {
                stuck.append(StuckColumn(index: index, column: column, reason: why))
                continue
            }
            if isPinned(column.name, slot: slot) {
                stuck.append(StuckColumn(index: index, column: column, reason: "--type fixes its type"))
                continue
            }
            guard let wider = Self.widening(of: current, slot: slot, in: batch) else {
                stuck.append(StuckColumn(index: index, column: column, reason: "no wider type holds it"))
                continue
            }
            statements.append(.alterType(table, column: column.name, from: current, to: wider))
            widenings.append(Widening(column: column.name, from: current, to: wider))
            columns[target].type = wider
        }
        return (statements, stuck)
    }

    /// The narrowest type above `current` that takes every value of the batch in `slot`, if any.
    public static func widening(of current: ColumnType, slot: Int, in batch: RecordBatch) -> ColumnType? {
        var fits = Candidates.all
        for row in 0..<batch.rowCount where !batch.isSkipped(row) {
            let cell = batch.cell(row: row, column: slot)
            if cell.isNull { continue }
            fits.formIntersection(Candidates.of(batch.pointer(cell), Int(cell.length), kind: cell.kind, jsonStrict: false))
        }
        return fits.widening(of: current)
    }

    /// Whether `--type` named the column (by its source or its table name).
    private func isPinned(_ name: String, slot: Int) -> Bool {
        overrides[name] != nil || overrides.keys.contains { rules.normalize($0) == name }
    }

    public static func excerpt(_ value: String) -> String {
        let short = value.count > 60 ? String(value.prefix(60)) + "…" : value
        return "\"" + short + "\""
    }
}

/// What may change in a table's shape during a load (dlt's schema contracts).
public enum SchemaContract: String, Sendable, CaseIterable, Codable {
    /// New tables and columns are created; types widen.
    case evolve
    /// Any new table or column is an error; values of the wrong type are rejected rows.
    case freeze
    /// Rows that would need a change (a new column, a wider type) are set aside as rejects.
    case discardRow = "discard-row"
    /// Values that would need a change become NULL and are set aside as rejects.
    case discardValue = "discard-value"
}

/// A column pgsink fills itself.
public struct SystemColumn: Sendable, Equatable {
    public var name: String
    public var generated: Generated
    /// A DEFAULT the column gets when pgsink creates it, which lets a batch whose rows would all
    /// get the same value leave the column out of its COPY.
    public var batchDefault: BatchDefault?

    public init(name: String, generated: Generated, batchDefault: BatchDefault? = nil) {
        self.name = name
        self.generated = generated
        self.batchDefault = batchDefault
    }
}

/// A column default that returns a transaction-local server setting: a batch whose rows would all
/// get the same value (a `Generated.json` column whose slot is empty in every row) leaves the
/// column out of its COPY and sets the setting instead, so the server reads the value once per
/// statement rather than once per row. (Airbyte's `_airbyte_meta`: parsing a jsonb value per row
/// costs the server as much as the rest of a row.)
public struct BatchDefault: Sendable, Equatable {
    /// The DEFAULT expression: a call of `function` without arguments.
    public var expression: String
    /// The function's own name, to recognise the default in a table pgsink created before.
    public var function: String
    /// The setting the function returns.
    public var setting: String

    public init(expression: String, function: String, setting: String) {
        self.expression = expression
        self.function = function
        self.setting = setting
    }

    /// Whether a column's DEFAULT, as the catalog prints it (qualified or not, quoted or not), is this one.
    public func isDefault(of column: TargetColumn) -> Bool {
        guard let expression = column.defaultExpression else { return false }
        let bare = String(expression.filter { $0 != "\"" })
        return bare == "\(function)()" || bare.hasSuffix(".\(function)()")
    }
}

/// A load that cannot be planned as asked.
public struct PlanError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}
