// The workers' neighbor table: packed words, updates in place, and index reuse only after an
// RCU grace period.
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/neighbor_table.h"
#include "dataplane/rcu.h"

namespace ssw {
namespace {

const mac_addr kMacA = *mac_addr::parse("02:11:22:33:44:55");
const mac_addr kMacB = *mac_addr::parse("0a:bb:cc:dd:ee:ff");

class NeighborTable : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(rcu_.init(1)); }
    // The table's deferred frees point into it: run them while it still exists.
    void TearDown() override { rcu_.synchronize(); }
    rcu_domain rcu_;
    neighbor_table t;
};

TEST(NeighborTablePack, WordLayout) {
    uint64_t w = neighbor_table::pack(kMacA, 0x1234);
    EXPECT_EQ(neighbor_table::port_of(w), 0x1234);
    EXPECT_EQ(w & 0xffffffffffffull, kMacA.raw48());
    EXPECT_EQ(mac_addr::from_raw48(w & 0xffffffffffffull), kMacA);
    // The low six bytes of the word in memory are the MAC as it goes into a frame.
    uint8_t bytes[8];
    std::memcpy(bytes, &w, 8);
    EXPECT_EQ(mac_addr::from_bytes(bytes), kMacA);
    EXPECT_EQ(neighbor_table::port_of(neighbor_table::pack(kMacB, 65535)), 65535);
}

TEST_F(NeighborTable, SetLookupUpdateRemove) {
    ASSERT_TRUE(t.init(16, rcu_));
    const ip4_addr ip(192, 168, 0, 7);
    uint64_t w = 0;
    EXPECT_FALSE(t.lookup(ip, w));
    ASSERT_TRUE(t.set(ip, kMacA, 3));
    ASSERT_TRUE(t.lookup(ip, w));
    EXPECT_EQ(neighbor_table::port_of(w), 3);
    EXPECT_EQ(mac_addr::from_raw48(w & 0xffffffffffffull), kMacA);
    EXPECT_EQ(t.size(), 1u);

    // Update in place: same index, new word.
    uint32_t idx_before;
    ASSERT_TRUE(t.index().lookup(ip.host(), idx_before));
    ASSERT_TRUE(t.set(ip, kMacB, 4));
    uint32_t idx_after;
    ASSERT_TRUE(t.index().lookup(ip.host(), idx_after));
    EXPECT_EQ(idx_before, idx_after);
    ASSERT_TRUE(t.lookup(ip, w));
    EXPECT_EQ(neighbor_table::port_of(w), 4);
    EXPECT_EQ(mac_addr::from_raw48(w & 0xffffffffffffull), kMacB);
    EXPECT_EQ(t.word(idx_after), w);
    EXPECT_EQ(t.size(), 1u);

    EXPECT_TRUE(t.remove(ip));
    EXPECT_FALSE(t.lookup(ip, w));
    EXPECT_FALSE(t.remove(ip));
    EXPECT_EQ(t.size(), 0u);
}

TEST_F(NeighborTable, FullAndIndexReuseAfterGracePeriod) {
    ASSERT_TRUE(t.init(8, rcu_));
    // A reader that has not passed a quiescent state holds back reuse.
    rcu_.register_reader(0);
    rcu_.online(0);
    for (uint32_t i = 1; i <= 8; ++i) { ASSERT_TRUE(t.set(ip4_addr(i), kMacA, uint16_t(i))); }
    EXPECT_FALSE(t.set(ip4_addr(100), kMacA, 1)) << "table full";
    uint32_t removed_idx;
    ASSERT_TRUE(t.index().lookup(5, removed_idx));
    ASSERT_TRUE(t.remove(ip4_addr(5)));
    rcu_.reclaim();
    EXPECT_FALSE(t.set(ip4_addr(100), kMacA, 1)) << "index reused before the grace period";
    rcu_.quiescent(0);
    rcu_.reclaim();
    ASSERT_TRUE(t.set(ip4_addr(100), kMacB, 9));
    uint32_t idx;
    ASSERT_TRUE(t.index().lookup(100, idx));
    EXPECT_EQ(idx, removed_idx);
    rcu_.offline(0);
    rcu_.unregister_reader(0);
    // All the others intact.
    for (uint32_t i = 1; i <= 8; ++i) {
        uint64_t w = 0;
        ASSERT_EQ(t.lookup(ip4_addr(i), w), i != 5);
        if (i != 5) { EXPECT_EQ(neighbor_table::port_of(w), i); }
    }
}

