#include "control/executor.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "dataplane/ipv4.h"
#include "dataplane/log.h"
#include "dataplane/slow_path.h"
#include "dataplane/worker.h"

namespace ssw {

namespace {

bool usable_host(ip4_addr a) { return !bad_source(a); }

binding_kind kind_of(cmd_nat::kind k) {
    switch (k) {
        case cmd_nat::kind::forward: return binding_kind::forward;
        case cmd_nat::kind::local: return binding_kind::local;
        case cmd_nat::kind::local_keep_source: return binding_kind::local_keep_source;
    }
    return binding_kind::forward;
}

}  // namespace

json reply::to_json() const {
    json j;
    j["ok"] = ok;
    if (!ok) j["error"] = error;
    if (!data.is_null()) j["data"] = data;
    if (!next.empty()) j["next"] = next;
    return j;
}

void executor::transaction::rollback() {
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) (*it)();
    undo.clear();
    publish.clear();
    bindings.clear();
}

void executor::transaction::commit(const nat_table &nat) {
    // A batch of many binding updates runs at the memory's pace, not one miss after another:
    // each binding's lines are prepared some steps before its update is published.
    size_t next[2] = {0, 0};  // per step: the first binding not yet prepared
    nat_table::pipelined(
        publish.size(),
        [&](size_t i, unsigned step) {
            size_t &k = next[step];
            if (k < bindings.size() && bindings[k].first == i)
                nat.prepare_set(bindings[k++].second, step);
        },
        [&](size_t i) { publish[i](); });
    undo.clear();
    publish.clear();
    bindings.clear();
}

executor::executor(router &r) : r_(r), baseline_workers_(r.worker_count()) {
    model_.addresses.resize(r.port_count());
    model_.ports.resize(r.port_count());
    for (uint16_t p = 0; p < r.port_count(); ++p)
        model_.ports[p].mtu = r.runtime(p).mtu.load(std::memory_order_relaxed);
}

reply executor::execute_line(std::string_view line) {
    parse_result p = parse_command(line);
    if (!p.cmd) return reply::failure(p.error);
    return execute(*p.cmd);
}

reply executor::execute(const command &cmd) {
    if (const auto *s = std::get_if<cmd_show>(&cmd)) return show(*s);
    if (std::holds_alternative<cmd_stats_reset>(cmd)) return stats_reset();
    if (std::holds_alternative<cmd_help>(cmd)) {
        reply r;
        r.data = json::array();
        for (const auto &line : command_summary()) r.data.push_back(line);
        return r;
    }
    if (std::holds_alternative<cmd_batch>(cmd))
        return reply::failure("batch commands belong to a connection (sswctl batch FILE)");
    transaction t;
    reply r = stage(cmd, t);
    if (r.ok && persist_ && is_config_change(cmd)) {
        std::string error;
        if (!persist_({format_command(cmd)}, error)) r = reply::failure("not applied: " + error);
    }
    if (r.ok) {
        t.commit(r_.nat());
        SSW_LOG(DEBUG, "applied: {}", format_command(cmd));
    } else {
        t.rollback();
        SSW_LOG(DEBUG, "refused: {}: {}", format_command(cmd), r.error);
    }
    return r;
}

reply executor::execute_batch(const std::vector<command> &cmds) {
    transaction t;
    t.undo.reserve(cmds.size() * 2);
    t.publish.reserve(cmds.size() * 2);
    for (size_t i = 0; i < cmds.size(); ++i) {
        if (is_read_only(cmds[i]) || std::holds_alternative<cmd_stats_reset>(cmds[i]) ||
            std::holds_alternative<cmd_batch>(cmds[i])) {
            t.rollback();
            return reply::failure(fmt::format("command {}: only configuration commands can be "
                                              "batched; nothing applied", i + 1));
        }
        reply r = stage(cmds[i], t);
        if (!r.ok) {
            t.rollback();
            return reply::failure(fmt::format("command {}: {}; nothing applied", i + 1, r.error));
        }
    }
    if (persist_) {
        std::vector<std::string> lines;
        for (const auto &c : cmds)
            if (is_config_change(c)) lines.push_back(format_command(c));
        std::string error;
        if (!lines.empty() && !persist_(lines, error)) {
            t.rollback();
            return reply::failure("nothing applied: " + error);
        }
    }
    t.commit(r_.nat());
    SSW_LOG(DEBUG, "applied a batch of {} commands", cmds.size());
    return reply::success(json{{"applied", cmds.size()}});
}

