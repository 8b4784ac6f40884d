/// How a change feed's deletes reach the table.
public enum DeleteMode: String, Sendable, CaseIterable, Codable {
    /// The row goes.
    case hard
    /// The row stays, with `_pgsink_deleted_at` set (a later re-create clears it).
    case soft
}

/// A change feed's batch (CDC): upserts and deletes of keys, in one staged COPY. Rows whose
/// `_pgsink_deleted_at` is set are deletes; the others are upserts. (docs/cdc.md)
public struct ChangeApplication: Sendable, Equatable {
    public var deletes: DeleteMode
    /// The value a source sends for a column it did not read (Debezium's
    /// `unavailable.value.placeholder`: an unchanged TOASTed value of an update); an upsert keeps
    /// the stored value of such a column.
    public var unavailable: String?
    /// Hard deletes leave a tombstone (the key and the delete's position, in `_pgsink_deletes`)
    /// that keeps a replayed older change of the key out: for at-least-once feeds (`cdc apply`),
    /// not for a replication stream, whose changes arrive in order and once.
    public var remembersDeletes: Bool

    public init(deletes: DeleteMode, unavailable: String? = "__debezium_unavailable_value", remembersDeletes: Bool = false) {
        self.deletes = deletes
        self.unavailable = unavailable
        self.remembersDeletes = remembersDeletes
    }

    /// The text forms of the placeholder, as `column::text` shows it: plain text, a JSON string,
    /// bytea (its UTF-8 bytes), its bytes in base64 (a bytes column without a schema is text), and
    /// a one-element array (PostgreSQL's, or JSON's: an array column lands in jsonb).
    public var unavailableForms: [String] {
        guard let unavailable, !unavailable.isEmpty else { return [] }
        let bytes = Array(unavailable.utf8)
        return [
            unavailable, "\"\(unavailable)\"", DebeziumValue.byteaText(bytes), Base64.encode(bytes), "{\(unavailable)}", "{\"\(unavailable)\"}",
            "[\"\(unavailable)\"]",
        ]
    }

    /// The source position of a row's last change (`source.lsn`).
    public static let lsnColumn = "_pgsink_lsn"
    /// The source's commit time of a row's last change (`source.ts_ms`).
    public static let sourceTimeColumn = "_pgsink_source_ts"
    /// When the source deleted the row (soft deletes); in the staging table, the mark of a delete.
    public static let deletedColumn = "_pgsink_deleted_at"

    /// The columns a change feed's reader fills from the hidden cells of each record: its
    /// position (lsn, then time) and its delete mark, in `envelope` order.
    public static func systemColumns(envelope: [Int]) -> [SystemColumn] {
        [
            SystemColumn(name: lsnColumn, generated: .integer(slot: envelope[0])),
            SystemColumn(name: sourceTimeColumn, generated: .epochMilliseconds(slot: envelope[1], fallback: nil)),
            SystemColumn(name: deletedColumn, generated: .epochMilliseconds(slot: envelope[2], fallback: nil)),
        ]
    }
}

