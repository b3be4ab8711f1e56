// A hash map from 32-bit keys to 64-bit values with one writer and lock-free readers.
//
// Layout: buckets of one cache line, five entries: their keys, an overflow count, their
// values. A lookup that hits reads that one line (and perhaps a tag word, below, mostly in
// cache), so a table that holds its data in the values (the binding table, the neighbor
// table) costs one cache miss per lookup. Key 0 is the empty entry (0.0.0.0 is never a key).
//
// Keys and values are read and written with single 32- and 64-bit atomic accesses. A value
// changes in place with one store, so a reader sees a key with a value the key held at some
// moment, never a mix. An erased entry is not reused until an RCU grace period has passed
// (it is "held"), so a reader that matched a key and then reads its value never gets the value
// of another key that took the entry meanwhile. An entry's position (`pos`) is stable while
// its key lives, so owners can keep per-key data beside the table (nat_table's hit counters).
//
// Every bucket also has a tag word, in an array of its own (8 bytes per bucket: under 3 MiB
// per million keys, small enough to stay in the last-level cache where the buckets do not):
// the tags of its five entries (8 bits of the key's hash) and a flag set while its overflow
// count is not zero. Bulk lookups that screen (bulk_hint) read the tag words first and fetch
// only the buckets whose tags match, so a key that is absent usually costs no bucket line.
// The writer stores a tag with its key and clears it with the key; it sets a flag before a
// key that passes over the bucket is stored and clears it after the last such key is gone:
// a present key's tag and the flags on its way are always there.
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

