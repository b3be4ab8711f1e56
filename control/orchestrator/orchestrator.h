// The orchestrator: moves a VM by updating every router involved, consistently
// (docs/DESIGN.md §6).
//
// The VMs' locations live in a state file. From it, `desired()` derives what each router must
// hold for the managed addresses: at the VM's foreign router a local binding and proxy-ARP
// for the VM's home prefix; at its home router a forward binding and proxy-ARP for M; at
// every other router a forward binding (optimized mode) or nothing (triangle mode). A move
// compares each router's actual state with the desired one and sends the difference as one
// all-or-nothing batch per router, make-before-break: the new foreign router first, then the
// home router, the others, and the old foreign router last. Every binding carries the VM's
// epoch, raised at each move, so a late or repeated update can never win over a newer one.
// If a router refuses or cannot be reached, the routers already changed are put back (at a
// newer epoch) and the move reports which router failed and why. Then the routers announce
// (gratuitous ARP) so that hosts and the VM refresh their caches.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/orchestrator/topology.h"
#include "control/protocol/command.h"
#include "dataplane/net/binding.h"

namespace ssw {

struct vm_state {
    ip4_addr home;
    std::string location;  // subnet name; the home subnet when at home
    ip4_addr care_of;      // zero at home
    bool triangle = false;
    uint64_t epoch = 0;
    bool operator==(const vm_state &) const = default;
};

struct orchestrator_state {
    std::map<ip4_addr, vm_state> vms;

    static bool load(const std::string &path, orchestrator_state &out, std::string &error);
    bool save(const std::string &path, std::string &error) const;
};

struct held_binding {
    binding b;
    uint64_t epoch = 0;
    bool operator==(const held_binding &) const = default;
};

// A VM the router watches for (`arrival watch`): a move to its port is staged.
struct held_arrival {
    mac_addr mac;
    uint16_t port = 0;
    bool operator==(const held_arrival &) const = default;
};

// What one router holds (or must hold) of the managed configuration.
struct router_holdings {
    std::map<ip4_addr, held_binding> bindings;          // by home address
    std::set<std::pair<uint16_t, ip4_prefix>> proxies;  // (port, prefix)
    std::map<ip4_addr, held_arrival> arrivals;          // by home address
    bool operator==(const router_holdings &) const = default;
};

// What every router must hold for the VMs in `st` (only: that router alone).
std::map<std::string, router_holdings> desired(const topology &topo, const orchestrator_state &st,
                                               const std::string *only = nullptr);

// The proxy entries the orchestrator owns on `router`: a managed subnet's prefix, or the
// address of a VM in `homes`, on a port through which that router serves a subnet.
std::set<std::pair<uint16_t, ip4_prefix>> proxy_scope(const topology &topo,
                                                      const std::string &router,
                                                      const std::set<ip4_addr> &homes);

// The announcements (gratuitous ARP) `router` sends once VM `m` has moved from subnet `from`
// to subnet `to`, so that hosts and the VM refresh their caches.
std::vector<cmd_announce> move_announcements(const topology &topo, ip4_addr m,
                                             const std::string &from, const std::string &to,
                                             const std::string &router);

// Talks to one router: sends command lines, returns one JSON reply per line, or nullopt with
// an error when the router cannot be reached.
using router_transport = std::function<std::optional<std::vector<nlohmann::ordered_json>>(
    const topo_router &, const std::vector<std::string> &, std::string &)>;

// What router `r` holds of the managed configuration (bindings and arrival watches of the
// topology's subnets, proxy-ARP entries), read `page` bindings at a time.
bool fetch_holdings(const router_transport &send, const topology &topo, const topo_router &r,
                    uint32_t page, router_holdings &out, std::string &error);
// Sends `cmds` to `r` as one batch: all applied or none; the error names the refused line.
bool apply_batch(const router_transport &send, const topo_router &r,
                 const std::vector<std::string> &cmds, std::string &error);

// The commands that take a router from `actual` to `want`, for the home addresses in `homes`
// and the proxy entries in `proxy_scope` only. `del_epoch` is the epoch of deletions.
std::vector<std::string> diff_commands(const router_holdings &actual, const router_holdings &want,
                                       const std::set<ip4_addr> &homes,
                                       const std::set<std::pair<uint16_t, ip4_prefix>> &proxy_scope,
                                       const std::map<ip4_addr, uint64_t> &del_epoch);

std::string binding_command(const held_binding &h);

class orchestrator {
public:
    // Talks to one router: sends command lines, returns one JSON reply per line, or nullopt
    // with an error when the router cannot be reached.
    using transport = router_transport;

    orchestrator(topology topo, std::string state_path, transport t);

    struct result {
        bool ok = true;
        std::string error;
        std::vector<std::string> log;  // what was done, router by router
        nlohmann::ordered_json data;
    };

    // Moves VM `vm` to subnet `to` (its home subnet: a return). dry_run: only says what it
    // would send.
    result move(const std::string &vm, const std::string &to, std::optional<ip4_addr> care_of,
                bool triangle, bool dry_run);
    result where(const std::string &vm);
    result reconcile(bool dry_run);

    // Bindings per `show nat` page when reading a router's table (each page names the next):
    // as many as the router gives in one.
    uint32_t fetch_page = cmd_show::kShowNatMaxLimit;

private:
    bool fetch(const topo_router &r, router_holdings &out, std::string &error) {
        return fetch_holdings(send_, topo_, r, fetch_page, out, error);
    }
    bool apply(const topo_router &r, const std::vector<std::string> &cmds, std::string &error) {
        return apply_batch(send_, r, cmds, error);
    }
    std::set<std::pair<uint16_t, ip4_prefix>> proxy_scope(const std::string &router,
                                                          const std::set<ip4_addr> &homes) const {
        return ssw::proxy_scope(topo_, router, homes);
    }
    std::optional<ip4_addr> allocate_care_of(const topo_subnet &s, const orchestrator_state &st,
                                             ip4_addr vm) const;
    void announce(const std::string &router, const cmd_announce &a, result &res);

    topology topo_;
    std::string state_path_;
    transport send_;
};

}  // namespace ssw
