// An in-memory stand-in for an ssw-router's control socket: what `ssw-agent --model` drives
// instead of a router, so that a hundred agents fit on one machine for the scale benchmark
// (bench/etcd_scale.py) without a hundred DPDK processes.
//
// It answers the lines an agent sends, as the router's control socket does: `show nat`
// (paged), `show proxy-arp`, `show arrivals`, `nat add|del`, `proxy-arp add|del`, `arrival
// watch|unwatch`, `arp announce`, and batches
// of them, all or nothing. Bindings follow the router's rules (docs/DESIGN.md §2): an update
// older than the epoch held is refused, a delete with an epoch is a withdrawal remembered
// against later older adds, an equal epoch is a no-op only for the same binding, and an
// address belongs to one binding at a time. It has no packets: `arp announce` is accepted
// when the router would answer ARP for an address of the prefix (its own or proxied), and
// only counted. tests/control/agent/router_model_test.cc checks that it and a real router
// (the executor on DPDK null ports) answer a random command stream alike.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/protocol/command.h"
#include "dataplane/net/binding.h"

namespace ssw::agent {

class router_model {
public:
    struct config {
        uint16_t ports = 16;                             // ports 0 .. ports-1 exist
        uint32_t nat_capacity = 1u << 20;                // bindings, as the router's --nat-capacity
        std::vector<std::pair<uint16_t, ip4_addr>> own;  // the router's addresses, by port
    };
    explicit router_model(config c) : c_(std::move(c)) {}

    // One line of a connection, and its reply, as the control socket gives it.
    nlohmann::ordered_json call(std::string_view line);
    void set_own_addresses(std::vector<std::pair<uint16_t, ip4_addr>> own) {
        c_.own = std::move(own);
    }
    uint64_t announcements() const { return announcements_; }

private:
    struct held {
        binding b;
        uint64_t epoch = 0;
    };
    struct tables {
        std::map<uint32_t, held> bindings;     // by home address
        std::map<uint32_t, uint32_t> owner;    // M and M* -> M
        std::map<uint32_t, uint64_t> deleted;  // M -> the epoch it was deleted at
        std::set<std::pair<uint16_t, ip4_prefix>> proxies;
        std::map<ip4_addr, std::pair<mac_addr, uint16_t>> arrivals;  // VM -> (MAC, port)
    };
    struct result {
        bool ok = true;
        std::string error;
        nlohmann::ordered_json data;
    };

    static result refuse(std::string error);
    // How to put back what a staged command changed, newest last (a copy of the tables per
    // command would cost as much as all the bindings).
    using undo_log = std::vector<std::function<void()>>;

    result stage_command(const command &c, undo_log &undo);
    result stage(const cmd_nat &c, undo_log &undo);
    result stage(const cmd_proxy_arp &c, undo_log &undo);
    result stage(const cmd_announce &c);
    result stage(const cmd_arrival &c, undo_log &undo);
    static void roll_back(undo_log &undo);
    result show_nat(const cmd_show &c, std::string &next) const;
    nlohmann::ordered_json show_proxy_arp() const;
    nlohmann::ordered_json show_arrivals() const;
    bool is_own(ip4_addr a, int port = -1) const;
    bool answers_arp_for(uint16_t port, ip4_addr a) const;

    config c_;
    tables t_;
    bool in_batch_ = false, batch_refused_ = false;
    std::vector<command> batch_;
    uint64_t announcements_ = 0, pending_announcements_ = 0;
};

}  // namespace ssw::agent
