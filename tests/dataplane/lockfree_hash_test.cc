// The one-writer, lock-free-reader hash: behaviour against a std::unordered_map model,
// overflow counting across buckets, capacity limits, bulk lookups, and values seen by a
// concurrent reader.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/lockfree_hash.h"

namespace ssw {
namespace {

// The bucket count init() picks for a capacity, so tests can aim keys at one bucket.
uint32_t bucket_mask(const lockfree_hash &h) {
    return uint32_t(h.memory_bytes() / sizeof(lockfree_hash::bucket)) - 1;
}

// `n` distinct non-zero keys whose home bucket is `home`.
std::vector<uint32_t> keys_in_bucket(const lockfree_hash &h, uint32_t home, size_t n,
                                     uint32_t start = 1) {
    const uint32_t mask = bucket_mask(h);
    std::vector<uint32_t> keys;
    for (uint32_t k = start; keys.size() < n; ++k)
        if ((lockfree_hash::hash(k) & mask) == home) keys.push_back(k);
    return keys;
}

std::map<uint32_t, uint32_t> contents(const lockfree_hash &h) {
    std::map<uint32_t, uint32_t> m;
    h.for_each([&](uint32_t k, uint32_t v) {
        EXPECT_TRUE(m.emplace(k, v).second) << "key visited twice: " << k;
    });
    return m;
}

TEST(LockfreeHash, InsertLookupReplaceErase) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(100));
    EXPECT_EQ(h.capacity(), 100u);
    EXPECT_EQ(h.size(), 0u);
    uint32_t v = 0;
    EXPECT_FALSE(h.lookup(42, v));
    EXPECT_EQ(h.upsert(42, 1000), lockfree_hash::upsert_result::inserted);
    EXPECT_EQ(h.size(), 1u);
    ASSERT_TRUE(h.lookup(42, v));
    EXPECT_EQ(v, 1000u);
    EXPECT_TRUE(h.contains(42));
    EXPECT_FALSE(h.contains(43));

    uint32_t old = 0;
    EXPECT_EQ(h.upsert(42, 2000, &old), lockfree_hash::upsert_result::replaced);
    EXPECT_EQ(old, 1000u);
    EXPECT_EQ(h.size(), 1u);
    ASSERT_TRUE(h.lookup(42, v));
    EXPECT_EQ(v, 2000u);

    // Values 0 and all-ones are ordinary values.
    EXPECT_EQ(h.upsert(7, 0), lockfree_hash::upsert_result::inserted);
    EXPECT_EQ(h.upsert(8, 0xffffffffu), lockfree_hash::upsert_result::inserted);
    ASSERT_TRUE(h.lookup(7, v));
    EXPECT_EQ(v, 0u);
    ASSERT_TRUE(h.lookup(8, v));
    EXPECT_EQ(v, 0xffffffffu);
    // The largest key.
    EXPECT_EQ(h.upsert(0xffffffffu, 5), lockfree_hash::upsert_result::inserted);
    ASSERT_TRUE(h.lookup(0xffffffffu, v));
    EXPECT_EQ(v, 5u);

    EXPECT_TRUE(h.erase(42, &old));
    EXPECT_EQ(old, 2000u);
    EXPECT_FALSE(h.contains(42));
    EXPECT_FALSE(h.erase(42));
    EXPECT_EQ(h.size(), 3u);
    EXPECT_EQ(h.upsert(42, 3000), lockfree_hash::upsert_result::inserted);
    ASSERT_TRUE(h.lookup(42, v));
    EXPECT_EQ(v, 3000u);
}

TEST(LockfreeHash, KeyZeroRefused) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(10));
    EXPECT_EQ(h.upsert(0, 1), lockfree_hash::upsert_result::full);
    EXPECT_EQ(h.size(), 0u);
    EXPECT_FALSE(h.erase(0));
    EXPECT_TRUE(contents(h).empty());
    ASSERT_EQ(h.upsert(5, 6), lockfree_hash::upsert_result::inserted);
    EXPECT_EQ(h.upsert(0, 1), lockfree_hash::upsert_result::full);
    EXPECT_EQ(contents(h), (std::map<uint32_t, uint32_t>{{5, 6}}));
}

