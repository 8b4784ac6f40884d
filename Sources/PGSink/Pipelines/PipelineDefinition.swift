import Foundation
import PGSinkCore

/// One pipeline of a `pipelines:` section (docs/pipelines.md): a name, one source, the
/// destination (the file's `destination` section with the pipeline's own keys over it) and
/// when it runs.
public struct PipelineDefinition {
    public var name: String
    public var source: PipelineSource
    /// The destination's keys, the file's section merged with the pipeline's.
    public var destination: DestinationConfig
    /// nil: runs only when `pgsink run` is asked (not by `--watch`).
    public var schedule: SyncSchedule?

    /// The `_pgsink_state` row the writer saves this pipeline's source state in.
    public var stateId: String { "pipeline:\(name)" }
}

/// Where a pipeline's records come from.
public enum PipelineSource {
    case files(FilesSource)
    case postgres(PostgresSource)
    case singer(ToolSource)
    case airbyte(ToolSource)
    case cdc(CDCSource)
    case events(EventsSource)

    /// `files`, `postgres`, `singer`, `airbyte`, `cdc` or `events`, as `type:` names it.
    public var kind: String {
        switch self {
        case .files: "files"
        case .postgres: "postgres"
        case .singer: "singer"
        case .airbyte: "airbyte"
        case .cdc: "cdc"
        case .events: "events"
        }
    }

    /// Under `pgsink run --watch` the source is a service that runs all along (the event API),
    /// its schedule saying when it loads, rather than a run started when due.
    public var isService: Bool {
        if case .events = self { return true }
        return false
    }
}

/// Local files by glob, plain or gzip; only files whose SHA-256 fingerprint the ledger does not
/// hold for the table are loaded.
public struct FilesSource: Sendable {
    public var paths: [String]
    /// The table every file goes to; nil: each file's base name (as `pgsink load` names it).
    public var table: String?
    /// The directory relative paths start from (the config file's).
    public var directory: String
}

/// Tables of a source PostgreSQL, copied in binary (COPY out to COPY in): whole (full refresh),
/// or from the stored cursor value on (`cursor: column`, `>=` with rows merged by key, so rows
/// that share the last value are neither lost nor doubled).
public struct PostgresSource: Sendable {
    public var url: String
    public var tables: [String]
    /// A query instead of tables (its result is one destination table, `destinationTable`).
    public var query: String?
    public var cursor: String?
    /// Key columns where the table has no primary key (needed with a cursor).
    public var primaryKey: [String]
    /// The destination table of a single source table (`schema.table` or a name), else the
    /// source's name in the destination schema.
    public var destinationTable: String?
}

/// A Singer tap or an Airbyte source run as a child process: its stdout is the writer's input,
/// its stderr is logged, its exit status is checked, and the last committed state is passed back.
public struct ToolSource: Sendable {
    /// The executable and its leading arguments.
    public var command: [String]
    public var config: String?
    public var catalog: String?
}

/// A CDC feed of a source PostgreSQL (`pgsink cdc stream --once` as a pipeline).
public struct CDCSource: Sendable {
    public var url: String?
    public var settings: LogicalSettings
}

/// RudderStack and Segment tracking events (`pgsink serve` as a pipeline): `pgsink run` loads what
/// the event API staged; under `pgsink run --watch` the pipeline serves the API and its schedule
/// is the warehouse sync frequency.
public struct EventsSource: Sendable {
    /// The file's `events:` section with the source's own keys over it (`sync` is the schedule).
    public var settings: EventSettings
}

/// A pipeline definition that cannot be used; names the file, the pipeline and the key.
public struct PipelineConfigError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
