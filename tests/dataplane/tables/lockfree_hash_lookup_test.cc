// lockfree_hash's readers' side: bulk lookups against single ones, the tag words that screen
// out absent keys, for_each, 64-bit values and entry positions.
#include "tests/dataplane/tables/lockfree_hash_fixture.h"

namespace ssw {
namespace {

using namespace lfh_test;

TEST_F(LockfreeHash, BulkLookupsAgreeWithLookup) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(3000, rcu_));
    std::mt19937 rng(73);
    std::vector<uint32_t> present;
    auto colliding = keys_in_bucket(h, 5, 40);  // some long chains too
    for (uint32_t k : colliding) {
        h.upsert(k, wide(k, k * 3));
        present.push_back(k);
    }
    while (present.size() < 3000) {
        uint32_t k = rng();
        if (k && h.upsert(k, wide(k, k * 3)) == ur::inserted) present.push_back(k);
    }
    for (int round = 0; round < 5000; ++round) {
        const unsigned n = 1 + rng() % 64;
        uint32_t keys[64], pos[64];
        uint64_t values[64];
        for (unsigned i = 0; i < n; ++i) {
            unsigned pick = rng() % 3;
            keys[i] = pick == 0 ? rng() | 1 : present[rng() % present.size()];
            values[i] = 0xa5a5a5a5a5a5a5a5ull;
        }
        // Both ways of a bulk: tags first, and buckets at once.
        lockfree_hash::bulk_hint hint{round % 2 == 0};
        uint64_t hits = h.lookup_bulk(keys, n, values, pos, &hint);
        if (n < 64) {
            ASSERT_EQ(hits >> n, 0u) << "bits beyond n set";
        }
        for (unsigned i = 0; i < n; ++i) {
            uint64_t v = 0;
            uint32_t p = 0;
            bool found = h.lookup(keys[i], v, &p);
            ASSERT_EQ(bool(hits >> i & 1), found) << "key " << keys[i];
            if (found) {
                ASSERT_EQ(values[i], v);
                ASSERT_EQ(pos[i], p);
            }
            ASSERT_EQ(h.prefetch(keys[i]), h.home_bucket(keys[i]));
        }
    }
    // All 64 present: every bit set.
    uint32_t keys[64];
    uint64_t values[64];
    for (unsigned i = 0; i < 64; ++i) keys[i] = present[i * 40];
    EXPECT_EQ(h.lookup_bulk(keys, 64, values), ~uint64_t(0));
    for (unsigned i = 0; i < 64; ++i) {
        EXPECT_EQ(values[i], wide(keys[i], keys[i] * 3));
    }
    EXPECT_EQ(h.lookup_bulk(keys, 0, values), 0u);
}

// The tag words screen out most absent keys, never a present one, and follow erases: once
// every key is gone, so is every tag and overflow flag.
TEST_F(LockfreeHash, TagsScreenOutAbsentKeys) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(5000, rcu_));
    std::mt19937 rng(76);
    std::set<uint32_t> present;
    while (present.size() < 5000) {
        const uint32_t k = rng();
        if (k && h.upsert(k, k) == ur::inserted) present.insert(k);
    }
    const auto screened_share = [&] {
        unsigned absent = 0, screened = 0;
        while (absent < 20000) {
            const uint32_t k = rng();
            if (!k || present.count(k)) continue;
            ++absent;
            screened += h.screened_out(k);
        }
        return double(screened) / absent;
    };
    EXPECT_EQ(h.tag_errors(), 0u);
    const double full = screened_share();
    EXPECT_GT(full, 0.8) << "a full table's tags screen out too few absent keys";
    for (auto it = present.begin(); it != present.end();) {
        if (rng() % 2) {
            ASSERT_TRUE(h.erase(*it));
            it = present.erase(it);
        } else {
            ++it;
        }
    }
    EXPECT_EQ(h.tag_errors(), 0u);
    for (uint32_t k : present) {
        ASSERT_FALSE(h.screened_out(k)) << k;
    }
    EXPECT_GT(screened_share(), full) << "erased keys' tags or overflow flags stayed";
    for (uint32_t k : present) {
        ASSERT_TRUE(h.erase(k));
    }
    present.clear();
    EXPECT_EQ(h.tag_errors(), 0u);
    EXPECT_EQ(screened_share(), 1.0) << "an empty table's tags let keys through";
}

