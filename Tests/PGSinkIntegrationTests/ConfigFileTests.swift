import Foundation
import PGSink
import PGSinkCore
import Testing

/// `pgsink.yaml`, secrets files, `${VAR}`, and the peers' field names.
@Suite("Config files")
struct ConfigFileTests {
    static func endpoint(_ db: TestDatabase) throws -> (host: String, port: Int, user: String, database: String) {
        let url = try #require(URLComponents(string: db.url))
        return (url.host ?? "127.0.0.1", url.port ?? 5432, url.user ?? "pgsink", String(url.path.dropFirst()))
    }

    @Test func aYAMLDestinationSectionLoadsWithItsOptions() throws {
        let db = try TestDatabase()
        let (host, port, user, database) = try Self.endpoint(db)
        let dir = try TestDatabase.file("x", "").replacingOccurrences(of: "/x", with: "")
        let yaml = """
            # Nilus and Mage spellings
            destination:
              host: \(host)
              port: ${PGSINK_TEST_CFG_PORT}
              database: \(database)
              username: ${PGSINK_TEST_CFG_USER:-nobody}
              password: ${PGSINK_TEST_CFG_PASSWORD}
              dest_table: \(db.schema).Orders
              incremental_strategy: merge
              primary_key: [id]
              batch_size: 2
              lower_case: false
              create_indexes: false
            """
        try yaml.write(toFile: dir + "/pgsink.yaml", atomically: true, encoding: .utf8)
        let csv = try TestDatabase.file("orders.csv", "id,Amount\n1,10\n2,20\n1,11\n")
        let run = try CommandLineTests.run(
            ["load", csv, "--json"],
            environment: ["PGSINK_TEST_CFG_PORT": String(port), "PGSINK_TEST_CFG_USER": user, "PGSINK_TEST_CFG_PASSWORD": "unused-pw-55"],
            removing: ["PGSINK_URL", "DATABASE_URL"], in: URL(fileURLWithPath: dir))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains(#""mode":"merge""#))
        #expect(!run.stdout.contains("unused-pw-55"))
        #expect(try db.rows(#"SELECT id::text, "Amount"::text FROM \#(db.schema)."Orders" ORDER BY id"#) == [["1", "11"], ["2", "20"]])
        // A flag wins over the file.
        let more = try TestDatabase.file("orders.csv", "id,Amount\n3,30\n4,40\n")
        let append = try CommandLineTests.run(
            ["load", more, "--mode", "append", "--quiet"],
            environment: ["PGSINK_TEST_CFG_PORT": String(port), "PGSINK_TEST_CFG_PASSWORD": "x", "PGSINK_TEST_CFG_USER": user],
            in: URL(fileURLWithPath: dir))
        #expect(append.status == 0, "\(append.stderr)")
        #expect(try db.rows(#"SELECT count(*)::text FROM \#(db.schema)."Orders""#) == [["4"]])
    }

    @Test func aMissingVariableAndAnUnknownKeyAreNamed() throws {
        let missing = try TestDatabase.file("pgsink.yaml", "destination:\n  password: ${PGSINK_NOT_SET_ANYWHERE}\n")
        let run = try CommandLineTests.run(["load", "/etc/hostname", "--config", missing])
        #expect(run.status == 1)
        #expect(run.stderr.contains("destination.password uses ${PGSINK_NOT_SET_ANYWHERE}"), "\(run.stderr)")
        let typo = try TestDatabase.file("pgsink.yaml", "destination:\n  hots: db\n  batch_sise: 10\n")
        let unknown = try CommandLineTests.run(["load", "/etc/hostname", "--config", typo])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains(#"unknown key "batch_sise" (did you mean "batch_size"?)"#), "\(unknown.stderr)")
        let top = try TestDatabase.file("pgsink.yaml", "destinaton:\n  host: db\n")
        #expect(try CommandLineTests.run(["load", "/etc/hostname", "--config", top]).stderr.contains(#"unknown top-level key "destinaton""#))
        let badMode = try TestDatabase.file("pgsink.yaml", "destination:\n  sslmode: verify\n")
        #expect(try CommandLineTests.run(["load", "/etc/hostname", "--config", badMode]).stderr.contains("verify-full"))
    }

    @Test func dltSecretsTOMLIsMergedIn() throws {
        let db = try TestDatabase()
        let (host, port, user, database) = try Self.endpoint(db)
        let secrets = try TestDatabase.file("secrets.toml", """
            [destination.postgres.credentials]
            database = "\(database)"
            username = "\(user)"
            password = "toml-secret-31"
            host = "\(host)"
            port = \(port)
            connect_timeout = 15
            """)
        let config = try TestDatabase.file("pgsink.yaml", "destination:\n  schema: \(db.schema)\n  write_disposition: replace\n")
        let csv = try TestDatabase.file("dlt.csv", "a\n1\n2\n")
        let run = try CommandLineTests.run(["load", csv, "--config", config, "--secrets", secrets, "--log-level", "debug"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("logs may contain data values"))
        #expect(!run.stderr.contains("toml-secret-31") && !run.stdout.contains("toml-secret-31"))
        #expect(try db.count("dlt") == 2)
        // The connection-string form of the same file.
        let string = try TestDatabase.file(
            "secrets.toml", #"destination.postgres.credentials = "\#(db.url)?connect_timeout=15&search_path=\#(db.schema)""#)
        let second = try CommandLineTests.run(["load", csv, "--secrets", string, "--table", "dlt2", "--quiet"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try db.count("dlt2") == 2)
    }

    @Test func fieldNamesOfEveryPeerMapOntoLibpq() throws {
        let fields: [String: Any] = [
            "hostname": "db.internal", "port": 5433, "db": "dw", "user": "loader", "password": "pw-abc",
            "namespace": "raw", "ssl_mode": "verify-ca", "connect_timeout": 7, "application_name": "etl",
        ]
        let settings = try ConnectionSettings(fields: fields, where: "test")
        let options = try settings.effectiveOptions()
        #expect(options["host"] == "db.internal")
        #expect(options["port"] == "5433")
        #expect(options["dbname"] == "dw")
        #expect(options["user"] == "loader")
        #expect(options["sslmode"] == "verify-ca")
        #expect(options["connect_timeout"] == "7")
        #expect(settings.schema == "raw")
        #expect(Secrets.redact("failed for pw-abc") == "failed for ***")
        // CloudQuery's connection_string with search_path; SQLAlchemy's driver suffix.
        let cloudquery = try ConnectionSettings(
            fields: ["connection_string": "postgres://u:p@localhost:5432/mydb?sslmode=disable&search_path=myschema&connect_timeout=5"],
            where: "test")
        #expect(cloudquery.schema == "myschema")
        #expect(try cloudquery.effectiveOptions()["connect_timeout"] == "5")
        let sqlalchemy = try ConnectionSettings(fields: ["url": "postgresql+psycopg2://u@h/db"], where: "test")
        #expect(sqlalchemy.base == "postgresql://u@h/db")
        // Airbyte's ssl_mode object and RudderStack's inline certificates.
        let airbyte = try ConnectionSettings(fields: ["ssl_mode": ["mode": "verify-full", "ca_certificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"]], where: "test")
        let ca = try #require(try airbyte.effectiveOptions()["sslrootcert"])
        #expect(FileManager.default.fileExists(atPath: ca))
        try FileManager.default.removeItem(atPath: ca)
        #expect(throws: ConnectionError.self) { try ConnectionSettings(fields: ["sslmode": "strict"], where: "test") }
    }

    /// `PGSINK_<KEY>` gives any load option, below the file and the flags.
    @Test func theEnvironmentGivesOptionsBelowTheFileAndTheFlags() throws {
        let db = try TestDatabase()
        let config = try TestDatabase.file("pgsink.yaml", "destination:\n  metadata: true\n")
        let csv = try TestDatabase.file("env.csv", "id\n1\n")
        let environment = ["PGSINK_TABLE": "from_env", "PGSINK_METADATA": "false", "PGSINK_WRITE_MODE": "replace"]
        for _ in 0..<2 {
            let run = try CommandLineTests.run(
                ["load", csv, "--config", config, "--to", db.url, "--schema", db.schema, "--quiet"], environment: environment)
            #expect(run.status == 0, "\(run.stderr)")
        }
        #expect(try db.count("from_env") == 1, "replace, from PGSINK_WRITE_MODE")
        #expect(try db.columnTypes("from_env")["_pgsink_load_id"] == "bigint", "the file's metadata: true beats PGSINK_METADATA")
        let flagged = try CommandLineTests.run(
            ["load", csv, "--to", db.url, "--schema", db.schema, "--table", "from_flag", "--quiet"], environment: environment)
        #expect(flagged.status == 0, "\(flagged.stderr)")
        #expect(try db.count("from_flag") == 1)
        #expect(try db.columnTypes("from_flag")["_pgsink_load_id"] == nil)
        let bad = try CommandLineTests.run(
            ["load", csv, "--to", db.url, "--schema", db.schema], environment: ["PGSINK_BATCH_SIZE": "lots"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("environment: PGSINK_BATCH_SIZE must be a whole number"), "\(bad.stderr)")
        #expect(try !db.exists("env"))
    }

    @Test func secretsAreMaskedInEveryForm() {
        Secrets.register("hunter2-long")
        #expect(Secrets.redact("password=hunter2-long here") == "password=*** here")
        #expect(Secrets.redact("postgresql://u:other-pw@h/db") == "postgresql://u:***@h/db")
        #expect(Secrets.redact("x password='a b' y") == "x password=*** y")
        #expect(ConnectionString.redacted("host=h password=zz9zz user=u") == "host=h password=*** user=u")
    }
}

@Suite("Server versions")
struct ServerVersionTests {
    @Test(arguments: [(110022, "PostgreSQL 11"), (90624, "PostgreSQL 9.6")])
    func olderThan12IsRefused(_ version: Int, _ named: String) {
        #expect { try Connector.checkVersion(version) } throws: { "\($0)".contains(named) && "\($0)".contains("12 or newer") }
    }

    @Test func twelveAndNewerAreAccepted() throws {
        for version in [120000, 150018, 180006] { try Connector.checkVersion(version) }
        let db = try TestDatabase()
        #expect(db.connection.serverVersion >= Connector.minimumServerVersion)
    }

    /// A file that names no server (only a schema and options) leaves the server to the
    /// environment: PGSINK_URL is used, with the file's schema.
    @Test func aFileWithOnlyASchemaUsesTheEnvironmentsServer() throws {
        let db = try TestDatabase()
        let dir = try TestDatabase.file("x", "").replacingOccurrences(of: "/x", with: "")
        try "destination:\n  schema: \(db.schema)\n  write_mode: append\n".write(
            toFile: dir + "/pgsink.yaml", atomically: true, encoding: .utf8)
        let csv = try TestDatabase.file("only_schema.csv", "id\n1\n")
        let run = try CommandLineTests.run(
            ["load", csv], environment: ["PGSINK_URL": db.url], removing: ["DATABASE_URL"], in: URL(fileURLWithPath: dir))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.count("only_schema") == 1)
    }

    /// A flag always beats the file: an on/off flag switches off what the file switched on, and a
    /// `--to` URI's search_path beats the file's schema.
    @Test func flagsBeatTheFileEvenToSwitchSomethingOff() throws {
        let db = try TestDatabase()
        try db.connection.execute("CREATE SCHEMA \(quoteIdentifier(db.schema + "_file"))")
        let (host, port, user, database) = try ConfigFileTests.endpoint(db)
        let config = try TestDatabase.file(
            "pgsink.yaml",
            """
            destination:
              host: \(host)
              port: \(port)
              database: \(database)
              username: \(user)
              schema: \(db.schema)_file
              metadata: true
              lower_case: false
              create_performance_indexes: true
              delete_stale: true
            """)
        let csv = try TestDatabase.file("Rows.csv", "Id,Name\n1,a\n")
        let separator = db.url.contains("?") ? "&" : "?"
        let run = try CommandLineTests.run([
            "load", csv, "--config", config, "--to", db.url + separator + "search_path=" + db.schema, "--no-metadata",
            "--lower-case", "--no-delete-stale", "--no-performance-indexes",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.exists("rows"))
        #expect(try db.column("SELECT to_regclass('\(db.schema)_file.rows')::text")[0] == nil)
        #expect(Set(try db.columnTypes("rows").keys) == ["id", "name"])
        // And the file's value holds where no flag says otherwise.
        let kept = try CommandLineTests.run(["load", csv, "--config", config, "--to", db.url, "--table", "kept"])
        #expect(kept.status == 0, "\(kept.stderr)")
        let columns = try db.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = '\(db.schema)_file' AND table_name = 'kept'"
        ).compactMap { $0[0] }
        #expect(Set(columns) == ["Id", "Name", "_pgsink_load_id", "_pgsink_loaded_at", "_pgsink_source", "_pgsink_synced_at"])
        try db.connection.execute("DROP SCHEMA \(quoteIdentifier(db.schema + "_file")) CASCADE")
    }
}
