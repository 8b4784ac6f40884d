import Dispatch
import Foundation
import Logging
import NIOSSH
import Testing

@testable import PGSink

/// The throwaway sshd of scripts/ssh-test-server, read from the PGSINK_TEST_SSH_* variables its env file exports.
struct SSHTestServer {
    let settings: SSHTunnelSettings
    let vars: [String: String]

    struct Missing: Error, CustomStringConvertible {
        var name: String
        var description: String {
            let start = "start one with `scripts/ssh-test-server start DIR` and source DIR/env, or run `make test`"
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                return "\(name) is not set but CI=true: the CI job must start the SSH test server (\(start))"
            }
            return "\(name) is not set: the SSH tunnel tests need a throwaway sshd; \(start)"
        }
    }

    init() throws {
        let environment = ProcessInfo.processInfo.environment
        vars = environment.filter { $0.key.hasPrefix("PGSINK_TEST_") }
        guard let port = vars["PGSINK_TEST_SSH_PORT"].flatMap(Int.init) else {
            throw Missing(name: "PGSINK_TEST_SSH_PORT")
        }
        var settings = SSHTunnelSettings(host: vars["PGSINK_TEST_SSH_HOST"] ?? "127.0.0.1", user: "")
        settings.port = port
        settings.user = try Self.require("PGSINK_TEST_SSH_USER", vars)
        settings.privateKey = try Self.require("PGSINK_TEST_SSH_KEY_ED25519", vars)
        settings.knownHosts = try Self.require("PGSINK_TEST_SSH_KNOWN_HOSTS", vars)
        self.settings = settings
    }

    private static func require(_ name: String, _ vars: [String: String]) throws -> String {
        guard let value = vars[name], !value.isEmpty else { throw Missing(name: name) }
        return value
    }

    func path(_ name: String) throws -> String { try Self.require("PGSINK_TEST_SSH_\(name)", vars) }

    /// The database of scripts/pg-test-server as the bastion sees it (same machine: 127.0.0.1).
    func database() throws -> (host: String, port: Int, conninfo: (Int) -> String) {
        guard let url = vars["PGSINK_TEST_URL"], let parts = URLComponents(string: url),
            let port = parts.port, let user = parts.user
        else { throw TestDatabase.Missing() }
        let name = parts.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        return (
            parts.host ?? "127.0.0.1", port,
            { "host=127.0.0.1 port=\($0) user=\(user) dbname=\(name) connect_timeout=10" }
        )
    }

    /// Opens a tunnel to the test database, runs `body` with a connection string through it, closes it.
    func throughTunnel(_ settings: SSHTunnelSettings, _ body: (String) throws -> Void) throws {
        let db = try database()
        let tunnel = try SSHTunnel.open(
            settings, toHost: db.host, port: db.port, logger: Logger(label: "pgsink.test.ssh"))
        defer { tunnel.close() }
        try body(db.conninfo(tunnel.localPort))
    }

    /// Expects `open` to fail and returns the error, after checking it leaks no secrets.
    func failure(_ settings: SSHTunnelSettings, toPort: Int? = nil) throws -> SSHTunnelError {
        let db = try database()
        do {
            let tunnel = try SSHTunnel.open(
                settings, toHost: db.host, port: toPort ?? db.port, logger: Logger(label: "pgsink.test.ssh"))
            tunnel.close()
        } catch let error as SSHTunnelError {
            print("refused as expected: \(error)")
            try expectNoSecrets(in: error, settings)
            return error
        }
        throw UnexpectedSuccess()
    }

    struct UnexpectedSuccess: Error {}

    /// No passphrase, password or line of key text may appear in what users and logs see.
    func expectNoSecrets(in error: SSHTunnelError, _ settings: SSHTunnelSettings) throws {
        var secrets = [settings.passphrase, settings.password, vars["PGSINK_TEST_SSH_KEY_PASSPHRASE"]].compactMap { $0 }
        for source in [settings.privateKey, vars["PGSINK_TEST_SSH_KEY_ENCRYPTED"], vars["PGSINK_TEST_SSH_KEY_ED25519"]]
        {
            guard let source else { continue }
            let text = source.hasPrefix("-----") ? source : (try? String(contentsOfFile: source, encoding: .utf8)) ?? ""
            secrets += text.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("-----") && $0.count > 8 }
        }
        for secret in secrets where !secret.isEmpty {
            #expect(!error.description.contains(secret))
            #expect(!error.debugDescription.contains(secret))
            #expect(!String(describing: error).contains(secret))
        }
    }

    /// The fingerprint as OpenSSH prints it, so our own computation is checked against ssh-keygen.
    func fingerprint(ofPublicKeyFile path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ssh-keygen")
        process.arguments = ["-l", "-f", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return try #require(output.split(separator: " ").dropFirst().first.map(String.init))
    }
}

