/// The messages of `pgoutput`, PostgreSQL's built-in logical decoding plugin ("Logical
/// Replication Message Formats" in the protocol chapter of PostgreSQL's documentation), as
/// `PgOutputDecoder` reads them: protocol version 1, and version 2's streamed transactions.
///
/// Row values are never copied: a tuple is a range of `TupleValue`s in an array the caller keeps
/// and reuses, and each value is an offset and length into the message's own bytes. Only the
/// rare messages that describe the schema (Relation, Type) decode names into `String`s.
public enum PgOutput {
    /// One column's value in a tuple.
    public struct TupleValue: Sendable, Equatable {
        public enum Kind: UInt8, Sendable {
            /// `n`: SQL NULL.
            case null = 0x6E
            /// `u`: a TOASTed value the change left as it was; its bytes are not sent.
            case unchanged = 0x75
            /// `t`: the type's text output.
            case text = 0x74
            /// `b`: the type's binary send format (the `binary` option).
            case binary = 0x62
        }

        public var kind: Kind
        /// Where the bytes are in the message (0 and 0 for `null` and `unchanged`).
        public var offset: Int32
        public var length: Int32

        public init(kind: Kind, offset: Int32 = 0, length: Int32 = 0) {
            self.kind = kind
            self.offset = offset
            self.length = length
        }

        public var range: Range<Int> { Int(offset)..<Int(offset) + Int(length) }
    }

    /// Which old values an Update or Delete carries.
    public enum OldTupleKind: UInt8, Sendable {
        /// `K`: the replica identity's columns (the key); the others are `null`.
        case key = 0x4B
        /// `O`: the whole old row (REPLICA IDENTITY FULL).
        case old = 0x4F
    }

    public struct OldTuple: Sendable, Equatable {
        public var kind: OldTupleKind
        /// Indexes into the decoder's values array.
        public var values: Range<Int>
    }

    /// `B`. `commitTime` is in microseconds since 2000-01-01 (`PostgresClock`).
    public struct Begin: Sendable, Equatable {
        public var finalLSN: LSN
        public var commitTime: Int64
        public var xid: UInt32
    }

    /// `C`.
    public struct Commit: Sendable, Equatable {
        public var flags: UInt8
        public var commitLSN: LSN
        /// Where the transaction's commit record ends: what to confirm once it is applied.
        public var endLSN: LSN
        public var commitTime: Int64
    }

    /// `O`: the transaction was replayed from another server under a replication origin.
    public struct Origin: Sendable, Equatable {
        public var commitLSN: LSN
        /// The origin's name, a range of the message's bytes.
        public var name: Range<Int>
    }

    /// `R`: sent before the first change of a relation in a session and after its schema changed.
    public struct Relation: Sendable, Equatable {
        public struct Column: Sendable, Equatable {
            public var flags: UInt8
            public var name: String
            public var typeOID: UInt32
            public var typeModifier: Int32

            /// Part of the replica identity (every column under REPLICA IDENTITY FULL).
            public var isKey: Bool { flags & 1 != 0 }
        }

        /// `pg_class.relreplident`.
        public enum ReplicaIdentity: UInt8, Sendable {
            case `default` = 0x64
            case nothing = 0x6E
            case full = 0x66
            case index = 0x69
        }

        /// Set inside a stream block: the streamed transaction.
        public var streamXid: UInt32?
        public var id: UInt32
        /// Empty for pg_catalog.
        public var namespace: String
        public var name: String
        public var replicaIdentity: ReplicaIdentity
        public var columns: [Column]
    }

    /// `Y`: a type that is not built in, sent before the first Relation that uses it.
    public struct TypeInfo: Sendable, Equatable {
        public var streamXid: UInt32?
        public var oid: UInt32
        public var namespace: String
        public var name: String
    }

    /// `I`.
    public struct Insert: Sendable, Equatable {
        public var streamXid: UInt32?
        public var relationID: UInt32
        public var new: Range<Int>
    }

    /// `U`. `old` is nil when the key did not change and the table is not REPLICA IDENTITY FULL.
    public struct Update: Sendable, Equatable {
        public var streamXid: UInt32?
        public var relationID: UInt32
        public var old: OldTuple?
        public var new: Range<Int>
    }

    /// `D`.
    public struct Delete: Sendable, Equatable {
        public var streamXid: UInt32?
        public var relationID: UInt32
        public var old: OldTuple
    }

    /// `T`: one TRUNCATE statement's tables that are published.
    public struct Truncate: Sendable, Equatable {
        public var streamXid: UInt32?
        public var cascade: Bool
        public var restartIdentity: Bool
        public var relationIDs: [UInt32]
    }

    /// `M`: `pg_logical_emit_message` (with the `messages` option).
    public struct LogicalMessage: Sendable, Equatable {
        public var streamXid: UInt32?
        public var transactional: Bool
        public var lsn: LSN
        public var prefix: Range<Int>
        public var content: Range<Int>
    }

    /// `S`: the following messages, up to Stream Stop, belong to the in-progress transaction `xid`.
    public struct StreamStart: Sendable, Equatable {
        public var xid: UInt32
        public var firstSegment: Bool
    }

    /// `c`: the streamed transaction `xid` committed.
    public struct StreamCommit: Sendable, Equatable {
        public var xid: UInt32
        public var flags: UInt8
        public var commitLSN: LSN
        public var endLSN: LSN
        public var commitTime: Int64
    }

    /// `A`: the streamed (sub)transaction rolled back. Protocol version 4 adds where and when.
    public struct StreamAbort: Sendable, Equatable {
        public var xid: UInt32
        public var subxid: UInt32
        public var abortLSN: LSN?
        public var abortTime: Int64?
    }

    public enum Message: Sendable, Equatable {
        case begin(Begin)
        case commit(Commit)
        case origin(Origin)
        case relation(Relation)
        case type(TypeInfo)
        case insert(Insert)
        case update(Update)
        case delete(Delete)
        case truncate(Truncate)
        case message(LogicalMessage)
        case streamStart(StreamStart)
        case streamStop
        case streamCommit(StreamCommit)
        case streamAbort(StreamAbort)
    }

    /// The name errors use for a message type byte.
    static func name(_ type: UInt8) -> StaticString {
        switch type {
        case 0x42: "pgoutput Begin ('B')"
        case 0x43: "pgoutput Commit ('C')"
        case 0x4F: "pgoutput Origin ('O')"
        case 0x52: "pgoutput Relation ('R')"
        case 0x59: "pgoutput Type ('Y')"
        case 0x49: "pgoutput Insert ('I')"
        case 0x55: "pgoutput Update ('U')"
        case 0x44: "pgoutput Delete ('D')"
        case 0x54: "pgoutput Truncate ('T')"
        case 0x4D: "pgoutput Message ('M')"
        case 0x53: "pgoutput Stream Start ('S')"
        case 0x45: "pgoutput Stream Stop ('E')"
        case 0x63: "pgoutput Stream Commit ('c')"
        case 0x41: "pgoutput Stream Abort ('A')"
        default: "pgoutput unknown"
        }
    }
}
