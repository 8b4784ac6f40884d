/// A recursive text splitter (the `recursive_text` splitter of CloudQuery's `pgvector_config`,
/// LangChain's algorithm): the text is split at the first separator of paragraph → line →
/// sentence → word → character that occurs in it, pieces that are still longer than `chunkSize`
/// are split again at the next separator, and neighbouring pieces are merged back into chunks of
/// at most `chunkSize` characters that repeat up to `chunkOverlap` characters of the chunk before.
///
/// Sizes count `Character`s (what a reader calls a character: `é` and `👍🏽` are one each).
public struct TextSplitter: Sendable, Equatable {
    public let chunkSize: Int
    public let chunkOverlap: Int
    public let separators: [String]

    public static let defaultSeparators = ["\n\n", "\n", ". ", " ", ""]

    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    public init(chunkSize: Int, chunkOverlap: Int, separators: [String] = defaultSeparators) throws(Invalid) {
        guard chunkSize > 0 else { throw Invalid(description: "chunk_size must be at least 1 (got \(chunkSize))") }
        guard chunkOverlap >= 0 else { throw Invalid(description: "chunk_overlap must be 0 or more (got \(chunkOverlap))") }
        guard chunkOverlap < chunkSize else {
            throw Invalid(
                description: "chunk_overlap (\(chunkOverlap)) must be less than chunk_size (\(chunkSize)): each chunk "
                    + "would repeat the whole chunk before it")
        }
        self.chunkSize = chunkSize
        self.chunkOverlap = chunkOverlap
        self.separators = separators.isEmpty ? [""] : separators
    }

    /// The chunks of `text`, in order; none for text that is empty or only whitespace.
    public func split(_ text: String) -> [String] {
        // A text that fits one chunk is that chunk (what splitting and merging back would give);
        // its UTF-8 length bounds its characters.
        if text.utf8.count <= chunkSize {
            let trimmed = Self.trimmed(text)
            return trimmed.isEmpty ? [] : [trimmed]
        }
        if text.allSatisfy(\.isWhitespace) { return [] }
        return split(text, separators: separators).compactMap { chunk in
            let trimmed = Self.trimmed(chunk)
            return trimmed.isEmpty ? nil : trimmed
        }
    }

    private func split(_ text: String, separators: [String]) -> [String] {
        var separator = separators.last ?? ""
        var rest: [String] = []
        for (index, candidate) in separators.enumerated() {
            if candidate.isEmpty {
                separator = candidate
                break
            }
            if Self.contains(text, candidate) {
                separator = candidate
                rest = Array(separators[(index + 1)...])
                break
            }
        }
        var chunks: [String] = []
        var fitting: [String] = []
        for piece in Self.pieces(of: text, at: separator) where !piece.isEmpty {
            if piece.count < chunkSize {
                fitting.append(piece)
                continue
            }
            if !fitting.isEmpty {
                chunks += merge(fitting)
                fitting = []
            }
            if rest.isEmpty {
                chunks.append(piece)
            } else {
                chunks += split(piece, separators: rest)
            }
        }
        if !fitting.isEmpty { chunks += merge(fitting) }
        return chunks
    }

    /// The text cut before each separator (the separator starts the next piece, so joining the
    /// pieces gives the text back); with no separator, its characters.
    /// Found in UTF-8, in one pass: the separators are ASCII, which no byte of a multi-byte
    /// character can be.
    static func pieces(of text: String, at separator: String) -> [String] {
        guard !separator.isEmpty else { return text.map { String($0) } }
        var pieces: [String] = []
        var text = text
        text.withUTF8 { bytes in
            var start = 0
            var index = 0
            while let found = Self.find(separator, in: bytes, from: index) {
                if found > start { pieces.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<found]), as: UTF8.self)) }
                start = found
                index = found + separator.utf8.count
            }
            if start < bytes.count {
                pieces.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start...]), as: UTF8.self))
            }
        }
        return pieces
    }

    /// The byte offset of the next `separator` at or after `start`.
    static func find(_ separator: String, in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        let pattern = Array(separator.utf8)
        guard let first = pattern.first, bytes.count >= pattern.count else { return nil }
        var index = start
        while index + pattern.count <= bytes.count {
            if bytes[index] == first {
                var matched = true
                for offset in 1..<pattern.count where bytes[index + offset] != pattern[offset] {
                    matched = false
                    break
                }
                if matched { return index }
            }
            index += 1
        }
        return nil
    }

    static func contains(_ text: String, _ separator: String) -> Bool {
        var text = text
        return text.withUTF8 { find(separator, in: $0, from: 0) != nil }
    }

    /// Pieces joined into chunks of at most `chunkSize` characters, each starting with up to
    /// `chunkOverlap` characters of the pieces that ended the chunk before.
    private func merge(_ pieces: [String]) -> [String] {
        var chunks: [String] = []
        var window: [(text: String, count: Int)] = []
        var total = 0
        for piece in pieces {
            let count = piece.count
            if total + count > chunkSize && !window.isEmpty {
                chunks.append(window.map(\.text).joined())
                while total > chunkOverlap || (total + count > chunkSize && total > 0) {
                    total -= window.removeFirst().count
                }
            }
            window.append((piece, count))
            total += count
        }
        if !window.isEmpty { chunks.append(window.map(\.text).joined()) }
        return chunks
    }

    static func trimmed(_ text: String) -> String {
        guard let first = text.firstIndex(where: { !$0.isWhitespace }),
            let last = text.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(text[first...last])
    }
}
