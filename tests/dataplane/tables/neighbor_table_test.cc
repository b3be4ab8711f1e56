// The workers' neighbor table: packed words held in the hash itself, updates in place,
// removal and re-adding, and distinct words through many cycles.
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/tables/neighbor_table.h"
#include "dataplane/tables/rcu.h"

namespace ssw {
namespace {

const mac_addr kMacA = *mac_addr::parse("02:11:22:33:44:55");
const mac_addr kMacB = *mac_addr::parse("0a:bb:cc:dd:ee:ff");

class NeighborTable : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(rcu_.init(1)); }
    // Run what the table handed to RCU (its removed entries) before the domain goes.
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
    EXPECT_EQ(w, neighbor_table::pack(kMacA, 3));
    EXPECT_EQ(neighbor_table::port_of(w), 3);
    EXPECT_EQ(mac_addr::from_raw48(w & 0xffffffffffffull), kMacA);
    EXPECT_EQ(t.size(), 1u);

    // Update in place: one entry still, the new word visible at once (no grace period, no
    // remove and re-add), the whole 64-bit word (MAC and port) replaced together.
    ASSERT_TRUE(t.set(ip, kMacB, 4));
    ASSERT_TRUE(t.lookup(ip, w));
    EXPECT_EQ(w, neighbor_table::pack(kMacB, 4));
    EXPECT_EQ(neighbor_table::port_of(w), 4);
    EXPECT_EQ(mac_addr::from_raw48(w & 0xffffffffffffull), kMacB);
    EXPECT_EQ(t.size(), 1u);
    // A port above 255 and a MAC with its top byte set: nothing of the word is cut off.
    ASSERT_TRUE(t.set(ip, kMacB, 0xfedc));
    ASSERT_TRUE(t.lookup(ip, w));
    EXPECT_EQ(w, neighbor_table::pack(kMacB, 0xfedc));
    EXPECT_EQ(t.size(), 1u);

    EXPECT_TRUE(t.remove(ip));
    EXPECT_FALSE(t.lookup(ip, w));
    EXPECT_FALSE(t.remove(ip));
    EXPECT_EQ(t.size(), 0u);
}

TEST_F(NeighborTable, FullRemoveAndAddAgain) {
    ASSERT_TRUE(t.init(8, rcu_));
    // A reader that has not passed a quiescent state holds back reuse of the removed entry
    // inside the hash, but not the table's capacity: the writer never waits for it here.
    rcu_.register_reader(0);
    rcu_.online(0);
    for (uint32_t i = 1; i <= 8; ++i) {
        EXPECT_TRUE(t.set(ip4_addr(i), kMacA, uint16_t(i)));
    }
    EXPECT_FALSE(t.set(ip4_addr(100), kMacA, 1)) << "table full";
    uint64_t w = 0;
    EXPECT_FALSE(t.lookup(ip4_addr(100), w));
    EXPECT_TRUE(t.remove(ip4_addr(5)));
    EXPECT_FALSE(t.lookup(ip4_addr(5), w)) << "removed entry still found";
    EXPECT_EQ(t.size(), 7u);
    EXPECT_TRUE(t.set(ip4_addr(100), kMacB, 9)) << "the removed entry's room not given back";
    EXPECT_TRUE(t.lookup(ip4_addr(100), w));
    EXPECT_EQ(w, neighbor_table::pack(kMacB, 9));
    EXPECT_FALSE(t.set(ip4_addr(5), kMacA, 5)) << "table full again";
    // The removed address can be added again, with a new word.
    EXPECT_TRUE(t.remove(ip4_addr(100)));
    EXPECT_TRUE(t.set(ip4_addr(5), kMacB, 55));
    EXPECT_TRUE(t.lookup(ip4_addr(5), w));
    EXPECT_EQ(w, neighbor_table::pack(kMacB, 55));
    rcu_.quiescent(0);
    rcu_.offline(0);
    rcu_.unregister_reader(0);
    // All the others intact.
    for (uint32_t i = 1; i <= 8; ++i) {
        ASSERT_TRUE(t.lookup(ip4_addr(i), w));
        EXPECT_EQ(
            w, i == 5 ? neighbor_table::pack(kMacB, 55) : neighbor_table::pack(kMacA, uint16_t(i)));
    }
    EXPECT_FALSE(t.lookup(ip4_addr(100), w));
    EXPECT_EQ(t.size(), 8u);
}

TEST_F(NeighborTable, ManyCyclesKeepWordsDistinct) {
    ASSERT_TRUE(t.init(64, rcu_));
    std::mt19937 rng(81);
    std::vector<bool> present(200, false);
    uint32_t n_present = 0;
    for (int step = 0; step < 20000; ++step) {
        uint32_t k = 1 + rng() % 199;
        if (present[k]) {
            ASSERT_TRUE(t.remove(ip4_addr(k)));
            present[k] = false;
            --n_present;
        } else {
            // Refused only when full, however many removed entries await their grace period.
            const bool ok =
                t.set(ip4_addr(k), mac_addr::from_u64(0x020000000000ull | k), uint16_t(k));
            ASSERT_EQ(ok, n_present < 64) << "step " << step;
            if (ok) {
                present[k] = true;
                ++n_present;
            }
        }
        ASSERT_EQ(t.size(), n_present);
        if (step % 7 == 0) rcu_.reclaim();
    }
    // Every present entry has its own word: its own MAC and port, never another neighbor's.
    for (uint32_t k = 1; k < 200; ++k) {
        uint64_t w = 0;
        ASSERT_EQ(t.lookup(ip4_addr(k), w), bool(present[k]));
        if (!present[k]) continue;
        EXPECT_EQ(neighbor_table::port_of(w), k);
        EXPECT_EQ(mac_addr::from_raw48(w & 0xffffffffffffull).to_u64(), 0x020000000000ull | k);
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
