#include "dataplane/tables/route_table.h"

#include <optional>

#include <fmt/format.h>
#include <rte_errno.h>

namespace ssw {

route_table::~route_table() {
    if (lpm_) rte_lpm_free(lpm_);
}

bool route_table::init(const std::string &name, uint32_t max_routes, uint32_t tbl8_groups,
                       rcu_domain &rcu, std::string &error) {
    rte_lpm_config cfg{};
    cfg.max_rules = max_routes;
    cfg.number_tbl8s = tbl8_groups;
    lpm_ = rte_lpm_create(name.c_str(), SOCKET_ID_ANY, &cfg);
    if (!lpm_) {
        error = fmt::format("cannot create route table ({} routes, {} tbl8 groups): {}", max_routes,
                            tbl8_groups, rte_strerror(rte_errno));
        return false;
    }
    rte_lpm_rcu_config rcfg{};
    rcfg.v = rcu.qsbr();
    rcfg.mode = RTE_LPM_QSBR_MODE_DQ;
    if (rte_lpm_rcu_qsbr_add(lpm_, &rcfg) != 0) {
        error = fmt::format("cannot attach RCU to the route table: {}", rte_strerror(rte_errno));
        return false;
    }
    rcu_ = &rcu;
    max_routes_ = max_routes;
    hops_.resize(kMaxNextHops);
    free_hops_.reserve(kMaxNextHops);
    for (uint32_t i = kMaxNextHops; i-- > 0;) free_hops_.push_back(i);
    return true;
}

uint32_t route_table::acquire_hop(const next_hop &nh, std::string &error) {
    auto it = hop_ids_.find(nh);
    if (it != hop_ids_.end()) {
        ++it->second.second;
        return it->second.first;
    }
    if (free_hops_.empty()) {
        error = fmt::format("next-hop table full ({} distinct next hops)", kMaxNextHops);
        return UINT32_MAX;
    }
    uint32_t idx = free_hops_.back();
    free_hops_.pop_back();
    // The slot is unreferenced (its last user's grace period has passed), so plain writes
    // are safe; the LPM update that publishes the index orders them before any reader use.
    hops_[idx] = nh;
    hop_ids_.emplace(nh, std::make_pair(idx, 1u));
    return idx;
}

void route_table::release_hop(const next_hop &nh) {
    auto it = hop_ids_.find(nh);
    if (it == hop_ids_.end()) return;
    if (--it->second.second > 0) return;
    uint32_t idx = it->second.first;
    hop_ids_.erase(it);
    rcu_->defer([this, idx] { free_hops_.push_back(idx); });
}

bool route_table::set(const ip4_prefix &prefix, const next_hop &nh, std::string &error) {
    if (prefix.has_host_bits()) {
        error = fmt::format("{} has host bits set", prefix.to_string());
        return false;
    }
    const next_hop *existing = find(prefix);
    const std::optional<next_hop> old = existing ? std::optional(*existing) : std::nullopt;
    if (!old && size_ >= max_routes_) {
        error = fmt::format("route table full ({} routes)", max_routes_);
        return false;
    }
    uint32_t idx = acquire_hop(nh, error);
    if (idx == UINT32_MAX) return false;
    int rc = prefix.len == 0 ? 0 : rte_lpm_add(lpm_, prefix.addr.host(), prefix.len, idx);
    if (rc == -ENOSPC) {
        // tbl8 groups freed by earlier deletes come back only after a grace period (the
        // LPM's RCU defer queue); wait for one and try again.
        rte_rcu_qsbr_synchronize(rcu_->qsbr(), RTE_QSBR_THRID_INVALID);
        rc = rte_lpm_add(lpm_, prefix.addr.host(), prefix.len, idx);
    }
    if (prefix.len == 0) default_.store(idx, std::memory_order_release);
    if (rc != 0) {
        release_hop(nh);
        error = rc == -ENOSPC
                    ? fmt::format("route table out of tbl8 groups adding {}", prefix.to_string())
                    : fmt::format("cannot add {}: {}", prefix.to_string(), rte_strerror(-rc));
        return false;
    }
    if (old)
        release_hop(*old);
    else
        ++size_;
    return true;
}

bool route_table::remove(const ip4_prefix &prefix) {
    const next_hop *existing = find(prefix);
    if (!existing) return false;
    const next_hop old = *existing;
    if (prefix.len == 0)
        default_.store(kNoRoute, std::memory_order_release);
    else if (rte_lpm_delete(lpm_, prefix.addr.host(), prefix.len) != 0)
        return false;
    --size_;
    release_hop(old);
    return true;
}

const next_hop *route_table::find(const ip4_prefix &prefix) const {
    uint32_t idx = kNoRoute;
    if (prefix.len == 0)
        idx = default_hop();
    else if (rte_lpm_is_rule_present(lpm_, prefix.addr.host(), prefix.len, &idx) != 1)
        return nullptr;
    return idx == kNoRoute ? nullptr : &hops_[idx];
}

}  // namespace ssw
