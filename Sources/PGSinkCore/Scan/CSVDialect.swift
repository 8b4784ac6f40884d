/// How a CSV file is written: what separates fields, what quotes them, what escapes a quote,
/// whether the first record names the columns, and what comes before it.
public struct CSVDialect: Sendable, Equatable {
    public var delimiter: UInt8 = 44
    public var quote: UInt8 = 34
    /// The byte that makes the next byte of a quoted field literal (`\"`); nil: a quote is doubled (`""`).
    public var escape: UInt8? = nil
    public var hasHeader = true
    /// Lines starting with this byte are skipped (`#`).
    public var comment: UInt8? = nil
    /// Lines skipped before anything else (junk before the header).
    public var skipLines = 0

    public init(
        delimiter: UInt8 = 44, quote: UInt8 = 34, escape: UInt8? = nil, hasHeader: Bool = true, comment: UInt8? = nil,
        skipLines: Int = 0
    ) {
        self.delimiter = delimiter
        self.quote = quote
        self.escape = escape
        self.hasHeader = hasHeader
        self.comment = comment
        self.skipLines = skipLines
    }

    /// A byte as the user would type it on the command line (`,`, `\t`, `|`).
    public static func spelling(_ byte: UInt8) -> String {
        switch byte {
        case 9: "\\t"
        default: String(UnicodeScalar(byte))
        }
    }
}

/// What the user said about a CSV dialect; nil where pgsink sniffs it from the sample.
public struct CSVDialectOptions: Sendable, Equatable {
    public var delimiter: UInt8? = nil
    public var quote: UInt8? = nil
    /// `.some(nil)`: quotes are doubled, no escape byte.
    public var escape: UInt8?? = nil
    public var hasHeader: Bool? = nil
    /// `.some(nil)`: no comment lines.
    public var comment: UInt8?? = nil
    public var skipLines: Int? = nil

    public init() {}
}

/// How values of a CSV or JSON input are read before typing: which strings mean NULL, how local
/// numbers and dates are written.
public struct ValueOptions: Sendable, Equatable {
    /// Strings that mean NULL (besides an empty unquoted CSV field).
    public var nullValues: [String] = []
    /// Apply the common markers (`NullMarkers.common`) only in columns whose other values share a type.
    public var autoNullValues = false
    /// The decimal separator of numbers (`,`); nil: `.`, or sniffed for `;`-delimited files.
    public var decimalSeparator: UInt8? = nil
    /// The thousands separator (`.`, `'`, ` `); nil: none, or `.` with a sniffed decimal comma.
    public var thousandsSeparator: UInt8? = nil
    /// Forces a date format (`%d/%m/%Y`) on columns whose values all take it.
    public var dateFormat: LocalDateFormat? = nil
    /// Forces a date and time format (`%d/%m/%Y %H:%M`) on columns whose values all take it.
    public var timestampFormat: LocalDateFormat? = nil

    public init() {}

    /// Whether anything is asked beyond the defaults (which cost nothing per value).
    public var isDefault: Bool { self == ValueOptions() }
}

/// The strings R, pandas, spreadsheets and databases write for a missing value.
public enum NullMarkers {
    public static let common = ["NA", "N/A", "NULL", "null", "\\N", "NaN", "None", "-"]
}
