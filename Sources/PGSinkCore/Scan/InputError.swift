/// A problem with the input itself: where it is (`file:line`), and what to do about it.
public struct InputError: Error, CustomStringConvertible, Sendable, Equatable {
    public var source: String
    /// The physical line (1-based); 0 when the problem is the input as a whole.
    public var line: Int
    public var column: String?
    public var message: String

    public init(source: String, line: Int, column: String? = nil, message: String) {
        self.source = source
        self.line = line
        self.column = column
        self.message = message
    }

    public var description: String {
        let place = column.map { ", column \"\($0)\"" } ?? ""
        let position = line > 0 ? "\(source):\(line)" : source
        return "\(position)\(place): \(message)"
    }
}
