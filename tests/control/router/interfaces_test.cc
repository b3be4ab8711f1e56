// The executor's interface commands on a real router (three DPDK null ports): addresses and
// the routes they bring, static routes and the route table's limits, static neighbors and
// port settings; each command's checks and its effect on the model and the dataplane.
#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/dataplane/worker_fixture.h"

namespace ssw {
namespace {

using test::A;
using test::kPorts;
using test::P;

class Interfaces : public test::router_fixture {};

// ---- addresses ----

TEST_F(Interfaces, AddressAddInstallsLocalAndConnectedRoutes) {
    ok("address add 10.0.0.1/24 port 0");
    ASSERT_EQ(r_->addresses(0).size(), 1u);
    EXPECT_EQ(r_->addresses(0)[0].addr, A("10.0.0.1"));
    EXPECT_EQ(r_->addresses(0)[0].len, 24);
    EXPECT_TRUE(r_->is_own_address(A("10.0.0.1"), 0));
    EXPECT_FALSE(r_->is_own_address(A("10.0.0.1"), 1));
    const next_hop *local = r_->routes().find(P("10.0.0.1/32"));
    ASSERT_NE(local, nullptr);
    EXPECT_EQ(local->type, next_hop::kind::local);
    EXPECT_EQ(local->port, 0);
    const next_hop *conn = r_->routes().find(P("10.0.0.0/24"));
    ASSERT_NE(conn, nullptr);
    EXPECT_EQ(conn->type, next_hop::kind::connected);
    EXPECT_EQ(conn->port, 0);
    ASSERT_NE(r_->routes().lookup(A("10.0.0.77")), nullptr);
    EXPECT_EQ(r_->routes().lookup(A("10.0.0.77"))->type, next_hop::kind::connected);
    EXPECT_EQ(r_->routes().lookup(A("10.0.0.1"))->type, next_hop::kind::local);
    EXPECT_EQ(r_->routes().lookup(A("10.0.1.1")), nullptr);
    // show addresses / routes reflect it.
    reply s = ok("show addresses");
    ASSERT_EQ(s.data.size(), 1u);
    EXPECT_EQ(s.data[0]["address"], "10.0.0.1/24");
    s = ok("show routes");
    std::map<std::string, std::string> shown;  // prefix -> type
    for (const auto &row : s.data)
        shown[row["prefix"].get<std::string>()] = row["type"].get<std::string>();
    EXPECT_EQ(shown["10.0.0.1/32"], "local");
    EXPECT_EQ(shown["10.0.0.0/24"], "connected");

    // A second address in the same subnet on the same port shares the connected route.
    ok("address add 10.0.0.2/24 port 0");
    EXPECT_NE(r_->routes().find(P("10.0.0.2/32")), nullptr);
    ok("address del 10.0.0.1/24 port 0");
    EXPECT_EQ(r_->routes().find(P("10.0.0.1/32")), nullptr);
    EXPECT_NE(r_->routes().find(P("10.0.0.0/24")), nullptr) << "10.0.0.2 still serves the subnet";
    ok("address del 10.0.0.2/24 port 0");
    EXPECT_EQ(r_->routes().find(P("10.0.0.0/24")), nullptr);
    EXPECT_EQ(r_->routes().lookup(A("10.0.0.77")), nullptr);
    EXPECT_TRUE(r_->addresses(0).empty());
    EXPECT_EQ(r_->routes().size(), 0u);

    // /31 and /32 have no network or broadcast address.
    ok("address add 10.9.0.0/31 port 1");
    ok("address add 10.9.1.1/32 port 1");
    EXPECT_EQ(r_->routes().find(P("10.9.1.1/32"))->type, next_hop::kind::local);
}

TEST_F(Interfaces, AddressRefusals) {
    ok("address add 10.0.0.1/24 port 0");
    refused("address add 10.1.0.1/24 port 3", "port 3 does not exist");
    refused("address add 10.1.0.0/24 port 1", "network address of 10.1.0.0/24");
    refused("address add 10.1.0.255/24 port 1", "broadcast address of 10.1.0.0/24");
    refused("address add 10.0.0.1/24 port 0", "already configured on port 0");
    refused("address add 10.0.0.1/16 port 1", "already configured on port 0");
    refused("address add 10.0.5.1/16 port 1", "overlaps 10.0.0.1/24 on port 0");
    refused("address add 10.0.0.9/28 port 2", "overlaps");
    refused("address add 224.0.0.1/24 port 1", "not a unicast host address");
    refused("address add 127.0.0.1/8 port 1", "not a unicast host address");
    refused("address del 10.0.0.2/24 port 0", "not configured on port 0");
    refused("address del 10.0.0.1/25 port 0", "not configured on port 0");
    refused("address del 10.0.0.1/24 port 1", "not configured on port 1");
    // A gateway on the subnet keeps its address.
    ok("route add 172.16.0.0/16 via 10.0.0.254");
    refused("address del 10.0.0.1/24 port 0", "depends on 10.0.0.0/24");
    ok("route del 172.16.0.0/16");
    // Addresses of bindings, and static routes in the way.
    ok("nat add 192.168.11.3 to 192.168.10.3");
    refused("address add 192.168.11.3/24 port 1", "address of a NAT binding");
    refused("address add 192.168.10.3/24 port 1", "address of a NAT binding");
    ok("route add 10.5.0.0/24 port 2");
    refused("address add 10.5.0.1/24 port 2", "static route 10.5.0.0/24 exists");
    ok("route add 10.6.0.1/32 blackhole");
    refused("address add 10.6.0.1/24 port 2", "static route 10.6.0.1/32 exists");
    ok("address del 10.0.0.1/24 port 0");
}

// ---- routes ----

TEST_F(Interfaces, RouteAddReplaceDel) {
    ok("address add 10.0.0.1/24 port 0");
    ok("address add 10.1.0.1/24 port 1");
    ok("route add 172.16.0.0/16 via 10.0.0.254");
    const next_hop *nh = r_->routes().find(P("172.16.0.0/16"));
    ASSERT_NE(nh, nullptr);
    EXPECT_EQ(nh->type, next_hop::kind::gateway);
    EXPECT_EQ(nh->gateway, A("10.0.0.254"));
    EXPECT_EQ(nh->port, 0);
    ASSERT_NE(r_->routes().lookup(A("172.16.9.9")), nullptr);
    EXPECT_EQ(r_->routes().lookup(A("172.16.9.9"))->gateway, A("10.0.0.254"));

    refused("route add 172.16.0.0/16 via 10.1.0.254", "exists (use 'route replace')");
    ok("route replace 172.16.0.0/16 via 10.1.0.254");
    EXPECT_EQ(r_->routes().lookup(A("172.16.9.9"))->gateway, A("10.1.0.254"));
    EXPECT_EQ(r_->routes().lookup(A("172.16.9.9"))->port, 1);
    // replace also adds.
    ok("route replace 172.17.0.0/16 port 2");
    EXPECT_EQ(r_->routes().lookup(A("172.17.1.1"))->type, next_hop::kind::connected);
    EXPECT_EQ(r_->routes().lookup(A("172.17.1.1"))->port, 2);
    ok("route add 198.51.100.0/24 blackhole");
    EXPECT_EQ(r_->routes().lookup(A("198.51.100.7"))->type, next_hop::kind::blackhole);
    // A more specific route wins.
    ok("route add 172.16.5.0/24 via 10.0.0.253");
    EXPECT_EQ(r_->routes().lookup(A("172.16.5.1"))->gateway, A("10.0.0.253"));
    EXPECT_EQ(r_->routes().lookup(A("172.16.6.1"))->gateway, A("10.1.0.254"));

    ok("route del 172.16.5.0/24");
    EXPECT_EQ(r_->routes().lookup(A("172.16.5.1"))->gateway, A("10.1.0.254"));
    ok("route del 172.16.0.0/16");
    EXPECT_EQ(r_->routes().lookup(A("172.16.5.1")), nullptr);
    EXPECT_EQ(r_->routes().find(P("172.16.0.0/16")), nullptr);
    refused("route del 172.16.0.0/16", "no route 172.16.0.0/16");

    refused("route add 172.18.0.0/16 via 192.0.2.1", "not on any connected subnet");
    refused("route add 172.18.0.0/16 via 10.0.0.1", "one of this router's addresses");
    refused("route add 172.18.0.0/16 port 9", "port 9 does not exist");
    refused("route add 172.18.0.1/16 via 10.0.0.254",
            "has host bits set: did you mean 172.18.0.0/16?");
    refused("route del 10.0.0.0/24", "connected route of an interface address");
    refused("route del 10.0.0.1/32", "local route of an interface address");
    refused("route replace 10.0.0.0/24 port 2", "connected route");
    refused("route add 10.1.0.0/24 blackhole", "connected route");
}

TEST_F(Interfaces, DefaultRoute) {
    ok("address add 10.0.0.1/24 port 0");
    EXPECT_EQ(r_->routes().lookup(A("8.8.8.8")), nullptr);
    ok("route add 0.0.0.0/0 via 10.0.0.254");
    ASSERT_NE(r_->routes().lookup(A("8.8.8.8")), nullptr);
    EXPECT_EQ(r_->routes().lookup(A("8.8.8.8"))->gateway, A("10.0.0.254"));
    EXPECT_EQ(r_->routes().lookup(A("10.0.0.5"))->type, next_hop::kind::connected);
    ok("route replace 0.0.0.0/0 blackhole");
    EXPECT_EQ(r_->routes().lookup(A("8.8.8.8"))->type, next_hop::kind::blackhole);
    ok("route del 0.0.0.0/0");
    EXPECT_EQ(r_->routes().lookup(A("8.8.8.8")), nullptr);
}

TEST_F(Interfaces, RouteTableLimits) {
    // 64 tbl8 groups: /25s in 64 different /24s fill them.
    for (int i = 0; i < 64; ++i) ok("route add 100.64." + std::to_string(i) + ".0/25 port 1");
    refused("route add 100.64.200.0/25 port 1", "out of tbl8 groups");
    refused("address add 100.65.0.1/24 port 2", "out of tbl8 groups");  // its /32
    // Another /25 in a group in use needs no new group.
    ok("route add 100.64.5.128/25 port 2");
    // One group left: an address whose host, network and broadcast /32s fall in three /24s
    // needs three (each alone would fit; found by the command fuzzer). Refused whole.
    ok("route del 100.64.63.0/25");
    refused("address add 100.66.1.1/21 port 2", "out of tbl8 groups");
    EXPECT_TRUE(r_->addresses(2).empty());
    EXPECT_EQ(r_->routes().find(P("100.66.1.1/32")), nullptr);
    EXPECT_EQ(r_->routes().find(P("100.66.0.0/21")), nullptr);
    ok("route add 100.64.63.0/25 port 1");
    // Shorter prefixes need none.
    ok("route add 100.65.0.0/16 port 2");
    // After a deletion there is room again, in the model and in the dataplane.
    ok("route del 100.64.7.0/25");
    ok("route add 100.64.200.0/25 port 1");
    ASSERT_NE(r_->routes().find(P("100.64.200.0/25")), nullptr) << "installed in the LPM";
    EXPECT_EQ(r_->routes().lookup(A("100.64.200.3"))->port, 1);
    EXPECT_EQ(r_->routes().lookup(A("100.64.7.3")), nullptr);
}

// A tbl8 group freed by a route deletion returns to rte_lpm only after an RCU grace period
// (RTE_LPM_QSBR_MODE_DQ), but the executor counts it free at once: the route table waits for
// that grace period when rte_lpm has no free group.
TEST_F(Interfaces, TblGroupFreedInTheSameBatchIsReused) {
    for (int i = 0; i < 64; ++i) ok("route add 100.64." + std::to_string(i) + ".0/25 port 1");
    rcu_domain &rcu = r_->rcu();
    std::atomic<bool> stop{false}, online{false};
    rcu.register_reader(0);
    std::thread worker([&] {
        rcu.online(0);
        online = true;
        while (!stop.load()) {
            rcu.quiescent(0);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        rcu.offline(0);
    });
    while (!online.load()) std::this_thread::yield();
    const reply r = ex_->execute_batch(
        parse_all({"route del 100.64.7.0/25", "route add 100.64.200.0/25 port 2"}));
    const bool installed = r_->routes().find(P("100.64.200.0/25")) != nullptr;
    const next_hop *nh = r_->routes().lookup(A("100.64.200.3"));
    stop = true;
    worker.join();
    rcu.unregister_reader(0);
    const bool in_model = ex_->model().routes.count(P("100.64.200.0/25")) > 0;
    EXPECT_EQ(in_model, r.ok);
    EXPECT_EQ(installed, in_model)
        << "accepted: " << r.ok << "; the model and the dataplane must agree";
    if (r.ok) {
        ASSERT_NE(nh, nullptr);
        EXPECT_EQ(nh->port, 2);
    }
}

// ---- neighbors ----

TEST_F(Interfaces, StaticNeighbors) {
    ok("address add 10.0.0.1/24 port 0");
    ok("neigh add 10.0.0.9 lladdr 02:00:00:00:00:09 port 0");
    auto &entries = r_->neigh_cache().entries();
    auto it = entries.find(A("10.0.0.9"));
    ASSERT_NE(it, entries.end());
    EXPECT_EQ(it->second.state, neighbor_state::permanent);
    EXPECT_EQ(it->second.mac, *mac_addr::parse("02:00:00:00:00:09"));
    EXPECT_EQ(it->second.port, 0);
    uint64_t word = 0;
    EXPECT_TRUE(r_->neighbors().lookup(A("10.0.0.9"), word)) << "published to the workers' table";
    // Replace: new MAC and port.
    ok("neigh add 10.0.0.9 lladdr 02:00:00:00:00:0a port 1");
    EXPECT_EQ(r_->neigh_cache().entries().at(A("10.0.0.9")).port, 1);
    refused("neigh add 10.0.0.1 lladdr 02:00:00:00:00:01 port 0", "cannot be a neighbor");
    refused("neigh add 224.0.0.5 lladdr 02:00:00:00:00:01 port 0", "cannot be a neighbor");
    refused("neigh add 10.0.0.8 lladdr 02:00:00:00:00:08 port 4", "port 4 does not exist");
    ok("neigh del 10.0.0.9");
    EXPECT_EQ(r_->neigh_cache().entries().count(A("10.0.0.9")), 0u);
    EXPECT_FALSE(r_->neighbors().lookup(A("10.0.0.9"), word));
    refused("neigh del 10.0.0.9", "no neighbor 10.0.0.9");
}

// ---- ports ----

TEST_F(Interfaces, PortSettings) {
    EXPECT_EQ(r_->runtime(1).role.load(), port_role::access);
    ok("port 1 role core");
    EXPECT_EQ(r_->runtime(1).role.load(), port_role::core);
    EXPECT_EQ(r_->runtime(0).role.load(), port_role::access);
    EXPECT_EQ(ex_->model().ports[1].role, port_role::core);
    ok("port 1 role access");
    EXPECT_EQ(r_->runtime(1).role.load(), port_role::access);
    ok("port 2 redirects on");
    EXPECT_TRUE(r_->runtime(2).redirects.load());
    ok("port 2 redirects off");
    EXPECT_FALSE(r_->runtime(2).redirects.load());
    ok("port 0 mtu 9000");
    EXPECT_EQ(r_->runtime(0).mtu.load(), 9000);
    EXPECT_EQ(ex_->model().ports[0].mtu, 9000);
    ok("port 0 mtu 68");
    EXPECT_EQ(r_->runtime(0).mtu.load(), 68);
    refused("port 3 role core", "port 3 does not exist");
    refused("port 0 mtu 67", "not a valid MTU");
    reply s = ok("show ports");
    ASSERT_EQ(s.data.size(), size_t(kPorts));
    EXPECT_EQ(s.data[0]["mtu"], 68);
    EXPECT_EQ(s.data[1]["role"], "access");
}

}  // namespace
}  // namespace ssw
