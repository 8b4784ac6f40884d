import CLibPQ
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import PGSinkCore

/// One libpq connection, used by one thread at a time (libpq blocks; give each its own thread).
public final class PGConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private let notices: NoticeSink
    /// libpq's cancel request for this connection, usable from any thread.
    private let cancelRequest: OpaquePointer?

    /// Connects with anything libpq takes: a URI, a `key=value` string, or "" for libpq's
    /// environment (PGHOST and friends). The session runs in UTC with UTF-8 client encoding.
    public static func connect(_ conninfo: String, logger: Logger = Logger(label: "pgsink")) throws -> PGConnection {
        try connect(
            parameters: [.init("dbname", conninfo), .init("fallback_application_name", "pgsink"), .init("client_encoding", "UTF8")],
            logger: logger)
    }

    /// Connects with libpq keyword/value pairs; `dbname` may hold a whole URI or `key=value`
    /// string, and later pairs override what it sets.
    public static func connect(parameters: [ConnectionSettings.Parameter], logger: Logger) throws -> PGConnection {
        let handle = withCStrings(parameters.map(\.keyword)) { kw in
            withCStrings(parameters.map(\.value)) { vals in PQconnectdbParams(kw, vals, 1) }
        }
        guard let handle else { throw PGError(kind: .connection, message: "out of memory") }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = Secrets.redact(Self.trimmed(PQerrorMessage(handle)))
            PQfinish(handle)
            throw PGError(kind: .connection, message: message)
        }
        let connection = PGConnection(handle: handle, logger: logger)
        Interrupt.register(connection)
        // UTC makes timestamp casts (widening date → timestamptz) independent of the server's zone.
        try connection.execute("SET TimeZone = 'UTC'")
        // temp_buffers holds a merge batch's staging table in memory. It can only be set before
        // the session's first temporary table; behind a transaction pooler the server session
        // may have had one already, and then the default stays.
        if (try? connection.execute("SET temp_buffers = '64MB'")) == nil {
            // A session killed between the two settings is lost, not merely left at the default.
            guard PQstatus(handle) == CONNECTION_OK else {
                throw PGError(kind: .connection, message: "server closed the connection unexpectedly", sqlState: "08006")
            }
            logger.debug("temp_buffers left at the server's setting (this session has used temporary tables)")
        }
        return connection
    }

    /// The parameters libpq used for this connection (host, port, user, password, TLS …), to open
    /// another one to the same server as the same user.
    public var parameters: [ConnectionSettings.Parameter] {
        guard let options = PQconninfo(handle) else { return [] }
        defer { PQconninfoFree(options) }
        var result: [ConnectionSettings.Parameter] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { result.append(.init(String(cString: keyword), String(cString: value))) }
            option += 1
        }
        return result
    }

    private init(handle: OpaquePointer, logger: Logger) {
        self.handle = handle
        self.notices = NoticeSink(logger: logger)
        self.cancelRequest = PQgetCancel(handle)
        // libpq prints server notices ("schema … already exists, skipping") to stderr unless told otherwise.
        PQsetNoticeReceiver(
            handle,
            { argument, result in
                guard let argument, let result else { return }
                let sink = Unmanaged<NoticeSink>.fromOpaque(argument).takeUnretainedValue()
                sink.logger.debug("\(PGConnection.trimmed(PQresultErrorMessage(result)))")
            }, Unmanaged.passUnretained(notices).toOpaque())
    }

    deinit {
        Interrupt.unregister(self)
        if let cancelRequest { PQfreeCancel(cancelRequest) }
        PQfinish(handle)
    }

    /// Asks the server to cancel the statement this connection runs (from any thread).
    public func cancel() {
        guard let cancelRequest else { return }
        var message = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancelRequest, &message, Int32(message.count))
    }

    /// Where the connection goes, for messages: host (or socket folder), port, database, user.
    public var endpoint: String {
        let host = PQhost(handle).map { String(cString: $0) } ?? ""
        let port = PQport(handle).map { String(cString: $0) } ?? ""
        let database = PQdb(handle).map { String(cString: $0) } ?? ""
        let user = PQuser(handle).map { String(cString: $0) } ?? ""
        return "\(user)@\(host):\(port)/\(database)"
    }

    /// Whether the server is on this machine as far as the connection shows: a Unix socket or a
    /// loopback address (an SSH tunnel's local end counts as here, though its server is not).
    public var serverLooksLocal: Bool {
        let host = PQhost(handle).map { String(cString: $0) } ?? ""
        return host.isEmpty || host.hasPrefix("/") || host.hasPrefix("@") || host == "localhost" || host == "::1"
            || host.hasPrefix("127.")
    }

    public var serverVersion: Int { Int(PQserverVersion(handle)) }
    public var user: String { PQuser(handle).map { String(cString: $0) } ?? "" }
    /// Whether a transaction is open (BEGIN without COMMIT or ROLLBACK yet).
    public var inTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }
    /// Whether the server asked for a password (false for trust, peer and certificate logins).
    public var usedPassword: Bool { PQconnectionUsedPassword(handle) == 1 }
    /// Whether the connection is encrypted, and with which protocol (TLSv1.3).
    public var tlsProtocol: String? {
        guard PQsslInUse(handle) == 1 else { return nil }
        return PQsslAttribute(handle, "protocol").map { String(cString: $0) } ?? "TLS"
    }
    /// A server parameter the connection reported (server_version, is_superuser …).
    public func parameter(_ name: String) -> String? {
        PQparameterStatus(handle, name).map { String(cString: $0) }
    }
    /// What libpq connected with: the effective value of a keyword (sslmode, host …).
    public func option(_ keyword: String) -> String? {
        ConnectionString.takeOptions(PQconninfo(handle)).first { $0.keyword == keyword }?.value ?? nil
    }

    static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "unknown error" }
        var text = String(cString: message)
        while text.last == "\n" || text.last == " " { text.removeLast() }
        return text
    }

    /// Runs one or more statements with no parameters.
    @discardableResult
    public func execute(_ sql: String) throws -> PGResult {
        notices.logger.trace("sql: \(sql)")
        return try check(PQexec(handle, sql))
    }

    /// Runs one statement with text parameters ($1, $2, …), never pasted into the SQL.
    @discardableResult
    public func query(_ sql: String, _ parameters: [String?]) throws -> PGResult {
        notices.logger.trace("sql: \(sql)", metadata: ["sql.parameters": "\(parameters.map { $0 ?? "NULL" })"])
        let cStrings = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { cStrings.forEach { free($0) } }
        let result = cStrings.map { UnsafePointer($0) }.withUnsafeBufferPointer { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values.baseAddress, nil, nil, 0)
        }
        return try check(result)
    }

    private func check(_ raw: OpaquePointer?) throws -> PGResult {
        guard let raw else { throw PGError(kind: .server, message: Self.trimmed(PQerrorMessage(handle))) }
        let result = PGResult(raw)
        switch PQresultStatus(raw) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH, PGRES_EMPTY_QUERY:
            return result
        default:
            throw result.error(fallback: Self.trimmed(PQerrorMessage(handle)))
        }
    }

    /// Streams a prepared COPY payload in large chunks. Returns the rows the server stored.
    public func copyIn(_ sql: String, data: ByteStorage, chunkSize: Int = 1 << 20) throws -> Int {
        let start = try execute(sql)
        guard start.status == PGRES_COPY_IN else {
            throw PGError(kind: .server, message: "the server did not start COPY for: \(sql)")
        }
        var offset = 0
        var sendFailure: String?
        while offset < data.count {
            let n = min(chunkSize, data.count - offset)
            let sent = (data.base + offset).withMemoryRebound(to: CChar.self, capacity: n) {
                PQputCopyData(handle, $0, Int32(n))
            }
            if sent != 1 {
                sendFailure = Self.trimmed(PQerrorMessage(handle))
                break
            }
            offset += n
        }
        if PQputCopyEnd(handle, sendFailure == nil ? nil : "pgsink aborted the COPY") != 1 {
            sendFailure = sendFailure ?? Self.trimmed(PQerrorMessage(handle))
        }
        var failure: PGError?
        var rows = 0
        while let raw = PQgetResult(handle) {
            let result = PGResult(raw)
            if result.status == PGRES_COMMAND_OK {
                rows = Int(result.commandTuples) ?? 0
            } else if failure == nil {
                failure = result.error(fallback: Self.trimmed(PQerrorMessage(handle)))
            }
        }
        if let failure { throw failure }
        if let sendFailure { throw PGError(kind: .server, message: sendFailure) }
        return rows
    }
}

