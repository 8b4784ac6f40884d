import CZlib
import Foundation

/// A gzip request body (`Content-Encoding: gzip`, as RudderStack's SDKs send by default),
/// inflated in memory up to `limit` bytes: nil when it is not valid gzip, `.tooLarge` past it.
enum Gunzip {
    enum Outcome {
        case inflated([UInt8])
        case invalid
        case tooLarge
    }

    static func inflate(_ input: UnsafeRawBufferPointer, limit: Int) -> Outcome {
        guard let base = input.baseAddress, !input.isEmpty else { return .invalid }
        var stream = z_stream()
        // 15 + 16: a 32 KiB window, and a gzip header and trailer around the deflate data.
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return .invalid }
        defer { inflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: min(limit + 1, max(4096, input.count * 4)))
        var produced = 0
        stream.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: UInt8.self))
        stream.avail_in = UInt32(input.count)
        while true {
            if produced == out.count {
                guard out.count <= limit else { return .tooLarge }
                out.append(contentsOf: repeatElement(0, count: min(out.count, limit + 1 - out.count)))
            }
            let status = out.withUnsafeMutableBufferPointer { buffer -> Int32 in
                stream.next_out = buffer.baseAddress! + produced
                stream.avail_out = UInt32(buffer.count - produced)
                let status = CZlib.inflate(&stream, Z_NO_FLUSH)
                produced = buffer.count - Int(stream.avail_out)
                return status
            }
            if produced > limit { return .tooLarge }
            switch status {
            case Z_STREAM_END:
                out.removeSubrange(produced...)
                return .inflated(out)
            case Z_OK: continue
            case Z_BUF_ERROR where stream.avail_in == 0: return .invalid
            case Z_BUF_ERROR: continue
            default: return .invalid
            }
        }
    }
}
