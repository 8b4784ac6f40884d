import Foundation
import Logging
import PGSinkCore

/// `pgsink cdc apply`: Debezium change events from files or stdin, each input one stream load
/// (`StreamLoad`: the `DebeziumReader` in front of the shared writer). The position reached in each
/// file is saved with every commit in `_pgsink_state` (id `cdc`, or `state_id`), so running a file
/// again goes on after its last committed line.
public enum ChangeApply {
    public struct Summary: Sendable {
        public var rows: [String: Int] = [:]
        public var upserts = 0
        public var deletes = 0
        /// Lines an earlier run had applied.
        public var skipped = 0
    }

    public static func run(
        settings: CDCSettings, inputs: [String], connection: PGConnection, connector: Connector, retries: Int,
        logger: Logger
    ) throws -> Summary {
        var summary = Summary()
        var state = try savedState(settings.streams, on: connection)
        var current = connection
        for input in inputs.isEmpty ? ["-"] : inputs {
            let fd: Int32
            var path: String?
            if input == "-" {
                fd = 0
            } else {
                fd = open(input, O_RDONLY)
                guard fd >= 0 else {
                    throw InputError(source: input, line: 0, message: "cannot read it: \(String(cString: strerror(errno)))")
                }
                path = URL(fileURLWithPath: input).standardizedFileURL.path
            }
            defer { if fd != 0 { close(fd) } }
            let load = StreamLoad(
                settings: settings.streams, connection: current, connector: connector, retries: retries, logger: logger,
                keepEveryState: false
            ) { saved in
                if let data = saved.data(using: .utf8),
                    let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
                {
                    state = object
                }
            }
            let reader = DebeziumReader(
                settings: settings, engine: load.engine, logger: logger, source: input == "-" ? "stdin" : input, path: path,
                state: state)
            try load.run(reader: reader, input: fd)
            current = load.writer.main
            summary.rows.merge(load.writer.rowsByTable, uniquingKeysWith: +)
            summary.upserts += reader.upserts
            summary.deletes += reader.deletes
            summary.skipped += reader.skipped
        }
        return summary
    }

    /// The state an earlier run of a change feed saved (row `stateId` of `_pgsink_state`), or nothing.
    static func savedState(_ streams: StreamSettings, on connection: PGConnection) throws -> [String: Any] {
        let schema = streams.naming.normalize(streams.schema)
        let table = TableName(schema: schema, name: SQL.stateName)
        guard try Catalog.columns(of: table, on: connection) != nil else { return [:] }
        let rows = try connection.query(SQL.readState(schema: schema), [streams.stateId]).rows
        guard let text = rows.first?[0], let data = text.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return [:] }
        return object
    }
}
