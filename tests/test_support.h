// What several unit tests share: address literals, and files of the source tree.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
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

// A fresh directory under /tmp, removed with all it holds when the object goes.
class temp_dir {
public:
    explicit temp_dir(const std::string &tag) {
        std::string tmpl = "/tmp/" + tag + "-XXXXXX";
        if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + " failed");
        path_ = tmpl;
    }
    temp_dir(const temp_dir &) = delete;
    temp_dir &operator=(const temp_dir &) = delete;
    ~temp_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    const std::string &path() const { return path_; }

private:
    std::string path_;
};

// A whole file's bytes (empty when it cannot be read), and a file written with `data` only.
inline std::string read_file(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
inline void write_file(const std::string &path, const std::string &data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
}

// conf/testbed/topology.json of the source tree; empty when not found.
inline std::string testbed_topology() { return source_file("conf/testbed/topology.json"); }

}  // namespace ssw::test
