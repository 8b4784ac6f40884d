/// What the server sends in a CopyData message of `START_REPLICATION` ("Streaming Replication
/// Protocol" in PostgreSQL's documentation): WAL data, which for a logical slot is one message of
/// the output plugin, or a keepalive. Times are microseconds since 2000-01-01 (`PostgresClock`).
public enum ReplicationFrame: Sendable, Equatable {
    /// `w`: the plugin's message starts at `XLogData.headerLength`.
    case xLogData(XLogData)
    /// `k`.
    case keepalive(PrimaryKeepalive)

    public struct XLogData: Sendable, Equatable {
        /// Type byte and three Int64s; the plugin's bytes follow.
        public static let headerLength = 25

        /// Where the data starts in the WAL (for pgoutput, 0 for messages that do not have one).
        public var walStart: LSN
        /// The server's current end of WAL.
        public var walEnd: LSN
        public var sendTime: Int64
    }

    public struct PrimaryKeepalive: Sendable, Equatable {
        public var walEnd: LSN
        public var sendTime: Int64
        /// The server wants a standby status update now, or it will end the connection at
        /// `wal_sender_timeout`.
        public var replyRequested: Bool
    }

    /// Reads the frame of one CopyData message.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws -> ReplicationFrame {
        guard let type = bytes.first else {
            throw PgOutputError(
                code: .truncated(needed: 1), message: "replication", length: 0, offset: 0, field: "message type")
        }
        switch type {
        case UInt8(ascii: "w"):
            var reader = WireReader(bytes, message: "replication XLogData ('w')")
            return .xLogData(
                XLogData(
                    walStart: try reader.lsn("WAL start"), walEnd: try reader.lsn("WAL end"),
                    sendTime: try reader.int64("send time")))
        case UInt8(ascii: "k"):
            var reader = WireReader(bytes, message: "replication primary keepalive ('k')")
            let keepalive = PrimaryKeepalive(
                walEnd: try reader.lsn("WAL end"), sendTime: try reader.int64("send time"),
                replyRequested: try reader.bool("reply requested flag"))
            try reader.finish(after: "reply requested flag")
            return .keepalive(keepalive)
        default:
            throw WireReader(bytes, message: "replication unknown").error(
                .unexpectedByte(type), at: 0, "message type ('w' XLogData or 'k' keepalive)")
        }
    }

    public static func decode(_ bytes: [UInt8]) throws -> ReplicationFrame {
        try bytes.withUnsafeBytes { try decode($0) }
    }
}

/// `r`: what the client tells the server it has received (`written`), made durable (`flushed`)
/// and applied. For a logical slot the server keeps WAL from `flushed` on: report there only
/// what the destination has committed.
public struct StandbyStatusUpdate: Sendable, Equatable {
    public var written: LSN
    public var flushed: LSN
    public var applied: LSN
    /// The client's clock, microseconds since 2000-01-01 (`PostgresClock.now()`).
    public var clock: Int64
    /// Asks the server to answer with a keepalive at once.
    public var replyRequested: Bool

    public init(written: LSN, flushed: LSN, applied: LSN, clock: Int64, replyRequested: Bool = false) {
        self.written = written
        self.flushed = flushed
        self.applied = applied
        self.clock = clock
        self.replyRequested = replyRequested
    }

    /// The CopyData payload: `r`, four big-endian Int64s and the flag, 34 bytes.
    public var bytes: [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "r")]
        out.reserveCapacity(34)
        for value in [written.rawValue, flushed.rawValue, applied.rawValue, UInt64(bitPattern: clock)] {
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
        }
        out.append(replyRequested ? 1 : 0)
        return out
    }
}
