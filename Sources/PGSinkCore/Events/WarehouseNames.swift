/// RudderStack's identifier rules for its PostgreSQL warehouse: table, column and schema names.
public enum WarehouseNames {
    /// PostgreSQL's identifier limit (bytes), which RudderStack cuts names to.
    static let maxLength = 63

    /// The table of an event name (a track's `event`): snake_case, `_` before a leading digit, 63 bytes,
    /// lower case, `_` before a reserved word, and `_` before `tracks`, `pages`, `screens`, `aliases`,
    /// `groups`, `accounts` (unless escaping is skipped) and always before `users` and `identifies`.
    /// Empty when nothing of the name is left (such an event gets no table of its own).
    public static func table(_ raw: String, settings: WarehouseSettings) -> String {
        eventTable(transformed: transform(raw, settings: settings), settings: settings)
    }

    /// The table of an event name already through `transform` (the track's `event` column).
    static func eventTable(transformed: String, settings: WarehouseSettings) -> String {
        let safe = safeName(transform(transformed, settings: settings).prefixBytes(maxLength), settings: settings)
        guard !safe.isEmpty else { return "" }
        let lower = safe.lowercased()
        if lower == "users" || lower == "identifies" { return "_" + safe }
        if !settings.skipReservedKeywordsEscaping && rudderTables.contains(lower) { return "_" + safe }
        return safe
    }

    /// The column of a key (with its prefix, e.g. `context_app_name`): snake_case, `_` before a leading
    /// digit, 63 bytes, lower case, `_` before a reserved word. Empty when nothing of the key is left.
    public static func column(_ raw: String, settings: WarehouseSettings) -> String {
        let transformed = transform(raw, settings: settings).prefixBytes(maxLength)
        return safeName(transformed, settings: settings)
    }

    /// The schema for a source name: ASCII letters and digits joined with `_`, snake_case
    /// (Go's strcase), `_` before a leading digit or a reserved word, `stringempty` when nothing
    /// is left, at most 127 bytes.
    public static func namespace(_ raw: String) -> String {
        var name = snakeCaseStrcase(alphanumericRuns(raw).joined(separator: "_"))
        if let first = name.utf8.first, WarehouseSnakeCase.isDigit(first) { name = "_" + name }
        if name.isEmpty { name = "stringempty" }
        if reservedWords.contains(name.uppercased()) && name != "to" { name = "_" + name }
        return name.prefixBytes(127)
    }

    static let reservedLowerCase = Set(reservedWords.map { $0.lowercased() })

    /// Tables RudderStack writes itself; an event of that name gets a `_` prefix.
    static let rudderTables: Set<String> = ["tracks", "pages", "screens", "aliases", "groups", "accounts"]

    /// RudderStack's first stage (`transformColumnName`): letters and digits, snake_case, the
    /// original's leading underscores kept, `_` before a leading digit.
    static func transform(_ raw: String, settings: WarehouseSettings) -> String {
        if isPlainSnakeCase(raw) { return raw }
        var joined: [UInt8] = []
        joined.reserveCapacity(raw.utf8.count)
        var separate = false
        for byte in raw.utf8 {
            if WarehouseSnakeCase.isBreak(byte) {
                separate = !joined.isEmpty
                continue
            }
            if separate {
                joined.append(UInt8(ascii: "_"))
                separate = false
            }
            joined.append(byte)
        }
        let leading = raw.utf8.prefix(while: { $0 == UInt8(ascii: "_") }).count
        var name = [UInt8](repeating: UInt8(ascii: "_"), count: leading)
        name.reserveCapacity(leading + joined.count + 8)
        WarehouseSnakeCase.appendWords(of: joined, keepNumbers: !settings.underscoreDivideNumbers, to: &name)
        if let first = name.first, WarehouseSnakeCase.isDigit(first) { name.insert(UInt8(ascii: "_"), at: 0) }
        return String(decoding: name, as: UTF8.self)
    }

    /// Whether `transform` leaves `raw` as it is: optional leading underscores, then words of
    /// lower-case letters or of digits joined by single underscores, not starting with a digit.
    /// Most keys are like this, and this test is much cheaper than splitting words.
    static func isPlainSnakeCase(_ raw: String) -> Bool {
        var segmentLength = 0
        var segmentIsDigits = false
        var leading = true
        var leadingUnderscores = 0
        for byte in raw.utf8 {
            if byte == UInt8(ascii: "_") {
                if leading {
                    leadingUnderscores += 1
                    continue
                }
                guard segmentLength > 0 else { return false }
                segmentLength = 0
                continue
            }
            let isDigit = WarehouseSnakeCase.isDigit(byte)
            guard isDigit || WarehouseSnakeCase.isLower(byte) else { return false }
            if segmentLength == 0 {
                if leading && isDigit && leadingUnderscores == 0 { return false }  // needs a `_` before the digit
                segmentIsDigits = isDigit
            } else if isDigit != segmentIsDigits {
                return false
            }
            leading = false
            segmentLength += 1
        }
        return segmentLength > 0
    }

