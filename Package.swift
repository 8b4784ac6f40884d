// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "pgsink",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "pgsink", targets: ["pgsink"]),
        .library(name: "PGSinkCore", targets: ["PGSinkCore"]),
        .library(name: "PGSink", targets: ["PGSink"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-nio-ssh", from: "0.15.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        // Parquet page codecs (Debian's libsnappy-dev, libzstd-dev, liblz4-dev).
        .systemLibrary(
            name: "CSnappy",
            pkgConfig: "snappy",
            providers: [.apt(["libsnappy-dev"]), .brew(["snappy"])]
        ),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"]), .brew(["zstd"])]
        ),
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"]), .brew(["lz4"])]
        ),
        .target(name: "PGSinkCore"),
        .target(
            name: "PGSink",
            dependencies: [
                "PGSinkCore", "CLibPQ", "CZlib", "CSnappy", "CZstd", "CLZ4",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "NIOSSH", package: "swift-nio-ssh"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "pgsink",
            dependencies: [
                "PGSink", "PGSinkCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .target(name: "PGSinkTestSupport", dependencies: ["PGSinkCore"], path: "Tests/PGSinkTestSupport"),
        .testTarget(name: "PGSinkCoreTests", dependencies: ["PGSinkCore", "PGSinkTestSupport"]),
        // PGSink and the command line without a server: settings, configs, flags.
        .testTarget(
            name: "PGSinkTests",
            dependencies: [
                "PGSink", "PGSinkCore", "pgsink", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "PGSinkIntegrationTests", dependencies: ["PGSink", "PGSinkCore", "PGSinkTestSupport"]),
    ]
)
