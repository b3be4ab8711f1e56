// A hash map from 32-bit keys to 64-bit values with one writer and lock-free readers.
//
// Layout: buckets of one cache line, five entries: their keys, an overflow count, their
// values. A lookup that hits reads that one line, so a table that holds its data in the
// values (the binding table, the neighbor table) costs one cache miss per lookup. Key 0 is
// the empty entry (0.0.0.0 is never a key here).
//
// Keys and values are read and written with single 32- and 64-bit atomic accesses. A value
// changes in place with one store, so a reader sees a key with a value the key held at some
// moment, never a mix. An erased entry is not reused until an RCU grace period has passed
// (it is "held"), so a reader that matched a key and then reads its value never gets the value
// of another key that took the entry meanwhile. An entry's position (`pos`) is stable while
// its key lives, so owners can keep per-key data beside the table (nat_table's hit counters).
//
// Collisions probe linearly to the next bucket. Instead of tombstones, each bucket counts the
// keys that live beyond it although their probe sequence passes through it (as folly's F14
// does): a lookup stops at the first bucket that does not hold the key and has a zero count.
// The writer raises the counts before it stores a displaced key and lowers them after it
// clears one, so a reader never stops early for a key that is present. Keys never move, so a
// reader cannot miss a key that a concurrent move would hide (the problem cuckoo hashing has).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include <immintrin.h>

#include <rte_branch_prediction.h>
#include <rte_hash_crc.h>
#include <rte_prefetch.h>

#include "dataplane/rcu.h"

namespace ssw {

class lockfree_hash {
public:
    static constexpr unsigned kSlotsPerBucket = 5;
    // A probe sequence longer than this makes an insert fail: the table is too full.
    static constexpr unsigned kMaxProbe = 32;
    // Erased entries handed to RCU together (one grace period for many).
    static constexpr unsigned kReleaseBatch = 256;

    struct alignas(64) bucket {
        std::atomic<uint32_t> key[kSlotsPerBucket];
        std::atomic<uint32_t> overflow;
        std::atomic<uint64_t> value[kSlotsPerBucket];
    };
    static_assert(sizeof(bucket) == 64);

    // An entry's position: bucket << 3 | slot.
    static uint32_t bucket_of(uint32_t pos) { return pos >> 3; }
    static unsigned slot_of(uint32_t pos) { return pos & 7; }

    lockfree_hash() = default;
    lockfree_hash(const lockfree_hash &) = delete;
    lockfree_hash &operator=(const lockfree_hash &) = delete;
    ~lockfree_hash();

    // Sizes the table to hold `capacity` keys at a load of at most about 60%; erased entries
    // go back into use through `rcu`. Each bucket is followed by `extra_lines` cache lines of
    // the owner's (zeroed; see extra()). False when the memory cannot be had.
    bool init(uint32_t capacity, rcu_domain &rcu, unsigned extra_lines = 0);
    // The memory init(capacity, rcu, extra_lines) takes.
    static size_t memory_for(uint32_t capacity, unsigned extra_lines = 0) {
        return size_t(buckets_for(capacity)) * sizeof(bucket) * (1 + extra_lines);
    }
    // The owner's line `line` (< extra_lines) beside bucket b: per-entry data that a reader
    // fetches together with the bucket (same DRAM page), found from the key's hash alone.
    void *extra(uint32_t b, unsigned line) const {
        return mem_ + size_t(b) * stride_ + sizeof(bucket) * (1 + line);
    }

    // ---- readers (any thread, inside an RCU read-side section) ----

    bool lookup(uint32_t key, uint64_t &value, uint32_t *pos = nullptr) const {
        return probe_from(home_bucket(key), key, value, pos);
    }

