#include "dataplane/lockfree_hash.h"

#include <bit>

#include "dataplane/memory.h"

namespace ssw {

lockfree_hash::~lockfree_hash() { table_free(buckets_, from_dpdk_); }

bool lockfree_hash::init(uint32_t capacity) {
    // At most ~60% of the slots used: with 7-slot buckets that keeps overflow rare (measured
    // in tests/dataplane/lockfree_hash_test.cc) and probe sequences short.
    uint64_t want = (uint64_t(capacity) * 10 + 6 * kSlotsPerBucket - 1) / (6 * kSlotsPerBucket);
    uint64_t n = std::bit_ceil(want < 2 ? uint64_t(2) : want);
    if (n > (uint64_t(1) << 31)) return false;
    buckets_ = static_cast<bucket *>(table_alloc(n * sizeof(bucket), from_dpdk_));
    if (!buckets_) return false;
    mask_ = uint32_t(n - 1);
    capacity_ = capacity;
    size_ = 0;
    return true;
}

bool lockfree_hash::find_slot(uint32_t key, uint32_t &b_out, unsigned &i_out) const {
    uint32_t b = hash(key) & mask_;
    for (unsigned probe = 0; probe < kMaxProbe; ++probe) {
        const bucket &bk = buckets_[b];
        for (unsigned i = 0; i < kSlotsPerBucket; ++i) {
            if (uint32_t(bk.slot[i].load(std::memory_order_relaxed) >> 32) == key) {
                b_out = b;
                i_out = i;
                return true;
            }
        }
        if (bk.overflow.load(std::memory_order_relaxed) == 0) return false;
        b = (b + 1) & mask_;
    }
    return false;
}

lockfree_hash::upsert_result lockfree_hash::upsert(uint32_t key, uint32_t value,
                                                   uint32_t *old_value) {
    if (key == 0) return upsert_result::full;
    const uint64_t packed = uint64_t(key) << 32 | value;
    uint32_t b;
    unsigned i;
    if (find_slot(key, b, i)) {
        // One writer: a release store publishes; no locked exchange needed.
        const uint64_t old = buckets_[b].slot[i].load(std::memory_order_relaxed);
        buckets_[b].slot[i].store(packed, std::memory_order_release);
        if (old_value) *old_value = uint32_t(old);
        return upsert_result::replaced;
    }
    if (size_ >= capacity_) return upsert_result::full;

    const uint32_t home = hash(key) & mask_;
    b = home;
    for (unsigned probe = 0; probe < kMaxProbe; ++probe) {
        bucket &bk = buckets_[b];
        for (i = 0; i < kSlotsPerBucket; ++i) {
            if (bk.slot[i].load(std::memory_order_relaxed) == 0) break;
        }
        if (i < kSlotsPerBucket) {
            // Raise the counts of the buckets passed over before the key becomes visible.
            for (uint32_t p = home; p != b; p = (p + 1) & mask_)
                buckets_[p].overflow.fetch_add(1, std::memory_order_release);
            bk.slot[i].store(packed, std::memory_order_release);
            ++size_;
            return upsert_result::inserted;
        }
        b = (b + 1) & mask_;
    }
    return upsert_result::full;
}

bool lockfree_hash::erase(uint32_t key, uint32_t *old_value) {
    uint32_t b;
    unsigned i;
    if (key == 0 || !find_slot(key, b, i)) return false;
    uint64_t old = buckets_[b].slot[i].exchange(0, std::memory_order_release);
    if (old_value) *old_value = uint32_t(old);
    // Lower the counts only once the key is gone, so no reader stops short of it.
    for (uint32_t p = hash(key) & mask_; p != b; p = (p + 1) & mask_)
        buckets_[p].overflow.fetch_sub(1, std::memory_order_release);
    --size_;
    return true;
}

}  // namespace ssw
