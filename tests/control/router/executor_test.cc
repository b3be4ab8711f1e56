// The executor on a real router (three DPDK null ports): every command's checks, its effect
// on the control model and on the dataplane's tables, epochs, all-or-nothing batches, the
// persistence hook, and snapshots that rebuild the same configuration.
#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_udp.h>

#include "control/router/executor.h"
#include "dataplane/slow_path/slow_path.h"
#include "dataplane/worker.h"
#include "tests/test_support.h"

namespace ssw {
namespace {

using test::A;
using test::P;

constexpr int kPorts = 3;
std::string null_port_name(int i) { return "net_null_exec" + std::to_string(i); }

class Executor : public ::testing::Test {
protected:
    // router::init takes every ethdev port: the null ports exist for the whole suite, and
    // each test's router configures and starts them anew.
    static void SetUpTestSuite() {
        for (int i = 0; i < kPorts; ++i) {
            const int rc = rte_eal_hotplug_add("vdev", null_port_name(i).c_str(), "");
            ASSERT_EQ(rc, 0) << "cannot create " << null_port_name(i);
        }
    }
    static void TearDownTestSuite() {
        for (int i = 0; i < kPorts; ++i) rte_eal_hotplug_remove("vdev", null_port_name(i).c_str());
    }

    void SetUp() override { start_router(); }
    void TearDown() override { stop_router(); }

    void start_router() {
        router_config cfg;
        cfg.max_routes = 1024;
        cfg.tbl8_groups = 64;
        cfg.nat_capacity = 64;
        cfg.mbufs = 2047;
        cfg.rx_desc = 128;
        cfg.tx_desc = 128;
        r_ = std::make_unique<router>();
        std::string err;
        ASSERT_TRUE(r_->init(cfg, err)) << err;
        ASSERT_EQ(r_->port_count(), kPorts) << "only the test's null ports may exist";
        ex_ = std::make_unique<executor>(*r_);
    }
    void stop_router() {
        ex_.reset();
        if (!r_) return;
        // Stopped, not closed: closing would release the null ports. The router does not
        // free its mbuf pool; this test frees it so that many routers fit in the test's heap.
        for (uint16_t p = 0; p < r_->port_count(); ++p) rte_eth_dev_stop(p);
        rte_mempool *pool = r_->pool();
        r_.reset();
        rte_mempool_free(pool);
    }
    void restart_router() {
        stop_router();
        start_router();
    }

    reply run(const std::string &line) { return ex_->execute_line(line); }
    // The command is accepted; returns its reply.
    reply ok(const std::string &line) {
        reply r = run(line);
        EXPECT_TRUE(r.ok) << "'" << line << "' refused: " << r.error;
        return r;
    }
    // The command is refused with a message containing `mention`; nothing changes.
    void refused(const std::string &line, const std::string &mention) {
        const auto before = ex_->snapshot_commands();
        const size_t nat_before = r_->nat().size(), proxy_before = r_->proxy_arp().size();
        const size_t routes_before = r_->routes().routes().size();
        reply r = run(line);
        EXPECT_FALSE(r.ok) << "'" << line << "' accepted";
        EXPECT_NE(r.error.find(mention), std::string::npos)
            << "'" << line << "' gave '" << r.error << "', which does not mention '" << mention
            << "'";
        EXPECT_EQ(ex_->snapshot_commands(), before) << "'" << line << "' changed the model";
        EXPECT_EQ(r_->nat().size(), nat_before);
        EXPECT_EQ(r_->proxy_arp().size(), proxy_before);
        EXPECT_EQ(r_->routes().routes().size(), routes_before);
    }
    std::vector<command> parse_all(const std::vector<std::string> &lines) {
        std::vector<command> cmds;
        for (const auto &l : lines) {
            auto p = parse_command(l);
            EXPECT_TRUE(p.cmd) << l << ": " << p.error;
            if (p.cmd) cmds.push_back(*p.cmd);
        }
        return cmds;
    }
    std::optional<binding> nat(const char *home) const {
        binding b;
        if (!r_->nat().find(A(home), b)) return std::nullopt;
        return b;
    }
    uint64_t model_epoch(const char *home) const {
        auto it = ex_->model().bindings.find(A(home).host());
        return it == ex_->model().bindings.end() ? 0 : it->second.epoch;
    }
    static std::vector<std::string> sorted(std::vector<std::string> v) {
        std::sort(v.begin(), v.end());
        return v;
    }

