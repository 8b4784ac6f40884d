/// Debezium's value encodings undone in a scanned batch: each value of a column with a
/// `DebeziumType.Decoding` other than `asIs` is replaced by the text PostgreSQL reads for it
/// (`19723` days → `2024-01-01`). Runs on the encoder thread, before the batch is planned, and only
/// for the columns a Debezium schema declared with such an encoding.
extension DebeziumType.Decoding {
    /// What a value must look like, for errors.
    public var expected: String {
        switch self {
        case .asIs: "any JSON value"
        case .epochDays: "a whole number of days since 1970-01-01 (io.debezium.time.Date)"
        case .timeOfDay(let perSecond): "a whole number of \(Self.unit(perSecond)) past midnight (a Debezium time)"
        case .epochTimestamp(let perSecond): "a whole number of \(Self.unit(perSecond)) since 1970-01-01 (a Debezium timestamp)"
        case .microseconds: "a whole number of microseconds (io.debezium.time.MicroDuration)"
        case .decimal(let scale): "base64 two's complement bytes of a decimal with scale \(scale) (Kafka Connect Decimal)"
        case .variableScaleDecimal: "{\"scale\": s, \"value\": base64} (io.debezium.data.VariableScaleDecimal)"
        case .base64Bytes: "base64 bytes"
        case .jsonText: "JSON text in a string (io.debezium.data.Json)"
        }
    }

    private static func unit(_ perSecond: Int64) -> String {
        switch perSecond {
        case 1_000: "milliseconds"
        case 1_000_000: "microseconds"
        default: "nanoseconds"
        }
    }

    /// The text PostgreSQL reads for a value scanned as `kind` from `bytes`; nil when the value is
    /// not in this encoding.
    public func text(_ bytes: UnsafeBufferPointer<UInt8>, kind: CellKind) -> String? {
        switch self {
        case .asIs:
            return String(decoding: bytes, as: UTF8.self)
        case .epochDays:
            return Self.integer(bytes, kind).map(DebeziumValue.date(epochDays:))
        case .timeOfDay(let perSecond):
            return Self.integer(bytes, kind).flatMap { DebeziumValue.time($0, perSecond: perSecond) }
        case .epochTimestamp(let perSecond):
            return Self.integer(bytes, kind).flatMap { DebeziumValue.timestamp($0, perSecond: perSecond) }
        case .microseconds:
            return Self.integer(bytes, kind).map(DebeziumValue.interval(microseconds:))
        case .decimal(let scale):
            guard kind == .jsonString, let raw = DebeziumValue.base64(String(decoding: bytes, as: UTF8.self)) else {
                // decimal.handling.mode=string or double with a Decimal name left on: the number as it is.
                return kind == .jsonNumber ? String(decoding: bytes, as: UTF8.self) : nil
            }
            return DebeziumValue.decimal(twosComplement: raw, scale: scale)
        case .variableScaleDecimal:
            guard kind == .jsonNested else { return kind == .jsonNumber ? String(decoding: bytes, as: UTF8.self) : nil }
            return Self.variableScale(Array(bytes))
        case .base64Bytes:
            guard kind == .jsonString, let raw = DebeziumValue.base64(String(decoding: bytes, as: UTF8.self)) else {
                return nil
            }
            return DebeziumValue.byteaText(raw)
        case .jsonText:
            // Already an object or array (a converter that parsed it): as it is.
            return kind == .jsonString || kind == .jsonNested ? String(decoding: bytes, as: UTF8.self) : nil
        }
    }

    /// A JSON integer (no fraction, no exponent) that fits 64 bits, or a string of one.
    private static func integer(_ bytes: UnsafeBufferPointer<UInt8>, _ kind: CellKind) -> Int64? {
        guard kind == .jsonNumber || kind == .jsonString, let first = bytes.first, first != 43 else { return nil }
        return ValueSyntax.parseInt64(bytes.baseAddress!, bytes.count)
    }

    /// `{"scale": s, "value": "base64"}`.
    private static func variableScale(_ object: [UInt8]) -> String? {
        var bytes = object
        return bytes.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let p = buffer.baseAddress else { return nil }
            let scanner = JSONLinesScanner(source: "")
            var i = 0
            let end = buffer.count
            var scale: Int?
            var value: [UInt8]?
            do {
                guard try scanner.enterObject(p, &i, end) else { return nil }
                var first = true
                while let key = try scanner.nextKey(p, &i, end, first: first) {
                    first = false
                    let name = String(decoding: UnsafeBufferPointer(start: p + key.start, count: key.length), as: UTF8.self)
                    let cell = try scanner.value(p, &i, end)
                    let text = UnsafeBufferPointer(start: p + Int(cell.offset), count: Int(cell.length))
                    if name == "scale" {
                        scale = integer(text, cell.kind).flatMap { Int(exactly: $0) }
                    } else if name == "value", cell.kind == .jsonString {
                        value = DebeziumValue.base64(String(decoding: text, as: UTF8.self))
                    }
                }
            } catch {
                return nil
            }
            guard let scale, let value else { return nil }
            return DebeziumValue.decimal(twosComplement: value, scale: scale)
        }
    }
}

public enum ChangeDecoding {
    /// Replaces every value of column `slot` (source name `name`) in `batch` by its decoded text.
    /// A value not in the encoding fails with the input line and the column.
    /// A value equal to `keeping` (a source's placeholder for a value it did not read) stays as it is.
    public static func apply(
        _ decoding: DebeziumType.Decoding, column slot: Int, name: String, to batch: RecordBatch, keeping: [UInt8]? = nil
    ) throws(InputError) {
        guard decoding != .asIs else { return }
        for row in 0..<batch.rowCount {
            let cell = batch.cell(row: row, column: slot)
            if cell.isNull { continue }
            let bytes = UnsafeBufferPointer(start: batch.pointer(cell), count: Int(cell.length))
            if let keeping, cell.kind == .jsonString, bytes.elementsEqual(keeping) {
                continue
            }
            guard let text = decoding.text(bytes, kind: cell.kind) else {
                let value = String(decoding: bytes.prefix(80), as: UTF8.self)
                throw InputError(
                    source: batch.source, line: batch.rowLines[row], column: name,
                    message: "\(value) is not \(decoding.expected); the event's schema says so, so the value or the schema is wrong")
            }
            batch.replace(row: row, column: slot, with: Array(text.utf8), kind: decoding == .jsonText ? .jsonNested : .jsonString)
        }
    }
}
