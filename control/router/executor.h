// Applies commands to a router. One core function per operation; the startup file, the
// control socket and sswctl all come through here.
//
// Every command is staged: checked against the control model (model.h) and applied to the
// model, recording its undo and the dataplane update it implies in a transaction's typed logs
// (transaction.h). A refused command undoes its model changes; an accepted one publishes its
// updates. A batch stages all its commands first and publishes only when every one was
// accepted: all or nothing.
#pragma once

#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/protocol/command.h"
#include "control/router/model.h"
#include "control/router/transaction.h"
#include "dataplane/counters.h"
#include "dataplane/packet/ipv4.h"
#include "dataplane/router.h"

namespace ssw {

using json = nlohmann::ordered_json;

// An address a host (or a VM) can have: not zero, loopback, multicast, broadcast or class E.
inline bool usable_host(ip4_addr a) { return !bad_source(a); }

struct reply {
    bool ok = true;
    std::string error;
    json data;         // null for commands that only change state
    std::string next;  // a listing cut short: the command that shows the rest

    static reply failure(std::string message) {
        reply r;
        r.ok = false;
        r.error = std::move(message);
        return r;
    }
    static reply success(json data) {
        reply r;
        r.data = std::move(data);
        return r;
    }
    json to_json() const;
};

class executor {
public:
    explicit executor(router &r);

    reply execute(const command &cmd);
    reply execute_line(std::string_view line);
    // All of `cmds` or none. A refusal names the command (by its index from 1).
    reply execute_batch(const std::vector<command> &cmds);

    const control_model &model() const { return model_; }

    // Every binding the router holds, and the packets they translated (summed over
    // workers): the totals `show nat` lists a page at a time.
    struct nat_totals {
        uint64_t bindings = 0;
        uint64_t packets = 0;
    };
    nat_totals nat_summary() const;

    // Makes an accepted change durable before it is applied; a change it refuses (false,
    // with a message) is not applied. Gets the canonical lines of one command or a batch.
    using persist_fn = std::function<bool(const std::vector<std::string> &, std::string &)>;
    void set_persist(persist_fn fn) { persist_ = std::move(fn); }
    // The whole configuration as commands that rebuild it on an empty router (a snapshot).
    std::vector<std::string> snapshot_commands() const;

private:
    // Undoes every model change of `t`, newest first; publishes nothing.
    void rollback(transaction &t);
    // Publishes every update of `t`, in order.
    void commit(transaction &t);
    // One model change undone (rollback).
    void revert(const undo::route &u);
    void revert(const undo::address_added &u);
    void revert(const undo::address_removed &u);
    void revert(const undo::static_neighbor &u);
    void revert(const undo::port &u);
    void revert(const undo::binding_added &u);
    void revert(const undo::binding_replaced &u);
    void revert(const undo::binding_removed &u);
    void revert(const undo::withdrawal &u);
    void revert(const undo::proxy &u);
    void revert(const undo::arrival &u);
    // One dataplane update published (commit).
    void apply(const publish::route_set &p);
    void apply(const publish::route_remove &p);
    void apply(const publish::address_add &p);
    void apply(const publish::address_remove &p);
    void apply(const publish::neighbor_static &p);
    void apply(const publish::neighbor_remove &p);
    void apply(const publish::neighbor_forget_learned &p);
    void apply(const publish::port_mtu &p);
    void apply(const publish::port_role_set &p);
    void apply(const publish::port_redirects &p);
    void apply(const publish::binding_set &p);
    void apply(const publish::binding_remove &p);
    void apply(const publish::proxy &p);
    void apply(const publish::announce &p);
    void apply(const publish::arrival &p);

    reply stage(const command &cmd, transaction &t);
    reply stage(const cmd_address &c, transaction &t);
    reply stage(const cmd_route &c, transaction &t);
    reply stage(const cmd_neigh &c, transaction &t);
    reply stage(const cmd_port &c, transaction &t);
    reply stage(const cmd_nat &c, transaction &t);
    reply stage(const cmd_proxy_arp &c, transaction &t);
    reply stage(const cmd_announce &c, transaction &t);
    reply stage(const cmd_arrival &c, transaction &t);

    reply add_address(const cmd_address &c, transaction &t);
    reply del_address(const cmd_address &c, transaction &t);
    // Stages a route in the model and its publication.
    void stage_route(const ip4_prefix &p, const route_entry &e, transaction &t);
    void stage_route_removal(const ip4_prefix &p, transaction &t);
    // Empty when the route table has room for every prefix not yet in it; else why not.
    std::string check_route_capacity(std::initializer_list<ip4_prefix> prefixes) const;

    reply show(const cmd_show &c) const;
    json show_ports() const;
    std::pair<std::string, std::string> rx_wait_of(uint16_t port) const;
    json show_addresses() const;
    json show_routes() const;
    json show_neigh() const;
    json show_stats() const;
    json show_nat(const cmd_show &c, std::string &next) const;
    json show_proxy_arp() const;
    json show_arrivals() const;
    reply stats_reset();
    counter_totals totals() const;

    router &r_;
    control_model model_;
    persist_fn persist_;
    counter_totals baseline_;
    std::vector<counter_totals> baseline_workers_;
};

}  // namespace ssw