reply executor::stage(const command &cmd, transaction &t) {
    return std::visit(
        [&](const auto &c) -> reply {
            using T = std::decay_t<decltype(c)>;
            if constexpr (std::is_same_v<T, cmd_show> || std::is_same_v<T, cmd_stats_reset> ||
                          std::is_same_v<T, cmd_help> || std::is_same_v<T, cmd_batch>)
                return reply::failure("not a configuration command");
            else
                return stage(c, t);
        },
        cmd);
}

// ---- routes in the model ----

void executor::stage_route(const ip4_prefix &p, const route_entry &e, transaction &t) {
    auto it = model_.routes.find(p);
    std::optional<route_entry> before;
    if (it != model_.routes.end()) before = it->second;
    model_.routes[p] = e;
    t.undo.push_back([this, p, before] {
        if (before)
            model_.routes[p] = *before;
        else
            model_.routes.erase(p);
    });
    t.publish.push_back([this, p, nh = e.nh] {
        std::string error;
        if (!r_.routes().set(p, nh, error))
            SSW_LOG(ERR, "route {} not installed: {}", p.to_string(), error);
    });
}

void executor::stage_route_removal(const ip4_prefix &p, transaction &t) {
    auto it = model_.routes.find(p);
    if (it == model_.routes.end()) return;
    route_entry before = it->second;
    model_.routes.erase(it);
    t.undo.push_back([this, p, before] { model_.routes[p] = before; });
    t.publish.push_back([this, p] { r_.routes().remove(p); });
}

std::string executor::check_route_capacity(std::initializer_list<ip4_prefix> prefixes) const {
    // Counted together: the routes of one command may each need a route and a tbl8 group
    // (one per /24 holding prefixes longer than /24) that only one of them could have.
    std::set<ip4_prefix> fresh;
    std::set<uint32_t> groups;
    for (const ip4_prefix &p : prefixes) {
        if (model_.routes.count(p) || !fresh.insert(p).second || p.len <= 24) continue;
        bool group_exists = false;
        for (const auto &[q, e] : model_.routes)
            group_exists |= q.len > 24 && (q.addr.host() >> 8) == (p.addr.host() >> 8);
        if (!group_exists) groups.insert(p.addr.host() >> 8);
    }
    if (model_.routes.size() + fresh.size() > r_.routes().max_routes())
        return fmt::format("route table full ({} routes)", r_.routes().max_routes());
    if (model_.tbl8_groups_needed() + groups.size() > r_.config().tbl8_groups)
        return fmt::format("route table out of tbl8 groups ({}; see --tbl8-groups)",
                           r_.config().tbl8_groups);
    return {};
}

// ---- addresses ----