/// Receives server notices for one connection (libpq calls it on that connection's thread).
final class NoticeSink: @unchecked Sendable {
    let logger: Logger
    init(logger: Logger) { self.logger = logger }
}

/// A query result; freed with the object.
public final class PGResult: @unchecked Sendable {
    let raw: OpaquePointer

    init(_ raw: OpaquePointer) { self.raw = raw }
    deinit { PQclear(raw) }

    var status: ExecStatusType { PQresultStatus(raw) }
    public var rowCount: Int { Int(PQntuples(raw)) }
    public var columnCount: Int { Int(PQnfields(raw)) }
    public var commandTuples: String { String(cString: PQcmdTuples(raw)) }
    /// Rows an INSERT, UPDATE or DELETE touched.
    public var affectedRows: Int { Int(commandTuples) ?? 0 }

    public func value(_ row: Int, _ column: Int) -> String? {
        if PQgetisnull(raw, Int32(row), Int32(column)) == 1 { return nil }
        return String(cString: PQgetvalue(raw, Int32(row), Int32(column)))
    }

    /// Each column's name, type OID and type modifier (a query's shape, read from its result).
    public var fields: [(name: String, type: UInt32, modifier: Int32)] {
        (0..<Int32(columnCount)).map { (String(cString: PQfname(raw, $0)), UInt32(PQftype(raw, $0)), PQfmod(raw, $0)) }
    }

