#include "dataplane/nat_table.h"

#include <fmt/format.h>

#include "dataplane/memory.h"

namespace ssw {

nat_table::~nat_table() { table_free(slots_, slots_from_dpdk_); }

bool nat_table::init(uint32_t capacity, unsigned workers, rcu_domain &rcu) {
    workers_ = std::max(1u, workers);
    stride_ = (sizeof(slot) + sizeof(hit_counter) * workers_ + 63) / 64 * 64;
    // Replacements hold an extra slot until their grace period ends; the writer waits for
    // one when these spares run out (take_slot).
    n_slots_ = capacity + std::min<uint32_t>(capacity, 4096) + 1;
    slots_ = static_cast<uint8_t *>(table_alloc(size_t(n_slots_) * stride_, slots_from_dpdk_));
    if (!slots_) return false;
    // Each binding has two keys; a replacement briefly holds three.
    if (!index_.init(capacity * 2 + 2)) return false;
    free_.reserve(n_slots_);
    for (uint32_t i = n_slots_; i-- > 0;) free_.push_back(i);
    capacity_ = capacity;
    rcu_ = &rcu;
    return true;
}

uint32_t nat_table::take_slot() {
    if (free_.empty()) {
        defer_unlinked();
        rcu_->reclaim();  // slots whose grace period is over
    }
    if (free_.empty()) {
        rcu_->synchronize();  // wait for one: every deferred slot comes back
        if (free_.empty()) return UINT32_MAX;
    }
    uint32_t idx = free_.back();
    free_.pop_back();
    return idx;
}

void nat_table::release_slot(uint32_t idx) {
    unlinked_.push_back(idx);
    if (unlinked_.size() >= kReleaseBatch) defer_unlinked();
}

void nat_table::defer_unlinked() {
    if (unlinked_.empty()) return;
    rcu_->defer([this, slots = std::move(unlinked_)] { free_.insert(free_.end(), slots.begin(), slots.end()); });
    unlinked_.clear();
    unlinked_.reserve(kReleaseBatch);
}

void nat_table::count_kind(binding_kind k, int delta) {
    // One writer: a plain store (no locked instruction on a line the workers read).
    std::atomic<uint32_t> *n = k == binding_kind::forward ? &n_forward_
                               : k == binding_kind::local ? &n_local_snat_
                                                          : nullptr;
    if (n) n->store(n->load(std::memory_order_relaxed) + uint32_t(delta), std::memory_order_relaxed);
}

const binding *nat_table::find(ip4_addr home, binding &out) const {
    const uint32_t idx = slot_of(home.host());
    if (idx == UINT32_MAX) return nullptr;
    const slot *s = at(idx);
    out = binding{ip4_addr(s->home), ip4_addr(s->care_of), s->kind, s->port};
    return &out;
}

bool nat_table::set(const binding &b, std::string &error) {
    const uint32_t m = b.home.host(), ms = b.care_of.host();
    if (m == 0 || ms == 0 || m == ms) {
        error = "home and care-of addresses must be distinct and non-zero";
        return false;
    }
    // M may be the care-of address of no binding; M* may be a key only of this same binding
    // (its current care-of address).
    const auto taken = [&](uint32_t key, uint32_t idx) {
        const slot *o = at(idx);
        error = fmt::format("{} is already {} of the binding of {}", ip4_addr(key).to_string(),
                            o->care_of == key ? "the care-of address" : "the home address",
                            ip4_addr(o->home).to_string());
        return false;
    };
    // Both buckets load at once (at 1M bindings each is a cache miss).
    index_.prefetch(m);
    index_.prefetch(ms);
    uint32_t existing = UINT32_MAX, other;
    if (index_.lookup(m, other)) {
        if (at(other)->home != m) return taken(m, other);
        existing = other;
        index_.prefetch(at(existing)->care_of);  // the key that goes
    }
    if (index_.lookup(ms, other) && other != existing) return taken(ms, other);
    if (existing == UINT32_MAX && size_ >= capacity_) {
        error = fmt::format("binding table full ({} bindings)", capacity_);
        return false;
    }
    const uint32_t idx = take_slot();
    if (idx == UINT32_MAX) {
        error = "binding table out of slots";
        return false;
    }
    slot *s = mut(idx);
    s->home = m;
    s->care_of = ms;
    s->port = b.port;
    s->kind = b.kind;
    for (unsigned w = 0; w < workers_; ++w) {
        s->hits(w).packets.store(0, std::memory_order_relaxed);
        s->hits(w).last_tsc.store(0, std::memory_order_relaxed);
    }
    // The slot is written before any key points at it (upsert publishes with release).
    // New care-of key first, then the home key swaps to the new slot in one store, then the
    // old care-of key goes: a packet sees the old binding or the new one.
    index_.upsert(ms, idx);
    index_.upsert(m, idx);
    if (existing != UINT32_MAX) {
        const slot *os = at(existing);
        if (os->care_of != ms) index_.erase(os->care_of);
        if (os->kind != b.kind) {
            count_kind(b.kind, +1);
            count_kind(os->kind, -1);
        }
        release_slot(existing);
    } else {
        count_kind(b.kind, +1);
        ++size_;
    }
    return true;
}

bool nat_table::remove(ip4_addr home) {
    const uint32_t idx = slot_of(home.host());
    if (idx == UINT32_MAX) return false;
    const slot *s = at(idx);
    index_.erase(s->home);
    index_.erase(s->care_of);
    count_kind(s->kind, -1);
    --size_;
    release_slot(idx);
    return true;
}

void nat_table::hits(ip4_addr home, uint64_t &packets, uint64_t &last_tsc) const {
    packets = last_tsc = 0;
    const uint32_t idx = slot_of(home.host());
    if (idx == UINT32_MAX) return;
    const slot *s = at(idx);
    for (unsigned w = 0; w < workers_; ++w) {
        packets += s->hits(w).packets.load(std::memory_order_relaxed);
        last_tsc = std::max(last_tsc, s->hits(w).last_tsc.load(std::memory_order_relaxed));
    }
}

}  // namespace ssw
