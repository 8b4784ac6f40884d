import Foundation
import Logging
import PGSinkCore

/// Settings of `pgsink cdc apply`.
public struct CDCSettings: Sendable, Equatable {
    public var streams: StreamSettings = {
        var settings = StreamSettings()
        settings.stateId = "cdc"
        return settings
    }()
    /// The destination table of an event: `{db}`, `{schema}`, `{table}` (from `source`) and `{topic}`.
    public var tableFormat = "{schema}.{table}"
    /// Key columns for every table, instead of the key payload's fields.
    public var primaryKey: [String] = []
    public var deletes: DeleteMode = .hard
    /// Apply `t` events (TRUNCATE); without it they are skipped with a warning.
    public var truncate = false
    /// Debezium's `unavailable.value.placeholder`: an update's column holding it keeps its value.
    public var unavailableValue = "__debezium_unavailable_value"
    /// Apply every input from its first line, even one an earlier run applied.
    public var fromBeginning = false

    public init() {}
}

/// The reader of `pgsink cdc apply`: Debezium change events, one JSON object per line, in any of
/// the shapes a Kafka pipeline prints them (bare envelopes, the JSON converter's schema wrapper,
/// console-consumer key/value lines, tombstones, flattened rows). Each event becomes one record of
/// its table's stream: the row (`after`, or the key for a delete) scanned straight into the batch,
/// plus its position (`source.lsn`, `source.ts_ms`) and, for a delete, a delete mark. The writer
/// reduces each batch to the newest change per key and applies deletes and upserts in one
/// transaction (`SQL.applyChanges`). A reader never issues SQL.
final class DebeziumReader: StreamReading, @unchecked Sendable {
    let settings: CDCSettings
    let engine: StreamTarget
    let logger: Logger
    /// The input errors name.
    let source: String
    /// Walks every line in place (a `let`: calls borrow it, no copy per call). Its errors get the
    /// line's number in `process`.
    private let scanner: JSONLinesScanner

    /// The hidden slots an event's position and delete mark travel in (never columns).
    static let lsnSlot = "\u{1}lsn"
    static let timeSlot = "\u{1}source_ts_ms"
    static let deleteSlot = "\u{1}deleted_ms"

    /// One table's stream, as the reader knows it.
    final class Table {
        let name: TableName
        var stream: StreamTarget.Stream
        var keys: [String]
        var flat: Bool
        /// The value schema text the stream was last defined from.
        var schemaText: [UInt8]?

        init(name: TableName, stream: StreamTarget.Stream, keys: [String], flat: Bool, schemaText: [UInt8]?) {
            self.name = name
            self.stream = stream
            self.keys = keys
            self.flat = flat
            self.schemaText = schemaText
        }
    }

    private var tables: [[UInt8]: Table] = [:]
    @exclusivity(unchecked) private var lastRoute: [UInt8] = []
    private var lastTable: Table?
    @exclusivity(unchecked) private var route: [UInt8] = []
    private var warnedTruncate = Set<String>()
    @exclusivity(unchecked) private var levels: [Level] = []

    @exclusivity(unchecked) private(set) var line = 0
    /// Lines before this one were applied in an earlier run (resume).
    private var skipThrough = 0
    /// The last line handed to the writer whole.
    @exclusivity(unchecked) private var appliedThrough = 0
    /// The highest position seen: a tombstone (which has none) gets it.
    private var highLsn: Int64?
    private var highTime: Int64?
    /// The last delete's key (its JSON text) and position: the tombstone after it takes them.
    private var lastDelete: (key: [UInt8], lsn: Int64?, time: Int64?)?
    /// Counts for the summary.
    private(set) var upserts = 0
    private(set) var deletes = 0
    private(set) var skipped = 0

    /// The resume point: `state` as saved by an earlier run (`checkpoint`), the input's path
    /// (nil for stdin, which does not resume).
    private var state: [String: Any]
    private let path: String?
    private var head: String?

    init(settings: CDCSettings, engine: StreamTarget, logger: Logger, source: String, path: String?, state: [String: Any]) {
        self.settings = settings
        self.engine = engine
        self.logger = logger
        self.source = source
        self.path = path
        self.state = state
        scanner = JSONLinesScanner(source: source)
        engine.inputName = source
        engine.batchColumns = { stream, _, _ in ChangeApplication.systemColumns(envelope: stream.envelope) }
        engine.checkpoint = { [unowned self] in self.checkpoint() }
    }

