import Foundation

/// `--jobs` (config `jobs`): how many connections a load COPYs over, or `auto` to let pgsink
/// choose from the server's and the client's cores (`AutoJobs`).
public enum Jobs: Codable, Sendable, Equatable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    case count(Int)
    case auto

    public init(integerLiteral value: Int) { self = .count(value) }

    /// `auto` or a number; nil for anything else.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased() == "auto" {
            self = .auto
        } else if let count = Int(trimmed) {
            self = .count(count)
        } else {
            return nil
        }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let count = try? container.decode(Int.self) {
            self = .count(count)
        } else if let text = try? container.decode(String.self), let jobs = Jobs(parsing: text) {
            self = jobs
        } else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "takes a number of connections, or auto")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .count(let count): try container.encode(count)
        case .auto: try container.encode("auto")
        }
    }

    public var description: String {
        switch self {
        case .count(let count): String(count)
        case .auto: "auto"
        }
    }

    /// The number asked for; nil for `auto`.
    public var count: Int? {
        if case .count(let count) = self { count } else { nil }
    }
}

extension Check where Value == Jobs {
    public static var positive: Check { Check("must be positive, or auto") { $0.count.map { $0 > 0 } ?? true } }
}
