/// The set of types a column's values so far all fit. Inference intersects one set per value and
/// picks the narrowest type left; widening picks the narrowest type above the current one.
public struct Candidates: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let boolean = Candidates(rawValue: 1 << 0)
    public static let int16 = Candidates(rawValue: 1 << 1)
    public static let int32 = Candidates(rawValue: 1 << 2)
    public static let int64 = Candidates(rawValue: 1 << 3)
    public static let numeric = Candidates(rawValue: 1 << 4)
    public static let date = Candidates(rawValue: 1 << 5)
    public static let timestamp = Candidates(rawValue: 1 << 6)
    public static let timestamptz = Candidates(rawValue: 1 << 7)
    public static let uuid = Candidates(rawValue: 1 << 8)
    public static let jsonb = Candidates(rawValue: 1 << 9)
    public static let text = Candidates(rawValue: 1 << 10)

    public static let all = Candidates(rawValue: (1 << 11) - 1)
    static let integers: Candidates = [.int16, .int32, .int64, .numeric]
    static let times: Candidates = [.date, .timestamp, .timestamptz]

    /// The types a single value fits. `jsonStrict` keeps JSON's own types: a JSON string is never
    /// a number or boolean, a JSON number never a date. Only the bits in `wanted` are checked.
    public static func of(
        _ p: UnsafePointer<UInt8>, _ n: Int, kind: CellKind, wanted: Candidates = .all, jsonStrict: Bool = true
    ) -> Candidates {
        var fits: Candidates = .text
        switch kind {
        case .null:
            return .all
        case .jsonNested:
            return [.jsonb, .text]
        case .jsonBool where jsonStrict:
            return [.boolean, .text]
        case .jsonNumber where jsonStrict:
            return Candidates.text.union(numberFits(p, n))
        case .jsonString where jsonStrict:
            return fits.union(textualFits(p, n, wanted: wanted))
        default:
            break
        }
        guard n > 0 else { return fits }
        let first = p[0]
        if !wanted.isDisjoint(with: [.boolean]) && (first | 0x20 == 116 || first | 0x20 == 102) {
            if ValueSyntax.parseBool(p, n) != nil { fits.insert(.boolean) }
        }
        if !wanted.isDisjoint(with: integers) && (ValueSyntax.isDigit(first) || first == 45 || first == 43 || first == 46) {
            fits.formUnion(numberFits(p, n))
        }
        fits.formUnion(textualFits(p, n, wanted: wanted))
        return fits
    }

    @inline(__always)
    static func numberFits(_ p: UnsafePointer<UInt8>, _ n: Int) -> Candidates {
        if let value = ValueSyntax.parseInt64(p, n) {
            var fits: Candidates = [.int64, .numeric]
            if value >= Int64(Int32.min) && value <= Int64(Int32.max) { fits.insert(.int32) }
            if value >= Int64(Int16.min) && value <= Int64(Int16.max) { fits.insert(.int16) }
            return fits
        }
        return ValueSyntax.parseDecimal(p, n) != nil ? .numeric : []
    }

    @inline(__always)
    static func textualFits(_ p: UnsafePointer<UInt8>, _ n: Int, wanted: Candidates) -> Candidates {
        var fits: Candidates = []
        if n >= 10 && !wanted.isDisjoint(with: times) && ValueSyntax.isDigit(p[0]) {
            if ValueSyntax.parseDate(p, n) != nil {
                fits.formUnion(times)
            } else if let ts = ValueSyntax.parseTimestamp(p, n) {
                fits.formUnion(ts.hasZone ? [.timestamptz] : [.timestamp, .timestamptz])
            }
        }
        if n == 36 && wanted.contains(.uuid) && ValueSyntax.parseUUID(p, n) { fits.insert(.uuid) }
        return fits
    }

    /// The narrowest type every value fits. A column with no values at all is text.
    public var inferredType: ColumnType {
        if self == .all { return .text }
        if contains(.boolean) { return .boolean }
        if contains(.int64) { return .bigint }
        if contains(.numeric) { return .numeric }
        if contains(.date) { return .date }
        if contains(.timestamp) { return .timestamp }
        if contains(.timestamptz) { return .timestamptz }
        if contains(.uuid) { return .uuid }
        if contains(.jsonb) { return .jsonb }
        return .text
    }

    /// The values a column of `type` takes without a change of type.
    public static func accepted(by type: ColumnType) -> Candidates {
        switch type {
        case .boolean: .boolean
        case .smallint: .int16
        case .integer: .int32
        case .bigint: .int64
        case .numeric, .real, .double: .numeric
        case .date: .date
        case .timestamp: .timestamp
        case .timestamptz: .timestamptz
        case .uuid: .uuid
        case .json, .jsonb: .jsonb
        case .text, .other: .text
        }
    }

    /// The types a column of `type` may be widened to without losing a value, narrowest first.
    public static func widenings(of type: ColumnType) -> [ColumnType] {
        switch type {
        case .smallint: [.integer, .bigint, .numeric, .text]
        case .integer: [.bigint, .numeric, .text]
        case .bigint: [.numeric, .text]
        case .real: [.double, .numeric, .text]
        case .double: [.numeric, .text]
        case .date: [.timestamp, .timestamptz, .text]
        case .timestamp: [.timestamptz, .text]
        case .boolean, .numeric, .timestamptz, .uuid, .json, .jsonb: [.text]
        case .text, .other: []
        }
    }

    /// The narrowest widening of `type` that takes every value in this set, if any.
    public func widening(of type: ColumnType) -> ColumnType? {
        Candidates.widenings(of: type).first { isSuperset(of: Candidates.accepted(by: $0)) }
    }
}