    /// All rows as text (NULL as nil): for small catalog queries.
    public var rows: [[String?]] {
        (0..<rowCount).map { row in (0..<columnCount).map { value(row, $0) } }
    }

    func field(_ code: Character) -> String? {
        guard let value = PQresultErrorField(raw, Int32(code.asciiValue!)) else { return nil }
        return String(cString: value)
    }

    func error(fallback: String) -> PGError {
        PGError(
            kind: .server, message: field("M") ?? fallback, sqlState: field("C"), detail: field("D"),
            hint: field("H"), context: field("W"))
    }
}

private func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicated = strings.map { strdup($0) }
    defer { duplicated.forEach { free($0) } }
    var pointers = duplicated.map { UnsafePointer($0) }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

// MARK: COPY out and the replication protocol

extension PGConnection {
    /// Runs a `COPY … TO STDOUT` and hands each chunk (a row, as libpq delivers it) to `body`.
    /// Returns the rows the server sent.
    @discardableResult
    public func copyOut(_ sql: String, _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws -> Int {
        let start = try execute(sql)
        guard start.status == PGRES_COPY_OUT else {
            throw PGError(kind: .server, message: "the server did not start COPY for: \(sql)")
        }
        var failure: Error?
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let n = PQgetCopyData(handle, &buffer, 0)
            if n > 0, let buffer {
                defer { PQfreemem(buffer) }
                if failure == nil {
                    do {
                        try buffer.withMemoryRebound(to: UInt8.self, capacity: Int(n)) {
                            try body(UnsafeBufferPointer(start: $0, count: Int(n)))
                        }
                    } catch {
                        // Keep reading to the end so the connection stays usable; the error wins.
                        failure = error
                    }
                }
                continue
            }
            if n == -2 { throw PGError(kind: .connection, message: Self.trimmed(PQerrorMessage(handle))) }
            break
        }
        var rows = 0
        var serverFailure: PGError?
        while let raw = PQgetResult(handle) {
            let result = PGResult(raw)
            if result.status == PGRES_COMMAND_OK {
                rows = Int(result.commandTuples) ?? 0
            } else if serverFailure == nil {
                serverFailure = result.error(fallback: Self.trimmed(PQerrorMessage(handle)))
            }
        }
        if let failure { throw failure }
        if let serverFailure { throw serverFailure }
        return rows
    }

