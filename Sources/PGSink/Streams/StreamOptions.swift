import PGSinkCore

/// The commit and schema keys both protocol front ends take (`pgsink singer`, `pgsink airbyte`),
/// declared once; each front end's options include them as a group.
public struct StreamOptions: Settings, Equatable {
    public var batchRows: Int?
    public var batchBytes: Int?
    public var batchTimeout: Seconds?
    public var schemaContract: SchemaContract?
    public var maxRejects: Int?
    public var nested: StreamNesting?
    public var citus = DistributionOptions()

    public init() {}

    public static let options: [ConfigOption<StreamOptions>] = [
        ConfigOption(\.batchRows, "batch_size_rows", default: 100_000, check: .positive),
        ConfigOption(\.batchBytes, "batch_size_bytes", default: 64 << 20, check: .positive),
        // Seconds the oldest waiting record waits for its commit, so a slow source's data and state land.
        ConfigOption(\.batchTimeout, "batch_timeout", default: Seconds(60), check: .positive),
        ConfigOption(\.schemaContract, "schema_contract", default: .evolve),
        ConfigOption(\.maxRejects, "max_rejects", default: 0, check: .notNegative),
        ConfigOption(\.nested, "nested", default: StreamNesting(.jsonb)),
        // Citus (docs/scale-out.md), as in a destination section.
        .group(\.citus),
    ]

    public init(from decoder: any Decoder) throws { try decodeOptions(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeOptions(to: encoder) }
}

/// `nested` of a stream: jsonb or flatten (a stream has no child tables).
public struct StreamNesting: SettingText {
    public var mode: NestedMode

    public init(_ mode: NestedMode) {
        self.mode = mode
    }

    public init?(setting text: String) {
        guard let mode = NestedMode(parsing: text), mode != .tables else { return nil }
        self.init(mode)
    }

    public var settingText: String { mode.description }
    public static let expected = "takes jsonb, flatten or flatten:DEPTH"

    public init(from decoder: any Decoder) throws { try self.init(text: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeText(to: encoder) }
}

extension StreamSettings {
    /// The settings the shared keys give; the front end sets the rest (schema, naming, state id).
    init(_ options: StreamOptions) {
        self.init()
        batchRows = options.effective(\.batchRows)
        batchBytes = options.effective(\.batchBytes)
        batchSeconds = options.effective(\.batchTimeout).seconds
        contract = options.effective(\.schemaContract)
        maxRejects = options.effective(\.maxRejects)
        nested = options.effective(\.nested).mode
        distribution = options.citus.distribution
    }
}
