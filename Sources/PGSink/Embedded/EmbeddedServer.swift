import Crypto
import Foundation
import PGSinkCore

/// The private PostgreSQL pgsink starts when no connection is configured: a cluster under
/// `./.pgsink/` listening only on a unix socket in that folder, trusted because only the folder's
/// owner can reach the socket.
///
/// As root the server runs as `postgres`, which cannot enter a private folder such as /root; then
/// the cluster lives in `/var/lib/pgsink/<folder>-<hash of its path>` instead, owned by `postgres`,
/// so every run from the same folder finds the same cluster.
public struct EmbeddedServer: Sendable {
    /// Where the cluster, its log and its socket are.
    public let directory: URL
    /// The `.pgsink` folder the data would have gone to, when the server's user cannot reach it.
    public let unreachable: URL?
    public let user = "pgsink"
    public let database = "postgres"
    public let port = 5432

    /// Clusters of folders the server's user cannot enter, one per folder.
    public static let sharedRoot = URL(fileURLWithPath: "/var/lib/pgsink")

    public init(directory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".pgsink")) {
        let requested = directory.standardizedFileURL
        let project = requested.deletingLastPathComponent()
        if let user = Self.serverUser, !Self.canEnter(project.path, as: user) {
            self.directory = Self.sharedRoot.appendingPathComponent(Self.key(for: project.path))
            unreachable = requested
        } else {
            self.directory = requested
            unreachable = nil
        }
    }

    /// Where the data is, for messages; says why when it is not under the project folder.
    public var location: String {
        guard let unreachable, let user = Self.serverUser else { return directory.path }
        return "\(directory.path) (the server runs as \(user), who cannot enter "
            + "\(unreachable.deletingLastPathComponent().path), so its data is kept here)"
    }

    /// `<last path component>-<16 hex digits of SHA-256 of the path>`: readable, and one per folder.
    static func key(for path: String) -> String {
        let last = URL(fileURLWithPath: path).lastPathComponent
        let name = String(last.filter { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }.prefix(40))
        let digest = SHA256.hash(data: Data(path.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        return (name.isEmpty || name.hasPrefix(".") ? "folder" : name) + "-" + digest
    }

    /// Whether `user` may search `path` and every folder above it (`test -x` run as that user, so
    /// groups and ACLs count as the server will see them).
    static func canEnter(_ path: String, as user: String) -> Bool {
        guard getpwnam(user) != nil else { return true }  // start() explains a missing user
        return (try? ChildProcess.run("/sbin/runuser", ["-u", user, "--", "/usr/bin/test", "-x", path]))?.status == 0
    }

    var dataDirectory: URL { directory.appendingPathComponent("data") }
    var logFile: URL { directory.appendingPathComponent("server.log") }

    /// The socket folder: inside `.pgsink` unless that path is too long for a unix socket.
    var socketDirectory: String {
        let inside = directory.path
        if inside.utf8.count + 20 < 100 { return inside }
        return "/tmp/pgsink-" + NamingRules.hashHex(inside)
    }

    /// The libpq connection string for the server.
    public var connectionString: String {
        "host=\(socketDirectory) port=\(port) user=\(user) dbname=\(database)"
    }

    public var psqlCommand: String { "psql \"\(connectionString)\"" }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The folder holding initdb and pg_ctl: on PATH, else the newest /usr/lib/postgresql/*/bin.
    public static func serverBinaries() throws -> URL {
        let fm = FileManager.default
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(dir))
            if fm.isExecutableFile(atPath: candidate.appendingPathComponent("initdb").path),
                fm.isExecutableFile(atPath: candidate.appendingPathComponent("pg_ctl").path)
            {
                return candidate
            }
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        for version in versions.reversed() {
            let bin = URL(fileURLWithPath: "\(root)/\(version)/bin")
            if fm.isExecutableFile(atPath: bin.appendingPathComponent("initdb").path) { return bin }
        }
        throw Failure(
            description: "no PostgreSQL server binaries (initdb, pg_ctl) found on PATH or in /usr/lib/postgresql; "
                + "install the server (Debian/Ubuntu: apt-get install postgresql) or pass --to with a connection")
    }

    /// Whether the server is running.
    public func isRunning() -> Bool {
        guard FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path),
            let bin = try? Self.serverBinaries()
        else { return false }
        return (try? run(bin.appendingPathComponent("pg_ctl"), ["-D", dataDirectory.path, "status"])) != nil
    }

    /// Starts the server, creating the cluster first if needed. Returns true if it was started now.
    @discardableResult
    public func start() throws -> Bool {
        if isRunning() { return false }
        let bin = try Self.serverBinaries()
        let fm = FileManager.default
        if unreachable != nil {
            // The shared root must be searchable by the server's user; each cluster in it is private.
            try fm.createDirectory(at: Self.sharedRoot, withIntermediateDirectories: true)
            try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: Self.sharedRoot.path)
        }
        try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        if socketDirectory != directory.path {
            try fm.createDirectory(atPath: socketDirectory, withIntermediateDirectories: true)
        }
        try handOverToServerUser(socketDirectory)
        if !fm.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path) {
            try run(
                bin.appendingPathComponent("initdb"),
                ["-D", dataDirectory.path, "-U", user, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        }
        try run(
            bin.appendingPathComponent("pg_ctl"),
            [
                "-D", dataDirectory.path, "-l", logFile.path, "-w", "-t", "60", "-o",
                "-c listen_addresses='' -k \(socketDirectory) -p \(port)", "start",
            ])
        return true
    }

    public func stop() throws {
        guard isRunning() else { return }
        let bin = try Self.serverBinaries()
        try run(bin.appendingPathComponent("pg_ctl"), ["-D", dataDirectory.path, "-m", "fast", "-w", "stop"])
    }

    /// PostgreSQL refuses to run as root: as root, the folder goes to the `postgres` user and the
    /// server binaries run as that user.
    static var serverUser: String? { geteuid() == 0 ? "postgres" : nil }
    private var runAsUser: String? { Self.serverUser }

    private func handOverToServerUser(_ socketDirectory: String) throws {
        guard let user = runAsUser else { return }
        guard getpwnam(user) != nil else {
            throw Failure(
                description: "running as root, pgsink needs the unprivileged user '\(user)' to run the server; "
                    + "install Debian's postgresql package (it creates the user) or run pgsink as another user")
        }
        for path in Set([directory.path, socketDirectory]) {
            try run(URL(fileURLWithPath: "/bin/chown"), ["-R", user, path], asServerUser: false)
        }
        try run(URL(fileURLWithPath: "/bin/chmod"), ["700", directory.path], asServerUser: false)
    }

    @discardableResult
    private func run(_ tool: URL, _ arguments: [String], asServerUser: Bool = true) throws -> String {
        let result =
            if asServerUser, let user = runAsUser {
                try ChildProcess.run("/sbin/runuser", ["-u", user, "--", tool.path] + arguments)
            } else {
                try ChildProcess.run(tool.path, arguments)
            }
        guard result.status == 0 else {
            throw Failure(
                description: "\(tool.lastPathComponent) failed: \(result.output.trimmingCharacters(in: .whitespacesAndNewlines))"
                    + (tool.lastPathComponent == "pg_ctl" ? " (see \(logFile.path))" : ""))
        }
        return result.output
    }
}
