#include "control/orchestrator/orchestrator.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "control/protocol/durable_file.h"

namespace ssw {

using ojson = nlohmann::ordered_json;

namespace {

// Holds an exclusive lock on `path` + ".lock" while alive: two orchestrators never interleave.
class state_lock {
public:
    explicit state_lock(const std::string &path) {
        fd_ = open((path + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd_ >= 0 && flock(fd_, LOCK_EX) != 0) {
            close(fd_);
            fd_ = -1;
        }
    }
    ~state_lock() {
        if (fd_ >= 0) close(fd_);
    }
    bool held() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

bool reply_ok(const ojson &r) { return r.is_object() && r.value("ok", false); }
std::string reply_error(const ojson &r) {
    return r.is_object() ? r.value("error", std::string("refused")) : "bad reply";
}

}  // namespace

// ---- state ----

bool orchestrator_state::load(const std::string &path, orchestrator_state &out,
                              std::string &error) {
    out = orchestrator_state{};
    std::ifstream in(path);
    if (!in) return true;  // no moves yet
    std::stringstream ss;
    ss << in.rdbuf();
    try {
        const auto j = nlohmann::json::parse(ss.str());
        for (const auto &[addr, v] : j.at("vms").items()) {
            vm_state s;
            auto home = ip4_addr::parse(addr);
            auto care = ip4_addr::parse(v.at("care_of").get<std::string>());
            if (!home || !care) throw std::runtime_error("bad address in " + addr);
            s.home = *home;
            s.care_of = *care;
            s.location = v.at("location").get<std::string>();
            s.triangle = v.at("mode").get<std::string>() == "triangle";
            s.epoch = v.at("epoch").get<uint64_t>();
            out.vms[s.home] = s;
        }
    } catch (const std::exception &e) {
        error = fmt::format(
            "state file {} is damaged ({}); move it away and run "
            "'sswctl reconcile' after restoring VM locations",
            path, e.what());
        return false;
    }
    return true;
}

bool orchestrator_state::save(const std::string &path, std::string &error) const {
    ojson j;
    j["vms"] = ojson::object();
    for (const auto &[home, s] : vms) {
        j["vms"][home.to_string()] = ojson{{"location", s.location},
                                           {"care_of", s.care_of.to_string()},
                                           {"mode", s.triangle ? "triangle" : "optimized"},
                                           {"epoch", s.epoch}};
    }
    // All or nothing, and durable before the command returns (docs/DESIGN.md §7).
    return write_file_atomically(path, j.dump(2) + "\n", error, 0644);
}

// ---- talking to routers ----

orchestrator::orchestrator(topology topo, std::string state_path, transport t)
    : topo_(std::move(topo)), state_path_(std::move(state_path)), send_(std::move(t)) {}

bool fetch_holdings(const router_transport &send, const topology &topo, const topo_router &r,
                    uint32_t page_size, router_holdings &out, std::string &error) {
    cmd_show nat, proxies, arrivals;
    nat.item = cmd_show::what::nat;
    nat.limit = page_size;
    proxies.item = cmd_show::what::proxy_arp;
    arrivals.item = cmd_show::what::arrivals;
    auto replies =
        send(r, {format_command(nat), format_command(proxies), format_command(arrivals)}, error);
    if (!replies) return false;
    for (const auto &reply : *replies)
        if (!reply_ok(reply)) {
            error = reply_error(reply);
            return false;
        }
    out = router_holdings{};
    // The bindings come a page at a time, each page naming the next; only ours are kept.
    nlohmann::ordered_json page = std::move((*replies)[0]);
    for (;;) {
        for (const auto &row : page["data"]) {
            auto home = ip4_addr::parse(row["home"].get<std::string>());
            auto care = ip4_addr::parse(row["care_of"].get<std::string>());
            auto kind = parse_binding_kind(row["type"].get<std::string>());
            if (!home || !care || !kind) continue;
            if (!topo.subnet_of(*home)) continue;  // not ours to manage
            binding b{
                *home, *care, *kind,
                row["port"].is_number() ? uint16_t(row["port"].get<unsigned>()) : uint16_t(0)};
            out.bindings[*home] = {b, row["epoch"].get<uint64_t>()};
        }
        if (!page.contains("next")) break;
        auto more = send(r, {page["next"].get<std::string>()}, error);
        if (!more) return false;
        if (!reply_ok((*more)[0])) {
            error = reply_error((*more)[0]);
            return false;
        }
        page = std::move((*more)[0]);
    }
    for (const auto &row : (*replies)[1]["data"]) {
        auto p = ip4_prefix::parse(row["prefix"].get<std::string>());
        if (p) out.proxies.insert({uint16_t(row["port"].get<unsigned>()), *p});
    }
    for (const auto &row : (*replies)[2]["data"]) {
        auto vm = ip4_addr::parse(row["vm"].get<std::string>());
        auto mac = mac_addr::parse(row["mac"].get<std::string>());
        if (vm && mac && topo.subnet_of(*vm))
            out.arrivals[*vm] = {*mac, uint16_t(row["port"].get<unsigned>())};
    }
    return true;
}

bool apply_batch(const router_transport &send, const topo_router &r,
                 const std::vector<std::string> &cmds, std::string &error) {
    std::vector<std::string> lines{"batch begin"};
    lines.insert(lines.end(), cmds.begin(), cmds.end());
    lines.push_back("batch commit");
    auto replies = send(r, lines, error);
    if (!replies) return false;
    for (size_t i = 0; i < replies->size(); ++i) {
        if (!reply_ok((*replies)[i])) {
            error = i + 1 < replies->size()
                        ? fmt::format("'{}': {}", lines[i], reply_error((*replies)[i]))
                        : reply_error((*replies)[i]);
            return false;
        }
    }
    return true;
}

std::optional<ip4_addr> orchestrator::allocate_care_of(const topo_subnet &s,
                                                       const orchestrator_state &st,
                                                       ip4_addr vm) const {
    if (!s.has_pool()) return std::nullopt;
    std::set<ip4_addr> used;
    for (const auto &[m, v] : st.vms) {
        used.insert(m);  // a VM's own (home) address is never another's care-of
        if (m != vm && !v.care_of.is_zero()) used.insert(v.care_of);
    }
    for (const auto &[name, a] : topo_.vms) used.insert(a);
    for (uint64_t a = s.pool_first.host(); a <= s.pool_last.host(); ++a)
        if (!used.count(ip4_addr(uint32_t(a))) && ip4_addr(uint32_t(a)) != s.gateway)
            return ip4_addr(uint32_t(a));
    return std::nullopt;
}

std::vector<cmd_announce> move_announcements(const topology &topo, ip4_addr m,
                                             const std::string &from, const std::string &to,
                                             const std::string &router) {
    std::vector<cmd_announce> out;
    const topo_subnet *home = topo.subnet_of(m);
    const topo_subnet *target = topo.subnet(to);
    const topo_subnet *old_at = topo.subnet(from);
    if (!home || !target) return out;
    auto add = [&](const topo_subnet &s, const ip4_prefix &what) {
        if (s.router != router) return;
        cmd_announce a;
        a.prefix = what;
        a.port = s.port;
        a.count = 3;
        a.interval_ms = 100;
        out.push_back(a);
    };
    // Caches: the VM's (home neighbours, its gateway), the home segment's (M), the old
    // segment's (M). Hosts may miss one frame: announcements go in bursts.
    if (target != home) {
        add(*target, home->prefix);
        add(*home, ip4_prefix{m, 32});
    } else {
        // Back home, the VM's cache still points home neighbours at the foreign router: the
        // home router tells the segment its own MAC and the neighbours' true ones.
        add(*home, home->prefix);
    }
    if (old_at && old_at != home && old_at != target) add(*old_at, ip4_prefix{m, 32});
    return out;
}

void orchestrator::announce(const std::string &router, const cmd_announce &a, result &res) {
    std::string error;
    const std::string cmd = format_command(a);
    auto replies = send_(topo_.routers.at(router), {cmd}, error);
    if (!replies)
        res.log.push_back(fmt::format("{}: {} not sent: {}", router, cmd, error));
    else if (!reply_ok((*replies)[0]))
        res.log.push_back(
            fmt::format("{}: {} skipped: {}", router, cmd, reply_error((*replies)[0])));
    else
        res.log.push_back(fmt::format("{}: {} ({} addresses)", router, cmd,
                                      (*replies)[0]["data"].value("addresses", 0)));
}

// ---- moves ----

orchestrator::result orchestrator::move(const std::string &vm_name, const std::string &to,
                                        std::optional<ip4_addr> care_of, bool triangle,
                                        bool dry_run) {
    result res;
    auto fail = [&](std::string e) {
        res.ok = false;
        res.error = std::move(e);
        return res;
    };
    auto m = topo_.vm_address(vm_name);
    if (!m)
        return fail(fmt::format(
            "unknown VM '{}' (a name from the topology or an address in one of its subnets)",
            vm_name));
    const topo_subnet *home = topo_.subnet_of(*m);
    const topo_subnet *target = topo_.subnet(to);
    if (!target) return fail(fmt::format("unknown subnet '{}'", to));
    if (care_of && !target->prefix.contains(*care_of))
        return fail(fmt::format("care-of {} is outside {} ({})", care_of->to_string(), target->name,
                                target->prefix.to_string()));

    state_lock lock(state_path_);
    if (!lock.held()) return fail(fmt::format("cannot lock {}.lock", state_path_));
    orchestrator_state st;
    std::string error;
    if (!orchestrator_state::load(state_path_, st, error)) return fail(error);

    vm_state cur = st.vms.count(*m) ? st.vms[*m] : vm_state{*m, home->name, {}, false, 0};
    vm_state next = cur;
    next.location = target->name;
    next.triangle = target != home && triangle;
    if (target == home) {
        next.care_of = {};
    } else if (care_of) {
        for (const auto &[other, v] : st.vms)
            if (other != *m && v.care_of == *care_of)
                return fail(fmt::format("care-of {} is in use by {}", care_of->to_string(),
                                        topo_.vm_name(other)));
        next.care_of = *care_of;
    } else if (cur.location != target->name || cur.care_of.is_zero()) {
        auto a = allocate_care_of(*target, st, *m);
        if (!a)
            return fail(
                fmt::format("subnet {} has no free care-of address (care_of_pool)", target->name));
        next.care_of = *a;
    }

    // Everything every router holds now.
    std::map<std::string, router_holdings> actual;
    std::map<std::string, std::string> unreachable;
    uint64_t newest = cur.epoch;
    for (const auto &[name, r] : topo_.routers) {
        if (!fetch(r, actual[name], error)) {
            unreachable[name] = error;
            continue;
        }
        if (auto it = actual[name].bindings.find(*m); it != actual[name].bindings.end())
            newest = std::max(newest, it->second.epoch);
    }
    const bool changed = !(next.location == cur.location && next.care_of == cur.care_of &&
                           next.triangle == cur.triangle);
    next.epoch = changed ? newest + 1 : std::max(cur.epoch, newest);

    orchestrator_state after = st;
    if (target == home && next.epoch == 0)
        after.vms.erase(*m);
    else
        after.vms[*m] = next;
    const auto want = desired(topo_, after);

    // Make before break: new foreign router, home router, the others, old foreign router.
    std::vector<std::string> order;
    auto push = [&](const std::string &r) {
        if (std::find(order.begin(), order.end(), r) == order.end()) order.push_back(r);
    };
    if (target != home) push(target->router);
    push(home->router);
    const topo_subnet *old_at = topo_.subnet(cur.location);
    for (const auto &[name, r] : topo_.routers)
        if (!(old_at && old_at != home && name == old_at->router)) push(name);
    if (old_at) push(old_at->router);

    const std::set<ip4_addr> homes{*m};
    const std::map<ip4_addr, uint64_t> del_epoch{{*m, next.epoch}};
    std::map<std::string, std::vector<std::string>> plan;
    for (const auto &name : order) {
        if (unreachable.count(name)) continue;
        plan[name] =
            diff_commands(actual[name], want.at(name), homes, proxy_scope(name, homes), del_epoch);
    }
    res.data = ojson{{"vm", topo_.vm_name(*m)},
                     {"from", cur.location},
                     {"to", next.location},
                     {"care_of", next.care_of.is_zero() ? "" : next.care_of.to_string()},
                     {"mode", next.triangle ? "triangle" : "optimized"},
                     {"epoch", next.epoch}};
    ojson routers_json = ojson::object();
    for (const auto &name : order)
        routers_json[name] =
            unreachable.count(name) ? ojson{{"error", unreachable[name]}} : ojson(plan[name]);
    res.data["routers"] = routers_json;

    if (dry_run) {
        for (const auto &name : order) {
            if (unreachable.count(name)) {
                res.log.push_back(fmt::format("{}: unreachable: {}", name, unreachable[name]));
                continue;
            }
            res.log.push_back(
                fmt::format("{}:{}", name, plan[name].empty() ? " (nothing to change)" : ""));
            for (const auto &c : plan[name]) res.log.push_back("  " + c);
        }
        return res;
    }
    // A move needs every router: one we cannot reach might hold a binding that would
    // misroute the VM's traffic.
    if (!unreachable.empty()) {
        const auto &[name, why] = *unreachable.begin();
        return fail(fmt::format("{} unreachable ({}); nothing changed", name, why));
    }

    std::vector<std::string> done;
    for (const auto &name : order) {
        if (plan[name].empty()) continue;
        if (apply(topo_.routers.at(name), plan[name], error)) {
            done.push_back(name);
            res.log.push_back(fmt::format("{}: {} change(s) applied", name, plan[name].size()));
            continue;
        }
        // Put back what was changed, at a newer epoch so that no router refuses it as stale.
        const std::string failure = fmt::format("{} refused or failed: {}", name, error);
        const uint64_t back_epoch = next.epoch + 1;
        std::vector<std::string> rollback_log;
        done.push_back(name);  // it may have applied before failing to answer
        for (const auto &r : done) {
            router_holdings before = actual[r];
            for (auto &[home_addr, h] : before.bindings) h.epoch = back_epoch;
            auto undo =
                diff_commands(want.at(r), before, homes, proxy_scope(r, homes), {{*m, back_epoch}});
            // A binding the router held before at an older epoch must be written again, newer.
            if (auto it = before.bindings.find(*m); it != before.bindings.end()) {
                const std::string cmd = binding_command(it->second);
                if (std::find(undo.begin(), undo.end(), cmd) == undo.end()) undo.push_back(cmd);
            }
            std::string e2;
            if (undo.empty() || apply(topo_.routers.at(r), undo, e2))
                rollback_log.push_back(fmt::format("{}: restored", r));
            else
                rollback_log.push_back(
                    fmt::format("{}: NOT restored ({}): run 'sswctl reconcile'", r, e2));
        }
        cur.epoch = back_epoch;  // kept, so that the next move is newer still
        st.vms[*m] = cur;
        std::string e3;
        st.save(state_path_, e3);
        res.log.insert(res.log.end(), rollback_log.begin(), rollback_log.end());
        return fail(failure + "; the move was rolled back");
    }
    if (!after.save(state_path_, error))
        return fail(error + " (routers were updated: run 'sswctl reconcile')");

    // New foreign router first, old foreign router last (`order`).
    for (const auto &name : order)
        for (const auto &a : move_announcements(topo_, *m, cur.location, next.location, name))
            announce(name, a, res);
    return res;
}

orchestrator::result orchestrator::where(const std::string &vm_name) {
    result res;
    auto m = topo_.vm_address(vm_name);
    if (!m) {
        res.ok = false;
        res.error = fmt::format("unknown VM '{}'", vm_name);
        return res;
    }
    orchestrator_state st;
    std::string error;
    if (!orchestrator_state::load(state_path_, st, error)) {
        res.ok = false;
        res.error = error;
        return res;
    }
    const topo_subnet *home = topo_.subnet_of(*m);
    const vm_state s = st.vms.count(*m) ? st.vms[*m] : vm_state{*m, home->name, {}, false, 0};
    res.data = ojson{{"vm", topo_.vm_name(*m)},
                     {"address", m->to_string()},
                     {"home", home->name},
                     {"location", s.location},
                     {"care_of", s.care_of.is_zero() ? "" : s.care_of.to_string()},
                     {"mode", s.triangle ? "triangle" : "optimized"},
                     {"epoch", s.epoch}};
    const auto want = desired(topo_, st);
    ojson rows = ojson::array();
    for (const auto &[name, r] : topo_.routers) {
        router_holdings h;
        ojson row{{"router", name}};
        auto w = want.at(name).bindings.find(*m);
        row["expected"] = w == want.at(name).bindings.end() ? "-" : binding_command(w->second);
        if (!fetch(r, h, error)) {
            row["holds"] = "unreachable: " + error;
        } else {
            auto b = h.bindings.find(*m);
            row["holds"] = b == h.bindings.end() ? "-" : binding_command(b->second);
            std::string proxies;
            for (const auto &[port, p] : h.proxies)
                if (p.contains(*m))
                    proxies += fmt::format("{}{} port {}", proxies.empty() ? "" : ", ",
                                           p.to_string(), port);
            row["proxy_arp"] = proxies;
        }
        rows.push_back(row);
    }
    res.data["routers"] = rows;
    return res;
}

orchestrator::result orchestrator::reconcile(bool dry_run) {
    result res;
    state_lock lock(state_path_);
    orchestrator_state st;
    std::string error;
    if (!orchestrator_state::load(state_path_, st, error)) {
        res.ok = false;
        res.error = error;
        return res;
    }
    const auto want = desired(topo_, st);
    std::map<ip4_addr, uint64_t> del_epoch;
    for (const auto &[m, v] : st.vms) del_epoch[m] = v.epoch;
    ojson routers_json = ojson::object();
    for (const auto &[name, r] : topo_.routers) {
        router_holdings actual;
        if (!fetch(r, actual, error)) {
            res.ok = false;
            res.log.push_back(fmt::format("{}: unreachable: {}", name, error));
            routers_json[name] = ojson{{"error", error}};
            continue;
        }
        std::set<ip4_addr> homes;
        for (const auto &[m, v] : st.vms) homes.insert(m);
        for (const auto &[m, h] : actual.bindings) homes.insert(m);
        auto cmds =
            diff_commands(actual, want.at(name), homes, proxy_scope(name, homes), del_epoch);
        routers_json[name] = cmds;
        if (cmds.empty()) {
            res.log.push_back(fmt::format("{}: in sync", name));
            continue;
        }
        if (dry_run) {
            res.log.push_back(fmt::format("{}: would send", name));
            for (const auto &c : cmds) res.log.push_back("  " + c);
            continue;
        }
        if (apply(r, cmds, error)) {
            res.log.push_back(fmt::format("{}: repaired ({} change(s))", name, cmds.size()));
        } else {
            res.ok = false;
            res.log.push_back(fmt::format("{}: repair refused: {}", name, error));
        }
    }
    res.data = ojson{{"routers", routers_json}};
    if (!res.ok) res.error = "some routers could not be reconciled";
    return res;
}

}  // namespace ssw
