import Foundation
import PGSinkCore

/// The row fields a Debezium value schema (the JSON converter's `"schema"` with
/// `schemas.enable=true`) declares: the `after` struct of an envelope, or the struct itself for a
/// flattened row. Read once per distinct schema text, not per event.
struct DebeziumSchema: Equatable {
    struct Field: Equatable {
        var name: String
        var type: DebeziumType
        /// The Connect type and semantic name, for the fingerprint.
        var described: String
    }

    var fields: [Field]

    /// nil when the text is no struct schema with fields.
    init?(json: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any],
            let top = object["fields"] as? [[String: Any]]
        else { return nil }
        // An envelope lists before, after, source, op …; the row is `after` (or `before`).
        let row = top.first { $0["field"] as? String == "after" } ?? top.first { $0["field"] as? String == "before" }
        let fields: [[String: Any]]
        if let row {
            guard let inner = row["fields"] as? [[String: Any]] else { return nil }
            fields = inner
        } else {
            fields = top
        }
        self.fields = fields.compactMap { field in
            guard let name = field["field"] as? String, !name.hasPrefix("__") else { return nil }
            let connect = (field["type"] as? String) ?? "string"
            let semantic = field["name"] as? String
            var parameters: [String: String] = [:]
            for (key, value) in (field["parameters"] as? [String: Any]) ?? [:] { parameters[key] = "\(value)" }
            let type = DebeziumType(connectType: connect, name: semantic, parameters: parameters)
            let scale = parameters["scale"].map { "(\($0))" } ?? ""
            return Field(name: name, type: type, described: "\(name) \(connect) \(semantic ?? "")\(scale)")
        }
        if self.fields.isEmpty { return nil }
    }

    /// Text that changes when a field, its type or its encoding changes.
    var fingerprint: String { fields.map(\.described).joined(separator: ",") }
}