// A caller's hint follows its last bulk: screening after mostly absent keys, buckets at once
// after mostly present ones; both ways find the same.
TEST_F(LockfreeHash, BulkHintFollowsHits) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(100, rcu_));
    uint32_t keys[8];
    uint64_t values[8];
    for (uint32_t i = 0; i < 8; ++i) {
        keys[i] = 1000 + i;
        if (i < 6) {
            ASSERT_EQ(h.upsert(keys[i], i), ur::inserted);
        }
    }
    lockfree_hash::bulk_hint hint;
    EXPECT_TRUE(hint.screen);
    EXPECT_EQ(h.lookup_bulk(keys, 8, values, nullptr, &hint), 0x3fu);  // 6 of 8 present
    EXPECT_FALSE(hint.screen);
    EXPECT_EQ(h.lookup_bulk(keys, 8, values, nullptr, &hint), 0x3fu);
    EXPECT_FALSE(hint.screen);
    EXPECT_EQ(h.lookup_bulk(keys + 5, 3, values, nullptr, &hint), 0x1u);  // 1 of 3
    EXPECT_TRUE(hint.screen);
}

TEST_F(LockfreeHash, ForEachVisitsExactlyTheLiveSet) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(1000, rcu_));
    std::mt19937 rng(74);
    std::map<uint32_t, uint64_t> model;
    for (int i = 0; i < 5000; ++i) {
        uint32_t k = 1 + rng() % 1500;
        if (rng() % 3 == 0) {
            h.erase(k);
            model.erase(k);
        } else if (h.upsert(k, wide(k, uint32_t(i))) != ur::full) {
            model[k] = wide(k, uint32_t(i));
        }
    }
    EXPECT_EQ(contents(h), model);
    EXPECT_EQ(h.size(), model.size());
}

// Values are 64 bits wide everywhere: values that differ only above bit 31 stay apart through
// upsert, every kind of lookup, for_each, replacement and erase.
TEST_F(LockfreeHash, ValuesUseAll64Bits) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(300, rcu_));
    // Same low half for every key; the key sits in bits 40..63.
    auto value_of = [](uint32_t k) { return uint64_t(k) << 40 | 0x0000abcdull; };
    std::map<uint32_t, uint64_t> model;
    for (uint32_t k = 1; k <= 200; ++k) {
        ASSERT_EQ(h.upsert(k, value_of(k)), ur::inserted);
        model[k] = value_of(k);
    }
    const uint64_t special[] = {uint64_t(1) << 63, uint64_t(1) << 32, ~uint64_t(0),
                                0xfedcba9876543210ull};
    for (uint32_t i = 0; i < 4; ++i) {
        ASSERT_EQ(h.upsert(1000 + i, special[i]), ur::inserted);
        model[1000 + i] = special[i];
    }
    for (auto [k, want] : model) {
        uint64_t v = 0;
        ASSERT_TRUE(h.lookup(k, v));
        EXPECT_EQ(v, want) << k;
    }
    uint32_t keys[64];
    uint64_t values[64];
    unsigned n = 0;
    for (auto [k, want] : model) {
        if (n == 64) break;
        keys[n++] = k;
    }
    keys[0] = 1000;  // the special values too
    keys[1] = 1001;
    keys[2] = 1002;
    keys[3] = 1003;
    ASSERT_EQ(h.lookup_bulk(keys, n, values), ~uint64_t(0));
    for (unsigned i = 0; i < n; ++i) {
        EXPECT_EQ(values[i], model[keys[i]]) << keys[i];
    }
    EXPECT_EQ(contents(h), model);

    // Replacing with a value that differs only in the high half reports the old high half.
    uint64_t old = 0;
    ASSERT_EQ(h.upsert(7, value_of(8), &old), ur::replaced);
    EXPECT_EQ(old, value_of(7));
    uint64_t v = 0;
    ASSERT_TRUE(h.lookup(7, v));
    EXPECT_EQ(v, value_of(8));
    ASSERT_TRUE(h.erase(1000, &old));
    EXPECT_EQ(old, uint64_t(1) << 63);
    ASSERT_TRUE(h.erase(1002, &old));
    EXPECT_EQ(old, ~uint64_t(0));
}

