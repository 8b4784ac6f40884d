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

    /// Connection keys, read into `ConnectionSettings` (ssl_enable and ssl_client_certificate_enable
    /// are options: they decide which of these count).
    static let connectionKeys: Set<String> = [
        "host", "port", "user", "username", "password", "database", "dbname", "sqlalchemy_url", "ssl_mode",
        "ssl_certificate_authority", "ssl_client_certificate", "ssl_client_private_key", "ssl_storage_directory",
        "ssh_tunnel",
    ]
    /// Accepted for compatibility; pgsink's behaviour already covers them.
    static let acceptedKeys: Set<String> = [
        "validate_records", "sanitize_null_text_characters", "use_copy", "interpret_content_encoding", "stream_maps",
        "stream_map_config", "faker_config", "batch_config",
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
        var object = object
        let pgvector = try PgVectorConfig.take(from: &object)
        let others = Self.connectionKeys.union(Self.acceptedKeys)
        for (key, near) in SingerOptions.unknownKeys(in: object, known: others.contains, otherNames: others.sorted()) {
            warnings.append("unknown config key \"\(key)\" ignored (did you mean \"\(near)\"?)")
        }
        let options: SingerOptions
        do {
            options = try SingerOptions.decode(object) { "config key \"\($0)\"" }
        } catch {
            throw LoadError(error.description)
        }
        settings = SingerSettings(options)
        settings.streams.embeddings = pgvector
        connection = try Self.connectionSettings(object, options)
    }

    /// The connection the config's keys describe (nil when there are none).
    private static func connectionSettings(_ object: [String: Any], _ options: SingerOptions) throws
        -> ConnectionSettings?
    {
        var fields: [String: Any] = [:]
        for key in ["host", "port", "user", "username", "password", "database", "dbname", "sqlalchemy_url"] {
            fields[key] = object[key]
        }
        if options.effective(\.sslEnable) {
            fields["sslmode"] = object["ssl_mode"] ?? "verify-full"
            fields["sslrootcert"] = object["ssl_certificate_authority"]
            if options.effective(\.sslClientCertificateEnable) {
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
