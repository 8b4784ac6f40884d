import Foundation
import PGSinkCore
import Yams

/// A configuration file: YAML (`pgsink.yaml`), or TOML (`secrets.toml` style), read into plain
/// values, with `${VAR}` expanded from the environment and secrets files merged in.
public enum ConfigFile {
    /// Where pgsink looks when no `--config` is given.
    public static let defaultNames = ["pgsink.yaml", "pgsink.yml"]

    /// Reads a file into a tree of [String: Any], [Any], String, Int, Double and Bool.
    public static func read(_ path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws -> [String: Any]
    {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "it is not readable" : "no such file"
            throw ConnectionError("cannot read the config file \(path): \(reason)")
        }
        let text = String(decoding: data, as: UTF8.self)
        let parsed: Any?
        if path.hasSuffix(".toml") {
            do {
                parsed = try TOMLReader.parse(text)
            } catch let failure as TOMLReader.Failure {
                throw ConnectionError("\(path):\(failure.line): \(failure.message)")
            }
        } else if path.hasSuffix(".json") {
            parsed = try? JSONSerialization.jsonObject(with: data)
            if parsed == nil { throw ConnectionError("\(path) is not valid JSON") }
        } else {
            do {
                parsed = try Yams.load(yaml: text)
            } catch {
                throw ConnectionError("\(path) is not valid YAML: \(Self.describe(error))")
            }
        }
        guard let tree = (parsed ?? [String: Any]()) as? [String: Any] else {
            throw ConnectionError("\(path) must hold a mapping of keys (destination: …) at the top")
        }
        return try expand(tree, path: path, at: "", environment: environment) as? [String: Any] ?? [:]
    }

    /// `${VAR}` (and `${VAR:-default}`) in every string value; a variable that is not set is an
    /// error naming it and the key.
    static func expand(_ value: Any, path: String, at key: String, environment: [String: String]) throws -> Any {
        switch value {
        case let table as [String: Any]:
            var result: [String: Any] = [:]
            for (name, inner) in table {
                result[name] = try expand(inner, path: path, at: key.isEmpty ? name : key + "." + name, environment: environment)
            }
            return result
        case let list as [Any]:
            return try list.enumerated().map { try expand($1, path: path, at: "\(key)[\($0)]", environment: environment) }
        case let text as String:
            return try expand(text, path: path, at: key, environment: environment)
        default:
            return value
        }
    }

    static func expand(_ text: String, path: String, at key: String, environment: [String: String]) throws -> String {
        guard text.contains("${") else { return text }
        var result = ""
        var rest = text[...]
        while let open = rest.range(of: "${") {
            result += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                throw ConnectionError("\(path): \(key): \"${\" without a closing \"}\"")
            }
            let inside = String(rest[open.upperBound..<close])
            let parts = inside.components(separatedBy: ":-")
            let name = parts[0]
            if let value = environment[name] {
                result += value
            } else if parts.count > 1 {
                result += parts.dropFirst().joined(separator: ":-")
            } else {
                throw ConnectionError(
                    "\(path): \(key) uses ${\(name)}, but the environment variable \(name) is not set; set it, or write "
                        + "${\(name):-default}")
            }
            rest = rest[rest.index(after: close)...]
        }
        return result + rest
    }

    /// `b` merged into `a`, tables merged key by key, `b` winning elsewhere.
    public static func merge(_ a: [String: Any], _ b: [String: Any]) -> [String: Any] {
        var result = a
        for (key, value) in b {
            if let left = result[key] as? [String: Any], let right = value as? [String: Any] {
                result[key] = merge(left, right)
            } else {
                result[key] = value
            }
        }
        return result
    }

    private static func describe(_ error: Error) -> String {
        if let yaml = error as? YamlError { return "\(yaml)".split(separator: "\n").first.map(String.init) ?? "\(yaml)" }
        return "\(error)"
    }
}
