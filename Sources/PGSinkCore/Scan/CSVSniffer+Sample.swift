extension CSVSniffer {
    /// The sniffer's bytes, read the way `CSVScanner` reads them, in any dialect.
    struct Sample {
        let p: UnsafePointer<UInt8>
        let start: Int
        let end: Int

        struct Field {
            var offset: Int
            var length: Int
            var quoted: Bool
            var isNull: Bool { !quoted && length == 0 }
        }

        struct Record {
            /// The line it starts on, counted from `from`.
            var line: Int
            var fieldCount: Int
            var fields: [Field]
        }

        /// The first line starts with `#`.
        var startsWithCommentLines: Bool { start < end && p[start] == 35 }

        /// Where line `count + 1` starts.
        func offset(afterLines count: Int) -> Int {
            var i = start
            var left = count
            while left > 0 && i < end {
                if p[i] == 10 || p[i] == 13 {
                    if p[i] == 13 && i + 1 < end && p[i + 1] == 10 { i += 1 }
                    left -= 1
                }
                i += 1
            }
            return i
        }

        /// The records from `from` on, skipping blank and comment lines. A record the dialect
        /// cannot read (text after a closing quote, a quote left open) ends the list.
        func records(from: Int, dialect: CSVDialect, fields keep: Bool) -> (records: [Record], failed: Bool, quoted: Bool) {
            var records: [Record] = []
            var quoted = false
            var i = from
            var line = 1
            var fields: [Field] = []
            while i < end {
                let c = p[i]
                if c == 10 || c == 13 || (dialect.comment != nil && c == dialect.comment) {
                    i = lineEnd(i)
                    line += 1
                    continue
                }
                fields.removeAll(keepingCapacity: true)
                var count = 0
                let recordLine = line
                while true {
                    var field = Field(offset: i, length: 0, quoted: false)
                    if i < end && p[i] == dialect.quote {
                        guard let close = closingQuote(after: i, dialect, lines: &line) else { return (records, true, quoted) }
                        field = Field(offset: i + 1, length: close - i - 1, quoted: true)
                        quoted = true
                        i = close + 1
                        if i < end && p[i] != dialect.delimiter && p[i] != 10 && p[i] != 13 {
                            return (records, true, quoted)
                        }
                    } else {
                        while i < end && p[i] != dialect.delimiter && p[i] != 10 && p[i] != 13 {
                            i += dialect.escape != nil && p[i] == dialect.escape && i + 1 < end ? 2 : 1
                        }
                        field.length = i - field.offset
                    }
                    count += 1
                    if keep { fields.append(field) }
                    if i < end && p[i] == dialect.delimiter {
                        i += 1
                        continue
                    }
                    break
                }
                if i < end { i = lineEnd(i) }
                line += 1
                records.append(Record(line: recordLine, fieldCount: count, fields: keep ? fields : []))
            }
            return (records, false, quoted)
        }

        /// The position after the line end at or after `i`.
        private func lineEnd(_ i: Int) -> Int {
            var k = i
            while k < end && p[k] != 10 && p[k] != 13 { k += 1 }
            if k < end && p[k] == 13 && k + 1 < end && p[k + 1] == 10 { k += 1 }
            return k + 1
        }

        /// The quote that closes the field opened at `open`; nil when none does.
        private func closingQuote(after open: Int, _ dialect: CSVDialect, lines: inout Int) -> Int? {
            var i = open + 1
            while i < end {
                let c = p[i]
                if let escape = dialect.escape, c == escape, escape != dialect.quote {
                    i += 2
                    continue
                }
                if c == dialect.quote {
                    if i + 1 < end && p[i + 1] == dialect.quote {
                        i += 2
                        continue
                    }
                    return i
                }
                if c == 10 { lines += 1 }
                i += 1
            }
            return nil
        }

        /// Whether the escape byte stands before a quote somewhere (`\"`): a file written with
        /// that escape, even where the doubled-quote reading also splits it.
        func escapesQuotes(_ escape: UInt8, _ quote: UInt8) -> Bool {
            var i = start
            while i + 1 < end {
                if p[i] == escape && p[i + 1] == quote { return true }
                i += 1
            }
            return false
        }

        func candidates(_ field: Field) -> Candidates {
            Candidates.of(p + field.offset, field.length, kind: field.quoted ? .quoted : .raw)
        }

        func string(_ field: Field) -> String {
            String(decoding: UnsafeBufferPointer(start: p + field.offset, count: field.length), as: UTF8.self)
        }

        /// Whether the field's bytes are one of `values`, without copying them.
        func isAny(_ field: Field, of values: [[UInt8]]) -> Bool {
            values.contains { value in
                value.count == field.length && value.indices.allSatisfy { value[$0] == p[field.offset + $0] }
            }
        }
    }
}
