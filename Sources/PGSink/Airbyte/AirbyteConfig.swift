import Foundation
import PGSinkCore

/// An Airbyte destination config: the keys of Airbyte's destination-postgres, so an existing
/// config works unchanged, and pgsink's own.
public struct AirbyteConfig {
    public var streams = StreamSettings()
    public var connection: ConnectionSettings?
    public var hardDeleteCDC = true
    public var warnings: [String] = []

    /// Connection keys, read into `ConnectionSettings`.
    static let connectionKeys: Set<String> = [
        "host", "port", "database", "username", "password", "ssl", "ssl_mode", "jdbc_url_params", "tunnel_method",
    ]
    /// Accepted and ignored: overwrite never drops the table (drop_cascade), numbers are always
    /// unconstrained numeric, and there are no raw tables.
    static let acceptedKeys: Set<String> = ["drop_cascade", "unconstrained_number", "raw_data_schema"]

    public init(_ object: [String: Any]) throws {
        var object = object
        let pgvector = try PgVectorConfig.take(from: &object)
        let others = Self.connectionKeys.union(Self.acceptedKeys)
        for (key, near) in AirbyteOptions.unknownKeys(in: object, known: others.contains, otherNames: others.sorted()) {
            warnings.append("unknown config key \"\(key)\" ignored (did you mean \"\(near)\"?)")
        }
        let options: AirbyteOptions
        do {
            options = try AirbyteOptions.decode(object) { "config key \"\($0)\"" }
        } catch {
            throw AirbyteFailure(kind: .config, message: error.description)
        }
        streams = StreamSettings(options.stream)
        streams.schema = options.effective(\.schema)
        streams.stateId = options.effective(\.stateId)
        streams.embeddings = pgvector
        hardDeleteCDC = options.effective(\.cdcDeletionMode) == .hard
        if options.effective(\.disableTypeDedupe) {
            warnings.append("disable_type_dedupe is ignored: pgsink writes typed tables directly")
        }
        var fields: [String: Any] = [:]
        for key in ["host", "port", "database", "username", "password", "ssl", "ssl_mode"] { fields[key] = object[key] }
        if let tunnel = object["tunnel_method"] { fields["ssh"] = tunnel }
        var settings = try ConnectionSettings(fields: fields, where: "config")
        // JDBC parameters that have a libpq twin; the rest is reported.
        if let params = object["jdbc_url_params"] as? String, !params.isEmpty {
            let twins = ["sslmode": "sslmode", "connectTimeout": "connect_timeout", "ApplicationName": "application_name",
                "applicationName": "application_name", "options": "options"]
            for pair in params.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2, let keyword = twins[kv[0]] {
                    settings.set(keyword, kv[1].removingPercentEncoding ?? kv[1])
                } else {
                    warnings.append("jdbc_url_params \"\(kv[0])\" has no libpq equivalent and is ignored")
                }
            }
        }
        connection = fields.isEmpty && settings.parameters.isEmpty ? nil : settings
    }

    /// The connection: `--to` when given, else the config's keys, else libpq's environment.
    public func settings(to: String?) throws -> ConnectionSettings {
        if let to { return try ConnectionSettings(string: to) }
        return try connection ?? ConnectionSettings(string: "")
    }

    /// The connector specification `spec` prints.
    public static var specification: [String: Any] {
        [
        "documentationUrl": "https://github.com/pgsink/pgsink/blob/main/docs/airbyte.md",
        "supported_destination_sync_modes": ["overwrite", "append", "append_dedup"],
        "supportsIncremental": true,
        "connectionSpecification": [
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "pgsink (PostgreSQL)",
            "type": "object",
            "required": ["host", "port", "database", "schema", "username"],
            "additionalProperties": true,
            "properties": [
                "host": ["type": "string", "title": "Host", "order": 0],
                "port": ["type": "integer", "title": "Port", "default": 5432, "minimum": 0, "maximum": 65536, "order": 1],
                "database": ["type": "string", "title": "Database", "order": 2],
                "schema": ["type": "string", "title": "Default schema", "default": "public", "order": 3],
                "username": ["type": "string", "title": "User", "order": 4],
                "password": ["type": "string", "title": "Password", "airbyte_secret": true, "order": 5],
                "ssl": ["type": "boolean", "title": "SSL", "default": false, "order": 6],
                "ssl_mode": [
                    "type": "object", "title": "SSL mode", "order": 7,
                    "properties": [
                        "mode": [
                            "type": "string",
                            "enum": ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"],
                        ],
                        "ca_certificate": ["type": "string", "airbyte_secret": true, "multiline": true],
                        "client_certificate": ["type": "string", "airbyte_secret": true, "multiline": true],
                        "client_key": ["type": "string", "airbyte_secret": true, "multiline": true],
                        "client_key_password": ["type": "string", "airbyte_secret": true],
                    ],
                ],
                "jdbc_url_params": ["type": "string", "title": "JDBC URL parameters (libpq twins only)", "order": 8],
                "tunnel_method": [
                    "type": "object", "title": "SSH tunnel", "order": 9,
                    "oneOf": [
                        ["title": "No tunnel", "properties": ["tunnel_method": ["type": "string", "const": "NO_TUNNEL"]]],
                        [
                            "title": "SSH key authentication",
                            "required": ["tunnel_method", "tunnel_host", "tunnel_port", "tunnel_user", "ssh_key"],
                            "properties": [
                                "tunnel_method": ["type": "string", "const": "SSH_KEY_AUTH"],
                                "tunnel_host": ["type": "string"], "tunnel_port": ["type": "integer", "default": 22],
                                "tunnel_user": ["type": "string"],
                                "ssh_key": ["type": "string", "airbyte_secret": true, "multiline": true],
                                "known_hosts": ["type": "string", "multiline": true],
                            ],
                        ] as [String: Any],
                        [
                            "title": "Password authentication",
                            "required": ["tunnel_method", "tunnel_host", "tunnel_port", "tunnel_user", "tunnel_user_password"],
                            "properties": [
                                "tunnel_method": ["type": "string", "const": "SSH_PASSWORD_AUTH"],
                                "tunnel_host": ["type": "string"], "tunnel_port": ["type": "integer", "default": 22],
                                "tunnel_user": ["type": "string"],
                                "tunnel_user_password": ["type": "string", "airbyte_secret": true],
                                "known_hosts": ["type": "string", "multiline": true],
                            ],
                        ] as [String: Any],
                    ],
                ] as [String: Any],
                "drop_cascade": ["type": "boolean", "default": false, "title": "Accepted and ignored: overwrite never drops the table"],
                "cdc_deletion_mode": ["type": "string", "enum": ["Hard delete", "Soft delete"], "default": "Hard delete"],
                "unconstrained_number": ["type": "boolean", "default": true, "title": "Numbers are unconstrained numeric (always)"],
                "batch_size_rows": ["type": "integer", "default": 100000],
                "batch_timeout": ["type": "integer", "default": 60, "title": "Seconds before a waiting batch is committed"],
                "schema_contract": ["type": "string", "enum": ["evolve", "freeze", "discard-row", "discard-value"]],
                "max_rejects": ["type": "integer", "default": 0],
                "nested": ["type": "string", "default": "jsonb"],
            ],
        ] as [String: Any],
        ]
    }
}
