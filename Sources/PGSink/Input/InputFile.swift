import CZlib
import PGSinkCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file or standard input, read through zlib so gzip is decompressed transparently (zlib
/// passes uncompressed bytes through untouched). Keeps a fingerprint of everything it read.
public final class InputFile {
    public let name: String
    /// The size on disk, for progress; nil for standard input and pipes.
    public let size: Int?
    private let gz: gzFile
    private var digest = ContentFingerprint()
    public private(set) var bytesRead = 0

    public init(path: String) throws(InputError) {
        let fd: Int32
        if path == "-" {
            name = "stdin"
            fd = dup(0)
        } else {
            name = path
            fd = open(path, O_RDONLY)
        }
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            throw InputError(source: path, line: 0, message: "cannot open the input: \(reason)")
        }
        var info = stat()
        if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG {
            size = Int(info.st_size)
        } else {
            size = nil
        }
        guard let gz = gzdopen(fd, "rb") else {
            close(fd)
            throw InputError(source: path, line: 0, message: "cannot read the input")
        }
        gzbuffer(gz, 1 << 18)
        self.gz = gz
    }

    deinit { gzclose(gz) }

    /// Reads up to `count` bytes onto the end of `storage`; 0 means the input is finished.
    public func read(into storage: ByteStorage, count: Int) throws(InputError) -> Int {
        storage.reserve(count)
        let start = storage.base + storage.count
        let n = gzread(gz, start, UInt32(count))
        guard n >= 0 else {
            var code: Int32 = 0
            let message = gzerror(gz, &code).map { String(cString: $0) } ?? "read error"
            throw InputError(source: name, line: 0, message: "cannot read the input: \(message)")
        }
        if n > 0 {
            digest.update(UnsafeRawBufferPointer(start: start, count: Int(n)))
            storage.count += Int(n)
            bytesRead += Int(n)
        }
        return Int(n)
    }

    /// How far into the file (compressed bytes for gzip), for progress.
    public var position: Int { Int(gzoffset(gz)) }

    /// Identifies the content read so far: SHA-256 of the (decompressed) bytes.
    public var fingerprint: String { digest.text }
}
