// sswctl: the command-line client of ssw-router's control socket.
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "control/client.h"
#include "control/command.h"
#include "control/command_file.h"
#include "control/table_format.h"

namespace po = boost::program_options;
using namespace ssw;

namespace {

constexpr const char *kDefaultSocket = "/run/ssw/ssw-router.sock";

void print_help(const po::options_description &d) {
    std::cout << "Usage: sswctl [options] COMMAND...\n"
                 "       sswctl [options] -f FILE\n"
                 "       sswctl [options] batch FILE\n\n"
                 "Sends one command (or each command of FILE, stopping at the first refused)\n"
                 "to an ssw-router and prints the reply as a table, or as JSON with --json.\n"
                 "`batch FILE` applies the commands of FILE all together or not at all.\n"
                 "Exit status: 0 done, 1 refused by the router, 2 usage or connection error.\n\n"
              << d << "\nCommands:\n";
    for (const auto &line : command_summary()) std::cout << "  " << line << "\n";
}

// Prints a reply; returns whether the router accepted the command.
bool show(const nlohmann::ordered_json &rep, bool as_json, const std::string &where) {
    const bool ok = rep.value("ok", false);
    if (as_json) {
        std::cout << rep.dump(2) << "\n";
    } else if (ok) {
        if (rep.contains("data")) std::cout << render_text(rep["data"]);
    }
    if (!ok) {
        std::cerr << "sswctl: " << (where.empty() ? "" : where + ": ")
                  << rep.value("error", std::string("refused")) << "\n";
    }
    return ok;
}

}  // namespace

int main(int argc, char **argv) {
    std::string socket_path = kDefaultSocket;
    std::string file;
    std::vector<std::string> words;
    po::options_description desc("Options");
    // clang-format off
    desc.add_options()
        ("help,h", "print this help and exit")
        ("version,V", "print the version and exit")
        ("socket,s", po::value(&socket_path)->value_name("PATH")->default_value(kDefaultSocket),
            "the router's control socket")
        ("json,j", "print the router's JSON reply")
        ("file,f", po::value(&file)->value_name("FILE"), "send each command of FILE in turn");
    // clang-format on
    po::options_description hidden;
    hidden.add_options()("command", po::value(&words));
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("command", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error &e) {
        std::cerr << "sswctl: " << e.what() << " (see sswctl --help)\n";
        return 2;
    }
    if (vm.count("help")) {
        print_help(desc);
        return 0;
    }
    if (vm.count("version")) {
        std::cout << "sswctl " << SSW_VERSION << "\n";
        return 0;
    }
    const bool as_json = vm.count("json") > 0;
    if (words.empty() && file.empty()) {
        std::cerr << "sswctl: give either a COMMAND or -f FILE (see sswctl --help)\n";
        return 2;
    }
    std::vector<command_line> commands;
    if (!file.empty() && !words.empty()) {
        std::cerr << "sswctl: give either a COMMAND or -f FILE (see sswctl --help)\n";
        return 2;
    }
    if (!file.empty()) {
        std::string error;
        if (!read_command_file(file, commands, error)) {
            std::cerr << "sswctl: " << error << "\n";
            return 2;
        }
    } else if (!(words.size() == 2 && words[0] == "batch")) {
        std::string text;
        for (const auto &w : words) text += (text.empty() ? "" : " ") + w;
        commands.push_back({"", 0, text});
    }

    const bool batch = file.empty() && words.size() == 2 && words[0] == "batch";
    if (batch) {
        std::string error;
        if (!read_command_file(words[1], commands, error)) {
            std::cerr << "sswctl: " << error << "\n";
            return 2;
        }
    }

    control_client client;
    std::string error;
    if (!client.connect(socket_path, error)) {
        std::cerr << "sswctl: " << error << "\n";
        return 2;
    }
    if (batch) {
        std::vector<std::string> lines{"batch begin"};
        for (const auto &cl : commands) lines.push_back(cl.text);
        lines.push_back("batch commit");
        auto replies = client.call_many(lines, error);
        if (!replies) {
            std::cerr << "sswctl: " << error << "\n";
            return 2;
        }
        // A line refused while queueing names itself; else the commit's verdict stands.
        for (size_t i = 1; i + 1 < replies->size(); ++i)
            if (!(*replies)[i].value("ok", false)) return show((*replies)[i], as_json, commands[i - 1].where()) ? 0 : 1;
        return show(replies->back(), as_json, words[1]) ? 0 : 1;
    }
    for (const auto &cl : commands) {
        auto rep = client.call(cl.text, error);
        if (!rep) {
            std::cerr << "sswctl: " << error << "\n";
            return 2;
        }
        if (!show(*rep, as_json, cl.line ? cl.where() : "")) return 1;
    }
    return 0;
}
