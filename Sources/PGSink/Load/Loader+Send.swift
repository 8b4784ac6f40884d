import Foundation
import PGSinkCore

extension Loader {
    /// Sends one step: its rejects, then the table's rows (a merge through a staging table and
    /// one upsert), then the child tables' rows. Returns the top-level rows copied.
    func send(_ step: LoadStep, on connection: PGConnection, session: Session) throws -> Int {
        if !step.rejects.isEmpty { try writeRejects(step.rejects, session: session, on: connection) }
        for (name, value) in step.settings { try connection.query(SQL.setLocal, [name, value]) }
        if !step.settings.isEmpty {
            logger.debug("\(step.root.table): the batch's COPY leaves to the column default what \(step.settings.map(\.0).joined(separator: ", ")) holds")
        }
        let table = step.root.table
        // A change feed's batch that needs the key (deletes, repeats, keys written before) gets it first.
        if request.changes != nil, session.deferredKey != nil, !copiesStraightIn(step, session: session) {
            try settleKey(session, on: connection)
        }
        if step.hasDeletes { session.deletedRows = true }
        var rejectedRoots = Set<Int>()
        let rows: Int
        if request.mode == .merge && session.deferredKey == nil, let direct = try copyNewKeys(step, on: connection, session: session) {
            rows = direct
        } else if request.mode == .merge && session.deferredKey == nil {
            let names = step.root.columns.map(\.name)
            let key = step.root.columns.filter(\.required).map(\.name)
            let stageTable = try stage(for: step, like: table, columns: names, session: session, on: connection)
            rows = try copy(step.root, into: stageTable, sequence: !step.keysAreNew, step: step, session: session, on: connection) {
                rejectedRoots.insert($0)
            }
            for (column, sequences) in step.unchanged {
                let orders = "{" + sequences.map(String.init).joined(separator: ",") + "}"
                for statement in SQL.fillUnchanged(Self.stage, from: table, column: column, key: key, reduce: step.keysRepeat) {
                    try connection.query(statement, [orders])
                }
            }
            if !step.children.isEmpty || !session.existingChildren.isEmpty {
                for child in childTables(of: step, session: session) where child.created {
                    try connection.execute(
                        SQL.deleteChildren(of: table, child: child.table, stage: Self.stage, key: key))
                }
            }
            if let changes = request.changes {
                for statement in SQL.applyChanges(
                    Self.stage, into: table, columns: step.root.columns, key: key, reduce: step.keysRepeat,
                    application: changes, keepsUnavailable: step.keepsUnavailable, hasDeletes: step.hasDeletes,
                    tombstones: try tombstoneTable(for: step, on: connection))
                {
                    try connection.execute(statement)
                }
            } else {
                let ignored: Set<String> = [SQL.loadIdColumn, SQL.loadedAtColumn]
                try connection.execute(
                    SQL.mergeFromStage(
                        stageTable, into: table, columns: step.root.columns, key: key, deduplicate: step.keysRepeat,
                        ignoredForChange: ignored, newestBy: request.newestBy, keepsNonNull: request.keepsNonNull))
            }
            if session.distributedStage == nil { try connection.execute(SQL.dropTable(Self.stage)) }
        } else {
            var root = step.root
            // A merge whose key waits (see `settleKey`) copies straight in; its rows' physical
            // order is the load order, so the numbering the staged upsert uses goes.
            if request.mode == .merge && !step.keysAreNew { root.encoded = root.encoded.droppingSequence() }
            rows = try copy(root, into: table, sequence: false, step: step, session: session, on: connection) {
                rejectedRoots.insert($0)
            }
        }
        if request.mode == .merge {
            if step.keysAreNew { keysWritten.addUnhashed() } else { keysWritten.add(step.keyHashes, raw: step.rawKeyHashes) }
        }
        for var child in step.children {
            // Child rows of a top-level row the server refused go with it.
            if !rejectedRoots.isEmpty, let rootRows = child.rootRows {
                for index in child.encoded.rows.indices.reversed() where rejectedRoots.contains(rootRows[child.encoded.rows[index]]) {
                    child.encoded = child.encoded.removing(row: index)
                }
            }
            let copied = try copy(child, into: child.table, sequence: false, step: step, session: session, on: connection) { _ in }
            session.childRows[child.table.description, default: 0] += copied
        }
        return rows
    }

