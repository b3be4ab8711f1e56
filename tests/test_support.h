// What several unit tests share: address literals, and files of the source tree.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "dataplane/net/net_types.h"

namespace ssw::test {

// Parsed literals; a malformed one in a test is a bug of the test.
inline ip4_addr A(const char *s) { return *ip4_addr::parse(s); }
inline ip4_prefix P(const char *s) { return *ip4_prefix::parse(s); }

// A file of the source tree, by its path from the top (e.g. "README.md"): under
// $SSW_SOURCE_DIR (set by meson test), else the first directory above the executable or the
// working directory that holds it. Empty when not found.
inline std::string source_file(const std::string &rel) {
    namespace fs = std::filesystem;
    if (const char *d = std::getenv("SSW_SOURCE_DIR"); d && fs::exists(fs::path(d) / rel))
        return (fs::path(d) / rel).string();
    std::error_code ec;
    for (fs::path start :
         {fs::read_symlink("/proc/self/exe", ec).parent_path(), fs::current_path(ec)}) {
        for (fs::path p = start; !p.empty(); p = p.parent_path()) {
            if (fs::exists(p / rel)) return (p / rel).string();
            if (p == p.root_path()) break;
        }
    }
    return {};
}

// conf/testbed/topology.json of the source tree; empty when not found.
inline std::string testbed_topology() { return source_file("conf/testbed/topology.json"); }

}  // namespace ssw::test
