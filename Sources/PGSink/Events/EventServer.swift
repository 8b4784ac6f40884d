import Foundation
import Hummingbird
import Logging
import NIOCore
import PGSinkCore
import ServiceLifecycle

/// `pgsink serve`: RudderStack's and Segment's HTTP tracking API. Accepted events are committed
/// to a staging table before `200 OK` (`EventStaging`); loads on `schedule` move them
/// into the warehouse tables through the same writer as every other source (`EventLoad`).
public struct EventServerSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Write key → the namespace (schema) its events land in.
    public var writeKeys: [String: String] = [:]
    /// When loads run: a frequency (10 s by default), or RudderStack's slots from a start time, and an exclude window.
    public var schedule = SyncSchedule.default
    /// Load what is staged, then exit (no server).
    public var once = false
    /// Staged and not yet loaded, at most; past it requests get 429.
    public var backlogLimit = 2_000_000
    /// Where the staging table lives.
    public var schema = "public"
    public var load = EventLoadSettings()
    public var version = "0.1.0"

    public init() {}

    /// The settings of an `events` section (with `pgsink serve`'s flags laid over it), its write
    /// keys, the schedule and the destination's: the schema of the connection, `pgvector_config`
    /// and the Citus distribution.
    public init(
        events resolved: EventSettings, keys: [WriteKeys.Entry], schedule: SyncSchedule, connectionSchema: String?,
        destination: DestinationConfig?
    ) {
        self.schedule = schedule
        (host, port) = EventSettings.address(resolved.effective(\.listen)) ?? (host, port)
        backlogLimit = resolved.effective(\.maxBacklog)
        schema = resolved.schema ?? connectionSchema ?? "public"
        // Later entries win: a --write-key over the file's same key.
        for entry in keys {
            writeKeys[entry.key] = WarehouseNames.namespace(entry.namespace ?? resolved.namespace ?? entry.source ?? schema)
        }
        load.append = resolved.effective(\.append)
        load.streams.schema = schema
        load.streams.embeddings = destination?.pgvector
        load.streams.distribution = destination?.settings.distribution ?? Distribution()
        load.warehouse.skipUsersTable = resolved.effective(\.skipUsersTable)
        load.warehouse.skipTracksTable = resolved.effective(\.skipTracksTable)
        load.warehouse.jsonPaths = resolved.effective(\.jsonPaths).names.filter { !$0.isEmpty }
        load.warehouse.storeFullEvent = resolved.effective(\.storeFullEvent)
    }

    /// Request bodies over this many bytes get 413 (RudderStack's `Gateway.maxReqSizeInKB`).
    public static let maxBody = 4_000 * 1024
}

/// Counters for `/metrics` (Prometheus text).
final class EventMetrics: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String: Double] = [:]

    func add(_ name: String, _ amount: Double = 1) { lock.withLock { values[name, default: 0] += amount } }
    func set(_ name: String, _ value: Double) { lock.withLock { values[name] = value } }

    var text: String {
        let help: [(String, String, String)] = [
            ("pgsink_events_received_total", "counter", "Events received in accepted requests"),
            ("pgsink_events_rejected_total", "counter", "Events or requests refused (4xx)"),
            ("pgsink_events_staged_total", "counter", "Events committed to the staging table"),
            ("pgsink_events_loaded_total", "counter", "Events loaded into the warehouse tables"),
            ("pgsink_events_backlog", "gauge", "Events staged and not yet loaded"),
            ("pgsink_load_lag_seconds", "gauge", "Age of the oldest event staged and not yet loaded"),
        ]
        let snapshot = lock.withLock { values }
        return help.map { name, kind, text in
            "# HELP \(name) \(text)\n# TYPE \(name) \(kind)\n\(name) \(Self.number(snapshot[name] ?? 0))\n"
        }.joined()
    }

    private static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// The request context: the client's address, for `request_ip`.
struct EventContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    var maxUploadSize: Int { EventServerSettings.maxBody }
}

public enum EventServer {
    public struct Summary: Sendable {
        public var loads = 0
        public var events = 0
        public var rows: [String: Int] = [:]
        /// The staged position the destination has committed after the last load.
        public var position: Int64 = 0

        mutating func add(_ load: Summary) {
            loads += load.loads
            events += load.events
            for (table, rows) in load.rows { self.rows[table, default: 0] += rows }
            position = load.position
        }
    }

    /// Runs one load (`body`) and returns what it did; `pgsink run --watch` records each as a
    /// pipeline run.
    public typealias LoadWrapper = (_ body: () throws -> Summary) throws -> Summary

