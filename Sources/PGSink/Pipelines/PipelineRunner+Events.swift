import Foundation
import Logging
import PGSinkCore

/// An `events` pipeline: `pgsink serve` as a pipeline source. `pgsink run` loads what the event
/// API staged (`pgsink serve --once`); under `pgsink run --watch` the pipeline serves the API and
/// loads on its schedule (RudderStack's warehouse sync), each load that moved events a run of the
/// history. The loads are `EventLoad`'s, through the same writer as `pgsink serve`, and keep its
/// position (`_pgsink_state` row `events`), so `serve` and the pipeline take turns over the same
/// staging table without loading an event twice.
extension PipelineRunner {
    /// The server's settings: the source's `events` keys, the pipeline's schedule and destination.
    func eventServerSettings(_ source: EventsSource) -> EventServerSettings {
        let keys = source.settings.writeKeys?.entries ?? []
        for entry in keys { Secrets.register(entry.key) }
        return EventServerSettings(
            events: source.settings, keys: keys, schedule: pipeline.schedule ?? .default, connectionSchema: connection.schema,
            destination: pipeline.destination)
    }

    /// One load of what is staged (no server).
    func loadEvents(_ source: EventsSource, connector: Connector, outcome: inout PipelineOutcome) throws {
        var settings = eventServerSettings(source)
        settings.once = true
        let summary = try EventServer.run(settings, connector: connector, retries: retries, logger: logger)
        outcome.rows = summary.rows
        outcome.state = Self.eventState(summary.position)
    }

    static func eventState(_ position: Int64) -> String { #"{"id":\#(position)}"# }

    /// Serves the event API until `stopping` says so (then finishes the requests in flight and
    /// loads what they staged). A load that failed is recorded and the next one starts again from
    /// the committed position, as the server keeps accepting events; `report` hears each run.
    public func serve(stopping: @escaping @Sendable () -> Bool, report: @escaping (PipelineOutcome) -> Void) throws {
        guard case .events(let source) = pipeline.source else { return }
        let settings = eventServerSettings(source)
        guard !settings.writeKeys.isEmpty else {
            throw LoadError(
                "pipeline \(pipeline.name): the events source has no write_keys (the keys the SDKs send); add them to its "
                    + "source: or to the file's events: section, e.g. write_keys: [{key: \"${WEB_WRITE_KEY}\", source: web}]")
        }
        let ledger = try self.ledger()
        let connector = Connector(connection, logger: logger, retries: retries)
        defer { connector.close() }
        let name = pipeline.name, kind = pipeline.source.kind, host = settings.host, logger = self.logger
        func record(_ outcome: PipelineOutcome, started: Date) {
            do {
                try ledger.end(run: try ledger.begin(pipeline: name, source: kind, started: started), outcome)
            } catch {
                logger.error("pipeline \(name): the run could not be recorded in the history: \(Secrets.redact("\(error)"))")
            }
            report(outcome)
        }
        _ = try EventServer.run(
            settings, connector: connector, retries: retries, logger: logger, stopping: stopping,
            eachLoad: { body in
                let started = Date()
                var outcome = PipelineOutcome()
                do {
                    let summary = try body()
                    guard summary.events > 0 else { return summary }
                    outcome.rows = summary.rows
                    outcome.state = Self.eventState(summary.position)
                    record(outcome, started: started)
                    return summary
                } catch {
                    let failure = FailureReport(error)
                    outcome.status = failure.code == "interrupted" ? .cancelled : .failed
                    outcome.errorCode = failure.code
                    outcome.error = failure.message
                    record(outcome, started: started)
                    if error is Interrupted || Interrupt.signal != nil { throw error }
                    logger.warning("pipeline \(name): the load failed (\(failure.message)); the next one starts again from what was committed")
                    return EventServer.Summary()
                }
            },
            ready: { port in logger.notice("pipeline \(name): the event API is listening on http://\(host):\(port)") })
    }
}
