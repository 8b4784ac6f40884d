import Foundation
import PGSinkCore

/// Every option of a destination load (`pgsink load`, and what `pgsink check` reads of it), from
/// flags, the config file's `destination` section and the environment. Each option is declared
/// once, in `options`: its config key, its aliases, its default. docs/configuration.md lists them.
public struct LoadSettings: Settings, Equatable {
    public var table: String?
    public var writeMode: WriteMode?
    public var deleteStale: Bool?
    public var primaryKey: ColumnList?
    public var batchRows: Int?
    public var batchBytes: Int?
    public var batchTimeout: Seconds?
    public var skipSchemaCreation: Bool?
    public var lowerCase: Bool?
    public var allowReservedWords: Bool?
    public var createIndexes: Bool?
    public var createPerformanceIndexes: Bool?
    public var schemaContract: SchemaContract?
    public var maxRejects: Int?
    public var nested: NestedMode?
    public var metadata: Bool?
    public var jobs: Jobs?
    public var readers: Jobs?
    public var connectRetries: Int?
    public var logLevel: LogLevel?
    public var nullValues: NullValues?
    public var recordsPath: String?
    public var columns: ColumnList?
    public var citus = DistributionOptions()

    public init() {}

    public static let options: [ConfigOption<LoadSettings>] = [
        // Nilus's dest_table is schema.table.
        ConfigOption(\.table, "table", aliases: ["dest_table"]),
        ConfigOption(
            \.writeMode, "write_mode", aliases: ["incremental_strategy", "write_disposition", "mode"],
            default: WriteMode(.append)),
        ConfigOption(\.deleteStale, "delete_stale", default: false, goesWith: "write_mode"),
        ConfigOption(\.primaryKey, "primary_key", default: ColumnList([])),
        ConfigOption(\.batchRows, "batch_size", default: 50_000, check: .positive),
        ConfigOption(\.batchBytes, "batch_size_bytes", default: 16 << 20, check: .positive),
        // Rows from standard input or a pipe wait this long for their batch to fill; files never wait.
        ConfigOption(\.batchTimeout, "batch_timeout", default: Seconds(1)),
        ConfigOption(\.skipSchemaCreation, "skip_schema_creation", default: false),
        ConfigOption(\.lowerCase, "lower_case", default: true),
        ConfigOption(\.allowReservedWords, "allow_reserved_words", default: false),
        ConfigOption(\.createIndexes, "create_indexes", default: true),
        ConfigOption(\.createPerformanceIndexes, "create_performance_indexes", default: false),
        ConfigOption(\.schemaContract, "schema_contract", default: .evolve),
        ConfigOption(\.maxRejects, "max_rejects", default: 0),
        ConfigOption(\.nested, "nested", default: .jsonb),
        ConfigOption(\.metadata, "metadata", default: false),
        ConfigOption(\.jobs, "jobs", default: 1, check: .positive),
        ConfigOption(\.readers, "readers", default: .auto, check: .positive),
        ConfigOption(\.connectRetries, "connect_retries", default: 5),
        // No default: without one, --verbose decides.
        ConfigOption(\.logLevel, "log_level", aliases: ["pgx_log_level"]),
        // Strings that mean NULL in CSV fields and JSON strings; `auto` for the common markers.
        ConfigOption(\.nullValues, "null_values", default: NullValues([])),
        // JSON documents: the records array inside the top-level object (dlt's data_selector).
        ConfigOption(
            \.recordsPath, "records_path", aliases: ["data_selector"],
            check: Check("takes keys joined by dots, e.g. data.items") { JSONDocumentScanner.parsePath($0) != nil }),
        // Parquet: only these top-level columns are loaded, and only their column chunks read (Sling's select).
        ConfigOption(
            \.columns, "columns", aliases: ["select"],
            check: Check("takes column names, a list or joined by commas, e.g. id,name") {
                !$0.names.isEmpty && !$0.names.contains("")
            }),
        // Citus (docs/scale-out.md): how a table pgsink creates is spread over the cluster.
        .group(\.citus),
    ]

    public init(from decoder: any Decoder) throws {
        try decodeOptions(from: decoder)
        // overwrite-delete-stale deletes stale rows unless the same layer says delete_stale: false.
        if writeMode?.deletesStale == true { deleteStale = deleteStale ?? true }
    }

    public func encode(to encoder: any Encoder) throws { try encodeOptions(to: encoder) }

    /// Flags over the config file over `PGSINK_<KEY>` variables; `effective(_:)` adds the defaults.
    /// A layer that sets `write_mode` also decides `delete_stale`.
    public static func resolve(flags: LoadSettings, file: LoadSettings?, environment: [String: String])
        throws(SettingError) -> LoadSettings
    {
        flags.overlaid(on: file ?? LoadSettings()).overlaid(on: try LoadSettings(environment: environment))
    }

    /// The Citus options, together.
    public var distribution: Distribution { citus.distribution }

    public var naming: NamingRules {
        NamingRules(keepCase: !effective(\.lowerCase), allowReservedWords: effective(\.allowReservedWords))
    }
}
