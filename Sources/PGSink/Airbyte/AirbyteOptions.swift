import PGSinkCore

/// The options of an Airbyte destination config: destination-postgres's keys and pgsink's own,
/// each declared once (connection keys go to `ConnectionSettings`, see `AirbyteConfig`).
public struct AirbyteOptions: Settings, Equatable {
    public var schema: String?
    public var cdcDeletionMode: CDCDeletionMode?
    public var disableTypeDedupe: Bool?
    public var stateId: String?
    public var stream = StreamOptions()

    public init() {}

    public static let options: [ConfigOption<AirbyteOptions>] = [
        ConfigOption(\.schema, "schema", default: "public"),
        ConfigOption(\.cdcDeletionMode, "cdc_deletion_mode", default: .hard),
        // Accepted and ignored (with a warning): pgsink writes typed tables directly.
        ConfigOption(\.disableTypeDedupe, "disable_type_dedupe", default: false),
        ConfigOption(\.stateId, "state_id", default: "airbyte"),
        .group(\.stream),
    ]

    public init(from decoder: any Decoder) throws { try decodeOptions(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeOptions(to: encoder) }
}

/// `cdc_deletion_mode`: rows whose latest change has `_ab_cdc_deleted_at` are deleted (hard) or kept (soft).
public enum CDCDeletionMode: String, SettingText {
    case hard = "Hard delete"
    case soft = "Soft delete"

    public init?(setting text: String) {
        switch text.lowercased() {
        case "hard delete", "hard": self = .hard
        case "soft delete", "soft": self = .soft
        default: return nil
        }
    }

    public var settingText: String { rawValue }
    public static let expected = "takes Hard delete or Soft delete"

    public init(from decoder: any Decoder) throws { try self.init(text: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeText(to: encoder) }
}
