#include "control/router/executor.h"

#include <set>

#include <fmt/format.h>

#include "dataplane/log.h"

namespace ssw {

json reply::to_json() const {
    json j;
    j["ok"] = ok;
    if (!ok) j["error"] = error;
    if (!data.is_null()) j["data"] = data;
    if (!next.empty()) j["next"] = next;
    return j;
}

void executor::rollback(transaction &t) {
    t.undo.for_each_reverse([this](const auto &u) { revert(u); });
    t.undo.clear();
    t.publish.clear();
}

void executor::commit(transaction &t) {
    t.undo.clear();  // before publishing: a large batch's peak holds one log, not both
    // A batch of many binding updates runs at the memory's pace, not one miss after another:
    // each binding's lines are prepared some steps before its update is published.
    const nat_table &nat = r_.nat();
    nat_table::pipelined(
        t.publish.size(),
        [&](size_t i, unsigned step) {
            if (const auto *p = t.publish.get_if<publish::binding_set>(i))
                nat.prepare_set(p->b, step);
        },
        [&](size_t i) { t.publish.visit(i, [this](const auto &p) { apply(p); }); });
    t.publish.clear();
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
    if (std::holds_alternative<cmd_events>(cmd))
        return reply::failure("events are sent on a control socket connection only");
    transaction t;
    reply r = stage(cmd, t);
    if (r.ok && persist_ && is_config_change(cmd)) {
        std::string error;
        if (!persist_({format_command(cmd)}, error)) r = reply::failure("not applied: " + error);
    }
    if (r.ok) {
        commit(t);
        SSW_LOG(DEBUG, "applied: {}", format_command(cmd));
    } else {
        rollback(t);
        SSW_LOG(DEBUG, "refused: {}: {}", format_command(cmd), r.error);
    }
    return r;
}

reply executor::execute_batch(const std::vector<command> &cmds) {
    transaction t;
    // A batch of bindings (a /8 is 16M) stages one undo and one publish record each: room
    // for them at once, so the logs never hold a doubled array while they grow.
    size_t adds = 0;
    for (const command &c : cmds)
        if (const auto *n = std::get_if<cmd_nat>(&c); n && n->add) ++adds;
    t.undo.reserve_steps(adds);
    t.undo.reserve<undo::binding_added>(adds);
    t.publish.reserve_steps(adds);
    t.publish.reserve<publish::binding_set>(adds);
    for (size_t i = 0; i < cmds.size(); ++i) {
        if (!is_batchable(cmds[i])) {
            rollback(t);
            return reply::failure(
                fmt::format("command {}: only configuration commands can be "
                            "batched; nothing applied",
                            i + 1));
        }
        reply r = stage(cmds[i], t);
        if (!r.ok) {
            rollback(t);
            return reply::failure(fmt::format("command {}: {}; nothing applied", i + 1, r.error));
        }
    }
    if (persist_) {
        std::vector<std::string> lines;
        for (const auto &c : cmds)
            if (is_config_change(c)) lines.push_back(format_command(c));
        std::string error;
        if (!lines.empty() && !persist_(lines, error)) {
            rollback(t);
            return reply::failure("nothing applied: " + error);
        }
    }
    commit(t);
    SSW_LOG(DEBUG, "applied a batch of {} commands", cmds.size());
    return reply::success(json{{"applied", cmds.size()}});
}

reply executor::stage(const command &cmd, transaction &t) {
    return std::visit(
        [&](const auto &c) -> reply {
            using T = std::decay_t<decltype(c)>;
            if constexpr (std::is_same_v<T, cmd_show> || std::is_same_v<T, cmd_stats_reset> ||
                          std::is_same_v<T, cmd_help> || std::is_same_v<T, cmd_batch> ||
                          std::is_same_v<T, cmd_events>)
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
    t.undo.push(undo::route{p, before});
    t.publish.push(publish::route_set{p, e.nh});
}

void executor::stage_route_removal(const ip4_prefix &p, transaction &t) {
    auto it = model_.routes.find(p);
    if (it == model_.routes.end()) return;
    const route_entry before = it->second;
    model_.routes.erase(it);
    t.undo.push(undo::route{p, before});
    t.publish.push(publish::route_remove{p});
}

void executor::revert(const undo::route &u) {
    if (u.before)
        model_.routes[u.prefix] = *u.before;
    else
        model_.routes.erase(u.prefix);
}

void executor::apply(const publish::route_set &p) {
    std::string error;
    if (!r_.routes().set(p.prefix, p.nh, error))
        SSW_LOG(ERR, "route {} not installed: {}", p.prefix.to_string(), error);
}

void executor::apply(const publish::route_remove &p) { r_.routes().remove(p.prefix); }

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

}  // namespace ssw
