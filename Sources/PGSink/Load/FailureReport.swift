import Foundation
import PGSinkCore

/// Every failure pgsink reports, classified in one place: a stable code, whether running the same
/// thing again may succeed (a lost connection) or not (bad input), and the secret-free message.
/// The command line prints it as one line, `--json` as an object, Airbyte as a TRACE's failure_type.
public struct FailureReport: Codable, Sendable, Equatable {
    /// `input`, `rejects`, `schema`, `load`, `server`, `connection`, `ssh`, `config`,
    /// `commit_uncertain`, `interrupted` or `failure`.
    public var code: String
    public var transient: Bool
    public var message: String

    /// Once SIGINT or SIGTERM arrived, whatever failed is reported as the interruption it was.
    public init(_ error: Error) {
        let error: Error = Interrupt.signal.map { Interrupted(signal: $0) } ?? error
        switch error {
        case is Interrupted: (code, transient) = ("interrupted", true)
        case is CommitUncertain: (code, transient) = ("commit_uncertain", true)
        case is InputError: (code, transient) = ("input", false)
        case is RejectLimit: (code, transient) = ("rejects", false)
        case is PlanError: (code, transient) = ("schema", false)
        case is LoadError: (code, transient) = ("load", false)
        case let error as PGError:
            (code, transient) = (error.kind == .connection ? "connection" : "server", error.isTransient)
        case is ConnectionError, is SettingError: (code, transient) = ("config", false)
        case let error as SSHTunnelError: (code, transient) = ("ssh", error.isTransient)
        case let error as AirbyteFailure: (code, transient) = (error.kind == .config ? "config" : "failure", error.kind == .transient)
        default: (code, transient) = ("failure", false)
        }
        message = Secrets.redact("\(error)")
    }

    /// `{"error":{…}}` on one line.
    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(["error": self])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
