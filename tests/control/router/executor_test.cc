// The executor's transactions on a real router (three DPDK null ports): all-or-nothing
// batches that see their earlier commands, and the persistence hook that every accepted
// change passes before it is published.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_ring.h>

#include "tests/dataplane/worker_fixture.h"

namespace ssw {
namespace {

using test::A;
using test::P;

class Executor : public test::router_fixture {};

// ---- batches ----

TEST_F(Executor, BatchRefusedLastCommandChangesNothing) {
    ok("address add 10.0.0.1/24 port 0");
    ok("nat add 192.168.11.9 to 192.168.10.9");
    const auto snap = ex_->snapshot_commands();
    const size_t nat_size = r_->nat().size(), proxy_size = r_->proxy_arp().size();
    const size_t routes = r_->routes().size();
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
    EXPECT_EQ(r_->routes().size(), routes);
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

}  // namespace
}  // namespace ssw