    /// The staging table of a merge batch: a temporary table, or for a plain merge into a
    /// distributed table, one distributed like it (created once per load, emptied per batch), so
    /// that the upsert is pushed down to the shards.
    private func stage(
        for step: LoadStep, like table: TableName, columns: [String], session: Session, on connection: PGConnection
    ) throws -> TableName {
        guard let column = citus.target?.column, request.changes == nil, step.unchanged.isEmpty, step.children.isEmpty,
            session.existingChildren.isEmpty
        else {
            try connection.execute(SQL.createStage(Self.stage, like: table, columns: columns))
            return TableName(schema: "pg_temp", name: Self.stage)
        }
        if let stage = session.distributedStage {
            try connection.execute(SQL.truncate(stage))
            return stage
        }
        let stage = TableName(schema: table.schema, name: "\(Self.stage)_\(session.loadId)")
        try connection.execute(SQL.createDistributedStage(stage, like: table, columns: columns))
        try connection.query(SQL.distributeLike, [stage.quoted, column, table.quoted])
        session.distributedStage = stage
        logger.info("\(table) is distributed by \(column): merge batches stage in \(stage), colocated with it, and upsert on the shards")
        return stage
    }

    /// Drops a merge's distributed staging table (before the commit, in the load's transaction).
    func dropDistributedStage(_ session: Session, on connection: PGConnection) throws {
        guard let stage = session.distributedStage else { return }
        session.distributedStage = nil
        try connection.execute("DROP TABLE IF EXISTS \(stage.quoted)")
    }

    /// Where a change feed that remembers its hard deletes keeps their tombstones, when its upserts
    /// must respect some: created with the first batch that deletes, and looked for once otherwise.
    private func tombstoneTable(for step: LoadStep, on connection: PGConnection) throws -> TableName? {
        guard let changes = request.changes, changes.remembersDeletes, changes.deletes == .hard else { return nil }
        let schema = request.table.schema
        if step.hasDeletes {
            try connection.execute(SQL.createDeletes(schema: schema))
            tombstones.exist = true
        } else if tombstones.exist == nil {
            tombstones.exist =
                try Catalog.kind(of: SQL.deletesTable(schema: schema), on: connection) != nil
                && connection.query(SQL.hasDeletes(schema: schema), [request.table.name]).rows.first?[0] == "true"
        }
        return tombstones.exist == true ? SQL.deletesTable(schema: schema) : nil
    }

    /// A table this feed creates starts without tombstones: those of an earlier table of the name go.
    func forgetTombstones(on connection: PGConnection) throws {
        let schema = request.table.schema
        if try Catalog.kind(of: SQL.deletesTable(schema: schema), on: connection) != nil {
            try connection.query(SQL.forgetDeletes(schema: schema), [request.table.name])
        }
        tombstones.exist = false
    }

    /// A merge batch into a table this load created, whose keys the table has never held and
    /// which holds no key twice, needs no upsert: it is copied straight in, under a savepoint.
    /// When the COPY fails anyway (a row someone else wrote meanwhile, a value the server refuses),
    /// the savepoint undoes it and nil sends the batch the staged way, which handles both.
    private func copyNewKeys(_ step: LoadStep, on connection: PGConnection, session: Session) throws -> Int? {
        guard copiesStraightIn(step, session: session) else { return nil }
        let encoded = step.keysAreNew ? step.root.encoded : step.root.encoded.droppingSequence()
        let sql = SQL.copy(step.root.table, columns: step.root.columns.map(\.name), format: encoded.format)
        return try Transaction.savepoint("pgsink_new_keys", on: connection, {
            let rows = try connection.copyIn(sql, data: encoded.data)
            logger.debug("\(Wording.count(rows, "row")) with new keys copied straight into \(step.root.table)")
            return rows
        }) { error in
            logger.debug("copying new keys straight in failed (\(error.message)); upserting the batch instead")
            return nil
        }
    }

    /// Whether a merge batch may be copied straight into a table this load created: no child
    /// rows, no key twice, none of its keys written before (known from their hashes, or from the
    /// batch: `LoadStep.keysAreNew`), and nothing an upsert must decide
    /// (a hard delete must not arrive as a row; a soft one may: it is the row the upsert would
    /// add; a value the source did not send needs the stored one).
    private func copiesStraightIn(_ step: LoadStep, session: Session) -> Bool {
        step.children.isEmpty && session.existingChildren.isEmpty && !step.keysRepeat
            && !(step.hasDeletes && request.changes?.deletes == .hard) && !step.keepsUnavailable && step.unchanged.isEmpty
            && (step.keysAreNew ? keysWritten.isTracking : keysWritten.areNew(step.keyHashes, raw: step.rawKeyHashes))
    }

    /// The child tables a merge must clear for the records of a step: those of earlier loads and
    /// those this load has made so far.
    private func childTables(of step: LoadStep, session: Session) -> [(table: TableName, created: Bool)] {
        var names = Set(session.existingChildren.keys)
        var result = session.existingChildren.keys.sorted().map { (TableName(schema: request.table.schema, name: $0), true) }
        for child in step.children where !names.contains(child.table.name) {
            names.insert(child.table.name)
            result.append((child.table, true))
        }
        return result
    }

