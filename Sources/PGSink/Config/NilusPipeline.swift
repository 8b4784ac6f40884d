import Foundation
import PGSinkCore

/// A DataOS Nilus pipeline document (`type: nilus`, `spec.type: batch` or `cdc`) given as the
/// config file: where its source and sink are, its Debezium connector properties
/// (`spec.source.cdc`) in pgsink's terms, and its sink options. Addresses stay as written until a
/// command needs them, so a `dataos://` address is an error only when no flag replaces it.
/// docs/configuration.md and docs/cdc.md give the mapping.
public struct NilusPipeline: Sendable, Equatable {
    public enum Kind: String, Sendable { case batch, cdc }

    /// The file, for errors.
    public var place: String
    /// The resource's `name`, if it has one.
    public var name: String?
    public var kind: Kind
    /// `spec.source.address`: for `cdc stream`, the source's connection string.
    public var sourceAddress: String?
    /// `spec.sink.address`: the destination's connection string.
    public var sinkAddress: String?
    /// `spec.sink.options.dest_table` of a CDC pipeline (a batch pipeline's options are load settings).
    public var destTable: String?
    /// `table.include.list`: `schema.table` names.
    public var tables: [String] = []
    /// `schema.include.list`: every table of these schemas.
    public var schemas: [String] = []
    /// `slot.name`, `publication.name`.
    public var slot: String?
    public var publication: String?
    /// `snapshot.mode`: nil for `initial` (a new slot's snapshot), false for `never` / `no_data`.
    public var snapshot: Bool?
    /// `unavailable.value.placeholder` (for `cdc apply`).
    public var unavailableValue: String?
    /// A batch pipeline's `spec.source.options`: `source_table` (schema.table), `incremental_key`
    /// (the cursor column) and `primary_key`, which `pgsink run` reads from a postgres source.
    public var sourceTable: String?
    public var incrementalKey: String?
    public var primaryKey: String?

    /// The top-level keys of a DataOS resource pgsink reads past (only `type` and `spec` matter).
    static let resourceKeys: Set<String> = ["name", "version", "type", "spec", "tags", "description", "owner", "layer", "workspace"]
    /// The Debezium PostgreSQL connector properties `spec.source.cdc` may hold.
    public static let cdcKeys = [
        "table.include.list", "schema.include.list", "slot.name", "publication.name", "snapshot.mode", "plugin.name",
        "topic.prefix", "unavailable.value.placeholder",
    ]

    /// Whether a config tree is a DataOS resource (`type:` or `spec:` at the top) rather than
    /// pgsink's own `destination:` layout.
    public static func isResource(_ tree: [String: Any]) -> Bool {
        tree["type"] != nil || tree["spec"] != nil
    }

    /// Reads the document, checking every key; a batch pipeline's sink options are read by
    /// `batchSinkOptions` as load settings.
    public init(_ tree: [String: Any], place: String) throws {
        self.place = place
        for key in tree.keys.sorted() where !Self.resourceKeys.contains(key) {
            throw ConnectionError(
                "\(place): unknown top-level key \"\(key)\" in a Nilus pipeline; pgsink reads type: nilus and spec: (name, "
                    + "version, tags, description, owner, layer and workspace are passed over)")
        }
        name = tree["name"] as? String
        guard let type = tree["type"] as? String, type == "nilus" else {
            throw ConnectionError(
                "\(place): type is \(Self.shown(tree["type"])); pgsink reads Nilus pipelines (type: nilus) or a destination: section")
        }
        let spec = try Self.section(tree["spec"], "spec", place)
        try Self.known(spec, "spec", ["type", "compute", "source", "sink"], place)
        guard let kindName = spec["type"] as? String, let kind = Kind(rawValue: kindName) else {
            throw ConnectionError("\(place): spec.type is \(Self.shown(spec["type"])); a Nilus pipeline's spec.type is batch or cdc")
        }
        self.kind = kind
        let source = try Self.section(spec["source"] ?? [String: Any](), "spec.source", place)
        try Self.known(source, "spec.source", kind == .cdc ? ["address", "cdc"] : ["address", "options"], place)
        sourceAddress = try Self.text(source["address"], "spec.source.address", place)
        let sink = try Self.section(spec["sink"] ?? [String: Any](), "spec.sink", place)
        try Self.known(sink, "spec.sink", ["address", "options"], place)
        sinkAddress = try Self.text(sink["address"], "spec.sink.address", place)
        if kind == .batch {
            let options = try Self.section(source["options"] ?? [String: Any](), "spec.source.options", place)
            try Self.known(options, "spec.source.options", ["source_table", "incremental_key", "primary_key"], place)
            sourceTable = try Self.text(options["source_table"], "spec.source.options.source_table", place)
            incrementalKey = try Self.text(options["incremental_key"], "spec.source.options.incremental_key", place)
            primaryKey = try Self.text(options["primary_key"], "spec.source.options.primary_key", place)
        }
        if kind == .cdc {
            try readConnector(try Self.section(source["cdc"] ?? [String: Any](), "spec.source.cdc", place))
            try readCDCSinkOptions(try Self.section(sink["options"] ?? [String: Any](), "spec.sink.options", place))
        }
    }

