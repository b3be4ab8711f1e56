// Fuzz target: the command language, from parse_command to the router's tables.
//
// Input: text, one command per line (at most 64 lines), run as a connection of the control
// socket runs them (batch begin/commit/abort included), against a fresh executor on a router
// with three null ports and small tables (so that "full" is reachable in a few lines).
//
// What must hold (FUZZ_CHECK aborts, so libFuzzer keeps the input):
//   - the parser returns a command or a message, never throws, and execute_line refuses
//     what does not parse with that message;
//   - every reply serialises to JSON (what the socket sends back);
//   - a refused command or batch changes nothing: the control model is byte for byte the same;
//   - after every command the dataplane's tables say what the model says: addresses, routes
//     (the route table's entries and what the LPM answers for each prefix's first and last
//     address), bindings (by home and care-of), proxy-ARP, static neighbors (cache and the
//     workers' table), port settings;
//   - a configuration command that was accepted, run again, is refused or changes nothing
//     (a binding without an epoch takes the next epoch: epochs are left out of that check);
//   - deleting everything with the commands themselves empties every table again.
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "control/protocol/command.h"
#include "control/router/executor.h"
#include "control/router/model.h"
#include "dataplane/router.h"
#include "dataplane/slow_path/slow_path.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace ssw;

router *g_router = nullptr;

void drain_inject() {
    void *m;
    while (rte_ring_dequeue(g_router->inject_ring(), &m) == 0)
        rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
}

std::string model_text(const control_model &m, bool with_epochs) {
    std::string s;
    for (size_t p = 0; p < m.addresses.size(); ++p)
        for (const auto &ia : m.addresses[p])
            s += fmt::format("address {}/{} port {}\n", ia.addr.to_string(), ia.len, p);
    for (const auto &[pfx, e] : m.routes)
        s += fmt::format("route {} origin {} type {} port {} via {}\n", pfx.to_string(),
                         int(e.origin), int(e.nh.type), e.nh.port, e.nh.gateway.to_string());
    for (const auto &[ip, n] : m.static_neighbors)
        s += fmt::format("neigh {} {} port {}\n", ip.to_string(), n.first.to_string(), n.second);
    std::vector<const binding_entry *> bs;
    for (const auto &[home, e] : m.bindings) bs.push_back(&e);
    std::sort(bs.begin(), bs.end(), [](auto *a, auto *b) { return a->b.home < b->b.home; });
    for (const binding_entry *e : bs) {
        s += fmt::format("nat {} to {} {} port {}", e->b.home.to_string(), e->b.care_of.to_string(),
                         to_string(e->b.kind), e->b.port);
        s += with_epochs ? fmt::format(" epoch {}\n", e->epoch) : "\n";
    }
    if (with_epochs) {
        std::vector<std::pair<uint32_t, uint64_t>> del(m.deleted_epoch.begin(),
                                                       m.deleted_epoch.end());
        std::sort(del.begin(), del.end());
        for (const auto &[home, epoch] : del)
            s += fmt::format("deleted {} epoch {}\n", ip4_addr(home).to_string(), epoch);
    }
    std::vector<std::pair<uint32_t, uint32_t>> owners(m.owner.begin(), m.owner.end());
    std::sort(owners.begin(), owners.end());
    for (const auto &[a, home] : owners)
        s += fmt::format("owner {} {}\n", ip4_addr(a).to_string(), ip4_addr(home).to_string());
    for (const auto &[port, pfx] : m.proxy.entries())
        s += fmt::format("proxy-arp {} port {}\n", pfx.to_string(), port);
    for (size_t p = 0; p < m.ports.size(); ++p)
        s += fmt::format("port {} mtu {} role {} redirects {}\n", p, m.ports[p].mtu,
                         to_string(m.ports[p].role), m.ports[p].redirects);
    return s;
}

// The longest prefix of the model's routes that covers a, or nullptr.
const route_entry *model_lookup(const control_model &m, ip4_addr a) {
    const route_entry *best = nullptr;
    int best_len = -1;
    for (const auto &[pfx, e] : m.routes) {
        if (pfx.contains(a) && pfx.len > best_len) {
            best = &e;
            best_len = pfx.len;
        }
    }
    return best;
}