    /// Starts a command that answers with CopyBoth (`START_REPLICATION`).
    public func startCopyBoth(_ sql: String) throws {
        let start = try execute(sql)
        guard start.status == PGRES_COPY_BOTH else {
            throw PGError(kind: .server, message: "the server did not start streaming for: \(sql)")
        }
    }

    public enum CopyData {
        /// One message, valid until the next call.
        case data(UnsafeBufferPointer<UInt8>)
        case timeout
        /// The server ended the stream.
        case end
    }

    /// The next CopyData message of a CopyBoth stream, waiting at most `timeout` seconds. The bytes
    /// are copied into `into` (reused) after its first `prefix` bytes, which stay, so they stay
    /// valid until the next call.
    public func readCopyData(timeout: Double, into buffer: ByteStorage, keeping prefix: Int = 0) throws -> CopyData {
        let deadline = timeout
        var waited = false
        while true {
            var raw: UnsafeMutablePointer<CChar>?
            let n = PQgetCopyData(handle, &raw, 1)
            if n > 0, let raw {
                defer { PQfreemem(raw) }
                buffer.count = prefix
                raw.withMemoryRebound(to: UInt8.self, capacity: Int(n)) { buffer.append($0, count: Int(n)) }
                return .data(UnsafeBufferPointer(start: buffer.base + prefix, count: Int(n)))
            }
            if n == -1 {
                try finishCopyOut()
                return .end
            }
            if n == -2 {
                notices.logger.trace("PQgetCopyData failed; status \(PQstatus(handle)), transaction \(PQtransactionStatus(handle))")
                throw PGError(kind: .connection, message: Self.trimmed(PQerrorMessage(handle)))
            }
            if waited { return .timeout }
            var poller = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(deadline * 1000))
            if ready < 0 && errno != EINTR {
                throw PGError(kind: .connection, message: "waiting for the replication stream failed: \(String(cString: strerror(errno)))")
            }
            if PQconsumeInput(handle) != 1 {
                throw PGError(kind: .connection, message: Self.trimmed(PQerrorMessage(handle)))
            }
            waited = ready == 0
        }
    }

    /// The COPY's end came: its results, the first failure thrown.
    private func finishCopyOut() throws {
        var failure: PGError?
        while let result = PQgetResult(handle).map(PGResult.init) {
            if result.status != PGRES_COMMAND_OK && result.status != PGRES_COPY_OUT && failure == nil {
                failure = result.error(fallback: Self.trimmed(PQerrorMessage(handle)))
            }
        }
        if let failure { throw failure }
    }

    /// What `appendBufferedCopyData` found.
    public enum BufferedCopyData {
        case appended
        /// No whole message has arrived yet.
        case none
        /// The server ended the COPY (its results read; a failure is thrown).
        case end
    }

    /// Appends the next CopyData message to `buffer` if it has arrived whole, without waiting
    /// or reading the socket: a reader joins the rows already here into one message.
    public func appendBufferedCopyData(to buffer: ByteStorage) throws -> BufferedCopyData {
        var raw: UnsafeMutablePointer<CChar>?
        let n = PQgetCopyData(handle, &raw, 1)
        if n > 0, let raw {
            defer { PQfreemem(raw) }
            raw.withMemoryRebound(to: UInt8.self, capacity: Int(n)) { buffer.append($0, count: Int(n)) }
            return .appended
        }
        if n == 0 { return .none }
        if n == -1 {
            try finishCopyOut()
            return .end
        }
        throw PGError(kind: .connection, message: Self.trimmed(PQerrorMessage(handle)))
    }

    /// Sends one CopyData message (a standby status update) and flushes it.
    public func putCopyData(_ bytes: [UInt8]) throws {
        let sent = bytes.withUnsafeBufferPointer { buffer in
            buffer.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                PQputCopyData(handle, $0, Int32(buffer.count))
            }
        }
        guard sent == 1, PQflush(handle) == 0 else {
            throw PGError(kind: .connection, message: Self.trimmed(PQerrorMessage(handle)))
        }
    }

    /// Ends the client's side of a CopyBoth stream.
    public func endCopy() {
        _ = PQputCopyEnd(handle, nil)
        _ = PQflush(handle)
    }
}
