#include "dataplane/tables/proxy_arp.h"

#include <algorithm>

namespace ssw {

bool proxy_arp_table::add(uint16_t port, const ip4_prefix &p) {
    if (port >= ports_.size()) return false;
    per_port &pp = ports_[port];
    if (!pp.nets[p.len].insert(p.addr.host()).second) return false;
    pp.lengths |= uint64_t(1) << p.len;
    ++count_;
    return true;
}

bool proxy_arp_table::remove(uint16_t port, const ip4_prefix &p) {
    if (port >= ports_.size()) return false;
    per_port &pp = ports_[port];
    if (pp.nets[p.len].erase(p.addr.host()) == 0) return false;
    if (pp.nets[p.len].empty()) pp.lengths &= ~(uint64_t(1) << p.len);
    --count_;
    return true;
}

bool proxy_arp_table::contains(uint16_t port, const ip4_prefix &p) const {
    return port < ports_.size() && ports_[port].nets[p.len].count(p.addr.host()) > 0;
}

std::optional<ip4_prefix> proxy_arp_table::match(uint16_t port, ip4_addr a) const {
    if (port >= ports_.size()) return std::nullopt;
    const per_port &pp = ports_[port];
    for (uint64_t lengths = pp.lengths; lengths;) {
        const int len = 63 - __builtin_clzll(lengths);  // longest first
        lengths &= ~(uint64_t(1) << len);
        const uint32_t net = a.host() & ip4_prefix::mask_of(uint8_t(len));
        if (pp.nets[len].count(net)) return ip4_prefix{ip4_addr(net), uint8_t(len)};
    }
    return std::nullopt;
}

std::vector<std::pair<uint16_t, ip4_prefix>> proxy_arp_table::entries() const {
    std::vector<std::pair<uint16_t, ip4_prefix>> out;
    for (uint16_t port = 0; port < ports_.size(); ++port)
        for (unsigned len = 0; len <= 32; ++len)
            for (uint32_t net : ports_[port].nets[len])
                out.emplace_back(port, ip4_prefix{ip4_addr(net), uint8_t(len)});
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace ssw