reply executor::stage(const cmd_address &c, transaction &t) {
    if (!r_.valid_port(c.port))
        return reply::failure(fmt::format("port {} does not exist (ports: 0..{})", c.port,
                                          int(r_.port_count()) - 1));
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
                return reply::failure(fmt::format("{} is already configured on port {}",
                                                  c.addr.to_string(), p));
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
            return reply::failure(fmt::format("static route {} exists; delete it first", p.to_string()));
    }
    const bool need_broadcasts = need_connected && c.len <= 30;
    if (need_broadcasts)
        for (ip4_addr b : {subnet.broadcast(), subnet.addr}) {
            if (origin_of(ip4_prefix{b, 32}) == route_origin::static_route)
                return reply::failure(fmt::format("static route {}/32 exists; delete it first", b.to_string()));
        }
    const std::string full =
        need_broadcasts ? check_route_capacity({host, subnet, {subnet.broadcast(), 32}, {subnet.addr, 32}})
        : need_connected ? check_route_capacity({host, subnet})
                         : check_route_capacity({host});
    if (!full.empty()) return reply::failure(full);

    model_.addresses[c.port].push_back(ia);
    t.undo.push_back([this, port = c.port] { model_.addresses[port].pop_back(); });
    t.publish.push_back([this, port = c.port, ia] {
        r_.addresses(port).push_back(ia);
        r_.publish_own_addresses();
    });
    stage_route(host, {route_origin::local, {next_hop::kind::local, c.port, {}}}, t);
    if (need_connected) {
        stage_route(subnet, {route_origin::connected, {next_hop::kind::connected, c.port, {}}}, t);
        // Directed broadcasts are not forwarded (RFC 1812 5.3.5.2), nor sent to the
        // subnet's all-zeros host; /31 and /32 have neither.
        if (need_broadcasts)
            for (ip4_addr b : {subnet.broadcast(), subnet.addr})
                stage_route(ip4_prefix{b, 32}, {route_origin::broadcast, {next_hop::kind::broadcast, c.port, {}}}, t);
    }
    return {};
}

reply executor::del_address(const cmd_address &c, transaction &t) {
    auto &addrs = model_.addresses[c.port];
    const interface_address ia{c.addr, c.len};
    auto it = std::find(addrs.begin(), addrs.end(), ia);
    if (it == addrs.end())
        return reply::failure(fmt::format("{}/{} is not configured on port {}", c.addr.to_string(),
                                          c.len, c.port));
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
    t.undo.push_back([this, port = c.port, pos, ia] {
        auto &a = model_.addresses[port];
        a.insert(a.begin() + long(pos), ia);
    });
    t.publish.push_back([this, port = c.port, ia] {
        auto &a = r_.addresses(port);
        a.erase(std::remove(a.begin(), a.end(), ia), a.end());
        r_.publish_own_addresses();
    });
    stage_route_removal(ip4_prefix{c.addr, 32}, t);
    if (!subnet_still_served && c.len < 32) {
        stage_route_removal(subnet, t);
        if (c.len <= 30)
            for (ip4_addr b : {subnet.broadcast(), subnet.addr}) stage_route_removal(ip4_prefix{b, 32}, t);
    }
    return {};
}

// ---- routes ----

reply executor::stage(const cmd_route &c, transaction &t) {
    const std::string pfx = c.prefix.to_string();
    auto it = model_.routes.find(c.prefix);
    const bool exists = it != model_.routes.end();
    if (exists && it->second.origin != route_origin::static_route)
        return reply::failure(fmt::format("{} is the {} route of an interface address; "
                                          "change the address instead",
                                          pfx, it->second.origin == route_origin::local       ? "local"
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
            if (!r_.valid_port(c.port)) return reply::failure(fmt::format("port {} does not exist", c.port));
            nh = {next_hop::kind::connected, c.port, {}};
            break;
        case cmd_route::target::blackhole:
            nh = {next_hop::kind::blackhole, 0, {}};
            break;
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
            auto before = it->second;
            statics.erase(it);
            t.undo.push_back([this, ip = c.ip, before] { model_.static_neighbors[ip] = before; });
        }
        t.publish.push_back([this, ip = c.ip] { r_.neigh_cache().remove(ip); });
        return {};
    }
    if (!r_.valid_port(c.port)) return reply::failure(fmt::format("port {} does not exist", c.port));
    if (!usable_host(c.ip) || model_.is_own_address(c.ip))
        return reply::failure(fmt::format("{} cannot be a neighbor (not a unicast host address, "
                                          "or one of this router's)", c.ip.to_string()));
    const auto &entries = r_.neigh_cache().entries();
    if (!statics.count(c.ip) && !entries.count(c.ip) &&
        entries.size() + statics.size() >= r_.config().neighbor.max_entries)
        return reply::failure(fmt::format("neighbor table full ({} entries)",
                                          r_.config().neighbor.max_entries));
    std::optional<std::pair<mac_addr, uint16_t>> before;
    if (auto it = statics.find(c.ip); it != statics.end()) before = it->second;
    statics[c.ip] = {c.mac, c.port};
    t.undo.push_back([this, ip = c.ip, before] {
        if (before)
            model_.static_neighbors[ip] = *before;
        else
            model_.static_neighbors.erase(ip);
    });
    t.publish.push_back([this, c] {
        std::string error;
        if (!r_.neigh_cache().add_static(c.ip, c.port, c.mac, slow_path::now_ms(), error))
            SSW_LOG(ERR, "neighbor {} not installed: {}", c.ip.to_string(), error);
    });
    return {};
}