@Suite("SSHTunnel through a real sshd to a real PostgreSQL", .serialized)
struct SSHTunnelTests {
    let server: SSHTestServer

    init() throws { server = try SSHTestServer() }

    @Test func queryWithEd25519KeyFile() throws {
        try server.throughTunnel(server.settings) { conninfo in
            let connection = try PGConnection.connect(conninfo)
            #expect(try connection.query("SELECT 1", []).rows == [["1"]])
            // A megabyte each way crosses many SSH window adjustments.
            let big = try connection.query(
                "SELECT length($1::text || repeat('y', 1000000))", [String(repeating: "x", count: 1_000_000)])
            #expect(big.rows == [["2000000"]])
        }
    }

    @Test func queryWithInlineECDSAKeyAndInlineKnownHosts() throws {
        var settings = server.settings
        settings.privateKey = try String(contentsOfFile: server.path("KEY_ECDSA"), encoding: .utf8)
        settings.knownHosts = try String(contentsOfFile: server.path("KNOWN_HOSTS"), encoding: .utf8)
        try server.throughTunnel(settings) { conninfo in
            let rows = try PGConnection.connect(conninfo).query("SELECT 40 + 2", []).rows
            #expect(rows == [["42"]])
        }
    }

    @Test(arguments: ["KEY_ECDSA384", "KEY_ECDSA521", "KEY_ECDSA_PEM", "KEY_ECDSA_PKCS8"])
    func otherKeyKindsAuthenticate(_ key: String) throws {
        var settings = server.settings
        settings.privateKey = try server.path(key)
        try server.throughTunnel(settings, selectOne)
    }

    @Test func twoConcurrentConnectionsShareOneTunnel() throws {
        try server.throughTunnel(server.settings) { conninfo in
            let connections = try (0..<2).map { _ in try PGConnection.connect(conninfo) }
            let results = NIOLockedResults()
            DispatchQueue.concurrentPerform(iterations: connections.count) { i in
                results.record(i) {
                    try connections[i].query("SELECT pg_backend_pid(), pg_sleep(0.3)::text, $1::int * 2", ["\(i + 1)"])
                        .rows
                }
            }
            let rows = try results.values(count: 2)
            #expect(rows[0][0][2] == "2" && rows[1][0][2] == "4")
            #expect(rows[0][0][0] != rows[1][0][0], "two backends, so two forwarded channels")
        }
    }

    @Test func parallelLoadThroughTheTunnel() throws {
        let db = try TestDatabase()  // direct connection, to check what arrived
        let rows = 60_000
        let csv = "id,name\n" + (1...rows).map { "\($0),name \($0)" }.joined(separator: "\n") + "\n"
        let path = try TestDatabase.file("through_ssh.csv", csv)
        var request = LoadRequest(inputs: [path], table: db.table("through_ssh"))
        request.jobs = 3
        request.batchRows = 5_000
        try server.throughTunnel(server.settings) { conninfo in
            let summary = try Loader(request: request).run(
                on: try PGConnection.connect(conninfo), connect: { try PGConnection.connect(conninfo) })
            #expect(summary.rows == rows)
        }
        #expect(try db.count("through_ssh") == rows)
        #expect(try db.column("SELECT sum(id) FROM \(db.table("through_ssh").quoted)") == ["\(rows * (rows + 1) / 2)"])
    }

