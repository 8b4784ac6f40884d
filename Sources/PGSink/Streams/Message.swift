import Foundation
import PGSinkCore

/// One protocol message (Singer or Airbyte), scanned by the JSON Lines scanner: top-level members
/// are cells, nested values keep their exact JSON text (numbers keep every digit).
struct Message {
    let batch: RecordBatch
    let columns: SourceColumns
    let original: [UInt8]
    let isBlank: Bool

    init(_ bytes: [UInt8], line: Int, columns: SourceColumns) throws {
        self.columns = columns
        self.original = bytes
        batch = RecordBatch(source: "stdin", bytes: ByteStorage(capacity: bytes.count + 16))
        batch.bytes.append(contentsOf: bytes)
        var scanner = JSONLinesScanner(source: "stdin")
        do {
            _ = try scanner.scan(into: batch, columns: columns, isEOF: true, maxRows: 1)
        } catch {
            throw InputError(source: "stdin", line: line, message: error.message)
        }
        isBlank = batch.rowCount == 0
    }

    func cell(_ key: String) -> Cell? {
        guard !isBlank, let slot = columns.existingSlot(key) else { return nil }
        let cell = batch.cell(row: 0, column: slot)
        return cell.isNull ? nil : cell
    }

    func bytes(_ cell: Cell) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(start: batch.pointer(cell), count: Int(cell.length))
    }

    func firstByte(_ cell: Cell) -> UInt8? { cell.length > 0 ? batch.pointer(cell)[0] : nil }

    /// A string member's value.
    func string(_ key: String) -> String? {
        guard let cell = cell(key), cell.kind == .jsonString else { return nil }
        return batch.string(cell)
    }

    /// A number member's exact text.
    func numberText(_ key: String) -> String? {
        guard let cell = cell(key), cell.kind == .jsonNumber else { return nil }
        return batch.string(cell)
    }

    /// Any member as text (nested values as their JSON text).
    func raw(_ key: String) -> String { cell(key).flatMap { batch.string($0) } ?? "" }

    /// Any member as JSON text.
    func json(_ key: String) -> String? {
        guard !isBlank, let slot = columns.existingSlot(key) else { return nil }
        let cell = batch.cell(row: 0, column: slot)
        switch cell.kind {
        case .null:
            // Present as null, or absent.
            return original.count > 0 && String(decoding: original, as: UTF8.self).contains("\"\(key)\"") ? "null" : nil
        case .jsonString: return StreamTarget.quoted(batch.string(cell) ?? "")
        default: return batch.string(cell)
        }
    }

    /// The whole message as Foundation objects (for small messages: SCHEMA, BATCH, catalogs).
    func object() -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(original)) as? [String: Any]
    }

    /// The elements of a JSON array, as their JSON text (nil when `bytes` is no array).
    static func elements(ofArray bytes: [UInt8]) -> [[UInt8]]? {
        var i = 0
        while i < bytes.count, bytes[i] == 32 || bytes[i] == 9 || bytes[i] == 10 || bytes[i] == 13 { i += 1 }
        guard i < bytes.count, bytes[i] == 91 else { return nil }
        var result: [[UInt8]] = []
        var depth = 0, inString = false, escaped = false, start = i + 1
        for k in (i + 1)..<bytes.count {
            let c = bytes[k]
            if inString {
                if escaped { escaped = false } else if c == 92 { escaped = true } else if c == 34 { inString = false }
                continue
            }
            switch c {
            case 34: inString = true
            case 91, 123: depth += 1
            case 93, 125:
                if depth == 0 {
                    let element = Array(bytes[start..<k])
                    if element.contains(where: { $0 != 32 && $0 != 9 && $0 != 10 && $0 != 13 }) { result.append(element) }
                    return result
                }
                depth -= 1
            case 44 where depth == 0:
                result.append(Array(bytes[start..<k]))
                start = k + 1
            default: break
            }
        }
        return nil
    }

    /// The keys of the object at `path` inside a JSON object's text, in the order it lists them.
    static func keyOrder(in object: [UInt8], _ path: [String]) -> [String]? {
        var text = object
        for key in path {
            guard let inner = member(key, of: text) else { return nil }
            text = inner
        }
        let columns = SourceColumns()
        guard let message = try? Message(text, line: 0, columns: columns), !message.isBlank else { return nil }
        var seen = Set<String>()
        return columns.names.filter { seen.insert($0).inserted }
    }

    /// The keys of a nested object in the order the message lists them (`path` from the top).
    func keyOrder(_ path: String...) -> [String]? {
        var text = Array(raw(path[0]).utf8)
        for key in path.dropFirst() {
            guard let inner = Self.member(key, of: text) else { return nil }
            text = inner
        }
        let columns = SourceColumns()
        guard let message = try? Message(text, line: 0, columns: columns), !message.isBlank else { return nil }
        return columns.names
    }

    static func member(_ key: String, of object: [UInt8]) -> [UInt8]? {
        let columns = SourceColumns()
        guard let message = try? Message(object, line: 0, columns: columns) else { return nil }
        return message.cell(key).map { Array(message.bytes($0)) }
    }
}
