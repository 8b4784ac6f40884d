import Foundation
import PGSinkCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Where vectors come from: a text in, a vector of `dimensions` floats out, in order.
public protocol EmbeddingProvider: Sendable {
    var dimensions: Int { get }
    /// A short name for the settings that shape the vectors (stored with each chunk's hash, so
    /// that a change of model or size re-embeds).
    var signature: String { get }
    func embed(_ texts: [String]) throws -> [[Float]]
}

/// `provider: local`: `LocalEmbedding`, no network.
public struct LocalEmbeddingProvider: EmbeddingProvider {
    let local: LocalEmbedding
    public var dimensions: Int { local.dimensions }
    public var signature: String { "local/trigram/\(dimensions)" }

    public init(dimensions: Int) {
        local = LocalEmbedding(dimensions: dimensions)
    }

    public func embed(_ texts: [String]) throws -> [[Float]] {
        var out = [[Float]](repeating: [], count: texts.count)
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
        out.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let target = buffer.baseAddress!
            let local = local
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let low = texts.count * worker / workers
                let high = texts.count * (worker + 1) / workers
                for index in low..<high { target[index] = local.embed(texts[index]) }
            }
        }
        return out
    }
}

/// Why the provider gave no vectors; never holds the API key.
public struct EmbeddingError: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// A 429, a 5xx or a lost connection: worth retrying.
    public var transient: Bool
    /// Seconds the provider asked to wait (`Retry-After`).
    public var retryAfter: Double?

    public init(_ description: String, transient: Bool = false) {
        self.description = Secrets.redact(description)
        self.transient = transient
    }
}

/// `provider: openai`: any OpenAI-compatible `POST {base_url}/embeddings`. Texts go in batches of
/// at most `maxInputs` inputs and `maxTokens` estimated tokens (4 bytes a token), up to
/// `concurrency` requests at once; a 429, a 5xx or a lost connection is retried with exponential
/// backoff, waiting what `Retry-After` asks when it is given, up to `retries` times.
public final class OpenAIEmbeddingProvider: EmbeddingProvider, @unchecked Sendable {
    public struct Settings: Sendable, Equatable {
        public var baseURL = "https://api.openai.com/v1"
        public var model = "text-embedding-3-small"
        public var dimensions = 1536
        /// Sends `dimensions` in the request (the text-embedding-3 models shorten their vectors).
        public var sendsDimensions = true
        public var apiKey: String?
        public var maxInputs = 256
        public var maxTokens = 250_000
        public var concurrency = 4
        public var retries = 6
        /// The first backoff; it doubles each try, up to `maxBackoff`.
        public var backoff = 0.5
        public var maxBackoff = 30.0
        public var timeout = 60.0

        public init() {}
    }

    public let settings: Settings
    private let lock = NSLock()
    private var requestCount = 0
    private var retryCount = 0

    public init(_ settings: Settings) {
        self.settings = settings
        Secrets.register(settings.apiKey)
    }

    public var dimensions: Int { settings.dimensions }
    public var signature: String { "openai/\(settings.model)/\(settings.dimensions)" }
    /// Requests sent so far (retries included), and of those the retries.
    public var requests: Int { lock.withLock { requestCount } }
    public var retried: Int { lock.withLock { retryCount } }

    /// The inputs split into request batches, as index ranges.
    public static func batches(_ texts: [String], maxInputs: Int, maxTokens: Int) -> [Range<Int>] {
        var batches: [Range<Int>] = []
        var start = 0
        var tokens = 0
        for (index, text) in texts.enumerated() {
            let estimate = max(1, text.utf8.count / 4)
            if index > start && (index - start >= maxInputs || tokens + estimate > maxTokens) {
                batches.append(start..<index)
                start = index
                tokens = 0
            }
            tokens += estimate
        }
        if start < texts.count { batches.append(start..<texts.count) }
        return batches
    }

    public func embed(_ texts: [String]) throws -> [[Float]] {
        guard !texts.isEmpty else { return [] }
        let batches = Self.batches(texts, maxInputs: settings.maxInputs, maxTokens: settings.maxTokens)
        var out = [[Float]](repeating: [], count: texts.count)
        let failure = FirstError()
        let next = Counter()
        out.withUnsafeMutableBufferPointer { buffer in
            nonisolated(unsafe) let target = buffer.baseAddress!
            // Threads of their own, not Dispatch's pool: each blocks on its request, and
            // URLSession answers on that pool.
            let workers = min(max(1, settings.concurrency), batches.count)
            let done = DispatchSemaphore(value: 0)
            for _ in 0..<workers {
                Thread { [self] in
                    defer { done.signal() }
                    while failure.error == nil, let batch = next.take(below: batches.count).map({ batches[$0] }) {
                        do {
                            let vectors = try request(Array(texts[batch]))
                            for (offset, vector) in vectors.enumerated() { target[batch.lowerBound + offset] = vector }
                        } catch {
                            failure.set(error)
                        }
                    }
                }.start()
            }
            for _ in 0..<workers { done.wait() }
        }
        if let error = failure.error { throw error }
        return out
    }

