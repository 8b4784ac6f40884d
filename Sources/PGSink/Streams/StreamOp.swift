import Foundation
import PGSinkCore

/// A stream's table as the writer keeps it: how it is written, and what the current transaction
/// has done to it. Made by the reader; after `open`, touched by the writer's thread only.
final class WriterTable: @unchecked Sendable {
    let loader: Loader
    let name: String
    /// Statements run before each commit that wrote the table (hard deletes).
    let afterWrite: [String]
    /// Overwrite: the table's old rows go and the new ones arrive in one long transaction on a
    /// connection of its own, committed at the end of the input.
    let replaces: Bool

    // The reply to `open`.
    fileprivate(set) var existing: [TargetColumn]?
    fileprivate(set) var existingChildren: [String: [TargetColumn]] = [:]
    fileprivate(set) var fixedTypes: [String: String] = [:]
    fileprivate let opened = DispatchSemaphore(value: 0)

    // The current transaction.
    var session: Loader.Session?
    var rowsInTransaction = 0
    var started = Date()
    /// Rows committed so far.
    var rowsCommitted = 0

    init(loader: Loader, name: String, afterWrite: [String], replaces: Bool) {
        self.loader = loader
        self.name = name
        self.afterWrite = afterWrite
        self.replaces = replaces
    }

    var table: TableName { loader.request.table }

    /// The transaction that wrote the table committed.
    func committed() {
        rowsCommitted += rowsInTransaction
        forget()
    }

    /// The transaction is gone (committed or to be run again): the next one opens the table anew.
    func forget() {
        rowsInTransaction = 0
        session = nil
    }

    func answer(existing: [TargetColumn]?, children: [String: [TargetColumn]], fixedTypes: [String: String]) {
        self.existing = existing
        self.existingChildren = children
        self.fixedTypes = fixedTypes
        opened.signal()
    }

    /// Waits for the writer's answer to `open`; gives up once the writer has failed.
    func waitUntilOpened(_ queue: WorkQueue<StreamOp>) throws {
        while opened.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            if queue.isCancelled { throw WorkQueue<StreamOp>.Cancelled() }
        }
    }
}

/// What a stream reader hands the writer, in order. A reader never issues SQL.
enum StreamOp: @unchecked Sendable {
    /// Make the table ready in the current transaction and answer with its columns.
    case open(WriterTable)
    /// One batch of one table.
    case step(WriterTable, LoadStep)
    /// A change to a table's rows that the source asked for.
    case operation(TableOperation)
    /// Commit what came before (ledger rows, `state` saved), then hand out `states`. `held`
    /// states wait for the overwrite transaction instead.
    case commit(states: [String], held: [String])
    /// The end of the input: commits the overwrite transaction and hands out the held states.
    case finish

    var isCommit: Bool {
        if case .commit = self { return true }
        return false
    }
}

/// Row changes a source asks for besides records.
enum TableOperation: Sendable {
    /// Singer ACTIVATE_VERSION: rows of older table versions go (or are marked deleted).
    case activateVersion(TableName, stream: String, version: String, hard: Bool)
    /// Airbyte refreshes: rows of generations before `minimum` go.
    case deleteOlderGenerations(TableName, minimum: Int64)
    /// A change feed's truncate (Debezium `op: t`): every row goes.
    case truncate(TableName)

    var table: TableName {
        switch self {
        case .activateVersion(let table, _, _, _), .deleteOlderGenerations(let table, _), .truncate(let table): table
        }
    }
}