    @Test func hostKeyMismatchIsRefusedWithTheFingerprint() throws {
        var settings = server.settings
        settings.knownHosts = try server.path("KNOWN_HOSTS_WRONG")
        let error = try server.failure(settings)
        #expect(error.code == .hostKeyMismatch)
        let fingerprint = try server.fingerprint(ofPublicKeyFile: server.path("DIR") + "/host_ed25519.pub")
        #expect(fingerprint.hasPrefix("SHA256:"))
        #expect(error.description.contains(fingerprint))
        #expect(error.description.contains("does not match known_hosts"))
        #expect(error.description.contains("\(settings.host):\(settings.port)"))
    }

    @Test func unknownHostIsRefused() throws {
        var settings = server.settings
        let line = try String(contentsOfFile: server.path("KNOWN_HOSTS"), encoding: .utf8)
        settings.knownHosts = line.replacingOccurrences(of: "[127.0.0.1]", with: "[elsewhere.example]")
        let error = try server.failure(settings)
        #expect(error.code == .unknownHost)
        #expect(error.description.contains("not in"))
    }

    /// An empty known_hosts lists no hosts: the bastion is unknown and refused with its fingerprint,
    /// as for any host missing from the file (/dev/null is a character device, not a regular file).
    @Test(arguments: ["/dev/null", "empty"])
    func anEmptyKnownHostsRefusesTheBastionAsUnknown(_ source: String) throws {
        let path = source == "empty" ? try TestDatabase.file("known_hosts", "") : source
        var settings = server.settings
        settings.knownHosts = path
        let error = try server.failure(settings)
        #expect(error.code == .unknownHost)
        #expect(error.description.contains("host [\(settings.host)]:\(settings.port) is not in known_hosts file \(path) (empty)"),
            "\(error.description)")
        let fingerprint = try server.fingerprint(ofPublicKeyFile: server.path("DIR") + "/host_ed25519.pub")
        #expect(error.description.contains(fingerprint))
    }

    @Test func hostKeyCheckingCanBeTurnedOff() throws {
        var settings = server.settings
        settings.knownHosts = "/nonexistent/known_hosts"
        settings.verifyHostKey = false
        try server.throughTunnel(settings, selectOne)
    }

    @Test func keyNotInAuthorizedKeysIsRefused() throws {
        var settings = server.settings
        settings.privateKey = try String(contentsOfFile: server.path("KEY_UNAUTHORIZED"), encoding: .utf8)
        let error = try server.failure(settings)
        #expect(error.code == .authenticationFailed)
        #expect(error.description.contains("refused user \(settings.user)"))
    }

    @Test func passwordRefusedByAKeyOnlyBastion() throws {
        var settings = server.settings
        settings.privateKey = nil
        settings.password = "hunter2-secret"
        let error = try server.failure(settings)
        #expect(error.code == .authenticationFailed)
        #expect(error.description.contains("accepts only: publickey"))
        #expect(!error.description.contains("hunter2"))
    }

    @Test func passphraseProtectedKey() throws {
        var settings = server.settings
        settings.privateKey = try server.path("KEY_ENCRYPTED")
        settings.passphrase = try server.path("KEY_PASSPHRASE")
        try server.throughTunnel(settings, selectOne)

        settings.passphrase = nil
        #expect(try server.failure(settings).code == .passphraseRequired)
        settings.passphrase = "not the passphrase"
        let wrong = try server.failure(settings)
        #expect(wrong.code == .wrongPassphrase)
        #expect(!wrong.description.contains("not the passphrase"))
    }

    @Test func unreachableBastionFailsFast() throws {
        var settings = server.settings
        settings.port = try closedPort()
        let started = Date()
        let error = try server.failure(settings)
        #expect(Date().timeIntervalSince(started) < 11)
        #expect(error.code == .unreachable)
        #expect(error.description.contains("cannot connect to the bastion 127.0.0.1:\(settings.port)"))
    }

    @Test func aBastionThatIsNotAnSSHServerFailsFast() throws {
        var settings = server.settings
        settings.port = try server.database().port  // PostgreSQL waits silently for a startup packet
        let started = Date()
        let error = try server.failure(settings)
        #expect(Date().timeIntervalSince(started) < 12)
        #expect(error.code == .sshFailure || error.code == .timedOut)
    }

    @Test func forwardingToAClosedTargetPortClosesOnlyThatConnection() throws {
        let db = try server.database()
        let tunnel = try SSHTunnel.open(
            server.settings, toHost: db.host, port: try closedPort(), logger: Logger(label: "t"))
        defer { tunnel.close() }
        #expect(throws: (any Error).self) { try PGConnection.connect(db.conninfo(tunnel.localPort)) }
        tunnel.close()
        tunnel.close()  // idempotent
    }

    private func selectOne(_ conninfo: String) throws {
        let rows = try PGConnection.connect(conninfo).query("SELECT 1", []).rows
        #expect(rows == [["1"]])
    }

    /// A loopback port nothing listens on: bound, then released.
    private func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Foundation.close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                guard bind(fd, raw, length) == 0, getsockname(fd, raw, &length) == 0 else {
                    throw SSHTestServer.UnexpectedSuccess()
                }
            }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Results of concurrent work, collected under a lock.
