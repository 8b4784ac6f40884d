import Testing

@testable import PGSinkCore

@Suite("Warehouse names")
struct WarehouseNamesTests {
    let plain = WarehouseSettings()
    var divided: WarehouseSettings {
        var s = WarehouseSettings()
        s.underscoreDivideNumbers = true
        return s
    }
    var unescaped: WarehouseSettings {
        var s = WarehouseSettings()
        s.skipReservedKeywordsEscaping = true
        return s
    }

    /// (key, column by default, column with underscoreDivideNumbers)
    @Test(arguments: [
        ("firstName", "first_name", "first_name"),
        ("first name", "first_name", "first_name"),
        ("FirstName", "first_name", "first_name"),
        ("XMLHttpRequest", "xml_http_request", "xml_http_request"),
        ("isISO8601", "is_iso8601", "is_iso_8601"),
        ("HTTPServer2", "http_server2", "http_server_2"),
        ("ABc", "a_bc", "a_bc"),
        ("aB", "a_b", "a_b"),
        ("v3", "v3", "v_3"),
        ("tooLegit2Quit", "too_legit2_quit", "too_legit_2_quit"),
        ("walk500Miles", "walk500_miles", "walk_500_miles"),
        ("12ft", "_12ft", "_12_ft"),
        ("1st", "_1st", "_1st"),
        ("11th", "_11th", "_11_th"),
        ("enable 24H format", "enable_24h_format", "enable_24_h_format"),
        ("&4yasdfa(84224_fs9##_____*3q", "_4yasdfa_84224_fs9_3q", "_4_yasdfa_84224_fs_9_3_q"),
        ("omega v2", "omega_v2", "omega_v_2"),
        ("9mega", "_9mega", "_9_mega"),
        ("mega&", "mega", "mega"),
        ("ome$ga", "ome_ga", "ome_ga"),
        ("ome_ ga", "ome_ga", "ome_ga"),
        ("9mega________-________90", "_9mega_90", "_9_mega_90"),
        ("Cízǔ", "c_z", "c_z"),
        ("héllo wörld", "h_llo_w_rld", "h_llo_w_rld"),
        ("CamelCase123Key", "camel_case123_key", "camel_case_123_key"),
        ("path to $1,00,000", "path_to_1_00_000", "path_to_1_00_000"),
        ("test123", "test123", "test_123"),
        ("abc123def456", "abc123_def456", "abc_123_def_456"),
        ("abc_123_def_456", "abc_123_def_456", "abc_123_def_456"),
        ("__abc_123_def_456", "__abc_123_def_456", "__abc_123_def_456"),
        ("_abc_123_def_456", "_abc_123_def_456", "_abc_123_def_456"),
        ("_private", "_private", "_private"),
        ("_3d", "_3d", "_3_d"),
        ("123", "_123", "_123"),
        ("context.app.name", "context_app_name", "context_app_name"),
        ("userId", "user_id", "user_id"),
        ("already_snake_case", "already_snake_case", "already_snake_case"),
        ("@#$%", "", ""),
        ("日本", "", ""),
        ("", "", ""),
    ])
    func columnNames(_ key: String, _ expected: String, _ expectedDivided: String) {
        #expect(WarehouseNames.column(key, settings: plain) == expected)
        #expect(WarehouseNames.column(key, settings: divided) == expectedDivided)
    }

