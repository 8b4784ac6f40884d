import Foundation
import PGSinkCore

/// The `destination` section of a config file: the connection and every destination option the
/// peers' documents name, each also a flag of `pgsink load` (flags win over the file).
/// Keys are documented in docs/configuration.md.
public struct DestinationConfig {
    public var connection: ConnectionSettings?
    /// `table` (Mage) or `dest_table` (Nilus, `schema.table`).
    public var table: String?
    public var mode: LoadMode?
    public var deleteStale: Bool?
    public var primaryKey: [String]?
    public var batchRows: Int?
    public var batchBytes: Int?
    public var batchTimeout: Double?
    public var skipSchemaCreation: Bool?
    public var lowerCase: Bool?
    public var allowReservedWords: Bool?
    public var createIndexes: Bool?
    public var createPerformanceIndexes: Bool?
    public var logLevel: String?
    public var schemaContract: SchemaContract?
    public var maxRejects: Int?
    public var nested: String?
    public var metadata: Bool?
    public var jobs: Int?
    public var connectRetries: Int?

    static let optionKeys: Set<String> = [
        "table", "dest_table", "write_mode", "incremental_strategy", "write_disposition", "mode", "primary_key",
        "batch_size", "batch_size_bytes", "batch_timeout", "skip_schema_creation", "lower_case",
        "allow_reserved_words", "create_indexes", "create_performance_indexes", "log_level", "pgx_log_level",
        "schema_contract", "max_rejects", "nested", "metadata", "jobs", "connect_retries", "delete_stale",
    ]

    public init() {}

    /// Reads `--config FILE` (or ./pgsink.yaml when there is one) and the secrets files, and
    /// returns the destination section; nil when there is no file at all.
    public static func load(config: String?, secrets: [String]) throws -> DestinationConfig? {
        var path = config
        if path == nil {
            path = ConfigFile.defaultNames.first { FileManager.default.fileExists(atPath: $0) }
        }
        guard path != nil || !secrets.isEmpty else { return nil }
        var tree = try path.map { try ConfigFile.read($0) } ?? [:]
        var secretFiles = secrets
        if let named = tree.removeValue(forKey: "secrets") {
            guard let file = named as? String else { throw ConnectionError("\(path ?? "config"): secrets must be a file name") }
            secretFiles.insert(file, at: 0)
        }
        for file in secretFiles { tree = ConfigFile.merge(tree, try ConfigFile.read(file)) }
        let place = path ?? secretFiles.first ?? "config"
        for key in tree.keys.sorted() where key != "destination" {
            throw ConnectionError("\(place): unknown top-level key \"\(key)\"; pgsink reads destination: (and secrets:)")
        }
        guard let section = tree["destination"] else { return DestinationConfig() }
        guard var fields = section as? [String: Any] else {
            throw ConnectionError("\(place): destination must be a section of keys")
        }
        // dlt's layout: [destination.postgres] / [destination.postgres.credentials].
        for alias in ["postgres", "postgresql"] {
            if let inner = fields.removeValue(forKey: alias) as? [String: Any] { fields = ConfigFile.merge(fields, inner) }
        }
        return try DestinationConfig(fields: fields, where: "\(place): destination")
    }