// ---- ports ----

reply executor::stage(const cmd_port &c, transaction &t) {
    if (!r_.valid_port(c.port)) return reply::failure(fmt::format("port {} does not exist", c.port));
    port_settings &ps = model_.ports[c.port];
    const port_settings before = ps;
    switch (c.what) {
        case cmd_port::setting::mtu: {
            rte_eth_dev_info info{};
            if (rte_eth_dev_info_get(c.port, &info) == 0 && info.max_mtu &&
                (c.mtu < info.min_mtu || c.mtu > info.max_mtu))
                return reply::failure(fmt::format("port {}: MTU {} outside the device's {}..{}",
                                                  c.port, c.mtu, info.min_mtu, info.max_mtu));
            ps.mtu = c.mtu;
            t.publish.push_back([this, port = c.port, mtu = c.mtu] {
                // Devices without an MTU setting (pcap, null) still get our egress MTU.
                int rc = rte_eth_dev_set_mtu(port, mtu);
                if (rc != 0 && rc != -ENOTSUP)
                    SSW_LOG(WARNING, "port {}: device MTU not set: {}", port, rte_strerror(-rc));
                r_.runtime(port).mtu.store(mtu, std::memory_order_relaxed);
            });
            break;
        }
        case cmd_port::setting::role:
            ps.core = c.core;
            t.publish.push_back([this, port = c.port, core = c.core] {
                r_.runtime(port).role.store(core ? port_role::core : port_role::access,
                                            std::memory_order_relaxed);
            });
            break;
        case cmd_port::setting::redirects:
            ps.redirects = c.redirects;
            t.publish.push_back([this, port = c.port, on = c.redirects] {
                r_.runtime(port).redirects.store(on, std::memory_order_relaxed);
            });
            break;
    }
    t.undo.push_back([this, port = c.port, before] { model_.ports[port] = before; });
    return {};
}

// ---- bindings ----

