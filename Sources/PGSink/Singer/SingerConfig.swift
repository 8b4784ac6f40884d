import Foundation
import PGSinkCore

/// A Singer target's `--config` JSON: MeltanoLabs target-postgres's keys (so a Meltano project
/// switches by changing the plugin name) and pgsink's own.
public struct SingerConfig {
    public var settings = SingerSettings()
    /// The connection the config describes; nil when it names no connection.
    public var connection: ConnectionSettings?
    /// Keys pgsink does not know, and keys it accepts without acting on them.
    public var warnings: [String] = []

    static let connectionKeys: Set<String> = [
        "host", "port", "user", "username", "password", "database", "dbname", "sqlalchemy_url", "ssl_enable",
        "ssl_mode", "ssl_certificate_authority", "ssl_client_certificate_enable", "ssl_client_certificate",
        "ssl_client_private_key", "ssl_storage_directory", "ssh_tunnel",
    ]
    /// Accepted for compatibility; pgsink's behaviour already covers them.
    static let acceptedKeys: Set<String> = [
        "validate_records", "sanitize_null_text_characters", "use_copy", "interpret_content_encoding", "stream_maps",
        "stream_map_config", "faker_config", "batch_config",
    ]
    static let optionKeys: Set<String> = [
        "default_target_schema", "schema", "hard_delete", "add_record_metadata", "activate_version", "batch_size_rows",
        "batch_size_bytes", "batch_timeout", "load_method", "flattening_enabled", "flattening_max_depth",
        "schema_contract", "max_rejects", "nested", "nested_separator", "state_id", "skip_schema_creation",
        "allow_reserved_words", "keep_case",
    ]

    public init() {}

    /// Reads and merges config files (later files win).
    public static func load(files: [String]) throws -> SingerConfig {
        var merged: [String: Any] = [:]
        for file in files {
            guard let handle = FileHandle(forReadingAtPath: file), let data = try? handle.readToEnd() else {
                throw LoadError("cannot read the config file \(file)")
            }
            guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw LoadError("the config file \(file) is not a JSON object")
            }
            merged.merge(object) { _, new in new }
        }
        return try SingerConfig(merged)
    }

    public init(_ object: [String: Any]) throws {
        var s = SingerSettings()
        for key in object.keys.sorted() {
            if Self.connectionKeys.contains(key) || Self.optionKeys.contains(key) { continue }
            if Self.acceptedKeys.contains(key) { continue }
            let known = Self.connectionKeys.union(Self.optionKeys).union(Self.acceptedKeys)
            let near = known.min { editDistance($0, key) < editDistance($1, key) } ?? ""
            warnings.append("unknown config key \"\(key)\" ignored (did you mean \"\(near)\"?)")
        }
        let reader = FieldReader(fields: object, place: "config")
        if let schema = try reader.string("default_target_schema") ?? reader.string("schema") { s.streams.schema = schema }
        if let v = try reader.bool("hard_delete") { s.hardDelete = v }
        if let v = try reader.bool("add_record_metadata") { s.addRecordMetadata = v }
        if let v = try reader.bool("activate_version") { s.activateVersion = v }
        if let v = try reader.int("batch_size_rows") {
            guard v > 0 else { throw LoadError("config key \"batch_size_rows\" must be positive") }
            s.streams.batchRows = v
        }
        if let v = try reader.int("batch_size_bytes") { s.streams.batchBytes = max(1, v) }
        if let v = try reader.int("batch_timeout") { s.streams.batchSeconds = Double(max(1, v)) }
        if let v = try reader.bool("skip_schema_creation") { s.streams.createSchema = !v }
        if let v = try reader.string("state_id") { s.streams.stateId = v }
        s.streams.naming = NamingRules(
            keepCase: try reader.bool("keep_case") ?? false, allowReservedWords: try reader.bool("allow_reserved_words") ?? false)
        switch try reader.string("load_method") {
        case nil, "upsert": break
        case "append-only": s.appendOnly = true
        case let other?:
            throw LoadError(
                "load_method \"\(other)\" is not supported; use upsert (merge on key_properties) or append-only. For a "
                    + "full refresh, have the tap send ACTIVATE_VERSION and set hard_delete")
        }
        if try reader.bool("flattening_enabled") == true {
            s.streams.nested = .flatten(depth: try reader.int("flattening_max_depth") ?? 1000)
        }
        if let text = try reader.string("nested") {
            guard let mode = NestedMode(parsing: text), mode != .tables else {
                throw LoadError("config key \"nested\" takes jsonb, flatten or flatten:DEPTH")
            }
            s.streams.nested = mode
        }
        if let v = try reader.string("nested_separator") { s.streams.nestedSeparator = v }
        if let text = try reader.string("schema_contract") {
            guard let contract = SchemaContract(rawValue: text) else {
                throw LoadError("config key \"schema_contract\" takes evolve, freeze, discard-row or discard-value")
            }
            s.streams.contract = contract
        }
        if let v = try reader.int("max_rejects") { s.streams.maxRejects = max(0, v) }
        settings = s
        connection = try connectionSettings(object)
    }

    /// The connection the config's keys describe (nil when there are none).
    private func connectionSettings(_ object: [String: Any]) throws -> ConnectionSettings? {
        var fields: [String: Any] = [:]
        for key in ["host", "port", "user", "username", "password", "database", "dbname", "sqlalchemy_url"] {
            fields[key] = object[key]
        }
        if (object["ssl_enable"] as? Bool) == true {
            fields["sslmode"] = object["ssl_mode"] ?? "verify-full"
            fields["sslrootcert"] = object["ssl_certificate_authority"]
            if (object["ssl_client_certificate_enable"] as? Bool) == true {
                fields["sslcert"] = object["ssl_client_certificate"]
                fields["sslkey"] = object["ssl_client_private_key"]
            }
        }
        if let tunnel = object["ssh_tunnel"] { fields["ssh"] = tunnel }
        fields = fields.filter { !(($0.value as? String)?.isEmpty ?? false) }
        guard !fields.isEmpty else { return nil }
        return try ConnectionSettings(fields: fields, where: "config")
    }
}
