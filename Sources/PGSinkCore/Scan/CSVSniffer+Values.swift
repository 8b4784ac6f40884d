extension CSVSniffer {
    /// Per column of the sample: which null markers, number format and date format make its
    /// values one type, and what to tell the user when an option would.
    struct ValueAnalysis {
        let text: Sample
        let rows: [Sample.Record]
        let names: [String]
        let values: ValueOptions
        /// A `;`-delimited file, where a decimal comma is the convention.
        let semicolon: Bool

        /// What a column's values are, read one way.
        struct Reading {
            var type: ColumnType = .text
            var number: LocalNumberFormat? = nil
            var date: LocalDateFormat? = nil
            var hints: [String] = []
            var typed: Bool { type != .text || number != nil || date != nil }

            var typeName: String {
                if number != nil { return "numeric" }
                if date != nil { return "a date or timestamp" }
                return type.sqlName
            }
        }

        func decide(into result: inout Result) {
            let explicit = values.nullValues.filter { !$0.isEmpty }.map { Array($0.utf8) }
            result.rewrite.markers = explicit
            let common = NullMarkers.common.map { Array($0.utf8) }.filter { !explicit.contains($0) }
            for (column, name) in names.enumerated() {
                let cells = rows.compactMap { column < $0.fields.count ? $0.fields[column] : nil }
                    .filter { !$0.isNull && !text.isAny($0, of: explicit) }
                let seen = common.filter { marker in cells.contains { text.isAny($0, of: [marker]) } }
                let plain = read(cells, name)
                let marked = seen.isEmpty ? plain : read(cells.filter { !text.isAny($0, of: seen) }, name)
                var chosen = plain
                var markers: [[UInt8]] = []
                if values.autoNullValues && !seen.isEmpty && marked.typed {
                    chosen = marked
                    markers = seen
                    result.nullMarkerColumns.append(name)
                } else if !seen.isEmpty && !plain.typed && marked.typed {
                    let list = seen.map { String(decoding: $0, as: UTF8.self) }.joined(separator: ",")
                    result.hints.append(
                        "column \"\(name)\" would be \(marked.typeName) if \(list) meant NULL: pass --null-values \(list) "
                            + "(or --null-values auto)")
                }
                result.hints += chosen.hints
                if chosen.number != nil { result.numberColumns.append(name) }
                if let date = chosen.date { result.dateColumns[name] = date.description }
                let rule = ValueRewrite.ColumnRule(markers: markers, number: chosen.number, date: chosen.date)
                if rule != ValueRewrite.ColumnRule() { result.rewrite.columns[column] = rule }
            }
        }

        private var explicitNumbers: Bool { values.decimalSeparator != nil || values.thousandsSeparator != nil }

        /// The number format to try: the one asked for, else a decimal comma in a `;` file.
        private var numberFormat: LocalNumberFormat? {
            if explicitNumbers {
                return LocalNumberFormat(decimal: values.decimalSeparator ?? 46, thousands: values.thousandsSeparator)
            }
            return semicolon ? LocalNumberFormat(decimal: 44, thousands: 46) : nil
        }

        func read(_ cells: [Sample.Field], _ name: String) -> Reading {
            var fits = Candidates.all
            for cell in cells { fits.formIntersection(text.candidates(cell)) }
            var reading = Reading(type: cells.isEmpty ? .text : fits.inferredType)
            guard !cells.isEmpty else { return reading }
            if let format = numberFormat, reading.type == .text || explicitNumbers {
                readNumbers(cells, name, format, into: &reading)
            }
            if reading.number == nil && reading.type == .text { readDates(cells, name, into: &reading) }
            return reading
        }

        /// Applies the number format when every value takes it and, unless it was asked for, some
        /// value can only be read that way (`1,5`; never `1,234` alone, which may be 1234).
        private func readNumbers(_ cells: [Sample.Field], _ name: String, _ format: LocalNumberFormat, into reading: inout Reading) {
            var changed = false
            var decided = false
            var ambiguous = false
            for cell in cells {
                guard let number = format.read(text.p + cell.offset, cell.length) else { return }
                if number.plain.count != cell.length || number.hasFraction { changed = true }
                if number.couldBeGrouping { ambiguous = true } else if number.hasFraction { decided = true }
            }
            if changed && (explicitNumbers || decided) {
                reading.number = format
            } else if ambiguous && !explicitNumbers {
                reading.hints.append(
                    "column \"\(name)\" holds numbers like 1,234 that may have a decimal comma or a thousands "
                        + "separator, so it stays text: pass --decimal-separator , or --thousands-separator ,")
            }
        }

        /// Applies the one date format every value takes; when several do (no day above 12), the
        /// column stays text and a hint names them. A forced format applies when the values take it.
        private func readDates(_ cells: [Sample.Field], _ name: String, into reading: inout Reading) {
            let forced = [values.dateFormat, values.timestampFormat].compactMap { $0 }
            let formats = forced.isEmpty ? LocalDateFormat.sniffed : forced
            let fitting = formats.filter { format in
                cells.allSatisfy { format.iso(text.p + $0.offset, $0.length) != nil }
            }
            if fitting.count == 1 || (!forced.isEmpty && !fitting.isEmpty) {
                reading.date = fitting[0]
            } else if fitting.count > 1 {
                let flags = fitting.map { "--date-format \($0)" }.joined(separator: " or ")
                reading.hints.append(
                    "column \"\(name)\" holds dates that fit more than one format (no day above 12 decides), so "
                        + "it stays text: pass \(flags)")
            }
        }
    }
}
