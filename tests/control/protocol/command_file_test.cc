// read_command_file: command lines with their positions; unreadable files named in the error.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "control/protocol/command_file.h"
#include "tests/test_support.h"

namespace ssw {
namespace {

// A file in a fresh temporary directory, removed afterwards.
class CommandFile : public ::testing::Test {
protected:
    void write(const std::string &text) { test::write_file(path_, text); }
    test::temp_dir tmp_{"ssw-cmdfile"};
    std::string dir_ = tmp_.path(), path_ = dir_ + "/startup.conf";
};

TEST_F(CommandFile, SkipsBlanksAndCommentsKeepsLineNumbers) {
    write(
        "# startup configuration\n"
        "\n"
        "address add 10.0.0.1/24 port 0\n"
        "   \t\n"
        "  # indented comment\n"
        "route add 0.0.0.0/0 via 10.0.0.254\n"
        "\n"
        "show ports");  // no final newline
    std::vector<command_line> lines;
    std::string err;
    ASSERT_TRUE(read_command_file(path_, lines, err)) << err;
    EXPECT_TRUE(err.empty());
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0].line, 3u);
    EXPECT_EQ(lines[0].text, "address add 10.0.0.1/24 port 0");
    EXPECT_EQ(lines[1].line, 6u);
    EXPECT_EQ(lines[1].text, "route add 0.0.0.0/0 via 10.0.0.254");
    EXPECT_EQ(lines[2].line, 8u);
    EXPECT_EQ(lines[2].text, "show ports");
    for (const auto &l : lines) {
        EXPECT_EQ(l.file, path_);
    }
    EXPECT_EQ(lines[1].where(), path_ + ":6");
}

TEST_F(CommandFile, AppendsToExistingLines) {
    write("help\n");
    std::vector<command_line> lines = {{"other", 9, "show stats"}};
    std::string err;
    ASSERT_TRUE(read_command_file(path_, lines, err)) << err;
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].file, "other");
    EXPECT_EQ(lines[1].text, "help");
    EXPECT_EQ(lines[1].line, 1u);
}

TEST_F(CommandFile, CrlfLinesKeepTheirCommand) {
    write("# comment\r\n\r\nshow ports\r\n");
    std::vector<command_line> lines;
    std::string err;
    ASSERT_TRUE(read_command_file(path_, lines, err)) << err;
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].line, 3u);
    EXPECT_EQ(lines[0].text.substr(0, 10), "show ports");
}

TEST_F(CommandFile, EmptyFileHasNoLines) {
    write("");
    std::vector<command_line> lines;
    std::string err;
    ASSERT_TRUE(read_command_file(path_, lines, err)) << err;
    EXPECT_TRUE(lines.empty());
}

TEST_F(CommandFile, MissingFileNamed) {
    const std::string missing = dir_ + "/no-such-file.conf";
    std::vector<command_line> lines;
    std::string err;
    EXPECT_FALSE(read_command_file(missing, lines, err));
    EXPECT_NE(err.find(missing), std::string::npos) << err;
    EXPECT_NE(err.find("No such file"), std::string::npos) << err;
    EXPECT_TRUE(lines.empty());
}

TEST_F(CommandFile, DirectoryRefused) {
    std::vector<command_line> lines;
    std::string err;
    EXPECT_FALSE(read_command_file(dir_, lines, err));
    EXPECT_NE(err.find(dir_), std::string::npos) << err;
    EXPECT_TRUE(lines.empty());
}

}  // namespace
}  // namespace ssw