    // Looks up n keys (n <= 64): hashes all first and prefetches their buckets, then probes.
    // Bit i of the result is set when keys[i] was found; values[i] (and pos[i], when pos is
    // given) are then its value and position.
    uint64_t lookup_bulk(const uint32_t *keys, unsigned n, uint64_t *values,
                         uint32_t *pos = nullptr) const {
        uint64_t hits = 0;
        lookup_each(
            keys, n, [](uint32_t) {},
            [&](unsigned i, bool found, uint64_t value, uint32_t p) {
                if (!found) return;
                hits |= uint64_t(1) << i;
                values[i] = value;
                if (pos) pos[i] = p;
            });
        return hits;
    }
    // The same, with the owner's hands in it: started(b) is called as each bucket b is
    // prefetched (to prefetch the owner's lines beside it), then done(i, found, value, pos)
    // as each key is probed, in no particular order.
    //
    // At ~60% load about 5% of the keys live beyond their home bucket (a bulk of 32 meets 1.6
    // of them on average): their next bucket is not in cache when the home bucket says "go on".
    // Those keys are set aside with their next bucket prefetched, and probed after all the
    // others, so that their misses overlap each other and the rest of the bulk instead of
    // stalling it one after another.
    template <typename Started, typename Done>
    void lookup_each(const uint32_t *keys, unsigned n, Started &&started, Done &&done) const {
        uint32_t b[64];
        for (unsigned i = 0; i < n; ++i) {
            b[i] = prefetch(keys[i]);
            started(b[i]);
        }
        uint8_t later[64];
        unsigned n_later = 0;
        for (unsigned i = 0; i < n; ++i) {
            uint64_t value = 0;
            uint32_t p = 0;
            const probe_step r = probe_bucket(b[i], keys[i], value, &p);
            if (unlikely(r == probe_step::onward)) {
                b[i] = next(b[i]);
                rte_prefetch0(&at(b[i]));
                started(b[i]);
                later[n_later++] = uint8_t(i);
                continue;
            }
            done(i, r == probe_step::found, value, p);
        }
        for (unsigned k = 0; k < n_later; ++k) {
            const unsigned i = later[k];
            uint64_t value = 0;
            uint32_t p = 0;
            const bool found = probe_from(b[i], keys[i], value, &p);
            done(i, found, value, p);
        }
    }

    // Hashes and prefetches one key's home bucket; pairs with lookup_prefetched.
    uint32_t prefetch(uint32_t key) const {
        const uint32_t b = home_bucket(key);
        rte_prefetch0(&at(b));
        return b;
    }
    bool lookup_prefetched(uint32_t home, uint32_t key, uint64_t &value,
                           uint32_t *pos = nullptr) const {
        return probe_from(home, key, value, pos);
    }

    // ---- the writer (one thread at a time) ----

    enum class upsert_result { inserted, replaced, full };
    // Inserts key or replaces its value with one atomic store. *old_value gets the replaced
    // value, *pos the entry's position. Key 0 is refused (full).
    upsert_result upsert(uint32_t key, uint64_t value, uint64_t *old_value = nullptr,
                         uint32_t *pos = nullptr);
    // Inserting in two steps, for owners that prepare per-entry data first: place() finds
    // the entry a new key (absent now) would take, without changing anything (false: no
    // room); insert_at() then publishes the key there. No other change may come between.
    bool place(uint32_t key, uint32_t &pos);
    void insert_at(uint32_t pos, uint32_t key, uint64_t value);
    // Removes key; *old_value gets its value. False when absent. The entry is held for a
    // grace period before a new key may take it.
    bool erase(uint32_t key, uint64_t *old_value = nullptr);
    bool contains(uint32_t key) const {
        uint64_t v;
        return lookup(key, v);
    }
    // Hands the held entries to RCU now instead of at the next full batch.
    void release_held();

    uint32_t size() const { return size_; }
    uint32_t capacity() const { return capacity_; }
    uint32_t held() const { return held_->count; }
    size_t memory_bytes() const { return size_t(n_buckets_) * stride_; }
    uint32_t bucket_count() const { return n_buckets_; }
    // The bucket a key's probe sequence starts at.
    uint32_t home_bucket(uint32_t key) const {
        return uint32_t((uint64_t(hash(key)) * n_buckets_) >> 32);
    }

