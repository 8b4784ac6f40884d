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
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    /// A TRACE error message (and, for the user, the same text on stderr).
    static func trace(_ message: String, kind: AirbyteFailure.Kind) {
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

    static func bootstrapLogging() -> Logger {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        return Logger(label: "pgsink.airbyte")
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

        func run() throws {
            let logger = AirbyteCommand.bootstrapLogging()
            var status = "SUCCEEDED"
            var message = "connected; the schema can be written"
            do {
                let parsed = try AirbyteConfig(try AirbyteCommand.readJSON(config, what: "config"))
                defer { for file in parsed.temporaryFiles { try? FileManager.default.removeItem(atPath: file) } }
                let pg = try PGConnection.connect(to ?? parsed.conninfo ?? "", logger: logger)
                let schema = parsed.streams.naming.normalize(parsed.streams.schema)
                let rows = try pg.query(SQL.writePrivileges, [schema]).rows
                let row = rows.first ?? []
                if row.first == "f" {
                    status = "FAILED"
                    message = "the user may not create tables in schema \(schema): GRANT CREATE ON SCHEMA \(quoteIdentifier(schema)) TO \(pg.user)"
                } else if row.count > 1 && row[1] == "f" {
                    status = "FAILED"
                    message = "the user may not create temporary tables (needed by dedup): GRANT TEMPORARY ON DATABASE … TO \(pg.user)"
                } else {
                    message = "connected to \(pg.endpoint) (PostgreSQL \(pg.serverVersion / 10000)); schema \(schema) can be written"
                }
            } catch {
                status = "FAILED"
                message = "\(error)"
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

        func run() throws {
            let logger = AirbyteCommand.bootstrapLogging()
            var destination: AirbyteDestination?
            do {
                let parsed = try AirbyteConfig(try AirbyteCommand.readJSON(config, what: "config"))
                for warning in parsed.warnings { logger.warning("\(warning)") }
                let configured = try AirbyteCommand.readJSON(catalog, what: "catalog")
                let pg: PGConnection
                do {
                    pg = try PGConnection.connect(to ?? parsed.conninfo ?? "", logger: logger)
                } catch {
                    throw AirbyteFailure(kind: .config, message: "\(error)")
                }
                for file in parsed.temporaryFiles { try? FileManager.default.removeItem(atPath: file) }
                let target = try AirbyteDestination(config: parsed, catalog: configured, connection: pg, logger: logger) {
                    FileHandle.standardOutput.write(Data(($0 + "\n").utf8))
                }
                destination = target
                var reader = LineReader(fd: 0)
                while true {
                    switch try reader.next(timeout: parsed.streams.batchSeconds) {
                    case .line(let bytes): try target.process(bytes)
                    case .timeout: try target.flushIfDue()
                    case .end:
                        try target.finish()
                        let rows = target.rowsByTable.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                        FileHandle.standardError.write(Data("pgsink airbyte: loaded \(rows.isEmpty ? "nothing" : rows.joined(separator: ", "))\n".utf8))
                        return
                    }
                }
            } catch let failure as AirbyteFailure {
                destination?.abandon()
                AirbyteCommand.trace(failure.message, kind: failure.kind)
                throw ExitCode(1)
            } catch {
                destination?.abandon()
                let transient = (error as? PGError)?.kind == .connection
                AirbyteCommand.trace(
                    "\(error); the batch in progress was rolled back, states echoed so far stand",
                    kind: transient ? .transient : .system)
                throw ExitCode(1)
            }
        }
    }
}
