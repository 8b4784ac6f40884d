import Foundation
import PGSinkCore

/// `pgsink check --from SOURCE`: what `pgsink cdc stream` needs of the source, one line each,
/// with the fix for every failure.
public enum SourceCheck {
    public static func run(_ connector: Connector, publication: String, slot: String) -> [CheckResult] {
        let connection: PGConnection
        do {
            connection = try connector.connect()
        } catch {
            return [ConnectionCheck.diagnose(error, settings: connector.settings)]
        }
        var results = [CheckResult(passed: true, name: "source", detail: "connected to \(connection.endpoint)")]
        func value(_ sql: String, _ parameters: [String?] = []) -> String? {
            (try? connection.query(sql, parameters).rows.first?[0]) ?? nil
        }
        let level = value("SHOW wal_level") ?? "unknown"
        results.append(
            CheckResult(
                passed: level == "logical", name: "wal_level", detail: level,
                fix: "on the source: ALTER SYSTEM SET wal_level = logical; then restart it"))
        let role = connection.user
        let replicates = value("SELECT (rolreplication OR rolsuper)::text FROM pg_roles WHERE rolname = current_user") == "true"
        results.append(
            CheckResult(
                passed: replicates, name: "replication role",
                detail: replicates ? "\(role) may replicate" : "\(role) has no REPLICATION attribute",
                fix: "as a superuser on the source: ALTER ROLE \(quoteIdentifier(role)) REPLICATION"))
        let slots = Int(value("SHOW max_replication_slots") ?? "") ?? 0
        let used = Int(value("SELECT count(*)::text FROM pg_replication_slots") ?? "") ?? 0
        let slotExists = value("SELECT 1::text FROM pg_replication_slots WHERE slot_name = $1", [slot]) != nil
        let roomForSlot = slotExists || used < slots
        results.append(
            CheckResult(
                passed: roomForSlot, name: "replication slots",
                detail: slotExists ? "slot \(slot) exists (\(used) of \(slots) in use)" : "\(used) of \(slots) in use; \(slot) will be created",
                fix: "on the source: ALTER SYSTEM SET max_replication_slots = \(max(slots * 2, used + 4)); then restart it, or drop "
                    + "a slot no longer used (pgsink cdc drop --slot NAME)"))
        if let owner = value(
            "SELECT pg_get_userbyid(pubowner) FROM pg_publication WHERE pubname = $1", [publication])
        {
            let tables = value("SELECT count(*)::text FROM pg_publication_tables WHERE pubname = $1", [publication]) ?? "0"
            results.append(
                CheckResult(
                    passed: tables != "0", name: "publication",
                    detail: "\(publication) (owner \(owner)) publishes \(tables) table\(tables == "1" ? "" : "s")",
                    fix: "as \(owner) on the source: ALTER PUBLICATION \(quoteIdentifier(publication)) ADD TABLE …"))
        } else {
            let canCreate = value("SELECT has_database_privilege(current_database(), 'CREATE')::text") == "true"
            results.append(
                CheckResult(
                    passed: canCreate, name: "publication",
                    detail: canCreate
                        ? "\(publication) does not exist; pgsink cdc stream creates it (for --tables, or FOR ALL TABLES as a superuser)"
                        : "\(publication) does not exist, and \(role) may not create it",
                    fix: "as the tables' owner on the source: CREATE PUBLICATION \(quoteIdentifier(publication)) FOR TABLE …"))
        }
        return results
    }
}
