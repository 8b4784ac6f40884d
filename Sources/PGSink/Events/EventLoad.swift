import Foundation
import Logging
import PGSinkCore

/// What a `pgsink serve` load does with the staged events.
public struct EventLoadSettings: Sendable {
    public var streams = StreamSettings()
    public var warehouse = WarehouseSettings()
    /// Warehouse Append (RudderStack's `preferAppend`): on, rows are appended; off, event tables
    /// merge by `id` (the messageId), which removes SDK retries.
    public var append = true
    /// Staged events one load reads at most (the next load goes on from there).
    public var maxEvents = 1_000_000

    public init() {
        streams.stateId = "events"
        streams.naming = NamingRules(keepCase: false, allowReservedWords: true)
        streams.batchSeconds = 3600
        streams.stepRows = 25_000
        // A value its column cannot take even after widening (a view fixes the type) goes to
        // rudder_discards; a row the server refuses (a constraint of the user's) to _pgsink_rejects.
        // Neither stops the events behind it from loading.
        streams.discards = "rudder_discards"
        streams.maxRejects = 1_000_000
    }
}

/// One load of staged events into the warehouse tables: the staged rows after the saved
/// position are read in id order, each event becomes its rows (`WarehouseTransformer`), and the
/// rows go through the same writer as every other source. The position (the last event id)
/// commits with the rows, so a load killed at any point is done again from where the last one
/// committed, and nothing is loaded twice.
enum EventLoad {
    struct Result {
        var events = 0
        var loadedUpTo: Int64 = 0
        var rows: [String: Int] = [:]
    }

    /// The staged position the destination has committed.
    static func savedPosition(_ settings: EventLoadSettings, on connection: PGConnection) throws -> Int64 {
        (try ChangeApply.savedState(settings.streams, on: connection)["id"] as? NSNumber)?.int64Value ?? 0
    }

    static func run(
        _ settings: EventLoadSettings, staging: TableName, connection: PGConnection, connector: Connector, retries: Int,
        logger: Logger, committed: @escaping @Sendable (Int64) -> Void
    ) throws -> Result {
        let from = try savedPosition(settings, on: connection)
        let reader = try connector.connect()
        let upTo = try reader.query(
            "SELECT coalesce(max(id), 0)::text FROM (SELECT id FROM \(staging.quoted) WHERE id > $1 ORDER BY id LIMIT $2) AS s",
            [String(from), String(settings.maxEvents)]
        ).value(0, 0).flatMap { Int64($0) } ?? 0
        var result = Result(loadedUpTo: from)
        guard upTo > from else { return result }
        let uuidTS = EventReader.timestamp(Date())
        let transformed = TransformedEvents(
            connection: reader, table: staging, after: from, upTo: upTo, settings: settings.warehouse, uuidTS: uuidTS)
        defer { transformed.stop() }
        let source = StagedEvents(events: transformed)
        let load = StreamLoad(
            settings: settings.streams, connection: connection, connector: connector, retries: retries, logger: logger,
            keepEveryState: false
        ) { state in
            if let id = Self.position(in: state) { committed(id) }
        }
        let events = EventReader(settings: settings, engine: load.engine, events: transformed)
        load.engine.checkpoint = { [events] in events.lastId > from ? "{\"id\":\(events.lastId)}" : nil }
        try load.run(reader: events, source: source)
        result.events = events.recordedEvents
        result.loadedUpTo = upTo
        result.rows = load.writer.rowsByTable
        transformed.stop()
        // Loaded rows leave the staging table (again after a crash: it is the same delete).
        try reader.query("DELETE FROM \(staging.quoted) WHERE id <= $1", [String(upTo)])
        return result
    }

    static func position(in state: String) -> Int64? {
        guard let data = state.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return nil }
        return (object["id"] as? NSNumber)?.int64Value
    }
}

/// The staged events after a position, up to a bound, in id order, turned into their warehouse
/// rows ahead of the load: a thread reads pages of staged events, and each page is transformed on
/// every core (the transformer is most of a load's work) while the load records the page before.
/// At most two pages wait, so memory stays bounded.
final class TransformedEvents: @unchecked Sendable {
    struct Event {
        var id: Int64
        var namespace: String
        var rows: Result<[WarehouseRow], Error>
        /// The staged JSON, kept only when it could not be transformed.
        var text: String?
    }