reply executor::stage(const cmd_nat &c, transaction &t) {
    const uint32_t m = c.home.host();
    auto it = model_.bindings.find(m);
    const bool exists = it != model_.bindings.end();
    uint64_t held = exists ? it->second.epoch : 0;
    bool deleted = false;
    if (!exists) {
        if (auto d = model_.deleted_epoch.find(m); d != model_.deleted_epoch.end()) {
            held = d->second;
            deleted = true;
        }
    }
    if (c.epoch && *c.epoch < held)
        return reply::failure(fmt::format("stale update: epoch {} is older than epoch {} held for {}",
                                          *c.epoch, held, c.home.to_string()));

    if (!c.add) {
        if (!exists) {
            // With an epoch, a delete means "absent as of epoch E" (a withdrawal): nothing to
            // remove, but a later add older than E must still be refused.
            if (!c.epoch) return reply::failure(fmt::format("no binding for {}", c.home.to_string()));
            if (*c.epoch == held) return reply::success(json{{"changed", false}});
            std::optional<uint64_t> before_deleted;
            if (deleted) before_deleted = held;
            model_.deleted_epoch[m] = *c.epoch;
            t.undo.push_back([this, m, before_deleted] {
                if (before_deleted)
                    model_.deleted_epoch[m] = *before_deleted;
                else
                    model_.deleted_epoch.erase(m);
            });
            return reply::success(json{{"changed", false}});
        }
        const binding_entry before = it->second;
        const uint64_t epoch = c.epoch.value_or(held);
        model_.owner.erase(m);
        model_.owner.erase(before.b.care_of.host());
        model_.bindings.erase(it);
        std::optional<uint64_t> before_deleted;
        if (auto d = model_.deleted_epoch.find(m); d != model_.deleted_epoch.end()) before_deleted = d->second;
        model_.deleted_epoch[m] = epoch;
        t.undo.push_back([this, m, before, before_deleted] {
            model_.bindings[m] = before;
            model_.owner[m] = m;
            model_.owner[before.b.care_of.host()] = m;
            if (before_deleted)
                model_.deleted_epoch[m] = *before_deleted;
            else
                model_.deleted_epoch.erase(m);
        });
        t.publish.push_back([this, home = c.home, local = before.b.is_local()] {
            r_.nat().remove(home);
            if (local) r_.neigh_cache().remove_learned(home);  // the VM left this segment
        });
        return {};
    }

    const binding b{c.home, c.care_of, kind_of(c.type), c.port};
    if (!usable_host(c.home) || !usable_host(c.care_of) || c.home == c.care_of)
        return reply::failure("home and care-of addresses must be distinct unicast host addresses");
    if (model_.is_own_address(c.home) || model_.is_own_address(c.care_of))
        return reply::failure("a binding cannot use one of this router's own addresses");
    if (b.is_local() && !r_.valid_port(c.port))
        return reply::failure(fmt::format("port {} does not exist", c.port));
    if (c.epoch && *c.epoch == held) {
        if (exists && it->second.b == b) return reply::success(json{{"changed", false}});
        return reply::failure(fmt::format("epoch {} of {} already {}", held, c.home.to_string(),
                                          deleted ? "deleted it" : "holds a different binding"));
    }
    for (uint32_t a : {m, c.care_of.host()}) {
        auto o = model_.owner.find(a);
        if (o != model_.owner.end() && o->second != m)
            return reply::failure(fmt::format("{} is already used by the binding of {}",
                                              ip4_addr(a).to_string(), ip4_addr(o->second).to_string()));
    }
    if (!exists && model_.bindings.size() >= r_.nat().capacity())
        return reply::failure(fmt::format("binding table full ({} bindings; see --nat-capacity)",
                                          r_.nat().capacity()));

    const uint64_t epoch = c.epoch.value_or(held + 1);
    std::optional<binding_entry> before;
    if (exists) before = it->second;
    std::optional<uint64_t> before_deleted;
    if (auto d = model_.deleted_epoch.find(m); d != model_.deleted_epoch.end()) before_deleted = d->second;
    if (before) model_.owner.erase(before->b.care_of.host());
    model_.bindings[m] = {b, epoch};
    model_.owner[m] = m;
    model_.owner[c.care_of.host()] = m;
    model_.deleted_epoch.erase(m);
    t.undo.push_back([this, m, ms = c.care_of.host(), before, before_deleted] {
        model_.owner.erase(ms);
        if (before) {
            model_.bindings[m] = *before;
            model_.owner[before->b.care_of.host()] = m;
        } else {
            model_.bindings.erase(m);
            model_.owner.erase(m);
        }
        if (before_deleted) model_.deleted_epoch[m] = *before_deleted;
    });
    // A VM that left this router's segment: its neighbor entry there is stale now.
    if (before && before->b.is_local() && !(b.is_local() && b.port == before->b.port))
        t.publish.push_back([this, m = c.home] { r_.neigh_cache().remove_learned(m); });
    t.bindings.emplace_back(t.publish.size(), b);
    t.publish.push_back([this, b] {
        std::string error;
        if (!r_.nat().set(b, error))
            SSW_LOG(ERR, "binding of {} not installed: {}", b.home.to_string(), error);
    });
    return reply::success(json{{"changed", true}, {"epoch", epoch}});
}

// ---- proxy-ARP and announcements ----

