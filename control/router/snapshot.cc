// The executor's snapshot: the whole configuration as the commands that rebuild it.
#include "control/router/executor.h"

#include <fmt/format.h>

namespace ssw {

std::vector<std::string> executor::snapshot_commands() const {
    std::vector<std::string> out;
    for (uint16_t p = 0; p < model_.ports.size(); ++p) {
        const port_settings &ps = model_.ports[p];
        out.push_back(fmt::format("port {} mtu {}", p, ps.mtu));
        if (ps.role == port_role::core) out.push_back(fmt::format("port {} role core", p));
        if (ps.redirects) out.push_back(fmt::format("port {} redirects on", p));
    }
    for (uint16_t p = 0; p < model_.addresses.size(); ++p)
        for (const auto &ia : model_.addresses[p])
            out.push_back(fmt::format("address add {}/{} port {}", ia.addr.to_string(), ia.len, p));
    for (const auto &[pfx, e] : model_.routes) {
        if (e.origin != route_origin::static_route) continue;
        switch (e.nh.type) {
            case next_hop::kind::gateway:
                out.push_back(
                    fmt::format("route add {} via {}", pfx.to_string(), e.nh.gateway.to_string()));
                break;
            case next_hop::kind::connected:
                out.push_back(fmt::format("route add {} port {}", pfx.to_string(), e.nh.port));
                break;
            case next_hop::kind::blackhole:
                out.push_back(fmt::format("route add {} blackhole", pfx.to_string()));
                break;
            case next_hop::kind::local:
            case next_hop::kind::broadcast: break;
        }
    }
    for (const auto &[ip, n] : model_.static_neighbors)
        out.push_back(fmt::format("neigh add {} lladdr {} port {}", ip.to_string(),
                                  n.first.to_string(), n.second));
    for (const auto &[port, pfx] : model_.proxy.entries())
        out.push_back(fmt::format("proxy-arp add {} port {}", pfx.to_string(), port));
    for (const auto &[m, e] : model_.bindings) {
        cmd_nat c;
        c.home = e.b.home;
        c.care_of = e.b.care_of;
        c.type = e.b.kind;
        c.port = e.b.port;
        c.epoch = e.epoch;
        out.push_back(format_command(c));
    }
    // Deletions keep their epoch, so that a delayed older update stays refused.
    for (const auto &[m, epoch] : model_.deleted_epoch)
        out.push_back(fmt::format("nat del {} epoch {}", ip4_addr(m).to_string(), epoch));
    return out;
}

}  // namespace ssw
