import Foundation
import PGSinkCore

/// `pgvector_config` (CloudQuery's keys, as written, plus pgsink's): which tables get
/// `<table>_embeddings`, how their text is split, and where the vectors come from.
/// docs/pgvector.md lists the keys.
public struct PgVectorConfig: Sendable, Equatable {
    /// One table's embeddings.
    public struct Table: Sendable, Equatable {
        /// The loaded table (`table_name`, or CloudQuery's `source_table_name`), as pgsink names it.
        public var table: String
        /// The embeddings table (`target_table_name`); nil: `<table>_embeddings`.
        public var target: String?
        public var embedColumns: [String]
        public var metadataColumns: [String] = []

        public init(table: String, target: String? = nil, embedColumns: [String], metadataColumns: [String] = []) {
            self.table = table
            self.target = target
            self.embedColumns = embedColumns
            self.metadataColumns = metadataColumns
        }
    }

    public enum Provider: String, Sendable, Equatable, CaseIterable {
        case openai, local
    }

    /// What becomes of a load whose provider fails for good.
    public enum OnError: String, Sendable, Equatable, CaseIterable {
        /// The load fails and commits nothing.
        case fail
        /// The rows commit; their chunks are marked pending for `pgsink embed`.
        case `defer`
    }

    public var tables: [Table]
    public var chunkSize = 1000
    public var chunkOverlap = 500
    public var provider = Provider.openai
    public var openAI = OpenAIEmbeddingProvider.Settings()
    public var index = VectorIndex.hnsw
    public var distance = VectorDistance.cosine
    public var onError = OnError.fail
    /// HNSW's build settings (`hnsw: {m, ef_construction}`); nil: pgvector's defaults (16, 64).
    public var hnswM: Int?
    public var hnswEfConstruction: Int?

    public init(tables: [Table]) { self.tables = tables }

    /// The dimensions of the vectors.
    public var dimensions: Int { openAI.dimensions }

    /// The configuration of `table` (by its name or its schema-qualified name, as written or as
    /// `naming` names tables), if any.
    public func table(_ name: TableName, naming: NamingRules = NamingRules()) -> Table? {
        tables.first { $0.table == name.name || $0.table == name.description }
            ?? tables.first { naming.normalize($0.table) == name.name || $0.table.lowercased() == name.description.lowercased() }
    }

    /// The splitter the settings describe (checked when the config is read).
    public var splitter: TextSplitter {
        get throws { try TextSplitter(chunkSize: chunkSize, chunkOverlap: chunkOverlap) }
    }

    /// The provider the settings name; `openai` takes its key from `api_key` or `OPENAI_API_KEY`.
    public func makeProvider() -> EmbeddingProvider {
        switch provider {
        case .local: return LocalEmbeddingProvider(dimensions: dimensions)
        case .openai: return OpenAIEmbeddingProvider(openAI)
        }
    }

    /// Takes `pgvector_config` out of a config object (a Singer or Airbyte config JSON).
    static func take(from object: inout [String: Any]) throws -> PgVectorConfig? {
        guard let section = object.removeValue(forKey: "pgvector_config") else { return nil }
        guard let fields = section as? [String: Any] else {
            throw LoadError("config key \"pgvector_config\" must be an object (tables, text_splitter, embedding)")
        }
        do {
            return try PgVectorConfig(fields: fields, where: "pgvector_config")
        } catch {
            throw LoadError("\(error)")
        }
    }