reply executor::stage(const cmd_proxy_arp &c, transaction &t) {
    if (!r_.valid_port(c.port)) return reply::failure(fmt::format("port {} does not exist", c.port));
    const bool present = model_.proxy.contains(c.port, c.prefix);
    if (c.add && present)
        return reply::failure(fmt::format("proxy-arp {} port {} exists", c.prefix.to_string(), c.port));
    if (!c.add && !present)
        return reply::failure(fmt::format("no proxy-arp {} on port {}", c.prefix.to_string(), c.port));
    if (c.add) {
        model_.proxy.add(c.port, c.prefix);
        t.undo.push_back([this, c] { model_.proxy.remove(c.port, c.prefix); });
        t.publish.push_back([this, c] { r_.proxy_arp().add(c.port, c.prefix); });
    } else {
        model_.proxy.remove(c.port, c.prefix);
        t.undo.push_back([this, c] { model_.proxy.add(c.port, c.prefix); });
        t.publish.push_back([this, c] { r_.proxy_arp().remove(c.port, c.prefix); });
    }
    return {};
}

reply executor::stage(const cmd_announce &c, transaction &t) {
    if (!r_.valid_port(c.port)) return reply::failure(fmt::format("port {} does not exist", c.port));
    // 4096 addresses per announcement: a /20 in three bursts is ~12k frames.
    if (c.prefix.len < 20)
        return reply::failure(fmt::format("{} is too large to announce (at most a /20)",
                                          c.prefix.to_string()));
    // What the router answers for (per the model, batch included) and the neighbours it has
    // confirmed on that port.
    size_t n = 0;
    const uint32_t first = c.prefix.addr.host(), last = c.prefix.broadcast().host();
    const auto &neighbors = r_.neigh_cache().entries();
    for (uint64_t v = first; v <= last; ++v) {
        if (c.prefix.len <= 30 && (v == first || v == last)) continue;
        const ip4_addr a{uint32_t(v)};
        auto nb = neighbors.find(a);
        if (answers_arp_for(model_, c.port, a) ||
            (nb != neighbors.end() && nb->second.port == c.port &&
             (nb->second.state == neighbor_state::reachable || nb->second.state == neighbor_state::permanent)))
            ++n;
    }
    if (n == 0)
        return reply::failure(fmt::format("the router answers ARP for no address of {} on port {}, "
                                          "nor knows a host of it there", c.prefix.to_string(), c.port));
    t.publish.push_back([this, c] { r_.slow().announce(c.port, c.prefix, c.count, c.interval_ms); });
    return reply::success(json{{"addresses", n}, {"frames", n * c.count}});
}

// ---- snapshot ----

std::vector<std::string> executor::snapshot_commands() const {
    std::vector<std::string> out;
    for (uint16_t p = 0; p < model_.ports.size(); ++p) {
        const port_settings &ps = model_.ports[p];
        out.push_back(fmt::format("port {} mtu {}", p, ps.mtu));
        if (ps.core) out.push_back(fmt::format("port {} role core", p));
        if (ps.redirects) out.push_back(fmt::format("port {} redirects on", p));
    }
    for (uint16_t p = 0; p < model_.addresses.size(); ++p)
        for (const auto &ia : model_.addresses[p])
            out.push_back(fmt::format("address add {}/{} port {}", ia.addr.to_string(), ia.len, p));
    for (const auto &[pfx, e] : model_.routes) {
        if (e.origin != route_origin::static_route) continue;
        switch (e.nh.type) {
            case next_hop::kind::gateway:
                out.push_back(fmt::format("route add {} via {}", pfx.to_string(), e.nh.gateway.to_string()));
                break;
            case next_hop::kind::connected:
                out.push_back(fmt::format("route add {} port {}", pfx.to_string(), e.nh.port));
                break;
            case next_hop::kind::blackhole:
                out.push_back(fmt::format("route add {} blackhole", pfx.to_string()));
                break;
            case next_hop::kind::local:
            case next_hop::kind::broadcast:
                break;
        }
    }
    for (const auto &[ip, n] : model_.static_neighbors)
        out.push_back(fmt::format("neigh add {} lladdr {} port {}", ip.to_string(), n.first.to_string(), n.second));
    for (const auto &[port, pfx] : model_.proxy.entries())
        out.push_back(fmt::format("proxy-arp add {} port {}", pfx.to_string(), port));
    for (const auto &[m, e] : model_.bindings) {
        cmd_nat c;
        c.home = e.b.home;
        c.care_of = e.b.care_of;
        c.type = e.b.kind == binding_kind::forward ? cmd_nat::kind::forward
                 : e.b.kind == binding_kind::local ? cmd_nat::kind::local
                                                   : cmd_nat::kind::local_keep_source;
        c.port = e.b.port;
        c.epoch = e.epoch;
        out.push_back(format_command(c));
    }
    // Deletions keep their epoch, so that a delayed older update stays refused.
    for (const auto &[m, epoch] : model_.deleted_epoch)
        out.push_back(fmt::format("nat del {} epoch {}", ip4_addr(m).to_string(), epoch));
    return out;
}

