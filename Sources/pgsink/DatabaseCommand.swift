import ArgumentParser
import Foundation
import PGSink

struct DatabaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the private PostgreSQL under ./.pgsink/ that pgsink uses when no connection is set.",
        subcommands: [Status.self, Start.self, Stop.self, URL.self]
    )

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Say whether the private server runs, and how to connect.")
        func run() throws {
            let server = EmbeddedServer()
            if server.isRunning() {
                print("running in \(server.location)\nconnect with: \(server.psqlCommand)")
            } else {
                print("not running (\(server.location))")
            }
        }
    }

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start the private server, creating it if needed.")
        func run() throws {
            let server = EmbeddedServer()
            do {
                try server.start()
            } catch {
                throw CommandFailure(description: "\(error)")
            }
            print("running in \(server.location)\nconnect with: \(server.psqlCommand)")
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the private server (its data stays).")
        func run() throws {
            let server = EmbeddedServer()
            do {
                try server.stop()
            } catch {
                throw CommandFailure(description: "\(error)")
            }
            print("stopped (\(server.location))")
        }
    }

    struct URL: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the private server's libpq connection string, starting it if needed.")
        func run() throws {
            let server = EmbeddedServer()
            do {
                try server.start()
            } catch {
                throw CommandFailure(description: "\(error)")
            }
            print(server.connectionString)
        }
    }
}
