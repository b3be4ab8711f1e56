// The executor's service-switch commands on a real router (three DPDK null ports): bindings
// and their epochs, conflicts and capacity; proxy-ARP entries; gratuitous ARP announcements.
#include <string>

#include <gtest/gtest.h>
#include <rte_ring.h>

#include "dataplane/slow_path/slow_path.h"
#include "tests/dataplane/worker_fixture.h"

namespace ssw {
namespace {

using test::A;
using test::P;

class ServiceSwitch : public test::router_fixture {};

// ---- bindings ----

TEST_F(ServiceSwitch, NatAddWithoutEpochs) {
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

TEST_F(ServiceSwitch, NatEpochs) {
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
    // A withdrawal of an address no binding can have is refused (0.0.0.0 once threw out of
    // the executor: the tables do not take it as a key).
    refused("nat del 0.0.0.0 epoch 3", "0.0.0.0 is not a unicast host address");
    refused("nat del 224.0.0.9", "not a unicast host address");
}

TEST_F(ServiceSwitch, NatConflictsAndLimits) {
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

TEST_F(ServiceSwitch, ProxyArp) {
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

TEST_F(ServiceSwitch, ArpAnnounce) {
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

}  // namespace
}  // namespace ssw
