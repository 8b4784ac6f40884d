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
        let source = StagedEvents(connection: reader, table: staging, after: from, upTo: upTo)
        let load = StreamLoad(
            settings: settings.streams, connection: connection, connector: connector, retries: retries, logger: logger,
            keepEveryState: false
        ) { state in
            if let id = Self.position(in: state) { committed(id) }
        }
        let events = EventReader(settings: settings, engine: load.engine, uuidTS: EventReader.timestamp(Date()))
        load.engine.checkpoint = { [events] in events.lastId > from ? "{\"id\":\(events.lastId)}" : nil }
        try load.run(reader: events, source: source)
        result.events = events.events
        result.loadedUpTo = upTo
        result.rows = load.writer.rowsByTable
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

/// The staged events after a position, up to a bound, in id order, as `id TAB namespace TAB json`
/// messages (each valid until the next).
struct StagedEvents: MessageSource, @unchecked Sendable {
    let connection: PGConnection
    let table: TableName
    var after: Int64
    let upTo: Int64
    private var rows: [[String?]] = []
    private var next = 0
    private let buffer = ByteStorage(capacity: 64 << 10)

    init(connection: PGConnection, table: TableName, after: Int64, upTo: Int64) {
        self.connection = connection
        self.table = table
        self.after = after
        self.upTo = upTo
    }

    mutating func next(timeout: Double) throws -> MessageInput.Next {
        if next == rows.count {
            guard after < upTo else { return .end }
            rows = try connection.query(
                // (ORDER BY e.id: a bare `id` would be the text column of the select list.)
                "SELECT e.id::text, e.namespace, e.event::text FROM \(table.quoted) AS e WHERE e.id > $1 AND e.id <= $2 "
                    + "ORDER BY e.id LIMIT 5000",
                [String(after), String(upTo)]
            ).rows
            next = 0
            guard !rows.isEmpty else { return .end }
        }
        let row = rows[next]
        next += 1
        after = Int64(row[0] ?? "") ?? after
        buffer.count = 0
        EventReader.appendBytes(row[0] ?? "0", to: buffer)
        buffer.append(9)
        EventReader.appendBytes(row[1] ?? "", to: buffer)
        buffer.append(9)
        EventReader.appendBytes(row[2] ?? "null", to: buffer)
        return .line(buffer.base, buffer.count)
    }
}

/// Turns staged events into warehouse rows, one stream per (namespace, table).
final class EventReader: StreamReading, @unchecked Sendable {
    let settings: EventLoadSettings
    let engine: StreamTarget
    let uuidTS: String
    /// The id of the last event whose rows are all recorded.
    @exclusivity(unchecked) var lastId: Int64 = 0
    @exclusivity(unchecked) var events = 0
    private var defined: Set<String> = []
    private let line = ByteStorage(capacity: 64 << 10)

    init(settings: EventLoadSettings, engine: StreamTarget, uuidTS: String) {
        self.settings = settings
        self.engine = engine
        self.uuidTS = uuidTS
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    func process(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) throws {
        let text = UnsafeBufferPointer(start: bytes, count: count)
        guard let tab = text.firstIndex(of: 9), let second = text[(tab + 1)...].firstIndex(of: 9) else {
            throw LoadError("internal: a staged event without its id and namespace")
        }
        let id = Int64(String(decoding: text[..<tab], as: UTF8.self)) ?? 0
        let namespace = String(decoding: text[(tab + 1)..<second], as: UTF8.self)
        let event = try JSONValue.parse(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: text[(second + 1)...])))
        let rows = try WarehouseTransformer.rows(for: event, settings: settings.warehouse, uuidTS: uuidTS)
        for row in rows { try record(row, namespace: namespace, id: id) }
        lastId = id
        events += 1
        try engine.flushIfDue()
    }

    func idle() throws { try engine.idle() }

    func finish() throws { try engine.finish() }

    private func record(_ row: WarehouseRow, namespace: String, id: Int64) throws {
        let name = namespace + "." + row.table
        if !defined.contains(name) {
            var definition = StreamDefinition(name: name, table: TableName(schema: namespace, name: row.table))
            definition.fingerprint = name
            // users is always merged by id; event tables when Warehouse Append is off.
            if row.table == "users" || !settings.append && row.table != "rudder_discards" {
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
