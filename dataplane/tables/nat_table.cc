#include "dataplane/tables/nat_table.h"

#include <algorithm>

#include <fmt/format.h>

namespace ssw {

nat_table::~nat_table() = default;

namespace {
// Each binding has two keys; a replacement briefly holds three.
uint32_t keys_for(uint32_t capacity) { return capacity * 2 + 2; }
}  // namespace

size_t nat_table::memory_for(uint32_t capacity, unsigned workers) {
    return lockfree_hash::memory_for(keys_for(capacity), std::max(1u, workers));
}

bool nat_table::init(uint32_t capacity, unsigned workers, rcu_domain &rcu) {
    if (capacity > (UINT32_MAX - 2) / 2) return false;
    workers_ = std::max(1u, workers);
    // One counter line per worker after each bucket (zeroed memory).
    if (!index_.init(keys_for(capacity), rcu, workers_)) return false;
    capacity_ = capacity;
    return true;
}

void nat_table::count_kind(binding_kind k, int delta) {
    // One writer: a plain store (no locked instruction on a line the workers read).
    std::atomic<uint32_t> *n = k == binding_kind::forward ? &n_forward_
                               : k == binding_kind::local ? &n_local_snat_
                                                          : nullptr;
    if (n)
        n->store(n->load(std::memory_order_relaxed) + uint32_t(delta), std::memory_order_relaxed);
}

const binding *nat_table::find(ip4_addr home, binding &out) const {
    const view v = of_home(home.host());
    if (!v) return nullptr;
    out = binding{ip4_addr(v.home), ip4_addr(v.care_of), v.kind, v.port};
    return &out;
}

bool nat_table::insert_key(uint32_t key, uint64_t value) {
    uint32_t pos;
    if (!index_.place(key, pos)) return false;
    // No reader can hold this entry's old key (it was held for a grace period): its counters
    // are zeroed before the new key becomes visible.
    for (unsigned w = 0; w < workers_; ++w) {
        counter_line &c = counters(w, lockfree_hash::bucket_of(pos));
        c.packets[lockfree_hash::slot_of(pos)].store(0, std::memory_order_relaxed);
        c.last[lockfree_hash::slot_of(pos)].store(0, std::memory_order_relaxed);
    }
    index_.insert_at(pos, key, value);
    return true;
}

bool nat_table::set(const binding &b, std::string &error) {
    const uint32_t m = b.home.host(), ms = b.care_of.host();
    if (m == 0 || ms == 0 || m == ms) {
        error = "home and care-of addresses must be distinct and non-zero";
        return false;
    }
    // M may be the care-of address of no binding; M* may be a key only of this same binding
    // (its current care-of address).
    const auto taken = [&](uint32_t key, const view &o) {
        error = fmt::format("{} is already {} of the binding of {}", ip4_addr(key).to_string(),
                            o.care_of == key ? "the care-of address" : "the home address",
                            ip4_addr(o.home).to_string());
        return false;
    };
    // Both buckets load at once (at 1M bindings each is a cache miss).
    index_.prefetch(m);
    index_.prefetch(ms);
    const view old = lookup(m);
    if (old && old.home != m) return taken(m, old);
    if (old) index_.prefetch(old.care_of);  // the key that goes
    const view by_ms = lookup(ms);
    if (by_ms && by_ms.home != m) return taken(ms, by_ms);
    if (!old && size_ >= capacity_) {
        error = fmt::format("binding table full ({} bindings)", capacity_);
        return false;
    }
    const auto no_room = [&] {
        error = fmt::format("binding table has no room for {} (hash probe limit)",
                            ip4_addr(ms).to_string());
        return false;
    };
    // New care-of key first (or its new value), then the home key in one store, then the old
    // care-of key goes: a packet sees the old binding or the new one.
    if (by_ms)
        index_.upsert(ms, encode(m, b, false));
    else if (!insert_key(ms, encode(m, b, false)))
        return no_room();
    if (old) {
        index_.upsert(m, encode(ms, b, true));
        if (old.care_of != ms) index_.erase(old.care_of);
        if (old.kind != b.kind) {
            count_kind(b.kind, +1);
            count_kind(old.kind, -1);
        }
        return true;
    }
    if (!insert_key(m, encode(ms, b, true))) {
        index_.erase(ms);
        return no_room();
    }
    count_kind(b.kind, +1);
    ++size_;
    return true;
}

void nat_table::prepare_set(const binding &b, unsigned step) const {
    if (step == 0) {
        index_.prefetch(b.home.host());
        const uint32_t bucket = index_.prefetch(b.care_of.host());
        for (unsigned w = 0; w < workers_; ++w) prefetch_counters(int(w), bucket);
        return;
    }
    const view old = lookup(b.home.host());
    if (old && old.care_of != b.care_of.host()) index_.prefetch(old.care_of);
}

bool nat_table::remove(ip4_addr home) {
    const view v = of_home(home.host());
    if (!v) return false;
    index_.erase(v.home);
    index_.erase(v.care_of);
    count_kind(v.kind, -1);
    --size_;
    return true;
}

void nat_table::hits(ip4_addr home, uint64_t &packets, uint64_t &last_tsc) const {
    packets = last_tsc = 0;
    const view v = of_home(home.host());
    if (!v) return;
    const view c = lookup(v.care_of);
    for (const view *k : {&v, &c}) {
        if (!*k) continue;
        for (unsigned w = 0; w < workers_; ++w) {
            const counter_line &l = counters(w, lockfree_hash::bucket_of(k->pos));
            const unsigned i = lockfree_hash::slot_of(k->pos);
            packets += l.packets[i].load(std::memory_order_relaxed);
            last_tsc = std::max(last_tsc, uint64_t(l.last[i].load(std::memory_order_relaxed))
                                              << kTimeShift);
        }
    }
}

}  // namespace ssw