TEST_F(NeighborTable, ManyCyclesKeepIndicesDistinct) {
    ASSERT_TRUE(t.init(64, rcu_));
    std::mt19937 rng(81);
    std::vector<bool> present(200, false);
    for (int step = 0; step < 20000; ++step) {
        uint32_t k = 1 + rng() % 199;
        if (present[k]) {
            ASSERT_TRUE(t.remove(ip4_addr(k)));
            present[k] = false;
        } else if (t.set(ip4_addr(k), mac_addr::from_u64(0x020000000000ull | k), uint16_t(k))) {
            present[k] = true;
        }
        if (step % 7 == 0) rcu_.reclaim();
    }
    // Every present entry has its own word.
    std::vector<bool> used(64, false);
    for (uint32_t k = 1; k < 200; ++k) {
        uint64_t w = 0;
        ASSERT_EQ(t.lookup(ip4_addr(k), w), bool(present[k]));
        if (!present[k]) continue;
        EXPECT_EQ(neighbor_table::port_of(w), k);
        EXPECT_EQ(mac_addr::from_raw48(w & 0xffffffffffffull).to_u64(), 0x020000000000ull | k);
        uint32_t idx;
        ASSERT_TRUE(t.index().lookup(k, idx));
        ASSERT_LT(idx, 64u);
        EXPECT_FALSE(used[idx]) << "two neighbors share index " << idx;
        used[idx] = true;
    }
}

TEST(RcuDomain, DeferWaitsForReaders) {
    rcu_domain rcu;
    ASSERT_TRUE(rcu.init(2));
    int ran = 0;
    // No readers: reclaim runs at once.
    rcu.defer([&] { ++ran; });
    EXPECT_EQ(rcu.pending(), 1u);
    rcu.reclaim();
    EXPECT_EQ(ran, 1);
    EXPECT_EQ(rcu.pending(), 0u);

    rcu.register_reader(0);
    rcu.register_reader(1);
    rcu.online(0);
    rcu.online(1);
    rcu.defer([&] { ++ran; });
    rcu.reclaim();
    EXPECT_EQ(ran, 1);
    rcu.quiescent(0);
    rcu.reclaim();
    EXPECT_EQ(ran, 1) << "reader 1 has not passed a quiescent state";
    rcu.quiescent(1);
    rcu.defer([&] { ran += 10; });  // after reader 1's quiescent state: not yet safe
    rcu.reclaim();
    EXPECT_EQ(ran, 2);
    EXPECT_EQ(rcu.pending(), 1u);
    // An offline reader holds nothing back.
    rcu.offline(1);
    rcu.quiescent(0);
    rcu.reclaim();
    EXPECT_EQ(ran, 12);
    rcu.offline(0);
    rcu.defer([&] { ran += 100; });
    rcu.synchronize();
    EXPECT_EQ(ran, 112);
    rcu.unregister_reader(0);
    rcu.unregister_reader(1);
}

TEST(RcuDomain, DestructorRunsPending) {
    int ran = 0;
    {
        rcu_domain rcu;
        ASSERT_TRUE(rcu.init(1));
        rcu.register_reader(0);
        rcu.online(0);
        rcu.defer([&] { ++ran; });
        rcu.reclaim();
        EXPECT_EQ(ran, 0);
        rcu.offline(0);
    }
    EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace ssw
