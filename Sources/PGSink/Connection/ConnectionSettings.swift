import Foundation

/// Where and how to connect, however the user wrote it: a URI or `key=value` string, separate
/// fields (the names the Mage, Nilus, RudderStack, dlt, Singer and Airbyte documents use), libpq's
/// environment, or a mix. Everything maps onto libpq keywords; libpq stays the one parser.
public struct ConnectionSettings: Sendable {
    /// The user's URI or `key=value` string; nil or "" means libpq's environment (PG* variables).
    public var base: String?
    /// libpq keywords set on top of the base; later entries win.
    public var parameters: [Parameter] = []
    /// The target schema the connection names (`search_path` in a URI, a `schema` field), used
    /// when no other schema is given.
    public var schema: String?
    /// A bastion to reach the database through.
    public var ssh: SSHTunnelSettings?
    /// Files written for inline PEM certificates and keys (mode 0600); removed by `Connector.close`.
    public var temporaryFiles: [String] = []

    public struct Parameter: Sendable, Equatable {
        public var keyword: String
        public var value: String
        public init(_ keyword: String, _ value: String) {
            self.keyword = keyword
            self.value = value
        }
    }

    public init() {}

    /// A URI or `key=value` string as the user gave it. A URI's user and password are
    /// percent-encoded first (`ConnectionString.encodingUserinfo`), so a password with `/` or `@`
    /// reaches the server whole; `search_path` (and `schema`) in its query are taken out, because
    /// libpq refuses parameters it does not know.
    public init(string: String) throws {
        if let password = ConnectionString.userinfo(of: string)?.password { Secrets.register(String(password)) }
        let encoded = ConnectionString.encodingUserinfo(string)
        if let password = ConnectionString.userinfo(of: encoded)?.password { Secrets.register(String(password)) }
        let (uri, extras) = ConnectionString.splitURIExtras(encoded)
        base = uri
        if let path = extras["search_path"] ?? extras["schema"] {
            schema = path.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let options = try ConnectionString.parse(uri)
        for option in options where option.isSecret { Secrets.register(option.value) }
    }

    /// Whether these settings say where to connect (a URI, a field, a tunnel), rather than only
    /// which schema to use: a config file with just `schema:` leaves the server to the environment.
    public var namesAServer: Bool { base != nil || !parameters.isEmpty || ssh != nil }

    public mutating func set(_ keyword: String, _ value: String) {
        parameters.removeAll { $0.keyword == keyword }
        parameters.append(Parameter(keyword, value))
        if keyword == "password" || keyword == "sslpassword" { Secrets.register(value) }
    }

    /// The libpq keyword/value pairs to connect with, pgsink's own defaults included.
    public var libpqParameters: [Parameter] {
        var result = [Parameter("dbname", base ?? "")]
        result += parameters
        if !parameters.contains(where: { $0.keyword == "fallback_application_name" }) {
            result.append(Parameter("fallback_application_name", "pgsink"))
        }
        result.append(Parameter("client_encoding", "UTF8"))
        return result
    }

    /// The effective options (the base parsed by libpq, then the parameters over it), for
    /// messages and for the tunnel's target.
    public func effectiveOptions() throws -> [String: String] {
        var result: [String: String] = [:]
        if let base, !base.isEmpty {
            for option in try ConnectionString.parse(base) { result[option.keyword] = option.value }
        }
        for parameter in parameters { result[parameter.keyword] = parameter.value }
        return result
    }

    /// `user@host:port/database` with what is known, for messages; never the password.
    public var summary: String {
        let options = (try? effectiveOptions()) ?? [:]
        let env = ProcessInfo.processInfo.environment
        let host = options["host"] ?? options["hostaddr"] ?? env["PGHOST"] ?? "local socket"
        let port = options["port"] ?? env["PGPORT"] ?? "5432"
        let user = options["user"] ?? env["PGUSER"] ?? NSUserName()
        let database = options["dbname"] ?? env["PGDATABASE"] ?? user
        return "\(user)@\(host):\(port)/\(database)"
    }

    /// Writes inline PEM text to a private temporary file and returns its path; a path is
    /// returned as it is.
    public mutating func file(forPEM text: String, keyword: String) throws -> String {
        guard text.contains("-----BEGIN") else { return text }
        if keyword == "sslkey" { Secrets.register(text) }
        let path = NSTemporaryDirectory() + "pgsink-\(keyword)-\(UUID().uuidString).pem"
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
        else { throw ConnectionError("cannot write the inline \(keyword) to a temporary file in \(NSTemporaryDirectory())") }
        temporaryFiles.append(path)
        return path
    }
}
