import ArgumentParser
import Foundation
import Logging
import PGSink
import PGSinkCore

struct AirbyteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "airbyte",
        abstract: "An Airbyte destination: spec, check, write (Airbyte protocol on stdin/stdout).",
        discussion: "source-faker read --config s.json --catalog c.json | pgsink airbyte write --config d.json --catalog c.json",
        subcommands: [Spec.self, Check.self, Write.self]
    )

    /// One protocol message on stdout.
    static func emit(_ object: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        let text = Secrets.redact(String(decoding: data, as: UTF8.self))
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    /// A TRACE error message (and, for the user, the same text on stderr).
    static func trace(_ raw: String, kind: AirbyteFailure.Kind) {
        let message = Secrets.redact(raw)
        emit([
            "type": "TRACE",
            "trace": [
                "type": "ERROR", "emitted_at": (Date().timeIntervalSince1970 * 1000).rounded(),
                "error": ["message": message, "failure_type": kind.rawValue],
            ] as [String: Any],
        ])
        FileHandle.standardError.write(Data("pgsink: \(message)\n".utf8))
    }

    static func readJSON(_ path: String, what: String) throws -> [String: Any] {
        guard let handle = FileHandle(forReadingAtPath: path), let data = try? handle.readToEnd(),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { throw AirbyteFailure(kind: .config, message: "cannot read the \(what) \(path) as a JSON object") }
        return object
    }

    static func bootstrapLogging(_ level: String?) -> Logger {
        LogSetup.bootstrap(level, fallback: .warning)
    }

    struct Spec: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the connector specification (a SPEC message).")
        func run() throws {
            AirbyteCommand.emit(["type": "SPEC", "spec": AirbyteConfig.specification])
        }
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Try the config; print CONNECTION_STATUS.")
        @Option(help: "The destination config (JSON).") var config: String
        @Option(help: "Connection string overriding the config's connection keys.") var to: String?
        @Option(name: .customLong("log-level"), help: "error, warn, info, debug or trace.") var logLevel: String?

        func run() throws {
            let logger = AirbyteCommand.bootstrapLogging(logLevel)
            var status = "SUCCEEDED"
            var message = ""
            do {
                let parsed = try AirbyteConfig(try AirbyteCommand.readJSON(config, what: "config"))
                let connector = Connector(try parsed.settings(to: to), logger: logger, retries: 0)
                defer { connector.close() }
                let schema = parsed.streams.naming.normalize(parsed.streams.schema)
                let results = ConnectionCheck.run(
                    connector, target: ConnectionCheck.Target(schema: schema, table: nil, mode: .merge))
                if let failed = results.first(where: { !$0.passed }) {
                    status = "FAILED"
                    message = failed.text.replacingOccurrences(of: "\n    ", with: " ")
                } else {
                    message = results.map { "\($0.name): \($0.detail)" }.joined(separator: "; ")
                }
            } catch {
                status = "FAILED"
                message = Secrets.redact("\(error)")
            }
            AirbyteCommand.emit(["type": "CONNECTION_STATUS", "connectionStatus": ["status": status, "message": message]])
        }
    }

    struct Write: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Load RECORD messages from stdin; echo each STATE once what precedes it is committed.")
        @Option(help: "The destination config (JSON).") var config: String
        @Option(help: "The configured catalog (JSON).") var catalog: String
        @Option(help: "Connection string overriding the config's connection keys.") var to: String?
        @Option(name: .customLong("log-level"), help: "error, warn, info, debug or trace.") var logLevel: String?

        func run() throws {
            let logger = AirbyteCommand.bootstrapLogging(logLevel)
            do {
                let parsed = try AirbyteConfig(try AirbyteCommand.readJSON(config, what: "config"))
                for warning in parsed.warnings { logger.warning("\(warning)") }
                let configured = try AirbyteCommand.readJSON(catalog, what: "catalog")
                let catalogText = FileManager.default.contents(atPath: catalog).map { [UInt8]($0) }
                let connector = Connector(try parsed.settings(to: to), logger: logger)
                defer { connector.close() }
                let pg: PGConnection
                do {
                    pg = try connector.connect()
                } catch {
                    throw AirbyteFailure(kind: .config, message: "\(error)")
                }
                let rows = try AirbyteDestination.run(
                    config: parsed, catalog: configured, catalogText: catalogText, input: 0, connection: pg, connector: connector, retries: 5,
                    logger: logger
                ) {
                    FileHandle.standardOutput.write(Data(($0 + "\n").utf8))
                }
                let loaded = rows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                FileHandle.standardError.write(
                    Data("pgsink airbyte: loaded \(loaded.isEmpty ? "nothing" : loaded.joined(separator: ", "))\n".utf8))
            } catch let failure as AirbyteFailure {
                AirbyteCommand.trace(failure.message, kind: failure.kind)
                throw ExitCode(1)
            } catch {
                let report = FailureReport(error)
                let transient = report.transient || report.code == "connection"
                AirbyteCommand.trace(
                    "\(report.message); the batch in progress was rolled back, states echoed so far stand",
                    kind: transient ? .transient : .system)
                throw ExitCode(1)
            }
        }
    }
}
