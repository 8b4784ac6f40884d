import Foundation
import PGSinkCore

/// Column types from a JSON Schema property, the way a data engineer expects them: lossless first.
///
/// - `integer` → smallint / integer / bigint by its `minimum`/`maximum`, bigint without bounds (a
///   value beyond 64 bits later widens the column to numeric);
/// - `number` → numeric (exact), `boolean` → boolean;
/// - `string` → text; with `format` `date-time` → timestamptz (the offset is kept), `date` →
///   date, `time` → time, `uuid` → uuid; `x-singer.decimal` / `singer.decimal` → numeric;
/// - `object`, `array`, `{}` (anything) → jsonb;
/// - `["null", X]` and `anyOf` with null are X; several other types: jsonb when one is an object or
///   array, numeric for integer + number, text otherwise.
enum JSONSchemaTypes {
    static func columnType(of property: Any) -> ColumnType {
        guard let schema = property as? [String: Any] else { return .jsonb }
        if let options = (schema["anyOf"] ?? schema["oneOf"]) as? [Any] {
            let types = options.map(columnType(of:)).filter { $0 != .other("null") }
            return combine(types)
        }
        var names: [String] = []
        if let single = schema["type"] as? String {
            names = [single]
        } else if let list = schema["type"] as? [Any] {
            names = list.compactMap { $0 as? String }
        }
        names = names.filter { $0 != "null" }
        if names.isEmpty {
            // `{}`, or only "null": any value.
            return schema["type"] == nil ? .jsonb : .other("null")
        }
        if names.count > 1 { return combine(names.map { single($0, schema) }) }
        return single(names[0], schema)
    }

    private static func single(_ name: String, _ schema: [String: Any]) -> ColumnType {
        switch name {
        case "integer": return integerType(schema)
        case "number": return .numeric
        case "boolean": return .boolean
        case "object", "array": return .jsonb
        case "string":
            switch schema["format"] as? String {
            case "date-time": return .timestamptz
            case "date": return .date
            case "time": return .other("time without time zone")
            case "uuid": return .uuid
            case "x-singer.decimal", "singer.decimal": return .numeric
            default: return .text
            }
        default: return .text
        }
    }

    private static func integerType(_ schema: [String: Any]) -> ColumnType {
        guard let low = number(schema["minimum"]), let high = number(schema["maximum"]) else { return .bigint }
        if low >= -32768 && high <= 32767 { return .smallint }
        if low >= -2_147_483_648 && high <= 2_147_483_647 { return .integer }
        if low >= -9.223372036854775808e18 && high <= 9.223372036854775807e18 { return .bigint }
        return .numeric
    }

    private static func number(_ value: Any?) -> Double? {
        if let n = value as? NSNumber { return n.doubleValue }
        return nil
    }

    /// One column type for a union of types.
    private static func combine(_ types: [ColumnType]) -> ColumnType {
        let real = types.filter { $0 != .other("null") }
        guard let first = real.first else { return .jsonb }
        if real.allSatisfy({ $0 == first }) { return first }
        if real.contains(.jsonb) { return .jsonb }
        let numbers: Set<ColumnType> = [.smallint, .integer, .bigint, .numeric]
        if real.allSatisfy({ numbers.contains($0) }) { return .numeric }
        return .text
    }
}
