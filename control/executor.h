// Applies commands to a router. One core function per operation; the startup file, the
// control socket and sswctl all come through execute(). A command is checked against the
// router's state completely before anything changes: a refused command changes nothing.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "control/command.h"
#include "dataplane/counters.h"
#include "dataplane/router.h"

namespace ssw {

using json = nlohmann::ordered_json;

struct reply {
    bool ok = true;
    std::string error;
    json data;  // null for commands that only change state

    static reply failure(std::string message) { return {false, std::move(message), nullptr}; }
    json to_json() const;
};

class executor {
public:
    explicit executor(router &r) : r_(r), baseline_workers_(r.worker_count()) {}

    reply execute(const command &cmd);
    reply execute_line(std::string_view line);

    // Why each route exists, for `show routes` and to refuse deleting what an address owns.
    enum class route_origin { connected, local, static_route };

private:
    reply run(const cmd_address &c);
    reply run(const cmd_route &c);
    reply run(const cmd_neigh &c);
    reply run(const cmd_port_mtu &c);
    reply run(const cmd_show &c);
    reply run(const cmd_stats_reset &c);
    reply run(const cmd_help &c);

    reply add_address(const cmd_address &c);
    reply del_address(const cmd_address &c);
    json show_ports() const;
    json show_addresses() const;
    json show_routes() const;
    json show_neigh() const;
    json show_stats() const;
    counter_totals totals() const;
    // The port whose connected subnet holds `a`, or -1.
    int on_link_port(ip4_addr a) const;

    router &r_;
    std::map<ip4_prefix, route_origin> origins_;
    counter_totals baseline_;
    std::vector<counter_totals> baseline_workers_;
};

}  // namespace ssw
