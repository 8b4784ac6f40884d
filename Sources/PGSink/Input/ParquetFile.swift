import Foundation
import PGSinkCore

/// A Parquet file opened for reading at offsets: the footer first, then one column chunk at a
/// time. Standard input cannot be read at offsets, so it is copied to a temporary file first.
final class ParquetFile {
    let name: String
    let size: Int
    let metadata: ParquetFileMetadata
    let schema: ParquetSchema
    private let fd: Int32
    private var temporary: String?

    init(path: String) throws(InputError) {
        name = path == "-" ? "stdin" : path
        var openPath = path
        if path == "-" {
            let copy = try Self.copyStandardInput()
            temporary = copy
            openPath = copy
        }
        fd = open(openPath, O_RDONLY)
        guard fd >= 0 else {
            let reason = String(cString: strerror(errno))
            if let temporary { unlink(temporary) }
            throw InputError(source: name, line: 0, message: "cannot open the input: \(reason)")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw InputError(
                source: name, line: 0, message: "a Parquet input must be a regular file (it is read from its end first)")
        }
        size = Int(info.st_size)
        do {
            (metadata, schema) = try Self.readFooter(fd: fd, size: size)
        } catch {
            close(fd)
            if let temporary { unlink(temporary) }
            throw InputError(source: name, line: 0, message: error.message)
        }
    }

    deinit {
        close(fd)
        if let temporary { unlink(temporary) }
    }

    /// `count` bytes at `offset`.
    func read(at offset: Int, count: Int) throws(ParquetError) -> [UInt8] {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else {
            throw ParquetError("bytes \(offset)..<\(offset + count) lie outside the file's \(size) bytes")
        }
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw ParquetError("reading bytes at \(offset + done) failed: \(String(cString: strerror(errno)))") }
            done += n
        }
        return out
    }

    /// The SHA-256 of the whole file, for the ledger and the duplicate guard.
    func fingerprint() throws(ParquetError) -> String {
        var digest = ContentFingerprint()
        var offset = 0
        while offset < size {
            let chunk = try read(at: offset, count: min(1 << 20, size - offset))
            chunk.withUnsafeBytes { digest.update($0) }
            offset += chunk.count
        }
        return digest.text
    }

    private static func readFooter(fd: Int32, size: Int) throws(ParquetError) -> (ParquetFileMetadata, ParquetSchema) {
        func bytes(_ offset: Int, _ count: Int) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: count)
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, count, off_t(offset)) }
            return n == count ? out : []
        }
        guard size >= 12 else {
            throw ParquetError("not a Parquet file: it has \(size) bytes, fewer than the 12 of an empty Parquet file's magic and footer")
        }
        let head = bytes(0, 4)
        let tail = bytes(size - 8, 8)
        let encrypted = Array("PARE".utf8)
        if tail.suffix(4).elementsEqual(encrypted) || head == encrypted {
            throw ParquetError("the file is an encrypted Parquet file (magic PARE); pgsink does not read encrypted Parquet")
        }
        let magic = Array("PAR1".utf8)
        guard head == magic else {
            throw ParquetError("not a Parquet file: it does not start with the magic bytes PAR1")
        }
        guard tail.count == 8, tail.suffix(4).elementsEqual(magic) else {
            throw ParquetError("the Parquet footer is missing or truncated: the file does not end with the magic bytes PAR1")
        }
        let length = Int(UInt32(tail[0]) | UInt32(tail[1]) << 8 | UInt32(tail[2]) << 16 | UInt32(tail[3]) << 24)
        guard length > 0, length <= size - 12 else {
            throw ParquetError("the Parquet footer is truncated: its length (\(length) bytes) does not fit in the file's \(size) bytes")
        }
        let footer = bytes(size - 8 - length, length)
        let metadata: ParquetFileMetadata
        do {
            metadata = try footer.withUnsafeBytes { p in try ParquetFileMetadata.decode(p) }
        } catch let error as ParquetError {
            throw ParquetError("the Parquet footer is corrupt: \(error.message)")
        } catch {
            throw ParquetError("the Parquet footer is corrupt: \(error)")
        }
        let schema = try ParquetSchema(metadata.schema)
        return (metadata, schema)
    }

    private static func copyStandardInput() throws(InputError) -> String {
        let path = NSTemporaryDirectory() + "pgsink-stdin-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).parquet"
        let out = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard out >= 0 else {
            throw InputError(source: "stdin", line: 0, message: "cannot make a temporary copy of standard input: \(String(cString: strerror(errno)))")
        }
        defer { close(out) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { Foundation.read(0, $0.baseAddress!, 1 << 20) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 {
                unlink(path)
                throw InputError(source: "stdin", line: 0, message: "reading standard input failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            var written = 0
            while written < n {
                let w = buffer.withUnsafeBytes { write(out, $0.baseAddress! + written, n - written) }
                guard w > 0 else {
                    unlink(path)
                    throw InputError(source: "stdin", line: 0, message: "cannot write the temporary copy of standard input")
                }
                written += w
            }
        }
        return path
    }
}
