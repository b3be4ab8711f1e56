// The routing table: longest-prefix match through rte_lpm, exact-match bookkeeping, limits,
// and next hops shared, reference-counted and reclaimed through RCU.
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/tables/rcu.h"
#include "dataplane/tables/route_table.h"
#include "tests/test_support.h"

namespace ssw {
namespace {

using test::A;
using test::P;

next_hop via(const char *gw, uint16_t port = 0) { return {next_hop::kind::gateway, port, A(gw)}; }
next_hop on_port(uint16_t port) { return {next_hop::kind::connected, port, ip4_addr()}; }
next_hop blackhole() { return {next_hop::kind::blackhole, 0, ip4_addr()}; }

// rte_lpm names must be unique in the process.
std::string unique_name() {
    static int n = 0;
    return "ut_routes_" + std::to_string(n++);
}

class RouteTable : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(rcu_.init(1)); }
    void TearDown() override {
        // Deferred frees point into the table: run them before it goes.
        rcu_.synchronize();
        rt_.reset();
    }
    void make(uint32_t max_routes = 1024, uint32_t tbl8 = 256) {
        rt_ = std::make_unique<route_table>();
        std::string err;
        ASSERT_TRUE(rt_->init(unique_name(), max_routes, tbl8, rcu_, err)) << err;
    }
    bool set(const char *prefix, const next_hop &nh) {
        std::string err;
        bool ok = rt_->set(P(prefix), nh, err);
        EXPECT_EQ(ok, err.empty()) << err;
        return ok;
    }
    const next_hop *lookup(const char *a) const { return rt_->lookup(A(a)); }

    rcu_domain rcu_;
    std::unique_ptr<route_table> rt_;
};

TEST_F(RouteTable, EmptyTableHasNoRoute) {
    make();
    EXPECT_EQ(lookup("10.0.0.1"), nullptr);
    EXPECT_EQ(lookup("0.0.0.0"), nullptr);
    EXPECT_EQ(lookup("255.255.255.255"), nullptr);
    EXPECT_EQ(rt_->size(), 0u);
    EXPECT_EQ(rt_->max_routes(), 1024u);
}

TEST_F(RouteTable, SetFindRemove) {
    make();
    ASSERT_TRUE(set("10.0.0.0/8", via("192.0.2.1", 1)));
    ASSERT_NE(rt_->find(P("10.0.0.0/8")), nullptr);
    EXPECT_EQ(*rt_->find(P("10.0.0.0/8")), via("192.0.2.1", 1));
    EXPECT_EQ(rt_->find(P("10.0.0.0/9")), nullptr) << "find is exact";
    EXPECT_EQ(rt_->find(P("10.1.0.0/16")), nullptr);
    ASSERT_NE(lookup("10.200.1.1"), nullptr);
    EXPECT_EQ(*lookup("10.200.1.1"), via("192.0.2.1", 1));
    EXPECT_EQ(lookup("11.0.0.1"), nullptr);
    EXPECT_EQ(rt_->size(), 1u);

    EXPECT_FALSE(rt_->remove(P("10.0.0.0/9")));
    EXPECT_TRUE(rt_->remove(P("10.0.0.0/8")));
    EXPECT_EQ(rt_->find(P("10.0.0.0/8")), nullptr);
    EXPECT_EQ(lookup("10.200.1.1"), nullptr);
    EXPECT_FALSE(rt_->remove(P("10.0.0.0/8")));
    EXPECT_EQ(rt_->size(), 0u);
}

