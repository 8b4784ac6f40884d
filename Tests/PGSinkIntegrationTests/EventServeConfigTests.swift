import Foundation
import PGSink
import PGSinkCore
import Testing

/// `pgsink serve` from a config file's `events:` section, and its schedule: the exclude window
/// holds scheduled loads, `--once` does not wait for it. (docs/events.md, docs/configuration.md)
@Suite("Event server config", .serialized)
struct EventServeConfigTests {
    /// A YAML double-quoted string.
    static func quoted(_ text: String) -> String {
        "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    @Test func writeKeysNamespaceAndFrequencyComeFromTheConfigFile() throws {
        let db = try TestDatabase()
        let key = "wk_cfg_" + UUID().uuidString.prefix(12).lowercased()
        let namespace = WarehouseNames.namespace(db.schema + "_events")
        let config = try TestDatabase.file("pgsink.yaml", """
            destination:
              url: \(Self.quoted(db.url))
            events:
              listen: "127.0.0.1:0"
              schema: \(db.schema)
              namespace: \(namespace)
              write_keys:
                - {key: \(key), source: web_app}
              sync:
                frequency: 0.5s
            """)
        let server = try EventServeTests.Server(
            ["serve", "--config", config, "--log-level", "debug"], key: key, namespace: namespace)
        defer { _ = try? db.connection.execute("DROP SCHEMA IF EXISTS \(quoteIdentifier(namespace)) CASCADE") }
        var reply = try EventServeTests.request("\(server.url)/v1/track", body: EventServeTests.track("u1"), key: "wk_test_key")
        #expect(reply.status == 401, "only the file's key is known: \(reply)")
        reply = try EventServeTests.request("\(server.url)/v1/track", body: EventServeTests.track("u1"), key: key)
        #expect(reply.status == 200, "\(reply)")
        // Loaded on the file's frequency, into the file's namespace, with no signal.
        let tracks = "\(quoteIdentifier(namespace)).tracks"
        #expect(try ExactlyOnceTests.eventually { (try? db.column("SELECT user_id FROM \(tracks)")) == ["u1"] }, "\(server.log)")
        // Staged in the file's schema.
        #expect(try db.column("SELECT count(*) FROM \(db.table("_pgsink_events").quoted)") == ["0"])
        #expect(InterruptTests.finish(server.process, after: SIGTERM) == 0, "\(server.log)")
        #expect(!server.log.contains(key), "the write key is a secret: \(server.log)")
        // pgsink load reads the same file and passes over its events section.
        let csv = try TestDatabase.file("planets.csv", "name,moons\nMars,2\n")
        let load = try CommandLineTests.run(["load", csv, "--config", config, "--table", "\(db.schema).planets"])
        #expect(load.status == 0, "\(load.stderr)")
        #expect(try db.column("SELECT moons FROM \(db.table("planets").quoted)") == ["2"])
    }

    /// A window around the current UTC minute: no scheduled load runs in it however often the
    /// frequency says, and `--once` loads what it held.
    @Test func anExcludeWindowKeepsStagedEventsUntilOnce() throws {
        let db = try TestDatabase()
        let minute = Int(Date().timeIntervalSince1970 / 60) % 1440
        func clock(_ minutes: Int) -> String {
            let m = (minutes + 1440) % 1440
            return String(format: "%02d:%02d", m / 60, m % 60)
        }
        let window = "\(clock(minute - 1))-\(clock(minute + 3))"
        let server = try EventServeTests.Server(db, ["--sync-frequency", "0.2s", "--exclude-window", window, "--log-level", "info"])
        defer { _ = try? db.connection.execute("DROP SCHEMA IF EXISTS \(quoteIdentifier(server.namespace)) CASCADE") }
        let reply = try EventServeTests.request("\(server.url)/v1/track", body: EventServeTests.track("u1"), key: server.key)
        #expect(reply.status == 200, "\(reply)")
        Thread.sleep(forTimeInterval: 2)
        #expect(try db.column("SELECT count(*) FROM \(db.table("_pgsink_events").quoted)") == ["1"], "\(server.log)")
        #expect(try db.column("SELECT to_regclass('\(server.namespace).tracks') IS NULL") == ["t"], "\(server.log)")
        #expect(server.log.contains("exclude window \(window) UTC: no load until"), "\(server.log)")
        // Killed (a SIGTERM's last load would load it): the event stays staged; --once ignores the window.
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        let once = try CommandLineTests.run(["serve", "--to", db.url, "--schema", db.schema, "--exclude-window", window, "--once"])
        #expect(once.status == 0, "\(once.stderr)")
        #expect(try db.column("SELECT user_id FROM \(quoteIdentifier(server.namespace)).tracks") == ["u1"])
        #expect(try db.column("SELECT count(*) FROM \(db.table("_pgsink_events").quoted)") == ["0"])
    }

    @Test func serveRefusesANilusPipelineAndBadEventKeys() throws {
        let nilus = try TestDatabase.file("nilus.yaml", """
            name: p
            version: v1alpha
            type: nilus
            spec:
              type: batch
              sink:
                address: postgresql://loader@localhost/dw
                options: {dest_table: public.t}
            """)
        var run = try CommandLineTests.run(["serve", "--config", nilus, "--write-key", "k"])
        #expect(run.status == 1 && run.stderr.contains("is a Nilus pipeline (spec.type: batch), which pgsink serve does not run"), "\(run.stderr)")
        let typo = try TestDatabase.file("pgsink.yaml", "events:\n  write_keys: {wk_secret_cli_9: web}\n  sync: {frequncy: 5m}\n")
        run = try CommandLineTests.run(["serve", "--config", typo])
        #expect(run.status == 1 && run.stderr.contains(#"events.sync.frequncy is not a key of this section (did you mean "frequency"?)"#), "\(run.stderr)")
        let bad = try TestDatabase.file("pgsink.yaml", "events:\n  write_keys: [{key: wk_secret_cli_9, source: [x]}]\n")
        run = try CommandLineTests.run(["serve", "--config", bad])
        #expect(run.status == 1 && run.stderr.contains("events.write_keys[0].source must be text"), "\(run.stderr)")
        #expect(!run.stderr.contains("wk_secret_cli_9"), "\(run.stderr)")
        // Without any key, a usage error that says where keys come from.
        let none = try TestDatabase.file("pgsink.yaml", "events:\n  namespace: web\n")
        run = try CommandLineTests.run(["serve", "--config", none])
        #expect(run.status == 2 && run.stderr.contains("or write_keys in the config's events: section"), "\(run.stderr)")
    }
}
