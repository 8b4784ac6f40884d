/// One column of a COPY: its type on the server and where its values come from.
public struct CopyColumn: Sendable, Equatable {
    public var name: String
    public var type: ColumnType
    /// The load-level source column; `nil` sends NULL (a column the data does not have).
    public var source: Int?
    /// A NULL here is an input error (merge keys).
    public var required: Bool

    public init(name: String, type: ColumnType, source: Int?, required: Bool = false) {
        self.name = name
        self.type = type
        self.source = source
        self.required = required
    }
}

/// COPY's wire formats.
public enum CopyFormat: String, Sendable {
    case binary
    case text

    /// Binary when every column has a binary encoder, text otherwise.
    public static func best(for columns: [CopyColumn]) -> CopyFormat {
        columns.allSatisfy { $0.type.hasBinaryEncoder } ? .binary : .text
    }
}
