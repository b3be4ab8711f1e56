// Proxy-ARP prefixes per port, read by the slow path (control thread) only. Longest-prefix
// match by hashing: one set of networks per prefix length in use, probed from the longest
// length down, so a lookup costs one probe per length in use, never a scan of the entries.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <unordered_set>
#include <vector>

#include <rte_ethdev.h>

#include "dataplane/net/net_types.h"

namespace ssw {

class proxy_arp_table {
public:
    bool add(uint16_t port, const ip4_prefix &p);     // false when present
    bool remove(uint16_t port, const ip4_prefix &p);  // false when absent
    bool contains(uint16_t port, const ip4_prefix &p) const;
    // The longest prefix on `port` that covers `a`.
    std::optional<ip4_prefix> match(uint16_t port, ip4_addr a) const;
    bool covers(uint16_t port, ip4_addr a) const { return match(port, a).has_value(); }
    // Every (port, prefix), sorted.
    std::vector<std::pair<uint16_t, ip4_prefix>> entries() const;
    size_t size() const { return count_; }

private:
    struct per_port {
        uint64_t lengths = 0;  // bit L set: some prefix of length L exists
        std::array<std::unordered_set<uint32_t>, 33> nets;
    };
    std::array<per_port, RTE_MAX_ETHPORTS> ports_;
    size_t count_ = 0;
};

// Whether a router answers ARP for `a` on `port`: one of its addresses there; or an address
// it proxies there, unless that address is a local binding delivered on that same port (the
// moved VM answers for itself: the paper's case 7, and its own probes and announcements),
// one of the router's addresses elsewhere, or the asker's own address.
// State is the router (live tables, the slow path) or the control model (`arp announce`):
// is_own_address(a, port), proxies(port, a), local_binding_port(a) -> optional<uint16_t>.
template <typename State>
bool answers_arp_for(const State &s, uint16_t port, ip4_addr a, ip4_addr asker = {}) {
    if (s.is_own_address(a, port)) return true;
    if (a == asker || !s.proxies(port, a) || s.is_own_address(a, UINT16_MAX)) return false;
    return s.local_binding_port(a) != std::optional<uint16_t>(port);
}

}  // namespace ssw