    /// COPYs one part. With --max-rejects, each COPY runs under a savepoint: a row the server
    /// refuses (bad data, a constraint, a limit) is set aside and the rest is sent again.
    func copy(
        _ part: StepPart, into target: TableName, sequence: Bool, step: LoadStep, session: Session,
        on connection: PGConnection, rejected: (Int) -> Void
    ) throws -> Int {
        var encoded = part.encoded
        let names = part.copyColumnNames(sequence: sequence)
        let sql = SQL.copy(target, columns: names, format: encoded.format)
        guard request.maxRejects > 0 else {
            do {
                return try connection.copyIn(sql, data: encoded.data)
            } catch let error as PGError {
                throw located(error, part, encoded, step)
            }
        }
        while true {
            let copied: Int? = try Transaction.savepoint("pgsink_batch", on: connection, { try connection.copyIn(sql, data: encoded.data) }) {
                error in
                guard let row = error.copyRow, row >= 1, row <= encoded.rows.count, Self.isRowLevel(error) else {
                    throw located(error, part, encoded, step)
                }
                let batchRow = encoded.rows[row - 1]
                var reason = "the server refused the row: \(error.message)"
                if let sqlState = error.sqlState { reason += " (SQLSTATE \(sqlState))" }
                if let detail = error.detail { reason += "; \(Wording.clause(detail))" }
                // Binary COPY's error context names the column but not the value: read it back.
                let field = error.copyColumn.flatMap { names.firstIndex(of: $0) }
                let textual = field.map { part.columns.indices.contains($0) && part.columns[$0].type.binaryFormIsText } ?? false
                let value = error.copyValue ?? (textual ? field.flatMap { encoded.binaryText(row: row - 1, field: $0) } : nil)
                let reject = Reject(
                    source: step.source, line: part.lines[batchRow], column: error.copyColumn,
                    value: value, reason: reason, discarded: false)
                session.serverRejected += 1
                if step.rejectedSoFar + session.serverRejected > request.maxRejects {
                    throw RejectLimit(limit: request.maxRejects, last: reject)
                }
                try writeRejects([reject], session: session, on: connection, table: target)
                rejected(batchRow)
                encoded = encoded.removing(row: row - 1)
                return nil
            }
            if let copied { return copied }
        }
    }

    /// Errors that belong to one row's values: data exceptions, constraint violations, limits.
    static func isRowLevel(_ error: PGError) -> Bool {
        guard let state = error.sqlState else { return false }
        return state.hasPrefix("22") || state.hasPrefix("23") || state.hasPrefix("54")
    }

    /// Names the input line a COPY error points at (the server counts rows within the COPY).
    private func located(_ error: PGError, _ part: StepPart, _ encoded: BatchEncoder.EncodedBatch, _ step: LoadStep)
        -> Error
    {
        // A lost connection or an administrator's shutdown is not the row's fault: it stays a
        // PGError, which the command retries.
        guard let row = error.copyRow, row >= 1, row <= encoded.rows.count, !error.isTransient else { return error }
        var message = "the server rejected the row: \(error.message)"
        if let sqlState = error.sqlState { message += " (SQLSTATE \(sqlState))" }
        if let detail = error.detail { message += "; \(Wording.clause(detail))" }
        if error.sqlState == "22021" && request.encoding == nil {
            // Invalid UTF-8 past the sniffer's sample: most such files are Windows-1252 or Latin-1.
            message += "; the text is not UTF-8: pass --encoding windows-1252 (or the file's encoding, e.g. --encoding latin1)"
        } else if Self.isRowLevel(error) {
            message += "; pass --max-rejects N to set up to N such rows aside"
        }
        return InputError(
            source: step.source, line: part.lines[encoded.rows[row - 1]], column: error.copyColumn, message: message)
    }

    /// Adds rows to `_pgsink_rejects` (created on first use), inside the load's transaction.
    func writeRejects(_ rejects: [Reject], session: Session, on connection: PGConnection, table: TableName? = nil) throws {
        var rejects = rejects
        if let discards = request.discards {
            try writeDiscards(rejects.filter(\.discarded), into: discards, session: session, on: connection, table: table)
            rejects.removeAll(where: \.discarded)
            guard !rejects.isEmpty else { return }
        }
        let schema = request.table.schema
        if !session.rejectsTableReady {
            try connection.execute(SQL.createRejects(schema: schema))
            session.rejectsTableReady = true
        }
        let data = ByteStorage(capacity: 256 * rejects.count + 64)
        for reject in rejects {
            let fields: [String?] = [
                // As the ledger names it: without the schema.
                String(session.loadId), (table ?? request.table).name, reject.source,
                reject.line > 0 ? String(reject.line) : nil, reject.column, reject.value, reject.reason,
                reject.discarded ? "discarded" : "rejected",
            ]
            for (index, field) in fields.enumerated() {
                if index > 0 { data.append(9) }
                data.append(contentsOf: field.map { ConstantValue.text($0).text } ?? [92, 78])
            }
            data.append(10)
        }
        _ = try connection.copyIn(SQL.copyRejects(schema: schema), data: data)
    }

