import ArgumentParser
import Foundation
import Logging
import PGSink
import PGSinkCore

struct SingerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "singer",
        abstract: "A Singer target: load a tap's messages (stdin) into PostgreSQL, printing each state once committed.",
        discussion: "tap-postgres --config tap.json | pgsink singer --config target.json > state.json\n"
            + "The config takes MeltanoLabs target-postgres's keys; see docs/singer.md."
    )

    @Option(name: .long, help: ArgumentHelp("A JSON config file (repeatable; later files win).", valueName: "file"))
    var config: [String] = []

    @Option(name: .long, help: ArgumentHelp("Read messages from this file instead of stdin.", valueName: "file"))
    var input: String?

    @OptionGroup var connection: ConnectionOptions

    @OptionGroup var logging: LoggingOptions

    @Flag(help: "Print what this target supports and exit.")
    var about = false

    @Option(help: "The format of --about: text or json.")
    var format: String = "text"

    @Flag(help: "Log each schema change and flush.")
    var verbose = false

    func run() throws {
        if about {
            print(format == "json" ? Self.aboutJSON : Self.aboutText)
            return
        }
        let logger = LogSetup.bootstrap(logging.logLevel, fallback: verbose ? .info : .warning)
        let parsed = try failing { try SingerConfig.load(files: config) }
        for warning in parsed.warnings { logger.warning("\(warning)") }
        let connector = try failing { try connection.connector(configured: parsed.connection, logger: logger) }
        defer { connector.close() }
        let pg = try failing { try connector.connect() }
        let target = SingerTarget(settings: parsed.settings, connection: pg, logger: logger) { state in
            FileHandle.standardOutput.write(Data((state + "\n").utf8))
        }
        let fd: Int32
        if let input {
            fd = open(input, O_RDONLY)
            guard fd >= 0 else { throw CommandFailure(description: "cannot read \(input): \(String(cString: strerror(errno)))") }
        } else {
            fd = 0
        }
        var reader = LineReader(fd: fd)
        try failing {
            while true {
                switch try reader.next(timeout: parsed.settings.streams.batchSeconds) {
                case .line(let bytes): try target.process(bytes)
                case .timeout: try target.flushIfDue()
                case .end:
                    try target.finish()
                    let rows = target.rowsByTable.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
                    logger.notice("pgsink singer: loaded \(rows.isEmpty ? "nothing" : rows.joined(separator: ", "))")
                    return
                }
            }
        }
    }

    private func failing<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CommandFailure {
            throw error
        } catch {
            let committed = error is InputError || error is PGError || error is PlanError || error is RejectLimit
            throw CommandFailure(
                description: "\(error)" + (committed ? "; the batch in progress was rolled back, state printed so far is safe" : ""))
        }
    }

    static let aboutText = """
        pgsink singer — a Singer target for PostgreSQL
        messages: SCHEMA, RECORD, STATE, ACTIVATE_VERSION, BATCH (local jsonl, optionally gzip)
        config: host, port, user, password, database, sqlalchemy_url, default_target_schema, ssl_*, hard_delete,
          add_record_metadata, activate_version, batch_size_rows, batch_size_bytes, batch_timeout, load_method,
          flattening_enabled, flattening_max_depth, schema_contract, max_rejects, nested, state_id
        """

    static let aboutJSON = """
        {"name": "pgsink", "description": "Singer target for PostgreSQL", "capabilities": ["about", "activate-version", \
        "hard-delete", "schema-flattening", "batch"], "settings": ["host", "port", "user", "password", "database", \
        "sqlalchemy_url", "default_target_schema", "ssl_enable", "ssl_mode", "ssl_certificate_authority", \
        "ssl_client_certificate_enable", "ssl_client_certificate", "ssl_client_private_key", "hard_delete", \
        "add_record_metadata", "activate_version", "batch_size_rows", "batch_size_bytes", "batch_timeout", "load_method", \
        "flattening_enabled", "flattening_max_depth", "schema_contract", "max_rejects", "nested", "state_id"]}
        """
}

/// Reads lines from a file descriptor, waiting at most `timeout` seconds for the next one.
struct LineReader {
    enum Next {
        case line([UInt8])
        case timeout
        case end
    }

    let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private var eof = false

    init(fd: Int32) { self.fd = fd }

    mutating func next(timeout: Double) throws -> Next {
        while true {
            if let newline = buffer[start...].firstIndex(of: 10) {
                let line = Array(buffer[start..<newline])
                start = newline + 1
                if start > 1 << 20 {
                    buffer.removeSubrange(0..<start)
                    start = 0
                }
                return .line(line)
            }
            if eof {
                guard start < buffer.count else { return .end }
                let line = Array(buffer[start...])
                start = buffer.count
                return .line(line)
            }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(timeout, 3600) * 1000))
            if ready == 0 { return .timeout }
            if ready < 0 {
                if errno == EINTR { continue }
                throw CommandFailure(description: "reading the input failed: \(String(cString: strerror(errno)))")
            }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = read(fd, &chunk, chunk.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw CommandFailure(description: "reading the input failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { eof = true } else { buffer += chunk[0..<n] }
        }
    }
}