TEST_F(RouteTable, LongestPrefixWins) {
    make();
    ASSERT_TRUE(set("10.0.0.0/8", via("192.0.2.8")));
    ASSERT_TRUE(set("10.1.0.0/16", via("192.0.2.16")));
    ASSERT_TRUE(set("10.1.2.0/24", via("192.0.2.24")));
    ASSERT_TRUE(set("10.1.2.3/32", via("192.0.2.32")));
    ASSERT_TRUE(set("10.1.2.128/25", on_port(2)));
    EXPECT_EQ(lookup("10.1.2.3")->gateway, A("192.0.2.32"));
    EXPECT_EQ(lookup("10.1.2.4")->gateway, A("192.0.2.24"));
    EXPECT_EQ(lookup("10.1.2.2")->gateway, A("192.0.2.24"));
    EXPECT_EQ(*lookup("10.1.2.200"), on_port(2));
    EXPECT_EQ(lookup("10.1.3.3")->gateway, A("192.0.2.16"));
    EXPECT_EQ(lookup("10.2.2.3")->gateway, A("192.0.2.8"));
    EXPECT_EQ(lookup("11.1.2.3"), nullptr);

    // Removing the more specific uncovers the next one, in either insertion order.
    EXPECT_TRUE(rt_->remove(P("10.1.2.3/32")));
    EXPECT_EQ(lookup("10.1.2.3")->gateway, A("192.0.2.24"));
    EXPECT_TRUE(rt_->remove(P("10.1.0.0/16")));
    EXPECT_EQ(lookup("10.1.3.3")->gateway, A("192.0.2.8"));
    EXPECT_EQ(lookup("10.1.2.3")->gateway, A("192.0.2.24"));
    EXPECT_TRUE(rt_->remove(P("10.1.2.0/24")));
    EXPECT_EQ(lookup("10.1.2.3")->gateway, A("192.0.2.8"));
    EXPECT_EQ(*lookup("10.1.2.129"), on_port(2));
}

// rte_lpm_add takes depths 1..32 only: the default route is kept beside the LPM and used
// on a miss, and more specific routes still win.
TEST_F(RouteTable, DefaultRoute) {
    make();
    std::string err;
    ASSERT_TRUE(rt_->set(P("0.0.0.0/0"), via("192.0.2.1"), err)) << err;
    ASSERT_NE(lookup("8.8.8.8"), nullptr);
    EXPECT_EQ(lookup("8.8.8.8")->gateway, A("192.0.2.1"));
    EXPECT_EQ(lookup("200.1.1.1")->gateway, A("192.0.2.1"));
    ASSERT_TRUE(set("10.0.0.0/8", blackhole()));
    EXPECT_EQ(*lookup("10.0.0.1"), blackhole());
    EXPECT_EQ(lookup("9.255.255.255")->gateway, A("192.0.2.1"));
    EXPECT_TRUE(rt_->remove(P("0.0.0.0/0")));
    EXPECT_EQ(lookup("8.8.8.8"), nullptr);
    EXPECT_EQ(*lookup("10.0.0.1"), blackhole());
}

TEST_F(RouteTable, RandomPrefixesMatchLinearScan) {
    make(4000, 1024);
    std::mt19937 rng(91);
    std::vector<std::pair<ip4_prefix, next_hop>> model;
    // Prefixes clustered in 10.0.0.0/12 so that they nest, lengths 8..32.
    for (int i = 0; i < 1500; ++i) {
        uint8_t len = uint8_t(8 + rng() % 25);
        ip4_prefix p = ip4_prefix{ip4_addr(0x0a000000u | (rng() & 0x000fffff)), len}.network();
        next_hop nh = via("192.0.2.1", uint16_t(rng() % 40));  // few distinct: shared hops
        std::string err;
        ASSERT_TRUE(rt_->set(p, nh, err)) << err;
        bool replaced = false;
        for (auto &m : model)
            if (m.first == p) m.second = nh, replaced = true;
        if (!replaced) model.emplace_back(p, nh);
    }
    // And remove a third.
    for (size_t i = 0; i < model.size(); i += 3) {
        ASSERT_TRUE(rt_->remove(model[i].first));
    }
    std::vector<std::pair<ip4_prefix, next_hop>> live;
    for (size_t i = 0; i < model.size(); ++i)
        if (i % 3) live.push_back(model[i]);
    EXPECT_EQ(rt_->size(), live.size());
    for (int i = 0; i < 20000; ++i) {
        ip4_addr a(i % 4 ? 0x0a000000u | (rng() & 0x000fffff) : uint32_t(rng()));
        const next_hop *best = nullptr;
        int best_len = -1;
        for (auto &m : live)
            if (m.first.contains(a) && m.first.len > best_len)
                best = &m.second, best_len = m.first.len;
        const next_hop *got = rt_->lookup(a);
        ASSERT_EQ(got == nullptr, best == nullptr) << a.to_string();
        if (best) {
            ASSERT_EQ(*got, *best) << a.to_string() << " /" << best_len;
        }
    }
}

