// sswctl's side of the etcd control plane (docs/DESIGN.md §6.2): moves VMs by writing their
// records in a few compare-and-swap transactions, each phase waiting for the acknowledgements
// of the routers it changes, as OVN's clients wait for hv_cfg to reach nb_cfg. Never talks to
// a router: the agents do.
//
//   prepare   the new foreign router holds the VM's new state (make before break); with
//             --on-arrival the router of the new subnet also watches for the VM, and the
//             move waits there until its agent reports the VM's arrival (the switch)
//   switch    every router but the old foreign one does
//   done      all do; the old care-of address is released after a hold time
//
// A move holds lock/<M> on the mover's lease, so a second mover of the same VM is refused;
// if the mover dies, the lock expires and the next command on that VM (or migrate --resume)
// finishes the move, or rolls it back. A router that refuses, or does not acknowledge in
// time, rolls the move back: a move to the old state at a newer epoch, through the same
// phases. A move that needs a router whose agent is gone is refused before anything changes.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "control/cluster/state.h"
#include "control/etcd/etcd_client.h"
#include "control/orchestrator/orchestrator.h"

namespace ssw::cluster {

struct move_options {
    std::chrono::milliseconds phase_timeout{10000};  // per phase, for the acknowledgements
    int64_t lock_ttl_s = 10;                         // a dead mover's lock expires after this
    int64_t care_of_hold_s = 60;  // a released care-of address is reused only after this
};

class mover {
public:
    using result = orchestrator::result;

    mover(etcd::client &store, keys k, move_options o = {});

    result put_topology(const std::string &text);
    result get_topology();
    // on_arrival: the switch waits for the VM's arrival at its new subnet (its RARP or ARP
    // there, seen by that subnet's router; its agent writes the switch), at most this long,
    // then the move is rolled back. Needs the VM's MAC in the topology.
    result move(const std::string &vm, const std::string &to, std::optional<ip4_addr> care_of,
                bool triangle, std::optional<std::chrono::milliseconds> on_arrival = std::nullopt);
    result return_home(const std::string &vm,
                       std::optional<std::chrono::milliseconds> on_arrival = std::nullopt);
    // Finishes (or rolls back) a move whose mover died.
    result resume(const std::string &vm);
    result where(const std::string &vm);
    // Every agent reads its router again and repairs it; reports who is in sync.
    result reconcile();
    // The agents' statuses.
    result status();

private:
    struct loaded {
        desired_state d;
        std::map<ip4_addr, int64_t> mod;  // each record's mod revision
        int64_t latest = 0;               // the newest mod revision under desired/
    };
    bool load(loaded &out, std::string &error);
    // load(), then the VM by name or address; false with res's error set.
    bool load_vm(const std::string &vm, loaded &out, ip4_addr &m, result &res);
    bool statuses(std::map<std::string, router_status> &out, int64_t &revision, std::string &error);
    // The first free address of the pool; spread (after a lost race for one): a free one
    // from a random point of the pool on, so that concurrent movers stop colliding.
    std::optional<ip4_addr> pick_care_of(const loaded &l, const topo_subnet &s, ip4_addr m,
                                         bool spread, std::string &error);
    // Takes an orphaned move of `m` over and finishes it.
    bool take_over(loaded &l, ip4_addr m, result &res);
    // Runs `rec` (written at `mod_rev`, phase rec.phase) to done; rolls back on failure.
    void drive(loaded &l, ip4_addr m, vm_record rec, int64_t mod_rev, result &res);
    bool write_phase(loaded &l, ip4_addr m, const vm_record &rec, int64_t &mod_rev,
                     std::string &error);
    bool wait_acks(const std::set<std::string> &routers, int64_t revision, ip4_addr m,
                   uint64_t epoch, std::string &error);
    // Waits until m's record, written at `mod_rev` at prepare awaiting the VM's arrival, is
    // moved on by an agent; true with the record and its mod revision. False when `timeout`
    // passes first (error empty) or on an error.
    bool wait_arrival(ip4_addr m, int64_t mod_rev, std::chrono::milliseconds timeout,
                      vm_record &out, int64_t &out_mod, std::string &error);

    etcd::client &store_;
    keys keys_;
    move_options o_;
    std::string id_;  // this mover: host:pid:start ms:sequence number in the process
    std::unique_ptr<etcd::lease> lease_;
    // The agents' statuses as wait_acks() last saw them, and the watch that keeps them.
    std::map<std::string, router_status> acks_;
    int64_t acks_at_ = 0;
    std::unique_ptr<etcd::watch> acks_watch_;
    // The current move's wait for its VM's arrival (on_arrival), if any.
    std::optional<std::chrono::milliseconds> arrival_timeout_;
};

}  // namespace ssw::cluster
