// mover's reports: where a VM is and what each router's agent has applied; reconcile; the
// agents' statuses.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "control/cluster/mover.h"

namespace ssw::cluster {

using ojson = nlohmann::ordered_json;

namespace {

// One router's agent, as a row: the revision its router holds and how that compares.
ojson agent_row(const std::map<std::string, router_status> &st, const std::string &router,
                int64_t wanted) {
    ojson row{{"router", router}};
    auto it = st.find(router);
    if (it == st.end()) {
        row["agent"] = "none (no live status)";
        return row;
    }
    const router_status &s = it->second;
    row["applied"] = s.revision;
    row["agent"] = !s.router_up           ? "router unreachable: " + s.error
                   : !s.error.empty()     ? s.error
                   : s.revision >= wanted ? std::string("in sync")
                                          : fmt::format("behind (needs {})", wanted);
    std::string failed;
    for (const auto &f : s.failures)
        failed += fmt::format("{}{} epoch {}: {}", failed.empty() ? "" : "; ", f.vm.to_string(),
                              f.epoch, f.error);
    row["failures"] = failed;
    row["relists"] = s.relists;
    return row;
}

}  // namespace

mover::result mover::where(const std::string &vm) {
    result res;
    loaded l;
    ip4_addr m;
    std::map<std::string, router_status> st;
    int64_t at = 0;
    if (!load_vm(vm, l, m, res)) return res;
    if (!statuses(st, at, res.error)) {
        res.ok = false;
        return res;
    }
    const topology &topo = l.d.topo;
    const topo_subnet *home = topo.subnet_of(m);
    auto it = l.d.vms.find(m);
    const vm_record rec =
        it != l.d.vms.end()
            ? it->second
            : vm_record{
                  vm_state{m, home->name, {}, false, 0}, {}, move_phase::done, "", false, {}, {}};
    const int64_t mod = it != l.d.vms.end() ? l.mod.at(m) : 0;
    res.data = ojson{{"vm", topo.vm_name(m)},
                     {"address", m.to_string()},
                     {"home", home->name},
                     {"location", rec.now.location},
                     {"care_of", rec.now.care_of.is_zero() ? "" : rec.now.care_of.to_string()},
                     {"mode", rec.now.triangle ? "triangle" : "optimized"},
                     {"epoch", rec.now.epoch},
                     {"phase", to_string(rec.phase)},
                     {"revision", mod}};
    if (!rec.move_id.empty()) res.data["move"] = rec.move_id;
    if (rec.await_arrival) res.data["await_arrival"] = rec.await_arrival->to_string();
    if (!rec.arrived.empty()) res.data["arrived"] = rec.arrived;
    ojson rows = ojson::array();
    for (const auto &[name, r] : topo.routers) {
        ojson row = agent_row(st, name, mod);
        const auto want = desired_for(l.d, name);
        auto w = want.bindings.find(m);
        row["expected"] = w == want.bindings.end() ? "-" : binding_command(w->second);
        rows.push_back(row);
    }
    res.data["routers"] = rows;
    return res;
}

mover::result mover::reconcile() {
    result res;
    loaded l;
    std::string error;
    if (!load(l, error)) {
        res.ok = false;
        res.error = error;
        return res;
    }
    int64_t rev = 0;
    const auto stamp = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    if (!store_.put(keys_.resync(), ojson{{"by", id_}, {"at_ms", stamp}}.dump(), rev, error)) {
        res.ok = false;
        res.error = error;
        return res;
    }
    // Every agent reads its router again at this revision; wait for them all.
    std::set<std::string> all;
    for (const auto &[name, r] : l.d.topo.routers) all.insert(name);
    std::string why;
    const bool acked = wait_acks(all, rev, ip4_addr{}, UINT64_MAX, why);
    std::map<std::string, router_status> st;
    int64_t at = 0;
    if (!statuses(st, at, error)) {
        res.ok = false;
        res.error = error;
        return res;
    }
    ojson rows = ojson::array();
    for (const auto &name : all) {
        ojson row = agent_row(st, name, rev);
        res.log.push_back(fmt::format("{}: {}{}", name, row["agent"].get<std::string>(),
                                      row.value("failures", "").empty()
                                          ? ""
                                          : "; failed: " + row["failures"].get<std::string>()));
        if (row["agent"] != "in sync" || !row.value("failures", "").empty()) res.ok = false;
        rows.push_back(row);
    }
    res.data = ojson{{"revision", rev}, {"routers", rows}};
    if (!res.ok) res.error = acked ? "some routers hold VMs they could not apply" : why;
    return res;
}

mover::result mover::status() {
    result res;
    loaded l;
    std::map<std::string, router_status> st;
    int64_t at = 0;
    if (!load(l, res.error) || !statuses(st, at, res.error)) {
        res.ok = false;
        return res;
    }
    ojson rows = ojson::array();
    for (const auto &[name, r] : l.d.topo.routers) rows.push_back(agent_row(st, name, l.latest));
    res.data = ojson{{"revision", l.latest}, {"routers", rows}};
    return res;
}

}  // namespace ssw::cluster