// The dataplane holds what the model holds.
void check_consistency(const control_model &m, std::string_view after) {
    router &r = *g_router;
    for (uint16_t p = 0; p < r.port_count(); ++p)
        FUZZ_CHECK(m.addresses[p] == r.addresses(p), "after '{}': port {} addresses differ", after,
                   p);

    const route_table &routes = r.routes();
    FUZZ_CHECK(routes.size() == m.routes.size(), "after '{}': {} routes installed, model has {}",
               after, routes.size(), m.routes.size());
    for (const auto &[pfx, e] : m.routes) {
        const next_hop *nh = routes.find(pfx);
        FUZZ_CHECK(nh && *nh == e.nh, "after '{}': route {} not as modelled", after,
                   pfx.to_string());
        for (ip4_addr a : {pfx.addr, pfx.broadcast()}) {
            const route_entry *want = model_lookup(m, a);
            const next_hop *got = r.routes().lookup(a);
            FUZZ_CHECK(want && got && *got == want->nh,
                       "after '{}': lookup {} gives type {} port {} via {}, the model type {} port "
                       "{} via {}",
                       after, a.to_string(), got ? int(got->type) : -1, got ? got->port : 0,
                       got ? got->gateway.to_string() : "-", want ? int(want->nh.type) : -1,
                       want ? want->nh.port : 0, want ? want->nh.gateway.to_string() : "-");
        }
    }
    auto def = m.routes.find(ip4_prefix{});
    const uint32_t def_hop = r.routes().default_hop();
    FUZZ_CHECK((def == m.routes.end()) == (def_hop == route_table::kNoRoute) &&
                   (def == m.routes.end() || r.routes().hop(def_hop) == def->second.nh),
               "after '{}': the default route is not as modelled", after);

    FUZZ_CHECK(r.nat().size() == m.bindings.size(),
               "after '{}': {} bindings installed, model has {}", after, r.nat().size(),
               m.bindings.size());
    for (const auto &[home, e] : m.bindings) {
        binding b;
        FUZZ_CHECK(r.nat().find(ip4_addr(home), b) && b == e.b,
                   "after '{}': binding of {} not as modelled", after, ip4_addr(home).to_string());
        for (const nat_table::view v : {r.nat().lookup(home), r.nat().lookup(e.b.care_of.host())})
            FUZZ_CHECK(v && v.home == home && v.care_of == e.b.care_of.host() &&
                           v.kind == e.b.kind && (!e.b.is_local() || v.port == e.b.port),
                       "after '{}': the workers' view of the binding of {} is wrong", after,
                       ip4_addr(home).to_string());
    }

    FUZZ_CHECK(r.proxy_arp().entries() == m.proxy.entries(), "after '{}': proxy-ARP differs",
               after);

    const auto &entries = r.neigh_cache().entries();
    FUZZ_CHECK(entries.size() == m.static_neighbors.size(),
               "after '{}': {} neighbor entries, {} static neighbors modelled", after,
               entries.size(), m.static_neighbors.size());
    for (const auto &[ip, n] : m.static_neighbors) {
        auto it = entries.find(ip);
        FUZZ_CHECK(it != entries.end() && it->second.state == neighbor_state::permanent &&
                       it->second.mac == n.first && it->second.port == n.second,
                   "after '{}': static neighbor {} not in the cache as modelled", after,
                   ip.to_string());
        uint64_t word;
        FUZZ_CHECK(
            r.neighbors().lookup(ip, word) && word == neighbor_table::pack(n.first, n.second),
            "after '{}': static neighbor {} not in the workers' table", after, ip.to_string());
    }
    FUZZ_CHECK(r.neighbors().size() == m.static_neighbors.size(),
               "after '{}': the workers' neighbor table has {} entries, {} modelled", after,
               r.neighbors().size(), m.static_neighbors.size());

    for (uint16_t p = 0; p < r.port_count(); ++p) {
        const port_runtime &rt = r.runtime(p);
        const port_settings &ps = m.ports[p];
        FUZZ_CHECK(rt.mtu.load() == ps.mtu && rt.role.load() == ps.role &&
                       rt.redirects.load() == ps.redirects,
                   "after '{}': port {} runs mtu {} role {} redirects {}, model mtu {} role {} "
                   "redirects {}",
                   after, p, rt.mtu.load(), to_string(rt.role.load()), rt.redirects.load(), ps.mtu,
                   to_string(ps.role), ps.redirects);
    }
}

