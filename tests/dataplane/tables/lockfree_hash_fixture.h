// What the lockfree_hash tests share: helpers that aim keys at buckets and read a table
// back, and the fixture with its RCU domain.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/tables/lockfree_hash.h"
#include "dataplane/tables/rcu.h"

// In a named namespace, not an anonymous one: gtest needs one fixture type per suite across
// the test files that share it.
namespace ssw::lfh_test {

using ur = lockfree_hash::upsert_result;

// `n` distinct non-zero keys whose home bucket is `home`, so tests can aim keys at one bucket.
inline std::vector<uint32_t> keys_in_bucket(const lockfree_hash &h, uint32_t home, size_t n,
                                            uint32_t start = 1) {
    std::vector<uint32_t> keys;
    for (uint32_t k = start; keys.size() < n; ++k)
        if (h.home_bucket(k) == home) keys.push_back(k);
    return keys;
}

// The last bucket: a chain that starts there wraps around to bucket 0.
inline uint32_t last_bucket(const lockfree_hash &h) { return h.bucket_count() - 1; }

// How far along its probe sequence (in buckets) a key at `pos` lives.
inline uint32_t probe_distance(const lockfree_hash &h, uint32_t key, uint32_t pos) {
    return (lockfree_hash::bucket_of(pos) + h.bucket_count() - h.home_bucket(key)) %
           h.bucket_count();
}

inline std::map<uint32_t, uint64_t> contents(const lockfree_hash &h) {
    std::map<uint32_t, uint64_t> m;
    h.for_each([&](uint32_t k, uint64_t v) {
        EXPECT_TRUE(m.emplace(k, v).second) << "key visited twice: " << k;
    });
    return m;
}

// A value that uses all 64 bits and tells its key apart in the high half.
inline uint64_t wide(uint32_t key, uint32_t low) { return uint64_t(key) << 32 | low; }

// Fills bucket `home` with the first kSlotsPerBucket of `keys` (all homed there); returns
// their positions.
inline std::vector<uint32_t> fill_bucket(lockfree_hash &h, uint32_t home,
                                         const std::vector<uint32_t> &keys) {
    std::vector<uint32_t> pos(lockfree_hash::kSlotsPerBucket);
    for (unsigned i = 0; i < lockfree_hash::kSlotsPerBucket; ++i) {
        EXPECT_EQ(h.upsert(keys[i], wide(keys[i], i), nullptr, &pos[i]), ur::inserted);
        EXPECT_EQ(lockfree_hash::bucket_of(pos[i]), home);
    }
    return pos;
}

class LockfreeHash : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(rcu_.init(1)); }
    // Erased entries go back into use through rcu_: run what is deferred before it goes.
    void TearDown() override { rcu_.synchronize(); }
    rcu_domain rcu_;
};

// Reader 0 registered and online for a scope, offline again on every way out (a failed
// ASSERT too), so that no later synchronize() waits for it forever.
struct online_reader {
    explicit online_reader(rcu_domain &rcu) : rcu_(rcu) {
        rcu_.register_reader(0);
        rcu_.online(0);
    }
    ~online_reader() {
        rcu_.offline(0);
        rcu_.unregister_reader(0);
    }
    rcu_domain &rcu_;
};

}  // namespace ssw::lfh_test
