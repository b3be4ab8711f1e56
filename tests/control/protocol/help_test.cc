// `help` is the command language's reference (command_summary()): every form it shows must
// parse, and format back to the very same text; and the README's command list is `help`,
// line for line.
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "control/protocol/command.h"
#include "tests/test_support.h"

namespace ssw {
namespace {

// The syntax column of a help line: up to the first run of two spaces (the description).
// Empty for a line that only continues a description.
std::string syntax_of(const std::string &line) {
    if (line.empty() || line[0] == ' ') return {};
    return line.substr(0, line.find("  "));
}

// An example value for each placeholder of the help text; lower-case words are keywords.
const std::map<std::string, std::string> &examples() {
    static const std::map<std::string, std::string> m = {
        {"A.B.C.D/LEN", "10.0.0.1/24"},
        {"PREFIX", "10.1.0.0/16"},
        {"GATEWAY", "10.0.0.2"},
        {"IP", "10.0.0.5"},
        {"MAC", "02:00:00:00:00:01"},
        {"N", "1"},
        {"P", "2"},
        {"BYTES", "1400"},
        {"M", "192.168.11.3"},
        {"M*", "192.168.10.3"},
        {"E", "7"},
        {"K", "5"},
        {"MS", "50"},
    };
    return m;
}

// Every command a syntax line stands for: each [optional part] with and without, each a|b
// alternative, placeholders replaced by examples. Fails the test on a placeholder it does
// not know (a new one needs an example above).
std::vector<std::string> expand(const std::string &syntax) {
    std::vector<std::string> words;
    for (size_t i = 0; i < syntax.size();) {
        if (syntax[i] == ' ') {
            ++i;
            continue;
        }
        size_t j = i;
        if (syntax[i] == '[') {  // a group, possibly nested: to its matching ]
            for (int depth = 0; j < syntax.size(); ++j) {
                depth += syntax[j] == '[' ? 1 : syntax[j] == ']' ? -1 : 0;
                if (depth == 0) break;
            }
            ++j;
        } else {
            while (j < syntax.size() && syntax[j] != ' ') ++j;
        }
        words.push_back(syntax.substr(i, j - i));
        i = j;
    }
    std::vector<std::string> out = {""};
    auto append = [](std::vector<std::string> heads, const std::vector<std::string> &tails) {
        std::vector<std::string> r;
        for (const auto &h : heads)
            for (const auto &t : tails) r.push_back(t.empty() ? h : h.empty() ? t : h + " " + t);
        return r;
    };
    for (const std::string &w : words) {
        std::vector<std::string> choices;
        if (w.front() == '[') {
            choices = expand(w.substr(1, w.size() - 2));
            choices.push_back("");
        } else {
            for (size_t s = 0; s <= w.size();) {
                size_t e = w.find('|', s);
                if (e == std::string::npos) e = w.size();
                const std::string alt = w.substr(s, e - s);
                const bool keyword =
                    alt.find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string::npos;
                if (keyword) {
                    choices.push_back(alt);
                } else {
                    auto ex = examples().find(alt);
                    EXPECT_NE(ex, examples().end()) << "no example for " << alt << " in " << syntax;
                    choices.push_back(ex == examples().end() ? alt : ex->second);
                }
                s = e + 1;
            }
        }
        out = append(out, choices);
    }
    return out;
}

TEST(Help, EveryFormParsesAndFormatsBackToItself) {
    size_t forms = 0;
    std::set<size_t> types;
    for (const std::string &line : command_summary()) {
        const std::string syntax = syntax_of(line);
        if (syntax.empty()) continue;
        for (const std::string &example : expand(syntax)) {
            ++forms;
            const parse_result p = parse_command(example);
            ASSERT_TRUE(p.cmd) << "'" << example << "' (from '" << syntax << "'): " << p.error;
            EXPECT_EQ(format_command(*p.cmd), example) << "from '" << syntax << "'";
            types.insert(p.cmd->index());
        }
    }
    // Every command type is in help, in all its forms (the 20 syntax lines make 57).
    EXPECT_EQ(types.size(), std::variant_size_v<command>);
    EXPECT_GE(forms, 50u);
}

TEST(Help, TheReadmeListsExactlyTheHelp) {
    const std::string path = test::source_file("README.md");
    ASSERT_FALSE(path.empty()) << "README.md not found: set SSW_SOURCE_DIR";
    std::ifstream in(path);
    std::vector<std::string> listed;
    bool in_section = false, in_block = false;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("## ", 0) == 0) in_section = line == "## Commands";
        if (!in_section) continue;
        if (line.rfind("```", 0) == 0) {
            if (in_block) break;
            in_block = true;
            continue;
        }
        if (in_block) listed.push_back(line);
    }
    ASSERT_FALSE(listed.empty()) << "no command block under '## Commands' in " << path;
    EXPECT_EQ(listed, command_summary());
}

}  // namespace
}  // namespace ssw
