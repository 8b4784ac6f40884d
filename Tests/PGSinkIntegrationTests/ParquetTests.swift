import Foundation
import PGSink
import PGSinkCore
import Testing

/// Parquet files written by pyarrow (every type, encoding, codec and page version pgsink reads,
/// nulls, empty and many row groups, Spark's INT96), each loaded and compared row by row with
/// what DuckDB reads from the same file; and corrupt files, which fail with a clear error and
/// commit nothing. The files are written once per test run by `parquet-python`
/// (scripts/install-test-tools).
@Suite("Parquet files")
struct ParquetTests {
    static let comparedFiles = [
        "types", "types_flba_decimals", "types_binary",
        "codec_none", "codec_none_v2", "codec_snappy", "codec_snappy_v2", "codec_gzip", "codec_gzip_v2",
        "codec_zstd", "codec_zstd_v2", "codec_lz4", "codec_lz4_v2",
        "plain_v1", "plain_v2", "dictionary_v1", "dictionary_v2",
        "delta_binary_packed_v1", "delta_binary_packed_v2", "delta_length_byte_array_v1", "delta_length_byte_array_v2",
        "delta_byte_array_v1", "delta_byte_array_v2", "byte_stream_split_v1", "byte_stream_split_v2",
        "rle_boolean_v1", "rle_boolean_v2",
        "many_pages", "many_row_groups", "empty_row_groups", "no_rows", "int96",
        "nested_v1", "nested_v2", "nested_many_pages",
    ]

    /// In one batch (values as text, the first batch of a new table), and in batches of 16 rows
    /// (after the first, values in binary COPY form straight from the column buffers).
    @Test(arguments: comparedFiles, [50_000, 16])
    func fileLoadsAsDuckDBReadsIt(_ name: String, batchRows: Int) throws {
        let dir = try Self.files()
        let db = try TestDatabase()
        let summary = try db.load(paths: [dir + "/" + name + ".parquet"], into: name) { $0.batchRows = batchRows }
        let expected = try Expected(path: dir + "/" + name + ".expected.json")
        #expect(summary.rows == expected.rows.count)
        let select = expected.columns.map { column -> String in
            let q = quoteIdentifier(column.name)
            switch column.kind {
            case "bytea": return "encode(\(q), 'hex')"
            case "ts": return "(extract(epoch from \(q)) * 1000000)::bigint::text"
            default: return "\(q)::text"
            }
        }.joined(separator: ", ")
        let got = try db.rows("SELECT \(select) FROM \(db.table(name).quoted) AS t ORDER BY t.id")
        #expect(got.count == expected.rows.count)
        for (row, (mine, theirs)) in zip(got, expected.rows).enumerated() {
            for (k, column) in expected.columns.enumerated()
            where !(column.kind == "json" ? Self.sameJSON(mine[k], theirs[k]) : Self.same(mine[k], theirs[k])) {
                Issue.record("\(name) row \(row) column \(column.name): pgsink stored \(mine[k] ?? "NULL"), DuckDB reads \(theirs[k] ?? "NULL")")
            }
        }
    }

    @Test func columnTypesComeFromTheFileSchema() throws {
        let dir = try Self.files()
        let db = try TestDatabase()
        try db.load(paths: [dir + "/types.parquet"], into: "types")
        let types = try db.rows(
            """
            SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = '\(db.table("types").quoted)'::regclass AND attnum > 0 ORDER BY attnum
            """)
        let byName = Dictionary(uniqueKeysWithValues: types.map { ($0[0]!, $0[1]!) })
        let wanted = [
            "id": "bigint", "i8": "smallint", "i16": "smallint", "i32": "integer", "i64": "bigint", "u8": "smallint",
            "u16": "integer", "u32": "bigint", "u64": "numeric", "f32": "real", "f64": "double precision",
            "flag": "boolean", "name": "text", "doc": "jsonb", "uid": "uuid", "bin": "bytea", "fixed": "bytea",
            "day": "date", "t_ms": "time without time zone", "t_us": "time without time zone",
            "ts_ms": "timestamp without time zone", "ts_us": "timestamp without time zone",
            "ts_ns": "timestamp without time zone", "ts_utc": "timestamp with time zone",
            "dec_small": "numeric(9,2)", "dec_wide": "numeric(38,10)", "dec_int": "numeric(18,0)",
        ]
        for (column, type) in wanted { #expect(byName[column] == type, "\(column)") }
        let int96 = try TestDatabase()
        try int96.load(paths: [dir + "/int96.parquet"], into: "spark")
        #expect(try int96.columnTypes("spark")["when96"] == "timestamp with time zone")
    }

    @Test(arguments: [
        ("corrupt_truncated_footer", "the Parquet footer is missing or truncated"),
        ("corrupt_wrong_magic", "not a Parquet file: it does not start with the magic bytes PAR1"),
        ("corrupt_page_header", "bad page header"),
        ("refused_encrypted", "encrypted Parquet file (magic PARE)"),
        ("refused_brotli", "the BROTLI compression is not supported"),
    ])
    func brokenFilesFailClearlyAndCommitNothing(_ name: String, _ message: String) throws {
        let dir = try Self.files()
        let db = try TestDatabase()
        #expect(throws: (any Error).self) { try db.load(paths: [dir + "/" + name + ".parquet"], into: "broken") }
        do {
            try db.load(paths: [dir + "/" + name + ".parquet"], into: "broken")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
            #expect("\(error)".contains(name + ".parquet"), "\(error)")
        }
        #expect(try !db.exists("broken"))
        // Into an existing table, after a good file in the same load: nothing of either lands.
        try db.load(paths: [dir + "/codec_none.parquet"], into: "kept")
        #expect(throws: (any Error).self) {
            try db.load(paths: [dir + "/codec_snappy.parquet", dir + "/" + name + ".parquet"], into: "kept")
        }
        #expect(try db.count("kept") == 40)
    }