    /// Serves until `stopping` says so, loading on `settings.schedule`; then stops accepting,
    /// finishes the requests in flight, runs one last load and returns. `stopping` nil: until
    /// SIGINT or SIGTERM (`Interrupt`, which then cancels nothing: `pgsink serve`); a pipeline
    /// under `pgsink run --watch` stops with the scheduler (`WatchStop`).
    public static func run(
        _ settings: EventServerSettings, connector: Connector, retries: Int, logger: Logger,
        stopping: (@Sendable () -> Bool)? = nil, eachLoad: LoadWrapper = { try $0() },
        ready: @escaping @Sendable (Int) -> Void = { _ in }
    ) throws -> Summary {
        let connection = try connector.connect()
        let metrics = EventMetrics()
        var summary = Summary()
        let staging = EventStaging(schema: settings.schema, connector: connector, bound: settings.backlogLimit, logger: logger)
        let loaded = try EventLoad.savedPosition(settings.load, on: connection)
        try staging.start(loaded: loaded)

        func load() throws {
            let one = try eachLoad {
                let started = Date()
                let result = try EventLoad.run(
                    settings.load, staging: staging.table, connection: connection, connector: connector, retries: retries,
                    logger: logger
                ) { id in staging.loaded(upTo: id) }
                staging.loaded(upTo: result.loadedUpTo)
                metrics.add("pgsink_events_loaded_total", Double(result.events))
                metrics.set("pgsink_events_backlog", Double(staging.backlog))
                if result.events > 0 {
                    logger.info(
                        "loaded \(Wording.count(result.events, "event")) in \(String(format: "%.2f", Date().timeIntervalSince(started))) s")
                }
                return Summary(loads: 1, events: result.events, rows: result.rows, position: result.loadedUpTo)
            }
            summary.add(one)
        }

        if settings.once {
            staging.stop()
            try load()
            return summary
        }
        // `pgsink serve`: SIGTERM or SIGINT is recorded, nothing cancelled; the loop below stops
        // the server gracefully.
        let graceful = stopping == nil
        let stopRequested = stopping ?? { Interrupt.signal != nil }
        if graceful { Interrupt.stopsGracefully(true) }

        let router = Router(context: EventContext.self)
        router.add(middleware: CORSMiddleware(
            allowOrigin: .originBased, allowHeaders: [.accept, .authorization, .contentType, .origin, .init("AnonymousId")!],
            allowMethods: [.get, .post, .options], allowCredentials: true))
        let handler = EventHandler(settings: settings, staging: staging, metrics: metrics)
        for type in ["track", "identify", "page", "screen", "group", "alias"] {
            router.post("/v1/\(type)") { request, context in try await handler.accept(request, context, type: type) }
        }
        router.post("/v1/batch") { request, context in try await handler.accept(request, context, type: nil) }
        router.get("/health") { _, _ in Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"server\":\"UP\",\"db\":\"UP\"}"))) }
        router.get("/version") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: "{\"version\":\"\(settings.version)\"}")))
        }
        router.get("/metrics") { _, _ in
            metrics.set("pgsink_events_backlog", Double(staging.backlog))
            metrics.set("pgsink_load_lag_seconds", staging.loadLag)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: metrics.text)))
        }
        let app = Application(
            router: router, configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "pgsink"),
            onServerRunning: { channel in ready(channel.localAddress?.port ?? settings.port) },
            logger: Logger(label: "pgsink.http", factory: { _ in SwiftLogNoOpLogHandler() }))
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let stopped = DispatchSemaphore(value: 0)
        let failure = Failure()
        Task {
            do { try await group.run() } catch { failure.set(error) }
            stopped.signal()
        }
        // Loads on the schedule until a signal, or until the server fails. The start counts as a
        // load: the first is a frequency (or, with a start time, the next slot) after it.
        var lastLoad = Date()
        var serverDone = false
        var inWindow = false
        while !stopRequested() {
            if stopped.wait(timeout: .now() + 0.1) == .success {
                serverDone = true
                break
            }
            let now = Date()
            if let window = settings.schedule.excludeWindow, window.contains(now) != inWindow {
                inWindow.toggle()
                if inWindow { logger.info("exclude window \(window) UTC: no load until \(window.end) UTC") }
            }
            if settings.schedule.isDue(lastLoad: lastLoad, now: now) {
                do {
                    try load()
                } catch is Interrupted {
                    break
                }
                lastLoad = now
            }
        }
        logger.notice("stopping: finishing the requests in flight, then one last load")
        if !serverDone {
            Task { await group.triggerGracefulShutdown() }
            stopped.wait()
        }
        staging.stop()
        // The last load: a second signal interrupts it (rolled back; the events stay staged).
        if graceful { Interrupt.reset() }
        try load()
        if let error = failure.error { throw LoadError("the HTTP server stopped: \(error)") }
        return summary
    }

    final class Failure: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: Error?
        var error: Error? { lock.withLock { stored } }
        func set(_ error: Error) { lock.withLock { stored = error } }
    }
}

