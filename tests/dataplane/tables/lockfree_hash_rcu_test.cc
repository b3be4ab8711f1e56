// lockfree_hash and RCU: the two-step insert, erased entries held until a grace period (in
// batches, recycled by the writer itself), and values seen by a concurrent reader.
#include "tests/dataplane/tables/lockfree_hash_fixture.h"

namespace ssw {
namespace {

using namespace lfh_test;

TEST_F(LockfreeHash, ErasedEntryNotReusedBeforeGracePeriod) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(100, rcu_));
    const uint32_t home = 10;
    auto keys = keys_in_bucket(h, home, lockfree_hash::kSlotsPerBucket + 3);
    const std::vector<uint32_t> pos = fill_bucket(h, home, keys);
    EXPECT_EQ(h.held(), 0u);
    ASSERT_TRUE(h.erase(keys[2]));
    const uint32_t freed = pos[2];
    EXPECT_EQ(h.held(), 1u);

    // A colliding key goes past the held entry, and so does the erased key itself.
    const uint32_t c1 = keys[lockfree_hash::kSlotsPerBucket],
                   c2 = keys[lockfree_hash::kSlotsPerBucket + 1];
    uint32_t p = freed;
    ASSERT_EQ(h.upsert(c1, wide(c1, 9), nullptr, &p), ur::inserted);
    EXPECT_NE(p, freed) << "a held entry was reused before a grace period";
    EXPECT_NE(lockfree_hash::bucket_of(p), home);
    ASSERT_TRUE(h.place(c2, p));
    EXPECT_NE(p, freed);
    ASSERT_TRUE(h.place(keys[2], p));
    EXPECT_NE(p, freed);
    // Waiting for a grace period alone does not free it: it has not been handed to RCU yet.
    rcu_.synchronize();
    EXPECT_EQ(h.held(), 1u);
    ASSERT_TRUE(h.place(c2, p));
    EXPECT_NE(p, freed);

    h.release_held();
    EXPECT_EQ(h.held(), 1u) << "held until the grace period is over";
    rcu_.synchronize();
    EXPECT_EQ(h.held(), 0u);
    ASSERT_TRUE(h.place(c2, p));
    EXPECT_EQ(p, freed) << "the first free entry on c2's probe sequence";
    ASSERT_EQ(h.upsert(c2, wide(c2, 7), nullptr, &p), ur::inserted);
    EXPECT_EQ(p, freed);
    for (uint32_t k : {keys[0], keys[1], keys[3], keys[4], c1, c2}) {
        EXPECT_TRUE(h.contains(k)) << k;
    }
    EXPECT_FALSE(h.contains(keys[2]));
}

// The grace period is RCU's: a registered reader that has not passed a quiescent state keeps
// the entry held, however often the writer polls; its quiescent state frees it.
TEST_F(LockfreeHash, HeldEntryWaitsForEveryReader) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(100, rcu_));
    const uint32_t home = 4;
    auto keys = keys_in_bucket(h, home, lockfree_hash::kSlotsPerBucket + 1);
    const std::vector<uint32_t> pos = fill_bucket(h, home, keys);
    const uint32_t c = keys.back();
    online_reader reader(rcu_);
    ASSERT_TRUE(h.erase(keys[0]));
    h.release_held();
    for (int i = 0; i < 10; ++i) rcu_.reclaim();
    EXPECT_EQ(h.held(), 1u) << "freed while a reader may still use it";
    uint32_t p;
    ASSERT_TRUE(h.place(c, p));
    EXPECT_NE(p, pos[0]);
    rcu_.quiescent(0);
    rcu_.reclaim();
    EXPECT_EQ(h.held(), 0u);
    ASSERT_TRUE(h.place(c, p));
    EXPECT_EQ(p, pos[0]);
}

