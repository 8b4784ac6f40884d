import CZlib
import PGSinkCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file or standard input. gzip (one member or several, concatenated) is recognised by its
/// content and inflated while reading; anything else is passed through. Keeps a fingerprint of
/// everything it read.
///
/// zlib's gzread treats a stream cut short as the end of the input and skips whatever follows
/// the last member, so a half-downloaded file would load half its rows. Here every member must
/// end with its trailer (inflate checks its CRC-32 and length), and only another member may
/// follow one: a truncated or damaged input fails the load.
public final class InputFile {
    public let name: String
    /// The size on disk, for progress; nil for standard input and pipes.
    public let size: Int?
    private var digest = ContentFingerprint()
    /// Reads may wait for a writer (a pipe, a terminal, a socket), so a batch may be worth sending
    /// before it is full.
    public var waitsForWriter: Bool { size == nil }
    public private(set) var bytesRead = 0
    /// Bytes taken from the file itself (compressed bytes for gzip), for progress.
    public private(set) var position = 0

    private enum Encoding { case unknown, plain, gzip }

    private let fd: Int32
    private var encoding = Encoding.unknown
    /// Bytes read from the file and not yet inflated (or, before the encoding is known, looked at).
    private let raw: UnsafeMutablePointer<UInt8>
    private static let rawCapacity = 1 << 18
    private var rawStart = 0
    private var rawEnd = 0
    private var rawEOF = false
    /// Allocated once: zlib keeps the stream's address in its state and refuses a moved stream.
    private var inflater: UnsafeMutablePointer<z_stream>?
    private var inMember = false
    private var firstByte: UInt8?
    private var headChecked = false

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
        self.fd = fd
        raw = .allocate(capacity: Self.rawCapacity)
    }

    deinit {
        if let inflater {
            inflateEnd(inflater)
            inflater.deallocate()
        }
        raw.deallocate()
        close(fd)
    }

    /// Reads up to `count` bytes onto the end of `storage`; 0 means the input is finished.
    public func read(into storage: ByteStorage, count: Int) throws(InputError) -> Int {
        try read(into: storage, count: count, deadline: nil) ?? 0
    }

    /// As `read(into:count:)`, but gives up with nil when nothing arrived within `seconds`.
    public func read(into storage: ByteStorage, count: Int, waitingAtMost seconds: Double) throws(InputError) -> Int? {
        let deadline = ContinuousClock.now + .milliseconds(Int(max(0, seconds) * 1000))
        return try read(into: storage, count: count, deadline: deadline)
    }

    private func read(into storage: ByteStorage, count: Int, deadline: ContinuousClock.Instant?) throws(InputError)
        -> Int?
    {
        if encoding == .unknown {
            guard try decideEncoding(deadline: deadline) else { return nil }
        }
        storage.reserve(count)
        let start = storage.base + storage.count
        let produced =
            switch encoding {
            case .gzip: try inflate(into: start, count: count, deadline: deadline)
            default: try readPlain(into: start, count: count, deadline: deadline)
            }
        guard let n = produced else { return nil }
        if n > 0 {
            if !headChecked { try checkHead(start, n) }
            digest.update(UnsafeRawBufferPointer(start: start, count: n))
            storage.count += n
            bytesRead += n
        }
        return n
    }

    /// Identifies the content read so far: SHA-256 of the (decompressed) bytes.
    public var fingerprint: String { digest.text }

    // MARK: - Reading

    /// gzip when the input starts with gzip's magic bytes; false when the deadline passed first.
    private func decideEncoding(deadline: ContinuousClock.Instant?) throws(InputError) -> Bool {
        while rawEnd - rawStart < 2 && !rawEOF {
            guard try fillRaw(deadline: deadline) else { return false }
        }
        guard rawEnd - rawStart >= 2 && raw[rawStart] == 0x1F && raw[rawStart + 1] == 0x8B else {
            encoding = .plain
            return true
        }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // 15 + 16: a 32 KiB window, and a gzip header and trailer around the deflate data.
        guard inflateInit2_(stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            stream.deallocate()
            throw InputError(
                source: name, line: 0, message: "cannot start decompressing the gzip input (out of memory)")
        }
        inflater = stream
        encoding = .gzip
        return true
    }

    /// Moves what is left of the raw buffer to its front and reads more after it; false when the
    /// deadline passed with nothing to read.
    private func fillRaw(deadline: ContinuousClock.Instant?) throws(InputError) -> Bool {
        if rawStart > 0 {
            let left = rawEnd - rawStart
            if left > 0 { raw.update(from: raw + rawStart, count: left) }
            rawStart = 0
            rawEnd = left
        }
        guard let n = try readFile(into: raw + rawEnd, count: Self.rawCapacity - rawEnd, deadline: deadline) else {
            return false
        }
        if n == 0 { rawEOF = true }
        rawEnd += n
        return true
    }

    private func readPlain(into out: UnsafeMutablePointer<UInt8>, count: Int, deadline: ContinuousClock.Instant?)
        throws(InputError) -> Int?
    {
        if rawStart < rawEnd {
            let n = min(count, rawEnd - rawStart)
            out.update(from: raw + rawStart, count: n)
            rawStart += n
            return n
        }
        if rawEOF { return 0 }
        let n = try readFile(into: out, count: count, deadline: deadline)
        if n == 0 { rawEOF = true }
        return n
    }

    /// One read(2), after waiting for the input until `deadline` when there is one.
    private func readFile(into buffer: UnsafeMutablePointer<UInt8>, count: Int, deadline: ContinuousClock.Instant?)
        throws(InputError) -> Int?
    {
        while true {
            if let deadline {
                let left = ContinuousClock.now.duration(to: deadline).components
                let roundedUp = (left.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
                let milliseconds = max(0, left.seconds * 1000 + roundedUp)
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, Int32(min(milliseconds, 60_000)))
                if ready < 0 && errno != EINTR { throw failure(errno) }
                if ready <= 0 {
                    if ContinuousClock.now >= deadline { return nil }
                    continue
                }
            }
            let n = systemRead(fd, buffer, count)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(errno)
            }
            position += n
            return n
        }
    }

    /// Inflates into `out` until it is full or the input is finished. An input that can wait for
    /// its writer hands over what it has rather than wait for more.
    private func inflate(into out: UnsafeMutablePointer<UInt8>, count: Int, deadline: ContinuousClock.Instant?)
        throws(InputError) -> Int?
    {
        let stream = inflater!
        stream.pointee.next_out = out
        stream.pointee.avail_out = UInt32(count)
        var produced: Int { count - Int(stream.pointee.avail_out) }
        while produced < count {
            let left = rawEnd - rawStart
            if !inMember {
                // Between members: the end of the input, or the next member.
                if left < 2 && !rawEOF {
                    if produced > 0 && waitsForWriter { break }
                    guard try fillRaw(deadline: deadline) else { return produced > 0 ? produced : nil }
                    continue
                }
                if left == 0 { break }
                guard left >= 2 && raw[rawStart] == 0x1F && raw[rawStart + 1] == 0x8B else {
                    throw InputError(
                        source: name, line: 0,
                        message: "the gzip data is followed by bytes that are not gzip (at byte \(position - left) "
                            + "of the file): the file is damaged; download it again")
                }
                inflateReset(stream)
                inMember = true
            }
            if left == 0 {
                if rawEOF {
                    throw InputError(
                        source: name, line: 0,
                        message: "the gzip data is truncated (it ends inside a compressed stream, after "
                            + "\(bytesRead + produced) bytes of content): the file is incomplete; download it again")
                }
                if produced > 0 && waitsForWriter { break }
                guard try fillRaw(deadline: deadline) else { return produced > 0 ? produced : nil }
                continue
            }
            stream.pointee.next_in = raw + rawStart
            stream.pointee.avail_in = UInt32(left)
            let status = CZlib.inflate(stream, Z_NO_FLUSH)
            rawStart = rawEnd - Int(stream.pointee.avail_in)
            switch status {
            case Z_STREAM_END: inMember = false
            case Z_OK, Z_BUF_ERROR: break
            default:
                let reason = stream.pointee.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                throw InputError(
                    source: name, line: 0,
                    message: "the gzip data is corrupt (\(reason), at byte \(position - (rawEnd - rawStart)) "
                        + "of the file): download it again")
            }
        }
        return produced
    }

    // MARK: - Checks

    /// A UTF-16 byte order mark: the text would load as garbage, one NUL byte in every two.
    private func checkHead(_ bytes: UnsafeMutablePointer<UInt8>, _ n: Int) throws(InputError) {
        let pair: (UInt8, UInt8)
        if let firstByte {
            pair = (firstByte, bytes[0])
        } else if n >= 2 {
            pair = (bytes[0], bytes[1])
        } else {
            firstByte = bytes[0]
            return
        }
        headChecked = true
        if pair == (0xFF, 0xFE) || pair == (0xFE, 0xFF) {
            throw InputError(
                source: name, line: 0,
                message: "the text is UTF-16 (it starts with a UTF-16 byte order mark) and pgsink reads UTF-8: "
                    + "convert it to UTF-8 first, e.g. iconv -f UTF-16 -t UTF-8 < IN > OUT (gunzip a .gz first)")
        }
    }

    private func failure(_ code: Int32) -> InputError {
        InputError(source: name, line: 0, message: "cannot read the input: \(String(cString: strerror(code)))")
    }
}

/// read(2): the name `read` is taken by `InputFile`'s own methods.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
    read(fd, buffer, count)
}