    /// One batch, with its retries.
    private func request(_ inputs: [String]) throws -> [[Float]] {
        var attempt = 0
        while true {
            do {
                lock.withLock { requestCount += 1 }
                return try send(inputs)
            } catch let error as EmbeddingError where error.transient && attempt < settings.retries {
                let wait = error.retryAfter ?? min(settings.maxBackoff, settings.backoff * pow(2, Double(attempt)))
                attempt += 1
                lock.withLock { retryCount += 1 }
                Thread.sleep(forTimeInterval: wait)
            } catch let error as EmbeddingError where error.transient {
                throw EmbeddingError(
                    "the embedding provider still failed after \(settings.retries) retries: \(error.description)",
                    transient: true)
            }
        }
    }

    private func send(_ inputs: [String]) throws -> [[Float]] {
        let base = settings.baseURL.hasSuffix("/") ? String(settings.baseURL.dropLast()) : settings.baseURL
        guard let url = URL(string: base + "/embeddings") else {
            throw EmbeddingError("base_url \(settings.baseURL) is not a URL")
        }
        var request = URLRequest(url: url, timeoutInterval: settings.timeout)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let key = settings.apiKey, !key.isEmpty { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        var body: [String: Any] = ["model": settings.model, "input": inputs, "encoding_format": "float"]
        if settings.sendsDimensions { body["dimensions"] = settings.dimensions }
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, response) = try Self.perform(request)
        let status = response.statusCode
        guard status == 200 else {
            let message = Self.message(in: data)
            let transient = status == 429 || status >= 500
            var error = EmbeddingError(
                "the embedding provider answered \(status)\(message.map { ": \($0)" } ?? "")"
                    + (status == 401 || status == 403 ? "; check embedding.api_key" : ""),
                transient: transient)
            error.retryAfter = Self.retryAfter(response.value(forHTTPHeaderField: "Retry-After"))
            throw error
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let items = object["data"] as? [[String: Any]]
        else { throw EmbeddingError("the embedding provider's answer has no data list") }
        var vectors = [[Float]](repeating: [], count: inputs.count)
        for (position, item) in items.enumerated() {
            let index = (item["index"] as? NSNumber)?.intValue ?? position
            guard vectors.indices.contains(index), let numbers = item["embedding"] as? [NSNumber] else {
                throw EmbeddingError("the embedding provider's answer has an item without an embedding")
            }
            guard numbers.count == settings.dimensions else {
                throw EmbeddingError(
                    "the embedding provider returned \(numbers.count) dimensions, not the \(settings.dimensions) "
                        + "configured; set embedding.dimensions to the model's size")
            }
            vectors[index] = numbers.map(\.floatValue)
        }
        guard vectors.allSatisfy({ !$0.isEmpty }) else {
            throw EmbeddingError("the embedding provider returned \(items.count) vectors for \(inputs.count) inputs")
        }
        return vectors
    }

    /// The request, waited for; a lost connection or a timeout is transient.
    private static func perform(_ request: URLRequest) throws -> (Data, HTTPURLResponse) {
        final class Box: @unchecked Sendable {
            var data: Data?
            var response: HTTPURLResponse?
            var error: Error?
        }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            box.data = data
            box.response = response as? HTTPURLResponse
            box.error = error
            done.signal()
        }.resume()
        done.wait()
        guard let response = box.response else {
            let reason = box.error.map { $0.localizedDescription } ?? "no answer"
            throw EmbeddingError("the embedding provider at \(request.url?.host ?? "?") could not be reached: \(reason)", transient: true)
        }
        return (box.data ?? Data(), response)
    }

    /// OpenAI's `{"error":{"message":…}}`, or the body's first line.
    static func message(in data: Data) -> String? {
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            if let error = object["error"] as? [String: Any], let message = error["message"] as? String { return message }
            if let message = object["error"] as? String { return message }
        }
        let text = String(decoding: data.prefix(300), as: UTF8.self).split(separator: "\n").first.map(String.init)
        return text?.isEmpty == false ? text : nil
    }

    /// `Retry-After` in seconds (or an HTTP date), at most 10 minutes.
    static func retryAfter(_ value: String?) -> Double? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Double(value), seconds >= 0 { return min(seconds, 600) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return min(max(0, date.timeIntervalSinceNow), 600)
    }

    private final class FirstError: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: Error?
        var error: Error? { lock.withLock { stored } }
        func set(_ error: Error) { lock.withLock { if stored == nil { stored = error } } }
    }

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func take(below limit: Int) -> Int? {
            lock.withLock {
                guard value < limit else { return nil }
                value += 1
                return value - 1
            }
        }
    }
}
