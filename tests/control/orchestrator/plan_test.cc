// The orchestrator's plan: what every router must hold for the VMs' locations (desired), the
// commands that get a router there (diff_commands, binding_command), and the state file.
#include "tests/control/orchestrator/orchestrator_fixture.h"

namespace ssw {
namespace {

using namespace orchestrator_test;

// ---- desired() ----

class Desired : public ::testing::Test {
protected:
    void SetUp() override { topo_ = load_testbed(); }
    orchestrator_state at(const std::string &where, const char *care, uint64_t epoch,
                          bool triangle = false, ip4_addr vm = kC) {
        orchestrator_state st;
        st.vms[vm] = vm_state{vm, where, care ? A(care) : ip4_addr(), triangle, epoch};
        return st;
    }
    topology topo_;
};

TEST_F(Desired, AtHomeNothing) {
    for (const auto &st : {orchestrator_state{}, at("home", nullptr, 4)}) {
        const auto want = desired(topo_, st);
        ASSERT_EQ(want.size(), 4u) << "every router, even with nothing to hold";
        for (const auto &[name, h] : want) {
            EXPECT_TRUE(h.bindings.empty()) << name;
            EXPECT_TRUE(h.proxies.empty()) << name;
        }
    }
}

TEST_F(Desired, ForeignOptimized) {
    const auto want = desired(topo_, at("foreign", "192.168.10.100", 3));
    using proxies = std::set<std::pair<uint16_t, ip4_prefix>>;
    // R2, the foreign router: local binding delivered on port 1, proxy for the home prefix.
    ASSERT_EQ(want.at("R2").bindings.size(), 1u);
    EXPECT_EQ(want.at("R2").bindings.at(kC), local(kC, "192.168.10.100", 1, 3));
    EXPECT_EQ(want.at("R2").proxies, (proxies{{1, P("192.168.11.0/24")}}));
    // R3, the home router: forward, and proxy for M on the home segment (case 4).
    EXPECT_EQ(want.at("R3").bindings.at(kC), fwd(kC, "192.168.10.100", 3));
    EXPECT_EQ(want.at("R3").proxies, (proxies{{1, P("192.168.11.3/32")}}));
    // R1 and R4: forward only.
    for (const char *r : {"R1", "R4"}) {
        ASSERT_EQ(want.at(r).bindings.size(), 1u) << r;
        EXPECT_EQ(want.at(r).bindings.at(kC), fwd(kC, "192.168.10.100", 3)) << r;
        EXPECT_TRUE(want.at(r).proxies.empty()) << r;
    }
    // Named by prefix, the location means the same.
    const auto by_prefix = desired(topo_, at("192.168.10.0/24", "192.168.10.100", 3));
    EXPECT_EQ(by_prefix.at("R2").bindings, want.at("R2").bindings);
}

TEST_F(Desired, ForeignTriangle) {
    const auto want = desired(topo_, at("foreign", "192.168.10.100", 2, true));
    EXPECT_EQ(want.at("R2").bindings.at(kC), local(kC, "192.168.10.100", 1, 2, true));
    EXPECT_EQ(want.at("R2").proxies.size(), 1u);
    EXPECT_EQ(want.at("R3").bindings.at(kC), fwd(kC, "192.168.10.100", 2));
    EXPECT_EQ(want.at("R3").proxies.size(), 1u);
    for (const char *r : {"R1", "R4"}) {
        EXPECT_TRUE(want.at(r).bindings.empty())
            << r << ": no binding at the edge in triangle mode";
        EXPECT_TRUE(want.at(r).proxies.empty()) << r;
    }
}

TEST_F(Desired, TwoVmsShareTheHomePrefixProxy) {
    orchestrator_state st = at("foreign", "192.168.10.100", 1);
    st.vms[kV] = vm_state{kV, "foreign", A("192.168.10.101"), false, 5};
    const auto want = desired(topo_, st);
    EXPECT_EQ(want.at("R2").proxies.size(), 1u);
    EXPECT_EQ(want.at("R2").bindings.size(), 2u);
    EXPECT_EQ(want.at("R2").bindings.at(kV), local(kV, "192.168.10.101", 1, 5));
    EXPECT_EQ(want.at("R3").proxies, (std::set<std::pair<uint16_t, ip4_prefix>>{
                                         {1, P("192.168.11.3/32")}, {1, P("192.168.11.4/32")}}));
    EXPECT_EQ(want.at("R1").bindings.size(), 2u);
    // One at foreign, one at foreign2: each foreign router proxies the home prefix.
    st.vms[kV] = vm_state{kV, "foreign2", A("192.168.12.100"), false, 5};
    const auto want2 = desired(topo_, st);
    EXPECT_EQ(want2.at("R4").bindings.at(kV), local(kV, "192.168.12.100", 1, 5));
    EXPECT_EQ(want2.at("R4").bindings.at(kC), fwd(kC, "192.168.10.100", 1));
    EXPECT_EQ(want2.at("R4").proxies.size(), 1u);
    EXPECT_EQ(want2.at("R2").bindings.at(kV), fwd(kV, "192.168.12.100", 5));
}

// ---- diff_commands() ----

TEST(DiffCommands, AddsReplacesDeletesInMakeBeforeBreakOrder) {
    router_holdings actual, want;
    actual.bindings[kC] = fwd(kC, "192.168.10.100", 1);
    actual.proxies = {{1, P("192.168.11.3/32")}, {0, P("10.99.0.0/16")}};
    want.bindings[kC] = local(kC, "192.168.12.100", 1, 2);
    want.proxies = {{1, P("192.168.11.0/24")}, {2, P("192.168.11.0/24")}};
    const std::set<std::pair<uint16_t, ip4_prefix>> scope = {
        {1, P("192.168.11.0/24")}, {1, P("192.168.11.3/32")}, {0, P("192.168.11.0/24")}};
    const auto cmds = diff_commands(actual, want, {kC}, scope, {});
    // The proxy outside the scope (port 2) is not added; the one outside it (10.99/16) is
    // not removed.
    EXPECT_EQ(cmds, (strings{"proxy-arp add 192.168.11.0/24 port 1",
                             "nat add 192.168.11.3 to 192.168.12.100 local port 1 epoch 2",
                             "proxy-arp del 192.168.11.3/32 port 1"}));
}

TEST(DiffCommands, BindingReplacements) {
    router_holdings actual, want;
    const std::set<ip4_addr> homes{kC};
    auto one = [&](const held_binding &a, const held_binding &w) {
        actual.bindings = {{kC, a}};
        want.bindings = {{kC, w}};
        return diff_commands(actual, want, homes, {}, {});
    };
    // Kind change, care-of change, older epoch: all rewritten.
    EXPECT_EQ(one(fwd(kC, "192.168.10.100", 3), local(kC, "192.168.10.100", 1, 3)),
              strings{"nat add 192.168.11.3 to 192.168.10.100 local port 1 epoch 3"});
    EXPECT_EQ(one(local(kC, "192.168.10.100", 1, 3), local(kC, "192.168.10.100", 1, 3, true)),
              strings{"nat add 192.168.11.3 to 192.168.10.100 local port 1 keep-source epoch 3"});
    EXPECT_EQ(one(local(kC, "192.168.10.100", 1, 3), local(kC, "192.168.10.100", 2, 3)),
              strings{"nat add 192.168.11.3 to 192.168.10.100 local port 2 epoch 3"});
    EXPECT_EQ(one(fwd(kC, "192.168.10.100", 3), fwd(kC, "192.168.10.101", 3)),
              strings{"nat add 192.168.11.3 to 192.168.10.101 epoch 3"});
    EXPECT_EQ(one(fwd(kC, "192.168.10.100", 2), fwd(kC, "192.168.10.100", 3)),
              strings{"nat add 192.168.11.3 to 192.168.10.100 epoch 3"});
    // The same binding at the same or a newer epoch: nothing.
    EXPECT_TRUE(one(fwd(kC, "192.168.10.100", 3), fwd(kC, "192.168.10.100", 3)).empty());
    EXPECT_TRUE(one(fwd(kC, "192.168.10.100", 4), fwd(kC, "192.168.10.100", 3)).empty());
    // Missing: added.
    actual.bindings.clear();
    want.bindings = {{kC, fwd(kC, "192.168.10.100", 3)}};
    EXPECT_EQ(diff_commands(actual, want, homes, {}, {}),
              strings{"nat add 192.168.11.3 to 192.168.10.100 epoch 3"});
}

TEST(DiffCommands, DeletionsCarryTheRightEpoch) {
    router_holdings actual, want;
    actual.bindings[kC] = fwd(kC, "192.168.10.100", 3);
    actual.bindings[kV] = fwd(kV, "192.168.10.101", 9);
    const std::set<ip4_addr> homes{kC, kV};
    // The deletion epoch when given and newer, else the held one.
    EXPECT_EQ(diff_commands(actual, want, homes, {}, {{kC, 5}, {kV, 4}}),
              (strings{"nat del 192.168.11.3 epoch 5", "nat del 192.168.11.4 epoch 9"}));
    EXPECT_EQ(diff_commands(actual, want, homes, {}, {}),
              (strings{"nat del 192.168.11.3 epoch 3", "nat del 192.168.11.4 epoch 9"}));
    // Nothing to delete where nothing is held.
    EXPECT_TRUE(diff_commands(want, want, homes, {}, {{kC, 5}}).empty());
}

TEST(DiffCommands, OnlyTheGivenHomesAndScope) {
    router_holdings actual, want;
    const ip4_addr other = A("192.168.11.50");
    actual.bindings[other] = fwd(other, "192.168.10.150", 1);  // not in homes: kept
    want.bindings[kV] = fwd(kV, "192.168.10.101", 1);          // not in homes: not added
    actual.proxies = {{1, P("192.168.11.0/24")}};
    want.proxies = {{1, P("192.168.12.0/24")}};
    EXPECT_TRUE(diff_commands(actual, want, {kC}, {}, {}).empty());
    EXPECT_EQ(diff_commands(actual, want, {kC}, {{1, P("192.168.12.0/24")}}, {}),
              strings{"proxy-arp add 192.168.12.0/24 port 1"});
    EXPECT_EQ(diff_commands(actual, want, {kC}, {{1, P("192.168.11.0/24")}}, {}),
              strings{"proxy-arp del 192.168.11.0/24 port 1"});
    // In sync: nothing.
    EXPECT_TRUE(diff_commands(want, want, {kC, kV}, {{1, P("192.168.12.0/24")}}, {}).empty());
}

TEST(BindingCommand, ParsesBackToTheSameBinding) {
    for (const held_binding &h :
         {fwd(kC, "192.168.10.100", 1), local(kC, "192.168.10.100", 3, 17),
          local(kV, "192.168.12.199", 65534, 18446744073709551615ull, true)}) {
        const std::string line = binding_command(h);
        auto p = parse_command(line);
        ASSERT_TRUE(p.cmd) << line << ": " << p.error;
        const auto *c = std::get_if<cmd_nat>(&*p.cmd);
        ASSERT_NE(c, nullptr) << line;
        EXPECT_TRUE(c->add);
        EXPECT_EQ(c->home, h.b.home);
        EXPECT_EQ(c->care_of, h.b.care_of);
        EXPECT_EQ(c->type, h.b.kind) << line;
        if (h.b.is_local()) {
            EXPECT_EQ(c->port, h.b.port) << line;
        }
        ASSERT_TRUE(c->epoch) << line;
        EXPECT_EQ(*c->epoch, h.epoch) << line;
        EXPECT_EQ(format_command(*p.cmd), line) << "canonical";
    }
}

// ---- the state file ----

TEST_F(StateDir, SaveLoadRoundTrip) {
    orchestrator_state st;
    EXPECT_TRUE(load().vms.empty()) << "no file: no moves yet";
    st.vms[kC] = vm_state{kC, "foreign", A("192.168.10.100"), false, 3};
    st.vms[kV] = vm_state{kV, "foreign2", A("192.168.12.100"), true, 18446744073709551615ull};
    const ip4_addr d = A("192.168.11.5");
    st.vms[d] = vm_state{d, "home", ip4_addr(), false, 7};  // returned home
    std::string err;
    ASSERT_TRUE(st.save(path_, err)) << err;
    const orchestrator_state back = load();
    EXPECT_EQ(back.vms, st.vms);
    EXPECT_FALSE(fs::exists(path_ + ".tmp"));
    // Saving again replaces the file.
    st.vms.erase(kV);
    ASSERT_TRUE(st.save(path_, err)) << err;
    EXPECT_EQ(load().vms, st.vms);
    // An unwritable place fails with a message.
    EXPECT_FALSE(st.save(dir_ + "/missing/dir/state.json", err));
    EXPECT_NE(err.find("missing/dir"), std::string::npos) << err;
}

TEST_F(StateDir, DamagedStateRefused) {
    for (const char *text : {
             "not json",
             "{}",
             "{\"vms\": {\"192.168.11.3\": {\"location\": \"foreign\"}}}",
             "{\"vms\": {\"c\": {\"location\": \"foreign\", \"care_of\": \"192.168.10.100\", "
             "\"mode\": \"optimized\", \"epoch\": 1}}}",
             "{\"vms\": {\"192.168.11.3\": {\"location\": \"foreign\", \"care_of\": \"x\", "
             "\"mode\": \"optimized\", \"epoch\": 1}}}",
             "{\"vms\": {\"192.168.11.3\": {\"location\": \"foreign\", \"care_of\": "
             "\"192.168.10.100\", \"mode\": \"optimized\", \"epoch\": \"one\"}}}",
             "{\"vms\": {\"192.168.11.3\": {\"location\": \"foreign\", \"care_of\": "
             "\"192.168.10.100\", \"mode\": \"optimized\", \"epoch\": 1}",
         }) {
        write(text);
        orchestrator_state st;
        std::string err;
        EXPECT_FALSE(orchestrator_state::load(path_, st, err)) << text;
        EXPECT_NE(err.find("damaged"), std::string::npos) << err;
        EXPECT_NE(err.find(path_), std::string::npos) << err;
    }
}

}  // namespace
}  // namespace ssw
