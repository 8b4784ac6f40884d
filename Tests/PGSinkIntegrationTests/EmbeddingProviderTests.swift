import Foundation
import PGSink
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The OpenAI-compatible provider against a real HTTP server (`scripts/fake-embeddings-server`,
/// a stand-in for the paid API): batching, order, retries on 429 and 5xx with Retry-After,
/// failures that name the cause and never the key. (docs/pgvector.md)
@Suite("Embedding provider", .serialized)
struct EmbeddingProviderTests {
    /// A running fake provider on a free loopback port.
    final class FakeProvider {
        let process: Process
        let port: Int
        static let key = "sk-test-secret-0042"

        init() throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", root.appendingPathComponent("scripts/fake-embeddings-server").path, "--key", Self.key]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
            guard let port = line.split(separator: " ").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
            else {
                process.terminate()
                throw LoadError("the fake embeddings server did not start: \(line)")
            }
            self.port = port
        }

        var base: String { "http://127.0.0.1:\(port)/v1" }

        func post(_ path: String, _ body: String) throws {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
            request.httpMethod = "POST"
            request.httpBody = Data(body.utf8)
            _ = try EventServeTests.request(request.url!.absoluteString, body: request.httpBody)
        }

        func stats() throws -> (calls: Int, inputs: Int) {
            let reply = try EventServeTests.request("http://127.0.0.1:\(port)/stats", method: "GET")
            let object = try JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Int] ?? [:]
            return (object["calls"] ?? -1, object["inputs"] ?? -1)
        }

        deinit {
            // SIGKILL: a test process may ignore SIGTERM, and its children inherit that.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    func provider(_ fake: FakeProvider, _ change: (inout OpenAIEmbeddingProvider.Settings) -> Void = { _ in })
        -> OpenAIEmbeddingProvider
    {
        var settings = OpenAIEmbeddingProvider.Settings()
        settings.baseURL = fake.base
        settings.apiKey = FakeProvider.key
        settings.dimensions = 16
        settings.backoff = 0.05
        change(&settings)
        return OpenAIEmbeddingProvider(settings)
    }

    @Test func inputsGoInBatchesAndComeBackInOrder() throws {
        let fake = try FakeProvider()
        let texts = (0..<10).map { "text number \($0)" }
        let vectors = try provider(fake) { $0.maxInputs = 4; $0.concurrency = 3 }.embed(texts)
        #expect(vectors.count == 10 && vectors.allSatisfy { $0.count == 16 })
        #expect(try fake.stats().calls == 3)
        #expect(try fake.stats().inputs == 10)
        // The same text gives the same vector, whatever batch it was in.
        let again = try provider(fake) { $0.maxInputs = 1 }.embed([texts[7]])
        #expect(again[0] == vectors[7])
        #expect(vectors[0] != vectors[1])
    }

    @Test func batchesRespectTheTokenEstimate() {
        let texts = [String(repeating: "a", count: 400), String(repeating: "b", count: 400), "c"]
        #expect(OpenAIEmbeddingProvider.batches(texts, maxInputs: 10, maxTokens: 150) == [0..<1, 1..<3])
        #expect(OpenAIEmbeddingProvider.batches(texts, maxInputs: 2, maxTokens: 1000) == [0..<2, 2..<3])
        #expect(OpenAIEmbeddingProvider.batches([], maxInputs: 2, maxTokens: 1000) == [])
    }

    @Test func a429WithRetryAfterAndA500AreRetried() throws {
        let fake = try FakeProvider()
        try fake.post("/fail", #"{"status": 429, "times": 1, "retry_after": "1"}"#)
        try fake.post("/fail", #"{"status": 503, "times": 1}"#)
        let client = provider(fake)
        let started = Date()
        let vectors = try client.embed(["hello"])
        #expect(vectors.count == 1)
        #expect(Date().timeIntervalSince(started) >= 1, "Retry-After: 1 was honoured")
        #expect(client.requests == 3 && client.retried == 2)
    }

    @Test func aProviderThatKeepsFailingFailsClearly() throws {
        let fake = try FakeProvider()
        try fake.post("/fail", #"{"status": 500, "times": 10}"#)
        let client = provider(fake) { $0.retries = 2 }
        #expect {
            try client.embed(["hello"])
        } throws: { error in
            let text = "\(error)"
            return text.contains("still failed after 2 retries") && text.contains("500") && text.contains("injected 500")
        }
        #expect(client.requests == 3)
    }

    @Test func aWrongKeyIsNotRetriedAndNeverPrinted() throws {
        let fake = try FakeProvider()
        let client = provider(fake) { $0.apiKey = "sk-wrong-key-777" }
        #expect {
            try client.embed(["hello"])
        } throws: { error in
            let text = "\(error)"
            return text.contains("401") && text.contains("Incorrect API key provided") && text.contains("embedding.api_key")
                && !text.contains("sk-wrong-key-777")
        }
        #expect(client.requests == 1)
    }

    @Test func theWrongNumberOfDimensionsIsNamed() throws {
        let fake = try FakeProvider()
        let client = provider(fake) { $0.sendsDimensions = false }
        #expect {
            try client.embed(["hello"])
        } throws: { error in "\(error)".contains("returned 8 dimensions, not the 16 configured") }
    }

    @Test func theLocalProviderNeedsNoNetwork() throws {
        let vectors = try LocalEmbeddingProvider(dimensions: 32).embed(["a b c", "a b c", "x y z"])
        #expect(vectors[0] == vectors[1] && vectors[0] != vectors[2] && vectors[0].count == 32)
    }
}