    std::unique_ptr<router> r_;
    std::unique_ptr<executor> ex_;
};

// ---- addresses ----

TEST_F(Executor, AddressAddInstallsLocalAndConnectedRoutes) {
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
    EXPECT_TRUE(r_->routes().routes().empty());

    // /31 and /32 have no network or broadcast address.
    ok("address add 10.9.0.0/31 port 1");
    ok("address add 10.9.1.1/32 port 1");
    EXPECT_EQ(r_->routes().find(P("10.9.1.1/32"))->type, next_hop::kind::local);
}

TEST_F(Executor, AddressRefusals) {
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

TEST_F(Executor, RouteAddReplaceDel) {
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

TEST_F(Executor, DefaultRoute) {
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

TEST_F(Executor, RouteTableLimits) {
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
TEST_F(Executor, TblGroupFreedInTheSameBatchIsReused) {
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

TEST_F(Executor, StaticNeighbors) {
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

TEST_F(Executor, PortSettings) {
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

// ---- bindings ----

TEST_F(Executor, NatAddWithoutEpochs) {
    reply r = ok("nat add 192.168.11.3 to 192.168.10.3");
    EXPECT_EQ(r.data["changed"], true);
    EXPECT_EQ(r.data["epoch"], 1);
    auto b = nat("192.168.11.3");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->care_of, A("192.168.10.3"));
    EXPECT_EQ(b->kind, binding_kind::forward);
    EXPECT_EQ(r_->nat().lookup(A("192.168.10.3").host()).home, A("192.168.11.3").host())
        << "the care-of key reaches the binding";
    // Without an epoch, each update is the next one.
    r = ok("nat add 192.168.11.3 to 192.168.10.4 local port 1");
    EXPECT_EQ(r.data["epoch"], 2);
    b = nat("192.168.11.3");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->kind, binding_kind::local);
    EXPECT_EQ(b->port, 1);
    EXPECT_FALSE(r_->nat().lookup(A("192.168.10.3").host())) << "the old care-of key is gone";
    EXPECT_TRUE(r_->nat().has_local_snat());
    EXPECT_FALSE(r_->nat().has_forward());
    ok("nat add 192.168.11.3 to 192.168.10.4 local port 2 keep-source");
    EXPECT_EQ(nat("192.168.11.3")->kind, binding_kind::local_keep_source);
    EXPECT_FALSE(r_->nat().has_local_snat());
    // show nat
    reply s = ok("show nat 192.168.11.3");
    ASSERT_EQ(s.data.size(), 1u);
    EXPECT_EQ(s.data[0]["care_of"], "192.168.10.4");
    EXPECT_EQ(s.data[0]["type"], "local-keep-source");
    EXPECT_EQ(s.data[0]["port"], 2);
    EXPECT_EQ(s.data[0]["epoch"], 3);
    ok("nat del 192.168.11.3");
    EXPECT_FALSE(nat("192.168.11.3"));
    EXPECT_FALSE(r_->nat().lookup(A("192.168.10.4").host()));
    refused("nat del 192.168.11.3", "no binding for 192.168.11.3");
    // After a deletion without epoch, the next add is newer still.
    r = ok("nat add 192.168.11.3 to 192.168.10.5");
    EXPECT_EQ(r.data["epoch"], 4);
}

TEST_F(Executor, NatEpochs) {
    reply r = ok("nat add 192.168.11.3 to 192.168.10.3 epoch 5");
    EXPECT_EQ(r.data["changed"], true);
    EXPECT_EQ(r.data["epoch"], 5);
    refused("nat add 192.168.11.3 to 192.168.10.9 epoch 4",
            "stale update: epoch 4 is older than epoch 5");
    refused("nat del 192.168.11.3 epoch 4", "stale");
    // The same update again is harmless.
    r = ok("nat add 192.168.11.3 to 192.168.10.3 epoch 5");
    EXPECT_EQ(r.data, (json{{"changed", false}}));
    refused("nat add 192.168.11.3 to 192.168.10.9 epoch 5", "already holds a different binding");
    refused("nat add 192.168.11.3 to 192.168.10.3 local port 1 epoch 5",
            "already holds a different binding");
    EXPECT_EQ(nat("192.168.11.3")->care_of, A("192.168.10.3"));
    // A newer one wins.
    r = ok("nat add 192.168.11.3 to 192.168.10.9 local port 1 epoch 6");
    EXPECT_EQ(r.data["epoch"], 6);
    EXPECT_EQ(nat("192.168.11.3")->care_of, A("192.168.10.9"));
    EXPECT_EQ(nat("192.168.11.3")->kind, binding_kind::local);
    EXPECT_EQ(model_epoch("192.168.11.3"), 6u);

    // A deletion at epoch 7 leaves a tombstone: a delayed add of epoch 6 (or 7) is refused.
    r = ok("nat del 192.168.11.3 epoch 7");
    EXPECT_FALSE(nat("192.168.11.3"));
    EXPECT_FALSE(r_->nat().lookup(A("192.168.10.9").host()));
    refused("nat add 192.168.11.3 to 192.168.10.9 local port 1 epoch 6", "stale update");
    refused("nat add 192.168.11.3 to 192.168.10.9 epoch 7", "already deleted it");
    r = ok("nat del 192.168.11.3 epoch 7");
    EXPECT_EQ(r.data, (json{{"changed", false}}));
    r = ok("nat add 192.168.11.3 to 192.168.10.10 epoch 8");
    EXPECT_EQ(r.data["changed"], true);
    EXPECT_EQ(nat("192.168.11.3")->care_of, A("192.168.10.10"));
    EXPECT_EQ(ex_->model().deleted_epoch.count(A("192.168.11.3").host()), 0u);

    // Withdrawing a binding this router never had.
    r = ok("nat del 192.168.11.4 epoch 3");
    EXPECT_EQ(r.data, (json{{"changed", false}}));
    EXPECT_FALSE(nat("192.168.11.4"));
    refused("nat add 192.168.11.4 to 192.168.10.4 epoch 2",
            "stale update: epoch 2 is older than epoch 3");
    r = ok("nat del 192.168.11.4 epoch 5");  // a newer withdrawal raises the tombstone
    EXPECT_EQ(r.data, (json{{"changed", false}}));
    refused("nat add 192.168.11.4 to 192.168.10.4 epoch 4", "older than epoch 5");
    ok("nat add 192.168.11.4 to 192.168.10.4 epoch 6");
    refused("nat del 192.168.11.5", "no binding for 192.168.11.5");
}

TEST_F(Executor, NatConflictsAndLimits) {
    ok("address add 10.0.0.1/24 port 0");
    ok("nat add 192.168.11.3 to 192.168.10.3");
    refused("nat add 192.168.11.4 to 192.168.10.3",
            "192.168.10.3 is already used by the binding of 192.168.11.3");
    refused("nat add 192.168.11.4 to 192.168.11.3",
            "192.168.11.3 is already used by the binding of 192.168.11.3");
    refused("nat add 192.168.10.3 to 192.168.10.77",
            "192.168.10.3 is already used by the binding of 192.168.11.3");
    refused("nat add 192.168.11.4 to 192.168.11.4", "distinct");
    refused("nat add 192.168.11.4 to 224.0.0.1", "distinct unicast host addresses");
    refused("nat add 10.0.0.1 to 192.168.10.8", "one of this router's own addresses");
    refused("nat add 192.168.11.8 to 10.0.0.1", "one of this router's own addresses");
    refused("nat add 192.168.11.8 to 192.168.10.8 local port 3", "port 3 does not exist");
    // A binding may move to a care-of address another binding gave up.
    ok("nat add 192.168.11.3 to 192.168.10.33");
    ok("nat add 192.168.11.4 to 192.168.10.3");
    EXPECT_EQ(nat("192.168.11.4")->care_of, A("192.168.10.3"));

    // Capacity 64.
    for (int i = 10; i < 72; ++i)
        ok("nat add 172.16.0." + std::to_string(i) + " to 172.17.0." + std::to_string(i));
    EXPECT_EQ(r_->nat().size(), 64u);
    refused("nat add 172.16.1.1 to 172.17.1.1", "binding table full (64 bindings");
    ok("nat add 172.16.0.10 to 172.17.1.10 local port 1");  // replacing at capacity
    EXPECT_EQ(nat("172.16.0.10")->care_of, A("172.17.1.10"));
    ok("nat del 172.16.0.11");
    ok("nat add 172.16.1.1 to 172.17.1.1");
    EXPECT_EQ(r_->nat().size(), 64u);
}

// ---- proxy-ARP and announcements ----

TEST_F(Executor, ProxyArp) {
    ok("proxy-arp add 192.168.11.0/24 port 1");
    EXPECT_EQ(r_->proxy_arp().match(1, A("192.168.11.7")), P("192.168.11.0/24"));
    EXPECT_EQ(r_->proxy_arp().match(0, A("192.168.11.7")), std::nullopt);
    refused("proxy-arp add 192.168.11.0/24 port 1", "exists");
    ok("proxy-arp add 192.168.11.3/32 port 1");
    EXPECT_EQ(r_->proxy_arp().match(1, A("192.168.11.3")), P("192.168.11.3/32"));
    ok("proxy-arp add 192.168.11.0/24 port 2");
    EXPECT_EQ(r_->proxy_arp().size(), 3u);
    refused("proxy-arp add 192.168.11.0/24 port 5", "port 5 does not exist");
    refused("proxy-arp add 192.168.11.1/24 port 1", "host bits");
    ok("proxy-arp del 192.168.11.0/24 port 1");
    EXPECT_EQ(r_->proxy_arp().match(1, A("192.168.11.7")), std::nullopt);
    EXPECT_EQ(r_->proxy_arp().match(2, A("192.168.11.7")), P("192.168.11.0/24"));
    refused("proxy-arp del 192.168.11.0/24 port 1", "no proxy-arp 192.168.11.0/24 on port 1");
    reply s = ok("show proxy-arp");
    EXPECT_EQ(s.data.size(), 2u);
}

TEST_F(Executor, ArpAnnounce) {
    refused("arp announce 10.0.0.0/16 port 0", "too large to announce (at most a /20)");
    refused("arp announce 10.0.0.1 port 0", "answers ARP for no address of 10.0.0.1/32 on port 0");
    refused("arp announce 10.0.0.0/24 port 7", "port 7 does not exist");
    EXPECT_EQ(r_->slow().pending_announcements(), 0u);
    EXPECT_EQ(rte_ring_count(r_->inject_ring()), 0u);

    ok("address add 10.0.0.1/24 port 0");
    reply r = ok("arp announce 10.0.0.1 port 0");
    EXPECT_EQ(r.data["addresses"], 1);
    EXPECT_EQ(r.data["frames"], 3);
    // The first burst goes at once (to worker 0's inject ring); two more are pending.
    EXPECT_EQ(rte_ring_count(r_->inject_ring()), 1u);
    EXPECT_EQ(r_->slow().pending_announcements(), 1u);
    // Its own address on another port is not announced there.
    refused("arp announce 10.0.0.1 port 1", "answers ARP for no address");
    // A static neighbor known on the port counts too, with its own MAC.
    ok("neigh add 10.0.0.9 lladdr 02:00:00:00:00:09 port 0");
    r = ok("arp announce 10.0.0.0/28 port 0 count 1");
    EXPECT_EQ(r.data["addresses"], 2);  // 10.0.0.1 and 10.0.0.9
    const auto said = r_->slow().announcement_for(0, P("10.0.0.0/28"));
    ASSERT_EQ(said.size(), 2u);
    EXPECT_EQ(said[0].first, A("10.0.0.1"));
    EXPECT_EQ(said[0].second, r_->runtime(0).mac);
    EXPECT_EQ(said[1].first, A("10.0.0.9"));
    EXPECT_EQ(said[1].second, *mac_addr::parse("02:00:00:00:00:09"));

    // The home prefix proxied on the foreign segment: every host address but a VM that is
    // local on that port (it answers for itself).
    ok("proxy-arp add 192.168.11.0/24 port 1");
    r = ok("arp announce 192.168.11.0/24 port 1 count 2");
    EXPECT_EQ(r.data["addresses"], 254);
    EXPECT_EQ(r.data["frames"], 508);
    ok("nat add 192.168.11.3 to 192.168.10.3 local port 1");
    r = ok("arp announce 192.168.11.0/24 port 1 count 1");
    EXPECT_EQ(r.data["addresses"], 253);
    EXPECT_EQ(r_->slow().announcement_for(1, P("192.168.11.0/24")).size(), 253u)
        << "the dataplane's proxy table and binding agree with the model";
    refused("arp announce 192.168.11.3 port 1", "answers ARP for no address");
    // A /20 is the largest.
    ok("proxy-arp add 172.16.0.0/20 port 2");
    r = ok("arp announce 172.16.0.0/20 port 2 count 1");
    EXPECT_EQ(r.data["addresses"], 4094);
}

// ---- batches ----

TEST_F(Executor, BatchRefusedLastCommandChangesNothing) {
    ok("address add 10.0.0.1/24 port 0");
    ok("nat add 192.168.11.9 to 192.168.10.9");
    const auto snap = ex_->snapshot_commands();
    const size_t nat_size = r_->nat().size(), proxy_size = r_->proxy_arp().size();
    const size_t routes = r_->routes().routes().size();
    const auto cmds = parse_all({
        "address add 10.3.0.1/24 port 2", "route add 172.20.0.0/16 via 10.3.0.254",
        "nat add 192.168.11.3 to 192.168.10.3 local port 1 epoch 4", "nat del 192.168.11.9",
        "proxy-arp add 192.168.11.0/24 port 1", "port 1 role core", "port 2 mtu 9000",
        "neigh add 10.3.0.7 lladdr 02:00:00:00:00:07 port 2",
        "nat add 192.168.11.4 to 192.168.10.3",  // care-of of the binding this batch added
    });
    ASSERT_EQ(cmds.size(), 9u);
    reply r = ex_->execute_batch(cmds);
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("command 9"), std::string::npos) << r.error;
    EXPECT_NE(r.error.find("nothing applied"), std::string::npos) << r.error;
    EXPECT_EQ(ex_->snapshot_commands(), snap);
    EXPECT_EQ(r_->nat().size(), nat_size);
    EXPECT_EQ(r_->proxy_arp().size(), proxy_size);
    EXPECT_EQ(r_->routes().routes().size(), routes);
    EXPECT_TRUE(r_->addresses(2).empty());
    EXPECT_EQ(r_->routes().find(P("172.20.0.0/16")), nullptr);
    EXPECT_EQ(r_->routes().find(P("10.3.0.0/24")), nullptr);
    EXPECT_FALSE(nat("192.168.11.3"));
    EXPECT_TRUE(nat("192.168.11.9"));
    EXPECT_EQ(r_->runtime(1).role.load(), port_role::access);
    EXPECT_EQ(r_->runtime(2).mtu.load(), 1500);
    EXPECT_EQ(r_->neigh_cache().entries().count(A("10.3.0.7")), 0u);
    EXPECT_EQ(model_epoch("192.168.11.9"), 1u);
    EXPECT_EQ(ex_->model().deleted_epoch.count(A("192.168.11.9").host()), 0u);
    EXPECT_EQ(ex_->model().deleted_epoch.count(A("192.168.11.3").host()), 0u);

    // Read-only commands cannot be batched.
    r = ex_->execute_batch(parse_all({"proxy-arp add 192.168.11.0/24 port 1", "show nat"}));
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("command 2"), std::string::npos) << r.error;
    EXPECT_EQ(r_->proxy_arp().size(), proxy_size);
    EXPECT_EQ(ex_->snapshot_commands(), snap);
    // Nor batch commands; and execute() refuses batch commands outside a connection.
    EXPECT_FALSE(ex_->execute_batch(parse_all({"batch begin"})).ok);
    EXPECT_FALSE(run("batch begin").ok);
}

TEST_F(Executor, BatchAppliesEverythingAndSeesEarlierCommands) {
    const auto cmds = parse_all({
        "address add 10.3.0.1/24 port 2",
        "route add 172.20.0.0/16 via 10.3.0.254",  // a gateway on the subnet just added
        "nat add 192.168.11.3 to 192.168.10.3 local port 1 epoch 4",
        "nat add 192.168.11.3 to 192.168.10.4 local port 1 epoch 5",  // newer than the line above
        "proxy-arp add 192.168.11.0/24 port 1", "proxy-arp del 192.168.11.0/24 port 1",
        "proxy-arp add 192.168.11.0/24 port 2", "port 1 role core",
        "arp announce 192.168.11.0/30 port 2 count 1",  // answers per the batch's proxy entry
    });
    reply r = ex_->execute_batch(cmds);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.data["applied"], cmds.size());
    EXPECT_EQ(r_->addresses(2).size(), 1u);
    ASSERT_NE(r_->routes().find(P("172.20.0.0/16")), nullptr);
    EXPECT_EQ(r_->routes().lookup(A("172.20.1.1"))->gateway, A("10.3.0.254"));
    EXPECT_EQ(r_->routes().lookup(A("172.20.1.1"))->port, 2);
    auto b = nat("192.168.11.3");
    ASSERT_TRUE(b);
    EXPECT_EQ(b->care_of, A("192.168.10.4"));
    EXPECT_FALSE(r_->nat().lookup(A("192.168.10.3").host()));
    EXPECT_EQ(model_epoch("192.168.11.3"), 5u);
    EXPECT_EQ(r_->proxy_arp().size(), 1u);
    EXPECT_EQ(r_->proxy_arp().match(2, A("192.168.11.2")), P("192.168.11.0/24"));
    EXPECT_EQ(r_->runtime(1).role.load(), port_role::core);
    EXPECT_EQ(rte_ring_count(r_->inject_ring()), 2u) << "192.168.11.1 and .2 announced";

    // A batch that deletes and re-adds in one go.
    r = ex_->execute_batch(parse_all(
        {"nat del 192.168.11.3 epoch 6", "nat add 192.168.11.3 to 192.168.10.3 epoch 7"}));
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(nat("192.168.11.3")->care_of, A("192.168.10.3"));
    EXPECT_EQ(nat("192.168.11.3")->kind, binding_kind::forward);
    // A batch whose later command contradicts an earlier one at the same epoch is refused.
    r = ex_->execute_batch(parse_all({"nat add 192.168.11.3 to 192.168.10.5 epoch 8",
                                      "nat add 192.168.11.3 to 192.168.10.6 epoch 8"}));
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("command 2"), std::string::npos) << r.error;
    EXPECT_EQ(nat("192.168.11.3")->care_of, A("192.168.10.3"));
    EXPECT_EQ(model_epoch("192.168.11.3"), 7u);
}

// ---- persistence ----

TEST_F(Executor, PersistHook) {
    std::vector<std::vector<std::string>> persisted;
    std::string fail_with;
    ex_->set_persist([&](const std::vector<std::string> &lines, std::string &error) {
        if (!fail_with.empty()) {
            error = fail_with;
            return false;
        }
        persisted.push_back(lines);
        return true;
    });
    ok("address add 10.0.0.1/24 port 0");
    ok("nat add 192.168.11.3 to 192.168.10.3   epoch 2");
    ok("show nat");
    ok("arp announce 10.0.0.1 port 0");  // an action, not configuration
    refused("route add 172.16.0.0/16 via 192.0.2.1", "not on any connected subnet");
    ASSERT_EQ(persisted.size(), 2u);
    EXPECT_EQ(persisted[0], std::vector<std::string>{"address add 10.0.0.1/24 port 0"});
    EXPECT_EQ(persisted[1],
              std::vector<std::string>{"nat add 192.168.11.3 to 192.168.10.3 epoch 2"})
        << "the canonical form";

    // A failing persist refuses the command and changes nothing.
    fail_with = "disk full";
    refused("nat add 192.168.11.4 to 192.168.10.4", "not applied: disk full");
    EXPECT_FALSE(nat("192.168.11.4"));
    refused("route add 0.0.0.0/0 via 10.0.0.254", "disk full");
    EXPECT_EQ(r_->routes().lookup(A("8.8.8.8")), nullptr);
    refused("port 1 role core", "disk full");
    EXPECT_EQ(r_->runtime(1).role.load(), port_role::access);
    refused("nat del 192.168.11.3", "disk full");
    EXPECT_TRUE(nat("192.168.11.3"));
    EXPECT_EQ(ex_->model().deleted_epoch.count(A("192.168.11.3").host()), 0u);
    // A batch too.
    const auto snap = ex_->snapshot_commands();
    reply r = ex_->execute_batch(
        parse_all({"proxy-arp add 192.168.11.0/24 port 1", "nat del 192.168.11.3"}));
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.error.find("nothing applied: disk full"), std::string::npos) << r.error;
    EXPECT_EQ(ex_->snapshot_commands(), snap);
    EXPECT_EQ(r_->proxy_arp().size(), 0u);
    EXPECT_TRUE(nat("192.168.11.3"));
    // Reads still work.
    EXPECT_TRUE(run("show routes").ok);

    fail_with.clear();
    persisted.clear();
    r = ex_->execute_batch(
        parse_all({"proxy-arp add 192.168.11.0/24 port 1", "nat del 192.168.11.3 epoch 3"}));
    ASSERT_TRUE(r.ok) << r.error;
    ASSERT_EQ(persisted.size(), 1u) << "a batch is one record";
    EXPECT_EQ(persisted[0], (std::vector<std::string>{"proxy-arp add 192.168.11.0/24 port 1",
                                                      "nat del 192.168.11.3 epoch 3"}));
}

// ---- snapshots ----

TEST_F(Executor, SnapshotRebuildsTheSameConfiguration) {
    const std::vector<std::string> config = {
        "port 0 role core",
        "port 1 mtu 9000",
        "port 2 redirects on",
        "address add 10.0.0.2/24 port 0",
        "address add 192.168.10.1/24 port 1",
        "address add 192.168.10.2/24 port 1",
        "address add 10.9.9.9/32 port 2",
        "route add 0.0.0.0/0 via 10.0.0.1",
        "route add 192.168.11.0/24 via 10.0.0.3",
        "route add 172.16.0.0/12 port 2",
        "route add 198.51.100.0/24 blackhole",
        "route add 100.64.1.128/25 via 10.0.0.4",
        "neigh add 10.0.0.1 lladdr 02:00:00:00:01:01 port 0",
        "proxy-arp add 192.168.11.0/24 port 1",
        "proxy-arp add 192.168.12.7/32 port 1",
        "nat add 192.168.11.3 to 192.168.10.100 local port 1 epoch 3",
        "nat add 192.168.11.4 to 192.168.10.101 local port 1 keep-source epoch 9",
        "nat add 192.168.12.7 to 192.168.10.102",
        "nat add 192.168.13.5 to 192.168.10.103 epoch 2",
        "nat del 192.168.13.5 epoch 4",
        "nat del 192.168.13.6 epoch 11",
    };
    for (const auto &l : config) ok(l);
    const auto snap = ex_->snapshot_commands();
    // Every snapshot line is a command in canonical form.
    for (const auto &l : snap) {
        auto p = parse_command(l);
        ASSERT_TRUE(p.cmd) << l << ": " << p.error;
        EXPECT_EQ(format_command(*p.cmd), l);
    }
    std::vector<std::pair<std::string, binding>> bindings;
    r_->nat().for_each([&](const binding &b) { bindings.emplace_back(b.home.to_string(), b); });
    std::sort(bindings.begin(), bindings.end(), [](auto &a, auto &b) { return a.first < b.first; });
    const auto routes = r_->routes().routes();
    const auto proxies = r_->proxy_arp().entries();

    restart_router();
    ASSERT_TRUE(ex_->snapshot_commands().size() == size_t(kPorts))
        << "a fresh router has only port MTUs";
    for (const auto &l : snap) ok(l);
    EXPECT_EQ(sorted(ex_->snapshot_commands()), sorted(snap));
    std::vector<std::pair<std::string, binding>> bindings2;
    r_->nat().for_each([&](const binding &b) { bindings2.emplace_back(b.home.to_string(), b); });
    std::sort(bindings2.begin(), bindings2.end(),
              [](auto &a, auto &b) { return a.first < b.first; });
    EXPECT_EQ(bindings2, bindings);
    EXPECT_EQ(r_->routes().routes(), routes);
    EXPECT_EQ(r_->proxy_arp().entries(), proxies);
    EXPECT_EQ(r_->runtime(0).role.load(), port_role::core);
    EXPECT_EQ(r_->runtime(1).mtu.load(), 9000);
    EXPECT_TRUE(r_->runtime(2).redirects.load());
    EXPECT_EQ(model_epoch("192.168.11.4"), 9u);
    EXPECT_EQ(model_epoch("192.168.12.7"), 1u);
    // The tombstones came back: older updates stay refused.
    refused("nat add 192.168.13.5 to 192.168.10.103 epoch 3", "stale");
    refused("nat add 192.168.13.6 to 192.168.10.104 epoch 10", "stale");
    refused("nat add 192.168.11.3 to 192.168.10.100 epoch 2", "stale");
}

// A 60-byte UDP frame from 192.0.2.10 to `dst`, UDP source port `sport`, to `mac`.
std::array<uint8_t, 60> udp_frame(const rte_ether_addr &mac, const char *dst, uint16_t sport,
                                  uint8_t ttl = 64) {
    std::array<uint8_t, 60> f{};
    std::memcpy(f.data(), mac.addr_bytes, 6);
    f[6] = 0x02;
    f[12] = 0x08;
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(f.data() + 14);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(46);
    ip->time_to_live = ttl;
    ip->next_proto_id = IPPROTO_UDP;
    ip->src_addr = A("192.0.2.10").be().raw();
    ip->dst_addr = A(dst).be().raw();
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    auto *udp = reinterpret_cast<rte_udp_hdr *>(ip + 1);
    udp->src_port = rte_cpu_to_be_16(sport);
    udp->dst_port = rte_cpu_to_be_16(9);
    udp->dgram_len = rte_cpu_to_be_16(26);
    return f;
}

// Fresh mbufs holding the frames, as a port would receive them on port 0.
template <typename Frames>
std::vector<rte_mbuf *> received(rte_mempool *pool, const Frames &frames) {
    std::vector<rte_mbuf *> pkts(frames.size());
    EXPECT_EQ(rte_pktmbuf_alloc_bulk(pool, pkts.data(), unsigned(pkts.size())), 0);
    for (size_t i = 0; i < pkts.size(); ++i) {
        std::memcpy(rte_pktmbuf_append(pkts[i], uint16_t(frames[i].size())), frames[i].data(),
                    frames[i].size());
        pkts[i]->port = 0;
    }
    return pkts;
}

// The worker over this router: packets forwarded in several bursts before one flush, more
// than a tx burst holds, are all transmitted by that flush (a full tx buffer is sent at once;
// what is queued after it must still be pending for the flush).
TEST_F(Executor, WorkerSendsEveryQueuedPacketAtFlush) {
    for (const char *line :
         {"address add 192.0.2.1/24 port 0", "address add 10.0.0.1/24 port 1",
          "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1", "route add 0.0.0.0/0 via 10.0.0.2"})
        ok(line);
    rte_ether_addr mac;
    ASSERT_EQ(rte_eth_macaddr_get(0, &mac), 0);
    worker &w = r_->worker_at(0);
    auto events = [&](event e) { return w.counters().events[size_t(e)].get(); };
    const uint64_t tx0 = events(event::tx_packets);
    constexpr uint16_t kBurst = 50, kBursts = 3;  // 150: two full tx bursts of 64 and 22 more
    const std::vector frames(kBurst, udp_frame(mac, "198.18.1.1", 1024));
    for (int b = 0; b < kBursts; ++b) {
        auto pkts = received(r_->pool(), frames);
        w.process_burst(0, pkts.data(), kBurst);
    }
    w.flush();
    EXPECT_EQ(events(event::forwarded), kBurst * kBursts);
    EXPECT_EQ(events(event::tx_packets) - tx0, kBurst * kBursts);
}

// What a port transmits, copied by a tx callback before the null device frees it.
class tx_capture {
public:
    explicit tx_capture(uint16_t port) : port_(port) {
        cb_ = rte_eth_add_tx_callback(port, 0, record, this);
    }
    // A removed callback is the caller's to free (rte_ethdev.h); no other thread transmits.
    ~tx_capture() {
        if (cb_ && rte_eth_remove_tx_callback(port_, 0, cb_) == 0)
            rte_free(const_cast<rte_eth_rxtx_callback *>(cb_));
    }
    bool ok() const { return cb_ != nullptr; }
    std::vector<std::vector<uint8_t>> frames;

private:
    static uint16_t record(uint16_t, uint16_t, rte_mbuf **pkts, uint16_t n, void *self) {
        for (uint16_t i = 0; i < n; ++i) {
            const auto *p = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
            static_cast<tx_capture *>(self)->frames.emplace_back(p, p + pkts[i]->data_len);
        }
        return n;
    }
    uint16_t port_;
    const rte_eth_rxtx_callback *cb_;
};

// One burst whose packets go many ways: runs of packets to one next hop broken by packets
// that are dropped, answered or handed to the slow path, and connected destinations (each its
// own next hop). Every packet meets its own fate, and the forwarded ones leave in order with
// the right next hop's MAC, the TTL decremented and a right checksum. The same again with a
// binding in the table, which takes the translating path (to no binding of these packets).
TEST_F(Executor, WorkerRoutesEachPacketOfAMixedBurst) {
    for (const char *line :
         {"address add 192.0.2.1/24 port 0", "address add 10.0.0.1/24 port 1",
          "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1",
          "neigh add 10.0.0.3 lladdr 02:00:00:00:00:03 port 1",
          "neigh add 10.0.0.5 lladdr 02:00:00:00:00:05 port 1", "route add 0.0.0.0/0 via 10.0.0.2",
          "route add 203.0.113.0/24 via 10.0.0.3", "route add 198.51.100.0/24 blackhole"})
        ok(line);
    rte_ether_addr in_mac, out_mac;
    ASSERT_EQ(rte_eth_macaddr_get(0, &in_mac), 0);
    ASSERT_EQ(rte_eth_macaddr_get(1, &out_mac), 0);
    struct packet {
        const char *dst;
        uint8_t ttl;
        uint8_t neighbor;  // the last byte of the next hop's MAC; 0: not transmitted
    };
    const packet burst[] = {
        {"198.18.1.1", 64, 2},   {"203.0.113.9", 64, 3}, {"198.51.100.7", 64, 0},  // blackhole
        {"203.0.113.10", 64, 3}, {"198.18.1.2", 1, 0},                             // TTL
        {"198.18.1.3", 64, 2},   {"10.0.0.5", 64, 5},    {"10.0.0.6", 64, 0},      // unresolved
        {"10.0.0.5", 64, 5},     {"192.0.2.1", 64, 0},                             // local
        {"198.18.1.4", 2, 2},
    };
    constexpr size_t kN = std::size(burst);
    std::vector<std::array<uint8_t, 60>> frames;
    for (size_t i = 0; i < kN; ++i)
        frames.push_back(udp_frame(in_mac, burst[i].dst, uint16_t(1000 + i), burst[i].ttl));

    for (const bool with_binding : {false, true}) {
        SCOPED_TRACE(with_binding ? "translating path" : "plain routing");
        if (with_binding) ok("nat add 172.16.0.1 to 172.16.1.1");
        worker &w = r_->worker_at(0);
        counter_totals before;
        before.accumulate(w.counters());
        tx_capture tx(1);
        ASSERT_TRUE(tx.ok());
        auto pkts = received(r_->pool(), frames);
        w.process_burst(0, pkts.data(), uint16_t(kN));
        w.flush();
        counter_totals after;
        after.accumulate(w.counters());
        const counter_totals d = after - before;

        std::vector<size_t> sent;
        for (size_t i = 0; i < kN; ++i)
            if (burst[i].neighbor) sent.push_back(i);
        ASSERT_EQ(tx.frames.size(), sent.size());
        for (size_t k = 0; k < sent.size(); ++k) {
            const packet &p = burst[sent[k]];
            const std::vector<uint8_t> &f = tx.frames[k];
            SCOPED_TRACE(p.dst);
            ASSERT_EQ(f.size(), 60u);
            const uint8_t want_dmac[6] = {2, 0, 0, 0, 0, p.neighbor};
            EXPECT_EQ(std::memcmp(f.data(), want_dmac, 6), 0);
            EXPECT_EQ(std::memcmp(f.data() + 6, out_mac.addr_bytes, 6), 0);
            const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(f.data() + 14);
            EXPECT_EQ(ip->dst_addr, A(p.dst).be().raw());
            EXPECT_EQ(ip->time_to_live, p.ttl - 1);
            EXPECT_EQ(rte_ipv4_cksum(ip), 0) << "the header sums wrong";
            const auto *udp = reinterpret_cast<const rte_udp_hdr *>(ip + 1);
            EXPECT_EQ(rte_be_to_cpu_16(udp->src_port), 1000 + sent[k]) << "out of order";
        }
        EXPECT_EQ(d.event_count(event::forwarded), sent.size());
        EXPECT_EQ(d.drop_count(drop_reason::blackhole), 1u);
        EXPECT_EQ(d.drop_count(drop_reason::ttl_exceeded), 1u);
        // The ICMP error request, the unresolved neighbor and the local packet.
        EXPECT_EQ(d.event_count(event::punted), 3u);
    }

    // Without a default route, a burst that starts with a packet to nowhere.
    ok("route del 0.0.0.0/0");
    for (const bool with_binding : {true, false}) {
        SCOPED_TRACE(with_binding ? "translating path" : "plain routing");
        if (!with_binding) ok("nat del 172.16.0.1");
        worker &w = r_->worker_at(0);
        counter_totals before;
        before.accumulate(w.counters());
        tx_capture tx(1);
        ASSERT_TRUE(tx.ok());
        const std::array frames2 = {udp_frame(in_mac, "198.18.1.1", 1),
                                    udp_frame(in_mac, "203.0.113.9", 2),
                                    udp_frame(in_mac, "198.18.1.2", 3)};
        auto pkts = received(r_->pool(), frames2);
        w.process_burst(0, pkts.data(), uint16_t(pkts.size()));
        w.flush();
        counter_totals after;
        after.accumulate(w.counters());
        const counter_totals d = after - before;
        EXPECT_EQ(d.drop_count(drop_reason::no_route), 2u);
        EXPECT_EQ(d.event_count(event::forwarded), 1u);
        ASSERT_EQ(tx.frames.size(), 1u);
        EXPECT_EQ(tx.frames[0][5], 3) << "not to 10.0.0.3's MAC";
    }
}

}  // namespace
}  // namespace ssw
