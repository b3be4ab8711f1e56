// The agent's ear on its router (docs/DESIGN.md §6.2): a thread that keeps a control-socket
// connection subscribed to the router's `events` and turns the arrival of a VM whose move
// awaits it (sswctl migrate --on-arrival) into that move's switch, one compare-and-swap on
// the VM's record in etcd. So the switch happens when the VM runs on its new host, not when an
// operator guesses it does: what OVN's activation-strategy=rarp does for a port.
//
// The record is switched only if it is still at prepare awaiting this MAC, this router serves
// the subnet it moves to, and nobody wrote it since it was read; anything else (a late RARP,
// a move rolled back meanwhile, another agent first) leaves it alone. After (re)connecting it
// also reads `show arrivals`, so an arrival seen while it was not listening is not lost.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "control/cluster/state.h"
#include "control/etcd/etcd_client.h"

namespace ssw::agent {

struct counters;

class arrival_listener {
public:
    arrival_listener(etcd::client &store, std::string socket, std::string router,
                     cluster::keys keys, counters &stats);
    ~arrival_listener();  // stops the thread
    void start();

private:
    void run();
    // One line from the router: an event, or the reply to `show arrivals`.
    void on_line(const nlohmann::ordered_json &j);
    // VM `vm` (MAC `mac`) arrived, seen by `via`: switches its move if it awaits that.
    void on_arrival(ip4_addr vm, const mac_addr &mac, const std::string &via);
    // The record of `vm` and the topology (re-read only when it changed), in one transaction.
    bool read(ip4_addr vm, std::optional<etcd::key_value> &record, std::string &error);

    etcd::client &store_;
    std::string socket_, router_;
    cluster::keys keys_;
    counters &stats_;
    topology topo_;
    int64_t topo_mod_ = -1;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace ssw::agent