// Key 0 marks an empty slot: a lookup of key 0 must not match an empty slot and report a
// hit with value 0 (for neighbor_table: index 0, another neighbor's entry).
TEST(LockfreeHash, KeyZeroNeverFound) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(10));
    uint32_t v = 12345;
    EXPECT_FALSE(h.lookup(0, v)) << "empty slots must not look like key 0; value " << v;
    EXPECT_FALSE(h.contains(0));
    uint32_t keys[2] = {0, 7}, values[2];
    EXPECT_EQ(h.lookup_bulk(keys, values, 2), 0u);
    uint32_t home = h.prefetch(0);
    EXPECT_FALSE(h.lookup_prefetched(home, 0, v));
}

TEST(LockfreeHash, CapacityEnforced) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(100));
    std::mt19937 rng(71);
    std::set<uint32_t> keys;
    while (keys.size() < 100) keys.insert(rng() | 1);
    for (uint32_t k : keys) { ASSERT_EQ(h.upsert(k, k ^ 5), lockfree_hash::upsert_result::inserted); }
    EXPECT_EQ(h.size(), 100u);
    uint32_t extra = 2;
    while (keys.count(extra)) extra += 2;
    EXPECT_EQ(h.upsert(extra, 1), lockfree_hash::upsert_result::full);
    EXPECT_EQ(h.size(), 100u);
    EXPECT_FALSE(h.contains(extra));
    // Replacing is still possible when full.
    uint32_t first = *keys.begin(), old;
    EXPECT_EQ(h.upsert(first, 77, &old), lockfree_hash::upsert_result::replaced);
    EXPECT_EQ(old, first ^ 5);
    // Erase one, and there is room for one.
    EXPECT_TRUE(h.erase(first));
    EXPECT_EQ(h.upsert(extra, 1), lockfree_hash::upsert_result::inserted);
    EXPECT_EQ(h.upsert(first, 1), lockfree_hash::upsert_result::full);
}

TEST(LockfreeHash, FillToCapacityRandomKeys) {
    for (uint32_t cap : {1u, 7u, 64u, 1000u, 4096u, 100000u}) {
        lockfree_hash h;
        ASSERT_TRUE(h.init(cap));
        EXPECT_GE(h.memory_bytes() / 64 * lockfree_hash::kSlotsPerBucket, cap);
        std::mt19937 rng(cap);
        std::unordered_map<uint32_t, uint32_t> model;
        while (model.size() < cap) {
            uint32_t k = rng();
            if (k == 0 || model.count(k)) continue;
            uint32_t v = rng();
            ASSERT_EQ(h.upsert(k, v), lockfree_hash::upsert_result::inserted)
                << "capacity " << cap << " after " << model.size();
            model[k] = v;
        }
        EXPECT_EQ(h.size(), cap);
        for (auto [k, v] : model) {
            uint32_t got;
            ASSERT_TRUE(h.lookup(k, got)) << k;
            ASSERT_EQ(got, v);
        }
        int absent_found = 0;
        for (int i = 0; i < 100000; ++i) {
            uint32_t k = rng();
            uint32_t got;
            if (k && !model.count(k) && h.lookup(k, got)) ++absent_found;
        }
        EXPECT_EQ(absent_found, 0);
        EXPECT_EQ(contents(h), (std::map<uint32_t, uint32_t>(model.begin(), model.end())));

        // Erase half; the rest must still be found (overflow counts stay right).
        std::vector<uint32_t> all;
        for (auto &[k, v] : model) all.push_back(k);
        std::shuffle(all.begin(), all.end(), rng);
        for (size_t i = 0; i < all.size() / 2; ++i) {
            ASSERT_TRUE(h.erase(all[i]));
            model.erase(all[i]);
        }
        EXPECT_EQ(h.size(), model.size());
        for (size_t i = 0; i < all.size(); ++i) {
            uint32_t got;
            bool found = h.lookup(all[i], got);
            ASSERT_EQ(found, i >= all.size() / 2) << all[i];
            if (found) { ASSERT_EQ(got, model[all[i]]); }
        }
        EXPECT_EQ(contents(h), (std::map<uint32_t, uint32_t>(model.begin(), model.end())));
    }
}