    /// Files with random bytes changed (anywhere, and often in the footer) or cut short: each
    /// loads or fails with an error naming the file, and a failed load leaves the table as it
    /// was. A trap or a hang here would be a crash of the whole load (the seeds found some).
    @Test func corruptedFilesLoadOrFailCleanly() throws {
        let dir = try Self.files()
        let db = try TestDatabase()
        let bases = [
            "codec_none", "codec_snappy_v2", "dictionary_v1", "delta_binary_packed_v2", "delta_byte_array_v1",
            "byte_stream_split_v2", "nested_v1", "rle_boolean_v2", "int96", "codec_zstd", "delta_length_byte_array_v2",
        ]
        let nestings: [NestedMode] = [.jsonb, .flatten(depth: 1000), .tables]
        var random = SplitMix(seed: 2026_12_03)
        let path = dir + "/fuzzed.parquet"
        var failures = 0
        for k in 0..<240 {
            var data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/" + bases[k % bases.count] + ".parquet")))
            for _ in 0..<[1, 1, 2, 4, 16][Int(random.next() % 5)] {
                let i = random.next() % 5 < 3
                    ? Int(random.next() % UInt64(data.count)) : data.count - 1 - Int(random.next() % UInt64(min(data.count, 600)))
                data[i] = [0, 255, UInt8(truncatingIfNeeded: random.next()), data[i] ^ (1 << (random.next() % 8))][Int(random.next() % 4)]
            }
            if random.next() % 10 == 0 { data = Array(data[..<Int(random.next() % UInt64(data.count))]) + data.suffix(8) }
            try Data(data).write(to: URL(fileURLWithPath: path))
            let before = try db.rows("SELECT count(*) FROM pg_tables WHERE schemaname = '\(db.schema)'")
            do {
                try db.load(paths: [path], into: "fuzzed\(k % 3)", mode: .replace) { $0.nested = nestings[k % 3] }
            } catch {
                failures += 1
                #expect("\(error)".contains("fuzzed.parquet"), "case \(k): \(error)")
                #expect(try db.rows("SELECT count(*) FROM pg_tables WHERE schemaname = '\(db.schema)'") == before, "case \(k)")
            }
        }
        #expect(failures > 100, "most corrupted files fail: \(failures)")
    }

