// Unit test main: brings up a minimal EAL (no hugepages, no devices) for the tests that need
// DPDK's heap (rte_lpm), then runs GoogleTest.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_eal.h>

int main(int argc, char **argv) {
    ::testing::InitGoogleTest(&argc, argv);
    std::string prefix = "ssw-unit-" + std::to_string(getpid());
    std::vector<std::string> args = {"unit_tests",  "-l",          "0",
                                     "--no-huge",   "-m",          "512",
                                     "--no-shconf", "--no-pci",    "--file-prefix",
                                     prefix,        "--log-level", "lib.*:error"};
    std::vector<char *> argv_eal;
    for (auto &a : args) argv_eal.push_back(a.data());
    if (rte_eal_init(int(argv_eal.size()), argv_eal.data()) < 0) {
        fprintf(stderr, "unit_tests: EAL init failed\n");
        return 1;
    }
    int rc = RUN_ALL_TESTS();
    const std::string runtime_dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    std::error_code ec;
    std::filesystem::remove_all(runtime_dir, ec);  // the EAL leaves it behind
    return rc;
}