TEST(LockfreeHash, CollidingKeysOverflowIntoLaterBuckets) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(40));
    const uint32_t mask = bucket_mask(h);
    ASSERT_GE(mask, 7u);
    const uint32_t home = mask;  // the last bucket: overflow wraps to bucket 0
    auto keys = keys_in_bucket(h, home, 30);
    for (size_t i = 0; i < keys.size(); ++i)
        ASSERT_EQ(h.upsert(keys[i], uint32_t(i)), lockfree_hash::upsert_result::inserted) << i;
    for (size_t i = 0; i < keys.size(); ++i) {
        uint32_t v;
        ASSERT_TRUE(h.lookup(keys[i], v)) << i;
        EXPECT_EQ(v, i);
    }
    // Keys whose home is bucket 0 share it with the overflow; they must coexist.
    auto zero_keys = keys_in_bucket(h, 0, 5);
    for (uint32_t k : zero_keys)
        ASSERT_EQ(h.upsert(k, k), lockfree_hash::upsert_result::inserted);

    // Free the home bucket's slots: the keys beyond it must stay reachable.
    for (size_t i = 0; i < 7; ++i) { ASSERT_TRUE(h.erase(keys[i])); }
    for (size_t i = 0; i < keys.size(); ++i) {
        uint32_t v;
        EXPECT_EQ(h.lookup(keys[i], v), i >= 7) << i;
    }
    for (uint32_t k : zero_keys) { EXPECT_TRUE(h.contains(k)); }
    // Reinsert into the freed home slots, then erase from the far end.
    for (size_t i = 0; i < 7; ++i)
        ASSERT_EQ(h.upsert(keys[i], uint32_t(100 + i)), lockfree_hash::upsert_result::inserted);
    for (size_t i = keys.size(); i-- > 7;) {
        ASSERT_TRUE(h.erase(keys[i]));
        for (size_t j = 0; j < i; ++j) { ASSERT_TRUE(h.contains(keys[j])) << i << " " << j; }
    }
    for (uint32_t k : zero_keys) { EXPECT_TRUE(h.contains(k)); }
    // Everything out: the table behaves as new, many times over.
    for (int round = 0; round < 50; ++round) {
        for (size_t i = 0; i < keys.size(); ++i) h.erase(keys[i]);
        for (uint32_t k : zero_keys) h.erase(k);
        ASSERT_EQ(h.size(), 0u);
        ASSERT_TRUE(contents(h).empty());
        std::mt19937 rng(round);
        std::vector<uint32_t> order = keys;
        std::shuffle(order.begin(), order.end(), rng);
        order.resize(20 + rng() % 11);
        for (uint32_t k : order) { ASSERT_EQ(h.upsert(k, k + 1), lockfree_hash::upsert_result::inserted); }
        for (uint32_t k : zero_keys) { ASSERT_EQ(h.upsert(k, k), lockfree_hash::upsert_result::inserted); }
        for (uint32_t k : keys) {
            bool want = std::find(order.begin(), order.end(), k) != order.end();
            uint32_t v;
            ASSERT_EQ(h.lookup(k, v), want);
            if (want) { ASSERT_EQ(v, k + 1); }
        }
    }
}

TEST(LockfreeHash, ProbeLimitMakesInsertFail) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(2000));
    ASSERT_GT(bucket_mask(h) + 1, lockfree_hash::kMaxProbe);
    const size_t reachable = size_t(lockfree_hash::kMaxProbe) * lockfree_hash::kSlotsPerBucket;
    auto keys = keys_in_bucket(h, 3, reachable + 1);
    for (size_t i = 0; i < reachable; ++i)
        ASSERT_EQ(h.upsert(keys[i], uint32_t(i)), lockfree_hash::upsert_result::inserted) << i;
    EXPECT_EQ(h.upsert(keys[reachable], 1), lockfree_hash::upsert_result::full);
    EXPECT_EQ(h.size(), reachable);
    EXPECT_FALSE(h.contains(keys[reachable]));
    for (size_t i = 0; i < reachable; ++i) { ASSERT_TRUE(h.contains(keys[i])) << i; }
    // A key from another home bucket still fits.
    auto other = keys_in_bucket(h, 3 + lockfree_hash::kMaxProbe + 5, 1);
    EXPECT_EQ(h.upsert(other[0], 1), lockfree_hash::upsert_result::inserted);
}

