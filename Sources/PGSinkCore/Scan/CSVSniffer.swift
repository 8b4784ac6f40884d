/// Decides how a CSV file is written from its first bytes (the sample, `sampleSize`), the way
/// DuckDB's sniffer does: the delimiter, quote and escape that split the most records into the
/// same number of fields, comment and junk lines before the header, whether the first record is
/// a header, and per column the null markers, local numbers and dates to read. What the user
/// said always wins. It reads only the sample, once; the load then scans the same bytes.
public enum CSVSniffer {
    /// How much of a file the sniffer reads.
    public static let sampleSize = 1 << 20
    static let delimiters: [UInt8] = [44, 59, 9, 124]

    /// What the sniffer decided, for the scanner, the value rewrite and the summary.
    public struct Result: Sendable {
        public var dialect: CSVDialect
        public var rewrite: ValueRewrite
        /// Advice for the summary: a column that would have a type with an option.
        public var hints: [String]
        /// The number format and date formats applied, by column name, for the summary.
        public var numberColumns: [String] = []
        public var dateColumns: [String: String] = [:]
        public var nullMarkerColumns: [String] = []
        /// The columns' names (the header's, or `column_N`), by field position.
        public var names: [String] = []

        /// Leaves the values of the named columns as they are written (a `--type NAME=text`):
        /// no number or date reading there; null markers still apply.
        public mutating func keepAsWritten(_ keep: (String) -> Bool) {
            for (index, name) in names.enumerated() where keep(name) {
                guard var rule = rewrite.columns[index] else { continue }
                rule.number = nil
                rule.date = nil
                rewrite.columns[index] = rule == ValueRewrite.ColumnRule() ? nil : rule
                numberColumns.removeAll { $0 == name }
                dateColumns[name] = nil
            }
        }
    }

    /// Sniffs `n` bytes of `source`'s text (`isWhole`: the input ends there).
    public static func sniff(
        _ p: UnsafePointer<UInt8>, _ n: Int, isWhole: Bool, source: String, options: CSVDialectOptions,
        defaultDelimiter: UInt8, values: ValueOptions
    ) throws(InputError) -> Result {
        var start = 0
        if n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF { start = 3 }
        try checkUTF8(p, start, n, isWhole: isWhole, source: source)
        // Only whole lines: the last one may be cut by the sample's end.
        var end = n
        if !isWhole {
            while end > start && p[end - 1] != 10 && p[end - 1] != 13 { end -= 1 }
        }
        let text = Sample(p: p, start: start, end: end)
        var dialect = CSVDialect(delimiter: options.delimiter ?? defaultDelimiter)
        dialect.comment = options.comment ?? (text.startsWithCommentLines ? 35 : nil)
        let given = options.skipLines
        let from = text.offset(afterLines: given ?? 0)
        let best = try chooseSplit(
            text, from: from, options: options, defaultDelimiter: defaultDelimiter, comment: dialect.comment, source: source)
        dialect.delimiter = best.delimiter
        dialect.quote = best.quote
        dialect.escape = best.escape
        let records = text.records(from: from, dialect: best.dialect(comment: dialect.comment), fields: true).records
        let junk = given == nil ? shape(records).junk : 0
        dialect.skipLines = given ?? (junk > 0 ? records[junk].line - 1 : 0)
        let body = Array(records[min(junk, records.count)...])
        dialect.hasHeader = options.hasHeader ?? looksLikeHeader(body, text)
        var result = Result(dialect: dialect, rewrite: ValueRewrite(), hints: [])
        let rows = dialect.hasHeader ? Array(body.dropFirst()) : body
        let names = columnNames(body.first, hasHeader: dialect.hasHeader, text: text)
        result.names = names
        ValueAnalysis(text: text, rows: rows, names: names, values: values, semicolon: dialect.delimiter == 59)
            .decide(into: &result)
        return result
    }

    // MARK: - Splitting

    struct Split {
        var delimiter: UInt8
        var quote: UInt8
        var escape: UInt8?
        var fields = 1
        var consistent = 0
        var junk = 0

        func dialect(comment: UInt8?) -> CSVDialect {
            CSVDialect(delimiter: delimiter, quote: quote, escape: escape, comment: comment)
        }

        /// Better: more records split alike, then fewer junk lines before them.
        func beats(_ other: Split) -> Bool {
            if consistent != other.consistent { return consistent > other.consistent }
            return junk < other.junk
        }
    }