    // Visits every (key, value); writer side only.
    template <typename F>
    void for_each(F &&f) const {
        for (uint32_t b = 0; b < n_buckets_; ++b) {
            for (unsigned i = 0; i < kSlotsPerBucket; ++i) {
                const uint32_t k = at(b).key[i].load(std::memory_order_relaxed);
                if (k) f(k, at(b).value[i].load(std::memory_order_relaxed));
            }
        }
    }

    static uint32_t hash(uint32_t key) { return rte_hash_crc_4byte(key, 0x9e3779b9u); }

private:
    // Buckets for `capacity` keys at ~60% load (unbounded: init() refuses too many).
    static uint64_t buckets_for(uint32_t capacity);
    // Changes the overflow counts of the buckets a key homed at `home` passes over to reach
    // bucket b.
    void add_overflow(uint32_t home, uint32_t b, int delta);
    // Hands the held entries to RCU and waits for a grace period: they are free after it.
    void free_held();
    uint32_t next(uint32_t b) const { return b + 1 == n_buckets_ ? 0 : b + 1; }

    enum class probe_step { found, absent, onward };
    // Probes bucket b alone: the key is there, or absent from the table, or (onward) the
    // search goes on at the next bucket.
    probe_step probe_bucket(uint32_t b, uint32_t key, uint64_t &value, uint32_t *pos) const {
        if (unlikely(key == 0)) return probe_step::absent;  // 0 marks the empty entry
        const bucket &bk = at(b);
        // Compare the five keys at once (no branch on where the key sits).
        const auto *v = reinterpret_cast<const __m128i *>(&bk);
        const unsigned hits =
            unsigned(_mm_movemask_ps(_mm_castsi128_ps(
                _mm_cmpeq_epi32(_mm_load_si128(v), _mm_set1_epi32(int(key)))))) |
            unsigned(bk.key[4].load(std::memory_order_relaxed) == key) << 4;
        if (hits) {
            // The vector load is not an atomic read of a key: read the key itself (from L1
            // now) and check it again before its value.
            const unsigned i = unsigned(__builtin_ctz(hits));
            if (likely(bk.key[i].load(std::memory_order_acquire) == key)) {
                value = bk.value[i].load(std::memory_order_acquire);
                if (pos) *pos = b << 3 | i;
                return probe_step::found;
            }
            // Raced with the writer: the slow way.
            return probe_scalar(b, key, value, pos) ? probe_step::found : probe_step::absent;
        }
        return bk.overflow.load(std::memory_order_acquire) == 0 ? probe_step::absent
                                                                : probe_step::onward;
    }

    bool probe_from(uint32_t b, uint32_t key, uint64_t &value, uint32_t *pos) const {
        for (unsigned probe = 0; probe < kMaxProbe; ++probe) {
            const probe_step r = probe_bucket(b, key, value, pos);
            if (r != probe_step::onward) return r == probe_step::found;
            b = next(b);
        }
        return false;
    }

    bool probe_scalar(uint32_t b, uint32_t key, uint64_t &value, uint32_t *pos) const;

    // Finds key's entry: its position, or false.
    bool find(uint32_t key, uint32_t &pos) const;
    bool is_held(uint32_t b, unsigned i) const { return held_->mask[b] >> i & 1; }

    bucket &at(uint32_t b) const { return *reinterpret_cast<bucket *>(mem_ + size_t(b) * stride_); }

    uint8_t *mem_ = nullptr;  // n_buckets_ buckets, each with its extra lines: stride_ bytes
    uint32_t stride_ = sizeof(bucket);
    uint32_t n_buckets_ = 0;
    uint32_t size_ = 0;
    uint32_t capacity_ = 0;
    bool from_dpdk_ = false;
    // Writer side: which entries are held and how many. Shared with the RCU callbacks that
    // release them, which may outlive the table.
    struct held_entries {
        std::vector<uint8_t> mask;  // per bucket, bit per entry
        uint32_t count = 0;
    };
    std::shared_ptr<held_entries> held_ = std::make_shared<held_entries>();
    std::vector<uint32_t> unreleased_;  // held, not yet handed to RCU
    rcu_domain *rcu_ = nullptr;
};

}  // namespace ssw
