import Testing

@testable import PGSinkCore

@Suite("Warehouse transformer")
struct WarehouseTransformerTests {
    static let t0 = "2021-09-01T00:00:00.000Z"
    static let uuidTS = "2021-09-01T00:00:05.000Z"
    static let times =
        #""sentAt":"2021-09-01T00:00:00.000Z","timestamp":"2021-09-01T00:00:00.000Z","receivedAt":"2021-09-01T00:00:00.000Z","originalTimestamp":"2021-09-01T00:00:00.000Z""#

    static let track = """
        {"type":"track","messageId":"m1","anonymousId":"a1","userId":"u1",\(times),"channel":"web",\
        "event":"Product Reviewed","request_ip":"5.6.7.8",\
        "properties":{"review_id":"86ac1cd43","product_id":"9578257311","rating":3.0,"tags":["a","b"],\
        "product":{"name":"Desk","price":12.5}},\
        "userProperties":{"plan":"pro"},\
        "context":{"traits":{"name":"Richard","email":"r@example.com","logins":2},"ip":"1.2.3.4",\
        "library":{"name":"rudder-sdk-python","version":"1.0.0"}}}
        """

    func rows(_ json: String, _ settings: WarehouseSettings = WarehouseSettings()) throws -> [WarehouseRow] {
        try WarehouseTransformer.rows(for: JSONValue.parse(json), settings: settings, uuidTS: Self.uuidTS)
    }

    func rejection(_ json: String, _ settings: WarehouseSettings = WarehouseSettings()) -> String? {
        do {
            _ = try rows(json, settings)
            return nil
        } catch let error as EventRejection {
            return error.reason
        } catch {
            return "unexpected \(error)"
        }
    }

    /// Compares a row column by column, so a failure names the column.
    func expectRow(_ row: WarehouseRow?, _ table: String, _ expected: [(String, WarehouseValue)]) {
        guard let row else {
            Issue.record("no \(table) row")
            return
        }
        #expect(row.table == table)
        #expect(row.columns.map(\.name) == expected.map(\.0), "columns of \(table)")
        for (name, value) in expected {
            #expect(row[name] == value, "\(table).\(name)")
        }
    }

    static let trackCommon: [(String, WarehouseValue)] = [
        ("anonymous_id", .string("a1")),
        ("channel", .string("web")),
        ("context_ip", .string("1.2.3.4")),
        ("context_library_name", .string("rudder-sdk-python")),
        ("context_library_version", .string("1.0.0")),
        ("context_passed_ip", .string("1.2.3.4")),
        ("context_request_ip", .string("5.6.7.8")),
        ("context_traits_email", .string("r@example.com")),
        ("context_traits_logins", .int("2")),
        ("context_traits_name", .string("Richard")),
        ("event", .string("product_reviewed")),
        ("event_text", .string("Product Reviewed")),
        ("id", .string("m1")),
        ("original_timestamp", .datetime(t0)),
        ("received_at", .datetime(t0)),
        ("sent_at", .datetime(t0)),
        ("timestamp", .datetime(t0)),
        ("user_id", .string("u1")),
        ("uuid_ts", .datetime(uuidTS)),
    ]

