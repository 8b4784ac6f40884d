import Foundation

extension SSHTunnelSettings {
    /// The bastion's fields as pgsink.yaml, Meltano's `ssh_tunnel` and Airbyte's `tunnel_method`
    /// spell them.
    static let fieldNames: Set<String> = [
        "host", "tunnel_host", "port", "tunnel_port", "user", "username", "tunnel_user", "private_key", "ssh_key",
        "private_key_file", "passphrase", "private_key_password", "password", "tunnel_user_password", "known_hosts",
        "verify_host_key", "strict_host_key_checking", "enable", "enabled", "tunnel_method",
    ]

    /// nil when the section turns the tunnel off (`enable: false`, `tunnel_method: NO_TUNNEL`).
    public init?(fields: [String: Any], where place: String) throws {
        if let enabled = (fields["enable"] ?? fields["enabled"]) as? Bool, !enabled { return nil }
        if let method = fields["tunnel_method"] as? String, method == "NO_TUNNEL" { return nil }
        for key in fields.keys.sorted() where !Self.fieldNames.contains(key) {
            let near = Self.fieldNames.min { editDistance($0, key) < editDistance($1, key) } ?? ""
            throw ConnectionError("\(place).\(key) is not an SSH setting (did you mean \(near)?)")
        }
        func text(_ keys: String...) -> String? {
            for key in keys {
                if let value = fields[key] as? String, !value.isEmpty { return value }
                if let value = fields[key] as? NSNumber, !isBoolean(fields[key]!) { return value.stringValue }
            }
            return nil
        }
        guard let host = text("host", "tunnel_host") else { throw ConnectionError("\(place) needs host: the bastion's address") }
        guard let user = text("user", "username", "tunnel_user") else { throw ConnectionError("\(place) needs user: who to log in to the bastion as") }
        self.init(host: host, user: user)
        if let port = text("port", "tunnel_port") {
            guard let number = Int(port), (1...65535).contains(number) else {
                throw ConnectionError("\(place).port must be a port number (1-65535)")
            }
            self.port = number
        }
        privateKey = text("private_key", "ssh_key", "private_key_file")
        passphrase = text("passphrase", "private_key_password")
        password = text("password", "tunnel_user_password")
        knownHosts = text("known_hosts")
        for key in ["verify_host_key", "strict_host_key_checking"] {
            if let flag = fields[key] as? Bool { verifyHostKey = flag }
            if let flag = fields[key] as? String { verifyHostKey = !["false", "no", "off"].contains(flag.lowercased()) }
        }
        if privateKey == nil && password == nil {
            throw ConnectionError("\(place) needs private_key (a file or the key itself) or password")
        }
        Secrets.register(passphrase)
        Secrets.register(password)
        if let key = privateKey, key.contains("-----BEGIN") { Secrets.register(key) }
    }
}

/// Edit distance, for "did you mean".
public func editDistance(_ a: String, _ b: String) -> Int {
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
