/// An error from the server or from libpq: the server's own fields, never a password.
public struct PGError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case connection, server }

    public var kind: Kind
    public var sqlState: String?
    public var message: String
    public var detail: String?
    public var hint: String?
    /// The server's CONTEXT (for COPY: which row and column).
    public var context: String?

    public init(
        kind: Kind, message: String, sqlState: String? = nil, detail: String? = nil, hint: String? = nil,
        context: String? = nil
    ) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.context = context
    }

    public var description: String {
        var text = kind == .connection ? "could not connect to PostgreSQL: \(message)" : message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail { text += "\n  detail: \(detail)" }
        if let hint { text += "\n  hint: \(hint)" }
        return text
    }

    /// The context line COPY adds (`COPY t, line 3, column x: "…"`); other context lines, such as
    /// `JSON data, line 1: …`, have line numbers of their own.
    private var copyContext: Substring? {
        context?.split(separator: "\n").last { $0.hasPrefix("COPY ") }
    }

    /// The row (1-based) a COPY error happened on, read from the server's context.
    public var copyRow: Int? {
        guard let context = copyContext, let range = context.firstRange(of: ", line ") else { return nil }
        let digits = context[range.upperBound...].prefix { $0.isNumber }
        return Int(digits)
    }

    /// The column a COPY error names, from the server's context.
    public var copyColumn: String? {
        guard let context = copyContext, let range = context.firstRange(of: ", column ") else { return nil }
        let name = context[range.upperBound...].prefix { $0 != ":" }
        return name.isEmpty ? nil : String(name)
    }

    /// The value a text COPY error quotes (`column x: "abc"`).
    public var copyValue: String? {
        guard let context = copyContext, let range = context.firstRange(of: ": \"") else { return nil }
        var value = context[range.upperBound...]
        if value.hasSuffix("\"") { value = value.dropLast() }
        return String(value)
    }
}
