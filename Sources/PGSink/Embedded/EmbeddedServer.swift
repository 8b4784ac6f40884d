import Foundation
import PGSinkCore

/// The private PostgreSQL pgsink starts when no connection is configured: a cluster under
/// `./.pgsink/` listening only on a unix socket in that folder, trusted because only the folder's
/// owner can reach the socket.
public struct EmbeddedServer: Sendable {
    public let directory: URL
    public let user = "pgsink"
    public let database = "postgres"
    public let port = 5432

    public init(directory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".pgsink")) {
        self.directory = directory.standardizedFileURL
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
    private var runAsUser: String? { geteuid() == 0 ? "postgres" : nil }

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