// The worker's bulk lookup (four at a time, then one at a time) agrees with single lookups
// for every count, with the default route standing in for misses, and kNoRoute without one.
TEST_F(RouteTable, BulkLookupMatchesSingle) {
    make(4000, 1024);
    std::mt19937 rng(17);
    for (int i = 0; i < 300; ++i) {
        const uint8_t len = uint8_t(8 + rng() % 25);
        std::string err;
        ASSERT_TRUE(
            rt_->set(ip4_prefix{ip4_addr(0x0a000000u | (rng() & 0x00ffffff)), len}.network(),
                     via("192.0.2.1", uint16_t(rng() % 8)), err))
            << err;
    }
    const auto check = [&](bool with_default) {
        uint32_t dsts[64], hops[64];
        for (unsigned n = 0; n <= 64; ++n) {
            for (unsigned i = 0; i < n; ++i)  // half inside 10/8, half anywhere
                dsts[i] = i % 2 ? 0x0a000000u | (rng() & 0x00ffffff) : uint32_t(rng() | 1);
            rt_->lookup_bulk(dsts, hops, n);
            for (unsigned i = 0; i < n; ++i) {
                const next_hop *single = rt_->lookup(ip4_addr(dsts[i]));
                if (!single) {
                    ASSERT_FALSE(with_default);
                    ASSERT_EQ(hops[i], route_table::kNoRoute) << n << " " << i;
                } else {
                    ASSERT_NE(hops[i], route_table::kNoRoute) << n << " " << i;
                    ASSERT_EQ(rt_->hop(hops[i]), *single) << ip4_addr(dsts[i]).to_string();
                }
            }
        }
    };
    check(false);
    ASSERT_TRUE(set("0.0.0.0/0", via("198.51.100.1", 3)));
    check(true);
}

TEST_F(RouteTable, ReplaceChangesNextHop) {
    make();
    ASSERT_TRUE(set("192.168.0.0/16", via("10.0.0.1", 1)));
    ASSERT_TRUE(set("192.168.0.0/16", via("10.0.0.2", 2)));
    EXPECT_EQ(rt_->size(), 1u);
    EXPECT_EQ(*rt_->find(P("192.168.0.0/16")), via("10.0.0.2", 2));
    EXPECT_EQ(*lookup("192.168.44.1"), via("10.0.0.2", 2));
    ASSERT_TRUE(set("192.168.0.0/16", blackhole()));
    EXPECT_EQ(*lookup("192.168.44.1"), blackhole());
    // Replacing with the same next hop is harmless.
    ASSERT_TRUE(set("192.168.0.0/16", blackhole()));
    EXPECT_EQ(*lookup("192.168.44.1"), blackhole());
    EXPECT_TRUE(rt_->remove(P("192.168.0.0/16")));
    EXPECT_EQ(lookup("192.168.44.1"), nullptr);
}

TEST_F(RouteTable, HostBitsRefused) {
    make();
    for (const char *bad : {"10.1.2.3/8", "192.168.1.1/24", "10.0.0.1/31", "0.0.0.1/0"}) {
        std::string err;
        EXPECT_FALSE(rt_->set(P(bad), blackhole(), err)) << bad;
        EXPECT_NE(err.find(bad), std::string::npos) << err;
    }
    EXPECT_EQ(rt_->size(), 0u);
    EXPECT_EQ(lookup("10.1.2.3"), nullptr);
}

