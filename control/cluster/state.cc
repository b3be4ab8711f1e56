#include "control/cluster/state.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ssw::cluster {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

const char *to_string(move_phase p) {
    switch (p) {
        case move_phase::prepare: return "prepare";
        case move_phase::switch_over: return "switch";
        case move_phase::done: return "done";
    }
    return "?";
}

std::optional<move_phase> parse_move_phase(const std::string &s) {
    for (auto p : {move_phase::prepare, move_phase::switch_over, move_phase::done})
        if (s == to_string(p)) return p;
    return std::nullopt;
}

namespace {

ojson state_json(const vm_state &s) {
    return ojson{{"location", s.location},
                 {"care_of", s.care_of.is_zero() ? "" : s.care_of.to_string()},
                 {"mode", s.triangle ? "triangle" : "optimized"},
                 {"epoch", s.epoch}};
}

vm_state state_of(ip4_addr m, const json &j) {
    vm_state s;
    s.home = m;
    s.location = j.at("location").get<std::string>();
    const auto care = j.at("care_of").get<std::string>();
    if (!care.empty()) {
        auto a = ip4_addr::parse(care);
        if (!a) throw std::runtime_error(fmt::format("care_of '{}' is not an address", care));
        s.care_of = *a;
    }
    const auto mode = j.at("mode").get<std::string>();
    if (mode != "triangle" && mode != "optimized")
        throw std::runtime_error(fmt::format("mode '{}'", mode));
    s.triangle = mode == "triangle";
    s.epoch = j.at("epoch").get<uint64_t>();
    return s;
}

// The router of the foreign subnet `s` is in, or nullptr at home (or in no subnet).
const std::string *foreign_router(const topology &topo, const vm_state &s) {
    const topo_subnet *home = topo.subnet_of(s.home);
    const topo_subnet *at = topo.subnet(s.location);
    if (!at || at == home) return nullptr;
    return &at->router;
}

}  // namespace

std::string vm_record::to_json() const {
    ojson j = state_json(now);
    j["phase"] = to_string(phase);
    if (!move_id.empty()) j["move"] = move_id;
    if (rollback) j["rollback"] = true;
    if (prev) j["prev"] = state_json(*prev);
    if (await_arrival) j["await_arrival"] = await_arrival->to_string();
    if (!arrived.empty()) j["arrived"] = arrived;
    return j.dump();
}

bool vm_record::parse(ip4_addr m, const std::string &text, vm_record &out, std::string &error) {
    try {
        const json j = json::parse(text);
        vm_record r;
        r.now = state_of(m, j);
        auto phase = parse_move_phase(j.at("phase").get<std::string>());
        if (!phase) throw std::runtime_error("unknown phase");
        r.phase = *phase;
        r.move_id = j.value("move", "");
        r.rollback = j.value("rollback", false);
        if (j.contains("prev")) r.prev = state_of(m, j.at("prev"));
        if (j.contains("await_arrival")) {
            const auto text = j.at("await_arrival").get<std::string>();
            r.await_arrival = mac_addr::parse(text);
            if (!r.await_arrival) throw std::runtime_error(fmt::format("await_arrival '{}'", text));
        }
        r.arrived = j.value("arrived", "");
        if (r.phase != move_phase::done && !r.prev)
            throw std::runtime_error("a move under way without \"prev\"");
        out = std::move(r);
        return true;
    } catch (const std::exception &e) {
        error = fmt::format("record of VM {} is not valid: {}", m.to_string(), e.what());
        return false;
    }
}

const vm_state &view_of(const topology &topo, const vm_record &r, move_phase phase,
                        const std::string &router) {
    if (phase == move_phase::done || !r.prev) return r.now;
    const std::string *new_foreign = foreign_router(topo, r.now);
    // A move that awaits the VM's arrival stages nothing but the watch: the new foreign
    // router's local binding is also M's host route there, and would deliver its segment's
    // traffic for M (case 6) to a segment the VM is not on yet, for the whole pre-copy.
    const bool staged_only = phase == move_phase::prepare && r.await_arrival;
    if (new_foreign && *new_foreign == router && !staged_only) return r.now;
    if (phase == move_phase::prepare) return *r.prev;
    const std::string *old_foreign = foreign_router(topo, *r.prev);
    return old_foreign && *old_foreign == router ? *r.prev : r.now;
}

