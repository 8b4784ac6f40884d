import Foundation
import Logging
import PGSink
import PGSinkCore
import Testing

/// The services `scripts/test-services` starts: a TLS server and pgbouncer.
struct TestServices {
    let tlsPort: String
    let ca: String
    let wrongCA: String
    let clientCert: String
    let clientKey: String
    let password: String
    let bouncerPort: String

    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "PGSINK_TEST_TLS_PORT / PGSINK_TEST_PGBOUNCER_PORT are not set: run the tests with `make test`, which starts "
                + "the TLS server and pgbouncer (scripts/test-services)"
        }
    }

    init() throws {
        let env = ProcessInfo.processInfo.environment
        guard let tls = env["PGSINK_TEST_TLS_PORT"], let bouncer = env["PGSINK_TEST_PGBOUNCER_PORT"] else { throw Missing() }
        tlsPort = tls
        bouncerPort = bouncer
        ca = env["PGSINK_TEST_TLS_CA"] ?? ""
        wrongCA = env["PGSINK_TEST_TLS_WRONG_CA"] ?? ""
        clientCert = env["PGSINK_TEST_TLS_CLIENT_CERT"] ?? ""
        clientKey = env["PGSINK_TEST_TLS_CLIENT_KEY"] ?? ""
        password = env["PGSINK_TEST_TLS_PASSWORD"] ?? ""
    }

    /// A key=value string for the TLS server.
    func tls(_ extra: String, user: String = "sslonly") -> String {
        "host=localhost hostaddr=127.0.0.1 port=\(tlsPort) user=\(user) dbname=pgsink_test \(extra)"
    }

    static func connect(_ conninfo: String) throws -> PGConnection {
        try Connector(try ConnectionSettings(string: conninfo), logger: Logger(label: "test"), retries: 0).connect()
    }
}

@Suite("Connections: forms, TLS, poolers")
struct ConnectionTests {
    // MARK: forms

    @Test func uriWithPercentEncodedPasswordAndParameters() throws {
        let services = try TestServices()
        let db = try TestDatabase()
        let role = "enc_" + db.schema
        let password = "p@ss w:rd/'x"
        try TLSTestRoles.create(role, password: password, services: services)
        let encoded = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let uri = "postgresql://\(role):\(encoded)@127.0.0.1:\(services.tlsPort)/pgsink_test?sslmode=require&connect_timeout=5&application_name=enc-test"
        let pg = try TestServices.connect(uri)
        #expect(try pg.execute("SELECT current_user").value(0, 0) == role)
        #expect(try pg.execute("SELECT current_setting('application_name')").value(0, 0) == "enc-test")
        #expect(pg.tlsProtocol != nil)
        // libpq's key=value quoting of the same password.
        let quoted = "host=127.0.0.1 port=\(services.tlsPort) user=\(role) dbname=pgsink_test password=\(ConnectionString.quote(password))"
        #expect(try TestServices.connect(quoted).user == role)
    }

