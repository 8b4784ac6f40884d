import Foundation

extension ConnectionSettings {
    /// Field names of the peers' documents, and the libpq keyword each means.
    static let fieldKeywords: [String: String] = [
        "host": "host", "hostname": "host", "server": "host", "hostaddr": "hostaddr",
        "port": "port",
        "database": "dbname", "dbname": "dbname", "db": "dbname",
        "username": "user", "user": "user",
        "password": "password",
        "sslmode": "sslmode", "ssl_mode": "sslmode",
        "sslrootcert": "sslrootcert", "ssl_root_cert": "sslrootcert", "ssl_ca": "sslrootcert",
        "ca_certificate": "sslrootcert", "server_ca": "sslrootcert", "ssl_certificate_authority": "sslrootcert",
        "sslcert": "sslcert", "ssl_cert": "sslcert", "client_certificate": "sslcert", "client_cert": "sslcert",
        "ssl_client_certificate": "sslcert",
        "sslkey": "sslkey", "ssl_key": "sslkey", "client_key": "sslkey", "ssl_client_private_key": "sslkey",
        "sslpassword": "sslpassword", "client_key_password": "sslpassword",
        "connect_timeout": "connect_timeout", "application_name": "application_name",
    ]
    /// Fields that hold a whole connection string.
    static let stringFields: Set<String> = ["url", "uri", "connection_string", "dsn", "credentials", "sqlalchemy_url"]
    static let schemaFields: Set<String> = ["schema", "namespace", "search_path", "dataset_name"]
    static let sshFields: Set<String> = ["ssh", "ssh_tunnel", "tunnel"]

    /// Whether `key` is a connection field (or a libpq keyword, which is accepted as it is).
    public static func isConnectionField(_ key: String) -> Bool {
        fieldKeywords[key] != nil || stringFields.contains(key) || schemaFields.contains(key) || sshFields.contains(key)
            || key == "ssl" || ConnectionString.keywords.contains(key)
    }

    /// All field names, for "did you mean".
    public static var fieldNames: [String] {
        Array(fieldKeywords.keys) + Array(stringFields) + Array(schemaFields) + Array(sshFields) + ["ssl"]
    }

    /// Settings from fields. `where` names the place for errors (`pgsink.yaml: destination`).
    /// Keys that are not connection fields are left for the caller.
    public init(fields: [String: Any], where place: String) throws {
        self.init()
        func text(_ key: String, _ value: Any) throws -> String {
            if let string = value as? String { return string }
            if let number = value as? NSNumber, !isBoolean(value) { return number.stringValue }
            if let int = value as? Int { return String(int) }
            throw ConnectionError("\(place).\(key) must be a string or a number")
        }
        for key in fields.keys.sorted() where Self.stringFields.contains(key) {
            guard let value = fields[key] else { continue }
            if let nested = value as? [String: Any] {
                // dlt's [destination.postgres.credentials] table: fields one level down.
                let inner = try ConnectionSettings(fields: nested, where: "\(place).\(key)")
                parameters += inner.parameters
                temporaryFiles += inner.temporaryFiles
                schema = schema ?? inner.schema
                ssh = ssh ?? inner.ssh
                continue
            }
            var url = try text(key, value)
            if key == "sqlalchemy_url" || url.contains("+psycopg") || url.contains("+asyncpg") {
                url = Self.withoutDriver(url)
            }
            let parsed = try ConnectionSettings(string: url)
            base = parsed.base
            schema = schema ?? parsed.schema
        }
        for key in fields.keys.sorted() {
            guard let value = fields[key], !Self.stringFields.contains(key) else { continue }
            if Self.schemaFields.contains(key) {
                schema = try text(key, value).split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) }
            } else if Self.sshFields.contains(key) {
                guard let object = value as? [String: Any] else {
                    throw ConnectionError("\(place).\(key) must be a section with host, user and private_key")
                }
                ssh = try SSHTunnelSettings(fields: object, where: "\(place).\(key)")
            } else if key == "ssl" {
                if let enabled = value as? Bool {
                    if enabled && fields["sslmode"] == nil && fields["ssl_mode"] == nil { set("sslmode", "require") }
                } else if let object = value as? [String: Any] {
                    try applySSLObject(object, where: "\(place).ssl")
                } else {
                    throw ConnectionError("\(place).ssl must be true, false or a section")
                }
            } else if key == "ssl_mode", let object = value as? [String: Any] {
                // Airbyte: {"mode": "verify-ca", "ca_certificate": "…", …}
                try applySSLObject(object, where: "\(place).ssl_mode")
            } else if let keyword = Self.fieldKeywords[key] ?? (ConnectionString.keywords.contains(key) ? key : nil) {
                var string = try text(key, value)
                if ["sslrootcert", "sslcert", "sslkey"].contains(keyword) {
                    string = try file(forPEM: string, keyword: keyword)
                }
                if keyword == "sslmode" { try Self.checkSSLMode(string, where: "\(place).\(key)") }
                set(keyword, string)
            }
        }
    }

    private mutating func applySSLObject(_ object: [String: Any], where place: String) throws {
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {
            guard let string = value as? String else { continue }
            if key == "mode" {
                try Self.checkSSLMode(string, where: "\(place).mode")
                set("sslmode", string)
            } else if let keyword = Self.fieldKeywords[key] {
                set(keyword, ["sslrootcert", "sslcert", "sslkey"].contains(keyword) ? try file(forPEM: string, keyword: keyword) : string)
            } else {
                throw ConnectionError("\(place).\(key) is not an SSL setting (mode, ca_certificate, client_certificate, client_key, client_key_password)")
            }
        }
    }

    static let sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"]

    static func checkSSLMode(_ mode: String, where place: String) throws {
        guard sslModes.contains(mode) else {
            throw ConnectionError("\(place) is \"\(mode)\"; use one of \(sslModes.joined(separator: ", "))")
        }
    }

    /// `postgresql+psycopg2://…` → `postgresql://…` (SQLAlchemy's driver suffix means nothing to libpq).
    static func withoutDriver(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let name = url[..<scheme.lowerBound].split(separator: "+").first.map(String.init) ?? "postgresql"
        return (name == "postgres" ? "postgresql" : name) + url[scheme.lowerBound...]
    }
}
