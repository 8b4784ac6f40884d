/// Blowfish with bcrypt's expensive key schedule ("eksblowfish"), only as much as
/// `bcrypt_pbkdf` needs: key expansion and ECB encryption of whole words.
///
/// State is one flat array, 18 P words then the four 256-word S-boxes, so the schedule
/// that rewrites "P then S" is a single loop. The hot paths use raw pointers because
/// OpenSSH's default 16 rounds mean millions of block encryptions per key.
struct Blowfish {
    private var state: [UInt32] = Blowfish.piWords

    /// Blowfish_expandstate: mixes `key` into P, then re-encrypts the whole state while folding in `data`.
    mutating func expand(key: [UInt8], data: [UInt8]) {
        state.withUnsafeMutableBufferPointer { st in
            Self.mixKey(st, key)
            data.withUnsafeBufferPointer { data in
                var j = 0
                var l: UInt32 = 0
                var r: UInt32 = 0
                for i in stride(from: 0, to: st.count, by: 2) {
                    l ^= Self.word(data, &j)
                    r ^= Self.word(data, &j)
                    Self.encipher(st, &l, &r)
                    st[i] = l
                    st[i + 1] = r
                }
            }
        }
    }

    /// Blowfish_expand0state: as `expand` with no data.
    mutating func expand(key: [UInt8]) {
        state.withUnsafeMutableBufferPointer { st in
            Self.mixKey(st, key)
            var l: UInt32 = 0
            var r: UInt32 = 0
            for i in stride(from: 0, to: st.count, by: 2) {
                Self.encipher(st, &l, &r)
                st[i] = l
                st[i + 1] = r
            }
        }
    }

    /// Encrypts consecutive pairs of words in place (ECB).
    mutating func encrypt(_ words: inout [UInt32]) {
        state.withUnsafeMutableBufferPointer { st in
            for i in stride(from: 0, to: words.count - 1, by: 2) {
                var (l, r) = (words[i], words[i + 1])
                Self.encipher(st, &l, &r)
                (words[i], words[i + 1]) = (l, r)
            }
        }
    }

    private static func mixKey(_ st: UnsafeMutableBufferPointer<UInt32>, _ key: [UInt8]) {
        key.withUnsafeBufferPointer { key in
            var j = 0
            for i in 0..<18 { st[i] ^= word(key, &j) }
        }
    }

    /// Blowfish_stream2word: the next big-endian word of `bytes`, wrapping around at the end.
    @inline(__always)
    static func word(_ bytes: UnsafeBufferPointer<UInt8>, _ j: inout Int) -> UInt32 {
        var word: UInt32 = 0
        for _ in 0..<4 {
            if j >= bytes.count { j = 0 }
            word = word << 8 | UInt32(bytes[j])
            j += 1
        }
        return word
    }

    @inline(__always)
    private static func encipher(_ st: UnsafeMutableBufferPointer<UInt32>, _ left: inout UInt32, _ right: inout UInt32)
    {
        let s = st.baseAddress!
        @inline(__always) func f(_ x: UInt32) -> UInt32 {
            let a = s[18 + Int(x >> 24)]
            let b = s[18 + 256 + Int((x >> 16) & 0xFF)]
            let c = s[18 + 512 + Int((x >> 8) & 0xFF)]
            let d = s[18 + 768 + Int(x & 0xFF)]
            return ((a &+ b) ^ c) &+ d
        }
        var l = left ^ s[0]
        var r = right
        var i = 1
        while i < 17 {
            r ^= f(l) ^ s[i]
            l ^= f(r) ^ s[i + 1]
            i += 2
        }
        left = r ^ s[17]
        right = l
    }
}