TEST_F(RouteTable, CapacityRefusedWithError) {
    make(4);
    ASSERT_TRUE(set("10.0.0.0/8", blackhole()));
    ASSERT_TRUE(set("11.0.0.0/8", blackhole()));
    ASSERT_TRUE(set("12.0.0.0/8", blackhole()));
    ASSERT_TRUE(set("13.0.0.0/8", blackhole()));
    std::string err;
    EXPECT_FALSE(rt_->set(P("14.0.0.0/8"), blackhole(), err));
    EXPECT_FALSE(err.empty());
    EXPECT_NE(err.find("full"), std::string::npos) << err;
    EXPECT_EQ(lookup("14.0.0.1"), nullptr);
    EXPECT_EQ(rt_->size(), 4u);
    // Replacing an existing route needs no room.
    ASSERT_TRUE(set("13.0.0.0/8", via("10.0.0.1")));
    EXPECT_EQ(*lookup("13.1.1.1"), via("10.0.0.1"));
    ASSERT_TRUE(rt_->remove(P("10.0.0.0/8")));
    ASSERT_TRUE(set("14.0.0.0/8", blackhole()));
}

TEST_F(RouteTable, Tbl8ExhaustionRefusedAndHopReleased) {
    make(64, 2);
    // Each /24 with a longer prefix in it takes one tbl8 group.
    ASSERT_TRUE(set("10.0.1.0/25", blackhole()));
    ASSERT_TRUE(set("10.0.2.0/25", blackhole()));
    for (uint32_t i = 0; i < route_table::kMaxNextHops + 100; ++i) {
        std::string err;
        // A fresh next hop each time (outside 192.0.2.0/24, used below): if a failed add
        // leaked its slot, they would run out.
        next_hop nh{next_hop::kind::gateway, 0, ip4_addr(0xac100000u + i)};
        ASSERT_FALSE(rt_->set(P("10.0.3.0/25"), nh, err));
        ASSERT_FALSE(err.empty());
        if (i == 0) {
            EXPECT_NE(err.find("10.0.3.0/25"), std::string::npos) << err;
        }
        if (i % 1000 == 0) rcu_.synchronize();
    }
    rcu_.synchronize();
    EXPECT_EQ(rt_->find(P("10.0.3.0/25")), nullptr);
    EXPECT_EQ(lookup("10.0.3.1"), nullptr);
    ASSERT_TRUE(set("10.0.4.0/24", via("192.0.2.9")));
    // Freeing a group makes room.
    ASSERT_TRUE(rt_->remove(P("10.0.1.0/25")));
    rcu_.synchronize();
    ASSERT_TRUE(set("10.0.3.0/25", via("192.0.2.10")));
    EXPECT_EQ(*lookup("10.0.3.1"), via("192.0.2.10"));
}

TEST_F(RouteTable, SharedNextHopsAreOneSlot) {
    make();
    ASSERT_TRUE(set("10.0.0.0/8", via("192.0.2.1", 1)));
    ASSERT_TRUE(set("172.16.0.0/12", via("192.0.2.1", 1)));
    ASSERT_TRUE(set("192.168.0.0/16", via("192.0.2.2", 1)));
    EXPECT_EQ(lookup("10.0.0.1"), lookup("172.16.0.1")) << "same next hop, same slot";
    EXPECT_NE(lookup("10.0.0.1"), lookup("192.168.0.1"));
    // Removing one user leaves the slot to the other.
    ASSERT_TRUE(rt_->remove(P("10.0.0.0/8")));
    rcu_.synchronize();
    ASSERT_NE(lookup("172.16.0.1"), nullptr);
    EXPECT_EQ(*lookup("172.16.0.1"), via("192.0.2.1", 1));
    // A new distinct next hop must not take the slot still in use.
    ASSERT_TRUE(set("10.0.0.0/8", via("192.0.2.3", 1)));
    EXPECT_NE(lookup("10.0.0.1"), lookup("172.16.0.1"));
    EXPECT_EQ(*lookup("172.16.0.1"), via("192.0.2.1", 1));
    EXPECT_EQ(*lookup("10.0.0.1"), via("192.0.2.3", 1));
}

