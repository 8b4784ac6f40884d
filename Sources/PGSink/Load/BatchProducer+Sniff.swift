import PGSinkCore

extension BatchProducer {
    /// Reads the sample (the first `CSVSniffer.sampleSize` bytes) into the input's first batch,
    /// where the scanner then finds it: the sniffer never makes a second pass over the input.
    func sniff(_ file: InputFile, options: CSVDialectOptions, into batch: RecordBatch) throws -> CSVSniffer.Result {
        var isWhole = false
        let started = ContinuousClock.now
        while batch.bytes.count < CSVSniffer.sampleSize {
            try Interrupt.check()
            let want = CSVSniffer.sampleSize - batch.bytes.count
            guard file.waitsForWriter else {
                if try file.read(into: batch.bytes, count: want) == 0 {
                    isWhole = true
                    break
                }
                continue
            }
            // A pipe: sniff what came within the batch timeout, once some whole line is there, so
            // a slow writer's rows still reach the server as they arrive.
            let n = try file.read(into: batch.bytes, count: want, waitingAtMost: 0.25)
            if n == 0 {
                isWhole = true
                break
            }
            let hasLine = UnsafeBufferPointer(start: batch.bytes.base, count: batch.bytes.count).contains(10)
            if hasLine && seconds(since: started) >= request.batchSeconds { break }
        }
        var result = try CSVSniffer.sniff(
            batch.bytes.base, batch.bytes.count, isWhole: isWhole, source: file.name, options: options,
            defaultDelimiter: 44, values: request.values)
        let overrides = request.typeOverrides
        result.keepAsWritten { name in
            (overrides[name] ?? overrides[request.naming.normalize(name)]) == .text
        }
        var report = CSVDialectReport(source: file.name, dialect: result.dialect, encoding: file.transcodedFrom)
        if !result.numberColumns.isEmpty, let number = result.rewrite.columns.values.compactMap(\.number).first {
            report.numberFormat = "decimal '\(CSVDialect.spelling(number.decimal))'"
                + (number.thousands.map { " thousands '\(CSVDialect.spelling($0))'" } ?? "")
        }
        report.numberColumns = result.numberColumns
        report.dateFormats = result.dateColumns
        report.nullValues = request.values.nullValues
        report.nullMarkerColumns = result.nullMarkerColumns
        dialects.append(report)
        hints += result.hints.map { "\(file.name): \($0)" }
        return result
    }
}
