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
            --sync-start-at and --exclude-window schedule loads as RudderStack does. Every flag is also a key of the
            config file's events: section (flags win). SIGTERM stops accepting, finishes the requests in flight and
            loads what is staged. See docs/events.md.
            """
    )

    @Option(help: ArgumentHelp(
        "Address to listen on (default 127.0.0.1:8080; port 0 picks a free one).", valueName: "host:port"))
    var listen: String?

    @Option(name: .customLong("write-key"), help: ArgumentHelp(
        "A write key the SDKs send, and the source it stands for (repeatable; added to the config's write_keys). "
            + "The source's name is the schema.",
        valueName: "key[=source]"))
    var writeKeys: [String] = []

    @Option(help: ArgumentHelp("The schema every source lands in (RudderStack's namespace); default: the source's name.", valueName: "name"))
    var namespace: String?

    @Option(name: .customLong("sync-frequency"), help: ArgumentHelp(
        "How often staged events are loaded: seconds, or with s, m or h (default 10s).", valueName: "duration"))
    var syncFrequency: String?

    @Option(name: .customLong("sync-start-at"), help: ArgumentHelp(
        "Load at this UTC time and every --sync-frequency from it, both ways over the day, at most once per slot "
            + "(RudderStack's syncStartAt).",
        valueName: "HH:MM"))
    var syncStartAt: String?

    @Option(name: .customLong("exclude-window"), help: ArgumentHelp(
        "No scheduled load while the UTC time is inside this window, which may cross midnight (RudderStack's excludeWindow).",
        valueName: "HH:MM-HH:MM"))
    var excludeWindow: String?

    @Flag(help: "Load what is staged, then exit (no server; the schedule does not apply).")
    var once = false

    @Flag(inversion: .prefixedNo, help: "Warehouse Append: append rows (default); --no-append merges event tables by messageId.")
    var append: Bool?

    @Flag(name: .customLong("skip-users-table"), inversion: .prefixedNo, help: "Do not write the users table.")
    var skipUsersTable: Bool?

    @Flag(name: .customLong("skip-tracks-table"), inversion: .prefixedNo, help: "Do not write the tracks table (only the per-event tables).")
    var skipTracksTable: Bool?

    @Option(name: .customLong("json-paths"), help: ArgumentHelp(
        "Paths stored whole as jsonb instead of flattened, e.g. track.properties.cart (comma-separated).", valueName: "list"))
    var jsonPaths: String?

    @Flag(name: .customLong("store-full-event"), inversion: .prefixedNo, help: "Also store each event whole in a rudder_event jsonb column.")
    var storeFullEvent: Bool?

    @Option(help: ArgumentHelp("Schema of the staging table and pgsink's state (default: the connection's, else public).", valueName: "name"))
    var schema: String?

    @Option(name: .customLong("max-backlog"), help: ArgumentHelp(
        "Events staged and not yet loaded, at most; past it requests get 429 with Retry-After (default 2000000).", valueName: "n"))
    var maxBacklog: Int?

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var config: ConfigOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        if let syncFrequency, Self.seconds(syncFrequency) == nil {
            throw ValidationError("--sync-frequency takes seconds, or a number with s, m or h (got \"\(syncFrequency)\")")
        }
        if let syncStartAt {
            do { _ = try TimeOfDay(parsing: syncStartAt) } catch { throw ValidationError("--sync-start-at \(error)") }
        }
        if let excludeWindow {
            do { _ = try ExcludeWindow(parsing: excludeWindow) } catch { throw ValidationError("--exclude-window \(error)") }
        }
        if let listen, EventSettings.address(listen) == nil {
            throw ValidationError("--listen takes host:port (got \"\(listen)\")")
        }
        if let maxBacklog, maxBacklog < 1 { throw ValidationError("--max-backlog must be at least 1") }
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

    /// The settings the flags give, to lay over the config file's.
    var flagSettings: EventSettings {
        var flags = EventSettings()
        flags.listen = listen
        flags.namespace = namespace
        flags.schema = schema
        flags.append = append
        flags.skipUsersTable = skipUsersTable
        flags.skipTracksTable = skipTracksTable
        flags.jsonPaths = jsonPaths.map(ColumnList.init(parsing:))
        flags.storeFullEvent = storeFullEvent
        flags.maxBacklog = maxBacklog
        return flags
    }

    /// The flags' `--write-key KEY[=source]`s.
    var flagKeys: [WriteKeys.Entry] {
        writeKeys.map { entry in
            let parts = entry.split(separator: "=", maxSplits: 1).map(String.init)
            return WriteKeys.Entry(key: parts[0], source: parts.count == 2 ? parts[1] : nil)
        }
    }

    /// The flags' schedule over the file's.
    func schedule(file: EventSettings) throws -> SyncSchedule {
        let frequency = syncFrequency.flatMap(Self.seconds) ?? file.frequency?.seconds ?? SyncSchedule.default.frequency
        do {
            return try SyncSchedule(
                frequency: frequency, startAt: try syncStartAt.map(TimeOfDay.init(parsing:)) ?? file.startAt,
                excludeWindow: try excludeWindow.map(ExcludeWindow.init(parsing:)) ?? file.excludeWindow)
        } catch {
            throw UsageFailure(command: Self.self, error: ValidationError("the sync frequency \(error)"))
        }
    }

    func run() throws {
        let file = try config.load()
        let fileSettings = try CDCFailure.wrap { try file?.eventSettings(for: "pgsink serve") ?? EventSettings() }
        let keys = (fileSettings.writeKeys?.entries ?? []) + flagKeys
        for entry in keys { Secrets.register(entry.key) }
        if !once && keys.isEmpty {
            throw UsageFailure(command: Self.self, error: ValidationError(
                "pgsink serve needs at least one write key (the key the SDKs send): --write-key KEY[=source], or write_keys "
                    + "in the config's events: section"))
        }
        let resolved = flagSettings.overlaid(on: fileSettings)
        let syncSchedule = try schedule(file: fileSettings)
        let configured = try ConfigOptions.connection(of: file, replaced: connection.to != nil)
        let logger = LogSetup.bootstrap(logging.logLevel, fallback: .notice)
        let connector = try CDCFailure.wrap { try connection.connector(configured: configured, logger: logger) }
        defer { connector.close() }
        var settings = EventServerSettings(
            events: resolved, keys: keys, schedule: syncSchedule, connectionSchema: connector.settings.schema,
            destination: file)
        settings.once = once
        settings.version = PGSinkCommand.configuration.version
        let host = settings.host
        let summary = try CDCFailure.wrap {
            try EventServer.run(
                settings, connector: connector, retries: connection.retries, logger: logger,
                ready: { port in FileHandle.standardError.write(Data("pgsink serve: listening on http://\(host):\(port)\n".utf8)) })
        }
        let tables = summary.rows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        var text = "pgsink serve: \(Wording.count(summary.events, "event")) loaded in \(Wording.count(summary.loads, "load"))"
        if !tables.isEmpty { text += " (rows per table: \(tables.joined(separator: ", ")))" }
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}