// place() only finds an entry: nothing in the table changes (size, lookups, contents, the
// next place() answers the same). insert_at() then publishes the key there, with the overflow
// counts that let a lookup reach it beyond its home bucket.
TEST_F(LockfreeHash, PlaceChangesNothingInsertAtPublishes) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(100, rcu_));
    const uint32_t home = 20;
    auto keys = keys_in_bucket(h, home, lockfree_hash::kSlotsPerBucket + 2);
    for (unsigned i = 0; i < lockfree_hash::kSlotsPerBucket; ++i)
        ASSERT_EQ(h.upsert(keys[i], wide(keys[i], i)), ur::inserted);
    const auto before = contents(h);
    const uint32_t k = keys[lockfree_hash::kSlotsPerBucket];      // its home bucket is full
    const uint32_t next_key = keys_in_bucket(h, home + 1, 1)[0];  // home: the next bucket

    uint32_t p1 = ~0u, p2 = ~0u;
    ASSERT_TRUE(h.place(k, p1));
    EXPECT_NE(lockfree_hash::bucket_of(p1), home);
    EXPECT_EQ(h.size(), lockfree_hash::kSlotsPerBucket);
    EXPECT_FALSE(h.contains(k));
    uint64_t bulk_value;
    EXPECT_EQ(h.lookup_bulk(&k, 1, &bulk_value), 0u);
    EXPECT_EQ(contents(h), before);
    EXPECT_EQ(h.held(), 0u);
    ASSERT_TRUE(h.place(k, p2));
    EXPECT_EQ(p1, p2) << "place() changed something";
    EXPECT_FALSE(h.contains(next_key));
    for (unsigned i = 0; i < lockfree_hash::kSlotsPerBucket; ++i) {
        EXPECT_TRUE(h.contains(keys[i]));
    }

    h.insert_at(p1, k, wide(k, 77));
    EXPECT_EQ(h.size(), lockfree_hash::kSlotsPerBucket + 1);
    uint64_t v = 0;
    uint32_t p = ~0u;
    ASSERT_TRUE(h.lookup(k, v, &p)) << "not reachable beyond its home bucket";
    EXPECT_EQ(v, wide(k, 77));
    EXPECT_EQ(p, p1);
    ASSERT_EQ(h.lookup_bulk(&k, 1, &bulk_value, &p), 1u);
    EXPECT_EQ(bulk_value, wide(k, 77));
    EXPECT_EQ(p, p1);
    uint64_t old = 0;
    EXPECT_EQ(h.upsert(k, 5, &old, &p), ur::replaced) << "insert_at'ed key unknown to upsert";
    EXPECT_EQ(old, wide(k, 77));
    EXPECT_EQ(p, p1);

    // The next new key is placed elsewhere now; a key with a free home bucket gets it.
    const uint32_t k2 = keys[lockfree_hash::kSlotsPerBucket + 1];
    ASSERT_TRUE(h.place(k2, p2));
    EXPECT_NE(p2, p1);
    ASSERT_TRUE(h.place(next_key, p2));
    EXPECT_EQ(lockfree_hash::bucket_of(p2), home + 1);
    // Erasing the displaced key lowers the counts again: all others still found.
    ASSERT_TRUE(h.erase(k));
    EXPECT_FALSE(h.contains(k));
    for (unsigned i = 0; i < lockfree_hash::kSlotsPerBucket; ++i) {
        EXPECT_TRUE(h.contains(keys[i]));
    }
}

// Erased entries go to RCU by themselves in batches of kReleaseBatch: a full batch is
// deferred at once, a partial one waits for the next full batch or release_held().
TEST_F(LockfreeHash, ErasedEntriesGoToRcuInBatches) {
    constexpr uint32_t B = lockfree_hash::kReleaseBatch;
    lockfree_hash h;
    ASSERT_TRUE(h.init(1000, rcu_));  // room for 1000 held entries: none is freed by waiting
    std::mt19937 rng(77);
    std::vector<uint32_t> keys;
    while (keys.size() < 2 * B + 100) {
        uint32_t k = rng();
        if (k && h.upsert(k, k) == ur::inserted) keys.push_back(k);
    }
    size_t next = 0;
    auto erase_n = [&](uint32_t n) {
        for (uint32_t i = 0; i < n; ++i) ASSERT_TRUE(h.erase(keys[next++]));
    };

    erase_n(B - 1);
    EXPECT_EQ(h.held(), B - 1);
    EXPECT_EQ(rcu_.pending(), 0u) << "handed to RCU before the batch was full";
    rcu_.synchronize();
    EXPECT_EQ(h.held(), B - 1) << "a partial batch is not released by a grace period alone";

    erase_n(1);  // the batch is full: deferred now, without release_held()
    EXPECT_EQ(rcu_.pending(), 1u);
    EXPECT_EQ(h.held(), B) << "still held until the grace period is over";
    rcu_.synchronize();
    EXPECT_EQ(h.held(), 0u);

    erase_n(B + 44);  // one full batch and 44 more
    EXPECT_EQ(rcu_.pending(), 1u);
    EXPECT_EQ(h.held(), B + 44);
    rcu_.synchronize();
    EXPECT_EQ(h.held(), 44u) << "only the full batch went to RCU";
    h.release_held();
    EXPECT_EQ(rcu_.pending(), 1u);
    rcu_.synchronize();
    EXPECT_EQ(h.held(), 0u);
    h.release_held();  // nothing held: nothing deferred
    EXPECT_EQ(rcu_.pending(), 0u);

    EXPECT_EQ(h.size(), keys.size() - next);
    for (size_t i = 0; i < keys.size(); ++i) {
        ASSERT_EQ(h.contains(keys[i]), i >= next) << i;
    }
}

