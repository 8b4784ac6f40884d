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
        let fd: Int32
        if let input {
            fd = open(input, O_RDONLY)
            guard fd >= 0 else { throw CommandFailure(description: "cannot read \(input): \(String(cString: strerror(errno)))") }
        } else {
            fd = 0
        }
        let rows = try failing {
            try SingerTarget.run(
                settings: parsed.settings, input: fd, connection: pg, connector: connector, retries: connection.retries,
                logger: logger
            ) { state in
                FileHandle.standardOutput.write(Data((state + "\n").utf8))
            }
        }
        let loaded = rows.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
        logger.notice("pgsink singer: loaded \(loaded.isEmpty ? "nothing" : loaded.joined(separator: ", "))")
    }

    private func failing<T>(_ body: () throws -> T) throws -> T {
        try CommandFailure.wrapping(afterRollback: "the batch in progress was rolled back, state printed so far is safe", body)
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

