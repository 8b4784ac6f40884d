import Foundation
import Logging
import PGSinkCore

/// Runs one pipeline once: its history row opens, the source's reader feeds the writer of its
/// kind (`Loader` for files, `StreamLoad` for the rest), and the row closes with what was
/// committed, the error if any, and the state after the run.
public struct PipelineRunner {
    public let pipeline: PipelineDefinition
    /// The destination's connection settings, resolved by the command (flags, file, environment).
    public let connection: ConnectionSettings
    public let logger: Logger

    public init(pipeline: PipelineDefinition, connection: ConnectionSettings, logger: Logger) {
        self.pipeline = pipeline
        self.connection = connection
        self.logger = logger
    }

    /// The settings of the destination: the pipeline's keys, the flags' none.
    var settings: LoadSettings {
        (try? LoadSettings.resolve(flags: LoadSettings(), file: pipeline.destination.settings, environment: ProcessInfo.processInfo.environment))
            ?? pipeline.destination.settings
    }

    /// The destination schema: the connection's `schema` (Mage's `schema` key), else public.
    var schema: String { settings.naming.normalize(connection.schema ?? "public") }

    var retries: Int { max(0, settings.effective(\.connectRetries)) }

    /// The ledger of the destination schema, on a connection of its own (so that a cancelled
    /// load's connection is not the one that records the cancellation). `prepared`: its tables
    /// are created when missing (a run); a reader (`history`, `status`) checks `exists()`.
    public func ledger(prepared: Bool = true) throws -> PipelineLedger {
        let ledger = PipelineLedger(connection: try Connector(connection, logger: logger, retries: retries).connect(), schema: schema)
        if prepared { try ledger.prepare() }
        return ledger
    }

    /// Runs the pipeline; the outcome is recorded whatever happens, and returned. Errors are in
    /// the outcome, not thrown, but for a failure to reach the ledger.
    public func run() throws -> PipelineOutcome {
        let ledger = try self.ledger()
        let started = Date()
        let id = try ledger.begin(pipeline: pipeline.name, source: pipeline.source.kind, started: started)
        let before = try savedState(in: ledger)
        var outcome = PipelineOutcome()
        let connector = Connector(connection, logger: logger, retries: retries)
        defer { connector.close() }
        do {
            var pg = try connector.connect()
            try load(into: &pg, connector: connector, savedState: before, outcome: &outcome)
        } catch {
            let report = FailureReport(error)
            outcome.status = Interrupt.signal != nil ? .cancelled : .failed
            outcome.errorCode = report.code
            outcome.error = report.message
        }
        if outcome.state == nil { outcome.state = try? ledger.savedState(pipeline.stateId) }
        try ledger.end(run: id, outcome)
        return outcome
    }

    /// The state the last run left: the writer's row in `_pgsink_state` (committed with the
    /// data), else the pipeline's row. An Airbyte source's is per stream: the pipeline's array with
    /// the writer's latest message over it.
    func savedState(in ledger: PipelineLedger) throws -> String? {
        let committed = try ledger.savedState(pipeline.stateId)
        let recorded = try ledger.pipelines().first { $0.name == pipeline.name }?.state
        guard case .airbyte = pipeline.source else { return committed ?? recorded }
        var states = AirbyteStates(saved: recorded)
        if let committed { states.add(committed) }
        return states.text
    }

    private func load(into pg: inout PGConnection, connector: Connector, savedState: String?, outcome: inout PipelineOutcome)
        throws
    {
        switch pipeline.source {
        case .files(let source):
            try loadFiles(source, into: &pg, connector: connector, outcome: &outcome)
        case .postgres(let source):
            let sourceConnector = Connector(try ConnectionSettings(string: source.url), logger: logger, retries: retries)
            defer { sourceConnector.close() }
            let result = try TableCopy.run(
                source, streams: streamSettings, savedState: savedState, sourceConnector: sourceConnector, connection: pg,
                connector: connector, retries: retries, logger: logger)
            outcome.rows = result.rows
            outcome.state = result.state
        case .singer(let tool):
            try runSinger(tool, savedState: savedState, pg: pg, connector: connector, outcome: &outcome)
        case .airbyte(let tool):
            try runAirbyte(tool, savedState: savedState, pg: pg, connector: connector, outcome: &outcome)
        case .cdc(let source):
            guard let url = source.url else {
                throw LoadError("pipeline \(pipeline.name): the cdc source needs url: (the source's postgresql:// URL)")
            }
            let sourceConnector = Connector(try ConnectionSettings(string: url), logger: logger, retries: retries)
            defer { sourceConnector.close() }
            var settings = source.settings
            settings.streams = streamSettings
            settings.once = true
            let summary = try LogicalReplication.run(
                settings: settings, source: sourceConnector, connection: pg, connector: connector, retries: retries,
                logger: logger)
            outcome.rows = summary.rows
            outcome.state = #"{"slot": "\#(settings.slot)", "lsn": "\#(summary.lastLSN)"}"#
        case .events(let source):
            try loadEvents(source, connector: connector, outcome: &outcome)
        }
    }

