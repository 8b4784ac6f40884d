import Foundation
import Logging
import PGSinkCore

/// Asks the server, on a connection of its own, whether a column's input function takes values
/// pgsink's parsers refused, and how it spells them. The load's own connection is busy with COPY
/// on another thread; this one opens on first use (most loads never need it) with the same
/// parameters and session settings, so a value means here what it would mean there.
final class ServerInputCheck: ServerInput, @unchecked Sendable {
    private let connect: () throws -> PGConnection
    private let logger: Logger
    private var connection: PGConnection?
    private var unavailable = false

    init(connect: @escaping () throws -> PGConnection, logger: Logger) {
        self.connect = connect
        self.logger = logger
    }

    /// Connects the way `connection` did (its host, port, user, password, TLS settings).
    convenience init(like connection: PGConnection, logger: Logger) {
        let parameters = connection.parameters
        self.init(connect: { try PGConnection.connect(parameters: parameters, logger: logger) }, logger: logger)
    }

    /// The readers of a parallel read ask through one check, one at a time.
    private let lock = NSLock()

    func canonical(_ values: [String], as type: ColumnType) -> [String]? {
        lock.lock()
        defer { lock.unlock() }
        // libpq passes parameters as C strings; a NUL would cut a value short.
        guard !values.contains(where: { $0.contains("\0") }), let connection = open() else { return nil }
        let sql = """
            SELECT array_to_json(array_agg((v::\(type.sqlName))::text ORDER BY o))::text
            FROM unnest($1::text[]) WITH ORDINALITY AS u(v, o)
            """
        do {
            guard let json = try connection.query(sql, [SQL.textArray(values)]).rows.first?.first ?? nil,
                let spelled = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String],
                spelled.count == values.count
            else { return nil }
            return spelled
        } catch {
            // Refused: the column widens as it would have.
            logger.debug("the server refuses a value as \(type.sqlName): \(error)")
            return nil
        }
    }

    private func open() -> PGConnection? {
        if let connection { return connection }
        if unavailable { return nil }
        do {
            let opened = try connect()
            // Times come back in ISO form, in the load connection's date order; floats exactly.
            let order = (try? opened.query("SELECT split_part(current_setting('DateStyle'), ',', 2)", []))?.rows.first?
                .first ?? nil
            let dateOrder = ["MDY", "DMY", "YMD"].first { order?.uppercased().contains($0) == true } ?? "MDY"
            try opened.execute("SET DateStyle = 'ISO, \(dateOrder)'")
            try opened.execute("SET extra_float_digits = 3")
            connection = opened
            return opened
        } catch {
            unavailable = true
            logger.debug("cannot open a connection to check values with the server: \(error)")
            return nil
        }
    }
}