final class NIOLockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var results: [Int: Result<[[String?]], Error>] = [:]

    func record(_ index: Int, _ body: () throws -> [[String?]]) {
        let result = Result(catching: body)
        lock.withLock { results[index] = result }
    }

    func values(count: Int) throws -> [[[String?]]] {
        try lock.withLock { try (0..<count).map { try results[$0]!.get() } }
    }
}

/// Parsing that needs no server.
@Suite("SSH key and known_hosts parsing")
struct SSHTunnelParsingTests {
    static let hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC5iRFF6T6xiDGAAAgDsZ10aqbpVqJWmSE0P/sgiZly+"
    static let otherKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIImXgzRvsEhek+qKiTbHvKcZrT/vVwOYyU9LShWs0rdl"

    func verdict(_ lines: String, _ host: String, key: String = hostKey) throws -> KnownHosts.Verdict {
        KnownHosts(text: lines).verdict(for: try NIOSSHPublicKey(openSSHPublicKey: key), host: host)
    }

    @Test func fingerprintMatchesSSHKeygen() throws {
        // `ssh-keygen -l` printed this for hostKey.
        let key = try NIOSSHPublicKey(openSSHPublicKey: Self.hostKey)
        #expect(key.sha256Fingerprint == "SHA256:xmfh28ANbQnJCFYFbtzu70f+5vFtbbYq3RWT7A14Fag")
    }

    @Test func plainBracketedAndListedHosts() throws {
        let lines = """
            # comment

            bastion.example,10.0.0.5 \(Self.hostKey) comment here
            [bastion.example]:2222 \(Self.otherKey)
            @cert-authority *.example \(Self.hostKey)
            @revoked revoked.example \(Self.hostKey)
            other.example ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ
            """
        #expect(try verdict(lines, "bastion.example") == .trusted)
        #expect(try verdict(lines, "BASTION.example") == .trusted)
        #expect(try verdict(lines, "10.0.0.5") == .trusted)
        #expect(try verdict(lines, "[bastion.example]:2222") == .mismatch)
        #expect(try verdict(lines, "[bastion.example]:2222", key: Self.otherKey) == .trusted)
        #expect(try verdict(lines, "[bastion.example]:2200") == .unknown)
        #expect(try verdict(lines, "x.example") == .unknown, "@cert-authority lines are skipped")
        #expect(try verdict(lines, "other.example") == .unknown, "only an RSA key is listed")
    }

