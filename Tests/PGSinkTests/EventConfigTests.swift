import ArgumentParser
import Foundation
import PGSinkCore
import Testing

@testable import PGSink
@testable import pgsink

/// The config file's `events:` section (`pgsink serve`): our keys, RudderStack's spellings, write
/// keys kept secret, strict keys, the flags over the file, and other commands passing over it. No server.
@Suite("Events config")
struct EventConfigTests {
    static func events(_ content: String, name: String = "pgsink.yaml") throws -> EventSettings {
        try LoadSettingsTests.destination(name, content).eventSettings(for: "pgsink serve")
    }

    /// The message reading the events section fails with.
    static func failure(_ content: String) throws -> String {
        let path = try LoadSettingsTests.file("pgsink.yaml", content)
        do {
            _ = try DestinationConfig.load(config: path, secrets: [])?.eventSettings(for: "pgsink serve")
        } catch {
            return "\(error)".replacingOccurrences(of: path, with: "pgsink.yaml")
        }
        Issue.record("accepted")
        return ""
    }

    @Test func everyKeyOfTheEventsSection() throws {
        let config = try LoadSettingsTests.destination("pgsink.yaml", """
            destination:
              host: db.example.com
              database: dw
            events:
              listen: 0.0.0.0:9090
              write_keys:
                wk_web_0001: Web App
                wk_ios_0002: ios
              namespace: tracking
              schema: pgsink_state
              sync:
                frequency: 5m
                start_at: "02:30"
                exclude_window: {start: "22:00", end: "06:00"}
              append: false
              skip_users_table: true
              skip_tracks_table: true
              json_paths: [track.properties.cart, identify.traits.address]
              store_full_event: true
              max_backlog: 5000
            """)
        #expect(try config.connection?.effectiveOptions()["host"] == "db.example.com")
        let events = try config.eventSettings(for: "pgsink serve")
        #expect(events.listen == "0.0.0.0:9090")
        #expect(events.writeKeys?.entries == [.init(key: "wk_ios_0002", source: "ios"), .init(key: "wk_web_0001", source: "Web App")])
        #expect(events.namespace == "tracking" && events.schema == "pgsink_state")
        #expect(events.frequency == Seconds(300))
        #expect(events.startAt == (try TimeOfDay(parsing: "02:30")))
        #expect(events.excludeWindow == (try ExcludeWindow(parsing: "22:00-06:00")))
        #expect(events.append == false && events.skipUsersTable == true && events.skipTracksTable == true)
        #expect(events.jsonPaths == ColumnList(["track.properties.cart", "identify.traits.address"]))
        #expect(events.storeFullEvent == true && events.maxBacklog == 5000)
    }

