// The executor's commands for a router's interfaces: addresses (and their connected,
// local and broadcast routes), static routes, static neighbors and port settings.
#include "control/router/executor.h"

#include <fmt/format.h>

#include "dataplane/log.h"
#include "dataplane/slow_path/slow_path.h"

namespace ssw {

reply executor::stage(const cmd_address &c, transaction &t) {
    if (!r_.valid_port(c.port))
        return reply::failure(
            fmt::format("port {} does not exist (ports: 0..{})", c.port, int(r_.port_count()) - 1));
    return c.add ? add_address(c, t) : del_address(c, t);
}

reply executor::add_address(const cmd_address &c, transaction &t) {
    const interface_address ia{c.addr, c.len};
    const ip4_prefix subnet = ia.subnet();
    const std::string text = ip4_prefix{c.addr, c.len}.to_string();
    if (!usable_host(c.addr))
        return reply::failure(fmt::format("{} is not a unicast host address", c.addr.to_string()));
    // /31 (RFC 3021) and /32 have no network or broadcast address.
    if (c.len <= 30 && (c.addr == subnet.addr || c.addr == subnet.broadcast()))
        return reply::failure(fmt::format("{} is the {} address of {}", text,
                                          c.addr == subnet.addr ? "network" : "broadcast",
                                          subnet.to_string()));
    for (uint16_t p = 0; p < model_.addresses.size(); ++p) {
        for (const auto &other : model_.addresses[p]) {
            if (other.addr == c.addr)
                return reply::failure(
                    fmt::format("{} is already configured on port {}", c.addr.to_string(), p));
            if (p != c.port && other.subnet().overlaps(subnet))
                return reply::failure(fmt::format("{} overlaps {}/{} on port {}", text,
                                                  other.addr.to_string(), other.len, p));
        }
    }
    if (model_.owner.count(c.addr.host()))
        return reply::failure(fmt::format("{} is an address of a NAT binding", c.addr.to_string()));
    const ip4_prefix host{c.addr, 32};
    auto origin_of = [&](const ip4_prefix &p) -> std::optional<route_origin> {
        auto it = model_.routes.find(p);
        if (it == model_.routes.end()) return std::nullopt;
        return it->second.origin;
    };
    const bool need_connected = c.len < 32 && origin_of(subnet) != route_origin::connected;
    for (const ip4_prefix &p : {host, subnet}) {
        if ((p == host || need_connected) && origin_of(p) == route_origin::static_route)
            return reply::failure(
                fmt::format("static route {} exists; delete it first", p.to_string()));
    }
    const bool need_broadcasts = need_connected && c.len <= 30;
    if (need_broadcasts)
        for (ip4_addr b : {subnet.broadcast(), subnet.addr}) {
            if (origin_of(ip4_prefix{b, 32}) == route_origin::static_route)
                return reply::failure(
                    fmt::format("static route {}/32 exists; delete it first", b.to_string()));
        }
    const std::string full =
        need_broadcasts
            ? check_route_capacity({host, subnet, {subnet.broadcast(), 32}, {subnet.addr, 32}})
        : need_connected ? check_route_capacity({host, subnet})
                         : check_route_capacity({host});
    if (!full.empty()) return reply::failure(full);

    model_.addresses[c.port].push_back(ia);
    t.undo.push(undo::address_added{c.port});
    t.publish.push(publish::address_add{c.port, ia});
    stage_route(host, {route_origin::local, {next_hop::kind::local, c.port, {}}}, t);
    if (need_connected) {
        stage_route(subnet, {route_origin::connected, {next_hop::kind::connected, c.port, {}}}, t);
        // Directed broadcasts are not forwarded (RFC 1812 5.3.5.2), nor sent to the
        // subnet's all-zeros host; /31 and /32 have neither.
        if (need_broadcasts)
            for (ip4_addr b : {subnet.broadcast(), subnet.addr})
                stage_route(ip4_prefix{b, 32},
                            {route_origin::broadcast, {next_hop::kind::broadcast, c.port, {}}}, t);
    }
    return {};
}

reply executor::del_address(const cmd_address &c, transaction &t) {
    auto &addrs = model_.addresses[c.port];
    const interface_address ia{c.addr, c.len};
    auto it = std::find(addrs.begin(), addrs.end(), ia);
    if (it == addrs.end())
        return reply::failure(
            fmt::format("{}/{} is not configured on port {}", c.addr.to_string(), c.len, c.port));
    const ip4_prefix subnet = ia.subnet();
    const bool subnet_still_served =
        std::count_if(addrs.begin(), addrs.end(),
                      [&](const interface_address &o) { return o.subnet() == subnet; }) > 1;
    if (!subnet_still_served) {
        // Static routes through a gateway on this subnet would lose their way out.
        for (const auto &[pfx, e] : model_.routes) {
            if (e.nh.type == next_hop::kind::gateway && subnet.contains(e.nh.gateway))
                return reply::failure(fmt::format("route {} via {} depends on {}; delete it first",
                                                  pfx.to_string(), e.nh.gateway.to_string(),
                                                  subnet.to_string()));
        }
    }
    const size_t pos = size_t(it - addrs.begin());
    addrs.erase(it);
    t.undo.push(undo::address_removed{c.port, uint32_t(pos), ia});
    t.publish.push(publish::address_remove{c.port, ia});
    stage_route_removal(ip4_prefix{c.addr, 32}, t);
    if (!subnet_still_served && c.len < 32) {
        stage_route_removal(subnet, t);
        if (c.len <= 30)
            for (ip4_addr b : {subnet.broadcast(), subnet.addr})
                stage_route_removal(ip4_prefix{b, 32}, t);
    }
    return {};
}

// ---- routes ----

reply executor::stage(const cmd_route &c, transaction &t) {
    const std::string pfx = c.prefix.to_string();
    auto it = model_.routes.find(c.prefix);
    const bool exists = it != model_.routes.end();
    if (exists && it->second.origin != route_origin::static_route)
        return reply::failure(
            fmt::format("{} is the {} route of an interface address; "
                        "change the address instead",
                        pfx,
                        it->second.origin == route_origin::local       ? "local"
                        : it->second.origin == route_origin::broadcast ? "broadcast"
                                                                       : "connected"));
    if (c.action == cmd_route::op::del) {
        if (!exists) return reply::failure(fmt::format("no route {}", pfx));
        stage_route_removal(c.prefix, t);
        return {};
    }
    if (c.action == cmd_route::op::add && exists)
        return reply::failure(fmt::format("route {} exists (use 'route replace')", pfx));

    next_hop nh;
    switch (c.kind) {
        case cmd_route::target::via: {
            if (model_.is_own_address(c.gateway))
                return reply::failure(fmt::format("gateway {} is one of this router's addresses",
                                                  c.gateway.to_string()));
            int port = model_.on_link_port(c.gateway);
            if (port < 0)
                return reply::failure(fmt::format("gateway {} is not on any connected subnet",
                                                  c.gateway.to_string()));
            nh = {next_hop::kind::gateway, uint16_t(port), c.gateway};
            break;
        }
        case cmd_route::target::port:
            if (!r_.valid_port(c.port))
                return reply::failure(fmt::format("port {} does not exist", c.port));
            nh = {next_hop::kind::connected, c.port, {}};
            break;
        case cmd_route::target::blackhole: nh = {next_hop::kind::blackhole, 0, {}}; break;
    }
    if (auto e = check_route_capacity({c.prefix}); !e.empty()) return reply::failure(e);
    stage_route(c.prefix, {route_origin::static_route, nh}, t);
    return {};
}

// ---- neighbors ----

reply executor::stage(const cmd_neigh &c, transaction &t) {
    auto &statics = model_.static_neighbors;
    if (!c.add) {
        const bool dynamic = r_.neigh_cache().entries().count(c.ip) > 0;
        auto it = statics.find(c.ip);
        if (it == statics.end() && !dynamic)
            return reply::failure(fmt::format("no neighbor {}", c.ip.to_string()));
        if (it != statics.end()) {
            t.undo.push(undo::static_neighbor{c.ip, it->second});
            statics.erase(it);
        }
        t.publish.push(publish::neighbor_remove{c.ip});
        return {};
    }
    if (!r_.valid_port(c.port))
        return reply::failure(fmt::format("port {} does not exist", c.port));
    if (!usable_host(c.ip) || model_.is_own_address(c.ip))
        return reply::failure(
            fmt::format("{} cannot be a neighbor (not a unicast host address, "
                        "or one of this router's)",
                        c.ip.to_string()));
    const auto &entries = r_.neigh_cache().entries();
    if (!statics.count(c.ip) && !entries.count(c.ip) &&
        entries.size() + statics.size() >= r_.config().neighbor.max_entries)
        return reply::failure(
            fmt::format("neighbor table full ({} entries)", r_.config().neighbor.max_entries));
    std::optional<std::pair<mac_addr, uint16_t>> before;
    if (auto it = statics.find(c.ip); it != statics.end()) before = it->second;
    statics[c.ip] = {c.mac, c.port};
    t.undo.push(undo::static_neighbor{c.ip, before});
    t.publish.push(publish::neighbor_static{c.ip, c.mac, c.port});
    return {};
}

// ---- ports ----

reply executor::stage(const cmd_port &c, transaction &t) {
    if (!r_.valid_port(c.port))
        return reply::failure(fmt::format("port {} does not exist", c.port));
    port_settings &ps = model_.ports[c.port];
    const port_settings before = ps;
    switch (c.what) {
        case cmd_port::setting::mtu: {
            if (std::string why = check_port_mtu(c.port, c.mtu); !why.empty())
                return reply::failure(std::move(why));
            ps.mtu = c.mtu;
            t.publish.push(publish::port_mtu{c.port, c.mtu});
            break;
        }
        case cmd_port::setting::role:
            ps.role = c.role;
            t.publish.push(publish::port_role_set{c.port, c.role});
            break;
        case cmd_port::setting::redirects:
            ps.redirects = c.redirects;
            t.publish.push(publish::port_redirects{c.port, c.redirects});
            break;
    }
    t.undo.push(undo::port{c.port, before});
    return {};
}

// ---- undo and publish ----

void executor::revert(const undo::address_added &u) { model_.addresses[u.port].pop_back(); }

void executor::revert(const undo::address_removed &u) {
    auto &a = model_.addresses[u.port];
    a.insert(a.begin() + long(u.pos), u.ia);
}

void executor::revert(const undo::static_neighbor &u) {
    if (u.before)
        model_.static_neighbors[u.ip] = *u.before;
    else
        model_.static_neighbors.erase(u.ip);
}

void executor::revert(const undo::port &u) { model_.ports[u.port] = u.before; }

void executor::apply(const publish::address_add &p) {
    r_.addresses(p.port).push_back(p.ia);
    r_.publish_own_addresses();
}

void executor::apply(const publish::address_remove &p) {
    auto &a = r_.addresses(p.port);
    a.erase(std::remove(a.begin(), a.end(), p.ia), a.end());
    r_.publish_own_addresses();
}

void executor::apply(const publish::neighbor_static &p) {
    std::string error;
    if (!r_.neigh_cache().add_static(p.ip, p.port, p.mac, slow_path::now_ms(), error))
        SSW_LOG(ERR, "neighbor {} not installed: {}", p.ip.to_string(), error);
}

void executor::apply(const publish::neighbor_remove &p) { r_.neigh_cache().remove(p.ip); }

void executor::apply(const publish::port_mtu &p) {
    // Devices without an MTU setting (pcap, null) still get our egress MTU.
    if (std::string error; !set_port_mtu(p.port, p.mtu, error))
        SSW_LOG(WARNING, "port {}: device MTU not set: {}", p.port, error);
    r_.runtime(p.port).mtu.store(p.mtu, std::memory_order_relaxed);
}

void executor::apply(const publish::port_role_set &p) {
    r_.runtime(p.port).role.store(p.role, std::memory_order_relaxed);
}

void executor::apply(const publish::port_redirects &p) {
    r_.runtime(p.port).redirects.store(p.on, std::memory_order_relaxed);
}

}  // namespace ssw
