import Foundation
import PGSink
import PGSinkCore
import Testing

/// The throwaway server `make test` starts (scripts/pg-test-server) and a private schema per test.
struct TestDatabase {
    let url: String
    let schema: String
    let connection: PGConnection

    struct Missing: Error, CustomStringConvertible {
        var variable = "PGSINK_TEST_URL"
        var description: String {
            "\(variable) is not set: run the tests with `make test`, which starts a throwaway PostgreSQL"
        }
    }

    /// `variable`: the server's URL; PGSINK_TEST_VECTOR_URL names one with pgvector.
    init(variable: String = "PGSINK_TEST_URL") throws {
        guard let url = ProcessInfo.processInfo.environment[variable], !url.isEmpty else { throw Missing(variable: variable) }
        self.url = url
        self.schema = "t_" + UUID().uuidString.prefix(8).lowercased()
        self.connection = try PGConnection.connect(url)
        try connection.execute("CREATE SCHEMA \(quoteIdentifier(schema))")
    }

    func table(_ name: String) -> TableName { TableName(schema: schema, name: name) }

    /// Writes `content` to a temporary file named `name` and returns its path.
    static func file(_ name: String, _ content: String) throws -> String {
        try file(name, Data(content.utf8))
    }

    static func file(_ name: String, _ data: Data) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgsink-" + UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let url = dir.appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }

    /// Loads `content` as file `name` into `table` of this test's schema.
    @discardableResult
    func load(
        _ content: String, as name: String, into table: String, mode: LoadMode = .append,
        _ configure: (inout LoadRequest) -> Void = { _ in }
    ) throws -> LoadSummary {
        let path = try Self.file(name, content)
        return try load(paths: [path], into: table, mode: mode, configure)
    }

    @discardableResult
    func load(
        paths: [String], into table: String, mode: LoadMode = .append, _ configure: (inout LoadRequest) -> Void = { _ in }
    ) throws -> LoadSummary {
        var request = LoadRequest(inputs: paths, table: self.table(table))
        request.mode = mode
        configure(&request)
        let url = self.url
        return try Loader(request: request).run(on: connection, connect: { try PGConnection.connect(url) })
    }

    /// Rows of a query as text (NULL as nil).
    func rows(_ sql: String) throws -> [[String?]] {
        try connection.query(sql, []).rows
    }

    /// One column of a query, as text.
    func column(_ sql: String) throws -> [String?] {
        try rows(sql).map { $0[0] }
    }

    /// Column name → declared type of a table in this schema.
    func columnTypes(_ table: String) throws -> [String: String] {
        let rows = try connection.query(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2",
            [schema, table]
        ).rows
        return Dictionary(uniqueKeysWithValues: rows.map { ($0[0]!, $0[1]!) })
    }

    func count(_ table: String) throws -> Int {
        Int(try column("SELECT count(*) FROM \(self.table(table).quoted)")[0] ?? "-1") ?? -1
    }

    /// Tables of this schema whose name starts with `prefix`.
    func tables(startingWith prefix: String) throws -> [String] {
        try connection.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 AND starts_with(tablename, $2) ORDER BY 1",
            [schema, prefix]
        ).rows.compactMap { $0[0] }
    }

    func exists(_ table: String) throws -> Bool {
        try column("SELECT to_regclass('\(schema).\(table)') IS NOT NULL")[0] == "t"
    }
}