    @Test func trackWritesTracksAndItsEventTable() throws {
        let out = try rows(Self.track)
        #expect(out.map(\.table) == ["tracks", "product_reviewed"])
        expectRow(out.first, "tracks", Self.trackCommon)
        var expected =
            Self.trackCommon + [
                ("plan", .string("pro")), ("product_id", .string("9578257311")), ("product_name", .string("Desk")),
                ("product_price", .float("12.5")), ("rating", .int("3")), ("review_id", .string("86ac1cd43")),
                ("tags", .string(#"["a","b"]"#)),
            ]
        expected.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        expectRow(out.last, "product_reviewed", expected)
    }

    @Test func identifyWritesIdentifiesAndUsers() throws {
        let json = """
            {"type":"identify","messageId":"m2","anonymousId":"a1","userId":"u1",\(Self.times),"channel":"server",\
            "request_ip":"5.6.7.8","traits":{"email":"r@example.com","address":{"city":"Palo Alto"},"userId":"u-trait",\
            "createdAt":"2020-01-02T03:04:05+01:00"},"context":{"ip":"1.2.3.4","traits":{"plan":"pro"}}}
            """
        let out = try rows(json)
        #expect(out.map(\.table) == ["identifies", "users"])
        let t0 = Self.t0
        expectRow(
            out.first, "identifies",
            [
                ("_user_id", .string("u-trait")), ("address_city", .string("Palo Alto")),
                ("anonymous_id", .string("a1")),
                ("channel", .string("server")), ("context_ip", .string("1.2.3.4")),
                ("context_passed_ip", .string("1.2.3.4")),
                ("context_request_ip", .string("5.6.7.8")), ("context_traits_plan", .string("pro")),
                ("created_at", .datetime("2020-01-02T02:04:05.000Z")), ("email", .string("r@example.com")),
                ("id", .string("m2")), ("original_timestamp", .datetime(t0)), ("received_at", .datetime(t0)),
                ("sent_at", .datetime(t0)), ("timestamp", .datetime(t0)), ("user_id", .string("u1")),
                ("uuid_ts", .datetime(Self.uuidTS)),
            ])
        expectRow(
            out.last, "users",
            [
                ("_user_id", .string("u-trait")), ("address_city", .string("Palo Alto")),
                ("context_ip", .string("1.2.3.4")), ("context_passed_ip", .string("1.2.3.4")),
                ("context_request_ip", .string("5.6.7.8")), ("context_traits_plan", .string("pro")),
                ("created_at", .datetime("2020-01-02T02:04:05.000Z")), ("email", .string("r@example.com")),
                ("id", .string("u1")), ("original_timestamp", .datetime(t0)), ("received_at", .datetime(t0)),
                ("sent_at", .datetime(t0)), ("timestamp", .datetime(t0)), ("uuid_ts", .datetime(Self.uuidTS)),
            ])
    }

    @Test func identifyWithoutUserIDOrWithSkipWritesNoUsers() throws {
        let anonymous = #"{"type":"identify","anonymousId":"a1","messageId":"m","traits":{"x":1}}"#
        #expect(try rows(anonymous).map(\.table) == ["identifies"])
        var skip = WarehouseSettings()
        skip.skipUsersTable = true
        #expect(try rows(#"{"type":"identify","userId":"u1","traits":{"x":1}}"#, skip).map(\.table) == ["identifies"])
        let viaOptions =
            #"{"type":"identify","userId":"u1","integrations":{"POSTGRES":{"options":{"skipUsersTable":true}}}}"#
        #expect(try rows(viaOptions).map(\.table) == ["identifies"])
    }

    @Test func usersIDTakesTheUserIDsType() throws {
        let out = try rows(#"{"type":"identify","userId":42,"messageId":"m"}"#)
        #expect(out.last?.table == "users")
        #expect(out.last?["id"] == .int("42"))
        #expect(out.first?["user_id"] == .int("42"))
    }

    @Test func allowUsersContextTraitsAddsThemUnprefixed() throws {
        var settings = WarehouseSettings()
        settings.allowUsersContextTraits = true
        let out = try rows(
            #"{"type":"identify","userId":"u1","messageId":"m","context":{"traits":{"plan":"pro"}}}"#, settings)
        #expect(out.first?["plan"] == .string("pro"))
        #expect(out.first?["context_traits_plan"] == .string("pro"))
        #expect(out.last?["plan"] == .string("pro"))
    }

    @Test func pageTakesItsNameFromTheEventOrProperties() throws {
        let json = """
            {"type":"page","messageId":"m3","userId":"u1",\(Self.times),"name":"Home","request_ip":"5.6.7.8",\
            "properties":{"title":"Home | RudderStack","url":"https://www.rudderstack.com","name":"ignored","id":"dropped"}}
            """
        let out = try rows(json)
        let t0 = Self.t0
        expectRow(
            out.first, "pages",
            [
                ("context_ip", .string("5.6.7.8")), ("context_request_ip", .string("5.6.7.8")), ("id", .string("m3")),
                ("name", .string("Home")), ("original_timestamp", .datetime(t0)), ("received_at", .datetime(t0)),
                ("sent_at", .datetime(t0)), ("timestamp", .datetime(t0)), ("title", .string("Home | RudderStack")),
                ("url", .string("https://www.rudderstack.com")), ("user_id", .string("u1")),
                ("uuid_ts", .datetime(Self.uuidTS)),
            ])
        let fromProperties = try rows(#"{"type":"page","userId":"u1","properties":{"name":"Pricing"}}"#)
        #expect(fromProperties.first?["name"] == .string("Pricing"))
        let screen = try rows(#"{"type":"screen","userId":"u1","name":"Main","properties":{"depth":2}}"#)
        #expect(screen.map(\.table) == ["screens"])
        #expect(screen.first?["name"] == .string("Main"))
        #expect(screen.first?["depth"] == .int("2"))
    }

    @Test func groupAndAlias() throws {
        let group = """
            {"type":"group","messageId":"m4","anonymousId":"a1","groupId":"g1",\(Self.times),"request_ip":"5.6.7.8",\
            "traits":{"name":"Initech","employees":120,"plan":"enterprise"}}
            """
        let t0 = Self.t0
        expectRow(
            try rows(group).first, "groups",
            [
                ("anonymous_id", .string("a1")), ("context_ip", .string("5.6.7.8")),
                ("context_request_ip", .string("5.6.7.8")), ("employees", .int("120")), ("group_id", .string("g1")),
                ("id", .string("m4")), ("name", .string("Initech")), ("original_timestamp", .datetime(t0)),
                ("plan", .string("enterprise")), ("received_at", .datetime(t0)), ("sent_at", .datetime(t0)),
                ("timestamp", .datetime(t0)), ("uuid_ts", .datetime(Self.uuidTS)),
            ])
        let alias = """
            {"type":"alias","messageId":"m5","userId":"u2","previousId":"a1",\(Self.times),"request_ip":"5.6.7.8"}
            """
        expectRow(
            try rows(alias).first, "aliases",
            [
                ("context_ip", .string("5.6.7.8")), ("context_request_ip", .string("5.6.7.8")), ("id", .string("m5")),
                ("original_timestamp", .datetime(t0)), ("previous_id", .string("a1")), ("received_at", .datetime(t0)),
                ("sent_at", .datetime(t0)), ("timestamp", .datetime(t0)), ("user_id", .string("u2")),
                ("uuid_ts", .datetime(Self.uuidTS)),
            ])
    }

    @Test func skipTracksTableKeepsTheEventTable() throws {
        var settings = WarehouseSettings()
        settings.skipTracksTable = true
        #expect(try rows(Self.track, settings).map(\.table) == ["product_reviewed"])
    }

    @Test func eventNamesThatAreRudderTablesArePrefixed() throws {
        #expect(try rows(#"{"type":"track","userId":"u","event":"Users"}"#).map(\.table) == ["tracks", "_users"])
        #expect(try rows(#"{"type":"track","userId":"u","event":"pages"}"#).map(\.table) == ["tracks", "_pages"])
        #expect(try rows(#"{"type":"track","userId":"u","event":"Order"}"#).map(\.table) == ["tracks", "_order"])
        let out = try rows(#"{"type":"track","userId":"u","event":"Users"}"#)
        #expect(out.last?["event"] == .string("users"))
    }

    @Test func aTrackWithoutAUsableNameWritesOnlyTracks() throws {
        for body in [#"{"type":"track","userId":"u"}"#, #"{"type":"track","userId":"u","event":"!!!"}"#] {
            let out = try rows(body)
            #expect(out.map(\.table) == ["tracks"])
            #expect(out.first?["event"] == nil)
        }
    }

    @Test func keysThatCollideWithRuleColumnsAreDropped() throws {
        let json = """
            {"type":"track","userId":"u1","messageId":"m1","event":"E","receivedAt":"2021-09-01T00:00:00Z",\
            "properties":{"id":"x","received_at":"y","event_text":"z","event":"w","context_ip":"9","userId":"p",\
            "anonymous_id":"q","note":"kept"}}
            """
        let row = try rows(json).last
        #expect(row?["id"] == .string("m1"))
        #expect(row?["received_at"] == .datetime(Self.t0))
        #expect(row?["event_text"] == .string("E"))
        #expect(row?["event"] == .string("e"))
        #expect(row?["context_ip"] == nil)
        #expect(row?["user_id"] == .string("u1"))
        #expect(row?["anonymous_id"] == nil)
        #expect(row?["note"] == .string("kept"))
    }

    @Test func flatteningRules() throws {
        let json = """
            {"type":"track","userId":"u","event":"E","properties":{"a":{"b":2,"c":{"d":"deep"}},"a_b":1,\
            "empty":"","nothing":null,"none":[],"blank":[""],"obj":{},"nulls":[null],"matrix":[[1,2],[3]],\
            "objects":[{"k":"v"}],"flag":false,"big":12345678901234567890,"sci":1.5e3,"small":1e-3,\
            "day":"2021-02-30","local":"2020-01-01 10:00:00","text":"not a date","v2":1,"order":7,"日本":1}}
            """
        let row = try rows(json).last
        let expected: [(String, WarehouseValue)] = [
            ("_order", .int("7")), ("a_b", .int("1")), ("a_c_d", .string("deep")),
            ("big", .int("12345678901234567890")),
            ("flag", .bool(false)), ("local", .datetime("2020-01-01T10:00:00.000Z")),
            ("matrix", .string("[[1,2],[3]]")), ("nulls", .string("[null]")), ("objects", .string(#"[{"k":"v"}]"#)),
            ("sci", .int("1500")), ("small", .float("1e-3")), ("text", .string("not a date")), ("v2", .int("1")),
            ("day", .datetime("2021-03-02T00:00:00.000Z")),
        ]
        for (name, value) in expected {
            #expect(row?[name] == value, "\(name)")
        }
        for name in ["empty", "nothing", "none", "blank", "obj", "a", ""] {
            #expect(row?[name] == nil, "\(name)")
        }
        #expect(row?.columns.count == expected.count + 6)  // id, user_id, received_at, event, event_text and uuid_ts
    }

    @Test func settingsChangeNames() throws {
        var settings = WarehouseSettings()
        settings.underscoreDivideNumbers = true
        settings.skipReservedKeywordsEscaping = true
        let row = try rows(#"{"type":"track","userId":"u","event":"Step 2","properties":{"v2":1,"order":7}}"#, settings)
            .last
        #expect(row?.table == "step_2")
        #expect(row?["v_2"] == .int("1"))
        #expect(row?["order"] == .int("7"))
        #expect(row?["event"] == .string("step_2"))
    }

    @Test func jsonPathsStoreWholeValues() throws {
        let product = WarehouseValue.json(#"{"name":"Desk","price":12.5}"#)
        for paths in [["track.properties.product"], ["product"], [" track.properties.product ", ""]] {
            var settings = WarehouseSettings()
            settings.jsonPaths = paths
            let row = try rows(Self.track, settings).last
            #expect(row?["product"] == product, "\(paths)")
            #expect(row?["product_name"] == nil, "\(paths)")
        }
        let viaEvent = Self.track.replacingOccurrences(
            of: #""type":"track","#,
            with:
                #""type":"track","integrations":{"DATA_WAREHOUSE":{"options":{"jsonPaths":["track.properties.product"]}}},"#
        )
        #expect(try rows(viaEvent).last?["product"] == product)
        var context = WarehouseSettings()
        context.jsonPaths = ["track.context.library", "track.properties.tags"]
        let tracks = try rows(Self.track, context)
        #expect(tracks.first?["context_library"] == .json(#"{"name":"rudder-sdk-python","version":"1.0.0"}"#))
        #expect(tracks.last?["tags"] == .json(#"["a","b"]"#))
    }

    @Test func jsonPathsOfOtherTypes() throws {
        var settings = WarehouseSettings()
        settings.jsonPaths = ["identify.traits.address", "page.properties.filters", "address"]
        let identify = try rows(#"{"type":"identify","userId":"u","traits":{"address":{"city":"X"}}}"#, settings)
        #expect(identify.first?["address"] == .json(#"{"city":"X"}"#))
        #expect(identify.last?["address"] == .json(#"{"city":"X"}"#))
        let page = try rows(
            #"{"type":"page","userId":"u","properties":{"filters":{"a":1},"address":{"b":2}}}"#, settings)
        #expect(page.first?["filters"] == .json(#"{"a":1}"#))
        // The legacy form applies to track events only.
        #expect(page.first?["address_b"] == .int("2"))
    }

    /// RudderStack's own fixture for legacy jsonPaths given in the event (rudder-transformer
    /// `test/__tests__/data/warehouse/integrations/jsonpaths/legacy/tracks.js`, PostgreSQL output).
    @Test func matchesRudderStacksLegacyJSONPathsFixture() throws {
        let json = """
            {"anonymousId":"e6ab","channel":"web","context":{"app":{"build":"1.0.0","name":"RudderLabs JavaScript SDK",\
            "namespace":"com.rudderlabs.javascript","version":"1.0.5"},"ip":"0.0.0.0","library":{"name":"RudderLabs JavaScript SDK",\
            "version":"1.0.5"},"locale":"en-GB","screen":{"density":2},"traits":{"city":"Disney","country":"USA",\
            "email":"mickey@disney.com","firstname":"Mickey"},"CMap":{"nestedMap":{"n1":"context nested prop 1"}},\
            "userAgent":"Mozilla/5.0"},"event":"Product Added","integrations":{"All":true,"POSTGRES":{"options":\
            {"jsonPaths":["UPMap.nestedMap","PMap.nestedMap","CMap.nestedMap"]}}},"messageId":"a6a0",\
            "originalTimestamp":"2020-01-24T06:29:02.364Z","userProperties":{"email":"test@gmail.com",\
            "UPMap":{"nestedMap":{"n1":"nested prop 1"}}},"properties":{"currency":"USD","revenue":50,\
            "PMap":{"nestedMap":{"n1":"nested prop 1"}}},"receivedAt":"2020-01-24T11:59:02.403+05:30",\
            "request_ip":"[::1]:53708","sentAt":"2020-01-24T06:29:02.364Z","timestamp":"2020-01-24T11:59:02.403+05:30",\
            "type":"track","userId":"9bb5"}
            """
        var settings = WarehouseSettings()
        settings.allowUsersContextTraits = true
        settings.underscoreDivideNumbers = true
        let out = try rows(json, settings)
        #expect(out.map(\.table) == ["tracks", "product_added"])
        let common: [(String, String)] = [
            ("anonymous_id", "string"), ("channel", "string"), ("context_app_build", "string"),
            ("context_app_name", "string"), ("context_app_namespace", "string"), ("context_app_version", "string"),
            ("context_c_map_nested_map_n_1", "string"), ("context_ip", "string"), ("context_library_name", "string"),
            ("context_library_version", "string"), ("context_locale", "string"), ("context_passed_ip", "string"),
            ("context_request_ip", "string"), ("context_screen_density", "int"), ("context_traits_city", "string"),
            ("context_traits_country", "string"), ("context_traits_email", "string"),
            ("context_traits_firstname", "string"), ("context_user_agent", "string"),
        ]
        let rules: [(String, String)] = [
            ("event", "string"), ("event_text", "string"), ("id", "string"), ("original_timestamp", "datetime"),
        ]
        let tracks =
            common + rules + [
                ("received_at", "datetime"), ("sent_at", "datetime"), ("timestamp", "datetime"), ("user_id", "string"),
                ("uuid_ts", "datetime"),
            ]
        let eventTable =
            common + [("currency", "string"), ("email", "string")] + rules + [
                ("p_map_nested_map", "json"), ("received_at", "datetime"), ("revenue", "int"), ("sent_at", "datetime"),
                ("timestamp", "datetime"), ("up_map_nested_map", "json"), ("user_id", "string"),
                ("uuid_ts", "datetime"),
            ]
        #expect(out.first?.columns.map { [$0.name, $0.value.rudderType] } == tracks.map { [$0.0, $0.1] })
        #expect(out.last?.columns.map { [$0.name, $0.value.rudderType] } == eventTable.map { [$0.0, $0.1] })
        #expect(out.last?["p_map_nested_map"] == .json(#"{"n1":"nested prop 1"}"#))
        #expect(out.last?["received_at"] == .datetime("2020-01-24T06:29:02.403Z"))
        #expect(out.last?["timestamp"] == .datetime("2020-01-24T06:29:02.403Z"))
        #expect(out.last?["context_request_ip"] == .string("[::1]:53708"))
        #expect(out.last?["event"] == .string("product_added"))
    }

    @Test func storeFullEventAddsRudderEvent() throws {
        var settings = WarehouseSettings()
        settings.storeFullEvent = true
        let event = #"{"type":"track","userId":"u","event":"E","properties":{"a":1}}"#
        let out = try rows(event, settings)
        #expect(out.first?["rudder_event"] == .json(event))
        #expect(out.last?["rudder_event"] == nil)
        let page = try rows(#"{"type":"page","userId":"u"}"#, settings)
        #expect(page.first?["rudder_event"] == .json(#"{"type":"page","userId":"u"}"#))
    }

    @Test func sourceInfoGoesIntoTheContext() throws {
        var settings = WarehouseSettings()
        settings.sourceID = "web"
        settings.sourceType = "HTTP"
        settings.destinationType = "POSTGRES"
        settings.storeFullEvent = true
        let row = try rows(#"{"type":"page","userId":"u"}"#, settings).first
        #expect(row?["context_source_id"] == .string("web"))
        #expect(row?["context_source_type"] == .string("HTTP"))
        #expect(row?["context_destination_type"] == .string("POSTGRES"))
        #expect(row?["context_destination_id"] == nil)
        #expect(
            row?["rudder_event"]
                == .json(
                    #"{"type":"page","userId":"u","context":{"sourceId":"web","sourceType":"HTTP","destinationType":"POSTGRES"}}"#
                ))
    }

    @Test func stringLikeContextTraitsBecomeAString() throws {
        let row = try rows(#"{"type":"track","userId":"u","event":"E","context":{"traits":{"0":"a","1":"b","2":"c"}}}"#)
            .first
        #expect(row?["context_traits"] == .string("abc"))
        #expect(row?["context_traits_0"] == nil)
        let notLike = try rows(#"{"type":"track","userId":"u","event":"E","properties":{"0":"a","1":"b"}}"#).last
        #expect(notLike?["_0"] == .string("a"))
        #expect(notLike?["_1"] == .string("b"))
    }

    @Test func generatedValuesWhenTheEventLacksThem() throws {
        let row = try rows(#"{"type":"track","userId":"u"}"#).first
        guard case .string(let id)? = row?["id"] else {
            Issue.record("no id")
            return
        }
        #expect(id.hasPrefix("auto-"))
        #expect(row?["received_at"] == .datetime(Self.uuidTS))
    }

    @Test func typesAreCaseInsensitive() throws {
        #expect(try rows(#"{"type":"Track","userId":"u","event":"E"}"#).map(\.table) == ["tracks", "e"])
    }

    @Test func rejections() {
        let types = "track, identify, page, screen, group, alias"
        #expect(
            rejection(#"{"type":"purchase","userId":"u"}"#)
                == "unknown event type \"purchase\"; it must be one of \(types)")
        #expect(rejection(#"{"userId":"u"}"#) == "event has no type; it must be one of \(types)")
        #expect(
            rejection(#"{"type":"track","userId":"u","context":"web"}"#)
                == "the event's context must be an object (RudderStack: context is not a map)")
        #expect(rejection("[1]") == "event is not a valid rudder event")
    }

    @Test func tooManyColumns() throws {
        func event(_ count: Int, channel: String = "web") -> String {
            let properties = (0..<count).map { "\"p\($0)\":\($0)" }.joined(separator: ",")
            return #"{"type":"track","userId":"u","event":"E","channel":""# + channel + #"","properties":{"#
                + properties + "}}"
        }
        #expect(rejection(event(1600)) == "Too many columns outputted from the event")
        #expect(rejection(event(1500)) == nil)
        #expect(rejection(event(1600, channel: "sources")) == nil)
    }

    @Test func columnsAreSortedAndDistinct() throws {
        for row in try rows(Self.track) {
            let names = row.columns.map(\.name)
            #expect(names == names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            #expect(Set(names).count == names.count)
        }
    }

    @Test func enrichedEventsTransform() throws {
        let enriched = try EventEnrichment.enrich(
            JSONValue.parse(#"{"event":"Signed Up","anonymousId":"a1","properties":{"plan":"pro"}}"#), type: "track",
            receivedAt: .init(timeIntervalSince1970: 1_700_000_000), requestIP: "9.9.9.9")
        let out = try WarehouseTransformer.rows(for: enriched, settings: WarehouseSettings(), uuidTS: Self.uuidTS)
        #expect(out.map(\.table) == ["tracks", "signed_up"])
        #expect(out.last?["context_ip"] == .string("9.9.9.9"))
        #expect(out.last?["timestamp"] == .datetime("2023-11-14T22:13:20.000Z"))
        #expect(out.last?["plan"] == .string("pro"))
    }
}

@Suite("Warehouse typing")
struct WarehouseTypingTests {
    @Test(arguments: [
        ("3.0", "3"), ("1.5e3", "1500"), ("-0", "0"), ("-12", "-12"), ("12345678901234567890", "12345678901234567890"),
        ("100e-2", "1"), ("0.0", "0"), ("10.50e1", "105"), ("2E+2", "200"),
    ])
    func integralNumbers(_ literal: String, _ digits: String) {
        #expect(WarehouseTyping.number(literal) == .int(digits))
    }

    @Test(arguments: ["1e-3", "0.1", "1.25", "1E400", "-2.5", "12.5e-1"])
    func fractionalNumbers(_ literal: String) {
        #expect(WarehouseTyping.number(literal) == .float(literal))
    }

    @Test func valueNames() {
        #expect(WarehouseValue.bool(true).rudderType == "boolean")
        #expect(WarehouseValue.float("1.5").postgresType == "numeric")
        #expect(WarehouseValue.datetime("x").postgresType == "timestamp with time zone")
        #expect(WarehouseValue.bool(false).text == "false")
    }
}
