import Foundation
import Testing

@testable import PGSinkCore

/// The pure parts of embeddings: the recursive splitter, the local hashing embedding, pgvector's
/// binary form and the content hash. (docs/pgvector.md)
@Suite("Embedding core")
struct EmbeddingCoreTests {
    func splitter(_ size: Int, _ overlap: Int) throws -> TextSplitter {
        try TextSplitter(chunkSize: size, chunkOverlap: overlap)
    }

    @Test func emptyAndBlankTextHaveNoChunks() throws {
        #expect(try splitter(10, 0).split("") == [])
        #expect(try splitter(10, 0).split(" \n\n\t ") == [])
    }

    @Test func shortTextIsOneChunk() throws {
        #expect(try splitter(100, 20).split("  A short note.\n") == ["A short note."])
    }

    @Test func paragraphsComeBeforeLinesAndWords() throws {
        #expect(try splitter(12, 0).split("para one.\n\npara two.") == ["para one.", "para two."])
        #expect(try splitter(12, 0).split("line one\nline two") == ["line one", "line two"])
    }

    @Test func overlapRepeatsTheEndOfTheChunkBefore() throws {
        #expect(try splitter(5, 2).split("a b c d e f") == ["a b c", "c d", "d e", "e f"])
    }

    @Test func oneHugeWordIsCutIntoCharacters() throws {
        let word = String(repeating: "x", count: 25)
        #expect(try splitter(10, 0).split(word) == [String(repeating: "x", count: 10), String(repeating: "x", count: 10), "xxxxx"])
        let chunks = try splitter(10, 3).split(word)
        #expect(chunks.allSatisfy { $0.count <= 10 } && chunks.count == 4, "\(chunks)")
    }

    @Test func overlapNotBelowTheSizeIsRefused() throws {
        #expect(throws: TextSplitter.Invalid.self) { try TextSplitter(chunkSize: 10, chunkOverlap: 10) }
        #expect(throws: TextSplitter.Invalid.self) { try TextSplitter(chunkSize: 10, chunkOverlap: 11) }
        #expect(throws: TextSplitter.Invalid.self) { try TextSplitter(chunkSize: 0, chunkOverlap: 0) }
        #expect(throws: TextSplitter.Invalid.self) { try TextSplitter(chunkSize: 10, chunkOverlap: -1) }
        do {
            _ = try TextSplitter(chunkSize: 100, chunkOverlap: 100)
        } catch {
            #expect(error.description.contains("chunk_overlap (100) must be less than chunk_size (100)"))
        }
    }

    @Test func charactersAreWhatAReaderCounts() throws {
        let text = String(repeating: "é👍🏽", count: 6)
        let chunks = try splitter(4, 0).split(text)
        #expect(chunks == ["é👍🏽é👍🏽", "é👍🏽é👍🏽", "é👍🏽é👍🏽"])
    }

    /// Every chunk fits; without overlap the chunks hold the text's non-space characters in order.
    @Test func randomTextsSplitWithinTheSizeAndLoseNothing() throws {
        var generator = SystemRandomNumberGenerator()
        let words = ["alpha", "be", "c", "delta-epsilon", "zeta.", "eta\n", "theta\n\n", "iota kappa", "λ", "μνξ", "\t"]
        for _ in 0..<200 {
            let size = Int.random(in: 1...40, using: &generator)
            let overlap = Int.random(in: 0..<size, using: &generator)
            let text = (0..<Int.random(in: 0...60, using: &generator)).map { _ in words.randomElement(using: &generator)! }
                .joined(separator: Bool.random(using: &generator) ? " " : "")
            let chunks = try splitter(size, overlap).split(text)
            #expect(chunks.allSatisfy { $0.count <= size && !$0.isEmpty }, "\(size)/\(overlap): \(chunks)")
            let plain = try splitter(size, 0).split(text)
            #expect(
                plain.joined().filter { !$0.isWhitespace } == text.filter { !$0.isWhitespace },
                "\(size): \(text.debugDescription) → \(plain)")
        }
    }

    @Test func localEmbeddingsAreUnitVectorsThatFavourSharedSpelling() {
        let local = LocalEmbedding(dimensions: 256)
        let a = local.embed("The quick brown fox jumps over the lazy dog")
        let b = local.embed("the quick brown fox jumped over a lazy dog")
        let c = local.embed("Quarterly revenue grew by twelve percent")
        #expect(a.count == 256)
        #expect(abs(a.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        #expect(local.embed("The quick brown fox jumps over the lazy dog") == a)
        func cosine(_ x: [Float], _ y: [Float]) -> Float { zip(x, y).reduce(0) { $0 + $1.0 * $1.1 } }
        #expect(cosine(a, b) > 0.6, "\(cosine(a, b))")
        #expect(cosine(a, c) < 0.3, "\(cosine(a, c))")
        #expect(local.embed("").allSatisfy { $0 == 0 })
        #expect(local.embed("  QUICK  ") == local.embed("quick"))
    }

    @Test func asciiAndOtherTextNormalizeAlike() {
        // ASCII text is read byte by byte, other text scalar by scalar: the same rules either way.
        #expect(LocalEmbedding.normalizedScalars("AB\t\n\r\u{0B}\u{0C} c") == [32, 97, 98, 32, 99, 32])
        #expect(LocalEmbedding.normalizedScalars("É\u{00A0}\u{2003}B") == [32, 0xE9, 32, 98, 32])
        #expect(LocalEmbedding.normalizedScalars("Xé  Y") == [32, 120, 0xE9, 32, 121, 32])
        #expect(LocalEmbedding.normalizedScalars("") == [32])
        let local = LocalEmbedding(dimensions: 32)
        #expect(local.embed("Hello\n\nWorld") == local.embed("hello world"))
    }

    @Test func vectorsEncodeAsPgvectorsBinaryForm() {
        let out = ByteStorage(capacity: 16)
        VectorEncoding.appendBinary([1, -2.5], to: out)
        #expect(Array(UnsafeBufferPointer(start: out.base, count: out.count)) == [0, 2, 0, 0, 0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0])
        #expect(VectorEncoding.text([1, -2.5]) == "[1.0,-2.5]")
    }

    @Test func theContentHashFollowsTextAndSettings() {
        let text = EmbeddedText.text(["Title", nil, "", "Body"])
        #expect(text == "Title\nBody")
        let hash = EmbeddedText.hash(text, settings: "local/256/1000/500")
        #expect(hash.count == 32 && hash.allSatisfy(\.isHexDigit))
        #expect(EmbeddedText.hash(text, settings: "local/256/1000/500") == hash)
        #expect(EmbeddedText.hash(text + ".", settings: "local/256/1000/500") != hash)
        #expect(EmbeddedText.hash(text, settings: "local/384/1000/500") != hash)
    }
}