    @Test func hashedHosts() throws {
        // HMAC-SHA1 with salt 01…14 of "[bastion.example]:2222" and of "db.example".
        let lines = """
            |1|AQIDBAUGBwgJCgsMDQ4PEBESExQ=|rSg2DyWuSvqe23oyMbw9J6zRO6I= \(Self.hostKey)
            |1|AQIDBAUGBwgJCgsMDQ4PEBESExQ=|TlCt+gJjCBt9yjBr0AMtzxCmRP0= \(Self.otherKey)
            """
        #expect(try verdict(lines, "[bastion.example]:2222") == .trusted)
        #expect(try verdict(lines, "db.example") == .mismatch)
        #expect(try verdict(lines, "bastion.example") == .unknown)
    }

    @Test func wildcardsAndNegation() throws {
        let lines = "*.corp.example,!evil.corp.example,db?.example \(Self.hostKey)"
        #expect(try verdict(lines, "a.corp.example") == .trusted)
        #expect(try verdict(lines, "evil.corp.example") == .unknown)
        #expect(try verdict(lines, "db1.example") == .trusted)
        #expect(try verdict(lines, "db12.example") == .unknown)
    }

    @Test func devNullListsNoHosts() throws {
        let hosts = try KnownHosts.load("/dev/null")
        #expect(hosts.entries.isEmpty)
        #expect(hosts.origin == "known_hosts file /dev/null (empty)")
        let error = #expect(throws: SSHTunnelError.self) { try KnownHosts.load(NSTemporaryDirectory()) }
        #expect(error?.code == .knownHostsUnreadable, "a folder is not a known_hosts file")
    }

    @Test func missingKnownHostsFileIsAnError() {
        let error = #expect(throws: SSHTunnelError.self) { try KnownHosts.load("/nonexistent/known_hosts") }
        #expect(error?.code == .knownHostsUnreadable)
        #expect(error?.description.contains("/nonexistent/known_hosts") == true)
    }

    @Test func pkcs8Ed25519() throws {
        // RFC 8410 §10.3's example private key.
        let pem = """
            -----BEGIN PRIVATE KEY-----
            MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
            -----END PRIVATE KEY-----
            """
        #expect(try SSHKeyFile.parse(pem, passphrase: nil).publicKey.openSSHType == "ssh-ed25519")
        // The same key pasted into JSON with escaped newlines.
        let escaped = pem.replacingOccurrences(of: "\n", with: "\\n")
        #expect(try SSHKeyFile.load(escaped, passphrase: nil).publicKey.openSSHType == "ssh-ed25519")
    }

    @Test(arguments: [
        ("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----", "ssh-keygen -t ed25519"),
        ("PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none", "PuTTY"),
        ("-----BEGIN DSA PRIVATE KEY-----\nAAAA\n-----END DSA PRIVATE KEY-----", "supported: OpenSSH keys"),
        ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----", "ssh-keygen -p"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----", "not an openssh-key-v1 key"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----",
            "truncated"
        ),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nnot base64!\n-----END OPENSSH PRIVATE KEY-----", "not base64"),
        ("/nonexistent/id_ed25519", "cannot read the private key file /nonexistent/id_ed25519"),
    ])
    func unsupportedOrBrokenKeysSayWhy(_ key: String, _ hint: String) {
        let error = #expect(throws: SSHTunnelError.self) { try SSHKeyFile.load(key, passphrase: nil) }
        #expect(error?.description.contains(hint) == true, "\(error?.description ?? "no error")")
    }

    @Test func keyTextIsNeverEchoed() throws {
        let blob = "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACDSECRETSECRET"
        for text in [
            blob, "junk before -----BEGIN OPENSSH PRIVATE KEY-----\n" + blob, String(repeating: "A", count: 2000),
        ] {
            let error = #expect(throws: SSHTunnelError.self) { try SSHKeyFile.load(text, passphrase: nil) }
            #expect(error?.description.contains("SECRET") == false)
            #expect(error?.description.contains("AAAA") == false)
        }
    }

    @Test func noCredentials() {
        let error = #expect(throws: SSHTunnelError.self) {
            try SSHTunnel.open(
                SSHTunnelSettings(host: "127.0.0.1", user: "u"), toHost: "db", port: 5432, logger: Logger(label: "t"))
        }
        #expect(error?.code == .noCredentials)
    }
}