TEST_F(RouteTable, SlotNotReusedBeforeGracePeriod) {
    make();
    rcu_.register_reader(0);
    rcu_.online(0);
    ASSERT_TRUE(set("10.0.0.0/8", via("192.0.2.1")));
    const next_hop *held = lookup("10.0.0.1");  // a worker's view
    ASSERT_TRUE(rt_->remove(P("10.0.0.0/8")));
    rcu_.reclaim();
    ASSERT_TRUE(set("11.0.0.0/8", via("192.0.2.99")));
    EXPECT_EQ(*held, via("192.0.2.1")) << "slot rewritten while a reader may hold it";
    EXPECT_NE(lookup("11.0.0.1"), held);
    rcu_.quiescent(0);
    rcu_.offline(0);
    rcu_.unregister_reader(0);
}

TEST_F(RouteTable, FreedNextHopsAreReclaimed) {
    make(16);
    // More distinct next hops over time than there are slots: each must be given back.
    const uint32_t cycles = route_table::kMaxNextHops + 5000;
    for (uint32_t i = 0; i < cycles; ++i) {
        next_hop nh = via("10.0.0.0", uint16_t(i));
        nh.gateway = ip4_addr(0x0a000000u + i);
        std::string err;
        ASSERT_TRUE(rt_->set(P("198.51.100.0/24"), nh, err)) << "cycle " << i << ": " << err;
        ASSERT_EQ(*lookup("198.51.100.7"), nh);
        ASSERT_TRUE(rt_->remove(P("198.51.100.0/24")));
        rcu_.synchronize();
    }
    EXPECT_EQ(rt_->size(), 0u);
}

TEST_F(RouteTable, ReplacedNextHopsAreReclaimed) {
    make(16);
    const uint32_t cycles = route_table::kMaxNextHops + 5000;
    for (uint32_t i = 0; i < cycles; ++i) {
        next_hop nh{next_hop::kind::gateway, uint16_t(i), ip4_addr(0x0b000000u + i)};
        std::string err;
        ASSERT_TRUE(rt_->set(P("198.51.100.0/24"), nh, err)) << "cycle " << i << ": " << err;
        if (i % 64 == 0) {
            ASSERT_EQ(*lookup("198.51.100.7"), nh);
        }
        if (i % 16 == 0) rcu_.synchronize();
    }
}

TEST_F(RouteTable, NextHopTableFull) {
    make(route_table::kMaxNextHops + 10, 16);
    std::string err;
    for (uint32_t i = 0; i < route_table::kMaxNextHops; ++i) {
        // Lengths 17..24 (no tbl8 groups; rte_lpm scans rules of one length linearly, so
        // spread them), each aligned on 2^15 so none has host bits.
        ip4_prefix p{ip4_addr(0x40000000u + (i << 15)), uint8_t(17 + i % 8)};
        next_hop nh{next_hop::kind::gateway, 0, ip4_addr(0x0a000000u + i)};
        ASSERT_TRUE(rt_->set(p, nh, err)) << i << ": " << err;
    }
    ip4_prefix extra{ip4_addr(0x30000000u), 24};
    EXPECT_FALSE(rt_->set(extra, via("10.255.255.255"), err));
    EXPECT_NE(err.find("next-hop"), std::string::npos) << err;
    EXPECT_EQ(rt_->lookup(ip4_addr(0x30000001u)), nullptr);
    // An existing next hop can still be used.
    err.clear();
    EXPECT_TRUE(rt_->set(extra, next_hop{next_hop::kind::gateway, 0, ip4_addr(0x0a000005u)}, err))
        << err;
    EXPECT_EQ(rt_->lookup(ip4_addr(0x30000001u))->gateway, ip4_addr(0x0a000005u));
}

TEST_F(RouteTable, DuplicateNameRefused) {
    rcu_domain other;
    ASSERT_TRUE(other.init(1));
    std::string name = unique_name();
    route_table a, b;
    std::string err;
    ASSERT_TRUE(a.init(name, 16, 16, rcu_, err)) << err;
    EXPECT_FALSE(b.init(name, 16, 16, other, err));
    EXPECT_FALSE(err.empty());
}

}  // namespace
}  // namespace ssw
