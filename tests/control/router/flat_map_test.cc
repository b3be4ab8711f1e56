// flat_map: the control model's tables of bindings, checked against std::unordered_map.
#include <map>
#include <random>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "control/router/flat_map.h"

namespace ssw {
namespace {

// Every key of `want` is found with its value, nothing else is there, and iterating visits
// exactly `want`.
template <typename V>
void expect_same(const flat_map<V> &m, const std::unordered_map<uint32_t, V> &want) {
    ASSERT_EQ(m.size(), want.size());
    for (const auto &[k, v] : want) {
        auto it = m.find(k);
        ASSERT_NE(it, m.end()) << k;
        ASSERT_EQ(it->second, v) << k;
    }
    std::map<uint32_t, V> seen;
    for (const auto &[k, v] : m) ASSERT_TRUE(seen.emplace(k, v).second) << "visited twice: " << k;
    ASSERT_EQ(seen.size(), want.size());
}

// Random inserts, overwrites and erases over a key space small enough that probe runs are
// long, wrap around the end of the table and are erased from the middle (backward shifts).
TEST(FlatMap, RandomOperationsAgreeWithUnorderedMap) {
    for (uint32_t key_space : {40u, 3000u, 100000u}) {
        SCOPED_TRACE(key_space);
        std::mt19937 rng(key_space);
        flat_map<uint64_t> m;
        std::unordered_map<uint32_t, uint64_t> want;
        for (int op = 0; op < 200000; ++op) {
            const uint32_t k = 1 + rng() % key_space;
            switch (rng() % 4) {
                case 0:
                case 1:
                    m[k] = op;
                    want[k] = uint64_t(op);
                    break;
                case 2: ASSERT_EQ(m.erase(k), want.erase(k) == 1) << k; break;
                default: {
                    auto it = m.find(k);
                    if (it != m.end()) {
                        m.erase(it);
                        want.erase(k);
                    }
                    ASSERT_EQ(m.count(k), 0u);
                }
            }
            if (op % 5000 == 0) expect_same(m, want);
        }
        expect_same(m, want);
    }
}

// Consecutive addresses (a moved /16), then every other one erased: all still found after
// the table grew and shifted.
TEST(FlatMap, ConsecutiveKeysSurviveGrowthAndErasure) {
    flat_map<uint32_t> m;
    std::unordered_map<uint32_t, uint32_t> want;
    const uint32_t base = 0x0a000000;
    for (uint32_t i = 0; i < 65536; ++i) {
        m[base + i] = i;
        want[base + i] = i;
    }
    expect_same(m, want);
    for (uint32_t i = 0; i < 65536; i += 2) {
        EXPECT_TRUE(m.erase(base + i));
        want.erase(base + i);
    }
    expect_same(m, want);
    EXPECT_LE(m.memory_bytes(), 65536 * 2 * sizeof(flat_map<uint32_t>::value_type));
}

TEST(FlatMap, KeyZeroIsNeverAKey) {
    flat_map<int> m;
    EXPECT_THROW(m[0], std::invalid_argument);
    EXPECT_EQ(m.find(0), m.end());
    EXPECT_FALSE(m.erase(0));
    m[7] = 1;
    EXPECT_EQ(m.find(0), m.end());
    EXPECT_EQ(m.count(0), 0u);
    EXPECT_EQ(m.size(), 1u);
}

TEST(FlatMap, EmptyMapHasNothing) {
    const flat_map<int> m;
    EXPECT_EQ(m.begin(), m.end());
    EXPECT_EQ(m.find(1), m.end());
    EXPECT_THROW(m.at(1), std::out_of_range);
    EXPECT_TRUE(m.empty());
}

TEST(FlatMap, CopiesAreIndependentMovesLeaveEmpty) {
    flat_map<int> a;
    for (uint32_t k = 1; k <= 100; ++k) a[k] = int(k);
    flat_map<int> b = a;
    b[1] = -1;
    b.erase(2);
    b[1000] = 5;
    EXPECT_EQ(a.at(1), 1);
    EXPECT_EQ(a.at(2), 2);
    EXPECT_EQ(a.count(1000), 0u);
    EXPECT_EQ(a.size(), 100u);
    EXPECT_EQ(b.size(), 100u);
    a.clear();
    EXPECT_TRUE(a.empty());
    EXPECT_EQ(b.at(3), 3);

    flat_map<int> c = std::move(b);
    EXPECT_EQ(c.size(), 100u);
    EXPECT_EQ(c.at(3), 3);
    EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move): moved-from maps are empty
    EXPECT_EQ(b.find(3), b.end());
    b[4] = 4;
    EXPECT_EQ(b.at(4), 4);
    a = std::move(c);
    EXPECT_EQ(a.size(), 100u);
    EXPECT_TRUE(c.empty());
}

}  // namespace
}  // namespace ssw