    static let pageSize = 4000
    private let connection: PGConnection
    private let table: TableName
    private let upTo: Int64
    private let settings: WarehouseSettings
    private let uuidTS: String
    private let condition = NSCondition()
    private var pages: [[Event]] = []
    private var ended = false
    private var failure: Error?
    private var stopping = false
    private let exited = DispatchSemaphore(value: 0)
    private var running = false
    /// The event the reading thread handed out last (read by `EventReader`).
    @exclusivity(unchecked) var current: Event?

    init(connection: PGConnection, table: TableName, after: Int64, upTo: Int64, settings: WarehouseSettings, uuidTS: String) {
        self.connection = connection
        self.table = table
        self.upTo = upTo
        self.settings = settings
        self.uuidTS = uuidTS
        running = true
        let thread = Thread { [self] in
            defer { exited.signal() }
            do {
                try fetch(after: after)
            } catch {
                condition.withLock {
                    failure = error
                    condition.broadcast()
                }
            }
        }
        thread.stackSize = 8 << 20
        thread.start()
    }

    private func fetch(after start: Int64) throws {
        var after = start
        while after < upTo {
            let rows = try connection.query(
                // (ORDER BY e.id: a bare `id` would be the text column of the select list.)
                "SELECT e.id::text, e.namespace, e.event::text FROM \(table.quoted) AS e WHERE e.id > $1 AND e.id <= $2 "
                    + "ORDER BY e.id LIMIT \(Self.pageSize)",
                [String(after), String(upTo)]
            ).rows
            guard let last = rows.last else { break }
            after = Int64(last[0] ?? "") ?? upTo
            let page = transform(rows)
            let go: Bool = condition.withLock {
                while pages.count >= 2 && !stopping { condition.wait() }
                guard !stopping else { return false }
                pages.append(page)
                condition.broadcast()
                return true
            }
            if !go { return }
        }
        condition.withLock {
            ended = true
            condition.broadcast()
        }
    }

    /// Each staged row's warehouse rows, the page split between the cores.
    private func transform(_ rows: [[String?]]) -> [Event] {
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
        let out = UnsafeMutableBufferPointer<Event>.allocate(capacity: rows.count)
        defer { out.deallocate() }
        let base = out.baseAddress!
        nonisolated(unsafe) let target = base
        let settings = settings
        let uuidTS = uuidTS
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let low = rows.count * worker / workers
            let high = rows.count * (worker + 1) / workers
            for index in low..<high {
                let row = rows[index]
                let result = Result {
                    var text = row[2] ?? "null"
                    let event = try text.withUTF8 { try JSONValue.parse(UnsafeRawBufferPointer($0)) }
                    return try WarehouseTransformer.rows(for: event, settings: settings, uuidTS: uuidTS)
                }
                let failed: Bool
                if case .failure = result { failed = true } else { failed = false }
                (target + index).initialize(
                    to: Event(id: Int64(row[0] ?? "") ?? 0, namespace: row[1] ?? "", rows: result, text: failed ? row[2] : nil))
            }
        }
        let page = Array(out)
        _ = out.baseAddress.map { $0.deinitialize(count: rows.count) }
        return page
    }

    /// The next page, in id order; nil after the last.
    func nextPage() throws -> [Event]? {
        try condition.withLock {
            while pages.isEmpty && !ended && failure == nil { condition.wait() }
            if let failure { throw failure }
            if pages.isEmpty { return nil }
            let page = pages.removeFirst()
            condition.broadcast()
            return page
        }
    }

    /// Ends the reading thread (once it has finished its query) and waits for it.
    func stop() {
        let wait: Bool = condition.withLock {
            stopping = true
            condition.broadcast()
            defer { running = false }
            return running
        }
        if wait { exited.wait() }
    }
}

/// The transformed events one at a time, each as a line holding its id (the rows are in
/// `TransformedEvents.current`).
struct StagedEvents: MessageSource, @unchecked Sendable {
    let events: TransformedEvents
    private var page: [TransformedEvents.Event] = []
    private var next = 0
    private let buffer = ByteStorage(capacity: 32)

    init(events: TransformedEvents) {
        self.events = events
    }

    mutating func next(timeout: Double) throws -> MessageInput.Next {
        if next == page.count {
            guard let more = try events.nextPage(), !more.isEmpty else { return .end }
            page = more
            next = 0
        }
        let event = page[next]
        next += 1
        events.current = event
        buffer.count = 0
        EventReader.appendBytes(String(event.id), to: buffer)
        return .line(buffer.base, buffer.count)
    }
}

