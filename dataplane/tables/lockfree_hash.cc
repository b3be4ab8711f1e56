#include "dataplane/tables/lockfree_hash.h"

#include <algorithm>

#include "dataplane/tables/memory.h"

namespace ssw {

namespace {
// Entries that may be held at once (erased, waiting for their grace period) on top of the
// capacity; the writer waits for a grace period when they run out.
uint32_t spare_for(uint32_t capacity) { return std::min<uint32_t>(capacity, 4096); }
}  // namespace

lockfree_hash::~lockfree_hash() { table_free(mem_, from_dpdk_); }

uint64_t lockfree_hash::buckets_for(uint32_t capacity) {
    // At most ~60% of the entries used: with 5-entry buckets that keeps overflow rare
    // (measured in tests/dataplane/tables/lockfree_hash_test.cc) and probe sequences short. Any
    // bucket count works (keys map to buckets by multiplication, not a mask).
    const uint64_t entries = uint64_t(capacity) + spare_for(capacity);
    const uint64_t want = (entries * 10 + 6 * kSlotsPerBucket - 1) / (6 * kSlotsPerBucket);
    return std::max<uint64_t>(want, 2);
}

bool lockfree_hash::init(uint32_t capacity, rcu_domain &rcu, unsigned extra_lines) {
    // Positions are bucket << 3 | slot in 32 bits.
    if (buckets_for(capacity) > (uint64_t(1) << 28)) return false;
    n_buckets_ = uint32_t(buckets_for(capacity));
    stride_ = uint32_t(sizeof(bucket) * (1 + extra_lines));
    mem_ = static_cast<uint8_t *>(table_alloc(memory_for(capacity, extra_lines), from_dpdk_));
    if (!mem_) return false;
    tags_ = reinterpret_cast<std::atomic<uint64_t> *>(mem_ + size_t(n_buckets_) * stride_);
    held_->mask.assign(n_buckets_, 0);
    held_->count = 0;
    unreleased_.reserve(kReleaseBatch);
    capacity_ = capacity;
    size_ = 0;
    rcu_ = &rcu;
    return true;
}

bool lockfree_hash::probe_scalar(uint32_t b, uint32_t key, uint64_t &value, uint32_t *pos) const {
    for (unsigned probe = 0; probe < kMaxProbe; ++probe) {
        const bucket &bk = at(b);
        for (unsigned i = 0; i < kSlotsPerBucket; ++i) {
            if (bk.key[i].load(std::memory_order_acquire) == key) {
                value = bk.value[i].load(std::memory_order_acquire);
                if (pos) *pos = b << 3 | i;
                return true;
            }
        }
        if (bk.overflow.load(std::memory_order_acquire) == 0) return false;
        b = next(b);
    }
    return false;
}

uint32_t lockfree_hash::tag_errors() const {
    uint32_t bad = 0;
    for (uint32_t b = 0; b < n_buckets_; ++b) {
        uint64_t want = uint64_t(at(b).overflow.load(std::memory_order_relaxed) != 0)
                        << (8 * kOverflowByte);
        for (unsigned i = 0; i < kSlotsPerBucket; ++i) {
            const uint32_t k = at(b).key[i].load(std::memory_order_relaxed);
            if (k) want |= uint64_t(tag_for_hash(hash(k))) << (8 * i);
        }
        bad += tags_[b].load(std::memory_order_relaxed) != want;
    }
    return bad;
}

bool lockfree_hash::find(uint32_t key, uint32_t &pos) const {
    uint64_t value;
    return key != 0 && probe_scalar(home_bucket(key), key, value, &pos);
}

void lockfree_hash::set_tag_byte(uint32_t b, unsigned byte, uint8_t v) {
    // One writer: load, change, store (readers see the old word or the new one).
    const uint64_t w = tags_[b].load(std::memory_order_relaxed);
    const unsigned shift = 8 * byte;
    tags_[b].store((w & ~(uint64_t(0xff) << shift)) | uint64_t(v) << shift,
                   std::memory_order_release);
}

void lockfree_hash::add_overflow(uint32_t home, uint32_t b, int delta) {
    for (uint32_t q = home; q != b; q = next(q)) {
        const uint32_t old = at(q).overflow.load(std::memory_order_relaxed);
        const uint32_t count = old + uint32_t(delta);
        at(q).overflow.store(count, std::memory_order_release);
        // The flag changes only between zero and non-zero: no store (and no invalidation of
        // the readers' copy of the tag line) otherwise.
        if ((old == 0) != (count == 0)) set_tag_byte(q, kOverflowByte, count != 0);
    }
}

void lockfree_hash::free_held() {
    release_held();
    rcu_->synchronize();
}

lockfree_hash::upsert_result lockfree_hash::upsert(uint32_t key, uint64_t value,
                                                   uint64_t *old_value, uint32_t *pos) {
    if (key == 0) return upsert_result::full;
    uint32_t p;
    if (find(key, p)) {
        // One writer: a release store publishes; no locked exchange needed.
        std::atomic<uint64_t> &v = at(bucket_of(p)).value[slot_of(p)];
        if (old_value) *old_value = v.load(std::memory_order_relaxed);
        v.store(value, std::memory_order_release);
        if (pos) *pos = p;
        return upsert_result::replaced;
    }
    if (!place(key, p)) return upsert_result::full;
    insert_at(p, key, value);
    if (pos) *pos = p;
    return upsert_result::inserted;
}

bool lockfree_hash::place(uint32_t key, uint32_t &pos) {
    if (key == 0 || size_ >= capacity_) return false;
    if (held_->count >= spare_for(capacity_)) free_held();  // too many wait for their grace period
    const uint32_t home = home_bucket(key);
    for (int attempt = 0; attempt < 2; ++attempt) {
        uint32_t b = home;
        for (unsigned probe = 0; probe < kMaxProbe; ++probe) {
            const bucket &bk = at(b);
            for (unsigned i = 0; i < kSlotsPerBucket; ++i) {
                if (bk.key[i].load(std::memory_order_relaxed) == 0 && !is_held(b, i)) {
                    pos = b << 3 | i;
                    return true;
                }
            }
            b = next(b);
        }
        if (held_->count == 0) break;
        free_held();  // held entries block the way: free them and look again
    }
    return false;
}

void lockfree_hash::insert_at(uint32_t pos, uint32_t key, uint64_t value) {
    const uint32_t b = bucket_of(pos);
    // Raise the counts of the buckets passed over before the key becomes visible.
    add_overflow(home_bucket(key), b, +1);
    // The value first: a reader that sees the key sees its value.
    bucket &bk = at(b);
    bk.value[slot_of(pos)].store(value, std::memory_order_relaxed);
    bk.key[slot_of(pos)].store(key, std::memory_order_release);
    set_tag_byte(b, slot_of(pos), tag_for_hash(hash(key)));
    ++size_;
}

bool lockfree_hash::erase(uint32_t key, uint64_t *old_value) {
    uint32_t p;
    if (!find(key, p)) return false;
    const uint32_t b = bucket_of(p);
    const unsigned i = slot_of(p);
    if (old_value) *old_value = at(b).value[i].load(std::memory_order_relaxed);
    set_tag_byte(b, i, 0);
    at(b).key[i].store(0, std::memory_order_release);
    // Lower the counts only once the key is gone, so no reader stops short of it.
    add_overflow(home_bucket(key), b, -1);
    --size_;
    held_->mask[b] = uint8_t(held_->mask[b] | 1u << i);
    ++held_->count;
    unreleased_.push_back(p);
    if (unreleased_.size() >= kReleaseBatch) release_held();
    return true;
}

void lockfree_hash::release_held() {
    if (unreleased_.empty()) return;
    rcu_->defer([held = held_, entries = std::move(unreleased_)] {
        for (uint32_t p : entries)
            held->mask[bucket_of(p)] = uint8_t(held->mask[bucket_of(p)] & ~(1u << slot_of(p)));
        held->count -= uint32_t(entries.size());
    });
    unreleased_.clear();
    unreleased_.reserve(kReleaseBatch);
}

}  // namespace ssw