TEST(LockfreeHash, RandomOperationsMatchModel) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(500));
    std::unordered_map<uint32_t, uint32_t> model;
    std::mt19937 rng(72);
    // A small key universe aimed at few buckets keeps chains long.
    const uint32_t mask = bucket_mask(h);
    std::vector<uint32_t> universe;
    for (uint32_t home : {0u, 1u, 2u, mask}) {
        auto ks = keys_in_bucket(h, home, 150);
        universe.insert(universe.end(), ks.begin(), ks.end());
    }
    for (int step = 0; step < 200000; ++step) {
        uint32_t k = universe[rng() % universe.size()];
        uint32_t v = rng();
        switch (rng() % 4) {
            case 0:
            case 1: {
                uint32_t old = 0xdeadbeef;
                auto r = h.upsert(k, v, &old);
                auto it = model.find(k);
                if (it != model.end()) {
                    ASSERT_EQ(r, lockfree_hash::upsert_result::replaced);
                    ASSERT_EQ(old, it->second);
                    it->second = v;
                } else if (r == lockfree_hash::upsert_result::inserted) {
                    model[k] = v;
                } else {
                    // Refused: only at capacity or when the probe limit is reached.
                    ASSERT_EQ(r, lockfree_hash::upsert_result::full);
                }
                break;
            }
            case 2: {
                uint32_t old = 0;
                bool erased = h.erase(k, &old);
                auto it = model.find(k);
                ASSERT_EQ(erased, it != model.end());
                if (erased) {
                    ASSERT_EQ(old, it->second);
                    model.erase(it);
                }
                break;
            }
            case 3: {
                uint32_t got = 0;
                bool found = h.lookup(k, got);
                auto it = model.find(k);
                ASSERT_EQ(found, it != model.end()) << "step " << step;
                if (found) { ASSERT_EQ(got, it->second); }
                break;
            }
        }
        ASSERT_EQ(h.size(), model.size());
    }
    for (uint32_t k : universe) {
        uint32_t got;
        ASSERT_EQ(h.lookup(k, got), model.count(k) == 1);
    }
    EXPECT_EQ(contents(h), (std::map<uint32_t, uint32_t>(model.begin(), model.end())));
    EXPECT_GT(model.size(), 100u);
}

TEST(LockfreeHash, BulkAndPrefetchedLookupsAgreeWithLookup) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(3000));
    std::mt19937 rng(73);
    std::vector<uint32_t> present;
    auto colliding = keys_in_bucket(h, 5, 40);  // some long chains too
    for (uint32_t k : colliding) {
        h.upsert(k, k * 3);
        present.push_back(k);
    }
    while (present.size() < 3000) {
        uint32_t k = rng();
        if (k && h.upsert(k, k * 3) == lockfree_hash::upsert_result::inserted) present.push_back(k);
    }
    for (int round = 0; round < 5000; ++round) {
        const unsigned n = 1 + rng() % 64;
        uint32_t keys[64], values[64];
        for (unsigned i = 0; i < n; ++i) {
            unsigned pick = rng() % 3;
            keys[i] = pick == 0 ? rng() | 1 : present[rng() % present.size()];
            values[i] = 0xa5a5a5a5;
        }
        uint64_t hits = h.lookup_bulk(keys, values, n);
        if (n < 64) { ASSERT_EQ(hits >> n, 0u) << "bits beyond n set"; }
        for (unsigned i = 0; i < n; ++i) {
            uint32_t v = 0;
            bool found = h.lookup(keys[i], v);
            ASSERT_EQ(bool(hits >> i & 1), found) << "key " << keys[i];
            if (found) { ASSERT_EQ(values[i], v); }
            uint32_t home = h.prefetch(keys[i]);
            uint32_t pv = 0;
            ASSERT_EQ(h.lookup_prefetched(home, keys[i], pv), found);
            if (found) { ASSERT_EQ(pv, v); }
        }
    }
    // All 64 present: every bit set.
    uint32_t keys[64], values[64];
    for (unsigned i = 0; i < 64; ++i) keys[i] = present[i * 40];
    EXPECT_EQ(h.lookup_bulk(keys, values, 64), ~uint64_t(0));
    for (unsigned i = 0; i < 64; ++i) { EXPECT_EQ(values[i], keys[i] * 3); }
    EXPECT_EQ(h.lookup_bulk(keys, values, 0), 0u);
}

TEST(LockfreeHash, ForEachVisitsExactlyTheLiveSet) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(1000));
    std::mt19937 rng(74);
    std::map<uint32_t, uint32_t> model;
    for (int i = 0; i < 5000; ++i) {
        uint32_t k = 1 + rng() % 1500;
        if (rng() % 3 == 0) {
            h.erase(k);
            model.erase(k);
        } else if (h.upsert(k, uint32_t(i)) != lockfree_hash::upsert_result::full) {
            model[k] = uint32_t(i);
        }
    }
    EXPECT_EQ(contents(h), model);
    EXPECT_EQ(h.size(), model.size());
}

// The value the writer stores for key k at `version`: recognisable as k's and no other key's
// (for keys distinct modulo 2^24), with the version in the top byte.
constexpr uint32_t kMul = 2654435761u;
uint32_t encode(uint32_t key, uint32_t version) { return (key * kMul) ^ (version << 24); }
bool belongs_to(uint32_t key, uint32_t value) { return ((value ^ (key * kMul)) & 0xffffff) == 0; }