/// Turns staged events into warehouse rows, one stream per (namespace, table).
final class EventReader: StreamReading, @unchecked Sendable {
    let settings: EventLoadSettings
    let engine: StreamTarget
    let events: TransformedEvents
    /// The id of the last event whose rows are all recorded.
    @exclusivity(unchecked) var lastId: Int64 = 0
    @exclusivity(unchecked) var recordedEvents = 0
    private var defined: Set<String> = []
    private let line = ByteStorage(capacity: 64 << 10)

    init(settings: EventLoadSettings, engine: StreamTarget, events: TransformedEvents) {
        self.settings = settings
        self.engine = engine
        self.events = events
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// Records the rows of the event `StagedEvents` handed out last (the line holds only its id).
    func process(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) throws {
        guard let event = events.current else { throw LoadError("internal: a staged event without its rows") }
        switch event.rows {
        case .success(let rows):
            for row in rows { try record(row, namespace: event.namespace, id: event.id) }
        case .failure(let error):
            // Staged but not storable (the server checks on receipt; an event staged by an older
            // version may still fail): set aside with the reason, so the events behind it load.
            try record(Self.rejected(event, reason: "\(error)"), namespace: event.namespace, id: event.id)
        }
        lastId = event.id
        recordedEvents += 1
        try engine.flushIfDue()
    }

    /// The table of events that were staged but could not become warehouse rows.
    static let rejectsTable = "_pgsink_event_rejects"

    static func rejected(_ event: TransformedEvents.Event, reason: String) -> WarehouseRow {
        WarehouseRow(
            table: rejectsTable,
            columns: [
                ("staged_id", .int(String(event.id))), ("reason", .string(reason)), ("event", .string(event.text ?? "")),
                ("rejected_at", .datetime(timestamp(Date()))),
            ])
    }

    func idle() throws { try engine.idle() }

    func finish() throws { try engine.finish() }

    private func record(_ row: WarehouseRow, namespace: String, id: Int64) throws {
        let name = namespace + "." + row.table
        if !defined.contains(name) {
            var definition = StreamDefinition(name: name, table: TableName(schema: namespace, name: row.table))
            definition.fingerprint = name
            // users is always merged by id; event tables when Warehouse Append is off.
            if row.table == "users" || !settings.append && row.table != Self.rejectsTable {
                definition.mode = .merge
                definition.keys = ["id"]
                // users: each trait's latest non-null value (RudderStack's LoadUserTables).
                definition.keepsNonNull = row.table == "users"
            }
            try engine.define(definition)
            defined.insert(name)
        }
        guard let stream = engine.stream(name) else { throw LoadError("internal: the stream of \(name) is missing") }
        line.count = 0
        line.append(UInt8(ascii: "{"))
        for (index, (column, value)) in row.columns.enumerated() {
            if index > 0 { line.append(UInt8(ascii: ",")) }
            Self.appendString(column, to: line)
            line.append(UInt8(ascii: ":"))
            switch value {
            case .string(let text), .datetime(let text): Self.appendString(text, to: line)
            case .int(let number), .float(let number): Self.appendBytes(number, to: line)
            case .bool(let flag): Self.appendBytes(flag ? "true" : "false", to: line)
            case .json(let json): Self.appendBytes(json, to: line)
            }
        }
        line.append(UInt8(ascii: "}"))
        try MessageWalk.beginRecord(0, line.count, of: line.base, number: Int(id), stream: stream)
        stream.pending.endRecord()
        try engine.recorded(stream, bytes: line.count)
    }

    /// A string's UTF-8 bytes, copied at once.
    static func appendBytes(_ text: String, to out: ByteStorage) {
        var text = text
        text.withUTF8 { bytes in
            if let base = bytes.baseAddress, !bytes.isEmpty { out.append(base, count: bytes.count) }
        }
    }

    /// A JSON string literal: the bytes at once when none needs escaping (nearly always).
    static func appendString(_ text: String, to out: ByteStorage) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            guard bytes.contains(where: { $0 == 34 || $0 == 92 || $0 < 32 }) else {
                if let base = bytes.baseAddress, !bytes.isEmpty { out.append(base, count: bytes.count) }
                return
            }
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            for byte in bytes {
                switch byte {
                case 34: out.append(92); out.append(34)
                case 92: out.append(92); out.append(92)
                case 0..<32:
                    out.append(92); out.append(UInt8(ascii: "u")); out.append(48); out.append(48)
                    out.append(hex[Int(byte >> 4)])
                    out.append(hex[Int(byte & 15)])
                default: out.append(byte)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