    /// Reads `pgvector_config` from a config tree; `place` names it in errors.
    public init(fields: [String: Any], where place: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws
    {
        var reader = FieldReader(fields: fields, place: place)
        let rawTables = try reader.take("tables", as: [Any].self)
        guard let rawTables, !rawTables.isEmpty else {
            throw ConnectionError("\(place): tables is required: a list of {table_name, embed_columns, metadata_columns}")
        }
        tables = try rawTables.enumerated().map { index, raw in
            guard let fields = raw as? [String: Any] else {
                throw ConnectionError("\(place).tables[\(index)] must be a section of keys (table_name, embed_columns, …)")
            }
            var table = FieldReader(fields: fields, place: "\(place).tables[\(index)]")
            let name = try table.take("table_name", as: String.self) ?? table.take("source_table_name", as: String.self)
            guard let name, !name.isEmpty else {
                throw ConnectionError("\(place).tables[\(index)]: table_name is required (the table whose rows are embedded)")
            }
            let embed = try table.strings("embed_columns")
            guard !embed.isEmpty else {
                throw ConnectionError("\(place).tables[\(index)]: embed_columns is required: the columns whose text is embedded")
            }
            let target = try table.take("target_table_name", as: String.self)
            let metadata = try table.strings("metadata_columns")
            try table.finish()
            return Table(table: name, target: target, embedColumns: embed, metadataColumns: metadata)
        }
        if let splitter = try reader.take("text_splitter", as: [String: Any].self) {
            var outer = FieldReader(fields: splitter, place: "\(place).text_splitter")
            if let recursive = try outer.take("recursive_text", as: [String: Any].self) {
                var inner = FieldReader(fields: recursive, place: "\(place).text_splitter.recursive_text")
                chunkSize = try inner.integer("chunk_size") ?? chunkSize
                chunkOverlap = try inner.integer("chunk_overlap") ?? chunkOverlap
                try inner.finish()
            }
            try outer.finish()
        }
        do {
            _ = try splitter
        } catch {
            throw ConnectionError("\(place).text_splitter: \(error)")
        }
        // CloudQuery's `embedding`, or its older `openai_embedding`.
        let embeddingKey = reader.fields["embedding"] != nil ? "embedding" : "openai_embedding"
        guard let embedding = try reader.take(embeddingKey, as: [String: Any].self) else {
            throw ConnectionError(
                "\(place): embedding is required: {provider: openai|local, model_name, dimensions, api_key}")
        }
        var settings = FieldReader(fields: embedding, place: "\(place).\(embeddingKey)")
        if let name = try settings.take("provider", as: String.self) {
            guard let chosen = Provider(rawValue: name.lowercased()) else {
                throw ConnectionError("\(place).\(embeddingKey).provider: \"\(name)\" is not a provider; use openai or local")
            }
            provider = chosen
        }
        openAI.model = try settings.take("model_name", as: String.self) ?? openAI.model
        openAI.baseURL = try settings.take("base_url", as: String.self) ?? openAI.baseURL
        // text-embedding-3-small's size, unless said.
        openAI.dimensions = try settings.integer("dimensions") ?? (openAI.model == "text-embedding-3-large" ? 3072 : 1536)
        guard (1...16000).contains(openAI.dimensions) else {
            throw ConnectionError("\(place).\(embeddingKey).dimensions: \(openAI.dimensions) is out of range; pgvector takes 1 to 16000")
        }
        openAI.sendsDimensions = try settings.take("send_dimensions", as: Bool.self) ?? openAI.model.hasPrefix("text-embedding-3")
        openAI.apiKey = try settings.take("api_key", as: String.self) ?? environment["OPENAI_API_KEY"]
        if let key = openAI.apiKey { Secrets.register(key) }
        openAI.maxInputs = try settings.integer("max_inputs") ?? openAI.maxInputs
        openAI.maxTokens = try settings.integer("max_tokens") ?? openAI.maxTokens
        openAI.concurrency = try settings.integer("concurrency") ?? openAI.concurrency
        openAI.retries = try settings.integer("retries") ?? openAI.retries
        try settings.finish()
        if provider == .openai, openAI.apiKey == nil, openAI.baseURL.hasPrefix("https://api.openai.com") {
            throw ConnectionError(
                "\(place).\(embeddingKey): api_key is not set; give api_key: ${OPENAI_API_KEY} (or set OPENAI_API_KEY), "
                    + "or use provider: local for embeddings without a network")
        }
        if let name = try reader.take("index", as: String.self) {
            guard let chosen = VectorIndex(rawValue: name.lowercased()) else {
                throw ConnectionError("\(place).index: \"\(name)\" is not an index; use hnsw, ivfflat or none")
            }
            index = chosen
        }
        if let name = try reader.take("distance", as: String.self) {
            guard let chosen = VectorDistance(rawValue: name.lowercased()) else {
                throw ConnectionError("\(place).distance: \"\(name)\" is not a distance; use cosine, l2 or ip")
            }
            distance = chosen
        }
        if let hnsw = try reader.take("hnsw", as: [String: Any].self) {
            var inner = FieldReader(fields: hnsw, place: "\(place).hnsw")
            hnswM = try inner.integer("m")
            hnswEfConstruction = try inner.integer("ef_construction")
            try inner.finish()
            if let m = hnswM, !(2...100).contains(m) {
                throw ConnectionError("\(place).hnsw.m: \(m) is out of range; pgvector takes 2 to 100")
            }
            if let ef = hnswEfConstruction, !(4...1000).contains(ef) || ef < 2 * (hnswM ?? 16) {
                throw ConnectionError(
                    "\(place).hnsw.ef_construction: \(ef) must be 4 to 1000 and at least twice m (\(hnswM ?? 16))")
            }
        }
        if let name = try reader.take("on_error", as: String.self) {
            guard let chosen = OnError(rawValue: name.lowercased()) else {
                throw ConnectionError("\(place).on_error: \"\(name)\"; use fail (the load commits nothing) or defer")
            }
            onError = chosen
        }
        try reader.finish()
    }
}

/// Takes the keys of one config section one by one, and refuses what is left.
struct FieldReader {
    var fields: [String: Any]
    let place: String

    mutating func take<T>(_ key: String, as type: T.Type) throws -> T? {
        guard let value = fields.removeValue(forKey: key), !(value is NSNull) else { return nil }
        if let typed = value as? T { return typed }
        if T.self == String.self, let number = value as? Int { return String(number) as? T }
        throw ConnectionError("\(place).\(key): expected \(Self.describe(T.self)), got \"\(value)\"")
    }

    mutating func integer(_ key: String) throws -> Int? {
        guard let value = fields.removeValue(forKey: key), !(value is NSNull) else { return nil }
        if let number = value as? Int { return number }
        if let text = value as? String, let number = Int(text.trimmingCharacters(in: .whitespaces)) { return number }
        throw ConnectionError("\(place).\(key): expected a whole number, got \"\(value)\"")
    }

    /// A list of names, or one name, or names joined by commas.
    mutating func strings(_ key: String) throws -> [String] {
        guard let value = fields.removeValue(forKey: key), !(value is NSNull) else { return [] }
        if let list = value as? [Any] { return list.map { "\($0)" } }
        if let text = value as? String {
            return text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        throw ConnectionError("\(place).\(key): expected a list of column names, got \"\(value)\"")
    }

    /// Refuses a key nobody took.
    func finish() throws {
        guard let key = fields.keys.sorted().first else { return }
        throw ConnectionError("\(place): unknown key \"\(key)\"; see docs/pgvector.md")
    }

    static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "text"
        case is Bool.Type: "true or false"
        case is [Any].Type: "a list"
        default: "a section of keys"
        }
    }
}