    /// The stream writer's settings from the destination's keys, saving state under the pipeline's id.
    var streamSettings: StreamSettings {
        let settings = self.settings
        var streams = StreamSettings()
        streams.schema = schema
        streams.createSchema = !settings.effective(\.skipSchemaCreation)
        streams.naming = settings.naming
        streams.contract = settings.effective(\.schemaContract)
        streams.maxRejects = settings.effective(\.maxRejects)
        streams.nested = settings.effective(\.nested)
        streams.batchRows = max(settings.effective(\.batchRows), streams.batchRows)
        streams.stateId = pipeline.stateId
        streams.embeddings = pipeline.destination.pgvector
        return streams
    }

    // MARK: files

    /// Each table's new files (by fingerprint) in one load of the `Loader`.
    private func loadFiles(_ source: FilesSource, into pg: inout PGConnection, connector: Connector, outcome: inout PipelineOutcome)
        throws
    {
        let settings = self.settings
        for (table, fresh) in try newFiles(source, on: pg) {
            var request = LoadRequest(inputs: fresh, table: table, settings: settings)
            request.runId = UUID().uuidString
            request.embeddings = pipeline.destination.pgvector
            let summary = try Loader(request: request, logger: logger).run(on: &pg, connector: connector, retries: retries)
            outcome.rows[summary.table, default: 0] += summary.rows
            outcome.rejected += summary.rejected
        }
    }

    /// The files the globs match whose fingerprint the ledger does not hold for their table, by
    /// table, in order.
    func newFiles(_ source: FilesSource, on pg: PGConnection) throws -> [(table: TableName, paths: [String])] {
        let settings = self.settings
        var order: [TableName] = []
        var grouped: [TableName: [String]] = [:]
        for path in try Self.expand(source.paths, in: source.directory) {
            let name = settings.table ?? source.table ?? TableName.baseName(ofPath: path)
            let parts = name.split(separator: ".", maxSplits: 1).map(String.init)
            let table = parts.count == 2
                ? TableName(schema: settings.naming.normalize(parts[0]), name: settings.naming.normalize(parts[1], fallback: "data"))
                : TableName(schema: schema, name: settings.naming.normalize(name, fallback: "data"))
            if grouped[table] == nil { order.append(table) }
            grouped[table, default: []].append(path)
        }
        var result: [(table: TableName, paths: [String])] = []
        for table in order {
            let loaded = try Self.loadedFingerprints(of: table, on: pg)
            let fresh = try grouped[table]!.filter { !loaded.contains(try Self.fingerprint(of: $0)) }
            let skipped = grouped[table]!.count - fresh.count
            if skipped > 0 { logger.info("\(table): \(skipped) file(s) already loaded, by their fingerprint") }
            if !fresh.isEmpty { result.append((table, fresh)) }
        }
        return result
    }

    /// The files the globs match, sorted, each once (a glob may match nothing yet).
    static func expand(_ patterns: [String], in directory: String) throws -> [String] {
        var seen = Set<String>()
        var result: [String] = []
        for pattern in patterns {
            let full = pattern.hasPrefix("/") ? pattern : directory + "/" + pattern
            var matches = glob_t()
            defer { globfree(&matches) }
            guard glob(full, 0, nil, &matches) == 0 else { continue }
            for index in 0..<Int(matches.gl_pathc) {
                guard let raw = matches.gl_pathv[index] else { continue }
                let path = String(cString: raw)
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                    seen.insert(path).inserted
                {
                    result.append(path)
                }
            }
        }
        return result.sorted()
    }

    /// The SHA-256 fingerprint of a file's (decompressed) content, as the ledger records it.
    static func fingerprint(of path: String) throws -> String {
        let input = try InputFile(path: path)
        let storage = ByteStorage(capacity: 1 << 20)
        while true {
            storage.removeAll()
            if try input.read(into: storage, count: 1 << 20) == 0 { break }
        }
        return input.fingerprint
    }

    static func loadedFingerprints(of table: TableName, on pg: PGConnection) throws -> Set<String> {
        guard try Catalog.columns(of: TableName(schema: table.schema, name: SQL.ledgerName), on: pg) != nil else { return [] }
        return Set(try pg.query(SQL.loadedFingerprints(schema: table.schema), [table.name, table.quoted]).rows.compactMap { $0[0] })
    }

