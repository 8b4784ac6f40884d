import Foundation
import PGSinkCore

/// A Singer target's `--config` JSON: MeltanoLabs target-postgres's keys (so a Meltano project
/// switches by changing the plugin name) and pgsink's own.
public struct SingerConfig {
    public var settings = SingerSettings()
    /// The libpq connection string the config describes; nil when it names no connection.
    public var conninfo: String?
    /// Keys pgsink does not know, and keys it accepts without acting on them.
    public var warnings: [String] = []
    /// Files written for inline PEM certificates; remove them once connected.
    public var temporaryFiles: [String] = []

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
            let near = known.min { Self.distance($0, key) < Self.distance($1, key) } ?? ""
            warnings.append("unknown config key \"\(key)\" ignored (did you mean \"\(near)\"?)")
        }
        func bool(_ key: String) throws -> Bool? {
            guard let value = object[key] else { return nil }
            if let b = value as? Bool { return b }
            if let text = value as? String, ["true", "false"].contains(text.lowercased()) { return text.lowercased() == "true" }
            throw LoadError("config key \"\(key)\" must be true or false")
        }
        func int(_ key: String) throws -> Int? {
            guard let value = object[key] else { return nil }
            if let n = value as? NSNumber, !(value is Bool) { return n.intValue }
            if let text = value as? String, let n = Int(text) { return n }
            throw LoadError("config key \"\(key)\" must be a number")
        }
        func string(_ key: String) throws -> String? {
            guard let value = object[key] else { return nil }
            if let text = value as? String { return text }
            if let n = value as? NSNumber, !(value is Bool) { return n.stringValue }
            throw LoadError("config key \"\(key)\" must be a string")
        }
        if let schema = try string("default_target_schema") ?? string("schema") { s.streams.schema = schema }
        if let v = try bool("hard_delete") { s.hardDelete = v }
        if let v = try bool("add_record_metadata") { s.addRecordMetadata = v }
        if let v = try bool("activate_version") { s.activateVersion = v }
        if let v = try int("batch_size_rows") {
            guard v > 0 else { throw LoadError("config key \"batch_size_rows\" must be positive") }
            s.streams.batchRows = v
        }
        if let v = try int("batch_size_bytes") { s.streams.batchBytes = max(1, v) }
        if let v = try int("batch_timeout") { s.streams.batchSeconds = Double(max(1, v)) }
        if let v = try bool("skip_schema_creation") { s.streams.createSchema = !v }
        if let v = try string("state_id") { s.streams.stateId = v }
        s.streams.naming = NamingRules(
            keepCase: try bool("keep_case") ?? false, allowReservedWords: try bool("allow_reserved_words") ?? false)
        switch try string("load_method") {
        case nil, "upsert": break
        case "append-only": s.appendOnly = true
        case let other?:
            throw LoadError(
                "load_method \"\(other)\" is not supported; use upsert (merge on key_properties) or append-only. For a "
                    + "full refresh, have the tap send ACTIVATE_VERSION and set hard_delete")
        }
        if try bool("flattening_enabled") == true {
            s.streams.nested = .flatten(depth: try int("flattening_max_depth") ?? 1000)
        }
        if let text = try string("nested") {
            guard let mode = NestedMode(parsing: text), mode != .tables else {
                throw LoadError("config key \"nested\" takes jsonb, flatten or flatten:DEPTH")
            }
            s.streams.nested = mode
        }
        if let v = try string("nested_separator") { s.streams.nestedSeparator = v }
        if let text = try string("schema_contract") {
            guard let contract = SchemaContract(rawValue: text) else {
                throw LoadError("config key \"schema_contract\" takes evolve, freeze, discard-row or discard-value")
            }
            s.streams.contract = contract
        }
        if let v = try int("max_rejects") { s.streams.maxRejects = max(0, v) }
        settings = s
        conninfo = try connection(object)
    }

    /// The libpq connection string for the connection keys (nil when there are none).
    private mutating func connection(_ object: [String: Any]) throws -> String? {
        if let tunnel = object["ssh_tunnel"] as? [String: Any], (tunnel["enable"] as? Bool) == true {
            throw LoadError(
                "ssh_tunnel is not supported by pgsink singer yet; open the tunnel yourself (ssh -N -L 15432:DBHOST:5432 "
                    + "bastion) and set host and port to its local end")
        }
        if let url = object["sqlalchemy_url"] as? String {
            // postgresql+psycopg2://… → postgresql://…
            guard let scheme = url.firstRange(of: "://") else { throw LoadError("sqlalchemy_url is not a URL") }
            let name = url[..<scheme.lowerBound].split(separator: "+").first.map(String.init) ?? "postgresql"
            return (name == "postgres" ? "postgresql" : name) + url[scheme.lowerBound...]
        }
        var parts: [(String, String)] = []
        func add(_ keyword: String, _ value: Any?) {
            guard let value else { return }
            let text = (value as? String) ?? ((value as? NSNumber)?.stringValue ?? "\(value)")
            parts.append((keyword, text))
        }
        add("host", object["host"])
        add("port", object["port"])
        add("user", object["user"] ?? object["username"])
        add("password", object["password"])
        add("dbname", object["database"] ?? object["dbname"])
        if (object["ssl_enable"] as? Bool) == true {
            add("sslmode", object["ssl_mode"] ?? "verify-full")
            try addCertificate("sslrootcert", object["ssl_certificate_authority"], &parts)
            if (object["ssl_client_certificate_enable"] as? Bool) == true {
                try addCertificate("sslcert", object["ssl_client_certificate"], &parts)
                try addCertificate("sslkey", object["ssl_client_private_key"], &parts)
            }
        }
        guard !parts.isEmpty else { return nil }
        return parts.map { "\($0.0)=\(Self.quote($0.1))" }.joined(separator: " ")
    }

    private mutating func addCertificate(_ keyword: String, _ value: Any?, _ parts: inout [(String, String)]) throws {
        try Self.addCertificate(keyword, value, &parts, temporaryFiles: &temporaryFiles)
    }

    /// A certificate given as a path, or inline as PEM (written to a private temporary file).
    static func addCertificate(
        _ keyword: String, _ value: Any?, _ parts: inout [(String, String)], temporaryFiles: inout [String]
    ) throws {
        guard let text = value as? String, !text.isEmpty else { return }
        guard text.contains("-----BEGIN") else {
            parts.append((keyword, text))
            return
        }
        let path = NSTemporaryDirectory() + "pgsink-\(keyword)-\(UUID().uuidString).pem"
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else { throw LoadError("cannot write the inline \(keyword) to a temporary file") }
        temporaryFiles.append(path)
        parts.append((keyword, path))
    }

    /// libpq's key=value quoting.
    static func quote(_ value: String) -> String {
        let plain = !value.isEmpty && !value.contains { $0 == " " || $0 == "'" || $0 == "\\" }
        if plain { return value }
        return "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    /// Edit distance, for "did you mean".
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1]
            for (j, cb) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