    /// A batch pipeline's `spec.sink.options`: the load settings (`dest_table`, `incremental_strategy`, …).
    public static func batchSinkOptions(_ tree: [String: Any], place: String) throws -> [String: Any] {
        let spec = tree["spec"] as? [String: Any] ?? [:]
        let sink = spec["sink"] as? [String: Any] ?? [:]
        return try section(sink["options"] ?? [String: Any](), "spec.sink.options", place)
    }

    /// `spec.source.cdc`: each property mapped to its pgsink setting, or refused saying why.
    private mutating func readConnector(_ cdc: [String: Any]) throws {
        let at = "spec.source.cdc"
        for key in cdc.keys.sorted() where !Self.cdcKeys.contains(key) {
            throw ConnectionError(
                "\(place): \(at) has \"\(key)\", which pgsink does not read; the Debezium properties it reads are "
                    + Self.cdcKeys.joined(separator: ", "))
        }
        tables = try list(cdc["table.include.list"], "\(at).table.include.list")
        schemas = try list(cdc["schema.include.list"], "\(at).schema.include.list")
        slot = try Self.text(cdc["slot.name"], "\(at).slot.name", place)
        publication = try Self.text(cdc["publication.name"], "\(at).publication.name", place)
        unavailableValue = try Self.text(cdc["unavailable.value.placeholder"], "\(at).unavailable.value.placeholder", place)
        if let plugin = try Self.text(cdc["plugin.name"], "\(at).plugin.name", place), plugin != "pgoutput" {
            throw ConnectionError(
                "\(place): \(at).plugin.name is \(plugin); pgsink reads PostgreSQL's built-in pgoutput, so write pgoutput or leave it out")
        }
        switch try Self.text(cdc["snapshot.mode"], "\(at).snapshot.mode", place) {
        case nil, "initial": snapshot = nil
        case "never", "no_data": snapshot = false
        case let mode?:
            throw ConnectionError(
                "\(place): \(at).snapshot.mode \(mode) is not supported; pgsink takes initial (copy the rows when the slot "
                    + "is created) or never / no_data (no copy). A slot that exists has no snapshot to copy again: drop it "
                    + "(pgsink cdc drop) to start over")
        }
    }

    /// `spec.sink.options` of a CDC pipeline: `dest_table`, and `incremental_strategy: merge`.
    private mutating func readCDCSinkOptions(_ options: [String: Any]) throws {
        let at = "spec.sink.options"
        try Self.known(options, at, ["dest_table", "incremental_strategy"], place)
        destTable = try Self.text(options["dest_table"], "\(at).dest_table", place)
        if let table = destTable, table.isEmpty || table.hasPrefix(".") || table.hasSuffix(".") {
            throw ConnectionError("\(place): \(at).dest_table must be schema.table (got \"\(table)\")")
        }
        if let strategy = try Self.text(options["incremental_strategy"], "\(at).incremental_strategy", place),
            !["merge", "upsert"].contains(strategy)
        {
            throw ConnectionError(
                "\(place): \(at).incremental_strategy is \(strategy), but a CDC pipeline keeps each table in sync by key; "
                    + "write merge")
        }
    }