// ---- show ----

reply executor::show(const cmd_show &c) const {
    reply r;
    switch (c.item) {
        case cmd_show::what::ports: r.data = show_ports(); break;
        case cmd_show::what::addresses: r.data = show_addresses(); break;
        case cmd_show::what::routes: r.data = show_routes(); break;
        case cmd_show::what::neigh: r.data = show_neigh(); break;
        case cmd_show::what::stats: r.data = show_stats(); break;
        case cmd_show::what::nat: r.data = show_nat(c, r.next); break;
        case cmd_show::what::proxy_arp: r.data = show_proxy_arp(); break;
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
        for (const auto &ia : model_.addresses[p]) {
            if (!addrs.empty()) addrs += ' ';
            addrs += ip4_prefix{ia.addr, ia.len}.to_string();
        }
        const port_settings &ps = model_.ports[p];
        json row;
        row["port"] = p;
        row["name"] = info.name;
        row["driver"] = info.driver;
        row["mac"] = r_.runtime(p).mac.to_string();
        row["link"] = link.link_status ? "up" : "down";
        row["speed_mbps"] = link.link_speed;
        row["mtu"] = ps.mtu;
        row["role"] = ps.core ? "core" : "access";
        row["redirects"] = ps.redirects ? "on" : "off";
        row["rx_queues"] = info.rx_queues;
        row["tx_queues"] = info.tx_queues;
        row["rx_ip_checksum"] = info.rx_ip_checksum ? "device" : "software";
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
    for (uint16_t p = 0; p < model_.addresses.size(); ++p)
        for (const auto &ia : model_.addresses[p])
            rows.push_back(json{{"port", p}, {"address", ip4_prefix{ia.addr, ia.len}.to_string()}});
    return rows;
}

json executor::show_routes() const {
    json rows = json::array();
    for (const auto &[pfx, e] : model_.routes) {
        json row;
        row["prefix"] = pfx.to_string();
        const char *type = "static";
        if (e.origin == route_origin::connected) type = "connected";
        if (e.origin == route_origin::local) type = "local";
        if (e.origin == route_origin::broadcast) type = "broadcast";
        if (e.nh.type == next_hop::kind::blackhole) type = "blackhole";
        row["type"] = type;
        row["via"] = e.nh.type == next_hop::kind::gateway ? e.nh.gateway.to_string() : "";
        row["port"] = e.nh.type == next_hop::kind::blackhole ? json(nullptr) : json(e.nh.port);
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

// A page of bindings in home-address order: the first `limit` of those in the filter and
// after `after`, kept in a bounded heap while the table is scanned, so that listing a /8 of
// bindings costs memory for one page, not for the table. When more remain, `next` is the
// command that lists them.
json executor::show_nat(const cmd_show &c, std::string &next) const {
    const uint32_t limit = c.limit ? c.limit : cmd_show::kShowNatLimit;
    const auto by_home = [](const binding_entry *a, const binding_entry *b) {
        return a->b.home < b->b.home;
    };
    std::vector<const binding_entry *> list;  // a max-heap of at most limit + 1
    list.reserve(std::min<size_t>(limit + 1, model_.bindings.size()));
    const auto consider = [&](const binding_entry &e) {
        if (c.after && !(*c.after < e.b.home)) return;
        if (list.size() <= limit) {
            list.push_back(&e);
            std::push_heap(list.begin(), list.end(), by_home);
        } else if (by_home(&e, list.front())) {
            std::pop_heap(list.begin(), list.end(), by_home);
            list.back() = &e;
            std::push_heap(list.begin(), list.end(), by_home);
        }
    };
    if (c.filter && c.filter->len == 32) {
        if (auto it = model_.bindings.find(c.filter->addr.host()); it != model_.bindings.end())
            consider(it->second);
    } else {
        for (const auto &[m, e] : model_.bindings)
            if (!c.filter || c.filter->contains(e.b.home)) consider(e);
    }
    std::sort_heap(list.begin(), list.end(), by_home);
    if (list.size() > limit) {
        list.pop_back();
        cmd_show rest = c;
        rest.after = list.back()->b.home;
        next = format_command(command{rest});
    }
    const uint64_t now = rte_rdtsc(), hz = rte_get_tsc_hz();
    json rows = json::array();
    for (const binding_entry *e : list) {
        uint64_t packets, last;
        r_.nat().hits(e->b.home, packets, last);
        json row;
        row["home"] = e->b.home.to_string();
        row["care_of"] = e->b.care_of.to_string();
        row["type"] = to_string(e->b.kind);
        row["port"] = e->b.is_local() ? json(e->b.port) : json(nullptr);
        row["epoch"] = e->epoch;
        row["packets"] = packets;
        // A worker may have counted a hit after `now` was read.
        row["last_hit_s"] = last ? json(double((now > last ? now - last : 0) * 10 / hz) / 10.0) : json(nullptr);
        rows.push_back(row);
    }
    return rows;
}

json executor::show_proxy_arp() const {
    json rows = json::array();
    for (const auto &[port, pfx] : model_.proxy.entries())
        rows.push_back(json{{"port", port}, {"prefix", pfx.to_string()}});
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
    j["workers"] = r_.worker_count();
    json per_worker = json::array();
    for (unsigned i = 0; i < r_.worker_count(); ++i) {
        const worker &w = r_.worker_at(i);
        counter_totals wt;
        wt.accumulate(w.counters());
        wt = wt - baseline_workers_[i];
        per_worker.push_back(json{{"worker", i},
                                  {"lcore", w.lcore()},
                                  {"rx_queues", w.rx_queues().size()},
                                  {"rx_packets", wt.event_count(event::rx_packets)},
                                  {"forwarded", wt.event_count(event::forwarded)},
                                  {"tx_packets", wt.event_count(event::tx_packets)},
                                  {"idle_sleeps", wt.event_count(event::idle_sleeps)}});
    }
    j["per_worker"] = per_worker;
    json events;
    for (size_t i = 0; i < kEventCount; ++i) events[std::string(kEventNames[i])] = t.events[i];
    j["counters"] = events;
    json drops;
    uint64_t dropped = 0;
    for (size_t i = 0; i < kDropReasonCount; ++i) {
        drops[std::string(kDropReasonNames[i])] = t.drops[i];
        dropped += t.drops[i];
    }
    j["dropped"] = dropped;
    j["drops"] = drops;
    if constexpr (kStageCycles) {
        // Cycles per received packet, by stage, summed over the workers (-Dstage_cycles=true).
        json stages;
        const uint64_t rx = std::max<uint64_t>(1, t.event_count(event::rx_packets));
        for (size_t s = 0; s < size_t(stage::count); ++s) {
            uint64_t c = 0;
            for (unsigned i = 0; i < r_.worker_count(); ++i) c += r_.worker_at(i).stages().cycles(ssw::stage(s));
            stages[std::string(kStageNames[s])] = double(c * 10 / rx) / 10.0;
        }
        j["stage_cycles_per_packet"] = stages;
    }
    j["bindings"] = model_.bindings.size();
    return j;
}

reply executor::stats_reset() {
    baseline_ = totals();
    for (unsigned i = 0; i < r_.worker_count(); ++i) {
        baseline_workers_[i] = counter_totals{};
        baseline_workers_[i].accumulate(r_.worker_at(i).counters());
    }
    for (uint16_t p = 0; p < r_.port_count(); ++p) rte_eth_stats_reset(p);
    return {};
}

}  // namespace ssw