namespace {

router_holdings holdings_of(const topology &topo, const std::map<ip4_addr, vm_record> &records,
                            const std::string &router, const std::set<ip4_addr> *vms) {
    orchestrator_state st;
    std::map<ip4_addr, held_arrival> watches;
    // Each VM's state as this router holds it at its record's phase, and the watch for it
    // when its move awaits its arrival here.
    auto add = [&](ip4_addr m, const vm_record &r) {
        st.vms[m] = view_of(topo, r, r.phase, router);
        const topo_subnet *s = r.phase == move_phase::prepare ? arrival_subnet(topo, r) : nullptr;
        if (s && s->router == router) watches[m] = {*r.await_arrival, s->port};
    };
    if (vms) {
        for (ip4_addr m : *vms)
            if (auto it = records.find(m); it != records.end()) add(m, it->second);
    } else {
        for (const auto &[m, r] : records) add(m, r);
    }
    auto all = desired(topo, st, &router);
    router_holdings out = all.count(router) ? std::move(all[router]) : router_holdings{};
    out.arrivals = std::move(watches);
    return out;
}

}  // namespace

const topo_subnet *arrival_subnet(const topology &topo, const vm_record &r) {
    return r.await_arrival && r.prev ? topo.subnet(r.now.location) : nullptr;
}

router_holdings desired_for(const desired_state &d, const std::string &router,
                            const std::set<ip4_addr> *vms) {
    return holdings_of(d.topo, d.vms, router, vms);
}

std::set<ip4_addr> same_home_subnets(const desired_state &d, const std::set<ip4_addr> &homes) {
    std::set<ip4_addr> out;
    std::set<const topo_subnet *> subnets;
    for (ip4_addr m : homes)
        if (const topo_subnet *s = d.topo.subnet_of(m)) subnets.insert(s);
    for (const topo_subnet *s : subnets)  // the records in the subnet's range of addresses
        for (auto it = d.vms.lower_bound(s->prefix.addr);
             it != d.vms.end() && it->first <= s->prefix.broadcast(); ++it)
            out.insert(it->first);
    return out;
}

std::set<std::string> routers_changed(const desired_state &d, ip4_addr m, move_phase phase) {
    std::set<std::string> out;
    auto it = d.vms.find(m);
    if (it == d.vms.end() || !it->second.prev) return out;
    // What a router holds because of m: m's binding, m's /32 proxy entry, and its home
    // prefix's proxy entry at m's foreign router, which the other VMs of that home subnet
    // may hold up too. So the others of that subnet are in the comparison, and no other VM:
    // a move costs routers x (VMs of one subnet), not routers x VMs.
    const std::set<ip4_addr> related = same_home_subnets(d, {m});
    std::map<ip4_addr, vm_record> before, after;
    for (ip4_addr v : related) before.emplace(v, d.vms.at(v));
    after = before;
    vm_record &b = before[m], &a = after[m];
    a.phase = phase;
    if (phase == move_phase::prepare) {
        b.now = *b.prev;
        b.phase = move_phase::done;
    } else {
        b.phase = phase == move_phase::done ? move_phase::switch_over : move_phase::prepare;
    }
    for (const auto &[name, r] : d.topo.routers) {
        const auto x = holdings_of(d.topo, before, name, nullptr),
                   y = holdings_of(d.topo, after, name, nullptr);
        if (!(x == y)) out.insert(name);
    }
    return out;
}

std::vector<cmd_announce> announcements(const topology &topo, const vm_record &r,
                                        const std::string &router) {
    const topo_subnet *home = topo.subnet_of(r.now.home);
    const std::string from = r.prev ? r.prev->location : home ? home->name : "";
    if (r.prev && r.prev->location == r.now.location && r.prev->care_of == r.now.care_of &&
        r.prev->triangle == r.now.triangle)
        return {};
    return move_announcements(topo, r.now.home, from, r.now.location, router);
}

std::string router_status::to_json() const {
    ojson j{{"revision", revision}, {"router_up", router_up}};
    if (!error.empty()) j["error"] = error;
    ojson f = ojson::array();
    for (const auto &x : failures)
        f.push_back(ojson{{"vm", x.vm.to_string()}, {"epoch", x.epoch}, {"error", x.error}});
    j["failures"] = f;
    j["relists"] = relists;
    return j.dump();
}

bool router_status::parse(const std::string &text, router_status &out, std::string &error) {
    try {
        const json j = json::parse(text);
        router_status s;
        s.revision = j.at("revision").get<int64_t>();
        s.router_up = j.at("router_up").get<bool>();
        s.error = j.value("error", "");
        for (const auto &f : j.at("failures")) {
            auto vm = ip4_addr::parse(f.at("vm").get<std::string>());
            if (!vm) throw std::runtime_error("bad vm");
            s.failures.push_back(
                {*vm, f.at("epoch").get<uint64_t>(), f.at("error").get<std::string>()});
        }
        s.relists = j.value("relists", uint64_t(0));
        out = std::move(s);
        return true;
    } catch (const std::exception &e) {
        error = fmt::format("router status is not valid: {}", e.what());
        return false;
    }
}

}  // namespace ssw::cluster