    public init(fields: [String: Any], where place: String) throws {
        for key in fields.keys.sorted() where !Self.optionKeys.contains(key) && !ConnectionSettings.isConnectionField(key) {
            let candidates = Array(Self.optionKeys) + ConnectionSettings.fieldNames
            let near = candidates.min { editDistance($0, key) < editDistance($1, key) } ?? ""
            throw ConnectionError("\(place): unknown key \"\(key)\" (did you mean \"\(near)\"?); see docs/configuration.md")
        }
        let connectionFields = fields.filter { ConnectionSettings.isConnectionField($0.key) }
        if !connectionFields.isEmpty { connection = try ConnectionSettings(fields: connectionFields, where: place) }
        var reader = FieldReader(fields: fields, place: place)
        table = try reader.string("dest_table") ?? reader.string("table")
        if let text = try reader.string("write_mode") ?? reader.string("incremental_strategy")
            ?? reader.string("write_disposition") ?? reader.string("mode")
        {
            switch text.lowercased() {
            case "append": mode = .append
            case "replace", "overwrite", "truncate-insert": mode = .replace
            case "merge", "upsert", "overwrite-delete-stale":
                mode = .merge
                if text == "overwrite-delete-stale" { deleteStale = true }
            default:
                throw ConnectionError("\(place): write_mode \"\(text)\" is not known; use append, replace or merge (or overwrite-delete-stale)")
            }
        }
        if let stale = try reader.bool("delete_stale") { deleteStale = stale }
        primaryKey = try reader.list("primary_key")
        batchRows = try reader.positiveInt("batch_size")
        batchBytes = try reader.positiveInt("batch_size_bytes")
        batchTimeout = try reader.duration("batch_timeout")
        skipSchemaCreation = try reader.bool("skip_schema_creation")
        lowerCase = try reader.bool("lower_case")
        allowReservedWords = try reader.bool("allow_reserved_words")
        createIndexes = try reader.bool("create_indexes")
        createPerformanceIndexes = try reader.bool("create_performance_indexes")
        logLevel = try reader.string("log_level") ?? reader.string("pgx_log_level")
        if let level = logLevel, !LogLevelName.all.contains(level) {
            throw ConnectionError("\(place): log_level \"\(level)\" is not one of \(LogLevelName.all.joined(separator: ", "))")
        }
        if let text = try reader.string("schema_contract") {
            guard let contract = SchemaContract(rawValue: text) else {
                throw ConnectionError("\(place): schema_contract takes evolve, freeze, discard-row or discard-value")
            }
            schemaContract = contract
        }
        maxRejects = try reader.int("max_rejects")
        nested = try reader.string("nested")
        metadata = try reader.bool("metadata")
        jobs = try reader.positiveInt("jobs")
        connectRetries = try reader.int("connect_retries")
    }
}

/// The log levels `--log-level` and `log_level` take (CloudQuery's pgx_log_level names).
public enum LogLevelName {
    public static let all = ["error", "warn", "info", "debug", "trace"]
}

/// Whether a decoded value is true or false rather than a number. Foundation's JSON numbers 0 and
/// 1 also cast to Bool, so `value is Bool` would take them for flags; a boolean is stored as a char.
func isBoolean(_ value: Any) -> Bool {
    if let number = value as? NSNumber { return String(cString: number.objCType) == "c" }
    return value is Bool
}

/// Typed reads of a section's values, with errors that name the key.
struct FieldReader {
    let fields: [String: Any]
    let place: String

    func string(_ key: String) throws -> String? {
        guard let value = fields[key] else { return nil }
        if let text = value as? String { return text }
        if let number = value as? NSNumber, !isBoolean(value) { return number.stringValue }
        throw ConnectionError("\(place).\(key) must be text")
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = fields[key] else { return nil }
        if let flag = value as? Bool { return flag }
        if let text = value as? String, ["true", "false"].contains(text.lowercased()) { return text.lowercased() == "true" }
        throw ConnectionError("\(place).\(key) must be true or false")
    }

    func int(_ key: String) throws -> Int? {
        guard let value = fields[key] else { return nil }
        if let number = value as? NSNumber, !isBoolean(value) { return number.intValue }
        if let text = value as? String, let number = Int(text) { return number }
        throw ConnectionError("\(place).\(key) must be a whole number")
    }

    func positiveInt(_ key: String) throws -> Int? {
        guard let number = try int(key) else { return nil }
        guard number > 0 else { throw ConnectionError("\(place).\(key) must be positive") }
        return number
    }

    func list(_ key: String) throws -> [String]? {
        guard let value = fields[key] else { return nil }
        if let items = value as? [Any] { return try items.map { item in
            guard let text = item as? String else { throw ConnectionError("\(place).\(key) must list column names") }
            return text
        } }
        return try string(key)?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// Seconds: a number, or "60s", "5m", "1h", "500ms".
    func duration(_ key: String) throws -> Double? {
        guard let value = fields[key] else { return nil }
        if let number = value as? NSNumber, !isBoolean(value) { return number.doubleValue }
        guard let text = value as? String else { throw ConnectionError("\(place).\(key) must be a duration such as 60s") }
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let number = Double(text.dropLast(suffix.count)) { return number * scale }
        }
        if let number = Double(text) { return number }
        throw ConnectionError("\(place).\(key) must be a duration such as 60s, 5m or 500ms")
    }
}
