// A hash map from 32-bit keys to 32-bit values with one writer and lock-free readers.
//
// Layout: buckets of one cache line, seven 64-bit slots and an overflow count. A slot holds
// key << 32 | value and is read and written with single 64-bit atomic accesses, so a reader
// always sees a key together with a value that key held at some moment, never a mix. Key 0 is
// the empty slot (0.0.0.0 is never a key here).
//
// Collisions probe linearly to the next bucket. Instead of tombstones, each bucket counts the
// keys that live beyond it although their probe sequence passes through it (as folly's F14
// does): a lookup stops at the first bucket that does not hold the key and has a zero count.
// The writer raises the counts before it stores a displaced key and lowers them after it
// clears one, so a reader never stops early for a key that is present. Keys never move, so a
// reader cannot miss a key that a concurrent move would hide (the problem cuckoo hashing has).
//
// The values are opaque here; callers that store indices into other arrays reclaim those
// entries through RCU (see rcu.h) before reusing them.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <immintrin.h>

#include <rte_branch_prediction.h>
#include <rte_hash_crc.h>
#include <rte_prefetch.h>

namespace ssw {

class lockfree_hash {
public:
    static constexpr unsigned kSlotsPerBucket = 7;
    // A probe sequence longer than this makes an insert fail: the table is too full.
    static constexpr unsigned kMaxProbe = 32;

    struct alignas(64) bucket {
        std::atomic<uint64_t> slot[kSlotsPerBucket];
        std::atomic<uint32_t> overflow;
        uint32_t unused;
    };
    static_assert(sizeof(bucket) == 64);

    lockfree_hash() = default;
    lockfree_hash(const lockfree_hash &) = delete;
    lockfree_hash &operator=(const lockfree_hash &) = delete;
    ~lockfree_hash();

    // Sizes the table to hold `capacity` keys at a load of at most about 60%. Returns false
    // when the memory cannot be had.
    bool init(uint32_t capacity);

    // ---- readers (any thread) ----

    bool lookup(uint32_t key, uint32_t &value) const { return probe_from(hash(key) & mask_, key, value); }

    // Looks up n keys (n <= 64): hashes all first and prefetches their buckets, then probes.
    // Bit i of the result is set when keys[i] was found; values[i] is then its value.
    uint64_t lookup_bulk(const uint32_t *keys, uint32_t *values, unsigned n) const {
        uint32_t b[64];
        for (unsigned i = 0; i < n; ++i) {
            b[i] = hash(keys[i]) & mask_;
            rte_prefetch0(&buckets_[b[i]]);
        }
        uint64_t hits = 0;
        for (unsigned i = 0; i < n; ++i) {
            if (probe_from(b[i], keys[i], values[i])) hits |= uint64_t(1) << i;
        }
        return hits;
    }

    // Hashes and prefetches one key's home bucket; pairs with lookup_prefetched.
    uint32_t prefetch(uint32_t key) const {
        uint32_t b = hash(key) & mask_;
        rte_prefetch0(&buckets_[b]);
        return b;
    }
    bool lookup_prefetched(uint32_t home, uint32_t key, uint32_t &value) const {
        return probe_from(home, key, value);
    }

    // ---- the writer (one thread at a time) ----

    enum class upsert_result { inserted, replaced, full };
    // Inserts key or replaces its value with one atomic store. *old_value gets the replaced
    // value. Key 0 is refused (full).
    upsert_result upsert(uint32_t key, uint32_t value, uint32_t *old_value = nullptr);
    // Removes key; *old_value gets its value. False when absent.
    bool erase(uint32_t key, uint32_t *old_value = nullptr);
    bool contains(uint32_t key) const {
        uint32_t v;
        return lookup(key, v);
    }

    uint32_t size() const { return size_; }
    uint32_t capacity() const { return capacity_; }
    size_t memory_bytes() const { return size_t(mask_ + 1) * sizeof(bucket); }

    // Visits every (key, value); writer side only.
    template <typename F>
    void for_each(F &&f) const {
        for (uint32_t b = 0; b <= mask_; ++b) {
            for (unsigned i = 0; i < kSlotsPerBucket; ++i) {
                uint64_t s = buckets_[b].slot[i].load(std::memory_order_relaxed);
                if (s >> 32) f(uint32_t(s >> 32), uint32_t(s));
            }
        }
    }

    static uint32_t hash(uint32_t key) { return rte_hash_crc_4byte(key, 0x9e3779b9u); }

private:
    bool probe_from(uint32_t b, uint32_t key, uint32_t &value) const {
        if (unlikely(key == 0)) return false;  // 0 marks the empty slot
        const __m128i k = _mm_set1_epi32(int(key));
        for (unsigned probe = 0; probe < kMaxProbe; ++probe) {
            const bucket &bk = buckets_[b];
            // Compare all seven keys at once (no branch on where the key sits): a slot's key
            // is the high 32-bit lane of its 64-bit word, the odd lanes below.
            const auto *v = reinterpret_cast<const __m128i *>(&bk);
            const unsigned m0 = unsigned(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_load_si128(v + 0), k))));
            const unsigned m1 = unsigned(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_load_si128(v + 1), k))));
            const unsigned m2 = unsigned(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_load_si128(v + 2), k))));
            const unsigned m3 = unsigned(_mm_movemask_ps(_mm_castsi128_ps(_mm_cmpeq_epi32(_mm_load_si128(v + 3), k))));
            const unsigned hits = (m0 & 0xa) | (m1 & 0xa) << 4 | (m2 & 0xa) << 8 | (m3 & 0x2) << 12;
            if (hits) {
                // The vector loads are not one atomic read of a slot: read the slot itself
                // (one 64-bit load, from L1 now) and check its key again.
                const unsigned i = unsigned(__builtin_ctz(hits)) >> 1;
                const uint64_t s = bk.slot[i].load(std::memory_order_acquire);
                if (likely(uint32_t(s >> 32) == key)) {
                    value = uint32_t(s);
                    return true;
                }
                return probe_scalar(b, key, value);  // raced with the writer: the slow way
            }
            if (bk.overflow.load(std::memory_order_acquire) == 0) return false;
            b = (b + 1) & mask_;
        }
        return false;
    }

    bool probe_scalar(uint32_t b, uint32_t key, uint32_t &value) const {
        for (unsigned probe = 0; probe < kMaxProbe; ++probe) {
            const bucket &bk = buckets_[b];
            for (unsigned i = 0; i < kSlotsPerBucket; ++i) {
                uint64_t s = bk.slot[i].load(std::memory_order_acquire);
                if (uint32_t(s >> 32) == key) {
                    value = uint32_t(s);
                    return true;
                }
            }
            if (bk.overflow.load(std::memory_order_acquire) == 0) return false;
            b = (b + 1) & mask_;
        }
        return false;
    }

    // Finds key's slot: bucket index and slot index, or false.
    bool find_slot(uint32_t key, uint32_t &b_out, unsigned &i_out) const;

    bucket *buckets_ = nullptr;
    uint32_t mask_ = 0;
    uint32_t size_ = 0;
    uint32_t capacity_ = 0;
    bool from_dpdk_ = false;
};

}  // namespace ssw
