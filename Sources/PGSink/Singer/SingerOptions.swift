import PGSinkCore

/// The options of a Singer target's config: MeltanoLabs target-postgres's keys and pgsink's own,
/// each declared once (connection keys go to `ConnectionSettings`, see `SingerConfig`).
public struct SingerOptions: Settings, Equatable {
    public var schema: String?
    public var hardDelete: Bool?
    public var addRecordMetadata: Bool?
    public var activateVersion: Bool?
    public var loadMethod: LoadMethod?
    public var flatteningEnabled: Bool?
    public var flatteningMaxDepth: Int?
    public var nestedSeparator: String?
    public var skipSchemaCreation: Bool?
    public var keepCase: Bool?
    public var allowReservedWords: Bool?
    public var stateId: String?
    public var sslEnable: Bool?
    public var sslClientCertificateEnable: Bool?
    public var stream = StreamOptions()

    public init() {}

    public static let options: [ConfigOption<SingerOptions>] = [
        ConfigOption(\.schema, "default_target_schema", aliases: ["schema"], default: "public"),
        ConfigOption(\.hardDelete, "hard_delete", default: false),
        ConfigOption(\.addRecordMetadata, "add_record_metadata", default: true),
        ConfigOption(\.activateVersion, "activate_version", default: true),
        ConfigOption(\.loadMethod, "load_method", default: .upsert),
        ConfigOption(\.flatteningEnabled, "flattening_enabled", default: false),
        ConfigOption(\.flatteningMaxDepth, "flattening_max_depth", default: 1000, check: .positive),
        ConfigOption(\.nestedSeparator, "nested_separator", default: "__"),
        ConfigOption(\.skipSchemaCreation, "skip_schema_creation", default: false),
        ConfigOption(\.keepCase, "keep_case", default: false),
        ConfigOption(\.allowReservedWords, "allow_reserved_words", default: false),
        ConfigOption(\.stateId, "state_id", default: "singer"),
        ConfigOption(\.sslEnable, "ssl_enable", default: false),
        ConfigOption(\.sslClientCertificateEnable, "ssl_client_certificate_enable", default: false),
        .group(\.stream),
    ]

    public init(from decoder: any Decoder) throws { try decodeOptions(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeOptions(to: encoder) }
}

/// `load_method`: merge on the stream's key_properties, or only append.
public enum LoadMethod: String, SettingText {
    case upsert
    case appendOnly = "append-only"

    public init?(setting text: String) { self.init(rawValue: text) }
    public var settingText: String { rawValue }
    public static let expected = "takes upsert (merge on key_properties) or append-only"
    public static func invalid(_ text: String) -> String {
        "\(expected) (got \"\(text)\"); for a full refresh, have the tap send ACTIVATE_VERSION and set hard_delete"
    }

    public init(from decoder: any Decoder) throws { try self.init(text: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeText(to: encoder) }
}

extension SingerSettings {
    init(_ options: SingerOptions) {
        self.init()
        streams = StreamSettings(options.stream)
        streams.schema = options.effective(\.schema)
        streams.createSchema = !options.effective(\.skipSchemaCreation)
        streams.stateId = options.effective(\.stateId)
        streams.nestedSeparator = options.effective(\.nestedSeparator)
        streams.naming = NamingRules(
            keepCase: options.effective(\.keepCase), allowReservedWords: options.effective(\.allowReservedWords))
        // nested, when given, wins over target-postgres's flattening keys.
        if options.stream.nested == nil && options.effective(\.flatteningEnabled) {
            streams.nested = .flatten(depth: options.effective(\.flatteningMaxDepth))
        }
        hardDelete = options.effective(\.hardDelete)
        addRecordMetadata = options.effective(\.addRecordMetadata)
        activateVersion = options.effective(\.activateVersion)
        appendOnly = options.effective(\.loadMethod) == .appendOnly
    }
}