    // MARK: the reader's protocol

    func process(_ bytes: UnsafeMutablePointer<UInt8>, count: Int) throws {
        line += 1
        var bytes = bytes, count = count
        if line == 1 {
            if count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B {
                throw fail("the input is gzip-compressed; decompress it on the way in: gzip -dc \(source) | pgsink cdc apply -")
            }
            // A UTF-8 byte order mark before the first event.
            if count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF {
                bytes += 3
                count -= 3
            }
            if let path { resume(path, firstLine: UnsafeBufferPointer(start: bytes, count: count)) }
        }
        if line <= skipThrough {
            skipped += 1
            return
        }
        do {
            try event(bytes, count: count)
        } catch var error as InputError where error.source == source {
            // Whatever went wrong while this line was read is about this line (the walking
            // scanner does not count lines).
            error.line = line
            throw error
        }
        appliedThrough = line
        try engine.flushIfDue()
    }

    func idle() throws { try engine.idle() }

    func finish() throws { try engine.finish() }

    // MARK: resuming

    /// The saved state of every input, with this one's position.
    private func checkpoint() -> String? {
        var inputs = state["inputs"] as? [String: Any] ?? [:]
        if let path, let head { inputs[path] = ["line": appliedThrough, "head": head] }
        var next = state
        next["inputs"] = inputs
        if let highLsn { next["lsn"] = highLsn }
        if let highTime { next["ts_ms"] = highTime }
        guard let data = try? JSONSerialization.data(withJSONObject: next, options: [.sortedKeys]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// An input applied before (the same path, the same first line) goes on after the last line
    /// that was committed.
    private func resume(_ path: String, firstLine: UnsafeBufferPointer<UInt8>) {
        var hash = StableHash(key0: 0x7067_7369_6e6b_6364, key1: 0x6465_6265_7a69_756d)
        if let base = firstLine.baseAddress { hash.combine(base, firstLine.count) }
        head = String(hash.finalize(), radix: 16)
        guard !settings.fromBeginning, let saved = (state["inputs"] as? [String: Any])?[path] as? [String: Any],
            saved["head"] as? String == head, let through = saved["line"] as? Int, through > 0
        else { return }
        skipThrough = through
        logger.notice("\(source): lines 1–\(through) were applied by an earlier run; going on from line \(through + 1)")
    }

    // MARK: one event

    private struct Span {
        var start: Int
        var end: Int
    }

    /// One JSON object of the line, as walked: its span and the members the reader cares about.
    private struct Level {
        var start = 0
        var end = 0
        /// Every member is one a console consumer prints (key, value, topic, partition, offset …).
        var kafka = true
        /// Only `schema` and `payload`.
        var wrapper = true
        var value: Span?
        var payload: Span?
        var inner: Int?
        var key: Span?
        var topic: Span?
        var schema: Span?
        var before: Span?
        var after: Span?
        var source: Span?
        var info: SourceInfo?
        var op: Span?
        var time: Span?
        // Flattened rows' metadata (ExtractNewRecordState `add.fields`).
        var deletedFlag: Span?
        var flatOp: Span?
        var flatLsn: Span?
        var flatTime: Span?
        var flatTable: Span?
        var flatSchema: Span?
        var flatDb: Span?

        var isEnvelope: Bool { op != nil || after != nil || before != nil }
    }

    private func fail(_ message: String, column: String? = nil) -> InputError {
        InputError(source: source, line: line, column: column, message: message)
    }

    private func handle(_ p: UnsafeMutablePointer<UInt8>, _ span: Span?) -> Bool {
        guard let span else { return false }
        return !(span.end - span.start == 4 && memcmp(p + span.start, "null", 4) == 0)
    }

    /// Walks the object at `i` (levels down through `value` and `payload`), leaving its bytes as they are.
    private func walk(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int, depth: Int) throws -> Int {
        let index = levels.count
        levels.append(Level())
        levels[index].start = i
        guard try scanner.enterObject(p, &i, end) else { throw fail("expected a JSON object") }
        var first = true
        while let key = try scanner.nextKey(p, &i, end, first: first, inPlace: false) {
            first = false
            let name = UnsafeBufferPointer(start: p + key.start, count: key.length)
            func named(_ word: StaticString) -> Bool {
                key.length == word.utf8CodeUnitCount && memcmp(name.baseAddress!, word.utf8Start, key.length) == 0
            }
            let start = i
            if (named("value") || named("payload")) && depth < 3 && i < end && p[i] == 123 {
                let inner = try walk(p, &i, end, depth: depth + 1)
                levels[index].inner = inner
            } else if named("after"), let target = speculating, speculation == nil, i < end, p[i] == 123 {
                try speculate(target, p, &i, end)
            } else if named("source") && i < end && p[i] == 123 {
                // Read once, in place: its lsn, ts_ms and names.
                levels[index].info = try sourceInfo(p, &i, end)
            } else {
                try scanner.skip(p, &i, end)
            }
            let span = Span(start: start, end: i)
            var kafka = false, wrapper = false
            if named("value") {
                levels[index].value = span
                kafka = true
            } else if named("payload") {
                levels[index].payload = span
                wrapper = true
            } else if named("schema") {
                levels[index].schema = span
                wrapper = true
            } else if named("key") {
                levels[index].key = span
                kafka = true
            } else if named("topic") {
                levels[index].topic = span
                kafka = true
            } else if named("partition") || named("offset") || named("timestamp") || named("headers") {
                kafka = true
            } else if named("before") {
                levels[index].before = span
            } else if named("after") {
                levels[index].after = span
            } else if named("source") {
                levels[index].source = span
            } else if named("op") {
                levels[index].op = span
            } else if named("ts_ms") {
                levels[index].time = span
            } else if key.length > 2 && name[0] == 95 && name[1] == 95 {
                if named("__deleted") {
                    levels[index].deletedFlag = span
                } else if named("__op") {
                    levels[index].flatOp = span
                } else if named("__lsn") {
                    levels[index].flatLsn = span
                } else if named("__source_ts_ms") {
                    levels[index].flatTime = span
                } else if named("__table") {
                    levels[index].flatTable = span
                } else if named("__schema") {
                    levels[index].flatSchema = span
                } else if named("__db") {
                    levels[index].flatDb = span
                }
            }
            if !kafka { levels[index].kafka = false }
            if !wrapper { levels[index].wrapper = false }
        }
        levels[index].end = i
        return index
    }

    /// What one line says: the event's level (an envelope or a flattened row), the record key,
    /// the topic and the value schema; a nil level is a tombstone.
    private struct Event {
        var level: Int?
        var key: Span?
        var topic: Span?
        var schema: Span?
    }

    private func resolve(_ p: UnsafeMutablePointer<UInt8>) throws -> Event {
        var event = Event()
        var index = 0
        while true {
            let level = levels[index]
            if level.kafka && level.value != nil {
                event.key = level.key
                event.topic = level.topic
                guard handle(p, level.value) else { return event }
                guard let inner = level.inner else { throw fail("\"value\" must be an object (a change event) or null (a tombstone)") }
                index = inner
            } else if level.wrapper && level.payload != nil {
                if level.schema != nil { event.schema = level.schema }
                guard handle(p, level.payload) else { return event }
                guard let inner = level.inner else { throw fail("\"payload\" must be an object (a change event) or null (a tombstone)") }
                index = inner
            } else {
                event.level = index
                return event
            }
        }
    }

    /// Handles one line.
    private func event(_ p: UnsafeMutablePointer<UInt8>, count: Int) throws {
        levels.removeAll(keepingCapacity: true)
        var i = 0
        while i < count, p[i] == 32 || p[i] == 9 || p[i] == 13 { i += 1 }
        if i == count { return }
        speculating = lastTable.flatMap { $0.flat ? nil : $0 }
        defer { if speculation != nil { abandonSpeculation() } }
        _ = try walk(p, &i, count, depth: 0)
        try scanner.expectEnd(p, &i, count)
        let event = try resolve(p)
        let key = try keyPayload(p, event.key)
        guard let index = event.level else {
            abandonSpeculation()
            try tombstone(p, key: key, topic: event.topic)
            return
        }
        let level = levels[index]
        if level.isEnvelope {
            try change(p, level, key: key, topic: event.topic, schema: event.schema)
        } else {
            abandonSpeculation()
            try flat(p, level, key: key, topic: event.topic, schema: event.schema)
        }
    }

    /// The key's payload (unwrapped from `{"schema", "payload"}`), when it is an object.
    private func keyPayload(_ p: UnsafeMutablePointer<UInt8>, _ span: Span?) throws -> Span? {
        guard let span, handle(p, span), p[span.start] == 123 else { return nil }
        // Only an object whose first member is "schema" or "payload" may be the converter's wrapper.
        var i = span.start
        _ = try scanner.enterObject(p, &i, span.end)
        guard let first = try scanner.nextKey(p, &i, span.end, first: true, inPlace: false),
            (first.length == 6 && memcmp(p + first.start, "schema", 6) == 0)
                || (first.length == 7 && memcmp(p + first.start, "payload", 7) == 0)
        else { return span }
        let mark = levels.count
        defer { levels.removeSubrange(mark...) }
        i = span.start
        let index = try walk(p, &i, span.end, depth: 3)
        let level = levels[index]
        if level.wrapper, let payload = level.payload {
            return handle(p, payload) && p[payload.start] == 123 ? payload : nil
        }
        return span
    }

    /// An envelope: `op` says what happened to which row.
    private func change(_ p: UnsafeMutablePointer<UInt8>, _ level: Level, key: Span?, topic: Span?, schema: Span?) throws {
        guard let opSpan = level.op else { throw fail("the change event has no \"op\"") }
        guard opSpan.end - opSpan.start == 3, p[opSpan.start] == 34, p[opSpan.start + 2] == 34 else {
            throw fail("unknown op \(text(p, opSpan) ?? "?"); Debezium's are c, r, u, d, t and m")
        }
        let op = p[opSpan.start + 1]
        // Only a create, read or update may keep the row scanned on the way (see `speculate`).
        if op != UInt8(ascii: "c") && op != UInt8(ascii: "r") && op != UInt8(ascii: "u") { abandonSpeculation() }
        var sourceInfo = SourceInfo()
        if let info = level.info {
            sourceInfo = info
        } else if let source = level.source, handle(p, source) {
            throw fail("\"source\" must be an object")
        }
        let time = sourceInfo.time ?? level.time
        switch op {
        case UInt8(ascii: "c"), UInt8(ascii: "r"), UInt8(ascii: "u"):
            guard let after = level.after, handle(p, after), p[after.start] == 123 else {
                throw fail("the \(Character(UnicodeScalar(op))) event has no \"after\" row")
            }
            if let kept = try keepSpeculation(p, after: after, sourceInfo, topic: topic, schema: schema, op: op, before: level.before) {
                try record(p, kept, row: after, lsn: sourceInfo.lsn, time: time, delete: false, scanned: true)
                return
            }
            if speculation != nil { abandonSpeculation() }
            let table = try self.table(p, sourceInfo, topic: topic, key: key, row: after, schema: schema, flat: false)
            if op == UInt8(ascii: "u"), let before = level.before, handle(p, before), p[before.start] == 123,
                try keyChanged(p, table, before: before, after: after)
            {
                try record(p, table, row: before, lsn: sourceInfo.lsn, time: time, delete: true)
            }
            try record(p, table, row: after, lsn: sourceInfo.lsn, time: time, delete: false)
        case UInt8(ascii: "d"):
            let row = level.before.flatMap { handle(p, $0) && p[$0.start] == 123 ? $0 : nil } ?? key
            guard let row else { throw fail("the delete has neither a \"before\" row nor a key; nothing says which row went") }
            let table = try self.table(p, sourceInfo, topic: topic, key: key, row: row, schema: schema, flat: false)
            try record(p, table, row: row, lsn: sourceInfo.lsn, time: time, delete: true)
            if let key {
                lastDelete = (
                    Array(UnsafeBufferPointer(start: p + key.start, count: key.end - key.start)),
                    sourceInfo.lsn.flatMap { integer(p, $0) }, time.flatMap { integer(p, $0) }
                )
            }
        case UInt8(ascii: "t"):
            let name = try tableName(p, sourceInfo, topic: topic)
            if settings.truncate {
                try engine.operation(.truncate(name))
            } else if warnedTruncate.insert(name.description).inserted {
                logger.warning("\(source):\(line): the source truncated \(name); skipped (pass --truncate to apply truncates)")
            }
        case UInt8(ascii: "m"):
            return
        default:
            throw fail("unknown op \"\(Character(UnicodeScalar(op)))\"; Debezium's are c, r, u, d, t and m")
        }
    }

    /// A flattened row (ExtractNewRecordState): the row itself, `__deleted`/`__op` for deletes.
    private func flat(_ p: UnsafeMutablePointer<UInt8>, _ level: Level, key: Span?, topic: Span?, schema: Span?) throws {
        let row = Span(start: level.start, end: level.end)
        var info = SourceInfo()
        info.lsn = level.flatLsn
        info.time = level.flatTime
        info.table = level.flatTable
        info.schema = level.flatSchema
        info.db = level.flatDb
        var delete = false
        if let flag = level.deletedFlag {
            delete = isTrue(p, flag)
        }
        if let op = level.flatOp, op.end - op.start == 3, p[op.start + 1] == UInt8(ascii: "d") { delete = true }
        let table = try self.table(p, info, topic: topic, key: key, row: row, schema: schema, flat: true)
        try record(p, table, row: row, lsn: info.lsn, time: info.time, delete: delete)
    }

    /// A tombstone: a delete by key, of the table the topic names or of the event before it.
    private func tombstone(_ p: UnsafeMutablePointer<UInt8>, key: Span?, topic: Span?) throws {
        guard let key else {
            // A tombstone without a key says nothing; Debezium never sends one.
            return
        }
        let table: Table
        if let topic, handle(p, topic) {
            let name = try tableName(p, SourceInfo(), topic: topic)
            guard let known = tables.values.first(where: { $0.name == name }) ?? lastTable.flatMap({ $0.name == name ? $0 : nil }) else {
                // Nothing of that table was seen in this run: the delete still applies.
                let defined = try self.table(p, SourceInfo(), topic: topic, key: key, row: key, schema: nil, flat: false)
                try record(p, defined, row: key, lsn: nil, time: nil, delete: true, tombstone: true)
                return
            }
            table = known
        } else if let lastTable {
            table = lastTable
        } else {
            throw fail("a tombstone (value null) with no topic and no change before it: nothing says which table it deletes from")
        }
        try record(p, table, row: key, lsn: nil, time: nil, delete: true, tombstone: true)
    }

    private func isTrue(_ p: UnsafeMutablePointer<UInt8>, _ span: Span) -> Bool {
        let n = span.end - span.start
        return (n == 4 && memcmp(p + span.start, "true", 4) == 0) || (n == 6 && memcmp(p + span.start, "\"true\"", 6) == 0)
    }

    // MARK: source, routing and tables

    private struct SourceInfo {
        var lsn: Span?
        var time: Span?
        var db: Span?
        var schema: Span?
        var table: Span?
    }

    /// The members of the `source` object at `i` that say where a change comes from, leaving `i` after it.
    private func sourceInfo(_ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int) throws -> SourceInfo {
        var info = SourceInfo()
        _ = try scanner.enterObject(p, &i, end)
        var first = true
        while let key = try scanner.nextKey(p, &i, end, first: first, inPlace: false) {
            first = false
            let start = i
            try scanner.skip(p, &i, end)
            let value = Span(start: start, end: i)
            func named(_ word: StaticString) -> Bool {
                key.length == word.utf8CodeUnitCount && memcmp(p + key.start, word.utf8Start, key.length) == 0
            }
            if named("lsn") {
                info.lsn = value
            } else if named("ts_ms") {
                info.time = value
            } else if named("schema") {
                info.schema = value
            } else if named("table") {
                info.table = value
            } else if named("db") {
                info.db = value
            }
        }
        return info
    }

    /// A string or number token as text (JSON escapes undone); nil for null.
    private func text(_ p: UnsafeMutablePointer<UInt8>, _ span: Span?) -> String? {
        guard let span, handle(p, span) else { return nil }
        let bytes = UnsafeBufferPointer(start: p + span.start, count: span.end - span.start)
        guard bytes.first == 34 else { return String(decoding: bytes, as: UTF8.self) }
        if !bytes.contains(92) { return String(decoding: bytes.dropFirst().dropLast(), as: UTF8.self) }
        return (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) as? String
    }

    /// The destination of an event: `--table-format` filled from `source` (or the flattened row's
    /// `__db`/`__schema`/`__table`), or from the topic (`prefix.schema.table`).
    private func tableName(_ p: UnsafeMutablePointer<UInt8>, _ info: SourceInfo, topic: Span?) throws -> TableName {
        let topicText = text(p, topic)
        let parts = topicText?.split(separator: ".").map(String.init) ?? []
        let table = text(p, info.table) ?? parts.last
        let schema = text(p, info.schema) ?? (parts.count >= 3 ? parts[parts.count - 2] : nil)
        let db = text(p, info.db) ?? (parts.count >= 3 ? parts[0] : nil)
        let format = settings.tableFormat
        func value(_ placeholder: String, _ value: String?) throws -> String {
            guard let value, !value.isEmpty else {
                throw fail("--table-format \(format) needs {\(placeholder)}, and the event has none (no source.\(placeholder)"
                    + "\(placeholder == "topic" ? "" : " and no topic")); pass a --table-format the events can fill")
            }
            return value
        }
        var name = format
        for (placeholder, given) in [("db", db), ("schema", schema), ("table", table), ("topic", topicText)]
        where name.contains("{\(placeholder)}") {
            var filled = try value(placeholder, given)
            if placeholder == "topic" { filled = filled.replacingOccurrences(of: ".", with: "_") }
            name = name.replacingOccurrences(of: "{\(placeholder)}", with: filled)
        }
        let naming = settings.streams.naming
        if let dot = name.firstIndex(of: ".") {
            return TableName(
                schema: naming.normalize(String(name[..<dot])), name: naming.normalize(String(name[name.index(after: dot)...])))
        }
        return TableName(schema: naming.normalize(settings.streams.schema), name: naming.normalize(name))
    }

    /// The table an event goes to: found by the bytes that name it, defined on first sight and
    /// defined again when the event's schema changes.
    private func table(
        _ p: UnsafeMutablePointer<UInt8>, _ info: SourceInfo, topic: Span?, key: Span?, row: Span, schema: Span?, flat: Bool
    ) throws -> Table {
        route.removeAll(keepingCapacity: true)
        addRoute(p, info, topic: topic)
        let known: Table?
        if let lastTable, route == lastRoute {
            known = lastTable
        } else {
            known = tables[route]
        }
        if let known {
            if let schema, handle(p, schema), !sameText(p, schema, known.schemaText) {
                try redefine(known, p, schema: schema, flat: flat)
            }
            remember(known)
            return known
        }
        let name = try tableName(p, info, topic: topic)
        if let same = tables.values.first(where: { $0.name == name }) {
            // The same table named by other bytes (another topic, a db field added).
            tables[route] = same
            remember(same)
            return same
        }
        var keys = settings.primaryKey
        if keys.isEmpty, let key { keys = try memberNames(p, key) }
        guard !keys.isEmpty else {
            throw fail(
                "the change to \(name) has no key: the line carries no Kafka key; pass --primary-key with the table's key "
                    + "columns (or print keys with the consumer: --property print.key=true)")
        }
        let defined = try define(name, keys: keys, p, schema: schema, flat: flat)
        tables[route] = defined
        remember(defined)
        return defined
    }

    /// The bytes that name an event's table, appended to `route`.
    private func addRoute(_ p: UnsafeMutablePointer<UInt8>, _ info: SourceInfo, topic: Span?) {
        func add(_ span: Span?) {
            if let span { route.append(contentsOf: UnsafeBufferPointer(start: p + span.start, count: span.end - span.start)) }
            route.append(0)
        }
        add(info.db)
        add(info.schema)
        add(info.table)
        add(topic)
    }

    private func remember(_ table: Table) {
        lastTable = table
        if lastRoute != route { lastRoute = route }
    }

    private func sameText(_ p: UnsafeMutablePointer<UInt8>, _ span: Span, _ text: [UInt8]?) -> Bool {
        guard let text, text.count == span.end - span.start else { return false }
        return memcmp(p + span.start, text, text.count) == 0
    }

    private func define(_ name: TableName, keys: [String], _ p: UnsafeMutablePointer<UInt8>, schema: Span?, flat: Bool) throws
        -> Table
    {
        let text = schema.flatMap { handle(p, $0) ? Array(UnsafeBufferPointer(start: p + $0.start, count: $0.end - $0.start)) : nil }
        let definition = try self.definition(name, keys: keys, schemaText: text, flat: flat)
        try engine.define(definition)
        guard let stream = engine.stream(definition.name) else { throw fail("internal: the stream of \(name) is missing") }
        return Table(name: name, stream: stream, keys: keys, flat: flat, schemaText: text)
    }

    private func redefine(_ table: Table, _ p: UnsafeMutablePointer<UInt8>, schema: Span, flat: Bool) throws {
        let text = handle(p, schema) ? Array(UnsafeBufferPointer(start: p + schema.start, count: schema.end - schema.start)) : nil
        table.schemaText = text
        let definition = try self.definition(table.name, keys: table.keys, schemaText: text, flat: flat || table.flat)
        // The same fields again (a schema that differs only in its text) changes nothing.
        try engine.define(definition)
        if let stream = engine.stream(definition.name) { table.stream = stream }
    }

    private func definition(_ name: TableName, keys: [String], schemaText: [UInt8]?, flat: Bool) throws -> StreamDefinition {
        var definition = StreamDefinition.changeFeed(
            name, keys: keys,
            ChangeApplication(deletes: settings.deletes, unavailable: settings.unavailableValue, remembersDeletes: true))
        if flat { definition.ignoredPrefix = "__" }
        var fingerprint = "keys \(keys.joined(separator: ",")) flat \(flat)"
        if let schemaText, let schema = DebeziumSchema(json: schemaText) {
            for field in schema.fields {
                definition.properties.append(field.name)
                definition.declared[field.name] = field.type.columnType
                if field.type.decoding != .asIs { definition.decodings[field.name] = field.type.decoding }
            }
            fingerprint += " " + schema.fingerprint
        }
        definition.fingerprint = fingerprint
        return definition
    }

    /// The member names of an object (a key payload), in order.
    private func memberNames(_ p: UnsafeMutablePointer<UInt8>, _ span: Span) throws -> [String] {
        var names: [String] = []
        var i = span.start
        _ = try scanner.enterObject(p, &i, span.end)
        var first = true
        while let key = try scanner.nextKey(p, &i, span.end, first: first, inPlace: false) {
            first = false
            let token = Span(start: key.start - 1, end: key.start + key.length + 1)
            if let name = text(p, token) { names.append(name) }
            try scanner.skip(p, &i, span.end)
        }
        return names
    }

    /// The values of `names` in an object, as their JSON text.
    private func members(_ p: UnsafeMutablePointer<UInt8>, _ span: Span, _ names: [String]) throws -> [[UInt8]?] {
        var values = [[UInt8]?](repeating: nil, count: names.count)
        var i = span.start
        _ = try scanner.enterObject(p, &i, span.end)
        var first = true
        while let key = try scanner.nextKey(p, &i, span.end, first: first, inPlace: false) {
            first = false
            let start = i
            try scanner.skip(p, &i, span.end)
            let token = Span(start: key.start - 1, end: key.start + key.length + 1)
            if let name = text(p, token), let index = names.firstIndex(of: name) {
                values[index] = Array(UnsafeBufferPointer(start: p + start, count: i - start))
            }
        }
        return values
    }

    /// An update whose `before` holds another key than its `after` moved the row.
    private func keyChanged(_ p: UnsafeMutablePointer<UInt8>, _ table: Table, before: Span, after: Span) throws -> Bool {
        let old = try members(p, before, table.keys)
        guard old.contains(where: { $0 != nil && $0! != Array("null".utf8) }) else { return false }
        return old != (try members(p, after, table.keys))
    }

    // MARK: scanning `after` while walking

    /// The table of the line before, whose batch the next `after` is scanned into on the way.
    @exclusivity(unchecked) private var speculating: Table?
    /// A row begun that way: its table and where its bytes start in the batch.
    @exclusivity(unchecked) private var speculation: (table: Table, offset: Int, start: Int)?

    /// Copies the rest of the line into the table's batch and scans the `after` object at `i` there
    /// as an open row, so that it is read once (most feeds send one table's changes in a row). The
    /// walk goes on after it in the line; `keepSpeculation` decides once the line is read.
    private func speculate(_ table: Table, _ p: UnsafeMutablePointer<UInt8>, _ i: inout Int, _ end: Int) throws {
        let stream = table.stream
        let batch = stream.pending
        let offset = batch.bytes.count
        batch.bytes.append(p + i, count: end - i)
        var j = offset
        do {
            try stream.scanner.beginRecord(in: batch, &j, batch.bytes.count, line: line, columns: stream.sources)
        } catch {
            batch.bytes.count = offset
            throw error
        }
        batch.bytes.count = j
        speculation = (table, offset, i)
        i += j - offset
    }

    /// The row scanned on the way, when the line is a create, read or update of that same table,
    /// with the same schema and no key change to look at.
    private func keepSpeculation(
        _ p: UnsafeMutablePointer<UInt8>, after: Span, _ info: SourceInfo, topic: Span?, schema: Span?, op: UInt8,
        before: Span?
    ) throws -> Table? {
        guard let speculation, speculation.start == after.start, speculation.table === lastTable,
            op != UInt8(ascii: "u") || !handle(p, before)
        else { return nil }
        if let schema, handle(p, schema), !sameText(p, schema, speculation.table.schemaText) { return nil }
        route.removeAll(keepingCapacity: true)
        addRoute(p, info, topic: topic)
        guard route == lastRoute else { return nil }
        self.speculation = nil
        return speculation.table
    }

    private func abandonSpeculation() {
        guard let speculation else { return }
        self.speculation = nil
        let batch = speculation.table.stream.pending
        batch.abandonRecord()
        batch.bytes.count = speculation.offset
    }

    // MARK: records

    /// The row object at `row` as a record of the table's stream, with the change's position and
    /// (for a delete) its mark.
    private func record(
        _ p: UnsafeMutablePointer<UInt8>, _ table: Table, row: Span, lsn: Span?, time: Span?, delete: Bool,
        tombstone: Bool = false, scanned: Bool = false
    ) throws {
        let stream = table.stream
        let lsnValue = lsn.flatMap { integer(p, $0) }
        let timeValue = time.flatMap { integer(p, $0) }
        if let lsnValue { highLsn = max(highLsn ?? lsnValue, lsnValue) }
        if let timeValue { highTime = max(highTime ?? timeValue, timeValue) }
        if !scanned { try MessageWalk.beginRecord(row.start, row.end, of: p, number: line, stream: stream) }
        let batch = stream.pending
        // A tombstone has no position of its own: right after the delete of its key it takes the
        // delete's; alone (a flattened feed that drops deletes) it follows the newest change seen.
        var positionLsn = lsnValue, positionTime = timeValue
        if tombstone {
            if let lastDelete, lastDelete.key.count == row.end - row.start,
                memcmp(p + row.start, lastDelete.key, lastDelete.key.count) == 0
            {
                (positionLsn, positionTime) = (lastDelete.lsn, lastDelete.time)
            } else {
                (positionLsn, positionTime) = (highLsn, highTime)
            }
        }
        if let positionLsn { batch.setCell(batch.numberCell(positionLsn), column: stream.envelope[0]) }
        if let positionTime { batch.setCell(batch.numberCell(positionTime), column: stream.envelope[1]) }
        if delete {
            let when = positionTime ?? Int64((Date().timeIntervalSince1970 * 1000).rounded())
            batch.setCell(batch.numberCell(when), column: stream.envelope[2])
            deletes += 1
        } else {
            upserts += 1
        }
        batch.endRecord()
        try engine.recorded(stream, bytes: row.end - row.start)
    }

    /// A JSON integer token (or a string of digits).
    private func integer(_ p: UnsafeMutablePointer<UInt8>, _ span: Span) -> Int64? {
        var start = span.start, end = span.end
        if end - start >= 2, p[start] == 34 {
            start += 1
            end -= 1
        }
        guard end > start, p[start] != 43 else { return nil }
        return ValueSyntax.parseInt64(p + start, end - start)
    }

}

extension StreamDefinition {
    /// A change feed's table: merged on its key, with the hidden cells of each record's position
    /// and delete mark (`ChangeApplication.systemColumns`).
    static func changeFeed(_ table: TableName, keys: [String], _ application: ChangeApplication) -> StreamDefinition {
        var definition = StreamDefinition(name: table.description, table: table)
        definition.keys = keys
        definition.mode = .merge
        definition.changes = application
        definition.envelope = [DebeziumReader.lsnSlot, DebeziumReader.timeSlot, DebeziumReader.deleteSlot]
        definition.ignored = Set(definition.envelope)
        definition.deleteMark = DebeziumReader.deleteSlot
        return definition
    }
}
