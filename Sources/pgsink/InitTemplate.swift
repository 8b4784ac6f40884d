import Foundation

/// A project `pgsink init` writes: pgsink.yaml with one pipeline, .env.example, a README and,
/// where the source is local, sample data that `pgsink run` loads as it is.
struct InitTemplate {
    var name: String
    var summary: String
    /// The pipelines section (indented under `pipelines:`).
    var pipeline: String
    /// Secret names for .env.example (never values).
    var secrets: [(String, String)] = []
    /// Extra files: path → content.
    var extras: [String: String] = [:]
    var readme: String

    func files(destination: String) -> [String: String] {
        var files = extras
        files["pgsink.yaml"] = """
            # pgsink pipelines: `pgsink run` runs each once, `pgsink run --watch` on its schedule.
            # Keys: docs/pipelines.md (pipelines) and docs/configuration.md (destination).
            # ${NAME} is read from the environment (see .env.example); secrets never go in this file.

            \(destination)
            pipelines:
            \(pipeline)
            """
        var env = "# Secrets pgsink.yaml reads as ${NAME}. Copy to .env, fill in, and load it (set -a; . ./.env).\n"
        for (name, what) in secrets { env += "# \(what)\n\(name)=\n" }
        files[".env.example"] = env
        files["README.md"] = """
            # A pgsink \(name) pipeline

            \(readme)

            ```sh
            pgsink run                 # every pipeline once
            pgsink run --watch         # on their schedules, until SIGTERM
            pgsink history             # what each run did
            pgsink status              # last run, next run, lag
            ```

            See docs/pipelines.md in pgsink's documentation.

            """
        return files
    }

    static let all: [InitTemplate] = [files, singer, airbyte, postgres, cdc, events]

    static let files = InitTemplate(
        name: "files", summary: "CSV / JSON Lines files by glob; only new or changed files load",
        pipeline: """
              - name: sample
                source:
                  type: files
                  paths: [data/*.csv, data/*.jsonl.gz]   # globs, relative to this file; plain or gzip
                  table: sample                           # all files into one table (default: each file's name)
                destination:
                  write_mode: append                      # append, replace or merge (with primary_key)
                schedule:
                  every: 15m                              # or cron: "0 * * * *"
                  # exclude_window: {start: "22:00", end: "02:00"}   # UTC, may cross midnight

            """,
        extras: ["data/sample.csv": "id,name,joined\n1,Ada,2024-01-02\n2,Grace,2024-02-03\n3,Linus,2024-03-04\n"],
        readme: "Loads `data/*.csv` into the table `sample`. A file loads once: run again after adding a file, and only the new one loads.")

    static let singer = InitTemplate(
        name: "singer", summary: "a Singer tap (its STATE is kept and passed back with --state)",
        pipeline: """
              - name: tap
                source:
                  type: singer
                  command: tap-postgres          # any Singer tap on PATH, or a path
                  config: tap-config.json        # the tap's own config
                  catalog: catalog.json          # optional: the selected streams
                schedule:
                  every: 1h

            """,
        secrets: [("TAP_PASSWORD", "the tap's source password, if its config reads it")],
        extras: ["tap-config.json": "{\n  \"host\": \"localhost\",\n  \"port\": 5432,\n  \"user\": \"reader\",\n  \"database\": \"app\"\n}\n"],
        readme: "Runs a Singer tap into PostgreSQL. The last STATE pgsink committed is passed back with `--state`, so each run continues where the last one ended.")

    static let airbyte = InitTemplate(
        name: "airbyte", summary: "an Airbyte source (source-faker or any airbyte-source-*)",
        pipeline: """
              - name: faker
                source:
                  type: airbyte
                  command: source-faker          # the source's executable
                  config: source-config.json
                  catalog: configured-catalog.json   # the configured catalog (sync modes)
                schedule:
                  every: 1h

            """,
        extras: ["source-config.json": "{\"count\": 100, \"seed\": 1, \"parallelism\": 1}\n"],
        readme: "Runs an Airbyte source into PostgreSQL. Make `configured-catalog.json` from the source's `discover` output. The state is kept and passed back with `--state`.")

    static let postgres = InitTemplate(
        name: "postgres", summary: "tables of another PostgreSQL, binary COPY, full or incremental by a cursor",
        pipeline: """
              - name: orders
                source:
                  type: postgres
                  url: ${SOURCE_URL}
                  tables: [public.orders]
                  cursor: updated_at             # leave out for a full copy each run
                  # primary_key: [id]            # when the table has none
                schedule:
                  cron: "*/15 * * * *"

            """,
        secrets: [("SOURCE_URL", "the source server, postgresql://user:password@host/db")],
        readme: "Copies tables from another PostgreSQL. With `cursor`, each run copies the rows whose cursor is at or after the last value seen, merged by key.")

    static let cdc = InitTemplate(
        name: "cdc", summary: "a source PostgreSQL's changes through a logical replication slot",
        pipeline: """
              - name: changes
                source:
                  type: cdc
                  url: ${SOURCE_URL}             # wal_level = logical on the source
                  tables: [public.orders]
                  slot: pgsink
                  publication: pgsink
                schedule:
                  every: 1m

            """,
        secrets: [("SOURCE_URL", "the source server, postgresql://user:password@host/db (a role with REPLICATION)")],
        readme: "Applies a source PostgreSQL's changes (`pgsink cdc stream --once` on each run). The first run copies the tables, later runs apply what changed.")

    static let events = InitTemplate(
        name: "events", summary: "tracking events from RudderStack / Segment SDKs (the event API), loaded on a schedule",
        pipeline: """
              - name: web
                source:
                  type: events
                  listen: "127.0.0.1:8080"           # the SDKs' data plane URL / host
                  write_keys:                        # the keys the SDKs send; the source names the schema
                    - {key: "${WEB_WRITE_KEY}", source: web_app}
                  # append: false                    # merge event tables by messageId (other keys: docs/events.md)
                schedule:
                  every: 1m                          # the warehouse sync: staged events load every minute
                  # start_at: "00:00"                # or cron: "*/5 * * * *"
                  # exclude_window: {start: "09:00", end: "17:00"}   # UTC: no loads in office hours

            """,
        secrets: [("WEB_WRITE_KEY", "the write key the web SDK sends (any hard-to-guess text)")],
        readme: "`pgsink run --watch` serves the event API on 127.0.0.1:8080 (point the SDKs there) and loads what it "
            + "received every minute into the tables RudderStack writes (tracks, identifies, users, one per event). "
            + "Each request is committed before its 200. `pgsink run` alone loads what is staged and exits.")
}