    /// An include list: a list, or Debezium's comma-separated text. pgsink takes names, and
    /// Debezium's lists are regular expressions, so an entry that is a pattern is refused.
    private func list(_ value: Any?, _ key: String) throws -> [String] {
        guard let value else { return [] }
        let entries: [String]
        if let text = value as? String {
            entries = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        } else if let items = value as? [Any] {
            entries = try items.enumerated().map { try Self.text($1, "\(key)[\($0)]", place) ?? "" }
        } else {
            throw ConnectionError("\(place): \(key) must be a comma-separated list of names")
        }
        for entry in entries where entry.isEmpty || entry.contains(where: { "*+?[](){}|^$\\".contains($0) }) {
            throw ConnectionError(
                "\(place): \(key) has \"\(entry)\"; pgsink takes plain names (schema.table), not regular expressions: list each one")
        }
        return entries
    }

    private static func section(_ value: Any?, _ key: String, _ place: String) throws -> [String: Any] {
        guard let fields = value as? [String: Any] else {
            throw ConnectionError("\(place): \(key) must be a section of keys")
        }
        return fields
    }

    private static func known(_ fields: [String: Any], _ at: String, _ names: [String], _ place: String) throws {
        for key in fields.keys.sorted() where !names.contains(key) {
            throw ConnectionError(
                "\(place): unknown key \(at).\(key); pgsink reads \(names.map { "\(at).\($0)" }.joined(separator: ", ")) here")
        }
    }

    static func text(_ value: Any?, _ key: String, _ place: String) throws -> String? {
        switch value {
        case nil: return nil
        case let text as String: return text
        case let number as Int: return String(number)
        default: throw ConnectionError("\(place): \(key) must be text")
        }
    }

    private static func shown(_ value: Any?) -> String {
        value.map { "\"\($0)\"" } ?? "missing"
    }
}

extension NilusPipeline {
    /// Fails unless this pipeline is of the kind `command` runs, naming the command that runs it.
    public func require(_ wanted: Kind, for command: String) throws {
        guard kind != wanted else { return }
        switch kind {
        case .cdc:
            throw ConnectionError(
                "\(place) is a Nilus CDC pipeline (spec.type: cdc), which \(command) does not run; run it with "
                    + "pgsink cdc stream --config \(place) (a PostgreSQL source) or pgsink cdc apply --config \(place) (Debezium events)")
        case .batch:
            throw ConnectionError(
                "\(place) is a Nilus batch pipeline (spec.type: batch), which \(command) does not run; run it with "
                    + "pgsink load FILE… --config \(place)")
        }
    }

    /// The connection `spec.source.address` gives (nil without one).
    public func sourceConnection() throws -> ConnectionSettings? {
        try connection(sourceAddress, "spec.source.address", flag: "--from")
    }

    /// The connection `spec.sink.address` gives (nil without one).
    public func sinkConnection() throws -> ConnectionSettings? {
        try connection(sinkAddress, "spec.sink.address", flag: "--to")
    }

    private func connection(_ address: String?, _ key: String, flag: String) throws -> ConnectionSettings? {
        guard let address, !address.isEmpty else { return nil }
        if address.lowercased().hasPrefix("dataos://") {
            throw ConnectionError(
                "\(place): \(key) is \(address), a DataOS depot pgsink cannot look up; write the server's postgresql:// URL "
                    + "there (or ${VARIABLE}), or pass \(flag)")
        }
        do {
            return try ConnectionSettings(string: address)
        } catch {
            throw ConnectionError("\(place): \(key): \(error)")
        }
    }
}