#include "dataplane/tables/rcu.h"

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
        return size_t(buckets_for(capacity)) *
               (sizeof(bucket) * (1 + extra_lines) + sizeof(uint64_t));
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

    // A caller's memory of its last bulk (one per worker and kind of lookup): whether the
    // next bulk screens its keys by tag first. When most keys are present, the tag words are
    // a step that saves nothing (nearly every bucket is read anyway) and only adds a wait, so
    // the buckets are fetched at once; when most are absent, tags first.
    struct bulk_hint {
        bool screen = true;
    };

    // Looks up n keys (n <= 64) together; see lookup_each. Bit i of the result is set when
    // keys[i] was found; values[i] (and pos[i], when pos is given) are then its value and
    // position.
    uint64_t lookup_bulk(const uint32_t *keys, unsigned n, uint64_t *values,
                         uint32_t *pos = nullptr, bulk_hint *hint = nullptr) const {
        uint64_t hits = 0;
        lookup_each(
            keys, n, [](uint32_t) {},
            [&](unsigned i, bool found, uint64_t value, uint32_t p) {
                if (!found) return;
                hits |= uint64_t(1) << i;
                values[i] = value;
                if (pos) pos[i] = p;
            },
            hint);
        return hits;
    }
    // Looks up n keys (n <= 64) with the owner's hands in it: started(b) is called as each
    // bucket b is prefetched (to prefetch the owner's lines beside it), then
    // done(i, found, value, pos) as each key is done, in no particular order.
    //
    // Up to three passes. Screening (the hint's choice; always without a hint): the keys' tag
    // words are prefetched together (from cache mostly), then only the buckets whose tags
    // match are prefetched; otherwise every home bucket is prefetched at once. Then the
    // probes. A key whose bucket sends it onward (its next bucket is not in cache: ~5% of the
    // keys at ~60% load live beyond their home bucket) is set aside with that bucket
    // prefetched and probed after all the others, so that such misses overlap too instead of
    // stalling one by one.
    template <typename Started, typename Done>
    void lookup_each(const uint32_t *keys, unsigned n, Started &&started, Done &&done,
                     bulk_hint *hint = nullptr) const {
        uint32_t b[64];
        uint8_t cand[64];
        unsigned n_cand = 0;
        if (!hint || hint->screen) {
            uint8_t tag[64];
            for (unsigned i = 0; i < n; ++i) {
                const uint32_t h = hash(keys[i]);
                b[i] = bucket_for_hash(h);
                tag[i] = tag_for_hash(h);
                rte_prefetch0(&tags_[b[i]]);
            }
            for (unsigned i = 0; i < n; ++i) {
                if (!screen(b[i], tag[i])) {
                    done(i, false, 0, 0);
                    continue;
                }
                rte_prefetch0(&at(b[i]));
                started(b[i]);
                cand[n_cand++] = uint8_t(i);
            }
        } else {
            for (unsigned i = 0; i < n; ++i) {
                b[i] = home_bucket(keys[i]);
                rte_prefetch0(&at(b[i]));
                started(b[i]);
                cand[i] = uint8_t(i);
            }
            n_cand = n;
        }
        unsigned n_later = 0, n_found = 0;
        for (unsigned k = 0; k < n_cand; ++k) {
            const unsigned i = cand[k];
            uint64_t value = 0;
            uint32_t p = 0;
            const probe_step r = probe_bucket(b[i], keys[i], value, &p);
            if (unlikely(r == probe_step::onward)) {
                b[i] = next(b[i]);
                rte_prefetch0(&at(b[i]));
                started(b[i]);
                cand[n_later++] = uint8_t(i);  // n_later <= k: that slot is read already
                continue;
            }
            n_found += r == probe_step::found;
            done(i, r == probe_step::found, value, p);
        }
        for (unsigned k = 0; k < n_later; ++k) {
            const unsigned i = cand[k];
            uint64_t value = 0;
            uint32_t p = 0;
            const bool found = probe_from(b[i], keys[i], value, &p);
            n_found += found;
            done(i, found, value, p);
        }
        if (hint) hint->screen = 2 * n_found < n;
    }

    // True when the tag words alone show that key is absent: a screening bulk lookup reads
    // no bucket for it. Never true for a present key.
    bool screened_out(uint32_t key) const {
        const uint32_t h = hash(key);
        uint32_t b = bucket_for_hash(h);
        return !screen(b, tag_for_hash(h));
    }

    // Hashes and prefetches one key's home bucket, its tag word and (writer side) its held
    // mask: what an insert, change or erase of the key touches. Returns the bucket.
    uint32_t prefetch(uint32_t key) const {
        const uint32_t b = home_bucket(key);
        rte_prefetch0(&at(b));
        rte_prefetch0(&tags_[b]);
        rte_prefetch0(&held_->mask[b]);
        return b;
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
    size_t memory_bytes() const { return size_t(n_buckets_) * (stride_ + sizeof(uint64_t)); }
    uint32_t bucket_count() const { return n_buckets_; }
    // The bucket a key's probe sequence starts at.
    uint32_t home_bucket(uint32_t key) const { return bucket_for_hash(hash(key)); }

    // Buckets whose tag word disagrees with their keys and overflow count (tests; writer
    // side only): 0 when the tags are right.
    uint32_t tag_errors() const;

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
    // Buckets come from the hash's high bits (by multiplication), tags from its low byte.
    uint32_t bucket_for_hash(uint32_t h) const {
        return uint32_t((uint64_t(h) * n_buckets_) >> 32);
    }
    static uint8_t tag_for_hash(uint32_t h) {
        const uint8_t t = uint8_t(h);
        return t ? t : 1;  // 0: no key
    }
    // A tag word: byte i < kSlotsPerBucket is entry i's tag, byte kOverflowByte is non-zero
    // while the bucket's overflow count is.
    static constexpr unsigned kOverflowByte = 5;
    // Follows key's tags from bucket b: true with b at the first bucket whose tags match (the
    // key may be there or beyond), false when no bucket on the way can hold it.
    bool screen(uint32_t &b, uint8_t tag) const {
        const __m128i want = _mm_set1_epi8(char(tag));
        for (unsigned probe = 0; probe < kMaxProbe; ++probe) {
            const uint64_t w = tags_[b].load(std::memory_order_acquire);
            const __m128i eq = _mm_cmpeq_epi8(_mm_cvtsi64_si128(int64_t(w)), want);
            if (unsigned(_mm_movemask_epi8(eq)) & ((1u << kSlotsPerBucket) - 1)) return true;
            if ((w >> (8 * kOverflowByte) & 0xff) == 0) return false;
            b = next(b);
        }
        return false;
    }
    // Writer side: sets byte `byte` of bucket b's tag word.
    void set_tag_byte(uint32_t b, unsigned byte, uint8_t v);

    enum class probe_step { found, absent, onward };
    // Probes bucket b alone: the key is there, or absent from the table, or (onward) the
    // search goes on at the next bucket.
    probe_step probe_bucket(uint32_t b, uint32_t key, uint64_t &value, uint32_t *pos) const {
        if (unlikely(key == 0)) return probe_step::absent;  // 0 marks the empty entry
        const bucket &bk = at(b);
        // Compare the five keys at once (no branch on where the key sits).
        const auto *v = reinterpret_cast<const __m128i *>(&bk);
        const unsigned hits = unsigned(_mm_movemask_ps(_mm_castsi128_ps(
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
    std::atomic<uint64_t> *tags_ = nullptr;  // n_buckets_ tag words, after the buckets in mem_
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
