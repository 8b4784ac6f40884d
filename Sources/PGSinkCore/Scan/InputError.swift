/// A problem with the input itself: where it is (`file:line`), and what to do about it.
public struct InputError: Error, CustomStringConvertible, Sendable, Equatable {
    public var source: String
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
        return "\(source):\(line)\(place): \(message)"
    }
}
