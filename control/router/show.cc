// The executor's read-only views (show ...) and statistics.
#include "control/router/executor.h"

#include <algorithm>

#include <fmt/format.h>
#include <rte_cycles.h>

#include "dataplane/slow_path/slow_path.h"
#include "dataplane/worker.h"

namespace ssw {

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
        case cmd_show::what::arrivals: r.data = show_arrivals(); break;
    }
    return r;
}

// How port p's rx queues wait when idle: (mode, wait), each "a" when every queue agrees,
// else "q0:a q1:b". wait: epoll (the queue's descriptor), timed (back-off; why), or - (poll).
std::pair<std::string, std::string> executor::rx_wait_of(uint16_t p) const {
    std::vector<std::pair<std::string, std::string>> per_queue;  // by queue
    for (unsigned i = 0; i < r_.worker_count(); ++i)
        for (const worker::rx_queue &q : r_.worker_at(i).rx_queues()) {
            if (q.port != p) continue;
            if (per_queue.size() <= q.queue) per_queue.resize(q.queue + 1);
            std::string wait = q.mode == rx_mode::poll ? "-"
                               : q.wait_fd >= 0        ? "epoll"
                                                       : fmt::format("timed ({})", q.why);
            per_queue[q.queue] = {std::string(to_string(q.mode)), wait};
        }
    auto join = [&](auto field) {
        bool same = true;
        for (const auto &pq : per_queue) same &= field(pq) == field(per_queue.front());
        if (same) return per_queue.empty() ? std::string("-") : field(per_queue.front());
        std::string s;
        for (size_t q = 0; q < per_queue.size(); ++q)
            s += fmt::format("{}q{}:{}", q ? " " : "", q, field(per_queue[q]));
        return s;
    };
    return {join([](const auto &pq) { return pq.first; }),
            join([](const auto &pq) { return pq.second; })};
}

json executor::show_ports() const {
    json rows = json::array();
    for (uint16_t p = 0; p < r_.port_count(); ++p) {
        const port_info &info = r_.port(p);
        const port_status st = read_port_status(p);
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
        row["link"] = st.link_up ? "up" : "down";
        row["speed_mbps"] = st.speed_mbps;
        row["mtu"] = ps.mtu;
        row["role"] = to_string(ps.role);
        row["redirects"] = ps.redirects ? "on" : "off";
        row["rx_queues"] = info.rx_queues;
        row["tx_queues"] = info.tx_queues;
        row["rx_ip_checksum"] = info.rx_ip_checksum ? "device" : "software";
        const auto [mode, wait] = rx_wait_of(p);
        row["rx_mode"] = mode;
        row["rx_wait"] = wait;
        row["rx_packets"] = st.rx_packets;
        row["tx_packets"] = st.tx_packets;
        row["rx_missed"] = st.rx_missed;
        row["rx_errors"] = st.rx_errors;
        row["tx_errors"] = st.tx_errors;
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
        const bool has_mac =
            e.state != neighbor_state::incomplete && e.state != neighbor_state::failed;
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
        row["last_hit_s"] =
            last ? json(double((now > last ? now - last : 0) * 10 / hz) / 10.0) : json(nullptr);
        rows.push_back(row);
    }
    return rows;
}

executor::nat_totals executor::nat_summary() const {
    nat_totals t;
    for (const auto &[home, e] : model_.bindings) {
        uint64_t packets, last;
        r_.nat().hits(e.b.home, packets, last);
        ++t.bindings;
        t.packets += packets;
    }
    return t;
}

json executor::show_proxy_arp() const {
    json rows = json::array();
    for (const auto &[port, pfx] : model_.proxy.entries())
        rows.push_back(json{{"port", port}, {"prefix", pfx.to_string()}});
    return rows;
}

// The watches with what the slow path has seen of each: "waiting", or "arrived" (how, after
// how long, and how many frames from the VM since).
json executor::show_arrivals() const {
    json rows = json::array();
    const auto &seen = r_.slow().arrivals().entries();
    const uint64_t now = slow_path::now_ms();
    for (const auto &[vm, a] : model_.arrivals) {
        json row{{"vm", vm.to_string()}, {"mac", a.mac.to_string()}, {"port", a.port}};
        // The slow path's entry is published with the command that made the watch.
        const arrival_watch::expected &e = seen.at(vm);
        row["frames"] = e.frames;
        if (const auto &ev = e.arrived) {
            row["state"] = "arrived";
            row["via"] = to_string(ev->via);
            row["waited_ms"] = ev->waited_ms;
            row["seq"] = ev->seq;
        } else {
            row["state"] = "waiting";
            row["waited_ms"] = now - e.since_ms;
        }
        rows.push_back(std::move(row));
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
                                  {"rx_mode", to_string(w.mode())},
                                  {"idle_sleeps", wt.event_count(event::idle_sleeps)},
                                  {"idle_timeouts", wt.event_count(event::idle_timeouts)}});
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
            for (unsigned i = 0; i < r_.worker_count(); ++i)
                c += r_.worker_at(i).stages().cycles(ssw::stage(s));
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
    for (uint16_t p = 0; p < r_.port_count(); ++p) reset_port_stats(p);
    return {};
}

}  // namespace ssw