extension SQL {
    /// The statements that apply a staged batch of changes (COPYed with its load order in
    /// `_pgsink_seq`) to `table`, in one transaction:
    /// 1. with `reduce` (a key occurs more than once), every key keeps only its newest change: by
    ///    position (`_pgsink_lsn`, then `_pgsink_source_ts`; unknown is oldest), then load order
    ///    (soft deletes also keep the newest upsert before a final delete: the row's last values);
    /// 2. hard deletes remove the rows, then the upserts, `INSERT … ON CONFLICT (key) DO UPDATE`;
    ///    or the upserts, then soft deletes mark the rows (and keep a marked row for a key the
    ///    table never had, so that an older replayed change cannot bring it back). Hard deletes of
    ///    a feed that remembers them (`tombstones`) leave the key and position there instead, and
    ///    an upsert older than a key's tombstone is left out.
    /// Neither a delete nor an upsert touches a row whose stored position is newer than the
    /// change's (an at-least-once feed's replay of an older change).
    public static func applyChanges(
        _ stage: String, into table: TableName, columns: [CopyColumn], key: [String], reduce: Bool,
        application: ChangeApplication, keepsUnavailable: Bool = false, hasDeletes: Bool = true,
        tombstones: TableName? = nil
    ) -> [String] {
        let names = columns.map(\.name)
        let has = Set(names)
        let lsn = ChangeApplication.lsnColumn, time = ChangeApplication.sourceTimeColumn
        let deleted = ChangeApplication.deletedColumn
        let s = quoteIdentifier(stage)
        var statements: [String] = []
        let isDelete = has.contains(deleted) ? "\(quoteIdentifier(deleted)) IS NOT NULL" : "false"
        let forms = application.unavailableForms.map { "'" + $0.replacing("'", with: "''") + "'" }.joined(separator: ", ")
        let plain = names.filter { !key.contains($0) && ![lsn, time, deleted].contains($0) }
        if reduce && keepsUnavailable && !forms.isEmpty {
            // A value the source did not send takes the key's latest earlier value in the batch,
            // before the batch is reduced to each key's newest change.
            let seq = quoteIdentifier(sequenceColumn)
            for name in plain {
                let c = quoteIdentifier(name)
                statements.append(
                    "UPDATE \(s) AS s SET \(c) = p.\(c) FROM \(s) AS p WHERE s.\(c)::text IN (\(forms)) AND \(sameKey(key, "p", "s")) "
                        + "AND p.\(seq) = (SELECT max(q.\(seq)) FROM \(s) AS q WHERE \(sameKey(key, "q", "s")) AND q.\(seq) < s.\(seq) "
                        + "AND q.\(c)::text NOT IN (\(forms)))")
            }
        }
        if reduce {
            var order: [String] = []
            if has.contains(lsn) { order.append("\(quoteIdentifier(lsn)) DESC NULLS LAST") }
            if has.contains(time) { order.append("\(quoteIdentifier(time)) DESC NULLS LAST") }
            order.append("\(quoteIdentifier(sequenceColumn)) DESC")
            let seq = quoteIdentifier(sequenceColumn)
            let newest = "ORDER BY \(order.joined(separator: ", "))"
            if application.deletes == .soft && has.contains(deleted) {
                // A soft delete keeps the row's last values: when a key's newest change is a delete,
                // its newest upsert stays too, applied before the delete marks the row.
                statements.append(
                    "DELETE FROM \(s) USING (SELECT \(seq), row_number() OVER (PARTITION BY \(list(key)) \(newest)) AS n, "
                        + "row_number() OVER (PARTITION BY \(list(key)), \(isDelete) \(newest)) AS m, "
                        + "first_value(\(isDelete)) OVER (PARTITION BY \(list(key)) \(newest)) AS newest_deletes, "
                        + "\(isDelete) AS deletes FROM \(s)) AS r WHERE \(s).\(seq) = r.\(seq) AND r.n > 1 "
                        + "AND NOT (r.newest_deletes AND NOT r.deletes AND r.m = 1)")
            } else {
                statements.append(
                    "DELETE FROM \(s) USING (SELECT \(seq), row_number() OVER (PARTITION BY \(list(key)) \(newest)) AS n "
                        + "FROM \(s)) AS r WHERE \(s).\(seq) = r.\(seq) AND r.n > 1")
            }
        }
        let notOlder = notOlder(has: has, stored: "t", incoming: "EXCLUDED")
        let updated = names.filter { !key.contains($0) }
        let action =
            updated.isEmpty
            ? "DO NOTHING"
            : "DO UPDATE SET "
                + updated.map { name in
                    let c = quoteIdentifier(name)
                    guard keepsUnavailable, !forms.isEmpty, plain.contains(name) else { return "\(c) = EXCLUDED.\(c)" }
                    // A value the source did not send (an unchanged TOASTed column) keeps the stored one.
                    return "\(c) = CASE WHEN EXCLUDED.\(c)::text IN (\(forms)) THEN t.\(c) ELSE EXCLUDED.\(c) END"
                }.joined(separator: ", ")
                + " WHERE \(notOlder)"
        // A key's tombstone newer than the change keeps it out (a replay of what came before the delete).
        let keyText = "ROW(\(key.map { "\(s).\(quoteIdentifier($0))" }.joined(separator: ", ")))::text"
        let name = "'" + table.name.replacing("'", with: "''") + "'"
        let tombstoned = tombstones.map {
            " AND NOT EXISTS (SELECT 1 FROM \($0.quoted) AS x WHERE x.table_name = \(name) AND x.key = \(keyText) "
                + "AND NOT \(self.notOlder(has: has, stored: "x", incoming: s)))"
        } ?? ""
        let upserts =
            "INSERT INTO \(table.quoted) AS t (\(list(names))) SELECT \(list(names)) FROM \(s) WHERE NOT (\(isDelete))\(tombstoned) "
            + "ON CONFLICT (\(list(key))) \(action)"
        // A batch without deletes needs only the upsert.
        guard has.contains(deleted), hasDeletes else { return statements + [upserts] }
        switch application.deletes {
        case .hard:
            let match = sameKey(key, "t", "d")
            statements.append(
                "DELETE FROM \(table.quoted) AS t USING \(s) AS d WHERE d.\(quoteIdentifier(deleted)) IS NOT NULL AND "
                    + "\(match) AND \(self.notOlder(has: has, stored: "t", incoming: "d"))")
            if let tombstones {
                let positions = [lsn, time].filter(has.contains).map(quoteIdentifier)
                statements.append(
                    "INSERT INTO \(tombstones.quoted) AS x (table_name, key\(positions.map { ", " + $0 }.joined())) "
                        + "SELECT \(name), \(keyText)\(positions.map { ", \(s).\($0)" }.joined()) FROM \(s) WHERE \(isDelete) "
                        + "ON CONFLICT (table_name, key) DO UPDATE SET deleted_at = clock_timestamp()"
                        + positions.map { ", \($0) = EXCLUDED.\($0)" }.joined()
                        + " WHERE \(self.notOlder(has: has, stored: "x", incoming: "EXCLUDED"))")
            }
            statements.append(upserts)
        case .soft:
            let marks = [deleted, lsn, time].filter(has.contains)
                .map { "\(quoteIdentifier($0)) = EXCLUDED.\(quoteIdentifier($0))" }
            statements.append(upserts)
            statements.append(
                "INSERT INTO \(table.quoted) AS t (\(list(names))) SELECT \(list(names)) FROM \(s) WHERE \(isDelete) "
                    + "ON CONFLICT (\(list(key))) DO UPDATE SET \(marks.joined(separator: ", ")) WHERE \(notOlder)")
        }
        return statements
    }