// Many more erase/insert cycles than the table has entries, without the test ever running
// RCU itself: the writer waits for grace periods when too many entries are held, so held
// entries are recycled, every insert succeeds, and every key stays findable.
TEST_F(LockfreeHash, HeldEntriesRecycledThroughManyCycles) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(64, rcu_));
    const uint32_t entries = h.bucket_count() * lockfree_hash::kSlotsPerBucket;
    std::mt19937 rng(78);
    std::map<uint32_t, uint64_t> model;
    while (model.size() < 64) {
        uint32_t k = rng();
        if (k && !model.count(k) && h.upsert(k, wide(k, 0)) == ur::inserted) model[k] = wide(k, 0);
    }
    uint32_t max_held = 0, drops = 0;
    const int cycles = 50 * int(entries);
    for (int c = 1; c <= cycles; ++c) {
        auto it = model.begin();
        std::advance(it, rng() % model.size());
        ASSERT_TRUE(h.erase(it->first));
        model.erase(it);
        uint32_t k;
        do k = rng();
        while (!k || model.count(k));
        const uint32_t held_before = h.held();
        ASSERT_EQ(h.upsert(k, wide(k, uint32_t(c))), ur::inserted)
            << "cycle " << c << ", held " << h.held();
        model[k] = wide(k, uint32_t(c));
        if (h.held() < held_before) ++drops;
        max_held = std::max(max_held, h.held());
        ASSERT_LE(h.held(), h.capacity()) << "held entries not bounded by the spare count";
        ASSERT_EQ(h.size(), 64u);
        if (c % 997 == 0) {
            ASSERT_EQ(contents(h), model) << "cycle " << c;
        }
    }
    EXPECT_GT(drops, 0u) << "the writer never waited for a grace period";
    EXPECT_GT(max_held, 0u);
    EXPECT_EQ(contents(h), model);
    for (auto [k, want] : model) {
        uint64_t v;
        ASSERT_TRUE(h.lookup(k, v));
        ASSERT_EQ(v, want);
    }
}

// The other way held entries are recycled: when they are all that is free on a key's probe
// sequence, place() waits for a grace period and looks again, although far fewer entries are
// held than the spare count allows.
TEST_F(LockfreeHash, HeldEntriesBlockingTheProbeWindowAreFreed) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(2000, rcu_));
    const uint32_t window = lockfree_hash::kMaxProbe * lockfree_hash::kSlotsPerBucket;
    const uint32_t home = 3;
    auto pool = keys_in_bucket(h, home, window + 100);
    // All keys crowd one probe window, leaving 10 entries of it free.
    std::set<uint32_t> live(pool.begin(), pool.begin() + (window - 10));
    std::vector<uint32_t> absent(pool.begin() + (window - 10), pool.end());
    for (uint32_t k : live) ASSERT_EQ(h.upsert(k, k), ur::inserted);
    std::mt19937 rng(79);
    uint32_t drops = 0;
    for (int c = 0; c < 3000; ++c) {
        auto it = live.begin();
        std::advance(it, rng() % live.size());
        const uint32_t gone = *it;
        ASSERT_TRUE(h.erase(gone));
        live.erase(it);
        const size_t pick = rng() % absent.size();
        const uint32_t k = absent[pick];
        absent[pick] = gone;
        const uint32_t held_before = h.held();
        ASSERT_EQ(h.upsert(k, wide(k, uint32_t(c))), ur::inserted) << "cycle " << c;
        live.insert(k);
        if (h.held() < held_before) ++drops;
        ASSERT_LT(h.held(), window);
    }
    EXPECT_GT(drops, 0u);
    EXPECT_EQ(h.size(), window - 10);
    for (uint32_t k : live) {
        ASSERT_TRUE(h.contains(k)) << k;
    }
    for (uint32_t k : absent) {
        ASSERT_FALSE(h.contains(k)) << k;
    }
}

// The value the writer stores for key k at `version`: the key in the high half, so a value
// that belongs to another key is recognised.
uint64_t encode(uint32_t key, uint32_t version) { return wide(key, version); }
bool belongs_to(uint32_t key, uint64_t value) { return uint32_t(value >> 32) == key; }

