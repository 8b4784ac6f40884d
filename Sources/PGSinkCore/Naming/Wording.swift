/// Small helpers that keep messages grammatical.
public enum Wording {
    /// `1 row`, `2 rows`, `0 rows`.
    public static func count(_ n: Int, _ singular: String, _ plural: String? = nil) -> String {
        "\(n) " + (n == 1 ? singular : plural ?? singular + "s")
    }

    /// The text without a final period, for splicing into a sentence that goes on ("…(1, x).. Fix").
    public static func clause(_ text: String) -> String {
        var text = Substring(text)
        while let last = text.last, last == "." || last == " " || last == "\n" { text.removeLast() }
        return String(text)
    }
}