    @Test func formatFlagReadsAnOddNameAndStandardInput() throws {
        let dir = try Self.files()
        let db = try TestDatabase()
        let odd = try TestDatabase.file("rows.bin", try Data(contentsOf: URL(fileURLWithPath: dir + "/types.parquet")))
        let run = try CommandLineTests.run([
            "load", odd, "--format", "parquet", "--to", db.url, "--table", "\(db.schema).odd",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.count("odd") == 40)
        let piped = try CommandLineTests.run([
            "load", "-", "--format", "parquet", "--to", db.url, "--table", "\(db.schema).piped",
        ], stdinData: try Data(contentsOf: URL(fileURLWithPath: dir + "/many_row_groups.parquet")))
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(try db.count("piped") == 1000)
        let unnamed = try CommandLineTests.run(["load", odd, "--to", db.url, "--table", "\(db.schema).unnamed"])
        #expect(unnamed.status != 0)
        #expect(unnamed.stderr.contains("--format parquet"), "\(unnamed.stderr)")
    }

    @Test func columnsLoadsOnlyTheNamedColumnsAndReadsOnlyTheirChunks() throws {
        let dir = try Self.files()
        let db = try TestDatabase()
        // The corrupt page is in column i32's chunk, which --columns leaves unread.
        try db.load(paths: [dir + "/corrupt_page_header.parquet"], into: "some") { $0.columns = ["id", "name"] }
        #expect(try db.columnTypes("some").keys.sorted() == ["id", "name"])
        #expect(try db.count("some") == 40)
        try db.load(paths: [dir + "/nested_v1.parquet"], into: "lists") { $0.columns = ["lol"] }
        #expect(try db.column("SELECT lol::text FROM \(db.table("lists").quoted)") == [
            "[[1], [2, 3]]", "[[]]", nil, "[null, [4]]", "[]",
        ])
        #expect(throws: (any Error).self) {
            try db.load(paths: [dir + "/types.parquet"], into: "missing") { $0.columns = ["id", "nope"] }
        }
        let run = try CommandLineTests.run([
            "load", dir + "/types.parquet", "--columns", "id, flag", "--to", db.url, "--table", "\(db.schema).flags",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try db.columnTypes("flags") == ["id": "bigint", "flag": "boolean"])
        // The config file's key (a list, under Sling's name for it), and the environment's.
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("pgsink-columns-\(UUID().uuidString).yaml")
        try "destination:\n  select: [id, name]\n".write(to: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: config) }
        let configured = try CommandLineTests.run([
            "load", dir + "/types.parquet", "--config", config.path, "--to", db.url, "--table", "\(db.schema).named",
        ])
        #expect(configured.status == 0, "\(configured.stderr)")
        #expect(try db.columnTypes("named") == ["id": "bigint", "name": "text"])
        let fromEnvironment = try CommandLineTests.run(
            ["load", dir + "/types.parquet", "--to", db.url, "--table", "\(db.schema).env"],
            environment: ["PGSINK_COLUMNS": "day"])
        #expect(fromEnvironment.status == 0, "\(fromEnvironment.stderr)")
        #expect(try db.columnTypes("env") == ["day": "date"])
        let bad = try CommandLineTests.run(
            ["load", dir + "/types.parquet", "--to", db.url, "--table", "\(db.schema).bad"],
            environment: ["PGSINK_COLUMNS": " , "])
        #expect(bad.status != 0 && bad.stderr.contains("PGSINK_COLUMNS"), "\(bad.stderr)")
    }

    /// `--nested flatten` makes columns of a file's groups (down to the depth asked), and keeps
    /// lists, maps and JSON strings whole; the columns take their types from the file's schema,
    /// and an absent group leaves its columns NULL.
    @Test func nestedFlattenMakesColumnsOfGroups() throws {
        let dir = try Self.files()
        let db = try TestDatabase()
        try db.load(paths: [dir + "/nested_deep.parquet"], into: "deep") { $0.nested = .flatten(depth: 1000) }
        #expect(try db.columnTypes("deep") == [
            "id": "bigint", "s__d": "date", "s__inner__n": "smallint", "s__inner__tags": "jsonb", "s__kv": "jsonb",
            "s__doc": "jsonb", "orders": "jsonb",
        ])
        #expect(try db.rows("SELECT id::text, s__d::text, s__inner__n::text, s__inner__tags::text, s__kv::text, s__doc::text FROM \(db.table("deep").quoted) ORDER BY id") == [
            ["0", "2024-01-31", "7", #"["a", "b"]"#, #"{"k": "v"}"#, #"{"x": {"y": 1}}"#],
            ["1", nil, nil, nil, nil, nil],
            ["2", nil, nil, nil, nil, nil],
            ["3", "1999-12-31", nil, "[]", "{}", "[1]"],
        ])
        try db.load(paths: [dir + "/nested_deep.parquet"], into: "shallow") { $0.nested = .flatten(depth: 1) }
        #expect(try db.columnTypes("shallow") == [
            "id": "bigint", "s__d": "date", "s__inner": "jsonb", "s__kv": "jsonb", "s__doc": "jsonb", "orders": "jsonb",
        ])
        #expect(try db.column("SELECT s__inner::text FROM \(db.table("shallow").quoted) ORDER BY id") == [
            #"{"n": 7, "tags": ["a", "b"]}"#, nil, nil, #"{"n": null, "tags": []}"#,
        ])
        // The flat file loads as it does without --nested.
        try db.load(paths: [dir + "/nested_v1.parquet"], into: "v1") { $0.nested = .flatten(depth: 1000) }
        #expect(try db.columnTypes("v1") == [
            "id": "bigint", "ints": "jsonb", "names": "jsonb", "pt__x": "bigint", "pt__y": "text", "m": "jsonb",
            "lol": "jsonb", "los": "jsonb",
        ])
        #expect(try db.column("SELECT coalesce(pt__x::text, '-') || '/' || coalesce(pt__y, '-') FROM \(db.table("v1").quoted) ORDER BY id") == [
            "1/p", "-/-", "-/-", "3/q", "4/",
        ])
    }

    /// Flattened names that clash keep every value: a second `s__d` gets a column of its own,
    /// names that differ only by case are told apart, and no declared type is forced on the
    /// wrong column.
    @Test func nestedFlattenKeepsClashingNamesApart() throws {
        let dir = try Self.files()
        let db = try TestDatabase()
        let summary = try db.load(paths: [dir + "/nested_clash.parquet"], into: "clash") { $0.nested = .flatten(depth: 1000) }
        #expect(summary.rows == 2)
        let types = try db.columnTypes("clash")
        #expect(types == ["id": "bigint", "s__d": "text", "s__d_2": "date", "s__x": "integer", "s__x_2": "text"])
        #expect(types["s__d"] == "text")
        let table = db.table("clash").quoted
        #expect(try db.column("SELECT s__d FROM \(table) ORDER BY id") == ["not a date", "x"])
        let all = try db.rows("SELECT to_jsonb(t)::text FROM \(table) t ORDER BY id").map { $0[0] ?? "" }
        #expect(all[0].contains("2024-01-31") && all[0].contains("\"text\"") && all[0].contains(": 5"), "\(all)")
    }

    /// Dates and timestamps before year 1 and after 9999 stay dates and timestamps, in one text
    /// batch and in binary batches alike.
    @Test(arguments: [50_000, 2])
    func datesBeforeYearOneAndAfter9999KeepTheirType(batchRows: Int) throws {
        let dir = try Self.files()
        let db = try TestDatabase()
        try db.load(paths: [dir + "/far_dates.parquet"], into: "far") { $0.batchRows = batchRows }
        #expect(try db.columnTypes("far") == [
            "id": "bigint", "days": "bigint", "d": "date", "ts": "timestamp without time zone",
            "tz": "timestamp with time zone",
        ])
        let wrong = try db.rows(
            """
            SELECT days::text, d::text, ts::text FROM \(db.table("far").quoted)
            WHERE d IS DISTINCT FROM '1970-01-01'::date + days::int
               OR ts IS DISTINCT FROM '1970-01-01'::timestamp + days * interval '1 day' + interval '1 microsecond'
               OR tz IS DISTINCT FROM '1970-01-01 00:00:00+00'::timestamptz + days * interval '1 day'
            """)
        #expect(wrong.isEmpty, "\(wrong)")
        #expect(try db.count("far") == 6)
    }

    /// A field with an empty name inside a group loads under every `--nested` mode: as the key
    /// `""` in jsonb, as the column `s__` when flattened.
    @Test func anEmptyFieldNameLoadsUnderEveryNesting() throws {
        let dir = try Self.files()
        let db = try TestDatabase()
        for (n, nested) in [NestedMode.jsonb, .flatten(depth: 1000), .tables].enumerated() {
            try db.load(paths: [dir + "/nested_empty_name.parquet"], into: "empty\(n)") { $0.nested = nested }
            let rows = try db.column("SELECT (to_jsonb(t) - '_pgsink_id')::text FROM \(db.table("empty\(n)").quoted) t ORDER BY id")
            #expect(rows == (n == 0
                ? [#"{"s": {"": 5, "a": "x"}, "id": 1}"#, #"{"s": null, "id": 2}"#]
                : [#"{"id": 1, "s__": 5, "s__a": "x"}"#, #"{"id": 2, "s__": null, "s__a": null}"#]), "\(nested)")
        }
    }

    /// `--nested tables` makes child tables of a file's lists, as for JSON input: list elements
    /// that are groups give columns (typed from the schema), others a `value` column; NULL
    /// elements are skipped but keep their position.
    @Test func nestedTablesMakesChildTablesOfLists() throws {
        let dir = try Self.files()
        let db = try TestDatabase()
        try db.load(paths: [dir + "/nested_deep.parquet"], into: "deep") { $0.nested = .tables }
        #expect(try db.columnTypes("deep") == [
            "id": "bigint", "s__d": "date", "s__inner__n": "smallint", "s__kv": "jsonb", "s__doc": "jsonb",
            "_pgsink_id": "uuid",
        ])
        #expect(try db.columnTypes("deep__s__inner__tags")["value"] == "text")
        let orders = try db.columnTypes("deep__orders")
        #expect(orders["sku"] == "text" && orders["qty"] == "integer")
        #expect(try db.columnTypes("deep__orders__opts")["value"] == "bigint")
        let items = "SELECT p.id::text, o._pgsink_list_idx::text, o.sku, o.qty::text FROM \(db.table("deep").quoted) p JOIN \(db.table("deep__orders").quoted) o ON o._pgsink_parent_id = p._pgsink_id ORDER BY 1, 2"
        #expect(try db.rows(items) == [
            ["0", "0", "A-1", "2"], ["0", "1", "B", nil], ["3", "1", "C", "-1"],
        ])
        let opts = "SELECT o.sku, x._pgsink_list_idx::text, x.value::text FROM \(db.table("deep__orders").quoted) o JOIN \(db.table("deep__orders__opts").quoted) x ON x._pgsink_parent_id = o._pgsink_id ORDER BY 1, 2"
        #expect(try db.rows(opts) == [["A-1", "0", "10"], ["A-1", "1", "20"], ["C", "0", "30"]])
        #expect(try db.column("SELECT value FROM \(db.table("deep__s__inner__tags").quoted) ORDER BY _pgsink_list_idx") == ["a", "b"])
        // Lists of scalars and of lists; a merge replaces a record's children.
        try db.load(paths: [dir + "/nested_v1.parquet"], into: "v1") {
            $0.nested = .tables
            $0.mode = .merge
            $0.primaryKey = ["id"]
        }
        #expect(try db.columnTypes("v1__ints")["value"] == "integer")
        #expect(try db.columnTypes("v1__lol")["value"] == "jsonb")
        #expect(try db.columnTypes("v1__los")["a"] == "double precision")
        let ints = "SELECT p.id::text, c._pgsink_list_idx::text, c.value::text FROM \(db.table("v1").quoted) p JOIN \(db.table("v1__ints").quoted) c ON c._pgsink_parent_id = p._pgsink_id ORDER BY 1, 2"
        #expect(try db.rows(ints) == [["0", "0", "1"], ["0", "1", "2"], ["3", "1", "3"], ["4", "0", "5"]])
        try db.load(paths: [dir + "/nested_v1.parquet"], into: "v1") {
            $0.nested = .tables
            $0.mode = .merge
            $0.primaryKey = ["id"]
        }
        #expect(try db.count("v1__ints") == 4)
        #expect(try db.count("v1__names") == 5)
    }

    /// After a table's first batch, values go in binary COPY form (no text between the column
    /// buffers and the COPY): a load of 7-row batches stores exactly what the text batches stored.
    @Test func valuesInBinaryCOPYFormEqualTheTextForm() throws {
        let dir = try Self.files()
        let db = try TestDatabase()
        let path = dir + "/types_binary.parquet"
        try db.load(paths: [path], into: "binary") {
            $0.metadata = true
            $0.batchRows = 100
        }
        try db.load(paths: [path], into: "binary") {
            $0.metadata = true
            $0.force = true
            $0.batchRows = 7
        }
        let columns = "id, i8, i16, i32, i64, u8, u16, u32, u64, f32, f64, flag, name, doc, uid, bin, fixed, day, "
            + "t_ms, t_us, ts_ms, ts_us, ts_ns, ts_utc, dec_small, dec_wide, dec_int"
        let table = db.table("binary").quoted
        let loads = try db.column("SELECT DISTINCT _pgsink_load_id FROM \(table) ORDER BY 1")
        #expect(loads.count == 2)
        let differing = try db.column(
            """
            SELECT count(*) FROM ((SELECT \(columns) FROM \(table) WHERE _pgsink_load_id = \(loads[0]!)
              EXCEPT ALL SELECT \(columns) FROM \(table) WHERE _pgsink_load_id = \(loads[1]!))
            UNION ALL (SELECT \(columns) FROM \(table) WHERE _pgsink_load_id = \(loads[1]!)
              EXCEPT ALL SELECT \(columns) FROM \(table) WHERE _pgsink_load_id = \(loads[0]!))) AS d
            """)
        #expect(differing == ["0"])
        #expect(try db.count("binary") == 80)
    }

    @Test func modesAndTheLedgerWorkAsForCSV() throws {
        let dir = try Self.files()
        let db = try TestDatabase()
        let path = dir + "/types.parquet"
        try db.load(paths: [path], into: "keyed", mode: .merge) { $0.primaryKey = ["id"] }
        try db.load(paths: [path, dir + "/many_pages.parquet"], into: "keyed", mode: .merge) { $0.primaryKey = ["id"] }
        #expect(try db.rows("SELECT count(*), count(DISTINCT id) FROM \(db.table("keyed").quoted)") == [["5000", "5000"]])
        try db.load(paths: [path], into: "swapped", mode: .replace)
        try db.load(paths: [dir + "/empty_row_groups.parquet"], into: "swapped", mode: .replace)
        #expect(try db.count("swapped") == 6)
        // An append of a file already loaded into the table is refused by the ledger.
        try db.load(paths: [path], into: "once")
        #expect(throws: (any Error).self) { try db.load(paths: [path], into: "once") }
        #expect(try db.count("once") == 40)
        try db.load(paths: [path], into: "once") { $0.force = true }
        #expect(try db.count("once") == 80)
    }

    @Test func theSameFileTwiceIsRefusedInOneAppend() throws {
        let dir = try Self.files()
        let db = try TestDatabase()
        let copy = try TestDatabase.file("copy.parquet", try Data(contentsOf: URL(fileURLWithPath: dir + "/types.parquet")))
        #expect(throws: (any Error).self) { try db.load(paths: [dir + "/types.parquet", copy], into: "twice") }
        #expect(try !db.exists("twice"))
    }

    // MARK: fixtures

    struct Expected {
        var columns: [(name: String, kind: String)]
        var rows: [[String?]]

        init(path: String) throws {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
            columns = (object["columns"] as! [[String]]).map { ($0[0], $0[1]) }
            rows = (object["rows"] as! [[Any]]).map { row in row.map { $0 as? String } }
        }
    }

    /// Equal text, or the same floating-point number (`Infinity` and `inf`, `1e+10` and `10000000000.0`).
    static func same(_ a: String?, _ b: String?) -> Bool {
        if a == b { return true }
        guard let a, let b, let x = Double(a), let y = Double(b) else { return false }
        return x == y || (x.isNaN && y.isNaN)
    }

    /// The same JSON value, however spaced (jsonb's text and DuckDB's `to_json`).
    static func sameJSON(_ a: String?, _ b: String?) -> Bool {
        guard let a, let b else { return a == b }
        let options: JSONSerialization.ReadingOptions = [.fragmentsAllowed]
        guard let x = try? JSONSerialization.jsonObject(with: Data(a.utf8), options: options) as? NSObject,
            let y = try? JSONSerialization.jsonObject(with: Data(b.utf8), options: options) as? NSObject
        else { return false }
        return x.isEqual(y)
    }

    /// The generated files' directory, written once per test process.
    static func files() throws -> String { try generated.get() }

    private static let generated: Result<String, any Error> = Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pgsink-parquet-" + UUID().uuidString).path
        let script = try TestDatabase.file("write_parquet.py", generator)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try testTool("parquet-python"))
        process.arguments = [script, dir]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw LoadError("writing the Parquet test files failed: \(text)") }
        return dir
    }

    /// Writes the files with pyarrow, and what DuckDB reads from each as `NAME.expected.json`.
    static let generator = #"""
        import sys, os, json, datetime, decimal, uuid
        import pyarrow as pa, pyarrow.parquet as pq, duckdb

        out = sys.argv[1]
        os.makedirs(out, exist_ok=True)
        N = 40

        def rows(n, f):
            return [None if i % 7 == 3 else f(i) for i in range(n)]

        def base_table(n=N):
            utc = datetime.timezone.utc
            cols = {
                'id': pa.array(range(n), pa.int64()),
                'i8': pa.array(rows(n, lambda i: (i * 37) % 256 - 128), pa.int8()),
                'i16': pa.array(rows(n, lambda i: (i * 1111) % 65536 - 32768), pa.int16()),
                'i32': pa.array(rows(n, lambda i: (-1) ** i * (2**31 - 1 - i)), pa.int32()),
                'i64': pa.array(rows(n, lambda i: (-1) ** i * (2**63 - 1 - i)), pa.int64()),
                'u8': pa.array(rows(n, lambda i: (255 - i) % 256), pa.uint8()),
                'u16': pa.array(rows(n, lambda i: (65535 - i) % 65536), pa.uint16()),
                'u32': pa.array(rows(n, lambda i: 2**32 - 1 - i), pa.uint32()),
                'u64': pa.array(rows(n, lambda i: 2**64 - 1 - i), pa.uint64()),
                'f32': pa.array(rows(n, lambda i: [1.5, -0.1, 3.4e38, 1e-7, float('inf'), 0.0][i % 6] * (i + 1 if i % 6 != 4 else 1)), pa.float32()),
                'f64': pa.array(rows(n, lambda i: [1.5, -0.1, 1e300, 5e-324, float('-inf'), 2.0 / 3][i % 6]), pa.float64()),
                'flag': pa.array(rows(n, lambda i: i % 3 == 0), pa.bool_()),
                'name': pa.array(rows(n, lambda i: ['', 'ascii', 'ümlaut ✓', 'tab\there', 'back\\slash', 'new\nline'][i % 6] + str(i % 5)), pa.string()),
                'doc': pa.array(rows(n, lambda i: json.dumps({"a": i, "b": [1, "x"]})), pa.json_(pa.string())),
                'uid': pa.array(rows(n, lambda i: uuid.UUID(int=i * 0x1234567890ABCDEF1234567).bytes), pa.uuid()),
                'bin': pa.array(rows(n, lambda i: bytes(range(i % 9))), pa.binary()),
                'fixed': pa.array(rows(n, lambda i: bytes([i % 256, 0, 255, 92])), pa.binary(4)),
                'day': pa.array(rows(n, lambda i: datetime.date(1900, 1, 1) + datetime.timedelta(days=(i % 40) * 997)), pa.date32()),
                't_ms': pa.array(rows(n, lambda i: (i * 3_600_123) % 86_400_000), pa.time32('ms')),
                't_us': pa.array(rows(n, lambda i: (i * 3_600_123_457) % 86_400_000_000), pa.time64('us')),
                't_ns': pa.array(rows(n, lambda i: ((i * 3_600_123_457) % 86_400_000_000) * 1000), pa.time64('ns')),
                'ts_ms': pa.array(rows(n, lambda i: (-1) ** i * (i % 40) * 86_400_123 * 370), pa.timestamp('ms')),
                'ts_us': pa.array(rows(n, lambda i: (-1) ** i * (i % 40) * 86_400_123_457 * 370), pa.timestamp('us')),
                'ts_ns': pa.array(rows(n, lambda i: (-1) ** i * (i % 40) * 86_400_123_457_000 * 370), pa.timestamp('ns')),
                'ts_utc': pa.array(rows(n, lambda i: (-1) ** i * (i % 40) * 86_400_123_457 * 370), pa.timestamp('us', tz='UTC')),
                'dec_small': pa.array(rows(n, lambda i: decimal.Decimal((-1) ** i * (i % 40) * 1234567) / 100), pa.decimal128(9, 2)),
                'dec_wide': pa.array(rows(n, lambda i: decimal.Decimal((-1) ** i * (10**37 - i)) / 10**10), pa.decimal128(38, 10)),
                'dec_int': pa.array(rows(n, lambda i: decimal.Decimal(i * 100 - 1999)), pa.decimal128(18, 0)),
            }
            return pa.table(cols)

        KINDS = {'ints': 'json', 'names': 'json', 'pt': 'json', 'm': 'json', 'lol': 'json', 'los': 'json', 'tags': 'json',
                 'f32': 'float', 'f64': 'float', 'bin': 'bytea', 'fixed': 'bytea', 'ts_ms': 'ts', 'ts_us': 'ts',
                 'ts_ns': 'ts', 'ts_utc': 'ts', 'when96': 'ts'}

        def duck_expr(name, kind):
            q = '"' + name + '"'
            if kind == 'bytea': return f'lower(hex({q}))'
            if kind == 'ts': return f'CAST(epoch_us({q}) AS VARCHAR)'
            if kind == 'json': return f'CAST(to_json({q}) AS VARCHAR)'
            return f'CAST({q} AS VARCHAR)'

        def expect(path, name):
            con = duckdb.connect()
            schema = pq.read_schema(path)
            cols = [(f.name, KINDS.get(f.name, 'text')) for f in schema]
            select = ', '.join(duck_expr(n, k) for n, k in cols)
            got = con.execute(f"SELECT {select} FROM read_parquet('{path}') ORDER BY id").fetchall()
            with open(os.path.join(out, name + '.expected.json'), 'w') as f:
                json.dump({'columns': cols, 'rows': [list(r) for r in got]}, f)

        def write(name, table, **options):
            path = os.path.join(out, name + '.parquet')
            pq.write_table(table, path, **options)
            expect(path, name)

        t = base_table()
        write('types', t, compression='snappy', store_decimal_as_integer=True)
        write('types_flba_decimals', t, compression='none')
        # Without nanosecond times (which go as text), every column can go in binary COPY form.
        write('types_binary', t.drop_columns(['t_ns']), compression='snappy')
        for codec in ['none', 'snappy', 'gzip', 'zstd', 'lz4']:
            write('codec_' + codec, t, compression=codec)
            write('codec_' + codec + '_v2', t, compression=codec, data_page_version='2.0')

        numbers = t.select(['id', 'i8', 'i16', 'i32', 'i64', 'u8', 'u16', 'u32', 'u64', 'day', 't_us', 'ts_us', 'dec_small'])
        strings = t.select(['id', 'name', 'doc', 'bin'])
        floats = t.select(['id', 'f32', 'f64', 'i32', 'i64'])
        for version in ['1.0', '2.0']:
            v = '_v2' if version == '2.0' else '_v1'
            write('plain' + v, t, use_dictionary=False, data_page_version=version, compression='none')
            write('dictionary' + v, t, use_dictionary=True, data_page_version=version, compression='snappy')
            write('delta_binary_packed' + v, numbers, use_dictionary=False, data_page_version=version,
                  column_encoding={c: 'DELTA_BINARY_PACKED' for c in numbers.column_names}, store_decimal_as_integer=True)
            write('delta_length_byte_array' + v, strings, use_dictionary=False, data_page_version=version,
                  column_encoding={c: 'DELTA_LENGTH_BYTE_ARRAY' for c in ['name', 'doc', 'bin']})
            write('delta_byte_array' + v, strings, use_dictionary=False, data_page_version=version,
                  column_encoding={c: 'DELTA_BYTE_ARRAY' for c in ['name', 'doc', 'bin']})
            write('byte_stream_split' + v, floats, use_dictionary=False, data_page_version=version,
                  column_encoding={c: 'BYTE_STREAM_SPLIT' for c in floats.column_names if c != 'id'})
            write('rle_boolean' + v, t.select(['id', 'flag']), use_dictionary=False, data_page_version=version,
                  column_encoding={'flag': 'RLE'})

        big = base_table(5000)
        write('many_pages', big, data_page_size=512, compression='zstd', write_batch_size=64)
        write('many_row_groups', base_table(1000).select(['id', 'i32', 'name', 'ts_us']), row_group_size=1)

        # Row groups with no rows between others, and a file with no rows at all.
        path = os.path.join(out, 'empty_row_groups.parquet')
        small = base_table(6).select(['id', 'name'])
        with pq.ParquetWriter(path, small.schema) as w:
            w.write_table(small.slice(0, 3))
            w.write_table(small.slice(3, 0))
            w.write_table(small.slice(3, 3))
            w.write_table(small.slice(6, 0))
        expect(path, 'empty_row_groups')
        write('no_rows', small.slice(0, 0))

        # Spark-style legacy timestamps.
        spark = pa.table({'id': pa.array(range(N), pa.int64()),
                          'when96': pa.array(rows(N, lambda i: (-1) ** i * (i % 40) * 86_400_123_457 * 370), pa.timestamp('us'))})
        write('int96', spark, use_deprecated_int96_timestamps=True)

        # Nested fields, each one jsonb column: lists (of lists, of structs), structs and maps,
        # with NULL and empty values at every level.
        nested = pa.table({
            'id': pa.array(range(5), pa.int64()),
            'ints': pa.array([[1, 2], [], None, [None, 3], [5]], pa.list_(pa.int32())),
            'names': pa.array([['a', None], ['b"q'], [], None, ['x', 'y', 'z']], pa.list_(pa.string())),
            'pt': pa.array([{'x': 1, 'y': 'p'}, None, {'x': None, 'y': None}, {'x': 3, 'y': 'q'}, {'x': 4, 'y': ''}],
                           pa.struct([('x', pa.int64()), ('y', pa.string())])),
            'm': pa.array([[('k', 1)], [], None, [('a', 2), ('b', None)], [('z', 9)]], pa.map_(pa.string(), pa.int64())),
            'lol': pa.array([[[1], [2, 3]], [[]], None, [None, [4]], []], pa.list_(pa.list_(pa.int64()))),
            'los': pa.array([[{'a': 1.5}], [None], [], None, [{'a': None}, {'a': -2.25}]],
                            pa.list_(pa.struct([('a', pa.float64())]))),
        })
        for version in ['1.0', '2.0']:
            write('nested' + ('_v2' if version == '2.0' else '_v1'), nested, data_page_version=version)
        big_nested = pa.table({
            'id': pa.array(range(3000), pa.int64()),
            'tags': pa.array([None if i % 11 == 0 else [str(j) for j in range(i % 4)] for i in range(3000)],
                             pa.list_(pa.string())),
        })
        write('nested_many_pages', big_nested, data_page_size=256, row_group_size=700, write_batch_size=50)
        # Deeper nesting for --nested flatten|tables: structs in structs, a list of structs
        # holding a list, a map and a JSON string inside a struct; two row groups.
        deep = pa.table({
            'id': pa.array(range(4), pa.int64()),
            's': pa.StructArray.from_arrays([
                pa.array([datetime.date(2024, 1, 31), None, None, datetime.date(1999, 12, 31)], pa.date32()),
                pa.array([{'n': 7, 'tags': ['a', 'b']}, None, None, {'n': None, 'tags': []}],
                         pa.struct([('n', pa.int16()), ('tags', pa.list_(pa.string()))])),
                pa.array([[('k', 'v')], None, None, []], pa.map_(pa.string(), pa.string())),
                pa.array(['{"x": {"y": 1}}', None, None, '[1]'], pa.json_(pa.string())),
            ], names=['d', 'inner', 'kv', 'doc'], mask=pa.array([False, True, False, False])),
            'orders': pa.array([
                [{'sku': 'A-1', 'qty': 2, 'opts': [10, 20]}, {'sku': 'B', 'qty': None, 'opts': None}],
                None,
                [],
                [None, {'sku': 'C', 'qty': -1, 'opts': [30]}],
            ], pa.list_(pa.struct([('sku', pa.string()), ('qty', pa.int32()), ('opts', pa.list_(pa.int64()))]))),
        })
        write('nested_deep', deep, row_group_size=2)
        # Flattened names that clash: a top-level s__d beside a group s with a member d, and groups
        # whose names differ only by case.
        clash = pa.table({
            'id': pa.array(range(2), pa.int64()),
            's__d': pa.array(['not a date', 'x'], pa.string()),
            's': pa.array([{'d': datetime.date(2024, 1, 31), 'X': 5}, None], pa.struct([('d', pa.date32()), ('X', pa.int32())])),
            'S': pa.array([{'x': 'text'}, {'x': None}], pa.struct([('x', pa.string())])),
        })
        write('nested_clash', clash)
        # A field with an empty name inside a group.
        write('nested_empty_name', pa.table({
            'id': pa.array([1, 2], pa.int64()),
            's': pa.array([{'': 5, 'a': 'x'}, None], pa.struct([('', pa.int64()), ('a', pa.string())])),
        }))
        # Dates and timestamps before year 1 and after 9999, which PostgreSQL writes as 0222-09-04 BC and 10183-09-21.
        far = [-1_000_000, -719_163, -719_162, 2_932_896, 3_000_000, 0]
        write('far_dates', pa.table({
            'id': pa.array(range(len(far)), pa.int64()),
            'days': pa.array(far, pa.int64()),
            'd': pa.array(far, pa.date32()),
            'ts': pa.array([f * 86_400_000_000 + 1 for f in far], pa.timestamp('us')),
            'tz': pa.array([f * 86_400_000_000 for f in far], pa.timestamp('us', tz='UTC')),
        }))

        # Corrupt copies of a good file.
        good = open(os.path.join(out, 'codec_none.parquet'), 'rb').read()
        open(os.path.join(out, 'corrupt_truncated_footer.parquet'), 'wb').write(good[:-20])
        open(os.path.join(out, 'corrupt_wrong_magic.parquet'), 'wb').write(b'PAR2' + good[4:])
        offset = pq.ParquetFile(os.path.join(out, 'codec_none.parquet')).metadata.row_group(0).column(3).data_page_offset
        open(os.path.join(out, 'refused_encrypted.parquet'), 'wb').write(b'PARE' + good[4:-4] + b'PARE')
        write('refused_brotli', t, compression='brotli')
        bad = bytearray(good)
        bad[offset:offset + 8] = b'\xff' * 8
        open(os.path.join(out, 'corrupt_page_header.parquet'), 'wb').write(bytes(bad))
        print('corrupt ok')
        """#
}
