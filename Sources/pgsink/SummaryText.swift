import Foundation
import PGSink
import PGSinkCore

/// The human summary of a load.
enum SummaryText {
    static func render(_ s: LoadSummary, jobsRequested: Jobs = 1) -> String {
        var lines = [
            "loaded \(Wording.count(s.rows, "row")) into \(s.table) (\(s.mode.rawValue)) in \(String(format: "%.2f", s.seconds)) s, "
                + "\(Int(s.rowsPerSecond)) rows/s, load \(s.loadId)"
        ]
        for dialect in s.csvDialects ?? [] { lines.append("  read \(dialect.text)") }
        for hint in s.hints ?? [] { lines.append("  hint: \(hint)") }
        if s.tableCreated { lines.append("  created the table with columns: \(s.columnsCreated.joined(separator: ", "))") }
        if !s.columnsAdded.isEmpty { lines.append("  added columns: \(s.columnsAdded.joined(separator: ", "))") }
        if !s.columnsWidened.isEmpty { lines.append("  widened: \(s.columnsWidened.joined(separator: "; "))") }
        for (source, name) in s.columnsRenamed.sorted(by: { $0.key < $1.key }) {
            lines.append("  renamed \"\(source)\" to \(name): another column already normalizes to that name")
        }
        for (table, rows) in s.childTables.sorted(by: { $0.key < $1.key }) {
            lines.append("  child table \(table): \(Wording.count(rows, "row"))")
        }
        if s.rejected > 0 || s.discarded > 0 {
            var parts: [String] = []
            if s.rejected > 0 { parts.append("rejected \(Wording.count(s.rejected, "row"))") }
            if s.discarded > 0 { parts.append("discarded \(Wording.count(s.discarded, "row or value", "rows or values")) (schema contract)") }
            let schema = s.table.split(separator: ".").first.map(String.init) ?? "public"
            lines.append(
                "  \(parts.joined(separator: ", ")); see SELECT * FROM \(schema)._pgsink_rejects WHERE load_id = \(s.loadId)")
        }
        if s.staleDeleted > 0 { lines.append("  deleted \(Wording.count(s.staleDeleted, "stale row"))") }
        if !s.indexesCreated.isEmpty { lines.append("  created indexes: \(s.indexesCreated.joined(separator: ", "))") }
        if s.nulsRemoved > 0 {
            lines.append("  removed \(Wording.count(s.nulsRemoved, "NUL character")), which PostgreSQL cannot store in text")
        }
        if s.surrogatesReplaced > 0 {
            lines.append(
                "  replaced \(Wording.count(s.surrogatesReplaced, "lone UTF-16 surrogate")) (\\ud800…\\udfff without its pair) "
                    + "with U+FFFD, which is what PostgreSQL can store")
        }
        if let distribution = s.distribution {
            var line = "  Citus: \(distribution)"
            if let shards = s.shardsWritten, let workers = s.workersWritten {
                line += "; rows sent straight to its \(Wording.count(shards, "shard")) on \(Wording.count(workers, "worker"))"
            }
            lines.append(line)
        }
        if let chosen = s.autoJobs { lines.append("  --jobs auto chose \(Wording.count(chosen, "connection"))") }
        if let parts = s.partsRead, let readers = s.readers {
            lines.append("  read in \(parts) parts by \(readers) readers")
        }
        if s.connections > 1 && s.tableCreated {
            lines.append("  copied over \(s.connections) connections into a hidden table, then published it")
        } else if s.connections > 1 {
            lines.append(
                "  copied over \(s.connections) connections into staging tables, then published them in one transaction")
        } else if (s.autoJobs ?? jobsRequested.count ?? 2) > 1 {
            lines.append(
                "  copied over one connection: these load in one transaction (a merge into a table it creates, "
                    + "--max-rejects, --nested tables, --delete-stale or a discarding contract)")
        }
        if s.copyFormat == "text" { lines.append("  used text COPY: the table has columns pgsink does not encode in binary") }
        return lines.joined(separator: "\n")
    }
}

/// A one-line progress bar on stderr: bytes read of the total, rows/s, time left.
final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private let started = Date()
    private var lastDraw = Date.distantPast

    func update(_ progress: LoadProgress) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= 0.1 else { return }
        lastDraw = now
        let elapsed = max(now.timeIntervalSince(started), 0.001)
        let rate = Int(Double(progress.rows) / elapsed)
        var line = "\r"
        if let total = progress.bytesTotal, total > 0 {
            let fraction = min(1, Double(progress.bytesRead) / Double(total))
            let width = 30
            let filled = Int(fraction * Double(width))
            let eta = fraction > 0 ? elapsed / fraction - elapsed : 0
            line += "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
            line += String(format: "%3.0f%% %@/%@ %d rows/s ETA %.0fs", fraction * 100, Self.bytes(progress.bytesRead), Self.bytes(total), rate, eta)
        } else {
            line += String(format: "%@ read, %d rows, %d rows/s", Self.bytes(progress.bytesRead), progress.rows, rate)
        }
        FileHandle.standardError.write(Data((line + "\u{1B}[K").utf8))
    }

    func clear() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }

    static func bytes(_ n: Int) -> String {
        n >= 1 << 20 ? String(format: "%.1f MB", Double(n) / 1_048_576) : String(format: "%.0f KB", Double(n) / 1024)
    }
}
