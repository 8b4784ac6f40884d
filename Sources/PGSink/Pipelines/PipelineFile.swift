import Foundation
import PGSinkCore

/// A file `pgsink run` reads: pgsink.yaml with a `pipelines:` section, or a Nilus pipeline
/// document (`type: nilus`, one pipeline). Paths in it are relative to the file's directory.
public struct PipelineFile {
    /// The file, for errors.
    public var place: String
    /// The file's own destination section (the ledger of every pipeline is in its schema).
    public var destination: DestinationConfig
    public var pipelines: [PipelineDefinition]

    public static let sourceTypes = ["files", "postgres", "singer", "airbyte", "cdc", "events"]

    /// Reads `path` (or ./pgsink.yaml) and the secrets files.
    public static func load(path: String?, secrets: [String] = []) throws -> PipelineFile {
        guard let config = try DestinationConfig.load(config: path, secrets: secrets) else {
            throw PipelineConfigError(
                "no pipeline file: pass one (pgsink run pipelines.yaml), or write ./pgsink.yaml (pgsink init makes one)")
        }
        let place = config.place
        let directory = URL(fileURLWithPath: place).deletingLastPathComponent().path
        var file = PipelineFile(place: place, destination: config, pipelines: [])
        if let nilus = config.pipeline {
            file.pipelines = [try nilusPipeline(nilus, destination: config)]
            return file
        }
        guard let section = config.pipelineFields else {
            throw PipelineConfigError("\(place) has no pipelines: section; see docs/pipelines.md (pgsink init writes an example)")
        }
        var entries: [(String?, Any)] = []
        if let list = section as? [Any] {
            entries = list.map { (nil, $0) }
        } else if let map = section as? [String: Any] {
            entries = map.keys.sorted().map { ($0, map[$0]!) }
        } else {
            throw PipelineConfigError("\(place): pipelines must be a list of pipelines (each with name: and source:)")
        }
        var seen = Set<String>()
        for (index, (key, value)) in entries.enumerated() {
            guard let fields = value as? [String: Any] else {
                throw PipelineConfigError("\(place): pipelines[\(key ?? String(index))] must be a section of keys (name, source, …)")
            }
            let pipeline = try PipelineReader(place: place, directory: directory, fileDestination: config)
                .read(fields, key: key, index: index)
            guard seen.insert(pipeline.name).inserted else {
                throw PipelineConfigError("\(place): two pipelines are named \(pipeline.name); each needs a name of its own")
            }
            file.pipelines.append(pipeline)
        }
        return file
    }

    /// The pipelines named (all when `names` is empty); an unknown name is an error listing them.
    public func selected(_ names: [String]) throws -> [PipelineDefinition] {
        guard !names.isEmpty else { return pipelines }
        return try names.map { name in
            guard let pipeline = pipelines.first(where: { $0.name == name }) else {
                throw PipelineConfigError(
                    "\(place) has no pipeline \(name); it has \(pipelines.map(\.name).joined(separator: ", "))")
            }
            return pipeline
        }
    }

    /// A Nilus document as one pipeline: `spec.type: batch` reads `spec.source.options.source_table`
    /// from the PostgreSQL at `spec.source.address`; `cdc` follows its slot (`cdc stream --once`).
    static func nilusPipeline(_ nilus: NilusPipeline, destination: DestinationConfig) throws -> PipelineDefinition {
        let name = nilus.name ?? URL(fileURLWithPath: nilus.place).deletingPathExtension().lastPathComponent
        let source: PipelineSource
        switch nilus.kind {
        case .batch:
            guard let table = nilus.sourceTable else {
                throw PipelineConfigError("\(nilus.place): spec.source.options.source_table names the table to read; add it")
            }
            guard try nilus.sourceConnection() != nil, let address = nilus.sourceAddress else {
                throw PipelineConfigError("\(nilus.place): spec.source.address must be the source's postgresql:// URL")
            }
            source = .postgres(
                PostgresSource(
                    url: address, tables: [table], query: nil, cursor: nilus.incrementalKey,
                    primaryKey: nilus.primaryKey.map { ColumnList(parsing: $0).names } ?? [],
                    destinationTable: destination.settings.table))
        case .cdc:
            var settings = LogicalSettings()
            nilus.configure(&settings)
            try nilus.check(settings)
            _ = try nilus.sourceConnection()
            source = .cdc(CDCSource(url: nilus.sourceAddress, settings: settings))
        }
        return PipelineDefinition(name: name, source: source, destination: destination, schedule: nil)
    }
}

