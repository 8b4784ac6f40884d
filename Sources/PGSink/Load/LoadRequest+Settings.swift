import PGSinkCore

extension LoadRequest {
    /// A load as resolved settings describe it (flags, file, environment, defaults); what only
    /// flags say (format, delimiter, type overrides, indexes, …) the caller sets on the result.
    public init(inputs: [String], table: TableName, settings: LoadSettings) {
        self.init(inputs: inputs, table: table)
        mode = settings.effective(\.writeMode).mode
        deleteStale = settings.effective(\.deleteStale)
        primaryKey = settings.effective(\.primaryKey).names
        batchRows = settings.effective(\.batchRows)
        batchBytes = settings.effective(\.batchBytes)
        batchSeconds = settings.effective(\.batchTimeout).seconds
        createSchema = !settings.effective(\.skipSchemaCreation)
        naming = settings.naming
        createIndexes = settings.effective(\.createIndexes)
        performanceIndexes = settings.effective(\.createPerformanceIndexes)
        contract = settings.effective(\.schemaContract)
        maxRejects = settings.effective(\.maxRejects)
        nested = settings.effective(\.nested)
        metadata = settings.effective(\.metadata)
        jobs = settings.effective(\.jobs)
        readers = settings.effective(\.readers)
        distribution = settings.distribution
        recordsPath = settings.recordsPath.flatMap(JSONDocumentScanner.parsePath) ?? []
        columns = settings.columns?.names
    }
}
