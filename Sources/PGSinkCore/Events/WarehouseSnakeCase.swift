/// lodash's `snakeCase` (as RudderStack's transformer ports it), for names that are already
/// reduced to ASCII letters, digits and `_`: the word splitting of lodash's `unicodeWords`
/// regular expression, tried alternative by alternative at each position.
enum WarehouseSnakeCase {
    /// Splits `name` into words and joins them lower-cased with `_`. With `keepNumbers`, digits
    /// stick to the word before or after them (`v3`, `12ft`), as RudderStack does by default.
    static func convert(_ name: String, keepNumbers: Bool) -> String {
        var out: [UInt8] = []
        appendWords(of: Array(name.utf8), keepNumbers: keepNumbers, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the lower-cased words of `s`, joined with `_`, to `out`.
    static func appendWords(of s: [UInt8], keepNumbers: Bool, to out: inout [UInt8]) {
        var i = 0
        var firstWord = true
        while i < s.count {
            guard let end = matchWord(s, at: i, keepNumbers: keepNumbers) else {
                i += 1
                continue
            }
            if !firstWord { out.append(UInt8(ascii: "_")) }
            firstWord = false
            for byte in s[i..<end] { out.append(isUpper(byte) ? byte + 32 : byte) }
            i = end
        }
    }

    static func isUpper(_ b: UInt8) -> Bool { b >= 65 && b <= 90 }
    static func isLower(_ b: UInt8) -> Bool { b >= 97 && b <= 122 }
    static func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }
    /// Anything but a letter or digit separates words.
    static func isBreak(_ b: UInt8) -> Bool { !isUpper(b) && !isLower(b) && !isDigit(b) }

    /// The end of the first alternative that matches at `i`, or nil.
    private static func matchWord(_ s: [UInt8], at i: Int, keepNumbers: Bool) -> Int? {
        if keepNumbers {
            if let end = lowerWordThenDigits(s, i) ?? upperRunThenDigits(s, i) ?? digitsThenLowerWord(s, i)
                ?? digitsThenUpperRun(s, i)
            {
                return end
            }
        }
        return regularWord(s, i) ?? upperWord(s, i) ?? lowerWord(s, i) ?? run(s, i, isUpper)
            ?? ordinal(s, i, upper: true) ?? ordinal(s, i, upper: false) ?? run(s, i, isDigit)
    }

    /// The end of the run of bytes passing `test` from `i`, nil when it is empty.
    private static func run(_ s: [UInt8], _ i: Int, _ test: (UInt8) -> Bool) -> Int? {
        var j = i
        while j < s.count && test(s[j]) { j += 1 }
        return j > i ? j : nil
    }

    /// `[A-Z]?[a-z]+`
    private static func lowerWord(_ s: [UInt8], _ i: Int) -> Int? {
        guard i < s.count else { return nil }
        if isUpper(s[i]) { return run(s, i + 1, isLower) }
        return run(s, i, isLower)
    }

    /// `[A-Z]?[a-z]+(?=[break]|[A-Z]|$)`: a word that does not run into a digit.
    private static func regularWord(_ s: [UInt8], _ i: Int) -> Int? {
        guard let end = lowerWord(s, i) else { return nil }
        return end == s.count || !isDigit(s[end]) ? end : nil
    }

    /// `[A-Z]+(?=[break]|[A-Z][a-z]|$)`: an acronym, leaving the capital of a following word.
    private static func upperWord(_ s: [UInt8], _ i: Int) -> Int? {
        guard let end = run(s, i, isUpper) else { return nil }
        if end == s.count || isBreak(s[end]) { return end }
        if isLower(s[end]) && end - 1 > i { return end - 1 }
        return nil
    }

    /// `[A-Z]?[a-z]+\d+`
    private static func lowerWordThenDigits(_ s: [UInt8], _ i: Int) -> Int? {
        guard let end = lowerWord(s, i) else { return nil }
        return run(s, end, isDigit)
    }

    /// `[A-Z]+\d+`
    private static func upperRunThenDigits(_ s: [UInt8], _ i: Int) -> Int? {
        guard let end = run(s, i, isUpper) else { return nil }
        return run(s, end, isDigit)
    }

    /// `\d+[A-Z]?[a-z]+`
    private static func digitsThenLowerWord(_ s: [UInt8], _ i: Int) -> Int? {
        guard let end = run(s, i, isDigit) else { return nil }
        return lowerWord(s, end)
    }

    /// `\d+[A-Z]+`
    private static func digitsThenUpperRun(_ s: [UInt8], _ i: Int) -> Int? {
        guard let end = run(s, i, isDigit) else { return nil }
        return run(s, end, isUpper)
    }

    /// `\d*(?:1st|2nd|3rd|(?![123])\dth)(?=\b|[A-Z_])` (and the upper-case twin, followed by `[a-z_]`).
    private static func ordinal(_ s: [UInt8], _ i: Int, upper: Bool) -> Int? {
        let digitsEnd = run(s, i, isDigit) ?? i
        var m = digitsEnd - 1  // the ordinal's own digit is the last one taken
        while m >= i {
            if let end = ordinalSuffix(s, m, upper: upper) {
                let followedWell =
                    end == s.count || s[end] == UInt8(ascii: "_")
                    || (upper ? isLower(s[end]) : isUpper(s[end]))
                if followedWell { return end }
            }
            m -= 1
        }
        return nil
    }

    /// At `m`: a digit and its ordinal letters (`1st`, `2nd`, `3rd`, `4th`…), the end or nil.
    private static func ordinalSuffix(_ s: [UInt8], _ m: Int, upper: Bool) -> Int? {
        guard m + 2 < s.count, isDigit(s[m]) else { return nil }
        let suffix: String
        switch s[m] {
        case UInt8(ascii: "1"): suffix = "st"
        case UInt8(ascii: "2"): suffix = "nd"
        case UInt8(ascii: "3"): suffix = "rd"
        default: suffix = "th"
        }
        let letters = Array((upper ? suffix.uppercased() : suffix).utf8)
        return s[m + 1] == letters[0] && s[m + 2] == letters[1] ? m + 3 : nil
    }
}