/// Reads one entry of `pipelines:`.
struct PipelineReader {
    let place: String
    let directory: String
    let fileDestination: DestinationConfig

    func read(_ fields: [String: Any], key: String?, index: Int) throws -> PipelineDefinition {
        let known = ["name", "source", "destination", "schedule", "description"]
        guard let name = (fields["name"] as? String) ?? key, !name.isEmpty else {
            throw PipelineConfigError("\(place): pipelines[\(index)] needs a name:")
        }
        let at = "\(place): pipeline \(name)"
        for field in fields.keys.sorted() where !known.contains(field) {
            throw PipelineConfigError("\(at): unknown key \"\(field)\"; a pipeline has \(known.joined(separator: ", "))")
        }
        guard let sourceFields = fields["source"] as? [String: Any] else {
            throw PipelineConfigError("\(at): source: must be a section with type: (\(PipelineFile.sourceTypes.joined(separator: ", ")))")
        }
        let destination = try self.destination(fields["destination"], at: at)
        let source = try self.source(sourceFields, name: name, at: "\(at): source")
        var schedule = try fields["schedule"].map { try Self.schedule($0, at: "\(at): schedule") }
        if schedule == nil, case .events(let events) = source {
            // The events: section's sync keys are the schedule a pipeline without one keeps.
            do throws(ScheduleError) {
                schedule = try events.settings.syncSchedule()
            } catch {
                throw PipelineConfigError("\(place): events: sync \(error.description)")
            }
        }
        return PipelineDefinition(name: name, source: source, destination: destination, schedule: schedule)
    }

    /// The file's destination with the pipeline's keys over it. The pipeline's may be a section,
    /// a CloudQuery `kind: destination` spec pasted as it is, or the name of a file holding either.
    func destination(_ value: Any?, at: String) throws -> DestinationConfig {
        guard var value else { return fileDestination }
        if let path = value as? String {
            value = try ConfigFile.read(resolve(path))
        }
        guard var fields = value as? [String: Any] else {
            throw PipelineConfigError("\(at): destination must be a section of keys, a CloudQuery spec, or a file name")
        }
        if fields["kind"] != nil {
            fields = try DestinationConfig.cloudQuerySpec(fields, place: at)["destination"] as? [String: Any] ?? [:]
        } else if let inner = fields["destination"] as? [String: Any] {
            fields = inner
        }
        // A connection string of the pipeline's replaces the file's (its schema and other keys stay).
        var base = fileDestination.destinationFields
        if fields.keys.contains(where: ConnectionSettings.stringFields.contains) {
            base = base.filter { !ConnectionSettings.stringFields.contains($0.key) }
        }
        let merged = ConfigFile.merge(base, fields)
        var config = try DestinationConfig(fields: merged, where: "\(at): destination")
        config.destinationFields = merged
        if config.connection == nil { config.connection = fileDestination.connection }
        return config
    }

