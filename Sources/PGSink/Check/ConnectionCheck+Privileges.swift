import Foundation
import PGSinkCore

extension ConnectionCheck {
    /// The privileges a load in `target.mode` needs, each with the GRANT that gives it.
    static func privileges(on connection: PGConnection, target: Target) throws -> [CheckResult] {
        let user = quoteIdentifier(connection.user)
        let row = try connection.query(SQL.checkPrivileges, [target.schema, target.table]).rows.first ?? []
        func flag(_ index: Int) -> Bool? { index < row.count ? row[index].map { $0 == "t" } : nil }
        let database = row.first.flatMap { $0 } ?? "?"
        let quotedDatabase = quoteIdentifier(database)
        let schema = quoteIdentifier(target.schema)
        var results: [CheckResult] = []
        results.append(CheckResult(
            passed: flag(1) == true, name: "CONNECT", detail: "on database \(database)",
            fix: "GRANT CONNECT ON DATABASE \(quotedDatabase) TO \(user);"))
        let schemaExists = flag(2) == true
        if schemaExists {
            results.append(CheckResult(
                passed: flag(3) == true, name: "USAGE", detail: "on schema \(target.schema)",
                fix: "GRANT USAGE ON SCHEMA \(schema) TO \(user);"))
            let tableExists = flag(6) == true
            results.append(CheckResult(
                passed: flag(4) == true, name: "CREATE",
                detail: "on schema \(target.schema) (\(tableExists ? "for pgsink's ledger and rejects tables" : "to create the table"))",
                fix: "GRANT CREATE ON SCHEMA \(schema) TO \(user);"))
        } else {
            results.append(CheckResult(
                passed: flag(5) == true, name: "CREATE", detail: "on database \(database) (schema \(target.schema) is missing and must be created)",
                fix: "GRANT CREATE ON DATABASE \(quotedDatabase) TO \(user);  (or create the schema: CREATE SCHEMA \(schema) AUTHORIZATION \(user);)"))
        }
        if target.mode == .merge {
            results.append(CheckResult(
                passed: flag(7) == true, name: "TEMPORARY", detail: "on database \(database) (merge stages each batch in a temporary table)",
                fix: "GRANT TEMPORARY ON DATABASE \(quotedDatabase) TO \(user);"))
        }
        if let tableName = target.table, flag(6) == true {
            let table = schema + "." + quoteIdentifier(tableName)
            var needed = ["INSERT", "SELECT"]
            if target.mode == .merge { needed.append("UPDATE") }
            if target.mode == .replace || target.deleteStale { needed.append("DELETE") }
            let granted = ["INSERT": flag(8), "SELECT": flag(9), "UPDATE": flag(10), "DELETE": flag(11)]
            let missing = needed.filter { granted[$0] != true }
            results.append(CheckResult(
                passed: missing.isEmpty, name: needed.joined(separator: ", "),
                detail: "on table \(target.schema).\(tableName) (\(target.mode.rawValue)\(target.deleteStale ? " with stale-row deletion" : ""))",
                fix: missing.isEmpty ? nil : "GRANT \(missing.joined(separator: ", ")) ON \(table) TO \(user);"))
            results.append(CheckResult(
                passed: flag(12) == true, name: "owner", detail: "of table \(target.schema).\(tableName) (to add and widen columns)",
                fix: "ALTER TABLE \(table) OWNER TO \(user);  (or load with --schema-contract freeze, which changes no column)"))
        }
        return results
    }
}
