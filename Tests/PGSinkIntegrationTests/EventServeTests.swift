import Foundation
import PGSink
import PGSinkCore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `pgsink serve` against real clients: RudderStack's and Segment's Python SDKs, and plain HTTP
/// for the contract (auth, limits, validation, CORS, health, metrics), durability (kill -9 after
/// a 200) and SIGTERM. (docs/events.md)
@Suite("Event server", .serialized)
struct EventServeTests {
    /// A running `pgsink serve` on a free loopback port.
    final class Server {
        let process: Process
        let errors: String
        let port: Int
        let namespace: String
        let key: String

        convenience init(_ db: TestDatabase, _ extra: [String] = []) throws {
            try self.init(
                ["serve", "--to", db.url, "--write-key", "wk_test_key=\(db.schema)", "--listen", "127.0.0.1:0", "--schema", db.schema]
                    + extra,
                key: "wk_test_key", namespace: WarehouseNames.namespace(db.schema))
        }

        /// `pgsink` with `arguments`; `key` and `namespace` are what they give.
        init(_ arguments: [String], key: String, namespace: String) throws {
            self.key = key
            self.namespace = namespace
            let (process, _, errors) = try InterruptTests.start(arguments)
            self.process = process
            self.errors = errors
            var port = 0
            let deadline = Date().addingTimeInterval(20)
            while port == 0 && Date() < deadline && process.isRunning {
                let text = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
                if let range = text.range(of: "listening on http://127.0.0.1:") {
                    port = Int(text[range.upperBound...].prefix { $0.isNumber }) ?? 0
                }
                if port == 0 { Thread.sleep(forTimeInterval: 0.05) }
            }
            self.port = port
            if port == 0 {
                let text = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
                process.terminate()
                throw LoadError("pgsink serve did not start: \(text)")
            }
        }

        var url: String { "http://127.0.0.1:\(port)" }
        var log: String { (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "" }

        deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
    }

    struct Reply {
        var status: Int
        var body: String
        var headers: [String: String]
    }

    /// One HTTP request, waited for.
    static func request(
        _ url: String, method: String = "POST", body: Data? = nil, key: String? = nil, headers: [String: String] = [:]
    ) throws -> Reply {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        request.httpBody = body
        request.timeoutInterval = 30
        if body != nil { request.setValue("application/json", forHTTPHeaderField: "Content-Type") }
        if let key { request.setValue("Basic " + Data((key + ":").utf8).base64EncodedString(), forHTTPHeaderField: "Authorization") }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        final class Box: @unchecked Sendable { var reply: Reply?; var error: Error? }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let response = response as? HTTPURLResponse {
                var headers: [String: String] = [:]
                for (name, value) in response.allHeaderFields { headers[String(describing: name).lowercased()] = String(describing: value) }
                box.reply = Reply(status: response.statusCode, body: String(decoding: data ?? Data(), as: UTF8.self), headers: headers)
            }
            box.error = error
            done.signal()
        }.resume()
        done.wait()
        if let reply = box.reply { return reply }
        throw box.error ?? LoadError("no reply from \(url)")
    }

