// The binding table: stateless 1:1 bindings of a VM's home address M to its care-of
// address M* (DESIGN.md §1). One writer (the control thread), lock-free readers (workers).
//
// Each binding lives in one cache-line slot: the immutable binding (addresses, kind, port)
// and, after it, one hit counter per worker, so that a lookup that hits touches two lines
// (the hash bucket and the slot) and the counter update costs no third miss. Both M and M*
// are keys of the hash, pointing at the same slot; which one matched tells the direction.
//
// Changing a binding publishes a new slot and swaps the keys' values with single atomic
// stores, so a packet sees the old binding or the new one, never a mix. The old slot is
// freed after an RCU grace period.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <rte_prefetch.h>

#include "dataplane/binding.h"
#include "dataplane/lockfree_hash.h"
#include "dataplane/net_types.h"
#include "dataplane/rcu.h"

namespace ssw {

class nat_table {
public:
    struct hit_counter {
        std::atomic<uint64_t> packets{0};
        std::atomic<uint64_t> last_tsc{0};
    };
    // What workers read: the binding, then one hit counter per worker.
    // A slot starts on a cache line (the stride is a multiple of 64); with up to three
    // workers the binding and its counters share that line.
    struct slot {
        uint32_t home;     // host order
        uint32_t care_of;  // host order
        uint16_t port;
        binding_kind kind;
        uint8_t unused[5];
        // The hit counters follow the binding, one per worker, within the slot's stride.
        hit_counter &hits(unsigned worker) {
            return reinterpret_cast<hit_counter *>(reinterpret_cast<uint8_t *>(this) + sizeof(slot))[worker];
        }
        const hit_counter &hits(unsigned worker) const { return const_cast<slot *>(this)->hits(worker); }
    };
    static_assert(sizeof(hit_counter) == 16);
    static_assert(sizeof(slot) == 16);

    nat_table() = default;
    nat_table(const nat_table &) = delete;
    nat_table &operator=(const nat_table &) = delete;
    ~nat_table();

    // Room for `capacity` bindings. False when the memory cannot be had.
    bool init(uint32_t capacity, unsigned workers, rcu_domain &rcu);

    // ---- readers ----
    const slot *at(uint32_t idx) const {
        return reinterpret_cast<const slot *>(slots_ + size_t(idx) * stride_);
    }
    const slot *lookup(uint32_t addr) const {
        uint32_t idx;
        return index_.lookup(addr, idx) ? at(idx) : nullptr;
    }
    // Looks up n addresses (n <= 64), prefetching buckets, then slots. out[i] is nullptr for
    // a miss.
    void lookup_bulk(const uint32_t *addrs, unsigned n, const slot **out) const {
        uint32_t home[64];
        for (unsigned i = 0; i < n; ++i) home[i] = index_.prefetch(addrs[i]);
        for (unsigned i = 0; i < n; ++i) {
            uint32_t idx;
            if (index_.lookup_prefetched(home[i], addrs[i], idx)) {
                out[i] = at(idx);
                rte_prefetch0(out[i]);
            } else {
                out[i] = nullptr;
            }
        }
    }
    // Counts a translation by `worker`.
    static void hit(const slot *s, unsigned worker, uint64_t tsc) {
        hit_counter &h = const_cast<slot *>(s)->hits(worker);
        h.packets.store(h.packets.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        h.last_tsc.store(tsc, std::memory_order_relaxed);
    }
    // Whether any binding of the kinds that translate sources on access (forward) or core
    // (local) egress exists: workers skip source lookups that cannot match.
    bool has_forward() const { return n_forward_.load(std::memory_order_relaxed) != 0; }
    bool has_local_snat() const { return n_local_snat_.load(std::memory_order_relaxed) != 0; }
    bool empty() const { return index_.size() == 0; }

    // ---- the writer ----
    // Inserts or replaces the binding of b.home. Refuses (with a message) when the table is
    // full or b.care_of is a key of another binding.
    bool set(const binding &b, std::string &error);
    bool remove(ip4_addr home);
    uint32_t size() const { return size_; }
    uint32_t capacity() const { return capacity_; }
    // Packets translated by the binding of `home` and the TSC of the last, summed over workers.
    void hits(ip4_addr home, uint64_t &packets, uint64_t &last_tsc) const;
    // The current binding of every home address, in no particular order.
    template <typename F>
    void for_each(F &&f) const {
        index_.for_each([&](uint32_t key, uint32_t idx) {
            const slot *s = at(idx);
            if (s->home == key) f(binding{ip4_addr(s->home), ip4_addr(s->care_of), s->kind, s->port});
        });
    }
    const binding *find(ip4_addr home, binding &out) const;

private:
    slot *mut(uint32_t idx) { return reinterpret_cast<slot *>(slots_ + size_t(idx) * stride_); }
    // The slot of the binding whose home address is `home`, or UINT32_MAX. The index maps
    // both addresses of a binding to its slot; the home key is the one equal to slot->home.
    uint32_t slot_of(uint32_t home) const {
        uint32_t idx;
        return index_.lookup(home, idx) && at(idx)->home == home ? idx : UINT32_MAX;
    }
    uint32_t take_slot();
    void release_slot(uint32_t idx);
    void count_kind(binding_kind k, int delta);

    lockfree_hash index_;  // M and M* -> slot index
    uint8_t *slots_ = nullptr;
    bool slots_from_dpdk_ = false;
    size_t stride_ = 0;
    unsigned workers_ = 0;
    uint32_t capacity_ = 0;
    uint32_t n_slots_ = 0;
    std::vector<uint32_t> free_;
    // Slots unlinked since the last grace period was started: they go back to free_ together,
    // one RCU token for many (a token is an atomic on a line every reader reads).
    std::vector<uint32_t> unlinked_;
    static constexpr size_t kReleaseBatch = 256;
    void defer_unlinked();
    uint32_t size_ = 0;  // bindings
    std::atomic<uint32_t> n_forward_{0};
    std::atomic<uint32_t> n_local_snat_{0};
    rcu_domain *rcu_ = nullptr;
};

}  // namespace ssw
