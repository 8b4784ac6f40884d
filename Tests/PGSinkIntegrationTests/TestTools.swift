import Foundation
import PGSink

/// The Python tools scripts/install-test-tools puts in `PGSINK_TEST_TOOLS` (pyarrow's writer, the
/// SDK senders, …): the path of one, or an error saying how to get it.
func testTool(_ name: String) throws -> String {
    guard let dir = ProcessInfo.processInfo.environment["PGSINK_TEST_TOOLS"], !dir.isEmpty,
        FileManager.default.isExecutableFile(atPath: dir + "/" + name)
    else {
        throw LoadError("\(name) is missing: scripts/install-test-tools installs it (run the tests with `make test`)")
    }
    return dir + "/" + name
}