    // MARK: Singer and Airbyte

    private func runSinger(
        _ tool: ToolSource, savedState: String?, pg: PGConnection, connector: Connector, outcome: inout PipelineOutcome
    ) throws {
        var command = tool.command
        if let config = tool.config { command += ["--config", config] }
        if let catalog = tool.catalog { command += ["--catalog", catalog] }
        if let savedState { command += ["--state", try Self.stateFile(savedState, pipeline: pipeline.name)] }
        var settings = SingerSettings()
        settings.streams = streamSettings
        var last: String?
        let child = try ToolProcess.start(command, logger: logger)
        let rows: [String: Int]
        do {
            rows = try SingerTarget.run(
                settings: settings, input: child.output, connection: pg, connector: connector, retries: retries,
                logger: logger
            ) { last = $0 }
        } catch {
            outcome.state = last
            child.stop()
            throw error
        }
        outcome.rows = rows
        outcome.state = last ?? savedState
        let status = child.wait()
        guard status == 0 else {
            throw LoadError("\(child.name) exited with status \(status) (what it sent before is committed): \(child.lastErrors)")
        }
    }

    private func runAirbyte(
        _ tool: ToolSource, savedState: String?, pg: PGConnection, connector: Connector, outcome: inout PipelineOutcome
    ) throws {
        var states = AirbyteStates(saved: savedState)
        var command = tool.command + ["read", "--config", tool.config ?? "", "--catalog", tool.catalog ?? ""]
        if let text = states.text { command += ["--state", try Self.stateFile(text, pipeline: pipeline.name)] }
        let catalogText = FileManager.default.contents(atPath: tool.catalog ?? "")
        guard let catalogText, let catalog = try? JSONSerialization.jsonObject(with: catalogText) as? [String: Any] else {
            throw LoadError("pipeline \(pipeline.name): cannot read the configured catalog \(tool.catalog ?? "") as a JSON object")
        }
        var config = try AirbyteConfig([:])
        config.streams = streamSettings
        let child = try ToolProcess.start(command, logger: logger)
        let rows: [String: Int]
        do {
            rows = try AirbyteDestination.run(
                config: config, catalog: catalog, catalogText: [UInt8](catalogText), input: child.output, connection: pg,
                connector: connector, retries: retries, logger: logger
            ) { states.add($0) }
        } catch {
            outcome.state = states.text
            child.stop()
            throw error
        }
        outcome.rows = rows
        outcome.state = states.text
        let status = child.wait()
        guard status == 0 else {
            throw LoadError("\(child.name) exited with status \(status) (what it sent before is committed): \(child.lastErrors)")
        }
    }

    /// The state written to a private temporary file for the tool's `--state`.
    static func stateFile(_ state: String, pipeline: String) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("pgsink-state-\(getpid())-\(UUID().uuidString.prefix(8)).json").path
        guard FileManager.default.createFile(atPath: path, contents: Data(state.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw LoadError("pipeline \(pipeline): cannot write its state to \(path)")
        }
        return path
    }
}

/// An Airbyte source's state as `--state` takes it: the latest STATE message per stream (or the
/// latest global or legacy one), as a JSON array of their `state` objects.
struct AirbyteStates {
    private var byStream: [String: Any] = [:]
    private var order: [String] = []

    /// From what a pipeline saved: the array of an earlier run, or one STATE message the writer
    /// committed since (`_pgsink_state`).
    init(saved: String?) {
        guard let saved, let value = try? JSONSerialization.jsonObject(with: Data(saved.utf8)) else { return }
        if let list = value as? [Any] {
            for state in list { put(state) }
        } else if let message = value as? [String: Any] {
            put(message["state"] ?? message)
        }
    }

    /// A STATE message the destination committed.
    mutating func add(_ line: String) {
        guard let message = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return }
        put(message["state"] ?? message)
    }

    private mutating func put(_ state: Any) {
        guard let object = state as? [String: Any] else { return }
        var key = "global"
        if (object["type"] as? String)?.uppercased() == "STREAM",
            let descriptor = (object["stream"] as? [String: Any])?["stream_descriptor"] as? [String: Any]
        {
            key = "stream:\(descriptor["namespace"] as? String ?? "").\(descriptor["name"] as? String ?? "")"
        }
        if byStream[key] == nil { order.append(key) }
        byStream[key] = object
    }

    /// The JSON array, or nil when there is no state yet.
    var text: String? {
        guard !order.isEmpty,
            let data = try? JSONSerialization.data(withJSONObject: order.map { byStream[$0]! }, options: [.sortedKeys])
        else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
