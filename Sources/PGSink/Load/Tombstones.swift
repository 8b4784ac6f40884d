import PGSinkCore

/// Whether a change feed's table has tombstones of hard deletes (`SQL.deletesName`) that its
/// upserts must respect. Unknown until asked once; true as soon as a batch adds some (a load only
/// adds them, and a table it creates starts without). A batch that rolls back may leave it true:
/// that costs a check, never a row.
final class Tombstones: @unchecked Sendable {
    var exist: Bool?
}