reply run(executor &ex, const command &c, std::string_view line) {
    reply rep = ex.execute(c);
    drain_inject();
    std::string text;
    try {
        text = rep.to_json().dump();
    } catch (const std::exception &e) {
        FUZZ_CHECK(false, "'{}': the reply does not serialise: {}", line, e.what());
    }
    if (!rep.ok) FUZZ_CHECK(!rep.error.empty(), "'{}' refused without a message", line);
    return rep;
}

bool is_config(const command &c) {
    return !is_read_only(c) && !std::holds_alternative<cmd_stats_reset>(c) &&
           !std::holds_alternative<cmd_batch>(c);
}

void must(executor &ex, const std::string &line) {
    reply rep = ex.execute_line(line);
    drain_inject();
    FUZZ_CHECK(rep.ok, "teardown '{}' refused: {}", line, rep.error);
}

// Deletes everything with the commands, in an order the executor accepts, then checks that
// every table is empty.
void teardown(executor &ex) {
    const control_model &m = ex.model();
    std::vector<uint32_t> homes;
    for (const auto &[home, e] : m.bindings) homes.push_back(home);
    for (uint32_t home : homes) must(ex, fmt::format("nat del {}", ip4_addr(home).to_string()));
    for (const auto &[port, pfx] : m.proxy.entries())
        must(ex, fmt::format("proxy-arp del {} port {}", pfx.to_string(), port));
    std::vector<ip4_prefix> statics;
    for (const auto &[pfx, e] : m.routes)
        if (e.origin == route_origin::static_route) statics.push_back(pfx);
    for (const auto &pfx : statics) must(ex, fmt::format("route del {}", pfx.to_string()));
    std::vector<ip4_addr> neighbors;
    for (const auto &[ip, n] : m.static_neighbors) neighbors.push_back(ip);
    for (ip4_addr ip : neighbors) must(ex, fmt::format("neigh del {}", ip.to_string()));
    for (uint16_t p = 0; p < m.addresses.size(); ++p) {
        const auto addrs = m.addresses[p];
        for (const auto &ia : addrs)
            must(ex, fmt::format("address del {}/{} port {}", ia.addr.to_string(), ia.len, p));
    }
    for (uint16_t p = 0; p < m.ports.size(); ++p) {
        must(ex, fmt::format("port {} mtu 1500", p));
        must(ex, fmt::format("port {} role access", p));
        must(ex, fmt::format("port {} redirects off", p));
    }
    check_consistency(m, "teardown");
    router &r = *g_router;
    FUZZ_CHECK(m.routes.empty() && r.routes().size() == 0 &&
                   r.routes().default_hop() == route_table::kNoRoute,
               "routes left after teardown");
    FUZZ_CHECK(r.nat().size() == 0 && r.nat().empty(), "bindings left after teardown");
    FUZZ_CHECK(r.proxy_arp().size() == 0, "proxy-ARP left after teardown");
    FUZZ_CHECK(r.neigh_cache().entries().empty() && r.neighbors().size() == 0,
               "neighbors left after teardown");
    for (uint16_t p = 0; p < r.port_count(); ++p)
        FUZZ_CHECK(r.addresses(p).empty(), "port {} addresses left after teardown", p);
    r.rcu().reclaim();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    fuzz::init_eal("command_fuzz");
    g_router = new router;
    router_config cfg;
    cfg.mbufs = 8191;
    cfg.max_routes = 32;
    cfg.tbl8_groups = 4;
    cfg.nat_capacity = 8;
    cfg.neighbor.max_entries = 8;
    std::string error;
    if (!g_router->init(cfg, error)) {
        fmt::print(stderr, "router init: {}\n", error);
        std::abort();
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const std::string_view text(reinterpret_cast<const char *>(data), size);
    executor ex(*g_router);

    bool in_batch = false, batch_refused = false;
    std::vector<command> batch;
    size_t start = 0;
    for (int n = 0; n < 64 && start <= text.size(); ++n) {
        size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(start, end - start);
        start = end + 1;

        parse_result p = parse_command(line);
        FUZZ_CHECK(p.cmd.has_value() != !p.error.empty(), "'{}': command and error both {}", line,
                   p.cmd ? "set" : "empty");
        if (!p.cmd) {
            if (in_batch) {
                batch_refused = true;
                continue;
            }
            const std::string before = model_text(ex.model(), true);
            reply rep = ex.execute_line(line);
            FUZZ_CHECK(!rep.ok && rep.error == p.error,
                       "'{}' does not parse ({}) but execute_line says {}", line, p.error,
                       rep.ok ? "ok" : rep.error);
            FUZZ_CHECK(model_text(ex.model(), true) == before,
                       "'{}' (unparsable) changed the model", line);
            continue;
        }
        const command &c = *p.cmd;
        if (const auto *b = std::get_if<cmd_batch>(&c)) {
            // As control_server runs a connection's batch.
            if (!in_batch) {
                if (b->action == cmd_batch::op::begin) {
                    in_batch = true;
                    batch_refused = false;
                    batch.clear();
                } else {
                    const std::string before = model_text(ex.model(), true);
                    reply rep = run(ex, c, line);
                    FUZZ_CHECK(!rep.ok && model_text(ex.model(), true) == before,
                               "'{}' outside a batch", line);
                }
                continue;
            }
            if (b->action == cmd_batch::op::begin) {
                batch_refused = true;
                continue;
            }
            in_batch = false;
            if (b->action == cmd_batch::op::abort || batch_refused) {
                batch.clear();
                continue;
            }
            const std::string before = model_text(ex.model(), true);
            reply rep = ex.execute_batch(batch);
            drain_inject();
            (void)rep.to_json().dump();
            if (!rep.ok)
                FUZZ_CHECK(model_text(ex.model(), true) == before,
                           "a refused batch of {} commands changed the model", batch.size());
            std::vector<const command *> cmds;
            for (const command &bc : batch) cmds.push_back(&bc);
            check_consistency(ex.model(), "batch commit");
            batch.clear();
            continue;
        }
        if (in_batch) {
            if (!is_config(c))
                batch_refused = true;
            else
                batch.push_back(c);
            continue;
        }

        const std::string before = model_text(ex.model(), true);
        reply rep = run(ex, c, line);
        if (!rep.ok)
            FUZZ_CHECK(model_text(ex.model(), true) == before,
                       "'{}' was refused ({}) but changed the model", line, rep.error);
        else
            check_consistency(ex.model(), line);
        if (!rep.ok || !is_config(c)) continue;

        // The same command again: refused, or nothing changes.
        const std::string once = model_text(ex.model(), true);
        const std::string once_no_epochs = model_text(ex.model(), false);
        reply again = run(ex, c, line);
        if (again.ok)
            FUZZ_CHECK(model_text(ex.model(), false) == once_no_epochs,
                       "'{}' accepted twice changed the model the second time:\n{}\n---\n{}", line,
                       once_no_epochs, model_text(ex.model(), false));
        else
            FUZZ_CHECK(model_text(ex.model(), true) == once,
                       "'{}' refused the second time ({}) but changed the model", line,
                       again.error);
        check_consistency(ex.model(), line);
    }
    // Every show works on whatever state the input made.
    for (const char *s : {"show ports", "show addresses", "show routes", "show neigh", "show stats",
                          "show nat", "show proxy-arp", "help"}) {
        reply rep = ex.execute_line(s);
        FUZZ_CHECK(rep.ok, "'{}' refused: {}", s, rep.error);
        (void)rep.to_json().dump();
    }
    g_router->slow().tick();
    drain_inject();
    teardown(ex);
    return 0;
}
