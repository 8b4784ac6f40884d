#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Logging

/// A Singer tap or an Airbyte source run by a pipeline: its stdout is a pipe the writer reads,
/// each line of its stderr is logged (the last ones are kept for the error), stdin is /dev/null.
///
/// Spawned with no signal blocked (a test runner's threads block most, and Python's
/// multiprocessing deadlocks when its child inherits that) and with pgsink's other descriptors
/// closed.
final class ToolProcess: @unchecked Sendable {
    let pid: pid_t
    /// The read end of the child's stdout.
    let output: Int32
    let name: String
    private let stderrDone = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var tail: [String] = []

    private init(pid: pid_t, output: Int32, name: String) {
        self.pid = pid
        self.output = output
        self.name = name
    }

    static func start(_ command: [String], logger: Logger) throws -> ToolProcess {
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0]
        guard pipe(&out) == 0, pipe(&err) == 0 else {
            throw LoadError("cannot make a pipe for \(command[0]): \(String(cString: strerror(errno)))")
        }
        for fd in out + err { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = command.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawnp(&pid, command[0], &actions, &attributes, argv, environ)
        close(out[1])
        close(err[1])
        guard spawned == 0 else {
            close(out[0])
            close(err[0])
            throw LoadError(
                "cannot run \(command[0]): \(String(cString: strerror(spawned))); install it or give its path in the pipeline's command")
        }
        let name = URL(fileURLWithPath: command[0]).lastPathComponent
        let process = ToolProcess(pid: pid, output: out[0], name: name)
        let errorFD = err[0]
        let thread = Thread { process.logErrors(errorFD, logger: logger) }
        thread.start()
        return process
    }

    /// Logs the child's stderr line by line until it closes.
    private func logErrors(_ fd: Int32, logger: Logger) {
        defer {
            close(fd)
            stderrDone.signal()
        }
        var pending = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending += buffer[0..<n]
            while let newline = pending.firstIndex(of: 10) {
                emit(String(decoding: pending[..<newline], as: UTF8.self), logger)
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { emit(String(decoding: pending, as: UTF8.self), logger) }
    }

    private func emit(_ line: String, _ logger: Logger) {
        guard !line.isEmpty else { return }
        logger.info("\(name): \(line)", metadata: ["pipeline.tool": "\(name)"])
        lock.withLock {
            tail.append(line)
            if tail.count > 20 { tail.removeFirst() }
        }
    }

    /// Waits for the child to exit; its exit status (128 + the signal when killed).
    func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        stderrDone.wait()
        close(output)
        let exited = status & 0x7f == 0
        return exited ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Stops the child (the load failed or was cancelled) and reaps it.
    func stop() {
        kill(pid, SIGTERM)
        _ = wait()
    }

    /// The last lines of its stderr, for an error message.
    var lastErrors: String { lock.withLock { tail.suffix(5).joined(separator: " | ") } }
}