    /// A query's result goes to a table named after the pipeline unless `dest_table` says otherwise.
    func source(_ fields: [String: Any], name: String, at: String) throws -> PipelineSource {
        guard let type = fields["type"] as? String, PipelineFile.sourceTypes.contains(type) else {
            throw PipelineConfigError(
                "\(at): type is \(fields["type"].map { "\($0)" } ?? "missing"); it must be one of "
                    + PipelineFile.sourceTypes.joined(separator: ", "))
        }
        let keys: [String: [String]] = [
            "files": ["paths", "path", "table"],
            "postgres": ["url", "tables", "table", "query", "cursor", "primary_key", "dest_table"],
            "singer": ["tap", "command", "config", "catalog"],
            "airbyte": ["command", "config", "catalog"],
            "cdc": ["url", "tables", "schemas", "slot", "publication", "dest_table", "snapshot"],
            "events": EventSettings.names.filter { !Self.eventSyncKeys.contains($0) },
        ]
        if type == "events", let key = fields.keys.sorted().first(where: Self.eventSyncKeys.contains) {
            throw PipelineConfigError(
                "\(at): \(key) is the pipeline's schedule: here (every:, cron:, start_at, exclude_window); move it there")
        }
        for key in fields.keys.sorted() where key != "type" && !keys[type]!.contains(key) {
            throw PipelineConfigError("\(at): a \(type) source has no key \"\(key)\"; it takes \(keys[type]!.joined(separator: ", "))")
        }
        switch type {
        case "files":
            let paths = try list(fields["paths"] ?? fields["path"], "paths", at)
            guard !paths.isEmpty else { throw PipelineConfigError("\(at): paths: lists the files to load (globs such as data/*.csv)") }
            return .files(FilesSource(paths: paths, table: try text(fields["table"], "table", at), directory: directory))
        case "postgres":
            guard let url = try text(fields["url"], "url", at) else {
                throw PipelineConfigError("\(at): url: is the source's postgresql:// URL (write ${SOURCE_URL} to keep it out of the file)")
            }
            let tables = try list(fields["tables"] ?? fields["table"], "tables", at)
            let query = try text(fields["query"], "query", at)
            guard tables.isEmpty != (query == nil) else {
                throw PipelineConfigError("\(at): give tables: (schema.table names) or a query:, one of the two")
            }
            var destTable = try text(fields["dest_table"], "dest_table", at)
            if destTable != nil && tables.count > 1 {
                throw PipelineConfigError("\(at): dest_table names the destination of one source table; list one table")
            }
            if query != nil && destTable == nil { destTable = name }
            return .postgres(
                PostgresSource(
                    url: url, tables: tables, query: query, cursor: try text(fields["cursor"], "cursor", at),
                    primaryKey: try list(fields["primary_key"], "primary_key", at), destinationTable: destTable))
        case "singer", "airbyte":
            let command = try list(fields["command"] ?? fields["tap"], "command", at, splitOn: " ")
            guard !command.isEmpty else {
                throw PipelineConfigError("\(at): command: is the \(type == "singer" ? "tap" : "source") to run (e.g. tap-postgres)")
            }
            let tool = ToolSource(
                command: command, config: try text(fields["config"], "config", at).map(resolve),
                catalog: try text(fields["catalog"], "catalog", at).map(resolve))
            if type == "airbyte" && (tool.config == nil || tool.catalog == nil) {
                throw PipelineConfigError("\(at): an airbyte source needs config: and catalog: (the configured catalog)")
            }
            return type == "singer" ? .singer(tool) : .airbyte(tool)
        case "events":
            return .events(try events(fields.filter { $0.key != "type" }, at: at))
        default:
            var settings = LogicalSettings()
            settings.tables = try list(fields["tables"], "tables", at)
            settings.schemas = try list(fields["schemas"], "schemas", at)
            if let slot = try text(fields["slot"], "slot", at) { settings.slot = slot }
            if let publication = try text(fields["publication"], "publication", at) { settings.publication = publication }
            settings.destinationTable = try text(fields["dest_table"], "dest_table", at)
            if let snapshot = fields["snapshot"] {
                guard let value = snapshot as? Bool else { throw PipelineConfigError("\(at): snapshot must be true or false") }
                settings.snapshot = value
            }
            return .cdc(CDCSource(url: try text(fields["url"], "url", at), settings: settings))
        }
    }

