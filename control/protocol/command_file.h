// Files of commands (the startup configuration, `sswctl -f`): one command per line, blank
// lines and '#' comments ignored.
#pragma once

#include <string>
#include <vector>

namespace ssw {

struct command_line {
    std::string file;
    unsigned line = 0;  // 1-based
    std::string text;

    std::string where() const { return file + ":" + std::to_string(line); }
};

// Reads the command lines of `path`. False, with a message naming the file, when it cannot be
// read.
bool read_command_file(const std::string &path, std::vector<command_line> &out, std::string &error);

}  // namespace ssw