    static func track(_ user: String, _ event: String = "Order Completed", extra: String = "") -> Data {
        Data(#"{"userId":"\#(user)","event":"\#(event)","properties":{"total":12.5,"items":2\#(extra)}}"#.utf8)
    }

    @Test func theHTTPContractIsRudderStacks() throws {
        let db = try TestDatabase()
        let server = try Server(db, ["--sync-frequency", "1h"])
        let track = "\(server.url)/v1/track"
        var reply = try Self.request(track, body: Self.track("u1"))
        #expect(reply.status == 401 && reply.body == "failed to read writekey from header", "\(reply)")
        reply = try Self.request(track, body: Self.track("u1"), key: "nope")
        #expect(reply.status == 401 && reply.body == "invalid write key", "\(reply)")
        reply = try Self.request(track, body: Data("{not json".utf8), key: server.key)
        #expect(reply.status == 400 && reply.body == "invalid json", "\(reply)")
        reply = try Self.request(track, body: Data(#"{"event":"x"}"#.utf8), key: server.key)
        #expect(reply.status == 400 && reply.body == "request neither has anonymousId nor userId", "\(reply)")
        reply = try Self.request("\(server.url)/v1/batch", body: Data(#"{"batch":[]}"#.utf8), key: server.key)
        #expect(reply.status == 400, "\(reply)")
        var big = Data(#"{"userId":"u","event":"e","properties":{"blob":""#.utf8)
        big.append(Data(repeating: UInt8(ascii: "x"), count: EventServerSettings.maxBody))
        big.append(Data(#""}}"#.utf8))
        reply = try Self.request(track, body: big, key: server.key)
        #expect(reply.status == 413, "\(reply.status)")
        reply = try Self.request(track, body: Self.track("u1"), key: server.key)
        #expect(reply.status == 200 && reply.body == "OK", "\(reply)")
        // CORS, as RudderStack: any origin, with credentials.
        reply = try Self.request(
            track, method: "OPTIONS", headers: ["Origin": "https://shop.example", "Access-Control-Request-Method": "POST"])
        #expect(reply.headers["access-control-allow-origin"] == "https://shop.example", "\(reply.headers)")
        #expect(reply.headers["access-control-allow-credentials"] == "true", "\(reply.headers)")
        reply = try Self.request("\(server.url)/health", method: "GET")
        #expect(reply.status == 200 && reply.body.contains("UP"))
        reply = try Self.request("\(server.url)/version", method: "GET")
        #expect(reply.status == 200 && reply.body.contains("\"version\""))
        reply = try Self.request("\(server.url)/metrics", method: "GET")
        #expect(reply.body.contains("pgsink_events_received_total 1\n"), "\(reply.body)")
        #expect(reply.body.contains("pgsink_events_staged_total 1\n"), "\(reply.body)")
        #expect(reply.body.contains("pgsink_events_rejected_total 6\n"), "\(reply.body)")
        #expect(reply.body.contains("pgsink_events_backlog 1\n"), "\(reply.body)")
        let lag = reply.body.split(separator: "\n").first { $0.hasPrefix("pgsink_load_lag_seconds ") }
            .flatMap { Double($0.split(separator: " ")[1]) }
        #expect((lag ?? 0) > 0, "the staged event's age: \(reply.body)")
        // Staged before the 200: the event is in PostgreSQL already, not yet in the warehouse tables.
        #expect(try db.column("SELECT count(*) FROM \(db.table("_pgsink_events").quoted)") == ["1"])
        // SIGTERM: one last load, then exit 0.
        #expect(InterruptTests.finish(server.process, after: SIGTERM) == 0, "\(server.log)")
        #expect(try db.column("SELECT user_id || ' ' || event_text FROM \(quoteIdentifier(server.namespace)).tracks") == ["u1 Order Completed"])
        #expect(try db.column("SELECT count(*) FROM \(db.table("_pgsink_events").quoted)") == ["0"])
        _ = try? db.connection.execute("DROP SCHEMA IF EXISTS \(quoteIdentifier(server.namespace)) CASCADE")
    }

    /// Both SDKs send every call type (the RudderStack one gzipped, in batches) to the server;
    /// the warehouse tables hold what RudderStack's would.
    @Test func bothSDKsLandEveryCallTypeInTheWarehouseTables() throws {
        let db = try TestDatabase()
        let server = try Server(db, ["--sync-frequency", "1s"])
        defer { _ = try? db.connection.execute("DROP SCHEMA IF EXISTS \(quoteIdentifier(server.namespace)) CASCADE") }
        let (status, printed) = try Self.runSDKs("send.py", Self.sdkScript, against: server)
        #expect(status == 0, "\(printed)")
        let ns = quoteIdentifier(server.namespace)
        #expect(try ExactlyOnceTests.eventually { (try? db.column("SELECT count(*) FROM \(ns).aliases")) == ["2"] }, "\(server.log)")
        #expect(InterruptTests.finish(server.process, after: SIGTERM) == 0, "\(server.log)")
        let tables = try db.column(
            "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables WHERE table_schema = '\(server.namespace)' AND table_name NOT LIKE '\\_pgsink%'")
        #expect(tables == ["aliases,groups,identifies,order_completed,pages,screens,tracks,users"], "\(tables)")
        #expect(try db.column("SELECT count(*) FROM \(ns).tracks") == ["4"])
        #expect(try db.column("SELECT count(*) FROM \(ns).order_completed WHERE total = 12.5 AND product_name = 'shoe'") == ["4"])
        #expect(
            try db.column("SELECT string_agg(DISTINCT context_library_name, ',' ORDER BY context_library_name) FROM \(ns).tracks")
                == ["analytics-python"])
        #expect(try db.column("SELECT string_agg(user_id, ',' ORDER BY user_id) FROM \(ns).identifies") == ["r1,r1,s1,s1"])
        // RudderStack's SDK sends traits in context.traits, Segment's at the top.
        #expect(
            try db.column(
                "SELECT string_agg(id || ':' || coalesce(email, context_traits_email) || ':' || coalesce(plan, context_traits_plan), ',' "
                    + "ORDER BY id) FROM \(ns).users") == ["r1:r@example.com:team,s1:s@example.com:team"])
        #expect(try db.column("SELECT count(*) FROM \(ns).pages WHERE name = 'Home'") == ["2"])
        #expect(try db.column("SELECT count(*) FROM \(ns).screens WHERE name = 'Cart'") == ["2"])
        #expect(try db.column("SELECT string_agg(group_id, ',' ORDER BY group_id) FROM \(ns).groups") == ["g1,g2"])
        #expect(try db.column("SELECT string_agg(previous_id, ',' ORDER BY previous_id) FROM \(ns).aliases") == ["anon-r,anon-s"])
        // Every table has RudderStack's rule columns.
        for table in ["tracks", "identifies", "pages", "screens", "groups", "aliases"] {
            let columns = Set(try db.column(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = '\(server.namespace)' AND table_name = '\(table)'"
            ).compactMap { $0 })
            for rule in ["id", "received_at", "sent_at", "timestamp", "original_timestamp", "context_ip", "uuid_ts"] {
                #expect(columns.contains(rule), "\(table) lacks \(rule): \(columns.sorted())")
            }
        }
    }

    /// kill -9 with requests in flight: every event that got its 200 is in PostgreSQL after a
    /// restart, once.
    @Test func killedWithRequestsInFlightNothingAcknowledgedIsLost() throws {
        let db = try TestDatabase()
        let server = try Server(db, ["--sync-frequency", "0.5s"])
        defer { _ = try? db.connection.execute("DROP SCHEMA IF EXISTS \(quoteIdentifier(server.namespace)) CASCADE") }
        final class Count: @unchecked Sendable {
            let lock = NSLock()
            var acknowledged = 0
        }
        let count = Count()
        let url = server.url, key = server.key
        let group = DispatchGroup()
        for client in 0..<8 {
            group.enter()
            Thread {
                defer { group.leave() }
                for n in 0..<400 {
                    let body = Data(
                        (#"{"batch":["# + (0..<10).map { #"{"type":"track","userId":"c\#(client)","event":"Tick","properties":{"n":\#(n * 10 + $0)}}"# }
                            .joined(separator: ",") + "]}").utf8)
                    guard let reply = try? Self.request("\(url)/v1/batch", body: body, key: key) else { return }
                    if reply.status == 200 { count.lock.withLock { count.acknowledged += 10 } }
                }
            }.start()
        }
        // Kill it while the clients send and loads run.
        Thread.sleep(forTimeInterval: 2.5)
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        group.wait()
        let acknowledged = count.lock.withLock { count.acknowledged }
        #expect(acknowledged > 0)
        let rerun = try CommandLineTests.run(["serve", "--to", db.url, "--schema", db.schema, "--once"])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let ns = quoteIdentifier(server.namespace)
        // Nothing acknowledged is lost; an event staged but not acknowledged (its reply cut by the kill) may be there too.
        let loaded = Int(try db.column("SELECT count(*) FROM \(ns).tracks").first.flatMap { $0 } ?? "0") ?? 0
        #expect(loaded >= acknowledged, "\(loaded) loaded, \(acknowledged) acknowledged")
        #expect(loaded <= acknowledged + 8 * 10, "\(loaded) loaded, \(acknowledged) acknowledged")
        #expect(try db.column("SELECT count(*) FROM (SELECT id FROM \(ns).tracks GROUP BY id HAVING count(*) > 1) d") == ["0"])
        #expect(try db.column("SELECT count(*) FROM \(db.table("_pgsink_events").quoted)") == ["0"])
    }

    /// Past --max-backlog the server answers 429 with Retry-After, and takes events again once loaded.
    @Test func aLoaderBehindItsBoundGets429WithRetryAfter() throws {
        let db = try TestDatabase()
        let server = try Server(db, ["--sync-frequency", "1h", "--max-backlog", "3"])
        defer { _ = try? db.connection.execute("DROP SCHEMA IF EXISTS \(quoteIdentifier(server.namespace)) CASCADE") }
        for n in 0..<3 {
            #expect(try Self.request("\(server.url)/v1/track", body: Self.track("u\(n)"), key: server.key).status == 200)
        }
        let refused = try Self.request("\(server.url)/v1/track", body: Self.track("u9"), key: server.key)
        #expect(refused.status == 429, "\(refused)")
        #expect(refused.headers["retry-after"] == "3600", "\(refused.headers)")
        #expect(InterruptTests.finish(server.process, after: SIGTERM) == 0, "\(server.log)")
        #expect(try db.column("SELECT count(*) FROM \(quoteIdentifier(server.namespace)).tracks") == ["3"])
    }

    /// A value its column cannot take even after widening (a view fixes the column's type) goes to
    /// rudder_discards with the table, the row's id, the column, the value and why; the cell is
    /// NULL and the other events load. A column nothing fixes widens instead.
    @Test func aValueNoWideningCanHoldGoesToRudderDiscards() throws {
        let db = try TestDatabase()
        var server = try Server(db, ["--sync-frequency", "1h"])
        let ns = quoteIdentifier(server.namespace)
        defer { _ = try? db.connection.execute("DROP SCHEMA IF EXISTS \(ns) CASCADE") }
        func send(_ id: String, _ properties: String) throws {
            let body = #"{"userId":"u","messageId":"\#(id)","event":"Order Completed","properties":{\#(properties)}}"#
            let reply = try Self.request("\(server.url)/v1/track", body: Data(body.utf8), key: server.key)
            #expect(reply.status == 200, "\(reply)")
        }
        try send("m1", #""items":2,"total":12.5"#)
        #expect(InterruptTests.finish(server.process, after: SIGTERM) == 0, "\(server.log)")
        try db.connection.execute("CREATE VIEW \(ns).big_orders AS SELECT id, items FROM \(ns).order_completed WHERE items > 1")
        try db.connection.execute("ALTER TABLE \(ns).order_completed ADD CONSTRAINT few CHECK (items < 100)")
        server = try Server(db, ["--sync-frequency", "1h"])
        try send("m2", #""items":"many","total":"lots""#)
        // The server refuses this row (the CHECK): it is set aside, and the events behind it load.
        try send("m4", #""items":500,"total":1"#)
        try send("m3", #""items":3,"total":1"#)
        #expect(InterruptTests.finish(server.process, after: SIGTERM) == 0, "\(server.log)")
        #expect(
            try db.column("SELECT id || ' ' || coalesce(items::text, 'NULL') || ' ' || total FROM \(ns).order_completed ORDER BY id")
                == ["m1 2 12.5", "m2 NULL lots", "m3 3 1"])
        #expect(
            try db.column(
                "SELECT data_type FROM information_schema.columns WHERE table_schema = '\(server.namespace)' "
                    + "AND table_name = 'order_completed' AND column_name IN ('items', 'total') ORDER BY column_name")
                == ["bigint", "text"])
        let discards = try db.connection.query(
            "SELECT table_name, row_id, column_name, column_value, received_at IS NOT NULL, uuid_ts IS NOT NULL, reason "
                + "FROM \(ns).rudder_discards", []
        ).rows
        #expect(discards.count == 1, "\(discards)")
        if let row = discards.first {
            #expect(Array(row.prefix(6)) == ["order_completed", "m2", "items", "many", "t", "t"], "\(row)")
            #expect(row[6]?.contains("view \(server.namespace).big_orders uses it") == true, "\(row)")
        }
        #expect(try db.column("SELECT count(*) FROM \(ns).big_orders") == ["2"])
        let rejects = try db.column("SELECT table_name || ' ' || kind || ' ' || reason FROM \(ns)._pgsink_rejects")
        #expect(rejects.count == 1 && rejects[0]?.hasPrefix("order_completed rejected ") == true, "\(rejects)")
        #expect(rejects.first??.contains("few") == true, "\(rejects)")
    }

    /// The SDKs retry what the server refuses with 429 (the backlog at its bound) and every event
    /// lands; with --no-append an event sent twice (a retry after a lost reply) is one row.
    @Test func sdkRetriesAfter429LandAndRepeatsMergeWithoutAppend() throws {
        let db = try TestDatabase()
        let server = try Server(db, ["--sync-frequency", "3s", "--max-backlog", "1", "--no-append"])
        let ns = quoteIdentifier(server.namespace)
        defer { _ = try? db.connection.execute("DROP SCHEMA IF EXISTS \(ns) CASCADE") }
        let (status, printed) = try Self.runSDKs("retry.py", Self.retryScript, against: server)
        #expect(status == 0, "\(printed)")
        let metrics = try Self.request("\(server.url)/metrics", method: "GET").body
        let refused = metrics.split(separator: "\n").first { $0.hasPrefix("pgsink_events_rejected_total ") }
            .flatMap { Double($0.split(separator: " ")[1]) } ?? 0
        #expect(refused > 0, "a batch was refused with 429 and sent again: \(metrics)")
        // A reply lost after the commit: the same event again.
        let again = #"{"userId":"r1","messageId":"dup-1","event":"Order Completed","properties":{"n":99}}"#
        for _ in 0..<2 {
            var reply = try Self.request("\(server.url)/v1/track", body: Data(again.utf8), key: server.key)
            while reply.status == 429 {
                Thread.sleep(forTimeInterval: 0.5)
                reply = try Self.request("\(server.url)/v1/track", body: Data(again.utf8), key: server.key)
            }
            #expect(reply.status == 200, "\(reply)")
        }
        #expect(InterruptTests.finish(server.process, after: SIGTERM) == 0, "\(server.log)")
        #expect(try db.column("SELECT count(*) FROM \(ns).order_completed") == ["11"])
        #expect(try db.column("SELECT count(DISTINCT id) FROM \(ns).tracks") == ["11"])
        #expect(try db.column("SELECT count(*) FROM \(ns).tracks") == ["11"])
    }

    static let retryScript = #"""
        import sys
        from rudderstack.analytics.client import Client as Rudder
        from segment.analytics.client import Client as Segment

        url, key = sys.argv[1], sys.argv[2]
        failures = []
        def failed(error, items):
            failures.append(str(error))
        # One batch each: the second finds the backlog at its bound (1) and gets 429 until a load.
        for prefix, client in [("r", Rudder(write_key=key, host=url, on_error=failed, max_retries=6)),
                               ("s", Segment(write_key=key, host=url, on_error=failed, max_retries=6))]:
            for n in range(5):
                client.track(user_id=prefix + "1", event="Order Completed", properties={"n": n})
            client.flush()
        if failures:
            print("\n".join(failures))
            sys.exit(1)
        print("sent")
        """#

    /// An event with more columns than a table may have is refused on receipt with RudderStack's
    /// reason; one that is staged and still cannot become rows (staged by hand here) is set aside in
    /// _pgsink_event_rejects with the reason, and the events behind it load.
    @Test func anEventThatCannotBecomeRowsNeverStopsTheLoads() throws {
        let db = try TestDatabase()
        let server = try Server(db, ["--sync-frequency", "1h"])
        let ns = quoteIdentifier(server.namespace)
        defer { _ = try? db.connection.execute("DROP SCHEMA IF EXISTS \(ns) CASCADE") }
        let wide = (0..<1700).map { "\"p\($0)\":\($0)" }.joined(separator: ",")
        let body = #"{"userId":"u","event":"Wide","properties":{"# + wide + "}}"
        let reply = try Self.request("\(server.url)/v1/track", body: Data(body.utf8), key: server.key)
        #expect(reply.status == 400 && reply.body == "Too many columns outputted from the event", "\(reply)")
        #expect(try Self.request("\(server.url)/v1/track", body: Self.track("u1"), key: server.key).status == 200)
        kill(server.process.processIdentifier, SIGKILL)
        server.process.waitUntilExit()
        // An event no transformer takes, staged between two good ones (as by an older version).
        try db.connection.query(
            "INSERT INTO \(db.table("_pgsink_events").quoted) (namespace, event) VALUES ($1, $2)",
            [server.namespace, #"{"type":"bogus","userId":"u","messageId":"bad-1"}"#])
        try db.connection.query(
            "INSERT INTO \(db.table("_pgsink_events").quoted) (namespace, event) VALUES ($1, $2)",
            [server.namespace, #"{"type":"track","userId":"u2","event":"Order Completed","messageId":"m2"}"#])
        let once = try CommandLineTests.run(["serve", "--to", db.url, "--schema", db.schema, "--once"])
        #expect(once.status == 0, "\(once.stderr)")
        #expect(try db.column("SELECT string_agg(user_id, ',' ORDER BY user_id) FROM \(ns).tracks") == ["u1,u2"])
        let rejected = try db.column("SELECT reason || ' | ' || (event::jsonb ->> 'messageId') FROM \(ns)._pgsink_event_rejects")
        #expect(rejected.count == 1 && rejected[0]?.hasPrefix(#"unknown event type "bogus""#) == true, "\(rejected)")
        #expect(rejected.first??.hasSuffix(" | bad-1") == true, "\(rejected)")
        #expect(try db.column("SELECT count(*) FROM \(db.table("_pgsink_events").quoted)") == ["0"])
    }

    /// Runs a Python script that drives both SDKs (`script URL KEY`); its exit status and output.
    static func runSDKs(_ name: String, _ source: String, against server: Server) throws -> (Int32, String) {
        let script = try TestDatabase.file(name, source)
        let send = Process()
        send.executableURL = URL(fileURLWithPath: try testTool("sdk-python"))
        send.arguments = [script, server.url, server.key]
        let output = Pipe()
        send.standardOutput = output
        send.standardError = output
        try send.run()
        send.waitUntilExit()
        return (send.terminationStatus, String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    /// Sends every call type with each SDK: RudderStack's batched and gzipped (its default),
    /// Segment's one request per call.
    static let sdkScript = #"""
        import sys
        from rudderstack.analytics.client import Client as Rudder
        from segment.analytics.client import Client as Segment

        url, key = sys.argv[1], sys.argv[2]
        failures = []
        def failed(error, items):
            failures.append(str(error))

        clients = [("r", Rudder(write_key=key, host=url, on_error=failed, max_retries=3)),
                   ("s", Segment(write_key=key, host=url, on_error=failed, sync_mode=True, max_retries=3))]
        for prefix, client in clients:
            user = prefix + "1"
            for n in range(2):
                client.track(user_id=user, event="Order Completed",
                             properties={"total": 12.5, "product": {"name": "shoe", "sizes": [41, 42]}, "n": n})
            client.identify(user_id=user, traits={"email": prefix + "@example.com", "plan": "pro"})
            client.page(user_id=user, name="Home", properties={"path": "/"})
            client.screen(user_id=user, name="Cart")
            client.group(user_id=user, group_id="g" + ("1" if prefix == "r" else "2"), traits={"name": "Acme"})
            client.alias(previous_id="anon-" + prefix, user_id=user)
            # Only the plan changes: users keeps the email (each trait's latest non-null value).
            client.identify(user_id=user, traits={"plan": "team"})
            client.flush()
        if failures:
            print("\n".join(failures))
            sys.exit(1)
        print("sent")
        """#
}
