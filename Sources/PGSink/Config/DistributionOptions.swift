import PGSinkCore

/// The Citus keys of a destination (docs/scale-out.md), declared once for the `destination`
/// section (`LoadSettings`) and the Singer and Airbyte configs (`StreamOptions`).
public struct DistributionOptions: Settings, Equatable {
    public var distributionColumn: String?
    public var referenceTable: Bool?
    public var colocateWith: String?
    public var shardCount: Int?

    public init() {}

    public static let options: [ConfigOption<DistributionOptions>] = [
        ConfigOption(\.distributionColumn, "distribution_column", aliases: ["distribute_by"]),
        ConfigOption(\.referenceTable, "reference_table", default: false),
        ConfigOption(\.colocateWith, "colocate_with"),
        ConfigOption(\.shardCount, "shard_count", check: .positive),
    ]

    public init(from decoder: any Decoder) throws { try decodeOptions(from: decoder) }
    public func encode(to encoder: any Encoder) throws { try encodeOptions(to: encoder) }

    /// The options together.
    public var distribution: Distribution {
        Distribution(
            column: distributionColumn, reference: effective(\.referenceTable), colocateWith: colocateWith,
            shardCount: shardCount)
    }
}
