import ArgumentParser
import Foundation
import PGSink
import PGSinkCore

/// `pgsink serve`: RudderStack's and Segment's tracking API, landing events in a warehouse schema.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Receive RudderStack and Segment SDK events over HTTP and load them into warehouse tables.",
        discussion: """
            pgsink serve --to postgresql://loader@warehouse/dw --write-key 2ZwZ1Rk3=web_app --listen 127.0.0.1:8080
            Point the SDKs' data plane URL at the server. Each accepted request is committed to the staging table
            before its 200; every --sync-frequency the staged events are loaded into tracks, identifies, users, pages,
            screens, groups, aliases and one table per track event, in the schema named after the write key's source.
            SIGTERM stops accepting, finishes the requests in flight and loads what is staged. See docs/events.md.
            """
    )

    @Option(help: ArgumentHelp("Address to listen on (default 127.0.0.1:8080; port 0 picks a free one).", valueName: "host:port"))
    var listen = "127.0.0.1:8080"

    @Option(name: .customLong("write-key"), help: ArgumentHelp(
        "A write key the SDKs send, and the source it stands for (repeatable). The source's name is the schema.",
        valueName: "key[=source]"))
    var writeKeys: [String] = []

    @Option(help: ArgumentHelp("The schema every source lands in (RudderStack's namespace); default: the source's name.", valueName: "name"))
    var namespace: String?

    @Option(name: .customLong("sync-frequency"), help: ArgumentHelp(
        "How often staged events are loaded: seconds, or with s, m or h (default 10s).", valueName: "duration"))
    var syncFrequency = "10s"

    @Flag(help: "Load what is staged, then exit (no server).")
    var once = false

    @Flag(inversion: .prefixedNo, help: "Warehouse Append: append rows (default); --no-append merges event tables by messageId.")
    var append = true

    @Flag(name: .customLong("skip-users-table"), help: "Do not write the users table.")
    var skipUsersTable = false

    @Flag(name: .customLong("skip-tracks-table"), help: "Do not write the tracks table (only the per-event tables).")
    var skipTracksTable = false

    @Option(name: .customLong("json-paths"), help: ArgumentHelp(
        "Paths stored whole as jsonb instead of flattened, e.g. track.properties.cart (comma-separated).", valueName: "list"))
    var jsonPaths: String?

    @Flag(name: .customLong("store-full-event"), help: "Also store each event whole in a rudder_event jsonb column.")
    var storeFullEvent = false

    @Option(help: ArgumentHelp("Schema of the staging table and pgsink's state (default: the connection's, else public).", valueName: "name"))
    var schema: String?

    @Option(name: .customLong("max-backlog"), help: ArgumentHelp(
        "Events staged and not yet loaded, at most; past it requests get 429 with Retry-After (default 2000000).", valueName: "n"))
    var maxBacklog = 2_000_000

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard Self.seconds(syncFrequency) != nil else {
            throw ValidationError("--sync-frequency takes seconds, or a number with s, m or h (got \"\(syncFrequency)\")")
        }
        guard Self.address(listen) != nil else { throw ValidationError("--listen takes host:port (got \"\(listen)\")") }
        if !once && writeKeys.isEmpty {
            throw ValidationError("pgsink serve needs at least one --write-key KEY[=source] (the key the SDKs send)")
        }
        for key in writeKeys where key.hasPrefix("=") || key.isEmpty {
            throw ValidationError("--write-key takes KEY or KEY=source (got \"\(key)\")")
        }
    }

    static func seconds(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        if let last = text.last, let unit = units[last], let value = Double(text.dropLast()), value > 0 { return value * unit }
        if let value = Double(text), value > 0 { return value }
        return nil
    }

    static func address(_ text: String) -> (String, Int)? {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port)
        else { return nil }
        let host = String(text[..<colon])
        return (host.isEmpty ? "127.0.0.1" : host, port)
    }

    func run() throws {
        let logger = LogSetup.bootstrap(logging.logLevel, fallback: .notice)
        let connector = try CDCFailure.wrap { try connection.connector(logger: logger) }
        defer { connector.close() }
        var settings = EventServerSettings()
        (settings.host, settings.port) = Self.address(listen)!
        settings.syncSeconds = Self.seconds(syncFrequency)!
        settings.once = once
        settings.backlogLimit = maxBacklog
        settings.schema = schema ?? connector.settings.schema ?? "public"
        for entry in writeKeys {
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            let source = parts.count == 2 ? parts[1] : settings.schema
            settings.writeKeys[parts[0]] = WarehouseNames.namespace(namespace ?? source)
        }
        settings.load.append = append
        settings.load.streams.schema = settings.schema
        settings.load.warehouse.skipUsersTable = skipUsersTable
        settings.load.warehouse.skipTracksTable = skipTracksTable
        settings.load.warehouse.jsonPaths = jsonPaths.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        settings.load.warehouse.storeFullEvent = storeFullEvent
        settings.version = PGSinkCommand.configuration.version
        let host = settings.host
        let summary = try CDCFailure.wrap {
            try EventServer.run(settings, connector: connector, retries: connection.retries, logger: logger) { port in
                FileHandle.standardError.write(Data("pgsink serve: listening on http://\(host):\(port)\n".utf8))
            }
        }
        let tables = summary.rows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        var text = "pgsink serve: \(Wording.count(summary.events, "event")) loaded in \(Wording.count(summary.loads, "load"))"
        if !tables.isEmpty { text += " (rows per table: \(tables.joined(separator: ", ")))" }
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
