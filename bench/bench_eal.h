// What the Google Benchmark programs here share: their command line is the benchmark's flags,
// then `--` and EAL options (default: no hugepages, no PCI, lcore 0), and the EAL runs with a
// file prefix of its own, whose runtime directory is removed at the end.
#pragma once

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <rte_eal.h>

namespace ssw::bench {

class eal_session {
public:
    // Initialises the EAL (with `extra` EAL arguments appended) and Google Benchmark. ok()
    // is false, with a message printed, when either refuses its arguments.
    eal_session(int argc, char **argv, const char *name, std::vector<std::string> extra = {}) {
        int sep = argc;
        for (int i = 1; i < argc; ++i) {
            if (std::string(argv[i]) == "--") {
                sep = i;
                break;
            }
        }
        prefix_ = std::string(name) + "-" + std::to_string(getpid());
        std::vector<std::string> args = {argv[0]};
        if (sep + 1 < argc)
            args.insert(args.end(), argv + sep + 1, argv + argc);
        else
            args.insert(args.end(),
                        {"--no-huge", "-m", "1024", "--no-shconf", "--no-pci", "-l", "0"});
        args.insert(args.end(), extra.begin(), extra.end());
        args.insert(args.end(), {"--file-prefix", prefix_, "--log-level", "*:error"});
        std::vector<char *> eal_argv;
        for (auto &a : args) eal_argv.push_back(a.data());
        if (rte_eal_init(int(eal_argv.size()), eal_argv.data()) < 0) {
            std::fprintf(stderr, "%s: EAL initialisation failed (EAL options after --)\n", name);
            return;
        }
        eal_up_ = true;
        int bench_argc = sep;
        benchmark::Initialize(&bench_argc, argv);
        if (benchmark::ReportUnrecognizedArguments(bench_argc, argv)) return;
        std::string eal;
        for (size_t i = 1; i < args.size(); ++i) eal += (i > 1 ? " " : "") + args[i];
        benchmark::AddCustomContext("eal", eal);
        ok_ = true;
    }
    ~eal_session() {
        if (!eal_up_) return;
        const std::string runtime_dir = rte_eal_get_runtime_dir();
        rte_eal_cleanup();
        // The EAL leaves its runtime directory behind even with --no-shconf.
        if (runtime_dir.ends_with("/" + prefix_)) {
            std::error_code ec;
            std::filesystem::remove_all(runtime_dir, ec);
        }
    }
    eal_session(const eal_session &) = delete;
    eal_session &operator=(const eal_session &) = delete;

    bool ok() const { return ok_; }

private:
    std::string prefix_;
    bool eal_up_ = false;
    bool ok_ = false;
};

}  // namespace ssw::bench