TEST(LockfreeHash, ConcurrentReaderSeesOnlyValuesItsKeyHeld) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(200));
    const uint32_t mask = bucket_mask(h);
    // Stable keys are only ever replaced; churn keys are erased and reinserted. Both crowd a
    // few buckets so that chains cross bucket boundaries and overflow counts move.
    std::vector<uint32_t> stable, churn;
    for (uint32_t home : {1u, 2u, mask}) {
        auto ks = keys_in_bucket(h, home, 16, 1 + home * 100000);
        stable.insert(stable.end(), ks.begin(), ks.begin() + 6);
        churn.insert(churn.end(), ks.begin() + 6, ks.end());
    }
    std::set<uint32_t> low24;
    for (uint32_t k : stable) low24.insert(k & 0xffffff);
    for (uint32_t k : churn) low24.insert(k & 0xffffff);
    ASSERT_EQ(low24.size(), stable.size() + churn.size()) << "keys must differ modulo 2^24";

    std::vector<uint32_t> version(stable.size() + churn.size(), 0);
    for (size_t i = 0; i < stable.size(); ++i)
        ASSERT_EQ(h.upsert(stable[i], encode(stable[i], 0)), lockfree_hash::upsert_result::inserted);
    for (size_t i = 0; i < churn.size(); ++i)
        ASSERT_EQ(h.upsert(churn[i], encode(churn[i], 0)), lockfree_hash::upsert_result::inserted);

    std::atomic<bool> stop{false};
    std::atomic<uint64_t> lookups{0}, stable_misses{0}, foreign{0}, churn_hits{0};
    std::thread reader([&] {
        uint64_t n = 0, misses = 0, bad = 0, hits = 0;
        std::vector<uint32_t> all = stable;
        all.insert(all.end(), churn.begin(), churn.end());
        while (!stop.load(std::memory_order_relaxed)) {
            for (uint32_t k : stable) {
                uint32_t v;
                if (!h.lookup(k, v))
                    ++misses;
                else if (!belongs_to(k, v))
                    ++bad;
                ++n;
            }
            for (uint32_t k : churn) {
                uint32_t v;
                if (h.lookup(k, v)) {
                    ++hits;
                    if (!belongs_to(k, v)) ++bad;
                }
                ++n;
            }
            uint32_t values[64];
            uint64_t mask_hits = h.lookup_bulk(all.data(), values, unsigned(all.size()));
            for (size_t i = 0; i < all.size(); ++i) {
                if (mask_hits >> i & 1) {
                    if (!belongs_to(all[i], values[i])) ++bad;
                } else if (i < stable.size()) {
                    ++misses;
                }
            }
            n += all.size();
        }
        lookups = n;
        stable_misses = misses;
        foreign = bad;
        churn_hits = hits;
    });

    // No ASSERT while the reader runs: count writer-side surprises and check after join.
    std::mt19937 rng(75);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    uint64_t writes = 0, writer_errors = 0;
    while (std::chrono::steady_clock::now() < until) {
        for (int burst = 0; burst < 1000; ++burst) {
            size_t i = rng() % (stable.size() + churn.size());
            uint32_t k = i < stable.size() ? stable[i] : churn[i - stable.size()];
            uint32_t nv = encode(k, ++version[i] & 0xff);
            if (i < stable.size() || rng() % 3 == 0) {
                uint32_t old = 0;
                auto r = h.upsert(k, nv, &old);
                if (r == lockfree_hash::upsert_result::full) ++writer_errors;
                if (r == lockfree_hash::upsert_result::replaced && !belongs_to(k, old))
                    ++writer_errors;
            } else if (h.contains(k)) {
                if (!h.erase(k)) ++writer_errors;
            } else if (h.upsert(k, nv) != lockfree_hash::upsert_result::inserted) {
                ++writer_errors;
            }
            ++writes;
        }
    }
    stop = true;
    reader.join();
    EXPECT_GT(lookups.load(), 0u);
    EXPECT_GT(writes, 0u);
    EXPECT_EQ(writer_errors, 0u);
    EXPECT_EQ(foreign.load(), 0u) << "a reader saw a value its key never held";
    EXPECT_EQ(stable_misses.load(), 0u) << "a reader missed a key that was never erased";
    EXPECT_GT(churn_hits.load(), 0u);
}

}  // namespace
}  // namespace ssw