    /// A source's own schema, in the list form.
    @Test func aWriteKeyMayNameItsNamespace() throws {
        let events = try Self.events("""
            events:
              write_keys: [{key: wk_ns_01, source: web, namespace: Web Tracking}, {key: wk_ns_02, source: ios}]
            """)
        #expect(events.writeKeys?.entries == [
            .init(key: "wk_ns_01", source: "web", namespace: "Web Tracking"), .init(key: "wk_ns_02", source: "ios"),
        ])
    }

    @Test func rudderStacksOwnSpellingsAreRead() throws {
        let events = try Self.events("""
            events:
              writeKeys: [{key: wk_rudder_01, source: web}, {key: wk_rudder_02}]
              syncFrequency: "30"
              syncStartAt: "01:15"
              excludeWindow: {excludeWindowStartTime: "09:00", excludeWindowEndTime: "10:30"}
              preferAppend: false
              skipUsersTable: true
              jsonPaths: "track.properties.cart,product"
              storeFullEvent: true
            """)
        #expect(events.writeKeys?.entries == [.init(key: "wk_rudder_01", source: "web"), .init(key: "wk_rudder_02", source: nil)])
        #expect(events.frequency == Seconds(1800))
        #expect(events.startAt?.description == "01:15")
        #expect(events.excludeWindow?.description == "09:00-10:30")
        #expect(events.append == false && events.skipUsersTable == true && events.storeFullEvent == true)
        #expect(events.jsonPaths == ColumnList(["track.properties.cart", "product"]))
        // RudderStack leaves unset schedule settings empty.
        let unset = try Self.events("""
            events:
              syncFrequency: ""
              syncStartAt: ""
              excludeWindow: {excludeWindowStartTime: "", excludeWindowEndTime: ""}
            """)
        #expect(unset.frequency == nil && unset.startAt == nil && unset.excludeWindow == nil)
        #expect(try Self.events("events:\n  sync: {exclude_window: 23:00-01:00}\n").excludeWindow?.crossesMidnight == true)
    }

    @Test(arguments: [
        ("events:\n  sync_frequency: 5m\n", #"pgsink.yaml: events: unknown key "sync_frequency" (did you mean "syncFrequency"?)"#),
        ("events:\n  write_key: {k: s}\n", #"pgsink.yaml: events: unknown key "write_key" (did you mean "write_keys"?)"#),
        ("events:\n  sync: {frecuency: 5m}\n", #"pgsink.yaml: events.sync.frecuency is not a key of this section (did you mean "frequency"?)"#),
        ("events:\n  sync: {exclude_window: {start: '01:00', ends: '02:00'}}\n", #"events.sync.exclude_window.ends is not a key of this section (did you mean "end"?)"#),
        ("event:\n  listen: ':8080'\n", #"pgsink.yaml: unknown top-level key "event" (did you mean "events"?)"#),
        ("events:\n  sync: {start_at: '25:00'}\n", #"pgsink.yaml: events.sync.start_at must be a UTC time of day from 00:00 to 23:59 (got "25:00")"#),
        ("events:\n  syncStartAt: '7:5x'\n", #"pgsink.yaml: events.syncStartAt must be a UTC time of day as HH:MM, e.g. 02:30 (got "7:5x")"#),
        ("events:\n  sync: {exclude_window: '22:00'}\n", #"events.sync.exclude_window must be two UTC times of day as HH:MM-HH:MM"#),
        ("events:\n  sync: {exclude_window: {start: '01:00'}}\n", #"events.sync.exclude_window needs start and end (HH:MM, UTC)"#),
        ("events:\n  excludeWindow: {excludeWindowStartTime: '01:00', excludeWindowEndTime: '01:00'}\n", "events.excludeWindow must end at another time than it starts"),
        ("events:\n  sync: {frequency: 0}\n", "pgsink.yaml: events.sync.frequency must be positive"),
        ("events:\n  sync: {frequency: soon}\n", "pgsink.yaml: events.sync.frequency must be a duration such as 60s, 5m or 500ms"),
        ("events:\n  syncFrequency: '0'\n", "pgsink.yaml: events.syncFrequency must be a whole number of minutes, 1 or more"),
        ("events:\n  syncFrequency: '30'\n  sync: {frequency: 5m}\n", "pgsink.yaml: events.syncFrequency is also given as sync.frequency; keep one of them"),
        ("events:\n  listen: localhost\n", "pgsink.yaml: events.listen must be host:port"),
        ("events:\n  max_backlog: 0\n", "pgsink.yaml: events.max_backlog must be positive"),
        ("events: [a]\n", "pgsink.yaml: events must be a section of keys"),
    ])
    func badSettingsAreRefusedNamingTheKey(_ content: String, _ message: String) throws {
        let failure = try Self.failure(content)
        #expect(failure.contains(message), "\(failure)")
    }

    /// Write keys are secrets: registered for masking as they are read, and never in an error.
    @Test func writeKeysNeverAppearInErrors() throws {
        for content in [
            "events:\n  write_keys: {wk_secret_mapping_1: [a, b]}\n",
            "events:\n  write_keys: [{key: wk_secret_listed_2, sorce: web}]\n",
            "events:\n  write_keys: [{key: wk_secret_twice_3}, {key: wk_secret_twice_3}]\n",
            "events:\n  write_keys: [{source: web}]\n",
            "events:\n  write_keys: wk_secret_text_4\n",
        ] {
            let failure = try Self.failure(content)
            #expect(failure.contains("events.write_keys"), "\(failure)")
            #expect(!failure.contains("wk_secret"), "\(failure)")
        }
        _ = try Self.events("events:\n  write_keys: {wk_secret_masked_5: web}\n")
        #expect(Secrets.redact("got wk_secret_masked_5 from a client") == "got *** from a client")
        #expect(try Self.failure("events:\n  write_keys: [{key: wk_secret_listed_2, sorce: web}]\n").contains(#"did you mean "source""#))
    }

    /// `pgsink load`, `check` and the cdc commands read the same file and pass over its events section,
    /// even one `pgsink serve` would refuse.
    @Test func otherCommandsPassOverTheEventsSection() throws {
        let config = try LoadSettingsTests.destination("pgsink.yaml", """
            events:
              sync: {start_at: "99:99"}
              bogus: 1
            destination:
              url: postgresql://loader@db.example.com/dw
              batch_size: 1000
            """)
        #expect(config.settings.batchRows == 1000)
        #expect(try config.connection?.effectiveOptions()["host"] == "db.example.com")
        // A file with only an events section names no server.
        #expect(try LoadSettingsTests.destination("pgsink.yaml", "events:\n  listen: ':9000'\n").connection == nil)
    }

    @Test func aNilusPipelineIsRefusedByServe() throws {
        let failure = try Self.failure(NilusPipelineTests.cdcPipeline())
        #expect(failure.contains("pgsink.yaml is a Nilus pipeline (spec.type: cdc), which pgsink serve does not run"), "\(failure)")
    }

    /// Flags over the file; --write-key adds to the file's keys (and wins for the same key).
    @Test func flagsWinOverTheFile() throws {
        let file = try Self.events("""
            events:
              listen: 127.0.0.1:9000
              write_keys: {wk_file_key_1: web, wk_both_key_2: file_source}
              namespace: from_file
              sync: {frequency: 1h, start_at: "02:00", exclude_window: "01:00-03:00"}
              skip_users_table: true
              max_backlog: 10
            """)
        let command = try ServeCommand.parse([
            "--write-key", "wk_both_key_2=flag_source", "--write-key", "wk_flag_key_3", "--sync-start-at", "04:30",
            "--no-skip-users-table", "--no-append", "--max-backlog", "20",
        ])
        let resolved = command.flagSettings.overlaid(on: file)
        #expect(resolved.listen == "127.0.0.1:9000" && resolved.namespace == "from_file")
        #expect(resolved.skipUsersTable == false && resolved.append == false && resolved.maxBacklog == 20)
        #expect(resolved.effective(\.skipTracksTable) == false)
        let keys = (file.writeKeys?.entries ?? []) + command.flagKeys
        #expect(keys.last(where: { $0.key == "wk_both_key_2" })?.source == "flag_source")
        #expect(keys.map(\.key).sorted() == ["wk_both_key_2", "wk_both_key_2", "wk_file_key_1", "wk_flag_key_3"])
        let schedule = try command.schedule(file: file)
        #expect(schedule.frequency == 3600)
        #expect(schedule.startAt?.description == "04:30")
        #expect(schedule.excludeWindow?.description == "01:00-03:00")
        let plain = try ServeCommand.parse(["--write-key", "k", "--sync-frequency", "30s", "--exclude-window", "22:00-06:00"])
        #expect(try plain.schedule(file: file) == SyncSchedule(
            frequency: 30, startAt: TimeOfDay(parsing: "02:00"), excludeWindow: ExcludeWindow(parsing: "22:00-06:00")))
        #expect(try ServeCommand.parse([]).schedule(file: EventSettings()) == SyncSchedule.default)
    }

    @Test(arguments: [
        (["--sync-start-at", "25:00"], #"--sync-start-at must be a UTC time of day from 00:00 to 23:59 (got "25:00")"#),
        (["--sync-start-at", "7:5x"], #"--sync-start-at must be a UTC time of day as HH:MM, e.g. 02:30 (got "7:5x")"#),
        (["--exclude-window", "22:00"], #"--exclude-window must be two UTC times of day as HH:MM-HH:MM, e.g. 22:00-06:00 (got "22:00")"#),
        (["--sync-frequency", "0"], #"--sync-frequency takes seconds, or a number with s, m or h (got "0")"#),
        (["--listen", "nowhere"], #"--listen takes host:port (got "nowhere")"#),
    ])
    func badFlagsAreRefused(_ flags: [String], _ message: String) {
        do {
            _ = try ServeCommand.parse(flags)
            Issue.record("accepted")
        } catch {
            #expect(ServeCommand.message(for: error) == message)
        }
    }
}