    /// Adds values dropped because they did not fit to `discards` (RudderStack's `rudder_discards`:
    /// the table, the row's id, the column, the value as text, the row's received_at, and why),
    /// inside the load's transaction.
    private func writeDiscards(
        _ discards: [Reject], into target: TableName, session: Session, on connection: PGConnection, table: TableName?
    ) throws {
        guard !discards.isEmpty else { return }
        if !session.discardsTableReady {
            try connection.execute(SQL.createDiscards(target))
            session.discardsTableReady = true
        }
        let data = ByteStorage(capacity: 256 * discards.count + 64)
        for discard in discards {
            let fields: [String?] = [
                (table ?? request.table).name, discard.rowId, discard.column, discard.value, discard.receivedAt, discard.reason,
            ]
            for (index, field) in fields.enumerated() {
                if index > 0 { data.append(9) }
                data.append(contentsOf: field.map { ConstantValue.text($0).text } ?? [92, 78])
            }
            data.append(10)
        }
        _ = try connection.copyIn(SQL.copyDiscards(target), data: data)
    }

    /// --unique, --index and --performance-indexes (and the index on child tables' root ids),
    /// each created once: an index on the same columns with the same uniqueness is reused.
    func createIndexes(producer: BatchProducer, session: Session, on connection: PGConnection) throws {
        guard request.createIndexes else { return }
        let table = request.table
        var wanted: [(TableName, [String], Bool)] = []
        wanted += request.uniqueIndexes.map { (table, $0, true) }
        wanted += request.plainIndexes.map { (table, $0, false) }
        if request.performanceIndexes && request.deleteStale {
            wanted.append((table, [SQL.sourceColumn, SQL.syncedAtColumn], false))
        }
        for child in producer.childTables(existing: session.existingChildren) {
            wanted.append((child, [SQL.rootIdColumn], false))
        }
        for (target, requested, unique) in wanted {
            guard let columns = try Catalog.columns(of: target, on: connection) else { continue }
            let names = try requested.map { name in
                let normalized = request.naming.normalize(name)
                guard let column = columns.first(where: { $0.name == name || $0.name == normalized }) else {
                    throw LoadError(
                        "--\(unique ? "unique" : "index") names \"\(name)\", which is not a column of \(target); columns: "
                            + columns.map(\.name).joined(separator: ", "))
                }
                return column.name
            }
            let existing = try Catalog.indexes(of: target, on: connection)
            if existing.contains(where: { $0.columns == names && ($0.unique || !unique) }) { continue }
            let name = try indexName(for: target, columns: names, unique: unique, on: connection)
            let statement = SQL.createIndex(name, on: target, columns: names, unique: unique)
            logger.info("\(statement)", metadata: ["load.table": "\(table)"])
            do {
                try connection.execute(statement)
            } catch let error as PGError where error.sqlState == "23505" {
                throw LoadError(
                    "cannot create the unique index on \(target) (\(names.joined(separator: ", "))): "
                        + "\(error.detail ?? error.message); the table holds duplicates of that key")
            }
            session.indexesCreated.append(name)
        }
    }

    /// `<table>_<columns>_key|idx`, under 63 bytes, and not the name of anything in the schema.
    private func indexName(for table: TableName, columns: [String], unique: Bool, on connection: PGConnection) throws
        -> String
    {
        let base = table.name + "_" + columns.joined(separator: "_") + (unique ? "_key" : "_idx")
        var candidate = NamingRules.fitting(base)
        var n = 2
        while try !connection.query(SQL.relationExists, [table.schema, candidate]).rows.isEmpty {
            candidate = NamingRules.fitting(base, limit: NamingRules.maxLength - 1 - String(n).count) + "_\(n)"
            n += 1
        }
        return candidate
    }
}

extension BatchProducer {
    /// Every child table of the load: those of earlier loads and those this load made.
    func childTables(existing: [String: [TargetColumn]]) -> [TableName] {
        var names = Set(existing.keys)
        var result = existing.keys.sorted().map { TableName(schema: request.table.schema, name: $0) }
        for stream in children where stream.planner.tableExists && !names.contains(stream.table.name) {
            names.insert(stream.table.name)
            result.append(stream.table)
        }
        return result
    }
}
