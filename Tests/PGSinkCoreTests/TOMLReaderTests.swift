import PGSinkCore
import Testing

@Suite("TOML reader")
struct TOMLReaderTests {
    @Test func dltSecretsFile() throws {
        let tree = try TOMLReader.parse("""
            # dlt's layout
            [destination.postgres.credentials]
            database = "dlt_data"
            username = 'loader'
            password = "p\\"w\\u00e9" # trailing comment
            host = "localhost"
            port = 5_432
            connect_timeout = 15
            ratio = 0.5
            ssl = true
            tags = ["a", 'b', 3]

            [destination.postgres]
            create_indexes = false
            inline = { a = 1, b.c = "d" }
            """)
        let destination = try #require(tree["destination"] as? [String: Any])
        let postgres = try #require(destination["postgres"] as? [String: Any])
        let credentials = try #require(postgres["credentials"] as? [String: Any])
        #expect(credentials["database"] as? String == "dlt_data")
        #expect(credentials["username"] as? String == "loader")
        #expect(credentials["password"] as? String == "p\"wé")
        #expect(credentials["port"] as? Int == 5432)
        #expect(credentials["ratio"] as? Double == 0.5)
        #expect(credentials["ssl"] as? Bool == true)
        #expect((credentials["tags"] as? [Any])?.count == 3)
        #expect(postgres["create_indexes"] as? Bool == false)
        let inline = try #require(postgres["inline"] as? [String: Any])
        #expect((inline["b"] as? [String: Any])?["c"] as? String == "d")
    }

    @Test func dottedKeysAtTheTop() throws {
        let tree = try TOMLReader.parse(#"destination.postgres.credentials="postgresql://loader:pw@localhost/dlt_data""#)
        let value = ((tree["destination"] as? [String: Any])?["postgres"] as? [String: Any])?["credentials"] as? String
        #expect(value == "postgresql://loader:pw@localhost/dlt_data")
    }

    @Test(arguments: [
        ("a = b", 1, "strings need quotes"),
        ("\n\na = \"open", 3, "unterminated string"),
        ("a = 1\na = 2", 2, "defined twice"),
        ("[[x]]", 1, "arrays of tables"),
        ("a = 1 b", 1, "after the value"),
        ("a = \"\"\"x\"\"\"", 1, "multi-line"),
    ])
    func errorsNameTheLine(_ text: String, _ line: Int, _ message: String) {
        #expect {
            try TOMLReader.parse(text)
        } throws: { error in
            guard let failure = error as? TOMLReader.Failure else { return false }
            return failure.line == line && failure.message.contains(message)
        }
    }
}
