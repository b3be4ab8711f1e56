// What the orchestrator's tests share: the testbed topology, bindings by hand, and a state
// file in a temporary directory.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "control/orchestrator/orchestrator.h"
#include "control/protocol/command.h"
#include "tests/test_support.h"

// In a named namespace, not an anonymous one: gtest needs one fixture type per suite across
// the test files that share it.
namespace ssw::orchestrator_test {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;
using strings = std::vector<std::string>;

using test::A;
using test::P;
using test::testbed_topology;

inline const ip4_addr kC = A("192.168.11.3"), kV = A("192.168.11.4");

inline topology load_testbed() {
    topology t;
    std::string err;
    const std::string path = testbed_topology();
    EXPECT_FALSE(path.empty()) << "conf/testbed/topology.json not found: set SSW_SOURCE_DIR";
    EXPECT_TRUE(topology::load(path, t, err)) << err;
    return t;
}

inline held_binding fwd(ip4_addr m, const char *care, uint64_t epoch) {
    return {{m, A(care), binding_kind::forward, 0}, epoch};
}
inline held_binding local(ip4_addr m, const char *care, uint16_t port, uint64_t epoch,
                          bool keep = false) {
    return {{m, A(care), keep ? binding_kind::local_keep_source : binding_kind::local, port},
            epoch};
}

// ---- the state file ----

class StateDir : public ::testing::Test {
protected:
    void write(const std::string &text) const { test::write_file(path_, text); }
    orchestrator_state load() const {
        orchestrator_state st;
        std::string err;
        EXPECT_TRUE(orchestrator_state::load(path_, st, err)) << err;
        return st;
    }
    test::temp_dir tmp_{"ssw-orchestrator-test"};
    std::string dir_ = tmp_.path(), path_ = dir_ + "/vm-state.json";
};

}  // namespace ssw::orchestrator_test
