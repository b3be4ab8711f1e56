// The description of a deployment that the orchestrator (sswctl migrate …) works from:
// its routers and their control sockets, the access subnets each router serves, and the
// care-of address pool of each subnet. A JSON file (format in conf/README.md):
//
//   {
//     "routers": { "R1": { "socket": "/run/ssw/r1.sock" }, ... },
//     "subnets": {
//       "home": { "prefix": "192.168.11.0/24", "router": "R3", "port": 1,
//                 "gateway": "192.168.11.1", "care_of_pool": "192.168.11.200-192.168.11.250" },
//       ...
//     },
//     "vms": { "C": "192.168.11.3",           (optional names for VM addresses, and MACs)
//              "Q": { "address": "192.168.11.5", "mac": "52:54:00:00:11:05" } },
//     "state": "/var/lib/ssw/testbed.state"   (where the orchestrator keeps VM locations)
//   }
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dataplane/net/net_types.h"

namespace ssw {

struct topo_router {
    std::string name;
    std::string socket;  // empty: none given (the topology of an etcd deployment)
};

struct topo_subnet {
    std::string name;
    ip4_prefix prefix;
    std::string router;  // the router whose access port serves it
    uint16_t port = 0;
    ip4_addr gateway;
    ip4_addr pool_first, pool_last;  // care-of addresses handed out here; none when first > last
    bool has_pool() const { return !pool_first.is_zero() && pool_first <= pool_last; }
};

struct topology {
    std::map<std::string, topo_router> routers;
    std::map<std::string, topo_subnet> subnets;
    std::map<std::string, ip4_addr> vms;  // name -> home address
    // VM home address -> its MAC, where given: what its hypervisor's RARPs name after a live
    // migration (`sswctl migrate --on-arrival`, docs/DESIGN.md §2.6).
    std::map<ip4_addr, mac_addr> vm_macs;
    std::string state_path;
    // The subnets by network address (parse() fills it): as they never overlap, the one that
    // holds an address is the last whose network address is not above it.
    std::map<ip4_addr, std::string> by_network;

    // Parses and checks a topology; false with a message naming the problem.
    static bool load(const std::string &path, topology &out, std::string &error);
    static bool parse(const std::string &text, topology &out, std::string &error);

    // The subnet whose prefix holds `a` (a lookup in by_network, not a scan).
    const topo_subnet *subnet_of(ip4_addr a) const;
    const topo_subnet *subnet(const std::string &name) const;
    // A VM given by name or address.
    std::optional<ip4_addr> vm_address(const std::string &name_or_address) const;
    std::string vm_name(ip4_addr a) const;
};

}  // namespace ssw
