import Foundation
import PGSinkCore

extension ConnectionCheck {
    /// A Citus coordinator: its version, its workers and its distributed and reference tables
    /// (the target's placement first); nil on a plain server where no Citus option was asked for.
    static func citus(on connection: PGConnection, target: Target) -> CheckResult? {
        let asked = target.distribution.isRequested
        do {
            guard let version = try Citus.version(on: connection) else {
                guard asked else { return nil }
                return CheckResult(
                    passed: false, name: "citus",
                    detail: "\(Loader.distributionFlags(target.distribution)) needs a Citus coordinator; this server has no citus extension",
                    fix: "point --to at the Citus coordinator, or drop the option to load into one server")
            }
            guard try Citus.isCoordinator(on: connection) else {
                return CheckResult(
                    passed: false, name: "citus", detail: "Citus \(version) worker node: loads go through the coordinator",
                    fix: "point --to at the coordinator (SELECT * FROM pg_dist_node on it lists the nodes)")
            }
            let workers = try connection.query(SQL.citusWorkers, []).rows.map { "\($0[0] ?? "?"):\($0[1] ?? "?")" }
            let tables = try connection.query(SQL.citusTables, []).rows.compactMap { row -> String? in
                guard let name = row[0], let type = row[1] else { return nil }
                switch type {
                case "distributed": return "\(name) (distributed by \(row[2] ?? "?"), \(row[3] ?? "?") shards)"
                case "reference": return "\(name) (reference)"
                default: return nil
                }
            }
            var detail = "Citus \(version) coordinator with \(Wording.count(workers.count, "worker"))"
            detail += workers.isEmpty ? "" : " (\(workers.joined(separator: ", ")))"
            detail += tables.isEmpty ? "; no distributed tables yet" : "; \(tables.joined(separator: ", "))"
            if let table = target.table {
                let name = TableName(schema: target.schema, name: table)
                if try Catalog.kind(of: name, on: connection) != nil {
                    let placement = try Citus.placement(of: name, on: connection)
                    detail += "; \(name) is \(placement?.phrase ?? "a local table on the coordinator")"
                } else if asked {
                    detail += "; \(name) will be created with \(Loader.distributionFlags(target.distribution))"
                }
            }
            if workers.isEmpty {
                return CheckResult(
                    passed: false, name: "citus", detail: detail,
                    fix: "add workers with SELECT citus_add_node('host', port); until then every shard stays on the coordinator")
            }
            return CheckResult(passed: true, name: "citus", detail: detail)
        } catch {
            return CheckResult(passed: false, name: "citus", detail: "could not be read: \(error)")
        }
    }
}
