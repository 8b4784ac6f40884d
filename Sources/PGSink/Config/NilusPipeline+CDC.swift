import Foundation
import PGSinkCore

extension NilusPipeline {
    /// The pipeline's part of `pgsink cdc stream`'s settings; the command's flags go over them
    /// afterwards, and `check(_:)` looks at the result.
    public func configure(_ settings: inout LogicalSettings) {
        if let slot { settings.slot = slot }
        if let publication { settings.publication = publication }
        settings.tables = tables
        settings.schemas = schemas
        if let snapshot { settings.snapshot = snapshot }
        settings.destinationTable = destTable
    }

    /// `dest_table` names one table: the stream's settings (after the flags) must include
    /// exactly one source table.
    public func check(_ settings: LogicalSettings) throws {
        guard let table = settings.destinationTable else { return }
        guard settings.tables.count == 1, settings.schemas.isEmpty else {
            let included = settings.tables + settings.schemas.map { "every table of \($0)" }
            let what = included.isEmpty ? "no table is listed, so every table of the publication is included" : "it includes "
                + included.joined(separator: ", ")
            throw ConnectionError(
                "\(place): spec.sink.options.dest_table \(table) takes the changes of one source table, and \(what); "
                    + "list one table in table.include.list (or --tables), or leave dest_table out and map schemas with --schema-map")
        }
    }

    /// The pipeline's part of `pgsink cdc apply`'s settings: `dest_table` receives every event
    /// (a `--table-format` with no placeholder), and Debezium's placeholder for unchanged values.
    public func configure(_ settings: inout CDCSettings) {
        if let destTable { settings.tableFormat = destTable }
        if let unavailableValue { settings.unavailableValue = unavailableValue }
    }
}
