import Foundation
import Logging

/// Opens connections for one run: through the SSH tunnel when one is configured, retrying
/// failures that pass (a server still starting, a refused or dropped connection) with backoff,
/// never those that will not (a wrong password, a certificate that does not verify).
public final class Connector: @unchecked Sendable {
    public let settings: ConnectionSettings
    let logger: Logger
    /// Retries after the first attempt; the waits double from `firstDelay`.
    public var retries: Int
    public var firstDelay: Double
    private var tunnel: SSHTunnel?
    private var tunnelParameters: [ConnectionSettings.Parameter] = []
    private let lock = NSLock()

    public init(_ settings: ConnectionSettings, logger: Logger, retries: Int = 5, firstDelay: Double = 0.25) {
        self.settings = settings
        self.logger = logger
        self.retries = retries
        self.firstDelay = firstDelay
    }

    deinit { close() }

    /// A new connection (each caller thread gets its own).
    public func connect() throws -> PGConnection { try connect(adding: []) }

    /// A new connection with more libpq parameters (`replication=database`).
    public func connect(adding extra: [ConnectionSettings.Parameter]) throws -> PGConnection {
        let parameters = try parametersWithTunnel() + extra
        var attempt = 0
        while true {
            do {
                let connection = try PGConnection.connect(parameters: parameters, logger: logger)
                try Self.checkVersion(connection.serverVersion)
                return connection
            } catch let error as PGError where error.isTransient && attempt < retries && Interrupt.signal == nil {
                let delay = min(firstDelay * Double(1 << attempt), 8)
                attempt += 1
                logger.warning(
                    "\(Secrets.redact(error.message)); retrying in \(String(format: "%.2g", delay)) s (attempt \(attempt + 1) of \(retries + 1))")
                Thread.sleep(forTimeInterval: delay)
            }
        }
    }

    /// The oldest server pgsink supports (its SQL uses features of PostgreSQL 12).
    public static let minimumServerVersion = 120000

    /// Refuses servers older than PostgreSQL 12, saying which version answered.
    public static func checkVersion(_ version: Int) throws {
        guard version < minimumServerVersion else { return }
        let major = version >= 100000 ? "\(version / 10000)" : "\(version / 10000).\(version / 100 % 100)"
        throw ConnectionError("the server is PostgreSQL \(major); pgsink needs PostgreSQL 12 or newer")
    }

    /// Removes inline-certificate files and closes the tunnel.
    public func close() {
        lock.lock()
        defer { lock.unlock() }
        tunnel?.close()
        tunnel = nil
        for file in settings.temporaryFiles { try? FileManager.default.removeItem(atPath: file) }
    }

    /// With a tunnel, libpq keeps `host` (so verify-full checks the database's own name and
    /// .pgpass matches it) and connects to the tunnel's local end through `hostaddr` and `port`.
    private func parametersWithTunnel() throws -> [ConnectionSettings.Parameter] {
        guard let ssh = settings.ssh else { return settings.libpqParameters }
        lock.lock()
        defer { lock.unlock() }
        if tunnel == nil {
            let options = try settings.effectiveOptions()
            guard let host = options["host"], !host.isEmpty, !host.hasPrefix("/"), !host.contains(",") else {
                throw ConnectionError(
                    "an SSH tunnel needs the database's host name as the bastion sees it (one host, not a socket folder)")
            }
            let port = Int(options["port"] ?? "5432") ?? 5432
            let opened = try SSHTunnel.open(ssh, toHost: host, port: port, logger: logger)
            logger.info("SSH tunnel to \(host):\(port) through \(ssh.user)@\(ssh.host):\(ssh.port) on 127.0.0.1:\(opened.localPort)")
            tunnel = opened
            tunnelParameters = [.init("hostaddr", "127.0.0.1"), .init("port", String(opened.localPort))]
        }
        var parameters = settings.libpqParameters
        parameters.removeAll { $0.keyword == "hostaddr" || $0.keyword == "port" }
        return parameters + tunnelParameters
    }
}

extension PGError {
    /// Failures that may pass if tried again.
    public var isTransient: Bool {
        if let sqlState, Self.transientStates.contains(sqlState) { return true }
        return Self.transientMessages.contains { message.localizedCaseInsensitiveContains($0) }
    }

    static let transientStates: Set<String> = [
        "57P03", "57P01", "57P02", "40001", "40P01", "08000", "08001", "08003", "08006", "53300",
    ]
    static let transientMessages = [
        "Connection refused", "the database system is starting up", "the database system is shutting down",
        "the database system is in recovery mode", "server closed the connection unexpectedly", "Connection reset",
        "could not receive data from server", "could not send data to server", "too many clients already",
        "no connection to the server", "terminating connection",
    ]
}