    /// The keys of `events:` a pipeline's `schedule:` stands for.
    static let eventSyncKeys: Set<String> = ["sync", "syncFrequency", "syncStartAt", "excludeWindow"]

    /// The file's `events:` section with the source's keys over it (its `write_keys` replace the
    /// section's).
    func events(_ fields: [String: Any], at: String) throws -> EventsSource {
        do {
            let own = try EventSettings(fields: fields, where: at)
            return EventsSource(settings: own.overlaid(on: try fileDestination.eventSettings(for: "pgsink run")))
        } catch let error as PipelineConfigError {
            throw error
        } catch {
            throw PipelineConfigError("\(error)")
        }
    }

    /// `{every: 15m}` or `{cron: "0 * * * *"}`, with `start_at` (every only) and `exclude_window`.
    static func schedule(_ value: Any, at: String) throws -> SyncSchedule {
        guard let fields = value as? [String: Any] else {
            throw PipelineConfigError("\(at) must be a section: {every: 15m} or {cron: \"0 * * * *\"}")
        }
        let known = ["every", "cron", "start_at", "exclude_window"]
        for key in fields.keys.sorted() where !known.contains(key) {
            throw PipelineConfigError("\(at): unknown key \"\(key)\"; a schedule has \(known.joined(separator: ", "))")
        }
        do throws(ScheduleError) {
            var window: ExcludeWindow?
            if let raw = fields["exclude_window"] {
                if let text = raw as? String {
                    window = try ExcludeWindow(parsing: text)
                } else if let parts = raw as? [String: Any], let start = parts["start"], let end = parts["end"] {
                    window = try ExcludeWindow(start: TimeOfDay(parsing: "\(start)"), end: TimeOfDay(parsing: "\(end)"))
                } else {
                    throw ScheduleError("exclude_window must be {start: \"22:00\", end: \"02:00\"} in UTC")
                }
            }
            switch (fields["every"], fields["cron"]) {
            case (let every?, nil):
                guard let seconds = Seconds(setting: "\(every)") else {
                    throw ScheduleError("every \(Seconds.expected) (got \(every))")
                }
                var startAt: TimeOfDay?
                if let text = fields["start_at"] { startAt = try TimeOfDay(parsing: "\(text)") }
                return try SyncSchedule(frequency: seconds.seconds, startAt: startAt, excludeWindow: window)
            case (nil, let cron?):
                if fields["start_at"] != nil {
                    throw ScheduleError("start_at goes with every:; a cron expression gives its own times")
                }
                return SyncSchedule(cron: try CronSchedule(parsing: "\(cron)"), excludeWindow: window)
            default:
                throw ScheduleError("needs one of every: (15m) or cron: (\"0 * * * *\")")
            }
        } catch {
            throw PipelineConfigError("\(at): \(error.description)")
        }
    }

    /// A path relative to the config file's directory.
    func resolve(_ path: String) -> String {
        path.hasPrefix("/") || path.hasPrefix("~") ? (path as NSString).expandingTildeInPath : directory + "/" + path
    }

    private func text(_ value: Any?, _ key: String, _ at: String) throws -> String? {
        guard let value else { return nil }
        if let text = value as? String { return text }
        if value is Int || value is Double || value is Bool { return "\(value)" }
        throw PipelineConfigError("\(at): \(key) must be text")
    }

    /// A list, or one text split at commas (at spaces for a command).
    private func list(_ value: Any?, _ key: String, _ at: String, splitOn separator: Character = ",") throws -> [String] {
        guard let value else { return [] }
        if let text = value as? String {
            return text.split(separator: separator).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let items = value as? [Any] { return try items.map { try text($0, key, at) ?? "" } }
        throw PipelineConfigError("\(at): \(key) must be a list")
    }
}
