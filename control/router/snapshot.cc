// The executor's snapshot: the whole configuration as the commands that rebuild it.
#include "control/router/executor.h"

#include <fmt/format.h>

namespace ssw {

// Typed commands, written in their canonical text (format_command): a snapshot is replayed
// through the parser like any command file.
std::vector<std::string> executor::snapshot_commands() const {
    std::vector<std::string> out;
    auto add = [&out](const command &c) { out.push_back(format_command(c)); };
    for (uint16_t p = 0; p < model_.ports.size(); ++p) {
        const port_settings &ps = model_.ports[p];
        add(cmd_port{.port = p, .what = cmd_port::setting::mtu, .mtu = ps.mtu});
        if (ps.role == port_role::core)
            add(cmd_port{.port = p, .what = cmd_port::setting::role, .role = ps.role});
        if (ps.redirects)
            add(cmd_port{.port = p, .what = cmd_port::setting::redirects, .redirects = true});
    }
    for (uint16_t p = 0; p < model_.addresses.size(); ++p)
        for (const auto &ia : model_.addresses[p])
            add(cmd_address{.add = true, .addr = ia.addr, .len = ia.len, .port = p});
    for (const auto &[pfx, e] : model_.routes) {
        if (e.origin != route_origin::static_route) continue;
        cmd_route r{.prefix = pfx, .gateway = e.nh.gateway, .port = e.nh.port};
        switch (e.nh.type) {
            case next_hop::kind::gateway: r.kind = cmd_route::target::via; break;
            case next_hop::kind::connected: r.kind = cmd_route::target::port; break;
            case next_hop::kind::blackhole: r.kind = cmd_route::target::blackhole; break;
            case next_hop::kind::local:
            case next_hop::kind::broadcast: continue;
        }
        add(r);
    }
    for (const auto &[ip, n] : model_.static_neighbors)
        add(cmd_neigh{.add = true, .ip = ip, .mac = n.first, .port = n.second});
    for (const auto &[port, pfx] : model_.proxy.entries())
        add(cmd_proxy_arp{.add = true, .prefix = pfx, .port = port});
    for (const auto &[vm, a] : model_.arrivals)
        add(cmd_arrival{.watch = true, .vm = vm, .mac = a.mac, .port = a.port});
    for (const auto &[m, e] : model_.bindings) add(nat_set(e.b, e.epoch));
    // Deletions keep their epoch, so that a delayed older update stays refused.
    for (const auto &[m, epoch] : model_.deleted_epoch) add(nat_withdraw(ip4_addr(m), epoch));
    return out;
}

}  // namespace ssw
