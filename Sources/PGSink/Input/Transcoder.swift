import PGSinkCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Text in another character set, turned into UTF-8 as it is read (the C library's iconv),
/// through two fixed buffers: memory stays the same whatever the input's size.
final class Transcoder {
    /// The character set as the user named it (or `UTF-16LE` from a byte order mark).
    let charset: String
    private let source: String
    private let converter: iconv_t
    private static let capacity = 1 << 16
    private let input = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
    private var inStart = 0
    private var inEnd = 0
    private var inEOF = false
    /// UTF-8 made and not yet handed out: a character may need more room than a read asks for.
    private let output = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity * 4)
    private var outStart = 0
    private var outEnd = 0
    /// Lines of UTF-8 handed out so far, to name the line of a byte that is not in the character set.
    private var lines = 1

    static func isUTF8(_ name: String) -> Bool { ["utf-8", "utf8"].contains(name.lowercased()) }

    init(from charset: String, source: String) throws(InputError) {
        self.charset = charset
        self.source = source
        let opened = iconv_open("UTF-8", Self.iconvName(charset))
        guard let opened, opened != iconv_t(bitPattern: -1) else {
            input.deallocate()
            output.deallocate()
            throw InputError(
                source: source, line: 0,
                message: "unknown encoding \"\(charset)\"; pass one the system knows (see iconv -l), e.g. "
                    + "--encoding latin1, windows-1252 or utf-16")
        }
        converter = opened
    }

    deinit {
        iconv_close(converter)
        input.deallocate()
        output.deallocate()
    }

    /// Names users write that iconv spells differently.
    private static func iconvName(_ name: String) -> String {
        switch name.lowercased() {
        case "latin1", "latin-1", "iso-8859-1", "iso8859-1": "ISO-8859-1"
        case "windows-1252", "cp1252", "win1252": "WINDOWS-1252"
        default: name.uppercased()
        }
    }

    /// Up to `count` bytes of UTF-8 into `out`; 0 at the end of the input, nil when `read` gave up
    /// waiting. `read` supplies the bytes in the character set.
    func convert(
        into out: UnsafeMutablePointer<UInt8>, count: Int,
        read: (UnsafeMutablePointer<UInt8>, Int) throws(InputError) -> Int?
    ) throws(InputError) -> Int? {
        while outStart == outEnd {
            outStart = 0
            outEnd = 0
            if inStart == inEnd || !inEOF {
                if inStart > 0 {
                    let left = inEnd - inStart
                    if left > 0 { input.update(from: input + inStart, count: left) }
                    inStart = 0
                    inEnd = left
                }
                if !inEOF && inEnd < Self.capacity {
                    guard let n = try read(input + inEnd, Self.capacity - inEnd) else { return nil }
                    if n == 0 { inEOF = true }
                    inEnd += n
                }
            }
            if inStart == inEnd && inEOF { return 0 }
            try step()
        }
        let n = min(count, outEnd - outStart)
        out.update(from: output + outStart, count: n)
        outStart += n
        return n
    }

    /// Converts what the input buffer holds into the output buffer.
    private func step() throws(InputError) {
        var inLeft = inEnd - inStart
        var outLeft = Self.capacity * 4
        var inPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(input + inStart)
            .assumingMemoryBound(to: CChar.self)
        var outPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(output).assumingMemoryBound(to: CChar.self)
        let status = iconv(converter, &inPointer, &inLeft, &outPointer, &outLeft)
        let failure = status == -1 ? errno : 0
        inStart = inEnd - inLeft
        outEnd = Self.capacity * 4 - outLeft
        for k in 0..<outEnd where output[k] == 10 { lines += 1 }
        switch failure {
        case 0, E2BIG: return
        case EINVAL:
            // A character cut by the end of the buffer: more input completes it.
            if inEOF {
                throw InputError(
                    source: source, line: lines,
                    message: "the text ends inside a \(charset) character: the file is cut short or not \(charset)")
            }
        default:
            let byte = String(input[inStart], radix: 16, uppercase: true)
            throw InputError(
                source: source, line: lines,
                message: "byte 0x\(byte) is not valid \(charset) text; pass the file's real encoding with --encoding")
        }
    }
}
