import Foundation
import PGSinkCore

/// The `destination` section of a config file: the connection, and the load options
/// (`LoadSettings`, each also a flag of `pgsink load`; flags win over the file). A Nilus pipeline
/// file gives the same from its `spec.sink`, and the pipeline itself for the cdc commands.
/// Keys are documented in docs/configuration.md.
public struct DestinationConfig {
    public var connection: ConnectionSettings?
    public var settings = LoadSettings()
    /// The file is a Nilus pipeline (`type: nilus`); its sink address is read by `connection(replaced:)`.
    public var pipeline: NilusPipeline?
    /// `pgvector_config`: embeddings of loaded tables (docs/pgvector.md).
    public var pgvector: PgVectorConfig?
    /// The `events` section, read only by `pgsink serve` (`eventSettings()`); other commands pass over it.
    var eventFields: [String: Any]?
    /// The `destination` section as written, which a pipeline's own `destination` goes over.
    public var destinationFields: [String: Any] = [:]
    /// The `pipelines` section, read only by `pgsink run`, `history` and `status` (`PipelineFile`).
    public var pipelineFields: Any?
    /// The file, for errors.
    var place = "config"

    public init() {}

    /// Reads `--config FILE` (or ./pgsink.yaml when there is one) and the secrets files, and
    /// returns the destination section; nil when there is no file at all.
    public static func load(config: String?, secrets: [String]) throws -> DestinationConfig? {
        var path = config
        if path == nil {
            path = ConfigFile.defaultNames.first { FileManager.default.fileExists(atPath: $0) }
        }
        guard path != nil || !secrets.isEmpty else { return nil }
        var tree = try path.map { try ConfigFile.read($0) } ?? [:]
        var secretFiles = secrets
        if let named = tree.removeValue(forKey: "secrets") {
            guard let file = named as? String else { throw ConnectionError("\(path ?? "config"): secrets must be a file name") }
            secretFiles.insert(file, at: 0)
        }
        for file in secretFiles { tree = ConfigFile.merge(tree, try ConfigFile.read(file)) }
        let place = path ?? secretFiles.first ?? "config"
        if tree["kind"] != nil && tree["type"] == nil { tree = try cloudQuerySpec(tree, place: place) }
        if NilusPipeline.isResource(tree) { return try DestinationConfig(pipeline: tree, place: place) }
        let sections = ["destination", "events", "pipelines"]
        for key in tree.keys.sorted() where !sections.contains(key) {
            let near = sections.min { editDistance($0, key) < editDistance($1, key) } ?? ""
            throw ConnectionError(
                "\(place): unknown top-level key \"\(key)\" (did you mean \"\(near)\"?); pgsink reads destination:, events: "
                    + "(pgsink serve), pipelines: (pgsink run) and secrets:")
        }
        var config = DestinationConfig()
        if let section = tree["destination"] {
            guard var fields = section as? [String: Any] else {
                throw ConnectionError("\(place): destination must be a section of keys")
            }
            // dlt's layout: [destination.postgres] / [destination.postgres.credentials].
            for alias in ["postgres", "postgresql"] {
                if let inner = fields.removeValue(forKey: alias) as? [String: Any] { fields = ConfigFile.merge(fields, inner) }
            }
            config = try DestinationConfig(fields: fields, where: "\(place): destination")
            config.destinationFields = fields
        }
        config.pipelineFields = tree["pipelines"]
        if let section = tree["events"] {
            guard let fields = section as? [String: Any] else {
                throw ConnectionError("\(place): events must be a section of keys")
            }
            config.eventFields = fields
        }
        config.place = place
        return config
    }

    /// A CloudQuery destination spec (`kind: destination`, the plugin's options under `spec.spec`)
    /// as a `destination` section: its keys (connection_string, write_mode, batch_size,
    /// pgvector_config, …) are pgsink's too.
    static func cloudQuerySpec(_ tree: [String: Any], place: String) throws -> [String: Any] {
        guard let kind = tree["kind"] as? String, kind == "destination" else {
            throw ConnectionError(
                "\(place): kind \"\(tree["kind"] ?? "")\" is not a destination; pgsink reads CloudQuery's kind: destination "
                    + "spec (give the destination's spec file, not the source's)")
        }
        guard let outer = tree["spec"] as? [String: Any] else {
            throw ConnectionError("\(place): a CloudQuery destination spec needs spec: with the plugin's name, path and spec:")
        }
        let inner = outer["spec"] ?? [String: Any]()
        guard let fields = inner as? [String: Any] else {
            throw ConnectionError("\(place): spec.spec must be a section of keys (connection_string, write_mode, …)")
        }
        return ["destination": fields]
    }

    /// The `events` section's settings (empty without one). A Nilus pipeline has none: it is refused.
    public func eventSettings(for command: String) throws -> EventSettings {
        if let pipeline {
            throw ConnectionError(
                "\(place) is a Nilus pipeline (spec.type: \(pipeline.kind.rawValue)), which \(command) does not run; give "
                    + "\(command) a config with an events: section (and destination:), see docs/configuration.md")
        }
        guard let eventFields else { return EventSettings() }
        return try EventSettings(fields: eventFields, where: "\(place): events")
    }

    public init(fields: [String: Any], where place: String) throws {
        var fields = fields
        if let section = fields.removeValue(forKey: "pgvector_config") {
            guard let inner = section as? [String: Any] else {
                throw ConnectionError("\(place).pgvector_config must be a section of keys (tables, text_splitter, embedding)")
            }
            pgvector = try PgVectorConfig(fields: inner, where: "\(place).pgvector_config")
        }
        let unknown = LoadSettings.unknownKeys(
            in: fields, known: ConnectionSettings.isConnectionField, otherNames: ConnectionSettings.fieldNames)
        if let (key, near) = unknown.first {
            throw ConnectionError("\(place): unknown key \"\(key)\" (did you mean \"\(near)\"?); see docs/configuration.md")
        }
        let connectionFields = fields.filter { ConnectionSettings.isConnectionField($0.key) }
        if !connectionFields.isEmpty { connection = try ConnectionSettings(fields: connectionFields, where: place) }
        settings = try LoadSettings.decode(fields) { "\(place).\($0)" }
    }

    /// A Nilus pipeline: a batch pipeline's `spec.sink.options` are load settings.
    init(pipeline tree: [String: Any], place: String) throws {
        let pipeline = try NilusPipeline(tree, place: place)
        if pipeline.kind == .batch {
            let options = try NilusPipeline.batchSinkOptions(tree, place: place)
            self = try DestinationConfig(fields: options, where: "\(place): spec.sink.options")
            destinationFields = options
        }
        self.pipeline = pipeline
        self.place = place
    }

    /// The connection the file gives. `replaced` (a `--to` string is given): a Nilus sink address
    /// is not needed, so one pgsink cannot use (`dataos://…`) is no error.
    public func connection(replaced: Bool) throws -> ConnectionSettings? {
        guard let pipeline else { return connection }
        return replaced ? connection : try pipeline.sinkConnection() ?? connection
    }
}
