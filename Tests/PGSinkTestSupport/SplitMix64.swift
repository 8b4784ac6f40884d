@_exported import PGSinkCore

/// The core's SplitMix64, seeded: generated test cases are the same on every machine and a
/// failure reproduces.
public typealias SplitMix64 = SplitMix