    /// The shortcut for keys already in snake_case must give what splitting words gives.
    @Test(arguments: [
        "abc", "abc_def", "abc_123", "_123", "__a_b", "a_1_b", "product_id", "x", "context_traits_email",
        "a1", "1a", "123", "abc__def", "abc_", "_", "", "aBc", "a-b", "a_1b", "1st",
    ])
    func plainSnakeCaseShortcut(_ key: String) {
        let leading = String(key.prefix(while: { $0 == "_" }))
        let rest = String(key.dropFirst(leading.count))
        let plain = WarehouseNames.isPlainSnakeCase(key)
        for keepNumbers in [true, false] {
            let split = leading + WarehouseSnakeCase.convert(rest, keepNumbers: keepNumbers)
            if plain { #expect(split == key, "\(key) keepNumbers: \(keepNumbers)") }
        }
        let expectedPlain = [
            "abc", "abc_def", "abc_123", "_123", "__a_b", "a_1_b", "product_id", "x", "context_traits_email",
        ]
        #expect(plain == expectedPlain.contains(key))
    }

    @Test func columnsAreCutTo63Bytes() {
        #expect(
            WarehouseNames.column(String(repeating: "a", count: 70), settings: plain)
                == String(repeating: "a", count: 63))
        #expect(
            WarehouseNames.column(
                "ThisIsAReallyLongColumnNameThatExceedsThe63CharacterLimitForPostgresTables", settings: plain)
                == "this_is_a_really_long_column_name_that_exceeds_the63_character_")
        #expect(
            WarehouseNames.column(String(repeating: "a", count: 62) + "Bc", settings: plain)
                == String(repeating: "a", count: 62) + "_")
    }

    @Test(arguments: [
        "ALL", "ANALYSE", "ANALYZE", "AND", "ANY", "ARRAY", "AS", "ASC", "ASYMMETRIC", "AUTHORIZATION", "BETWEEN",
        "BINARY", "BOTH", "CASE", "CAST", "CHECK", "COLLATE", "COLUMN", "CONSTRAINT", "CREATE", "CROSS",
        "CURRENT_DATE", "CURRENT_ROLE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER", "DEFAULT", "DEFERRABLE",
        "DESC", "DISTINCT", "DO", "ELSE", "END", "EXCEPT", "FALSE", "FOR", "FOREIGN", "FREEZE", "FROM", "FULL",
        "GRANT", "GROUP", "HAVING", "ILIKE", "IN", "INITIALLY", "INNER", "INTERSECT", "INTO", "IS", "ISNULL", "JOIN",
        "LEADING", "LEFT", "LIKE", "LIMIT", "LOCALTIME", "LOCALTIMESTAMP", "NATURAL", "NEW", "NOT", "NOTNULL",
        "NULL", "OFF", "OFFSET", "OLD", "ON", "ONLY", "OR", "ORDER", "OUTER", "OVERLAPS", "PLACING", "PRIMARY",
        "REFERENCES", "RIGHT", "SELECT", "SESSION_USER", "SIMILAR", "SOME", "SYMMETRIC", "TABLE", "THEN", "TO",
        "TRAILING", "TRUE", "UNION", "UNIQUE", "USER", "USING", "VERBOSE", "WHEN", "WHERE",
    ])
    func everyReservedWordGetsAnUnderscore(_ word: String) {
        #expect(WarehouseNames.column(word, settings: plain) == "_" + word.lowercased())
        #expect(WarehouseNames.column(word.lowercased(), settings: plain) == "_" + word.lowercased())
        #expect(WarehouseNames.column(word, settings: unescaped) == word.lowercased())
        #expect(WarehouseNames.table(word, settings: plain) == "_" + word.lowercased())
        #expect(WarehouseNames.table(word, settings: unescaped) == word.lowercased())
    }

    @Test func reservedWordListIsRudderStacks() {
        #expect(WarehouseNames.reservedWords.count == 93)
        #expect(WarehouseNames.column("orders", settings: plain) == "orders")
        #expect(WarehouseNames.column("Order", settings: plain) == "_order")
    }

    /// (event name, table, table with skipReservedKeywordsEscaping)
    @Test(arguments: [
        ("Product Added", "product_added", "product_added"),
        ("Order Completed", "order_completed", "order_completed"),
        ("tracks", "_tracks", "tracks"),
        ("Tracks", "_tracks", "tracks"),
        ("pages", "_pages", "pages"),
        ("screens", "_screens", "screens"),
        ("aliases", "_aliases", "aliases"),
        ("groups", "_groups", "groups"),
        ("accounts", "_accounts", "accounts"),
        ("users", "_users", "_users"),
        ("Users", "_users", "_users"),
        ("identifies", "_identifies", "_identifies"),
        ("group", "_group", "group"),
        ("_tracks", "_tracks", "_tracks"),
        ("1st Purchase", "_1st_purchase", "_1st_purchase"),
        ("Checkout Step 2", "checkout_step_2", "checkout_step_2"),
        ("Viewed Page v2", "viewed_page_v2", "viewed_page_v2"),
        ("!!!", "", ""),
        ("", "", ""),
    ])
    func eventTables(_ event: String, _ expected: String, _ expectedUnescaped: String) {
        #expect(WarehouseNames.table(event, settings: plain) == expected)
        #expect(WarehouseNames.table(event, settings: unescaped) == expectedUnescaped)
    }

    @Test func tablesAreCutTo63Bytes() {
        #expect(
            WarehouseNames.table(
                "ThisIsAReallyLongTableNameThatExceedsThe63CharacterLimitForPostgresTables", settings: plain)
                == "this_is_a_really_long_table_name_that_exceeds_the63_character_l")
        #expect(WarehouseNames.table(String(repeating: "x", count: 200), settings: plain).utf8.count == 63)
    }

    @Test(arguments: [
        ("omega", "omega"),
        ("omega v2 ", "omega_v_2"),
        ("9mega", "_9_mega"),
        ("mega&", "mega"),
        ("ome$ga", "ome_ga"),
        ("omega$", "omega"),
        ("ome_ ga", "ome_ga"),
        ("9mega________-________90", "_9_mega_90"),
        ("Cízǔ", "c_z"),
        ("Rudderstack", "rudderstack"),
        ("___", "stringempty"),
        ("", "stringempty"),
        ("group", "_group"),
        ("to", "to"),
        ("k3_namespace", "k_3_namespace"),
        ("JSONData", "json_data"),
        ("userID", "user_id"),
        ("My Web App", "my_web_app"),
    ])
    func namespaces(_ source: String, _ expected: String) {
        #expect(WarehouseNames.namespace(source) == expected)
    }

    @Test func namespacesAreCutTo127Bytes() {
        #expect(WarehouseNames.namespace(String(repeating: "a", count: 200)) == String(repeating: "a", count: 127))
    }
}
