import ArgumentParser
import Foundation
import Logging
import PGSink

/// `--log-level`, shared by every command.
struct LoggingOptions: ParsableArguments {
    @Option(name: .customLong("log-level"), help: ArgumentHelp(
        "error, warn, info, debug or trace. debug and trace may print data values.", valueName: "level"))
    var logLevel: String?

    func validate() throws {
        if let logLevel, !LogLevelName.all.contains(logLevel) {
            throw ValidationError("--log-level takes \(LogLevelName.all.joined(separator: ", ")) (got \"\(logLevel)\")")
        }
    }
}

/// `--config` and `--secrets`, shared by the commands that read pgsink.yaml.
struct ConfigOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: ArgumentHelp(
        "A YAML config file with a destination: section, or a Nilus pipeline (default: ./pgsink.yaml when it exists). "
            + "Flags win over it.",
        valueName: "file"))
    var configFile: String?

    @Option(name: .customLong("secrets"), help: ArgumentHelp(
        "A secrets file (TOML or YAML, e.g. .dlt/secrets.toml) merged into the config (repeatable).", valueName: "file"))
    var secretFiles: [String] = []

    /// The destination section, or nil when there is no file; errors are the user's one line.
    /// `kind`: a Nilus pipeline file must be of this kind, which `command` runs.
    func load(requiring kind: NilusPipeline.Kind? = nil, for command: String = "") throws -> DestinationConfig? {
        do {
            let file = try DestinationConfig.load(config: configFile, secrets: secretFiles)
            if let kind { try file?.pipeline?.require(kind, for: command) }
            return file
        } catch {
            throw CommandFailure(description: "\(error)")
        }
    }

    /// The connection `file` gives; `replaced` when a --to string replaces it.
    static func connection(of file: DestinationConfig?, replaced: Bool) throws -> ConnectionSettings? {
        do {
            return try file?.connection(replaced: replaced)
        } catch {
            throw CommandFailure(description: "\(error)")
        }
    }
}

enum LogSetup {
    /// Logs go to stderr, with every registered secret masked. `fallback` applies when neither
    /// --log-level nor the config file names a level.
    static func bootstrap(_ name: String?, fallback: Logger.Level) -> Logger {
        let level = name.map(level(of:)) ?? fallback
        LoggingSystem.bootstrap { label in
            var handler = RedactingLogHandler(inner: StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "pgsink")
        if level <= .debug {
            logger.warning("log level \(name ?? "debug"): logs may contain data values; do not use it in production")
        }
        return logger
    }

    static func level(of name: String) -> Logger.Level {
        switch name {
        case "error": return .error
        case "warn": return .warning
        case "info": return .info
        case "debug": return .debug
        default: return .trace
        }
    }
}

/// Masks secrets (see `Secrets`) in every message and metadata value.
struct RedactingLogHandler: LogHandler {
    var inner: StreamLogHandler

    var logLevel: Logger.Level {
        get { inner.logLevel }
        set { inner.logLevel = newValue }
    }
    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        let masked = metadata?.mapValues { Logger.Metadata.Value.string(Secrets.redact("\($0)")) }
        inner.log(
            level: level, message: "\(Secrets.redact(message.description))", metadata: masked, source: source, file: file,
            function: function, line: line)
    }
}
