// The control plane's model of a router's configuration: what every command is checked
// against. The executor changes the model first (recording how to undo each change) and
// only when a whole command, or a whole batch, has been accepted does it publish the changes
// to the dataplane's tables. So a refused command or batch never reaches a packet.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "control/router/flat_map.h"
#include "dataplane/net/net_types.h"
#include "dataplane/router.h"
#include "dataplane/tables/nat_table.h"
#include "dataplane/tables/proxy_arp.h"
#include "dataplane/tables/route_table.h"

namespace ssw {

enum class route_origin { connected, local, broadcast, static_route };

struct route_entry {
    route_origin origin = route_origin::static_route;
    next_hop nh;
};

struct binding_entry {
    binding b;
    uint64_t epoch = 0;
};

struct port_settings {
    uint16_t mtu = 1500;
    port_role role = port_role::access;
    bool redirects = false;
};

// A VM whose arrival the router watches for (cmd_arrival).
struct arrival_spec {
    mac_addr mac;
    uint16_t port = 0;
    bool operator==(const arrival_spec &) const = default;
};

struct control_model {
    std::vector<std::vector<interface_address>> addresses;  // per port
    std::map<ip4_prefix, route_entry> routes;
    std::map<ip4_addr, std::pair<mac_addr, uint16_t>> static_neighbors;
    flat_map<binding_entry> bindings;  // by home address
    flat_map<uint32_t> owner;          // M and M* -> M
    flat_map<uint64_t> deleted_epoch;  // M -> epoch its binding was deleted at
    proxy_arp_table proxy;
    std::map<ip4_addr, arrival_spec> arrivals;  // by VM address
    std::vector<port_settings> ports;

    // The interface answers_arp_for (proxy_arp.h) asks of a router's state.
    bool is_own_address(ip4_addr a, uint16_t port = UINT16_MAX) const {
        return holds_address(addresses, a, port);
    }
    bool proxies(uint16_t port, ip4_addr a) const { return proxy.covers(port, a); }
    std::optional<uint16_t> local_binding_port(ip4_addr a) const {
        auto it = bindings.find(a.host());
        if (it == bindings.end() || !it->second.b.is_local()) return std::nullopt;
        return it->second.b.port;
    }
    // The port whose connected subnet holds `a`, or -1.
    int on_link_port(ip4_addr a) const {
        for (size_t p = 0; p < addresses.size(); ++p)
            for (const auto &ia : addresses[p])
                if (ia.subnet().contains(a)) return int(p);
        return -1;
    }
    // tbl8 groups rte_lpm needs for the routes: one per /24 holding a longer prefix.
    uint32_t tbl8_groups_needed() const {
        uint32_t n = 0;
        int64_t last = -1;
        // Sorted by address: the longer prefixes of one /24 are adjacent.
        for (const auto &[pfx, e] : routes) {
            if (pfx.len <= 24) continue;
            const int64_t group = pfx.addr.host() >> 8;
            if (group != last) ++n;
            last = group;
        }
        return n;
    }
};

}  // namespace ssw
