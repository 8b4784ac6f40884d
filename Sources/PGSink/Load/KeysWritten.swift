/// The keys a stream has merged into a table it created itself, as hashes of their bytes
/// (`LoadStep.keyHashes`). A later batch none of whose keys were written before, and none twice,
/// cannot conflict with the table's rows, so it is copied straight in instead of through a
/// staging table and an upsert. The table's primary key still decides: a row someone else wrote
/// meanwhile makes that COPY fail, and the batch goes the staged way after all.
///
/// Hashes only ever err towards "seen" (a collision), which costs a staged batch, never a wrong
/// row. Past `limit` keys the set is dropped and every later batch is staged, so memory stays
/// bounded (about 12 bytes per key: some 25 MB at the limit). Only a load that commits more than
/// once keeps it: a file load's one transaction keys its new table once, at the end.
final class KeysWritten: @unchecked Sendable {
    static let limit = 2_000_000
    private var hashes: Set<Int>?
    /// The hashes are of binary keys (`LoadStep.rawKeyHashes`).
    private var holdsRaw = false
    /// Keys were written without their hashes (`addUnhashed`): the set cannot vouch for a key.
    private var missesSome = false

    /// The table was created by this load, so a batch whose keys are new to the load
    /// (`LoadStep.keysAreNew`) cannot conflict with its rows.
    var isTracking: Bool { hashes != nil }

    /// The table was just created: every key in it will pass through here.
    func start() {
        if hashes == nil { hashes = Set(minimumCapacity: 1 << 16) }
    }

    /// Whether none of the keys was written before (and tracking is on). Keys hashed in another
    /// form than those written (`LoadStep.rawKeyHashes`) cannot be compared: tracking ends.
    func areNew(_ keys: [Int], raw: Bool) -> Bool {
        guard hashes != nil, !missesSome, !keys.isEmpty else { return false }
        if raw != holdsRaw && !hashes!.isEmpty {
            hashes = nil
            return false
        }
        return !keys.contains { hashes!.contains($0) }
    }

    /// Records keys that were written (directly or staged).
    func add(_ keys: [Int], raw: Bool) {
        guard hashes != nil else { return }
        if raw != holdsRaw && !hashes!.isEmpty || hashes!.count + keys.count > Self.limit {
            hashes = nil
            return
        }
        holdsRaw = raw
        hashes!.formUnion(keys)
    }

    /// Records that keys were written without their hashes (a batch whose keys are new to the
    /// load): from now on only such batches go straight in.
    func addUnhashed() {
        guard hashes != nil else { return }
        missesSome = true
        hashes = []
    }
}
