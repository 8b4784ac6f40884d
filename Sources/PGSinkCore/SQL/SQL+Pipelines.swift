/// The pipelines' tables (`pgsink run`, docs/pipelines.md), in the destination schema: one row
/// per pipeline with its last run and state, and one row per run.
extension SQL {
    public static let pipelinesName = "_pgsink_pipelines"
    public static let runsName = "_pgsink_runs"

    public static func createPipelines(schema: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(own(pipelinesName, in: schema)) (
            name text PRIMARY KEY,
            source text NOT NULL,
            state jsonb,
            last_started_at timestamptz,
            last_finished_at timestamptz,
            last_status text,
            last_run_id bigint,
            updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
        )
        """
    }

    public static func createRuns(schema: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(own(runsName, in: schema)) (
            id bigserial PRIMARY KEY,
            pipeline text NOT NULL,
            source text NOT NULL,
            started_at timestamptz NOT NULL,
            finished_at timestamptz,
            status text NOT NULL,
            rows jsonb NOT NULL DEFAULT '{}',
            rejected bigint NOT NULL DEFAULT 0,
            error_code text,
            error text,
            state jsonb
        )
        """
    }

    /// A run begins: its row (status `running`) and the pipeline's. Parameters: pipeline, source
    /// kind, start time. Returns the run's id.
    public static func beginRun(schema: String) -> String {
        """
        WITH run AS (
            INSERT INTO \(own(runsName, in: schema)) (pipeline, source, started_at, status)
            VALUES ($1, $2, $3::timestamptz, 'running') RETURNING id
        ), pipeline AS (
            INSERT INTO \(own(pipelinesName, in: schema)) (name, source, last_started_at, last_status, last_run_id)
            SELECT $1, $2, $3::timestamptz, 'running', id FROM run
            ON CONFLICT (name) DO UPDATE SET source = EXCLUDED.source, last_started_at = EXCLUDED.last_started_at,
                last_status = 'running', last_run_id = EXCLUDED.last_run_id, updated_at = clock_timestamp()
        )
        SELECT id::text FROM run
        """
    }

    /// A run ends. Parameters: run id, status (`succeeded`, `failed`, `cancelled`), rows per table
    /// (JSON), rejects, error code, error, the state after it (JSON or NULL: unchanged).
    public static func endRun(schema: String) -> String {
        """
        WITH run AS (
            UPDATE \(own(runsName, in: schema)) SET finished_at = clock_timestamp(), status = $2, rows = $3::jsonb,
                rejected = $4::bigint, error_code = $5, error = $6, state = $7::jsonb
            WHERE id = $1::bigint RETURNING pipeline, finished_at, status, state
        )
        UPDATE \(own(pipelinesName, in: schema)) p SET last_finished_at = run.finished_at, last_status = run.status,
            state = COALESCE(run.state, p.state), updated_at = clock_timestamp()
        FROM run WHERE p.name = run.pipeline
        """
    }

    /// Parameter: the pipeline's name (NULL: every pipeline), the most rows to return. Newest first:
    /// id, pipeline, source, start, seconds, status, rows (JSON), rejects, error code, error, state.
    public static func runHistory(schema: String) -> String {
        """
        SELECT id::text, pipeline, source, to_char(started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
               round(extract(epoch FROM (COALESCE(finished_at, clock_timestamp()) - started_at))::numeric, 3)::text,
               status, rows::text, rejected::text, error_code, error, state::text
        FROM \(own(runsName, in: schema)) WHERE $1::text IS NULL OR pipeline = $1
        ORDER BY id DESC LIMIT $2::bigint
        """
    }

    /// Every pipeline's row: name, source, last start and end (Unix seconds), last status, state.
    public static func pipelineRows(schema: String) -> String {
        """
        SELECT name, source, extract(epoch FROM last_started_at)::text, extract(epoch FROM last_finished_at)::text,
               last_status, state::text
        FROM \(own(pipelinesName, in: schema)) ORDER BY name
        """
    }

    /// Runs left `running` by a process that is gone (killed) are marked so. Parameter: pipeline.
    public static func abandonRuns(schema: String) -> String {
        """
        WITH stale AS (
            UPDATE \(own(runsName, in: schema)) SET status = 'abandoned', finished_at = clock_timestamp()
            WHERE pipeline = $1 AND status = 'running' RETURNING id
        )
        SELECT count(*)::text FROM stale
        """
    }

    /// Every file fingerprint the ledger recorded for a table. Parameters: table, quoted schema.table.
    public static func loadedFingerprints(schema: String) -> String {
        """
        SELECT DISTINCT f FROM \(own(ledgerName, in: schema)), unnest(files) f
        WHERE table_name = $1 AND table_oid = to_regclass($2)::oid
        """
    }
}

/// What a `postgres` source reads besides its COPY: the cursor's highest value, the rows after a
/// stored one, a query's shape; and the events an `events` source has staged but not loaded.
extension SQL {
    /// One snapshot of the source for everything a run (or `status`) reads from it.
    public static let beginSnapshotRead = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    /// The highest value of `cursor` in `from` (a table's or a query's FROM item), as text.
    public static func highestCursor(_ cursor: String, from: String) -> String {
        "SELECT max(\(quoteIdentifier(cursor)))::text FROM \(from)"
    }

    /// A copy's filter: rows whose cursor is at or past the value this transaction holds in
    /// `setting` (set with `setLocal`: the value is never pasted into SQL). `>=`, so that rows
    /// sharing the last value are read again and merged by key rather than lost.
    public static func cursorFilter(_ cursor: String, setting: String, type: String) -> String {
        "\(quoteIdentifier(cursor)) >= current_setting('\(setting)')::\(type)"
    }

    /// The source's highest cursor value and how many rows lie after the stored one (`$1`, of
    /// SQL type `type`; NULL when nothing is stored counts every row).
    public static func cursorLag(_ cursor: String, type: String, from: String) -> String {
        let column = quoteIdentifier(cursor)
        return "SELECT max(\(column))::text, (count(*) FILTER (WHERE $1::\(type) IS NULL OR \(column) > $1::\(type)))::text "
            + "FROM \(from)"
    }

    /// The table `$1` (a qualified, quoted name) as a regclass: NULL when there is none.
    public static let tableExists = "SELECT to_regclass($1)"

    /// No rows of a query, for its result's columns and types.
    public static func shape(of from: String) -> String { "SELECT * FROM \(from) LIMIT 0" }

    /// How many staged events lie after the loaded position `$1`, and the age in seconds of the
    /// oldest of them.
    public static func eventsAfter(_ staging: TableName) -> String {
        "SELECT count(*)::text, extract(epoch FROM clock_timestamp() - min(staged_at))::text FROM \(staging.quoted) WHERE id > $1"
    }
}
