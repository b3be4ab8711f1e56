// The deployment's desired state as etcd holds it (docs/DESIGN.md §6.2): the key layout, the VM
// records with their move phase, and what each router must hold at a given phase. Shared by
// sswctl (which writes the records, control/cluster/mover.h) and ssw-agent (which applies
// them to its router, control/agent/). No DPDK, no etcd calls: values and pure functions.
//
// Keys, under a prefix (default "/ssw/v1/"):
//   desired/topology      the topology (control/orchestrator/topology.h), JSON
//   desired/vm/<M>        a VM's record (vm_record), JSON; absent: at home, never moved
//   desired/resync        written by `sswctl reconcile`: every agent re-reads its router
//   careof/<A>            care-of address A is taken: {"vm": M}; created only if absent; on
//                         release rewritten on a lease of the hold time, so it frees itself
//   lock/<M>              a move of M under way: its id, on the mover's lease
//   status/<router>       what that router's agent applied (router_status), on its lease
// Agents watch desired/ only: the status keys, written at every apply, do not reach them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "control/orchestrator/orchestrator.h"
#include "control/orchestrator/topology.h"

namespace ssw::cluster {

struct keys {
    std::string prefix = "/ssw/v1/";

    std::string desired() const { return prefix + "desired/"; }
    std::string topology() const { return prefix + "desired/topology"; }
    std::string vms() const { return prefix + "desired/vm/"; }
    std::string vm(ip4_addr m) const { return vms() + m.to_string(); }
    std::string resync() const { return prefix + "desired/resync"; }
    std::string care_ofs() const { return prefix + "careof/"; }
    std::string care_of(ip4_addr a) const { return care_ofs() + a.to_string(); }
    std::string lock(ip4_addr m) const { return prefix + "lock/" + m.to_string(); }
    std::string statuses() const { return prefix + "status/"; }
    std::string status(const std::string &router) const { return statuses() + router; }
};

// A move's progress, make-before-break (docs/DESIGN.md §6.2): `prepare` gives the new state to
// the new foreign router only; `switch` to every router but the old foreign one; `done` to all.
// A move that awaits the VM's arrival stays at `prepare` until the router of its new subnet
// sees the VM there, and its prepare gives that router only the watch.
enum class move_phase { prepare, switch_over, done };
const char *to_string(move_phase p);
std::optional<move_phase> parse_move_phase(const std::string &s);

// A VM's record: where it is going (`now`), where it was (`prev`), and how far the move is.
// At rest (phase done) `now` is where it is. Epochs rise by one per move and per rollback;
// they are not etcd revisions (they survive a rebuilt cluster).
struct vm_record {
    vm_state now;
    std::optional<vm_state> prev;
    move_phase phase = move_phase::done;
    std::string move_id;    // who started the move, for messages and to announce once
    bool rollback = false;  // this move puts back a move that failed
    // A move whose switch waits for the VM's arrival (sswctl migrate --on-arrival): at prepare
    // the router of `now`'s subnet also watches for this MAC there (docs/DESIGN.md §2.6),
    // and its agent writes the switch when the VM shows up; `arrived` says where and how.
    std::optional<mac_addr> await_arrival;
    std::string arrived;

    std::string to_json() const;
    // Parses a record of VM `m`; false with a message when the text is not one.
    static bool parse(ip4_addr m, const std::string &text, vm_record &out, std::string &error);
    bool operator==(const vm_record &) const = default;
};

// The desired state at one revision: the topology and every VM record.
struct desired_state {
    topology topo;
    std::map<ip4_addr, vm_record> vms;
    int64_t revision = 0;
};

// The state of `r.now`'s VM that router `router` must hold at `phase`.
const vm_state &view_of(const topology &topo, const vm_record &r, move_phase phase,
                        const std::string &router);

// What `router` must hold for every managed VM, each at its record's phase; with `vms`, for
// those VMs only (their bindings, and the proxy entries they call for).
router_holdings desired_for(const desired_state &d, const std::string &router,
                            const std::set<ip4_addr> *vms = nullptr);

// The VMs with a record whose home subnet is one of those of `homes`: the VMs whose records
// decide the proxy entries that VMs `homes` call for.
std::set<ip4_addr> same_home_subnets(const desired_state &d, const std::set<ip4_addr> &homes);

// The router that watches for `r`'s arrival at its prepare phase (that of `r.now`'s subnet),
// and the watch; nullptr when the move does not await it.
const topo_subnet *arrival_subnet(const topology &topo, const vm_record &r);

// The routers whose holdings change when VM `m`'s move enters `phase` (from the phase before;
// prepare: from `prev` everywhere). They must acknowledge before the move goes on.
std::set<std::string> routers_changed(const desired_state &d, ip4_addr m, move_phase phase);

// The announcements (gratuitous ARP) `router` sends when a move of `r` is done: the same as
// the local orchestrator's (control/orchestrator/orchestrator.cc).
std::vector<cmd_announce> announcements(const topology &topo, const vm_record &r,
                                        const std::string &router);

// What an agent reports under status/<router> (on its lease): the revision of desired/ its
// router holds, and the VMs it could not apply.
struct router_status {
    int64_t revision = 0;   // the router holds the desired state of this revision
    bool router_up = true;  // false: the control socket does not answer; `error` says why
    std::string error;
    struct failure {
        ip4_addr vm;
        uint64_t epoch = 0;
        std::string error;
        bool operator==(const failure &) const = default;
    };
    std::vector<failure> failures;
    uint64_t relists = 0;

    std::string to_json() const;
    static bool parse(const std::string &text, router_status &out, std::string &error);
    bool operator==(const router_status &) const = default;
};

}  // namespace ssw::cluster