    /// The delimiter, quote and escape that split the sample best; an error naming the candidates
    /// when two delimiters split it equally well.
    static func chooseSplit(
        _ text: Sample, from: Int, options: CSVDialectOptions, defaultDelimiter: UInt8, comment: UInt8?, source: String
    ) throws(InputError) -> Split {
        let delimiters = options.delimiter.map { [$0] } ?? Self.delimiters
        let quotes: [UInt8] = options.quote.map { [$0] } ?? [34, 39]
        let escapes: [UInt8?] = options.escape.map { [$0] } ?? [nil, 92]
        var best: Split? = nil
        var tied: [Split] = []
        for delimiter in delimiters {
            var bestOfDelimiter: Split? = nil
            for quote in quotes where quote != delimiter {
                for escape in escapes {
                    var split = Split(delimiter: delimiter, quote: quote, escape: escape)
                    let parsed = text.records(from: from, dialect: split.dialect(comment: comment), fields: false)
                    // Another quote than " counts only where it quotes something: a " left open
                    // is the file's error to report, not a sign that ' is the quote.
                    if quote != 34 && options.quote == nil && !parsed.quoted { continue }
                    (split.fields, split.junk, split.consistent) = shape(parsed.records)
                    if split.fields < 2 && options.delimiter == nil { continue }
                    let better = bestOfDelimiter.map { current in
                        split.beats(current)
                            || (escape != nil && !current.beats(split) && text.escapesQuotes(escape!, quote))
                    }
                    if better ?? true { bestOfDelimiter = split }
                }
            }
            guard let candidate = bestOfDelimiter else { continue }
            if let current = best, !candidate.beats(current) {
                if !current.beats(candidate) { tied.append(candidate) }
                continue
            }
            best = candidate
            tied = []
        }
        guard let best else {
            // One column: nothing splits the lines.
            return Split(delimiter: defaultDelimiter, quote: options.quote ?? 34, escape: options.escape ?? nil)
        }
        if !tied.isEmpty {
            let names = ([best] + tied).map { "'\(CSVDialect.spelling($0.delimiter))' (\($0.fields) fields)" }
            throw InputError(
                source: source, line: 0,
                message: "cannot tell the delimiter: \(names.joined(separator: " and ")) each split every line of the "
                    + "first \(text.end - text.start) bytes alike; pass --delimiter with the right one")
        }
        return best
    }

    /// The shape of a parse: the usual field count, the records of other counts at the top
    /// (title or export lines above the header: at most 20, each at most half as wide), and how
    /// many records have the usual count. A record of the wrong width further down stays, for the
    /// scanner to report.
    static func shape(_ records: [Sample.Record]) -> (width: Int, junk: Int, consistent: Int) {
        guard !records.isEmpty else { return (1, 0, 0) }
        var counts: [Int: Int] = [:]
        for record in records { counts[record.fieldCount, default: 0] += 1 }
        let width = counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }!.key
        var junk = 0
        // At most half as wide: a header one field short is the file's error, not junk.
        while junk < records.count && junk < 20 && records[junk].fieldCount <= max(1, width / 2) { junk += 1 }
        if junk == records.count || records[junk].fieldCount != width { junk = 0 }
        return (width, junk, counts[width]!)
    }

    // MARK: - Header

    /// A first record whose every value fits the type of its column below, when some column has a
    /// type other than text, is data; anything else (names over numbers, or text everywhere) is a
    /// header, as most files have one.
    static func looksLikeHeader(_ records: [Sample.Record], _ text: Sample) -> Bool {
        guard let first = records.first, records.count > 1 else { return true }
        var typed = false
        for column in 0..<first.fieldCount {
            var fits = Candidates.all
            for record in records.dropFirst() where column < record.fields.count {
                let field = record.fields[column]
                if field.isNull { continue }
                fits.formIntersection(text.candidates(field))
            }
            let type = fits.inferredType
            if type == .text { continue }
            typed = true
            let head = first.fields[column]
            if !head.isNull && !text.candidates(head).isSuperset(of: Candidates.accepted(by: type)) { return true }
        }
        return !typed
    }

    static func columnNames(_ first: Sample.Record?, hasHeader: Bool, text: Sample) -> [String] {
        guard let first else { return [] }
        return first.fields.indices.map { k in
            let name = hasHeader ? text.string(first.fields[k]) : ""
            return name.isEmpty ? "column_\(k + 1)" : name
        }
    }

    // MARK: - Encoding

    /// Text that is not UTF-8 fails here, before the server says it less clearly; bytes that are
    /// one character each (0x80–0xFF alone) are what Windows-1252 and Latin-1 write.
    static func checkUTF8(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int, isWhole: Bool, source: String)
        throws(InputError)
    {
        var i = start
        while i < n {
            let c = p[i]
            if c < 0x80 {
                i += 1
                continue
            }
            let length = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0
            var valid = length > 0
            if valid {
                if i + length > n {
                    if !isWhole { return }
                    valid = false
                } else {
                    for k in 1..<length where p[i + k] & 0xC0 != 0x80 { valid = false }
                }
            }
            if valid {
                i += length
                continue
            }
            var line = 1
            for k in start..<i where p[k] == 10 { line += 1 }
            let hex = String(c, radix: 16, uppercase: true)
            throw InputError(
                source: source, line: line,
                message: "the text is not UTF-8 (byte 0x\(hex) stands alone); it looks like Windows-1252 or Latin-1: "
                    + "pass --encoding windows-1252 (or the file's encoding, e.g. --encoding latin1)")
        }
    }
}
