import CZlib
import PGSinkCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file or standard input. gzip (one member or several, concatenated) is recognised by its
/// content and inflated while reading; anything else is passed through. Text in another character
/// set (named, or UTF-16 with its byte order mark) is transcoded to UTF-8 as it is read. Keeps a
/// fingerprint of everything it read (after transcoding).
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
    /// A part of a plain file (`init(path:range:)`): the bytes left to read; nil: the whole input.
    private var remaining: Int?
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
    private var headChecked = false
    /// The first bytes of the content, looked at for a byte order mark and not yet handed out.
    private var head: [UInt8] = []
    /// The character set `--encoding` names; nil: UTF-8, or UTF-16 with a byte order mark.
    private let charset: String?
    private var transcoder: Transcoder?

    /// The character set the text was read in, when it was not UTF-8 (`windows-1252`, `UTF-16LE`).
    public var transcodedFrom: String? { transcoder?.charset }

    public init(path: String, encoding: String? = nil) throws(InputError) {
        charset = encoding
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

    /// The bytes `range` of a plain (uncompressed UTF-8) file, for one reader of a file split at row
    /// boundaries (`InputSegments`). It keeps no fingerprint: the whole file's comes from the pass
    /// that found the boundaries.
    public convenience init(path: String, range: Range<Int>) throws(InputError) {
        try self.init(path: path)
        guard lseek(fd, off_t(range.lowerBound), SEEK_SET) == off_t(range.lowerBound) else { throw failure(errno) }
        remaining = range.count
        encoding = .plain
        headChecked = true
        hashes = false
    }

    private var hashes = true

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
        if !headChecked {
            guard try decideCharset(deadline: deadline) else { return nil }
        }
        storage.reserve(count)
        let start = storage.base + storage.count
        let produced =
            if let transcoder {
                try transcoder.convert(into: start, count: count) { buffer, room throws(InputError) in
                    try readText(into: buffer, count: room, deadline: deadline)
                }
            } else {
                try readText(into: start, count: count, deadline: deadline)
            }
        guard let n = produced else { return nil }
        if n > 0 {
            if hashes { digest.update(UnsafeRawBufferPointer(start: start, count: n)) }
            storage.count += n
            bytesRead += n
        }
        return n
    }

    /// Bytes of the (decompressed) content: first what the byte order mark check looked at.
    private func readText(into out: UnsafeMutablePointer<UInt8>, count: Int, deadline: ContinuousClock.Instant?)
        throws(InputError) -> Int?
    {
        if !head.isEmpty {
            let n = min(count, head.count)
            head.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: n) }
            head.removeFirst(n)
            return n
        }
        return switch encoding {
        case .gzip: try inflate(into: out, count: count, deadline: deadline)
        default: try readPlain(into: out, count: count, deadline: deadline)
        }
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
            let n = systemRead(fd, buffer, remaining.map { min(count, $0) } ?? count)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(errno)
            }
            if let left = remaining {
                if n == 0 && left > 0 {
                    throw InputError(
                        source: name, line: 0,
                        message: "the file is shorter than when the load started (it changed while it was read); nothing "
                            + "was loaded; load it again once it is complete")
                }
                remaining = left - n
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

    /// The text's character set: the one named (`--encoding`), else UTF-16 when the text starts
    /// with its byte order mark (which is dropped), else UTF-8, read as it is. False when the
    /// deadline passed before two bytes came.
    private func decideCharset(deadline: ContinuousClock.Instant?) throws(InputError) -> Bool {
        while head.count < 2 {
            var pair: (UInt8, UInt8) = (0, 0)
            let got = try withUnsafeMutableBytes(of: &pair) { raw throws(InputError) -> Int? in
                let buffer = raw.bindMemory(to: UInt8.self).baseAddress!
                return switch encoding {
                case .gzip: try inflate(into: buffer, count: 2 - head.count, deadline: deadline)
                default: try readPlain(into: buffer, count: 2 - head.count, deadline: deadline)
                }
            }
            guard let got else { return false }
            if got == 0 { break }
            head += [pair.0, pair.1].prefix(got)
        }
        headChecked = true
        let utf16 = head == [0xFF, 0xFE] ? "UTF-16LE" : head == [0xFE, 0xFF] ? "UTF-16BE" : nil
        if let charset, !Transcoder.isUTF8(charset) {
            transcoder = try Transcoder(from: charset, source: name)
        } else if let utf16, charset == nil {
            head = []
            transcoder = try Transcoder(from: utf16, source: name)
        }
        return true
    }

    private func failure(_ code: Int32) -> InputError {
        InputError(source: name, line: 0, message: "cannot read the input: \(String(cString: strerror(code)))")
    }
}

/// read(2): the name `read` is taken by `InputFile`'s own methods.
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) -> Int {
    read(fd, buffer, count)
}
