import Foundation
import PGSink
import PGSinkCore
import Testing

/// Inputs that are not what they claim: gzip cut short, damaged or followed by other bytes, read
/// from files, standard input and pipes that deliver them slowly.
@Suite("Input integrity")
struct InputIntegrityTests {
    static let csv = Data((0..<2000).map { "\($0),value \($0)\n" }.joined().utf8)

    /// gzip as `gzip` writes it (through Python's zlib, so the tests need no gzip code of their
    /// own). Each part is flushed, so it inflates without the parts after it; the last ends the stream.
    static func gzip(parts: [Data]) throws -> [Data] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            """
            import sys, zlib
            z = zlib.compressobj(6, zlib.DEFLATED, 31)
            parts = sys.argv[1:]
            for i, part in enumerate(parts):
                out = z.compress(bytes.fromhex(part)) + z.flush(zlib.Z_FINISH if i == len(parts) - 1 else zlib.Z_SYNC_FLUSH)
                print(out.hex())
            """,
        ] + parts.map { $0.map { String(format: "%02x", $0) }.joined() }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        return text.split(separator: "\n").map { line in
            var bytes = Data()
            var index = line.startIndex
            while index < line.endIndex {
                let next = line.index(index, offsetBy: 2)
                bytes.append(UInt8(line[index..<next], radix: 16)!)
                index = next
            }
            return bytes
        }
    }

    static func gzip(_ data: Data) throws -> Data { try gzip(parts: [data])[0] }

    /// Everything an input yields, read in blocks of `block` bytes.
    static func readAll(_ path: String, block: Int = 1 << 20) throws -> Data {
        let file = try InputFile(path: path)
        let storage = ByteStorage(capacity: 1 << 16)
        while try file.read(into: storage, count: block) > 0 {}
        return Data(storage.bytes)
    }

    static func failure(_ path: String, block: Int = 1 << 20) -> String? {
        do {
            _ = try readAll(path, block: block)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func aGzipCutAnywhereIsTruncatedNotShort() throws {
        let whole = try Self.gzip(Self.csv)
        #expect(try Self.readAll(TestDatabase.file("whole.csv.gz", whole)) == Self.csv)
        // Every cut from the end of the magic bytes on: inside the header, the deflate data and the trailer.
        let cuts = Array(2..<24) + Array(stride(from: 24, to: whole.count - 8, by: 97)) + Array(whole.count - 8..<whole.count)
        for cut in cuts {
            let path = try TestDatabase.file("cut.csv.gz", whole.prefix(cut))
            let message = Self.failure(path)
            #expect(message?.contains("\(path): the gzip data is truncated") == true, "cut at \(cut): \(message ?? "read fine")")
        }
    }

    @Test func membersMustEndCleanlyAndNothingButAMemberMayFollow() throws {
        let member = try Self.gzip(Data("id\n1\n".utf8))
        let two = try TestDatabase.file("two.csv.gz", member + member)
        #expect(try Self.readAll(two, block: 3) == Data("id\n1\nid\n1\n".utf8))
        for (tail, what) in [(Data([0]), "one NUL"), (Data([0x1F]), "half a magic number"), (member.prefix(12), "a cut second member")] {
            let path = try TestDatabase.file("tail.csv.gz", member + tail)
            let message = Self.failure(path) ?? "read fine"
            #expect(message.contains("download it again"), "\(what): \(message)")
        }
        var flipped = member
        flipped[flipped.count - 6] ^= 0x40  // a CRC-32 byte
        #expect(Self.failure(try TestDatabase.file("crc.csv.gz", flipped))?.contains("incorrect data check") == true)
    }

    @Test func plainTextPassesThroughAndUTF16IsTranscodedWherever() throws {
        #expect(try Self.readAll(TestDatabase.file("plain.csv", Self.csv), block: 7) == Self.csv)
        #expect(try Self.readAll(TestDatabase.file("one.csv", Data([0x1F]))) == Data([0x1F]))
        #expect(try Self.readAll(TestDatabase.file("empty.csv", Data())) == Data())
        let text = "a,Zoë\n€,𝄞\n"
        let utf16 = Data([0xFF, 0xFE]) + Data(text.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] })
        for (name, data) in [("le.csv", utf16), ("le.csv.gz", try Self.gzip(utf16))] {
            let path = try TestDatabase.file(name, data)
            // Reads of 1 and 3 bytes cut characters, and the byte order mark, in two.
            for block in [1, 3, 1 << 20] { #expect(try Self.readAll(path, block: block) == Data(text.utf8), "\(name) \(block)") }
        }
        // The byte order mark split over two reads is still seen.
        #expect(try Self.readAll(TestDatabase.file("be.csv", Data([0xFE, 0xFF, 0, 0x61])), block: 1) == Data("a".utf8))
        // A character cut by the end of the file is an error naming it, not a silent loss.
        #expect(Self.failure(try TestDatabase.file("cut.csv", Data([0xFF, 0xFE, 0x61, 0, 0x62])))?.contains("ends inside a UTF-16LE character") == true)
    }

    @Test func aNamedEncodingIsTranscodedAndAnUnknownOneRefused() throws {
        let path = try TestDatabase.file("latin.csv", Data([0x63, 0x61, 0x66, 0xE9, 0x0A, 0x80, 0x0A]))
        let file = try InputFile(path: path, encoding: "windows-1252")
        let storage = ByteStorage(capacity: 16)
        while try file.read(into: storage, count: 2) > 0 {}
        #expect(Data(storage.bytes) == Data("café\n€\n".utf8))
        #expect(file.transcodedFrom == "windows-1252")
        do {
            _ = try InputFile(path: path, encoding: "klingon").read(into: storage, count: 10)
            Issue.record("an unknown encoding was accepted")
        } catch {
            #expect("\(error)".contains("unknown encoding \"klingon\""))
        }
    }

    @Test func aPipeHandsOverWhatArrivedAndWaitsNoLongerThanAsked() throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        defer { close(ends[0]) }
        let file = try InputFile(path: "/dev/fd/\(ends[0])")
        #expect(file.waitsForWriter)
        let storage = ByteStorage(capacity: 1 << 16)
        let started = Date()
        #expect(try file.read(into: storage, count: 1 << 20, waitingAtMost: 0.2) == nil)
        #expect(Date().timeIntervalSince(started) >= 0.15)
        // The first part of a gzip stream: its rows come out without waiting for the rest.
        let parts = try Self.gzip(parts: [Data("1\n2\n".utf8), Data("3\n".utf8)])
        parts[0].withUnsafeBytes { _ = write(ends[1], $0.baseAddress, $0.count) }
        var got = 0
        while got < 4, let n = try file.read(into: storage, count: 1 << 20, waitingAtMost: 2) { got += n }
        #expect(Data(storage.bytes) == Data("1\n2\n".utf8))
        close(ends[1])  // the writer stops midway
        #expect(throws: InputError.self) { while try file.read(into: storage, count: 1 << 20, waitingAtMost: 2) != 0 {} }
    }

    /// Runs pgsink with `input` on its standard input.
    static func run(_ arguments: [String], input: Data) throws -> (status: Int32, stderr: String) {
        let (process, stdin, errors) = try InterruptTests.start(arguments)
        stdin.write(input)
        try stdin.close()
        process.waitUntilExit()
        return (process.terminationStatus, (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")
    }

    @Test func truncatedGzipOnStandardInputCommitsNothing() throws {
        let db = try TestDatabase()
        let whole = try Self.gzip(Self.csv)
        let args = ["load", "-", "--format", "csv", "--no-header", "--table", "\(db.schema).piped", "--to", db.url]
        let cut = try Self.run(args, input: whole.prefix(whole.count / 2))
        #expect(cut.status == 1)
        #expect(cut.stderr.contains("stdin: the gzip data is truncated"), "\(cut.stderr)")
        #expect(cut.stderr.contains("nothing was committed"), "\(cut.stderr)")
        #expect(try !db.exists("piped"))
        let full = try Self.run(args, input: whole + whole)
        #expect(full.status == 0, "\(full.stderr)")
        #expect(try db.count("piped") == 4000)
    }

    /// Sends the header and two rows, then waits for the file named by its second argument to
    /// exist before it sends the last row; gzip (flushed after each write) when its first argument says so.
    static let slowWriter = """
        import os, sys, time, zlib
        z = zlib.compressobj(6, zlib.DEFLATED, 31) if sys.argv[1] == 'gzip' else None
        def put(text, last=False):
            data = text.encode()
            if z: data = z.compress(data) + z.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        put('id,label\\n1,a\\n2,b\\n')
        while not os.path.exists(sys.argv[2]):
            time.sleep(0.1)
        put('3,c\\n', last=True)
        """

    @Test(arguments: [false, true])
    func rowsFromASlowPipeReachTheServerAsTheyArrive(gzip: Bool) throws {
        let db = try TestDatabase()
        let table = db.table("slow").quoted
        try db.connection.execute("CREATE TABLE \(table) (id bigint, label text)")
        let writer = try TestDatabase.file("writer.py", Self.slowWriter)
        let marker = writer + ".go"
        // The shell makes the pipe, so pgsink holds no write end of it and sees the input end.
        let pipeline = Process()
        pipeline.executableURL = URL(fileURLWithPath: "/bin/sh")
        pipeline.arguments = [
            "-c", "python3 \"$0\" \"$1\" \"$2\" | \"$3\" load - --format csv --table \"$4\" --to \"$5\" --batch-timeout 0.3",
            writer, gzip ? "gzip" : "plain", marker, CommandLineTests.executable.path, "\(db.schema).slow", db.url,
        ]
        pipeline.standardOutput = FileHandle.nullDevice
        let errorPath = try TestDatabase.file("stderr.log", "")
        pipeline.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        try pipeline.run()
        defer {
            _ = FileManager.default.createFile(atPath: marker, contents: nil)
            pipeline.waitUntilExit()
        }
        // The rows are invisible to this session until pgsink commits, but COPY writes them into
        // the table's heap at once, so the table grows on disk while the writer still holds the pipe.
        let sent = try ExactlyOnceTests.eventually {
            try db.column("SELECT pg_relation_size('\(table)')") != ["0"]
        }
        #expect(sent, "no row reached the server while the input was open")
        #expect(pipeline.isRunning)
        #expect(try db.count("slow") == 0)
        _ = FileManager.default.createFile(atPath: marker, contents: nil)
        pipeline.waitUntilExit()
        let stderr = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
        #expect(pipeline.terminationStatus == 0, "\(stderr)")
        #expect(try db.column("SELECT string_agg(label, '' ORDER BY id) FROM \(table)") == ["abc"])
    }
}
