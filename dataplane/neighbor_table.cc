#include "dataplane/neighbor_table.h"

namespace ssw {

bool neighbor_table::init(uint32_t capacity, rcu_domain &rcu) {
    if (!index_.init(capacity)) return false;
    words_ = std::vector<std::atomic<uint64_t>>(capacity);
    free_.reserve(capacity);
    for (uint32_t i = capacity; i-- > 0;) free_.push_back(i);
    rcu_ = &rcu;
    return true;
}

bool neighbor_table::set(ip4_addr ip, const mac_addr &mac, uint16_t port) {
    uint32_t idx;
    if (index_.lookup(ip.host(), idx)) {
        words_[idx].store(pack(mac, port), std::memory_order_release);
        return true;
    }
    if (free_.empty()) return false;
    idx = free_.back();
    words_[idx].store(pack(mac, port), std::memory_order_release);
    if (index_.upsert(ip.host(), idx) == lockfree_hash::upsert_result::full) return false;
    free_.pop_back();
    return true;
}

bool neighbor_table::remove(ip4_addr ip) {
    uint32_t idx;
    if (!index_.erase(ip.host(), &idx)) return false;
    // A worker may still hold idx from a lookup begun before the erase.
    rcu_->defer([this, idx] { free_.push_back(idx); });
    return true;
}

}  // namespace ssw
