// What routers must hold for the VMs' state (desired), the proxy entries the orchestrator
// manages (proxy_scope), and the commands that take a router there (diff_commands): shared by
// the local orchestrator and, through control/cluster/state.h, by ssw-agent.
#include <fmt/format.h>

#include "control/orchestrator/orchestrator.h"

namespace ssw {

std::map<std::string, router_holdings> desired(const topology &topo, const orchestrator_state &st,
                                               const std::string *only) {
    std::map<std::string, router_holdings> want;
    for (const auto &[name, r] : topo.routers)
        if (!only || name == *only) want[name];
    auto holds = [&](const std::string &router) -> router_holdings * {
        if (only && router != *only) return nullptr;
        return &want[router];
    };
    for (const auto &[m, vm] : st.vms) {
        const topo_subnet *home = topo.subnet_of(m);
        const topo_subnet *at = topo.subnet(vm.location);
        if (!home || !at || at == home) continue;
        const binding local{m, vm.care_of,
                            vm.triangle ? binding_kind::local_keep_source : binding_kind::local,
                            at->port};
        const binding forward{m, vm.care_of, binding_kind::forward, 0};
        // The foreign router delivers M and answers for the home prefix on that segment.
        if (auto *h = holds(at->router)) {
            h->bindings[m] = {local, vm.epoch};
            h->proxies.insert({at->port, home->prefix});
        }
        // The home router translates and answers for M on the home segment (case 4).
        if (auto *h = holds(home->router)) {
            if (home->router != at->router) h->bindings[m] = {forward, vm.epoch};
            h->proxies.insert({home->port, ip4_prefix{m, 32}});
        }
        // Optimized mode: every other router translates early (the paper's scenario iii).
        if (!vm.triangle)
            for (const auto &[name, r] : topo.routers)
                if (name != at->router && name != home->router)
                    if (auto *h = holds(name)) h->bindings[m] = {forward, vm.epoch};
    }
    return want;
}

std::string binding_command(const held_binding &h) { return format_command(nat_set(h.b, h.epoch)); }

namespace {

std::string proxy_arp_command(bool add, const std::pair<uint16_t, ip4_prefix> &p) {
    cmd_proxy_arp c;
    c.add = add;
    c.port = p.first;
    c.prefix = p.second;
    return format_command(c);
}

}  // namespace

std::vector<std::string> diff_commands(const router_holdings &actual, const router_holdings &want,
                                       const std::set<ip4_addr> &homes,
                                       const std::set<std::pair<uint16_t, ip4_prefix>> &proxy_scope,
                                       const std::map<ip4_addr, uint64_t> &del_epoch) {
    std::vector<std::string> cmds;
    // Make before break: new proxy entries, then bindings, then removals.
    for (const auto &p : want.proxies)
        if (proxy_scope.count(p) && !actual.proxies.count(p))
            cmds.push_back(proxy_arp_command(true, p));
    for (ip4_addr m : homes) {
        auto w = want.bindings.find(m);
        auto a = actual.bindings.find(m);
        if (w != want.bindings.end()) {
            if (a == actual.bindings.end() || !(a->second.b == w->second.b) ||
                a->second.epoch < w->second.epoch)
                cmds.push_back(binding_command(w->second));
        } else if (a != actual.bindings.end()) {
            auto e = del_epoch.find(m);
            const uint64_t epoch =
                e != del_epoch.end() ? std::max(e->second, a->second.epoch) : a->second.epoch;
            cmds.push_back(format_command(nat_withdraw(m, epoch)));
        }
    }
    // Watches: set with the new state, removed with the old.
    for (ip4_addr m : homes) {
        auto w = want.arrivals.find(m);
        auto a = actual.arrivals.find(m);
        if (w != want.arrivals.end() && (a == actual.arrivals.end() || !(a->second == w->second)))
            cmds.push_back(format_command(
                cmd_arrival{.watch = true, .vm = m, .mac = w->second.mac, .port = w->second.port}));
    }
    for (const auto &p : actual.proxies)
        if (proxy_scope.count(p) && !want.proxies.count(p))
            cmds.push_back(proxy_arp_command(false, p));
    for (ip4_addr m : homes)
        if (actual.arrivals.count(m) && !want.arrivals.count(m))
            cmds.push_back(
                format_command(cmd_arrival{.watch = false, .vm = m, .mac = {}, .port = 0}));
    return cmds;
}

std::set<std::pair<uint16_t, ip4_prefix>> proxy_scope(const topology &topo,
                                                      const std::string &router,
                                                      const std::set<ip4_addr> &homes) {
    std::set<std::pair<uint16_t, ip4_prefix>> scope;
    for (const auto &[n, served] : topo.subnets) {
        if (served.router != router) continue;
        for (const auto &[n2, s] : topo.subnets) scope.insert({served.port, s.prefix});
        for (ip4_addr m : homes) scope.insert({served.port, ip4_prefix{m, 32}});
    }
    return scope;
}

}  // namespace ssw
