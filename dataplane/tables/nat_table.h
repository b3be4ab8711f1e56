// The binding table: stateless 1:1 bindings of a VM's home address M to its care-of
// address M* (docs/DESIGN.md §2). One writer (the control thread), lock-free readers (workers).
//
// Both M and M* are keys of one hash (lockfree_hash) whose 64-bit values hold the binding
// itself as seen from that key: the other address, the kind, the port, and which of the two
// the key is. A lookup that hits reads one cache line. Hit counters follow each bucket, one
// line per worker, at the matched key's slot: a worker prefetches its line with the bucket
// (the next line of the same DRAM page) and no lookup waits for it.
//
// Changing a binding stores the home key's value with one atomic store, so a packet sees the
// old binding or the new one, never a mix: the new care-of key is inserted first, the old one
// erased last.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include <rte_prefetch.h>

#include "dataplane/net/binding.h"
#include "dataplane/net/net_types.h"
#include "dataplane/tables/lockfree_hash.h"
#include "dataplane/tables/rcu.h"

namespace ssw {

class nat_table {
public:
    // A binding as one lookup found it.
    // An aggregate without initializers: the worker's arrays of them cost nothing to declare;
    // view{} is a miss.
    struct view {
        uint32_t home;     // host order
        uint32_t care_of;  // host order
        uint32_t pos;      // the matched key's entry: counts hits
        uint16_t port;
        binding_kind kind;
        bool found;
        explicit operator bool() const { return found; }
    };

    nat_table() = default;
    nat_table(const nat_table &) = delete;
    nat_table &operator=(const nat_table &) = delete;
    ~nat_table();

    // Room for `capacity` bindings. False when the memory cannot be had.
    bool init(uint32_t capacity, unsigned workers, rcu_domain &rcu);
    // The memory init(capacity, workers) takes.
    static size_t memory_for(uint32_t capacity, unsigned workers);
    size_t memory_bytes() const { return memory_for(capacity_, workers_); }