// A reader thread, registered with RCU and reporting a quiescent state after each pass, looks
// keys up while the writer replaces, erases and reinserts them in crowded chains. It must see
// only values its key held (erased entries are held until it has moved on), never miss a key
// that was never erased, and find those keys where they always were.
TEST_F(LockfreeHash, ConcurrentReaderSeesOnlyValuesItsKeyHeld) {
    lockfree_hash h;
    ASSERT_TRUE(h.init(200, rcu_));
    // Stable keys are only ever replaced; churn keys are erased and reinserted. Both crowd a
    // few buckets so that chains cross bucket boundaries and overflow counts move.
    std::vector<uint32_t> stable, churn;
    for (uint32_t home : {1u, 2u, last_bucket(h)}) {
        auto ks = keys_in_bucket(h, home, 16, 1 + home * 100000);
        stable.insert(stable.end(), ks.begin(), ks.begin() + 6);
        churn.insert(churn.end(), ks.begin() + 6, ks.end());
    }

    std::vector<uint32_t> version(stable.size() + churn.size(), 0);
    std::vector<uint32_t> stable_pos(stable.size());
    for (size_t i = 0; i < stable.size(); ++i)
        ASSERT_EQ(h.upsert(stable[i], encode(stable[i], 0), nullptr, &stable_pos[i]), ur::inserted);
    for (size_t i = 0; i < churn.size(); ++i)
        ASSERT_EQ(h.upsert(churn[i], encode(churn[i], 0)), ur::inserted);

    std::atomic<bool> stop{false}, ready{false};
    std::atomic<uint64_t> lookups{0}, stable_misses{0}, foreign{0}, churn_hits{0}, moved{0};
    std::thread reader([&] {
        online_reader in_rcu(rcu_);
        ready = true;
        uint64_t n = 0, misses = 0, bad = 0, hits = 0, wrong_pos = 0;
        bool screen_first = false;
        std::vector<uint32_t> all = stable;
        all.insert(all.end(), churn.begin(), churn.end());
        while (!stop.load(std::memory_order_relaxed)) {
            for (size_t i = 0; i < stable.size(); ++i) {
                uint64_t v;
                uint32_t pos;
                if (!h.lookup(stable[i], v, &pos)) {
                    ++misses;
                } else {
                    if (!belongs_to(stable[i], v)) ++bad;
                    if (pos != stable_pos[i]) ++wrong_pos;
                }
                ++n;
            }
            for (uint32_t k : churn) {
                uint64_t v;
                if (h.lookup(k, v)) {
                    ++hits;
                    if (!belongs_to(k, v)) ++bad;
                }
                ++n;
            }
            uint64_t values[64];
            uint32_t pos[64];
            // Both ways of a bulk, in turn: tags first, and buckets at once.
            lockfree_hash::bulk_hint hint{screen_first = !screen_first};
            uint64_t mask_hits =
                h.lookup_bulk(all.data(), unsigned(all.size()), values, pos, &hint);
            for (size_t i = 0; i < all.size(); ++i) {
                if (mask_hits >> i & 1) {
                    if (!belongs_to(all[i], values[i])) ++bad;
                    if (i < stable.size() && pos[i] != stable_pos[i]) ++wrong_pos;
                } else if (i < stable.size()) {
                    ++misses;
                }
            }
            n += all.size();
            rcu_.quiescent(0);
        }
        lookups = n;
        stable_misses = misses;
        foreign = bad;
        churn_hits = hits;
        moved = wrong_pos;
    });
    while (!ready) std::this_thread::yield();

    // No ASSERT while the reader runs: count writer-side surprises and check after join.
    std::mt19937 rng(75);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    uint64_t writes = 0, writer_errors = 0, erases = 0;
    while (std::chrono::steady_clock::now() < until) {
        for (int burst = 0; burst < 1000; ++burst) {
            size_t i = rng() % (stable.size() + churn.size());
            uint32_t k = i < stable.size() ? stable[i] : churn[i - stable.size()];
            uint64_t nv = encode(k, ++version[i]);
            if (i < stable.size() || rng() % 3 == 0) {
                uint64_t old = 0;
                auto r = h.upsert(k, nv, &old);
                if (r == ur::full) ++writer_errors;
                if (r == ur::replaced && !belongs_to(k, old)) ++writer_errors;
            } else if (h.contains(k)) {
                if (!h.erase(k)) ++writer_errors;
                ++erases;
            } else if (h.upsert(k, nv) != ur::inserted) {
                ++writer_errors;
            }
            ++writes;
        }
    }
    stop = true;
    reader.join();
    EXPECT_GT(lookups.load(), 0u);
    EXPECT_GT(writes, 0u);
    EXPECT_GT(erases, uint64_t(lockfree_hash::kReleaseBatch))
        << "held entries never went through RCU";
    EXPECT_EQ(writer_errors, 0u);
    EXPECT_EQ(foreign.load(), 0u) << "a reader saw a value its key never held";
    EXPECT_EQ(stable_misses.load(), 0u) << "a reader missed a key that was never erased";
    EXPECT_EQ(moved.load(), 0u) << "a key that was never erased changed position";
    EXPECT_GT(churn_hits.load(), 0u);
}

}  // namespace
}  // namespace ssw
