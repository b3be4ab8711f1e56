#include "control/executor.h"

#include <algorithm>

#include <fmt/format.h>
#include <rte_ethdev.h>

#include "dataplane/ipv4.h"
#include "dataplane/slow_path.h"
#include "dataplane/worker.h"

namespace ssw {

json reply::to_json() const {
    json j;
    j["ok"] = ok;
    if (!ok) j["error"] = error;
    if (!data.is_null()) j["data"] = data;
    return j;
}

reply executor::execute_line(std::string_view line) {
    parse_result p = parse_command(line);
    if (!p.cmd) return reply::failure(p.error);
    return execute(*p.cmd);
}

reply executor::execute(const command &cmd) {
    return std::visit([this](const auto &c) { return run(c); }, cmd);
}

int executor::on_link_port(ip4_addr a) const {
    for (uint16_t p = 0; p < r_.port_count(); ++p)
        for (const auto &ia : r_.addresses(p))
            if (ia.subnet().contains(a)) return p;
    return -1;
}

// ---- addresses ----

reply executor::run(const cmd_address &c) {
    if (!r_.valid_port(c.port))
        return reply::failure(fmt::format("port {} does not exist (ports: 0..{})", c.port,
                                          int(r_.port_count()) - 1));
    return c.add ? add_address(c) : del_address(c);
}

reply executor::add_address(const cmd_address &c) {
    const interface_address ia{c.addr, c.len};
    const ip4_prefix subnet = ia.subnet();
    const std::string text = ip4_prefix{c.addr, c.len}.to_string();
    if (bad_source(c.addr))
        return reply::failure(fmt::format("{} is not a unicast host address", c.addr.to_string()));
    // /31 (RFC 3021) and /32 have no network or broadcast address.
    if (c.len <= 30 && (c.addr == subnet.addr || c.addr == subnet.broadcast()))
        return reply::failure(fmt::format("{} is the {} address of {}", text,
                                          c.addr == subnet.addr ? "network" : "broadcast",
                                          subnet.to_string()));
    for (uint16_t p = 0; p < r_.port_count(); ++p) {
        for (const auto &other : r_.addresses(p)) {
            if (other.addr == c.addr)
                return reply::failure(fmt::format("{} is already configured on port {}",
                                                  c.addr.to_string(), p));
            if (p != c.port && other.subnet().overlaps(subnet))
                return reply::failure(fmt::format("{} overlaps {}/{} on port {}", text,
                                                  other.addr.to_string(), other.len, p));
        }
    }
    const ip4_prefix host{c.addr, 32};
    auto is_static = [&](const ip4_prefix &pfx) {
        auto it = origins_.find(pfx);
        return it != origins_.end() && it->second == route_origin::static_route;
    };
    auto subnet_origin = origins_.find(subnet);
    const bool need_connected =
        subnet_origin == origins_.end() || subnet_origin->second != route_origin::connected;
    for (const ip4_prefix &pfx : {host, subnet}) {
        if ((pfx == host || need_connected) && is_static(pfx))
            return reply::failure(fmt::format("static route {} exists; delete it first", pfx.to_string()));
    }

    std::string error;
    next_hop local{next_hop::kind::local, c.port, {}};
    if (!r_.routes().set(host, local, error)) return reply::failure(error);
    if (need_connected && c.len < 32) {
        next_hop conn{next_hop::kind::connected, c.port, {}};
        if (!r_.routes().set(subnet, conn, error)) {
            r_.routes().remove(host);
            return reply::failure(error);
        }
        origins_[subnet] = route_origin::connected;
    }
    origins_[host] = route_origin::local;
    r_.addresses(c.port).push_back(ia);
    return {};
}

reply executor::del_address(const cmd_address &c) {
    auto &addrs = r_.addresses(c.port);
    const interface_address ia{c.addr, c.len};
    auto it = std::find(addrs.begin(), addrs.end(), ia);
    if (it == addrs.end())
        return reply::failure(fmt::format("{}/{} is not configured on port {}", c.addr.to_string(),
                                          c.len, c.port));
    const ip4_prefix subnet = ia.subnet();
    const bool subnet_still_served =
        std::count_if(addrs.begin(), addrs.end(), [&](const interface_address &o) {
            return o.subnet() == subnet;
        }) > 1;
    if (!subnet_still_served) {
        // Static routes through a gateway on this subnet would lose their way out.
        for (const auto &[pfx, nh] : r_.routes().routes()) {
            if (nh.type == next_hop::kind::gateway && subnet.contains(nh.gateway))
                return reply::failure(fmt::format("route {} via {} depends on {}; delete it first",
                                                  pfx.to_string(), nh.gateway.to_string(),
                                                  subnet.to_string()));
        }
    }
    r_.routes().remove(ip4_prefix{c.addr, 32});
    origins_.erase(ip4_prefix{c.addr, 32});
    if (!subnet_still_served && c.len < 32) {
        r_.routes().remove(subnet);
        origins_.erase(subnet);
    }
    addrs.erase(it);
    return {};
}

// ---- routes ----

reply executor::run(const cmd_route &c) {
    const std::string pfx = c.prefix.to_string();
    auto origin = origins_.find(c.prefix);
    if (origin != origins_.end() && origin->second != route_origin::static_route)
        return reply::failure(fmt::format("{} is the {} route of an interface address; "
                                          "change the address instead",
                                          pfx, origin->second == route_origin::local ? "local" : "connected"));
    const bool exists = origin != origins_.end();
    if (c.action == cmd_route::op::del) {
        if (!exists) return reply::failure(fmt::format("no route {}", pfx));
        r_.routes().remove(c.prefix);
        origins_.erase(c.prefix);
        return {};
    }
    if (c.action == cmd_route::op::add && exists)
        return reply::failure(fmt::format("route {} exists (use 'route replace')", pfx));

    next_hop nh;
    switch (c.kind) {
        case cmd_route::target::via: {
            if (r_.is_own_address(c.gateway))
                return reply::failure(fmt::format("gateway {} is one of this router's addresses",
                                                  c.gateway.to_string()));
            int port = on_link_port(c.gateway);
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
        case cmd_route::target::blackhole:
            nh = {next_hop::kind::blackhole, 0, {}};
            break;
    }
    std::string error;
    if (!r_.routes().set(c.prefix, nh, error)) return reply::failure(error);
    origins_[c.prefix] = route_origin::static_route;
    return {};
}

// ---- neighbors ----

reply executor::run(const cmd_neigh &c) {
    neighbor_cache &nc = r_.neigh_cache();
    if (!c.add) {
        if (!nc.remove(c.ip)) return reply::failure(fmt::format("no neighbor {}", c.ip.to_string()));
        return {};
    }
    if (!r_.valid_port(c.port)) return reply::failure(fmt::format("port {} does not exist", c.port));
    if (bad_source(c.ip) || r_.is_own_address(c.ip))
        return reply::failure(fmt::format("{} cannot be a neighbor (not a unicast host address, "
                                          "or one of this router's)", c.ip.to_string()));
    std::string error;
    if (!nc.add_static(c.ip, c.port, c.mac, slow_path::now_ms(), error)) return reply::failure(error);
    return {};
}

// ---- ports ----

reply executor::run(const cmd_port_mtu &c) {
    if (!r_.valid_port(c.port)) return reply::failure(fmt::format("port {} does not exist", c.port));
    int rc = rte_eth_dev_set_mtu(c.port, c.mtu);
    if (rc != 0 && rc != -ENOTSUP)
        return reply::failure(fmt::format("port {}: device refused MTU {}: {}", c.port, c.mtu,
                                          rte_strerror(-rc)));
    r_.runtime(c.port).mtu.store(c.mtu, std::memory_order_relaxed);
    return {};
}

// ---- show ----

reply executor::run(const cmd_show &c) {
    reply r;
    switch (c.item) {
        case cmd_show::what::ports: r.data = show_ports(); break;
        case cmd_show::what::addresses: r.data = show_addresses(); break;
        case cmd_show::what::routes: r.data = show_routes(); break;
        case cmd_show::what::neigh: r.data = show_neigh(); break;
        case cmd_show::what::stats: r.data = show_stats(); break;
    }
    return r;
}

json executor::show_ports() const {
    json rows = json::array();
    for (uint16_t p = 0; p < r_.port_count(); ++p) {
        const port_info &info = r_.port(p);
        rte_eth_link link{};
        rte_eth_link_get_nowait(p, &link);
        rte_eth_stats st{};
        rte_eth_stats_get(p, &st);
        std::string addrs;
        for (const auto &ia : r_.addresses(p))
            addrs += (addrs.empty() ? "" : " ") + ip4_prefix{ia.addr, ia.len}.to_string();
        json row;
        row["port"] = p;
        row["name"] = info.name;
        row["driver"] = info.driver;
        row["mac"] = r_.runtime(p).mac.to_string();
        row["link"] = link.link_status ? "up" : "down";
        row["speed_mbps"] = link.link_speed;
        row["mtu"] = r_.runtime(p).mtu.load(std::memory_order_relaxed);
        row["rx_queues"] = info.rx_queues;
        row["tx_queues"] = info.tx_queues;
        row["rx_packets"] = st.ipackets;
        row["tx_packets"] = st.opackets;
        row["rx_missed"] = st.imissed;
        row["rx_errors"] = st.ierrors;
        row["tx_errors"] = st.oerrors;
        row["addresses"] = addrs;
        rows.push_back(row);
    }
    return rows;
}

json executor::show_addresses() const {
    json rows = json::array();
    for (uint16_t p = 0; p < r_.port_count(); ++p)
        for (const auto &ia : r_.addresses(p))
            rows.push_back(json{{"port", p}, {"address", ip4_prefix{ia.addr, ia.len}.to_string()}});
    return rows;
}

json executor::show_routes() const {
    json rows = json::array();
    for (const auto &[pfx, nh] : r_.routes().routes()) {
        auto it = origins_.find(pfx);
        const route_origin o = it == origins_.end() ? route_origin::static_route : it->second;
        json row;
        row["prefix"] = pfx.to_string();
        const char *type = "static";
        if (o == route_origin::connected) type = "connected";
        if (o == route_origin::local) type = "local";
        if (nh.type == next_hop::kind::blackhole) type = "blackhole";
        row["type"] = type;
        row["via"] = nh.type == next_hop::kind::gateway ? nh.gateway.to_string() : "";
        row["port"] = nh.type == next_hop::kind::blackhole ? json(nullptr) : json(nh.port);
        rows.push_back(row);
    }
    return rows;
}

json executor::show_neigh() const {
    json rows = json::array();
    const uint64_t now = slow_path::now_ms();
    for (const auto &[ip, e] : r_.neigh_cache().entries()) {
        json row;
        row["ip"] = ip.to_string();
        const bool has_mac = e.state != neighbor_state::incomplete && e.state != neighbor_state::failed;
        row["mac"] = has_mac ? e.mac.to_string() : "";
        row["port"] = e.port;
        row["state"] = to_string(e.state);
        row["age_s"] = double((now - e.updated_ms) / 100) / 10.0;
        row["held"] = e.hold.size();
        rows.push_back(row);
    }
    return rows;
}

counter_totals executor::totals() const {
    counter_totals t;
    for (unsigned i = 0; i < r_.worker_count(); ++i) t.accumulate(r_.worker_at(i).counters());
    t.accumulate(r_.slow().counters());
    return t;
}

json executor::show_stats() const {
    const counter_totals t = totals() - baseline_;
    json j;
    json events;
    for (size_t i = 0; i < kEventCount; ++i) events[std::string(kEventNames[i])] = t.events[i];
    json drops;
    uint64_t dropped = 0;
    for (size_t i = 0; i < kDropReasonCount; ++i) {
        drops[std::string(kDropReasonNames[i])] = t.drops[i];
        dropped += t.drops[i];
    }
    j["workers"] = r_.worker_count();
    json per_worker = json::array();
    for (unsigned i = 0; i < r_.worker_count(); ++i) {
        const worker &w = r_.worker_at(i);
        const counter_block &b = w.counters();
        auto get = [&](event e) { return b.events[size_t(e)].get() - baseline_workers_[i].event_count(e); };
        per_worker.push_back(json{{"worker", i},
                                  {"lcore", w.lcore()},
                                  {"rx_queues", w.rx_queues().size()},
                                  {"rx_packets", get(event::rx_packets)},
                                  {"forwarded", get(event::forwarded)},
                                  {"tx_packets", get(event::tx_packets)},
                                  {"idle_sleeps", get(event::idle_sleeps)}});
    }
    j["per_worker"] = per_worker;
    j["counters"] = events;
    j["dropped"] = dropped;
    j["drops"] = drops;
    return j;
}

reply executor::run(const cmd_stats_reset &) {
    baseline_ = totals();
    baseline_workers_.assign(r_.worker_count(), counter_totals{});
    for (unsigned i = 0; i < r_.worker_count(); ++i) baseline_workers_[i].accumulate(r_.worker_at(i).counters());
    for (uint16_t p = 0; p < r_.port_count(); ++p) rte_eth_stats_reset(p);
    return {};
}

reply executor::run(const cmd_help &) {
    reply r;
    r.data = json::array();
    for (const auto &line : command_summary()) r.data.push_back(line);
    return r;
}

}  // namespace ssw