    // ---- readers ----
    view lookup(uint32_t addr) const {
        uint64_t v;
        uint32_t pos;
        return index_.lookup(addr, v, &pos) ? decode(addr, v, pos) : view{};
    }
    // Looks up n addresses (n <= 64) together (lockfree_hash::lookup_each; `hint` is the
    // caller's, for the next bulk). A worker that will count hits passes its index: its
    // counter line beside each bucket fetched (the next line of the same DRAM page) is
    // prefetched too.
    void lookup_bulk(const uint32_t *addrs, unsigned n, view *out, int counter_worker = -1,
                     lockfree_hash::bulk_hint *hint = nullptr) const {
        index_.lookup_each(
            addrs, n, [&](uint32_t bucket) { prefetch_counters(counter_worker, bucket); },
            [&](unsigned i, bool found, uint64_t v, uint32_t pos) {
                out[i] = found ? decode(addrs[i], v, pos) : view{};
            },
            hint);
    }
    // A worker about to count a hit on `v` fetches the counter's line early.
    void prefetch_hit(const view &v, unsigned worker) const {
        prefetch_counters(int(worker), lockfree_hash::bucket_of(v.pos));
    }
    // Counts a translation by `worker`.
    void hit(const view &v, unsigned worker, uint64_t tsc) const {
        counter_line &c = counters(worker, lockfree_hash::bucket_of(v.pos));
        const unsigned i = lockfree_hash::slot_of(v.pos);
        c.packets[i].store(c.packets[i].load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
        c.last[i].store(uint32_t(tsc >> kTimeShift), std::memory_order_relaxed);
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
    // For a writer applying many updates in a row: fetches the lines set(b) will touch before
    // it comes to b, so that the cache misses of several updates overlap instead of stalling
    // one by one (at 16M bindings each is also a TLB miss). Two steps: step 0 some updates
    // before set(b) (the buckets of both addresses, and the counter lines where a new care-of
    // key goes), step 1 a few updates later, once those lines are in (the bucket of the
    // care-of address that set(b) will replace, found in the home key's bucket). Changes
    // nothing; set(b) needs neither step.
    void prepare_set(const binding &b, unsigned step) const;
    // The shape of such a writer: apply(i) for i = 0 .. n-1 in order, with prepare(i, 0)
    // kPrepareFar calls before apply(i) and prepare(i, 1) kPrepareNear before it.
    static constexpr size_t kPrepareFar = 16, kPrepareNear = 8;
    template <typename Prepare, typename Apply>
    static void pipelined(size_t n, Prepare &&prepare, Apply &&apply) {
        for (size_t i = 0; i < n + kPrepareFar; ++i) {
            if (i < n) prepare(i, 0u);
            if (i >= kPrepareFar - kPrepareNear && i - (kPrepareFar - kPrepareNear) < n)
                prepare(i - (kPrepareFar - kPrepareNear), 1u);
            if (i >= kPrepareFar) apply(i - kPrepareFar);
        }
    }
    bool remove(ip4_addr home);
    uint32_t size() const { return size_; }
    uint32_t capacity() const { return capacity_; }
    // Packets translated by the binding of `home`, summed over workers, and the TSC of the
    // last (to about 2^kTimeShift cycles). The home key's count survives a change of M*; the
    // care-of key's starts with its M*.
    void hits(ip4_addr home, uint64_t &packets, uint64_t &last_tsc) const;
    // The current binding of every home address, in no particular order.
    template <typename F>
    void for_each(F &&f) const {
        index_.for_each([&](uint32_t key, uint64_t v) {
            const view b = decode(key, v, 0);
            if (b.home == key) f(binding{ip4_addr(b.home), ip4_addr(b.care_of), b.kind, b.port});
        });
    }
    const binding *find(ip4_addr home, binding &out) const;

private:
    // A key's value: the other address (bits 0..31), the port (32..47), the kind (48..55),
    // and whether the key is the home address (bit 56).
    static uint64_t encode(uint32_t other, const binding &b, bool key_is_home) {
        return uint64_t(other) | uint64_t(b.port) << 32 | uint64_t(b.kind) << 48 |
               uint64_t(key_is_home) << 56;
    }
    static view decode(uint32_t key, uint64_t v, uint32_t pos) {
        const uint32_t other = uint32_t(v);
        const bool key_is_home = v >> 56 & 1;
        const uint32_t home = key_is_home ? key : other, care_of = key_is_home ? other : key;
        return view{home, care_of, pos, uint16_t(v >> 32), binding_kind(uint8_t(v >> 48)), true};
    }

    // One worker's hit counters for the five entries of one bucket: one cache line.
    struct alignas(64) counter_line {
        std::atomic<uint64_t> packets[lockfree_hash::kSlotsPerBucket];
        std::atomic<uint32_t> last[lockfree_hash::kSlotsPerBucket];
    };
    static_assert(sizeof(counter_line) == 64);
    static constexpr unsigned kTimeShift = 24;
    counter_line &counters(unsigned worker, uint32_t bucket) const {
        return *static_cast<counter_line *>(index_.extra(bucket, worker));
    }
    // Fetches the counter line of `worker` (none when < 0) beside `bucket`. With rte_prefetch0,
    // an asm volatile, not __builtin_prefetch: GCC took this helper with the builtin for code
    // without effect and dropped its calls from lookup_each's loops (no counter line was
    // fetched: worker_bench nat/1M ran at 210 work cycles/packet instead of 78).
    void prefetch_counters(int worker, uint32_t bucket) const {
        if (worker >= 0) rte_prefetch0(&counters(unsigned(worker), bucket));
    }
    // The binding whose home address is `home`, or a miss (also when `home` is only a
    // care-of address).
    view of_home(uint32_t home) const {
        const view v = lookup(home);
        return v && v.home == home ? v : view{};
    }
    // Inserts key (absent) with its counters zeroed before it becomes visible.
    bool insert_key(uint32_t key, uint64_t value);
    void count_kind(binding_kind k, int delta);

    lockfree_hash index_;  // M and M* -> the binding; each bucket followed by its counters
    unsigned workers_ = 0;
    uint32_t capacity_ = 0;
    uint32_t size_ = 0;  // bindings
    std::atomic<uint32_t> n_forward_{0};
    std::atomic<uint32_t> n_local_snat_{0};
};

}  // namespace ssw
