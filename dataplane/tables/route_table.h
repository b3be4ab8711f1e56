// The IPv4 routing table: rte_lpm from prefix to a next-hop index, and the next-hop array
// the index points into. Workers read both lock-free; the control thread is the only writer.
// rte_lpm reclaims its tbl8 groups through RCU QSBR (rte_lpm_rcu_qsbr_add); next-hop slots
// are reused only after a grace period, so a worker holding an index from an earlier lookup
// still reads the entry it found.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <rte_lpm.h>

#include "dataplane/net/net_types.h"
#include "dataplane/tables/rcu.h"

namespace ssw {

struct next_hop {
    enum class kind : uint8_t {
        local,      // one of the router's own addresses: deliver to the slow path
        connected,  // on-link: the destination itself is the neighbor
        gateway,    // via a neighbor router
        blackhole,  // drop silently (counted)
        broadcast,  // a connected subnet's broadcast or network address: never forwarded
    };
    kind type = kind::blackhole;
    uint16_t port = 0;
    ip4_addr gateway;

    constexpr auto operator<=>(const next_hop &) const = default;
};

class route_table {
public:
    static constexpr uint32_t kMaxNextHops = 1u << 16;

    route_table() = default;
    route_table(const route_table &) = delete;
    route_table &operator=(const route_table &) = delete;
    ~route_table();

    bool init(const std::string &name, uint32_t max_routes, uint32_t tbl8_groups, rcu_domain &rcu,
              std::string &error);

    // ---- readers ----
    const next_hop &hop(uint32_t index) const { return hops_[index]; }
    // nullptr when no route matches.
    const next_hop *lookup(ip4_addr dst) const {
        uint32_t idx;
        if (rte_lpm_lookup(lpm_, dst.host(), &idx) != 0) idx = default_hop();
        return idx == kNoRoute ? nullptr : &hops_[idx];
    }
    // The next-hop index of each of n destinations (host order), the default route's where
    // the LPM has no match, kNoRoute where neither: four at a time, as l3fwd does.
    void lookup_bulk(const uint32_t *dsts, uint32_t *hops, unsigned n) const {
        const uint32_t dflt = default_hop();
        unsigned i = 0;
        for (; i + 4 <= n; i += 4) {
            xmm_t four;
            std::memcpy(&four, dsts + i, sizeof four);
            rte_lpm_lookupx4(lpm_, four, hops + i, dflt);
        }
        for (; i < n; ++i)
            if (rte_lpm_lookup(lpm_, dsts[i], &hops[i]) != 0) hops[i] = dflt;
    }
    // rte_lpm takes depths 1..32: the default route (/0) is kept here, and used when the
    // LPM has no match. kNoRoute when there is none.
    static constexpr uint32_t kNoRoute = UINT32_MAX;
    uint32_t default_hop() const { return default_.load(std::memory_order_acquire); }

    // ---- the writer ----
    // Adds a route, or replaces the next hop of an existing prefix atomically. The prefix
    // must have no host bits set.
    bool set(const ip4_prefix &prefix, const next_hop &nh, std::string &error);
    bool remove(const ip4_prefix &prefix);
    // The next hop of exactly `prefix`, if it is a route (asked of the LPM: the table keeps
    // no list of its own; the control model has the routes with their origins).
    const next_hop *find(const ip4_prefix &prefix) const;
    uint32_t size() const { return size_; }
    uint32_t max_routes() const { return max_routes_; }

private:
    uint32_t acquire_hop(const next_hop &nh, std::string &error);
    void release_hop(const next_hop &nh);

    rte_lpm *lpm_ = nullptr;
    rcu_domain *rcu_ = nullptr;
    uint32_t max_routes_ = 0;
    std::vector<next_hop> hops_;                                 // read by workers
    std::map<next_hop, std::pair<uint32_t, uint32_t>> hop_ids_;  // nh -> (index, refcount)
    std::vector<uint32_t> free_hops_;
    uint32_t size_ = 0;  // routes held, the default route included
    std::atomic<uint32_t> default_{kNoRoute};
};

}  // namespace ssw
