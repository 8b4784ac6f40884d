import ArgumentParser
import Foundation
import Logging
import PGSink
import PGSinkCore

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check the connection and the privileges a load needs; one line per check, with fixes.",
        discussion: "Exit code 0 only when every check passes."
    )

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var logging: LoggingOptions

    @OptionGroup var config: ConfigOptions

    @Option(help: ArgumentHelp("The table to load into.", valueName: "[schema.]table"))
    var table: String?

    @Option(help: "The schema (default: the table's, the connection's search_path, else public).")
    var schema: String?

    @Option(help: "The write mode whose privileges to check: append, replace or merge.")
    var mode: LoadMode?

    @Flag(name: .customLong("delete-stale"), help: "Also check what --delete-stale needs (DELETE).")
    var deleteStale = false

    @Option(name: .long, help: ArgumentHelp(
        "Also check a logical replication source (pgsink cdc stream): wal_level, the REPLICATION attribute, slots, the publication.",
        valueName: "conn"))
    var from: String?

    @Option(help: ArgumentHelp("With --from: the publication to check (default pgsink).", valueName: "name"))
    var publication: String?

    @Option(help: ArgumentHelp("With --from: the replication slot to check (default pgsink).", valueName: "name"))
    var slot: String?

    func run() throws {
        let file = try config.load()
        // A Nilus CDC pipeline: its source, slot and publication, then its sink and dest_table (merged into).
        let pipeline = file?.pipeline?.kind == .cdc ? file?.pipeline : nil
        var flags = LoadSettings()
        flags.table = table ?? pipeline?.destTable
        flags.writeMode = mode.map { WriteMode($0) } ?? (pipeline == nil ? nil : WriteMode(.merge))
        flags.deleteStale = deleteStale ? true : nil
        flags.logLevel = logging.logLevel.flatMap(LogLevel.init(rawValue:))
        let settings: LoadSettings
        do {
            settings = try LoadSettings.resolve(flags: flags, file: file?.settings, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw CommandFailure(description: "\(error)")
        }
        // Once: the logging system takes one bootstrap per process.
        let logger = LogSetup.bootstrap(settings.logLevel?.rawValue, fallback: .error)
        if from != nil || pipeline?.sourceAddress != nil {
            try checkSource(pipeline, logger: logger)
            if connection.to == nil && pipeline?.sinkAddress == nil { return }
        }
        let resolved: ConnectionSettings
        do {
            resolved = try connection.resolve(configured: try file?.connection(replaced: connection.to != nil))
        } catch {
            print(CheckResult(passed: false, name: "configuration", detail: "\(error)").text)
            throw ExitCode(1)
        }
        var schemaName = schema ?? resolved.schema ?? "public"
        var tableName = settings.table
        if let name = tableName, let dot = name.firstIndex(of: ".") {
            schemaName = schema ?? String(name[..<dot])
            tableName = String(name[name.index(after: dot)...])
        }
        let connector = Connector(resolved, logger: logger, retries: 0)
        defer { connector.close() }
        let target = ConnectionCheck.Target(
            schema: schemaName, table: tableName, mode: settings.effective(\.writeMode).mode,
            deleteStale: settings.effective(\.deleteStale), embeddings: file?.pgvector != nil,
            distribution: settings.distribution)
        let results = ConnectionCheck.run(connector, target: target)
        for result in results { print(result.text) }
        if results.contains(where: { !$0.passed }) { throw ExitCode(1) }
    }

    /// The logical replication source: `--from`, else the pipeline's `spec.source.address`.
    private func checkSource(_ pipeline: NilusPipeline?, logger: Logger) throws {
        let source: ConnectionSettings
        do {
            source = try from.map { try ConnectionSettings(string: $0) } ?? pipeline?.sourceConnection() ?? ConnectionSettings()
        } catch {
            print(CheckResult(passed: false, name: "source", detail: "\(error)").text)
            throw ExitCode(1)
        }
        let connector = Connector(source, logger: logger, retries: 0)
        defer { connector.close() }
        let results = SourceCheck.run(
            connector, publication: publication ?? pipeline?.publication ?? "pgsink", slot: slot ?? pipeline?.slot ?? "pgsink")
        for result in results { print(result.text) }
        if results.contains(where: { !$0.passed }) { throw ExitCode(1) }
    }
}
