// control/cluster/state.h: the VM records, what each router holds at each phase of a move,
// which routers a phase changes, the agents' statuses, the store's config file.
#include <gtest/gtest.h>

#include "control/cluster/state.h"
#include "control/cluster/store_config.h"
#include "tests/test_support.h"

namespace ssw::cluster {
namespace {

using test::A;

const ip4_addr kC = A("192.168.11.3"), kV = A("192.168.11.4");

topology testbed() {
    topology t;
    std::string err;
    EXPECT_TRUE(topology::load(test::testbed_topology(), t, err)) << err;
    return t;
}

vm_state at(const char *location, const char *care_of, uint64_t epoch, bool triangle = false) {
    return vm_state{kC, location, care_of[0] ? A(care_of) : ip4_addr{}, triangle, epoch};
}

desired_state with_move(const vm_state &from, const vm_state &to, move_phase phase) {
    desired_state d;
    d.topo = testbed();
    d.vms[kC] = vm_record{to, from, phase, "test:1:1", false, {}, {}};
    return d;
}

TEST(VmRecord, RoundTrip) {
    vm_record r{at("foreign", "192.168.10.100", 3, true),
                at("home", "", 2),
                move_phase::switch_over,
                "h:42:1000",
                true,
                {},
                {}};
    vm_record back;
    std::string err;
    ASSERT_TRUE(vm_record::parse(kC, r.to_json(), back, err)) << err;
    EXPECT_EQ(back, r);
    const vm_record rest{at("home", "", 4), std::nullopt, move_phase::done, "", false, {}, {}};
    ASSERT_TRUE(vm_record::parse(kC, rest.to_json(), back, err)) << err;
    EXPECT_EQ(back, rest);
}

// A move that awaits the VM's arrival: the router of the subnet it goes to watches for its MAC
// at prepare only, so prepare needs that router's acknowledgement (a return: the home
// router's, which the prepare of a return does not change otherwise), and the switch removes
// the watch. The record keeps the MAC and where the VM arrived.
TEST(VmRecord, AwaitingArrival) {
    const mac_addr mac = *mac_addr::parse("52:54:00:00:11:03");
    for (const bool back_home : {false, true}) {
        const auto home = at("home", "", 2), away = at("foreign", "192.168.10.100", 1);
        auto d = with_move(back_home ? away : home, back_home ? home : away, move_phase::prepare);
        vm_record &r = d.vms.at(kC);
        r.await_arrival = mac;
        const std::string watcher = back_home ? "R3" : "R2";
        const auto held = desired_for(d, watcher).arrivals;
        ASSERT_EQ(held.size(), 1u) << watcher;
        EXPECT_EQ(held.at(kC), (held_arrival{mac, 1}));
        for (const char *other : {"R1", "R2", "R3", "R4"})
            if (other != watcher) {
                EXPECT_TRUE(desired_for(d, other).arrivals.empty()) << other;
            }
        EXPECT_EQ(routers_changed(d, kC, move_phase::prepare), std::set<std::string>{watcher})
            << "nothing but the watch is staged";
        EXPECT_EQ(view_of(d.topo, r, move_phase::prepare, "R2"), r.prev)
            << "no local binding before the VM is there";
        EXPECT_TRUE(routers_changed(d, kC, move_phase::switch_over).count(watcher)) << watcher;
        r.phase = move_phase::switch_over;
        r.arrived = watcher + " by rarp";
        EXPECT_TRUE(desired_for(d, watcher).arrivals.empty()) << "the switch ends the watch";
        vm_record parsed;
        std::string err;
        ASSERT_TRUE(vm_record::parse(kC, r.to_json(), parsed, err)) << err;
        EXPECT_EQ(parsed, r);
    }
}

TEST(VmRecord, Refusals) {
    vm_record r;
    std::string err;
    EXPECT_FALSE(vm_record::parse(kC, "{", r, err));
    EXPECT_NE(err.find("record of VM 192.168.11.3"), std::string::npos) << err;
    const std::string ok = R"("location":"foreign","care_of":"192.168.10.100","epoch":1)";
    EXPECT_FALSE(vm_record::parse(kC, "{" + ok + R"(,"mode":"x","phase":"done"})", r, err));
    EXPECT_FALSE(
        vm_record::parse(kC, "{" + ok + R"(,"mode":"optimized","phase":"later"})", r, err));
    // A move under way must say where the VM was.
    EXPECT_FALSE(
        vm_record::parse(kC, "{" + ok + R"(,"mode":"optimized","phase":"prepare"})", r, err));
    EXPECT_NE(err.find("prev"), std::string::npos) << err;
    EXPECT_TRUE(vm_record::parse(kC, "{" + ok + R"(,"mode":"optimized","phase":"done"})", r, err))
        << err;
}

TEST(Phases, ViewsOfAMoveFromHome) {
    const auto from = at("home", "", 0), to = at("foreign", "192.168.10.100", 1);
    for (auto phase : {move_phase::prepare, move_phase::switch_over, move_phase::done}) {
        const auto d = with_move(from, to, phase);
        const vm_record &r = d.vms.at(kC);
        // The new foreign router (R2) holds the new state from the start.
        EXPECT_EQ(view_of(d.topo, r, phase, "R2"), to);
        for (const char *other : {"R1", "R3", "R4"})
            EXPECT_EQ(view_of(d.topo, r, phase, other), phase == move_phase::prepare ? from : to)
                << other << " " << to_string(phase);
    }
}

TEST(Phases, TheOldForeignRouterLetsGoLast) {
    const auto from = at("foreign", "192.168.10.100", 1), to = at("foreign2", "192.168.12.100", 2);
    auto d = with_move(from, to, move_phase::switch_over);
    EXPECT_EQ(view_of(d.topo, d.vms.at(kC), move_phase::switch_over, "R2"), from);
    EXPECT_EQ(view_of(d.topo, d.vms.at(kC), move_phase::switch_over, "R3"), to);
    EXPECT_EQ(view_of(d.topo, d.vms.at(kC), move_phase::done, "R2"), to);
    // R2 still delivers C locally while the others already send to R4.
    const auto r2 = desired_for(d, "R2");
    ASSERT_TRUE(r2.bindings.count(kC));
    EXPECT_TRUE(r2.bindings.at(kC).b.is_local());
    EXPECT_EQ(desired_for(d, "R3").bindings.at(kC).b.care_of, A("192.168.12.100"));
    EXPECT_EQ(desired_for(d, "R3").bindings.at(kC).epoch, 2u);
}

TEST(Phases, RoutersEachPhaseChanges) {
    using S = std::set<std::string>;
    const auto home = at("home", "", 0);
    const auto f = at("foreign", "192.168.10.100", 1), f2 = at("foreign2", "192.168.12.100", 2);
    auto changed = [](const vm_state &a, const vm_state &b, move_phase p) {
        return routers_changed(with_move(a, b, p), kC, p);
    };
    // Optimized, from home: R2 first, then every other router, nobody at the end.
    EXPECT_EQ(changed(home, f, move_phase::prepare), (S{"R2"}));
    EXPECT_EQ(changed(home, f, move_phase::switch_over), (S{"R1", "R3", "R4"}));
    EXPECT_EQ(changed(home, f, move_phase::done), S{});
    // Between foreign subnets: R4, then R1 and R3, then R2 lets go.
    EXPECT_EQ(changed(f, f2, move_phase::prepare), (S{"R4"}));
    EXPECT_EQ(changed(f, f2, move_phase::switch_over), (S{"R1", "R3"}));
    EXPECT_EQ(changed(f, f2, move_phase::done), (S{"R2"}));
    // Triangle: only the foreign and home routers take part.
    const auto ft = at("foreign", "192.168.10.100", 1, true);
    EXPECT_EQ(changed(home, ft, move_phase::switch_over), (S{"R3"}));
    // Back home: the home router stops answering for C, then R2 lets go.
    auto back = at("home", "", 3);
    EXPECT_EQ(changed(f, back, move_phase::prepare), S{});
    EXPECT_EQ(changed(f, back, move_phase::switch_over), (S{"R1", "R3", "R4"}));
    EXPECT_EQ(changed(f, back, move_phase::done), (S{"R2"}));
}

TEST(Phases, AnnouncementsAtTheEnd) {
    const auto d =
        with_move(at("home", "", 0), at("foreign", "192.168.10.100", 1), move_phase::done);
    const auto &r = d.vms.at(kC);
    const auto r2 = announcements(d.topo, r, "R2"), r3 = announcements(d.topo, r, "R3");
    ASSERT_EQ(r2.size(), 1u);
    EXPECT_EQ(r2[0].prefix, test::P("192.168.11.0/24"));  // C's neighbours, on R2's segment
    ASSERT_EQ(r3.size(), 1u);
    EXPECT_EQ(r3[0].prefix, test::P("192.168.11.3/32"));  // C itself, on the home segment
    EXPECT_TRUE(announcements(d.topo, r, "R1").empty());
    // A record that did not move announces nothing.
    vm_record same = r;
    same.prev = same.now;
    EXPECT_TRUE(announcements(d.topo, same, "R2").empty());
}

TEST(RouterStatus, RoundTrip) {
    router_status s;
    s.revision = 42;
    s.router_up = false;
    s.error = "cannot connect";
    s.failures.push_back({kV, 7, "stale epoch"});
    s.relists = 3;
    router_status back;
    std::string err;
    ASSERT_TRUE(router_status::parse(s.to_json(), back, err)) << err;
    EXPECT_EQ(back, s);
    EXPECT_FALSE(router_status::parse(R"({"revision": 1})", back, err));
}

TEST(StoreConfig, FileThenFlags) {
    test::temp_dir tmp{"ssw-store-config"};
    const std::string path = tmp.path() + "/agent.json";
    test::write_file(path, R"({"endpoints": ["https://127.0.0.1:1", "https://127.0.0.1:2"],
        "ca_file": "/ca.pem", "prefix": "/dc1/ssw/", "request_timeout_ms": 900})");
    store_config c;
    std::string err;
    ASSERT_TRUE(resolve_store_config({path, "", "", "/cert.pem", "", ""}, c, err)) << err;
    EXPECT_EQ(c.client.endpoints.size(), 2u);
    EXPECT_EQ(c.client.ca_file, "/ca.pem");
    EXPECT_EQ(c.client.cert_file, "/cert.pem");
    EXPECT_EQ(c.k.prefix, "/dc1/ssw/");
    EXPECT_EQ(c.client.request_timeout.count(), 900);
    ASSERT_TRUE(resolve_store_config({path, "10.0.0.1:2379", "", "", "", "/x/"}, c, err));
    EXPECT_EQ(c.client.endpoints, std::vector<std::string>{"10.0.0.1:2379"});
    EXPECT_EQ(c.k.vm(kC), "/x/desired/vm/192.168.11.3");
    // Refusals name the problem.
    EXPECT_FALSE(resolve_store_config({"", "", "", "", "", ""}, c, err));
    EXPECT_NE(err.find("no etcd endpoint"), std::string::npos) << err;
    EXPECT_FALSE(resolve_store_config({"", "h:1", "", "", "", "x"}, c, err));
    EXPECT_NE(err.find("must start and end with '/'"), std::string::npos) << err;
    test::write_file(path, R"({"endpoint": ["h:1"]})");
    EXPECT_FALSE(resolve_store_config({path, "", "", "", "", ""}, c, err));
    EXPECT_NE(err.find("unknown field \"endpoint\""), std::string::npos) << err;
}

}  // namespace
}  // namespace ssw::cluster
