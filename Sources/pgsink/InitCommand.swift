import ArgumentParser
import Foundation
import PGSink

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Scaffold a pipeline project: a commented pgsink.yaml, .env.example and a README (and sample data).",
        discussion: "Templates: " + InitTemplate.all.map(\.name).joined(separator: ", ")
            + ". Without one, asks on a terminal and lists them otherwise. Then: pgsink run."
    )

    @Argument(help: "The template.")
    var template: String?

    @Argument(help: "The directory to write into (default: the current one; made when missing).")
    var directory: String?

    @Option(help: ArgumentHelp(
        "The destination written into pgsink.yaml (a password in it becomes ${PGSINK_PASSWORD}). Default: none, so "
            + "PGSINK_URL, DATABASE_URL or the private server under ./.pgsink/ is used.", valueName: "conn"))
    var to: String?

    @Flag(help: "Overwrite files that exist.")
    var force = false

    func run() throws {
        guard let chosen = try choose() else { return }
        let target = URL(fileURLWithPath: directory ?? FileManager.default.currentDirectoryPath)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        let destination = try destinationLines()
        var files = chosen.files(destination: destination.yaml)
        files[".env.example"] = (files[".env.example"] ?? "") + destination.env
        for (name, _) in files.sorted(by: { $0.key < $1.key }) where !force {
            let path = target.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: path) {
                throw CommandFailure(description: "\(path) exists; pass --force to overwrite it, or choose another directory")
            }
        }
        for (name, content) in files.sorted(by: { $0.key < $1.key }) {
            let url = target.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(content.utf8).write(to: url)
            print("wrote \(url.path)")
        }
        print("next: cd \(target.path) && pgsink run   (see README.md)")
    }

    /// The template named, or asked for on a terminal; nil when the list was printed instead.
    private func choose() throws -> InitTemplate? {
        if let template {
            guard let found = InitTemplate.all.first(where: { $0.name == template }) else {
                throw UsageFailure(
                    command: Self.self,
                    error: ValidationError(
                        "no template \(template); templates: \(InitTemplate.all.map(\.name).joined(separator: ", "))"))
            }
            return found
        }
        let list = InitTemplate.all.enumerated().map { "  \($0 + 1). \($1.name) — \($1.summary)" }.joined(separator: "\n")
        guard isatty(0) == 1, isatty(1) == 1 else {
            print("templates (pgsink init TEMPLATE [DIR]):\n" + list.replacingOccurrences(of: #"\d+\. "#, with: "", options: .regularExpression))
            return nil
        }
        print("templates:\n\(list)")
        while true {
            print("which one? ", terminator: "")
            guard let answer = readLine()?.trimmingCharacters(in: .whitespaces) else { return nil }
            if let number = Int(answer), InitTemplate.all.indices.contains(number - 1) { return InitTemplate.all[number - 1] }
            if let found = InitTemplate.all.first(where: { $0.name == answer }) { return found }
        }
    }

    /// The destination section's lines, and the secret's name for .env.example.
    private func destinationLines() throws -> (yaml: String, env: String) {
        guard let to else {
            return (
                "destination:\n  # No connection here: PGSINK_URL, DATABASE_URL or PG* variables, else a private server\n"
                    + "  # under ./.pgsink/ (started on first use).\n  schema: public\n", "")
        }
        guard var url = URLComponents(string: to), url.scheme?.hasPrefix("postgres") == true else {
            return ("destination:\n  url: ${PGSINK_URL}\n  schema: public\n", "# the destination (a libpq connection string)\nPGSINK_URL=\n")
        }
        var env = ""
        if url.password != nil {
            url.password = nil
            env = "# the destination's password\nPGSINK_PASSWORD=\n"
            let text = (url.string ?? to).replacingOccurrences(of: "@", with: ":${PGSINK_PASSWORD}@", options: [], range: nil)
            return ("destination:\n  url: \"\(text)\"\n  schema: public\n", env)
        }
        return ("destination:\n  url: \"\(url.string ?? to)\"\n  schema: public\n", env)
    }
}