    /// RudderStack's second stage (`safeColumnName`): lower case and a `_` before a reserved word.
    static func safeName(_ name: String, settings: WarehouseSettings) -> String {
        let isLower = !name.utf8.contains(where: { $0 >= 65 && $0 <= 90 || $0 >= 0x80 })
        let lower = isLower ? name : name.lowercased()
        if !settings.skipReservedKeywordsEscaping && reservedLowerCase.contains(lower) { return "_" + lower }
        return lower
    }

    /// The runs of ASCII letters and digits in `raw`; everything else separates them.
    static func alphanumericRuns(_ raw: String) -> [String] {
        var runs: [String] = []
        var current: [UInt8] = []
        for byte in raw.utf8 {
            if WarehouseSnakeCase.isBreak(byte) {
                if !current.isEmpty { runs.append(String(decoding: current, as: UTF8.self)) }
                current.removeAll(keepingCapacity: true)
            } else {
                current.append(byte)
            }
        }
        if !current.isEmpty { runs.append(String(decoding: current, as: UTF8.self)) }
        return runs
    }

    /// Go's `strcase.ToSnake`, which RudderStack uses for schema names: an `_` where the kind of
    /// character changes (lower↔upper↔digit), acronyms kept together, spaces, `-`, `.` and `_` as `_`.
    static func snakeCaseStrcase(_ input: String) -> String {
        let s = Array(input.trimmedWhitespace.utf8)
        var out: [UInt8] = []
        for (i, original) in s.enumerated() {
            let isCap = WarehouseSnakeCase.isUpper(original)
            let isLow = WarehouseSnakeCase.isLower(original)
            let isNum = WarehouseSnakeCase.isDigit(original)
            let v = isCap ? original + 32 : original
            if i + 1 < s.count {
                let next = s[i + 1]
                let nextCap = WarehouseSnakeCase.isUpper(next)
                let nextLow = WarehouseSnakeCase.isLower(next)
                let nextNum = WarehouseSnakeCase.isDigit(next)
                if (isCap && (nextLow || nextNum)) || (isLow && (nextCap || nextNum)) || (isNum && (nextCap || nextLow))
                {
                    if isCap && nextLow && i > 0 && WarehouseSnakeCase.isUpper(s[i - 1]) {
                        out.append(UInt8(ascii: "_"))
                    }
                    out.append(v)
                    if isLow || isNum || nextNum { out.append(UInt8(ascii: "_")) }
                    continue
                }
            }
            switch v {
            case UInt8(ascii: " "), UInt8(ascii: "_"), UInt8(ascii: "-"), UInt8(ascii: "."):
                out.append(UInt8(ascii: "_"))
            default: out.append(v)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// PostgreSQL's reserved words as RudderStack lists them (93); schema names use the same list without `TO`.
    static let reservedWords: Set<String> = [
        "ALL", "ANALYSE", "ANALYZE", "AND", "ANY", "ARRAY", "AS", "ASC", "ASYMMETRIC", "AUTHORIZATION", "BETWEEN",
        "BINARY", "BOTH", "CASE", "CAST", "CHECK", "COLLATE", "COLUMN", "CONSTRAINT", "CREATE", "CROSS",
        "CURRENT_DATE", "CURRENT_ROLE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "CURRENT_USER", "DEFAULT", "DEFERRABLE",
        "DESC", "DISTINCT", "DO", "ELSE", "END", "EXCEPT", "FALSE", "FOR", "FOREIGN", "FREEZE", "FROM", "FULL",
        "GRANT", "GROUP", "HAVING", "ILIKE", "IN", "INITIALLY", "INNER", "INTERSECT", "INTO", "IS", "ISNULL", "JOIN",
        "LEADING", "LEFT", "LIKE", "LIMIT", "LOCALTIME", "LOCALTIMESTAMP", "NATURAL", "NEW", "NOT", "NOTNULL",
        "NULL", "OFF", "OFFSET", "OLD", "ON", "ONLY", "OR", "ORDER", "OUTER", "OVERLAPS", "PLACING", "PRIMARY",
        "REFERENCES", "RIGHT", "SELECT", "SESSION_USER", "SIMILAR", "SOME", "SYMMETRIC", "TABLE", "THEN", "TO",
        "TRAILING", "TRUE", "UNION", "UNIQUE", "USER", "USING", "VERBOSE", "WHEN", "WHERE",
    ]
}

extension String {
    /// The first `count` bytes (names here are ASCII, so no character is cut).
    func prefixBytes(_ count: Int) -> String {
        utf8.count <= count ? self : String(decoding: Array(utf8.prefix(count)), as: UTF8.self)
    }

    /// The string without leading and trailing ASCII whitespace.
    var trimmedWhitespace: String {
        let bytes = Array(utf8)
        let isSpace: (UInt8) -> Bool = { $0 == 0x20 || ($0 >= 0x09 && $0 <= 0x0D) }
        guard let first = bytes.firstIndex(where: { !isSpace($0) }), let last = bytes.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}