// An entry's position is the same whichever way it is learnt (upsert, lookup, bulk lookup),
// lies on the key's probe sequence, belongs to one key only, and does not change while the
// key lives: not when its value is replaced, not when other keys come and go.
TEST_F(LockfreeHash, PositionsAgreeAndStayStable) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(1000, rcu_));
    std::mt19937 rng(76);
    std::map<uint32_t, uint32_t> where;                      // key -> position
    auto colliding = keys_in_bucket(h, last_bucket(h), 20);  // chains that wrap
    std::vector<uint32_t> keys(colliding);
    while (keys.size() < 800) {
        uint32_t k = rng();
        if (k && std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    }
    std::set<uint32_t> taken;
    for (uint32_t k : keys) {
        uint32_t pos = ~0u;
        ASSERT_EQ(h.upsert(k, wide(k, 1), nullptr, &pos), ur::inserted);
        ASSERT_LT(lockfree_hash::bucket_of(pos), h.bucket_count());
        ASSERT_LT(lockfree_hash::slot_of(pos), lockfree_hash::kSlotsPerBucket);
        ASSERT_LT(probe_distance(h, k, pos), lockfree_hash::kMaxProbe);
        ASSERT_TRUE(taken.insert(pos).second) << "two keys at position " << pos;
        where[k] = pos;
    }
    auto check_all = [&](const char *when) {
        for (auto [k, pos] : where) {
            uint64_t v;
            uint32_t p = ~0u;
            ASSERT_TRUE(h.lookup(k, v, &p)) << when;
            ASSERT_EQ(p, pos) << when << " key " << k;
        }
        std::vector<uint32_t> ks;
        for (auto [k, pos] : where) ks.push_back(k);
        for (size_t i = 0; i < ks.size(); i += 64) {
            const unsigned n = unsigned(std::min<size_t>(64, ks.size() - i));
            uint64_t values[64];
            uint32_t pos[64];
            ASSERT_EQ(h.lookup_bulk(&ks[i], n, values, pos),
                      n == 64 ? ~uint64_t(0) : (uint64_t(1) << n) - 1);
            for (unsigned j = 0; j < n; ++j) {
                ASSERT_EQ(pos[j], where[ks[i + j]]) << when;
            }
        }
    };
    check_all("after insert");

    // Replace every value: same position reported, and found there.
    for (auto [k, pos] : where) {
        uint32_t p = ~0u;
        uint64_t old = 0;
        ASSERT_EQ(h.upsert(k, wide(k, 2), &old, &p), ur::replaced);
        EXPECT_EQ(old, wide(k, 1));
        ASSERT_EQ(p, pos) << "replacing moved key " << k;
    }
    check_all("after replace");

    // Erase half, insert others: the survivors stay where they were (keys never move).
    std::vector<uint32_t> gone;
    for (auto it = where.begin(); it != where.end();) {
        if (rng() % 2) {
            ASSERT_TRUE(h.erase(it->first));
            gone.push_back(it->first);
            it = where.erase(it);
        } else {
            ++it;
        }
    }
    h.release_held();
    rcu_.synchronize();
    for (int i = 0; i < 300; ++i) {
        uint32_t k = rng();
        if (!k || where.count(k)) continue;
        uint32_t pos;
        if (h.upsert(k, wide(k, 3), nullptr, &pos) == ur::inserted) where[k] = pos;
    }
    check_all("after churn");
}

// An erased entry is held: a new key must not take it before an RCU grace period, or a
// reader that matched the old key could read the new key's value. Once the held entries are
// handed to RCU and the grace period is over, the entry is free again.

}  // namespace
}  // namespace ssw