    /// The statements (parameter: the rows' load orders, a `bigint[]`) that give staged rows whose
    /// `column` the source did not send (`LoadStep.unchanged`, NULL in the COPY) its value: with
    /// `reduce` (a key occurs more than once), that of the key's latest earlier staged change that
    /// has it; otherwise the stored row's. Any type works: no placeholder has to fit the column.
    public static func fillUnchanged(_ stage: String, from table: TableName, column: String, key: [String], reduce: Bool)
        -> [String]
    {
        let s = quoteIdentifier(stage), c = quoteIdentifier(column), seq = quoteIdentifier(sequenceColumn)
        let keys = list(key)
        let lacking = "s.\(seq) = ANY($1::bigint[])"
        var statements: [String] = []
        var noEarlier = ""
        if reduce {
            // Each row that has the value starts a group of the key's later rows that lack it.
            statements.append(
                "UPDATE \(s) AS s SET \(c) = v.value FROM (SELECT \(seq), grp, "
                    + "first_value(\(c)) OVER (PARTITION BY \(keys), grp ORDER BY \(seq)) AS value FROM (SELECT \(seq), \(keys), \(c), "
                    + "count(*) FILTER (WHERE NOT \(seq) = ANY($1::bigint[])) OVER (PARTITION BY \(keys) ORDER BY \(seq)) AS grp "
                    + "FROM \(s)) AS w) AS v WHERE s.\(seq) = v.\(seq) AND v.grp > 0 AND \(lacking)")
            noEarlier =
                " AND NOT EXISTS (SELECT 1 FROM \(s) AS q WHERE \(sameKey(key, "q", "s")) AND q.\(seq) < s.\(seq) "
                + "AND NOT q.\(seq) = ANY($1::bigint[]))"
        }
        statements.append(
            "UPDATE \(s) AS s SET \(c) = t.\(c) FROM \(table.quoted) AS t WHERE \(sameKey(key, "t", "s")) AND \(lacking)\(noEarlier)")
        return statements
    }

    /// Whether the incoming change is not older than the stored row: by `_pgsink_lsn` when both
    /// have one, else by `_pgsink_source_ts`; with neither known, the change applies.
    static func notOlder(has: Set<String>, stored: String, incoming: String) -> String {
        var cases: [String] = []
        for column in [ChangeApplication.lsnColumn, ChangeApplication.sourceTimeColumn] where has.contains(column) {
            let c = quoteIdentifier(column)
            cases.append("WHEN \(stored).\(c) IS NOT NULL AND \(incoming).\(c) IS NOT NULL THEN \(stored).\(c) <= \(incoming).\(c)")
        }
        return cases.isEmpty ? "true" : "(CASE \(cases.joined(separator: " ")) ELSE true END)"
    }

    /// Parameter: the state's id. The table may not exist yet (`createStateTable` first).
    public static func readState(schema: String) -> String {
        "SELECT state::text FROM \(own(stateName, in: schema)) WHERE id = $1"
    }
}

/// Standard base64 with padding (for the few places the core writes it).
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var chunk = UInt32(bytes[i]) << 16
            if n > 1 { chunk |= UInt32(bytes[i + 1]) << 8 }
            if n > 2 { chunk |= UInt32(bytes[i + 2]) }
            for k in 0..<4 { out.append(k <= n ? alphabet[Int((chunk >> UInt32(18 - 6 * k)) & 63)] : UInt8(ascii: "=")) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
