import CLZ4
import CSnappy
import CZlib
import CZstd
import PGSinkCore

/// Parquet's page codecs through the system libraries: snappy, zlib (GZIP), zstd and LZ4_RAW.
enum ParquetCodecs {
    static func inflate(_ codec: Int32, _ input: UnsafeRawBufferPointer, _ size: Int) throws -> [UInt8] {
        guard size >= 0 else { throw ParquetError("a page with a negative size") }
        if size == 0 { return [] }
        var out = [UInt8](repeating: 0, count: size)
        let src = input.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let produced: Int? = out.withUnsafeMutableBufferPointer { dst -> Int? in
            switch ParquetCodec(rawValue: codec) {
            case .snappy?:
                guard let src else { return nil }
                var length = size
                let status = src.withMemoryRebound(to: CChar.self, capacity: input.count) { s in
                    dst.baseAddress!.withMemoryRebound(to: CChar.self, capacity: size) {
                        snappy_uncompress(s, input.count, $0, &length)
                    }
                }
                return status == SNAPPY_OK ? length : nil
            case .zstd?:
                guard let src else { return nil }
                let n = ZSTD_decompress(dst.baseAddress, size, src, input.count)
                return ZSTD_isError(n) != 0 ? nil : n
            case .lz4Raw?:
                guard let src else { return nil }
                let n = src.withMemoryRebound(to: CChar.self, capacity: input.count) { s in
                    dst.baseAddress!.withMemoryRebound(to: CChar.self, capacity: size) {
                        LZ4_decompress_safe(s, $0, Int32(input.count), Int32(size))
                    }
                }
                return n < 0 ? nil : Int(n)
            case .gzip?:
                guard let src else { return nil }
                return gunzip(src, input.count, into: dst.baseAddress!, size)
            default:
                return nil
            }
        }
        guard let codecKind = ParquetCodec(rawValue: codec), [.snappy, .zstd, .lz4Raw, .gzip].contains(codecKind) else {
            throw ParquetError("the \(ParquetCodec.name(codec)) compression is not supported (pgsink reads UNCOMPRESSED, SNAPPY, GZIP, ZSTD and LZ4_RAW)")
        }
        guard let produced else { throw ParquetError("a \(ParquetCodec.name(codec)) page does not decompress") }
        guard produced == size else {
            throw ParquetError("a \(ParquetCodec.name(codec)) page decompressed to \(produced) bytes, its header says \(size)")
        }
        return out
    }

    private static func gunzip(_ src: UnsafePointer<UInt8>, _ count: Int, into dst: UnsafeMutablePointer<UInt8>, _ size: Int)
        -> Int?
    {
        var stream = z_stream()
        // 15 + 32: a gzip or zlib header, detected.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: src)
        stream.avail_in = UInt32(count)
        stream.next_out = dst
        stream.avail_out = UInt32(size)
        let status = CZlib.inflate(&stream, Z_FINISH)
        guard status == Z_STREAM_END || (status == Z_BUF_ERROR && stream.avail_out == 0) else { return nil }
        return size - Int(stream.avail_out)
    }
}
