#include "control/protocol/command_file.h"

#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "control/protocol/command.h"

namespace ssw {

bool read_command_file(const std::string &path, std::vector<command_line> &out,
                       std::string &error) {
    std::ifstream in(path);
    if (!in) {
        error = fmt::format("cannot read {}: {}", path, strerror(errno));
        return false;
    }
    std::string text;
    unsigned n = 0;
    while (std::getline(in, text)) {
        ++n;
        if (!is_blank_or_comment(text)) out.push_back({path, n, std::move(text)});
    }
    if (in.bad()) {
        error = fmt::format("error reading {}: {}", path, strerror(errno));
        return false;
    }
    return true;
}

}  // namespace ssw
