// ssw-agent's loop (docs/DESIGN.md §6.2): keeps one router in line with the desired state in
// etcd, as Calico's Felix keeps its host and OVN's ovn-controller its chassis.
//
// It lists desired/ at a revision, brings the router in line (the difference as one batch),
// then watches from the next revision and applies each change the same way: only the VMs
// whose records changed are diffed (with the VMs of their home subnets, which share proxy
// entries), so a revision costs the agent the same with ten VMs or ten thousand. It lists again
// when its watch is compacted or cannot be resumed, re-reads the router when the router's
// connection breaks (a restart) and every resync interval, and then also diffs everything.
// It publishes status/<router> (the revision its router holds, the VMs it could not apply)
// on its own lease, so a dead agent's status expires and movers stop counting on it: at once
// when a revision changed what its router must hold (a mover waits for that), or the agent's
// trouble changed; else at most every status interval, so that a hundred agents do not each
// write for every revision of every other router's VMs. When a move is done, the routers it
// concerns announce it (gratuitous ARP).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "control/agent/router_link.h"
#include "control/cluster/state.h"
#include "control/etcd/etcd_client.h"

namespace ssw::agent {

struct options {
    std::string router;  // its name in the topology
    cluster::keys keys;
    int64_t lease_ttl_s = 5;
    std::chrono::milliseconds resync_interval{30000};
    std::chrono::milliseconds retry_interval{500};
    // How long a newer revision that changed nothing here may wait to be published.
    std::chrono::milliseconds status_interval{1000};
};

// What the agent has done, for its metrics and tests.
struct counters {
    std::atomic<int64_t> applied_revision{0};
    std::atomic<int64_t> store_revision{0};  // the newest revision of desired/ it has seen
    std::atomic<uint64_t> relists{0}, applies{0}, apply_failures{0}, router_reads{0};
    std::atomic<uint64_t> watch_restarts{0}, announcements{0}, lease_grants{0};
    // Arrival events from the router, and moves they switched (arrival_listener.h).
    std::atomic<uint64_t> arrivals{0}, arrival_switches{0};
    std::atomic<bool> router_up{false}, lease_alive{false};
};

// One line of the agent's log on stderr, with the wall-clock time to the millisecond.
void say(const std::string &router, const std::string &what);

class agent {
public:
    agent(etcd::client &store, router_link &router, options o);
    // Runs until `stop` turns true (checked at least every retry interval).
    void run(const std::atomic<bool> &stop);
    const counters &stats() const { return stats_; }
    counters &stats() { return stats_; }  // atomics: another thread may count (arrivals)

private:
    bool relist(std::string &error);
    bool read_router(std::string &error);
    void converge();
    // Everything diffed (after a list or a read of the router); false when the router went.
    bool converge_all();
    // Only the VMs whose records changed since (dirty_); false when the router went.
    bool converge_changed();
    void apply_each(const router_holdings &want, const std::set<ip4_addr> &homes,
                    const std::map<ip4_addr, uint64_t> &del_epoch);
    void announce_done_moves(const std::set<ip4_addr> *only);
    void on_event(const etcd::watch_event &e);
    void publish_status();
    bool ensure_lease();

    etcd::client &store_;
    router_link &router_;
    options o_;
    counters stats_;

    cluster::desired_state desired_;
    bool topology_ok_ = false;
    std::string topology_error_;
    std::unique_ptr<etcd::watch> watch_;
    std::unique_ptr<etcd::lease> lease_;

    router_holdings actual_;  // what the router holds, as far as the agent knows
    bool actual_known_ = false;
    router_holdings want_;        // what the router must hold, as of the last converge
    bool full_ = true;            // the next converge diffs everything
    std::set<ip4_addr> dirty_;    // VMs whose records changed since the last converge
    std::set<ip4_addr> touched_;  // the VMs the last converge looked at (unless it was full)
    bool touched_all_ = true;
    cluster::router_status status_, published_;
    bool published_once_ = false;
    bool urgent_ = false;  // the status must go now: a mover may be waiting for it
    std::chrono::steady_clock::time_point last_publish_;
    std::map<ip4_addr, std::string> announced_;  // per VM, the last move announced (or done
                                                 // before the agent came)
    std::chrono::steady_clock::time_point next_resync_;
};

}  // namespace ssw::agent