    @Test func unixSocketsServicesPassfilesAndTheEnvironment() throws {
        let db = try TestDatabase()
        let env = ProcessInfo.processInfo.environment
        let socket = try #require(env["PGSINK_TEST_SOCKETDIR"])
        let port = try #require(env["PGSINK_TEST_PORT"])
        // host= a socket folder, in a URI with an empty host.
        let uri = try TestServices.connect("postgresql:///pgsink_test?host=\(socket)&port=\(port)&user=pgsink")
        #expect(uri.option("host") == socket)
        // dbname alone over a socket: the OS user is the role, and the TLS server's socket
        // authenticates it by peer (the kernel's word for who is on the other end).
        let services = try TestServices()
        let tlsSocket = try #require(env["PGSINK_TEST_TLS_SOCKETDIR"])
        let admin = try TestServices.connect(services.tls("", user: "pgsink"))
        try admin.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '\(NSUserName())') THEN CREATE ROLE \"\(NSUserName())\" LOGIN; END IF; END $$")
        let peer = try CommandLineTests.run(
            ["check", "--to", "dbname=pgsink_test"],
            environment: ["PGHOST": tlsSocket, "PGPORT": services.tlsPort], removing: ["PGUSER", "PGPASSWORD"])
        #expect(peer.stdout.contains("✓ authenticated: as \(NSUserName()) without a password"), "\(peer.stdout)")
        // The same on the main server, with a load; libpq's environment supplies the rest.
        try db.connection.execute("DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '\(NSUserName())') THEN CREATE ROLE \"\(NSUserName())\" LOGIN; END IF; END $$")
        try db.connection.execute("GRANT ALL ON SCHEMA \(quoteIdentifier(db.schema)) TO \(quoteIdentifier(NSUserName()))")
        let csv = try TestDatabase.file("alone.csv", "a\n1\n")
        let alone = try CommandLineTests.run(
            ["load", csv, "--to", "dbname=pgsink_test", "--table", "\(db.schema).alone", "--quiet"],
            environment: ["PGHOST": socket, "PGPORT": port], removing: ["PGUSER", "PGSINK_URL", "DATABASE_URL"])
        #expect(alone.status == 0, "\(alone.stderr)")
        #expect(try db.count("alone") == 1)
        // A service file and PG* variables with no --to at all.
        let serviceFile = try TestDatabase.file("pg_service.conf", "[pgsinktest]\nhost=\(socket)\nport=\(port)\nuser=pgsink\ndbname=pgsink_test\n")
        let service = try CommandLineTests.run(
            ["load", csv, "--to", "service=pgsinktest", "--table", "\(db.schema).svc", "--quiet"],
            environment: ["PGSERVICEFILE": serviceFile])
        #expect(service.status == 0, "\(service.stderr)")
        let fromEnv = try CommandLineTests.run(
            ["load", csv, "--table", "\(db.schema).env", "--quiet"],
            environment: ["PGHOST": "127.0.0.1", "PGPORT": port, "PGUSER": "pgsink", "PGDATABASE": "pgsink_test"],
            removing: ["PGSINK_URL", "DATABASE_URL"])
        #expect(fromEnv.status == 0, "\(fromEnv.stderr)")
        #expect(try db.count("svc") == 1 && db.count("env") == 1)
    }

    @Test func passfileSuppliesThePassword() throws {
        let services = try TestServices()
        let passfile = try TestDatabase.file("pgpass", "127.0.0.1:\(services.tlsPort):*:pwuser:\(services.password)\n")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: passfile)
        let db = try TestDatabase()
        let csv = try TestDatabase.file("pp.csv", "a\n1\n")
        let run = try CommandLineTests.run(
            ["load", csv, "--to", "host=127.0.0.1 port=\(services.tlsPort) user=pwuser dbname=pgsink_test", "--table", "public.\(db.schema)_pp", "--quiet"],
            environment: ["PGPASSFILE": passfile], removing: ["PGPASSWORD"])
        #expect(run.status == 0, "\(run.stderr)")
        let tls = try TestServices.connect(services.tls("", user: "pgsink"))
        #expect(try tls.execute("SELECT count(*) FROM public.\(quoteIdentifier(db.schema + "_pp"))").value(0, 0) == "1")
    }

    @Test func searchPathInTheURISetsTheTargetSchema() throws {
        let db = try TestDatabase()
        let csv = try TestDatabase.file("sp.csv", "a\n1\n")
        let run = try CommandLineTests.run(["load", csv, "--to", db.url + "?search_path=\(db.schema)&sslmode=disable", "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.count("sp") == 1)
        // --schema still wins.
        let other = try CommandLineTests.run(["load", csv, "--to", db.url + "?search_path=nowhere", "--schema", db.schema, "--table", "sp2", "--quiet"])
        #expect(other.status == 0, "\(other.stderr)")
        #expect(try db.count("sp2") == 1)
    }

    @Test func badStringsAreExplainedWithoutThePassword() throws {
        let bad = try CommandLineTests.run(["load", "/etc/hostname", "--to", "host=h password=hunter2x dbname"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("not valid"), "\(bad.stderr)")
        #expect(!bad.stderr.contains("hunter2x"))
        let uri = try CommandLineTests.run(["load", "/etc/hostname", "--to", "postgresql://u:hunter2x@127.0.0.1:1/db?bogus=1"])
        #expect(uri.status == 1)
        #expect(uri.stderr.contains("bogus"), "\(uri.stderr)")
        #expect(!uri.stderr.contains("hunter2x"))
        // A permanent failure is not retried.
        let services = try TestServices()
        let wrong = try CommandLineTests.run([
            "load", "/etc/hostname", "--format", "csv", "--to", "postgresql://pwuser:hunter2x@127.0.0.1:\(services.tlsPort)/pgsink_test",
        ])
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("password authentication failed"), "\(wrong.stderr)")
        #expect(!wrong.stderr.contains("retrying") && !wrong.stderr.contains("hunter2x"))
        let refused = try CommandLineTests.run(["load", "/etc/hostname", "--connect-retries", "0", "--to", "postgresql://u:hunter2x@127.0.0.1:1/db"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("Connection refused"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("hunter2x"))
    }

    // MARK: TLS

    @Test(arguments: ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"])
    func sslmode(_ mode: String) throws {
        let services = try TestServices()
        let conninfo = services.tls("sslmode=\(mode) sslrootcert=\(services.ca) password=\(services.password)")
        if mode == "disable" {
            // sslonly may not connect without TLS: disable means no TLS at all.
            #expect { try TestServices.connect(conninfo) } throws: { "\($0)".contains("no encryption") }
            return
        }
        // allow tries without TLS first, is refused, and retries with it.
        let pg = try TestServices.connect(conninfo)
        #expect(pg.tlsProtocol?.hasPrefix("TLS") == true, "sslmode=\(mode) must end up encrypted")
        #expect(pg.option("sslmode") == mode)
        #expect(try pg.execute("SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()").value(0, 0) == "true")
    }

    @Test func verificationFailuresAndClientCertificates() throws {
        let services = try TestServices()
        let wrongCA = services.tls("sslmode=verify-ca sslrootcert=\(services.wrongCA) password=\(services.password)")
        #expect { try TestServices.connect(wrongCA) } throws: { "\($0)".contains("certificate verify failed") }
        // require with the wrong CA given still verifies the chain (libpq: a root certificate makes require verify).
        let wrongHost = "host=other.invalid hostaddr=127.0.0.1 port=\(services.tlsPort) user=sslonly dbname=pgsink_test "
            + "sslmode=verify-full sslrootcert=\(services.ca) password=\(services.password)"
        #expect { try TestServices.connect(wrongHost) } throws: { "\($0)".contains("does not match host name") }
        // verify-ca does not check the host name.
        let caOnly = wrongHost.replacingOccurrences(of: "verify-full", with: "verify-ca")
        #expect(try TestServices.connect(caOnly).tlsProtocol != nil)
        let cert = try TestServices.connect(services.tls(
            "sslmode=verify-full sslrootcert=\(services.ca) sslcert=\(services.clientCert) sslkey=\(services.clientKey)",
            user: "certuser"))
        #expect(try cert.execute("SELECT current_user").value(0, 0) == "certuser")
        #expect(!cert.usedPassword)
        #expect { try TestServices.connect(services.tls("sslmode=verify-full sslrootcert=\(services.ca)", user: "certuser")) } throws: { _ in true }
    }

    @Test func inlinePEMInTheConfigFileGoesToPrivateTemporaryFiles() throws {
        let services = try TestServices()
        let ca = try String(contentsOfFile: services.ca, encoding: .utf8)
        let cert = try String(contentsOfFile: services.clientCert, encoding: .utf8)
        let key = try String(contentsOfFile: services.clientKey, encoding: .utf8)
        func indent(_ pem: String) -> String { pem.split(separator: "\n").map { "    " + $0 }.joined(separator: "\n") }
        let yaml = """
            destination:
              host: localhost
              hostaddr: 127.0.0.1
              port: \(services.tlsPort)
              database: pgsink_test
              username: certuser
              sslmode: verify-full
              ssl_root_cert: |
            \(indent(ca))
              client_certificate: |
            \(indent(cert))
              client_key: |
            \(indent(key))
              dest_table: pem_\(UUID().uuidString.prefix(6).lowercased()).inline
              write_mode: replace
            """
        let config = try TestDatabase.file("pgsink.yaml", yaml)
        let parsed = try #require(try DestinationConfig.load(config: config, secrets: []))
        let settings = try #require(parsed.connection)
        #expect(settings.temporaryFiles.count == 3)
        for file in settings.temporaryFiles {
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            #expect(mode == 0o600)
        }
        let connector = Connector(settings, logger: Logger(label: "test"), retries: 0)
        #expect(try connector.connect().user == "certuser")
        connector.close()
        for file in settings.temporaryFiles { #expect(!FileManager.default.fileExists(atPath: file)) }
        // The command line does the same, and the key never reaches the output.
        let csv = try TestDatabase.file("inline.csv", "a\n1\n")
        let run = try CommandLineTests.run(["load", csv, "--config", config, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stdout.contains("PRIVATE KEY") && !run.stderr.contains("PRIVATE KEY"))
        #expect(run.stdout.contains(#""mode":"replace""#))
    }

    // MARK: SSH

    @Test func loadsThroughAnSSHTunnelFromTheConfigFileAndRefusesAWrongHostKey() throws {
        let env = ProcessInfo.processInfo.environment
        guard let sshPort = env["PGSINK_TEST_SSH_PORT"], let key = env["PGSINK_TEST_SSH_KEY_ED25519"],
            let knownHosts = env["PGSINK_TEST_SSH_KNOWN_HOSTS"], let wrong = env["PGSINK_TEST_SSH_KNOWN_HOSTS_WRONG"],
            let user = env["PGSINK_TEST_SSH_USER"]
        else { throw SSHMissing() }
        let db = try TestDatabase()
        let (_, port, dbUser, database) = try ConfigFileTests.endpoint(db)
        func config(_ hosts: String) throws -> String {
            try TestDatabase.file("pgsink.yaml", """
                destination:
                  host: 127.0.0.1
                  port: \(port)
                  database: \(database)
                  username: \(dbUser)
                  schema: \(db.schema)
                  ssh:
                    host: 127.0.0.1
                    port: \(sshPort)
                    user: \(user)
                    private_key: \(key)
                    known_hosts: \(hosts)
                """)
        }
        let csv = try TestDatabase.file("tunneled.csv", "id\n1\n2\n3\n")
        let run = try CommandLineTests.run(["load", csv, "--config", try config(knownHosts), "--jobs", "2", "--log-level", "info"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("SSH tunnel to 127.0.0.1:\(port)"), "\(run.stderr)")
        #expect(try db.count("tunneled") == 3)
        let refused = try CommandLineTests.run(["load", csv, "--config", try config(wrong), "--table", "nope"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("does not match known_hosts"), "\(refused.stderr)")
        #expect(try !db.exists("nope"))
        // pgsink check says the same, with what to do.
        let check = try CommandLineTests.run(["check", "--config", try config(wrong)])
        #expect(check.status == 1)
        #expect(check.stdout.contains("✗ SSH tunnel"), "\(check.stdout)")
    }

    struct SSHMissing: Error, CustomStringConvertible {
        var description: String { "PGSINK_TEST_SSH_* is not set: run the tests with `make test`, which starts a test sshd" }
    }

    // MARK: retries

    @Test func aLoadWhoseConnectionIsKilledIsRetriedAndCommitsOnce() throws {
        let db = try TestDatabase()
        let rows = 300_000
        let csv = try TestDatabase.file("killed.csv", (["id,v"] + (1...rows).map { "\($0),value-\($0)" }).joined(separator: "\n") + "\n")
        let application = "retry-" + db.schema
        let (process, errorPath) = try Self.startPGSink([
            "load", csv, "--to", db.url + "?application_name=\(application)", "--schema", db.schema, "--batch-rows", "2000",
            "--quiet",
        ])
        // Terminate the load's backend once, while it copies.
        var killed = false
        let deadline = Date().addingTimeInterval(30)
        while !killed && process.isRunning && Date() < deadline {
            let result = try db.connection.query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query ILIKE 'copy%'",
                [application])
            killed = result.rows.contains { $0.first == "t" }
            if !killed { Thread.sleep(forTimeInterval: 0.005) }
        }
        process.waitUntilExit()
        let stderr = String(decoding: FileManager.default.contents(atPath: errorPath) ?? Data(), as: UTF8.self)
        #expect(killed, "the load finished before it could be interrupted")
        #expect(process.terminationStatus == 0, "\(stderr)")
        #expect(stderr.contains("retrying the load"), "\(stderr)")
        #expect(try db.count("killed") == rows)
        #expect(try db.rows("SELECT count(*)::text FROM \(db.schema)._pgsink_loads") == [["1"]])
    }

    @Test func theLedgerTellsWhetherARunCommitted() throws {
        let db = try TestDatabase()
        let run = UUID().uuidString
        try db.load("a\n1\n2\n", as: "ran.csv", into: "ran") { $0.runId = run }
        let committed = try #require(try Loader.committedLoad(runId: run, schema: db.schema, on: db.connection))
        #expect(committed.rows == 2)
        #expect(try Loader.committedLoad(runId: UUID().uuidString, schema: db.schema, on: db.connection) == nil)
        #expect(try Loader.committedLoad(runId: run, schema: "no_such_schema_\(db.schema)", on: db.connection) == nil)
        // A ledger made before run ids gets the column without losing its rows.
        try db.connection.execute("ALTER TABLE \(db.schema)._pgsink_loads DROP COLUMN run_id")
        try db.load("a\n3\n", as: "ran2.csv", into: "ran2") { $0.runId = run + "-2" }
        #expect(try Loader.committedLoad(runId: run + "-2", schema: db.schema, on: db.connection)?.rows == 1)
        #expect(try db.rows("SELECT count(*)::text FROM \(db.schema)._pgsink_loads") == [["2"]])
    }

    @Test func aConnectionRefusedWhileTheServerStartsIsRetried() throws {
        let env = ProcessInfo.processInfo.environment
        let bindir = try #require(env["PGSINK_TEST_BINDIR"])
        let db = try TestDatabase()
        // A cluster of its own that starts a little after pgsink begins to connect.
        let directory = URL(fileURLWithPath: "/tmp/pgsink-retry-" + db.schema)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer {
            _ = try? Self.shell(["\(bindir)/pg_ctl", "-D", directory.path + "/data", "-m", "immediate", "-w", "stop"], asPostgres: true)
            try? FileManager.default.removeItem(at: directory)
        }
        try Self.shell(["chown", "postgres:", directory.path], asPostgres: false)
        try Self.shell(["\(bindir)/initdb", "-D", directory.path + "/data", "-U", "pgsink", "-A", "trust", "--no-sync"], asPostgres: true)
        let port = try Self.freePort()
        let csv = try TestDatabase.file("late.csv", "a\n1\n")
        let (process, errorPath) = try Self.startPGSink([
            "load", csv, "--to", "postgresql://pgsink@127.0.0.1:\(port)/postgres", "--connect-retries", "8", "--quiet",
        ])
        Thread.sleep(forTimeInterval: 0.6)
        try Self.shell(
            ["\(bindir)/pg_ctl", "-w", "-D", directory.path + "/data", "-l", directory.path + "/log", "-o",
             "-c listen_addresses=127.0.0.1 -p \(port) -k \(directory.path)", "start"], asPostgres: true)
        process.waitUntilExit()
        let stderr = String(decoding: FileManager.default.contents(atPath: errorPath) ?? Data(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(stderr)")
        #expect(stderr.contains("retrying in"), "\(stderr)")
        let late = try PGConnection.connect("postgresql://pgsink@127.0.0.1:\(port)/postgres")
        #expect(try late.execute("SELECT count(*) FROM public.late").value(0, 0) == "1")
    }

    /// Runs a command to its end with posix_spawn and waitpid: Foundation's Process sometimes
    /// misses the exit of a program (pg_ctl) whose child lives on. Signals are unblocked in the
    /// child, since test threads block them.
    @discardableResult
    static func shell(_ arguments: [String], asPostgres: Bool) throws -> Int32 {
        let argv = (asPostgres && getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []) + arguments
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, argv[0], &actions, &attributes, &cArgs, environ)
        guard spawned == 0 else { throw LoadError("cannot run \(argv[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        return (status >> 8) & 0xff
    }

    /// Starts pgsink in the background, its stderr going to the returned file.
    static func startPGSink(_ arguments: [String]) throws -> (Process, String) {
        let process = Process()
        process.executableURL = CommandLineTests.executable
        process.arguments = arguments
        let errorPath = try TestDatabase.file("stderr.log", "")
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        try process.run()
        return (process, errorPath)
    }

    static func freePort() throws -> Int {
        let bound = boundSocket(listening: false)
        close(bound.fd)
        return bound.port
    }

    /// A TCP socket on 127.0.0.1 with a port the kernel picked; listening (accepting connections
    /// and never answering them) when asked. The caller closes it.
    static func boundSocket(listening: Bool) -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        if listening { _ = listen(fd, 4) }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    // MARK: pgbouncer

    @Test func everyModeWorksThroughPgBouncerInTransactionPooling() throws {
        let services = try TestServices()
        let db = try TestDatabase()
        let bouncer = "postgresql://pgsink@127.0.0.1:\(services.bouncerPort)/pgsink_test"
        let csv = try TestDatabase.file("pooled.csv", (["id,v"] + (1...3000).map { "\($0),v\($0)" }).joined(separator: "\n") + "\n")
        let changed = try TestDatabase.file("pooled.csv", (["id,v"] + (2000...4000).map { "\($0),w\($0)" }).joined(separator: "\n") + "\n")
        // Four loads at once, more clients than the pool's two server connections, so server
        // sessions really are shared; all four also create the schema's ledger at the same moment.
        let loads = [
            ["load", csv, "--schema", db.schema, "--table", "a", "--batch-rows", "500"],
            ["load", csv, "--schema", db.schema, "--table", "r", "--mode", "replace"],
            ["load", csv, "--schema", db.schema, "--table", "m", "--mode", "merge", "--primary-key", "id", "--batch-rows", "700"],
            ["load", csv, "--schema", db.schema, "--table", "j", "--jobs", "2", "--batch-rows", "500"],
        ]
        let results = Results(count: loads.count)
        DispatchQueue.concurrentPerform(iterations: loads.count) { i in
            results.set(i, Result { try CommandLineTests.run(loads[i] + ["--to", bouncer, "--quiet"]) })
        }
        for result in results.all { #expect(try result.get().status == 0, "\((try? result.get().stderr) ?? "")") }
        let again = try [
            ["load", changed, "--schema", db.schema, "--table", "r", "--mode", "replace"],
            ["load", changed, "--schema", db.schema, "--table", "m", "--mode", "merge", "--primary-key", "id", "--batch-rows", "700"],
        ].map { args in try CommandLineTests.run(args + ["--to", bouncer, "--quiet"]) }
        for run in again { #expect(run.status == 0, "\(run.stderr)") }
        #expect(try db.count("a") == 3000)
        #expect(try db.count("j") == 3000)
        #expect(try db.count("r") == 2001)
        #expect(try db.count("m") == 4000)
        #expect(try db.rows("SELECT v FROM \(db.table("m").quoted) WHERE id IN (1999, 2000) ORDER BY id") == [["v1999"], ["w2000"]])
    }
}

extension ConnectionTests {
    @Test func aSingerStreamThroughPgBouncerMergesAndEmitsItsStates() throws {
        let services = try TestServices()
        let db = try TestDatabase()
        let bouncer = "postgresql://pgsink@127.0.0.1:\(services.bouncerPort)/pgsink_test"
        let settings = try TestDatabase.file(
            "target.json", try JSONSerialization.data(withJSONObject: ["default_target_schema": db.schema, "batch_size_rows": 2]))
        let lines = [
            SingerTests.schema("pooled", #""id":{"type":"integer"},"v":{"type":"string"}"#),
            SingerTests.record("pooled", #"{"id":1,"v":"a"}"#), SingerTests.record("pooled", #"{"id":2,"v":"b"}"#),
            #"{"type":"STATE","value":{"at":2}}"#,
            SingerTests.record("pooled", #"{"id":1,"v":"c"}"#), SingerTests.record("pooled", #"{"id":3,"v":"d"}"#),
            #"{"type":"STATE","value":{"at":4}}"#,
        ]
        let run = try CommandLineTests.run(
            ["singer", "--config", settings, "--to", bouncer], stdin: lines.joined(separator: "\n") + "\n")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "{\"at\":2}\n{\"at\":4}\n")
        #expect(try db.rows("SELECT id::text, v FROM \(db.table("pooled").quoted) t ORDER BY t.id") == [["1", "c"], ["2", "b"], ["3", "d"]])
    }
}

/// Results written by concurrent workers.
final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Result<CommandLineTests.Run, Error>?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: Result<CommandLineTests.Run, Error>) {
        lock.lock()
        values[i] = value
        lock.unlock()
    }
    var all: [Result<CommandLineTests.Run, Error>] { values.compactMap { $0 } }
}

/// Roles on the TLS server, made by the trusted superuser.
enum TLSTestRoles {
    static func create(_ role: String, password: String, services: TestServices) throws {
        let admin = try TestServices.connect(services.tls("", user: "pgsink"))
        try admin.query("SELECT set_config('pgsink.pw', $1, false)", [password])
        try admin.execute("""
            DO $$ BEGIN EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', '\(role)', current_setting('pgsink.pw')); END $$
            """)
    }
}