/// The tracking endpoints: auth, limits, validation and enrichment, then the staging commit.
struct EventHandler: Sendable {
    /// Events longer than this are transformed on receipt (a column takes at least `"a":1,`).
    static let transformedOnReceipt = WarehouseTransformer.maxColumns * 4
    let settings: EventServerSettings
    let staging: EventStaging
    let metrics: EventMetrics

    func accept(_ request: Request, _ context: EventContext, type: String?) async throws -> Response {
        guard let key = Self.writeKey(request.headers[.authorization]) else {
            return reject(.unauthorized, "failed to read writekey from header")
        }
        guard let namespace = settings.writeKeys[key] else { return reject(.unauthorized, "invalid write key") }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: EventServerSettings.maxBody)
        } catch {
            return reject(.contentTooLarge, "request size exceeds the limit of \(EventServerSettings.maxBody / 1024) KB")
        }
        var inflated: [UInt8]?
        if request.headers[.contentEncoding]?.lowercased().contains("gzip") == true {
            switch body.withUnsafeReadableBytes({ Gunzip.inflate($0, limit: EventServerSettings.maxBody) }) {
            case .inflated(let bytes): inflated = bytes
            case .invalid: return reject(.badRequest, "the body says Content-Encoding: gzip but is not valid gzip")
            case .tooLarge:
                return reject(.contentTooLarge, "request size exceeds the limit of \(EventServerSettings.maxBody / 1024) KB")
            }
        }
        let document: JSONValue
        do {
            if let inflated {
                document = try inflated.withUnsafeBytes { try JSONValue.parse($0) }
            } else {
                document = try body.withUnsafeReadableBytes { try JSONValue.parse($0) }
            }
        } catch {
            return reject(.badRequest, "invalid json")
        }
        let receivedAt = Date()
        let enriched: [JSONValue]
        do {
            enriched = try EventEnrichment.events(
                inBody: document, type: type, receivedAt: receivedAt, requestIP: Self.clientIP(request, context))
        } catch let rejection as EventRejection {
            return reject(.badRequest, rejection.reason)
        }
        var events: [(namespace: String, json: String)] = []
        events.reserveCapacity(enriched.count)
        var bytes = 0
        for event in enriched {
            let json = event.jsonText
            // Only an event this long can make more columns than a table may have (each needs a
            // key and a value): such an event is transformed now, so that what the loader cannot
            // store is refused here with RudderStack's reason instead of being acknowledged.
            if json.utf8.count > EventHandler.transformedOnReceipt {
                do {
                    _ = try WarehouseTransformer.rows(for: event, settings: settings.load.warehouse, uuidTS: "1970-01-01T00:00:00.000Z")
                } catch let rejection as EventRejection {
                    return reject(.badRequest, rejection.reason)
                }
            }
            bytes += json.utf8.count
            events.append((namespace, json))
        }
        do {
            try await withCheckedThrowingContinuation { (done: CheckedContinuation<Void, Error>) in
                do {
                    try staging.submit(EventStaging.Submission(events: events, bytes: bytes) { error in
                        if let error { done.resume(throwing: error) } else { done.resume() }
                    })
                } catch {
                    done.resume(throwing: error)
                }
            }
        } catch is EventStaging.Full {
            metrics.add("pgsink_events_rejected_total", Double(events.count))
            var response = text(.tooManyRequests, "too many events are waiting to be loaded; retry later")
            response.headers[.retryAfter] = String(max(1, Int(settings.schedule.frequency.rounded(.up))))
            return response
        } catch {
            metrics.add("pgsink_events_rejected_total", Double(events.count))
            return text(.serviceUnavailable, "the events could not be stored; retry")
        }
        metrics.add("pgsink_events_received_total", Double(events.count))
        metrics.add("pgsink_events_staged_total", Double(events.count))
        return text(.ok, "OK")
    }

    private func reject(_ status: HTTPResponse.Status, _ message: String) -> Response {
        metrics.add("pgsink_events_rejected_total")
        return text(status, message)
    }

    private func text(_ status: HTTPResponse.Status, _ message: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: message)))
    }

    /// The write key: HTTP Basic's user name (the password is empty).
    static func writeKey(_ header: String?) -> String? {
        guard let header, header.lowercased().hasPrefix("basic ") else { return nil }
        let encoded = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard let data = Data(base64Encoded: encoded), let text = String(data: data, encoding: .utf8) else { return nil }
        let user = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        return user.isEmpty ? nil : user
    }

    /// `X-Forwarded-For`'s first address, else the connection's.
    static func clientIP(_ request: Request, _ context: EventContext) -> String {
        if let forwarded = request.headers[.init("X-Forwarded-For")!]?.split(separator: ",").first {
            return forwarded.trimmingCharacters(in: .whitespaces)
        }
        return context.remoteAddress?.ipAddress ?? ""
    }
}
