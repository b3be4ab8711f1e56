#include "control/agent/router_model.h"

#include <fmt/format.h>

namespace ssw::agent {

using ojson = nlohmann::ordered_json;

namespace {

// As the router: not zero, multicast, broadcast, loopback or class E.
bool usable_host(ip4_addr a) {
    return !(a.is_zero() || a.is_multicast() || a.is_limited_broadcast() || a.is_loopback() ||
             a.is_reserved());
}

ojson success(ojson data = nullptr) {
    ojson j{{"ok", true}};
    if (!data.is_null()) j["data"] = std::move(data);
    return j;
}

ojson failure(const std::string &error) { return ojson{{"ok", false}, {"error", error}}; }

// Records how to give map[key] back its present value (or absence).
template <typename Map>
void remember(std::vector<std::function<void()>> &undo, Map &map,
              const typename Map::key_type &key) {
    if (auto it = map.find(key); it != map.end())
        undo.push_back([&map, key, v = it->second] { map[key] = v; });
    else
        undo.push_back([&map, key] { map.erase(key); });
}

}  // namespace

router_model::result router_model::refuse(std::string error) {
    return {false, std::move(error), nullptr};
}

bool router_model::is_own(ip4_addr a, int port) const {
    for (const auto &[p, own] : c_.own)
        if (own == a && (port < 0 || p == port)) return true;
    return false;
}

// The router's answers_arp_for (dataplane/tables/proxy_arp.h) without an asker.
bool router_model::answers_arp_for(uint16_t port, ip4_addr a) const {
    const tables &t = t_;
    if (is_own(a, port)) return true;
    bool proxied = false;
    for (const auto &[p, pfx] : t.proxies) proxied |= p == port && pfx.contains(a);
    if (!proxied || is_own(a)) return false;
    auto b = t.bindings.find(a.host());
    return !(b != t.bindings.end() && b->second.b.is_local() && b->second.b.port == port);
}

router_model::result router_model::stage(const cmd_nat &c, undo_log &undo) {
    tables &t = t_;
    if (!usable_host(c.home))
        return refuse(fmt::format("{} is not a unicast host address", c.home.to_string()));
    const uint32_t m = c.home.host();
    auto it = t.bindings.find(m);
    const bool exists = it != t.bindings.end();
    uint64_t held = exists ? it->second.epoch : 0;
    bool deleted = false;
    if (auto d = t.deleted.find(m); !exists && d != t.deleted.end()) {
        held = d->second;
        deleted = true;
    }
    if (c.epoch && *c.epoch < held)
        return refuse(fmt::format("stale update: epoch {} is older than epoch {} held for {}",
                                  *c.epoch, held, c.home.to_string()));
    if (!c.add) {
        if (!exists) {
            if (!c.epoch) return refuse(fmt::format("no binding for {}", c.home.to_string()));
            if (*c.epoch != held) {  // absent as of that epoch
                remember(undo, t.deleted, m);
                t.deleted[m] = *c.epoch;
            }
            return {true, {}, ojson{{"changed", false}}};
        }
        remember(undo, t.owner, m);
        remember(undo, t.owner, it->second.b.care_of.host());
        remember(undo, t.deleted, m);
        remember(undo, t.bindings, m);
        t.owner.erase(m);
        t.owner.erase(it->second.b.care_of.host());
        t.deleted[m] = c.epoch.value_or(held);
        t.bindings.erase(it);
        return {true, {}, nullptr};
    }
    const binding b{c.home, c.care_of, c.type, c.port};
    if (!usable_host(c.care_of) || c.home == c.care_of)  // (home: checked above)
        return refuse("home and care-of addresses must be distinct unicast host addresses");
    if (is_own(c.home) || is_own(c.care_of))
        return refuse("a binding cannot use one of this router's own addresses");
    if (b.is_local() && c.port >= c_.ports)
        return refuse(fmt::format("port {} does not exist", c.port));
    if (c.epoch && *c.epoch == held) {
        if (exists && it->second.b == b) return {true, {}, ojson{{"changed", false}}};
        return refuse(fmt::format("epoch {} of {} already {}", held, c.home.to_string(),
                                  deleted ? "deleted it" : "holds a different binding"));
    }
    for (uint32_t a : {m, c.care_of.host()}) {
        auto o = t.owner.find(a);
        if (o != t.owner.end() && o->second != m)
            return refuse(fmt::format("{} is already used by the binding of {}",
                                      ip4_addr(a).to_string(), ip4_addr(o->second).to_string()));
    }
    if (!exists && t.bindings.size() >= c_.nat_capacity)
        return refuse(
            fmt::format("binding table full ({} bindings; see --nat-capacity)", c_.nat_capacity));
    const uint64_t epoch = c.epoch.value_or(held + 1);
    remember(undo, t.bindings, m);
    remember(undo, t.owner, m);
    remember(undo, t.owner, c.care_of.host());
    remember(undo, t.deleted, m);
    if (exists) {
        remember(undo, t.owner, it->second.b.care_of.host());
        t.owner.erase(it->second.b.care_of.host());
    }
    t.bindings[m] = {b, epoch};
    t.owner[m] = m;
    t.owner[c.care_of.host()] = m;
    t.deleted.erase(m);
    return {true, {}, ojson{{"changed", true}, {"epoch", epoch}}};
}

router_model::result router_model::stage(const cmd_proxy_arp &c, undo_log &undo) {
    tables &t = t_;
    if (c.port >= c_.ports) return refuse(fmt::format("port {} does not exist", c.port));
    const std::pair<uint16_t, ip4_prefix> e{c.port, c.prefix};
    const bool present = t.proxies.count(e) > 0;
    if (c.add && present)
        return refuse(fmt::format("proxy-arp {} port {} exists", c.prefix.to_string(), c.port));
    if (!c.add && !present)
        return refuse(fmt::format("no proxy-arp {} on port {}", c.prefix.to_string(), c.port));
    if (c.add)
        t.proxies.insert(e);
    else
        t.proxies.erase(e);
    undo.push_back([&t, e, add = c.add] {
        if (add)
            t.proxies.erase(e);
        else
            t.proxies.insert(e);
    });
    return {true, {}, nullptr};
}

router_model::result router_model::stage(const cmd_announce &c) {
    if (c.port >= c_.ports) return refuse(fmt::format("port {} does not exist", c.port));
    if (c.prefix.len < 20)
        return refuse(
            fmt::format("{} is too large to announce (at most a /20)", c.prefix.to_string()));
    const uint32_t first = c.prefix.addr.host(), last = c.prefix.broadcast().host();
    uint64_t n = 0;
    for (uint64_t v = first; v <= last; ++v) {
        if (c.prefix.len <= 30 && (v == first || v == last)) continue;
        n += answers_arp_for(c.port, ip4_addr(uint32_t(v)));
    }
    if (n == 0)
        return refuse(
            fmt::format("the router answers ARP for no address of {} on port {}, "
                        "nor knows a host of it there",
                        c.prefix.to_string(), c.port));
    ++pending_announcements_;
    return {true, {}, ojson{{"addresses", n}, {"frames", n * c.count}}};
}

// As the router's executor (control/router/service_switch.cc); the model never sees a VM
// arrive, so its watches stay "waiting".
router_model::result router_model::stage(const cmd_arrival &c, undo_log &undo) {
    tables &t = t_;
    auto it = t.arrivals.find(c.vm);
    std::optional<std::pair<mac_addr, uint16_t>> before;
    if (it != t.arrivals.end()) before = it->second;
    if (c.watch) {
        if (!usable_host(c.vm))
            return refuse(fmt::format("{} is not a unicast host address", c.vm.to_string()));
        if (c.port >= c_.ports) return refuse(fmt::format("port {} does not exist", c.port));
        if (before == std::pair{c.mac, c.port}) return {true, {}, ojson{{"changed", false}}};
        for (const auto &[vm, a] : t.arrivals)
            if (a.first == c.mac && vm != c.vm)
                return refuse(fmt::format("{} is already watched for as the MAC of {}",
                                          c.mac.to_string(), vm.to_string()));
        t.arrivals[c.vm] = {c.mac, c.port};
    } else {
        if (!before) return refuse(fmt::format("no arrival watch for {}", c.vm.to_string()));
        t.arrivals.erase(it);
    }
    undo.push_back([&t, vm = c.vm, before] {
        if (before)
            t.arrivals[vm] = *before;
        else
            t.arrivals.erase(vm);
    });
    return {true, {}, c.watch ? ojson{{"changed", true}} : ojson(nullptr)};
}

router_model::result router_model::stage_command(const command &cmd, undo_log &undo) {
    if (const auto *n = std::get_if<cmd_nat>(&cmd)) return stage(*n, undo);
    if (const auto *p = std::get_if<cmd_proxy_arp>(&cmd)) return stage(*p, undo);
    if (const auto *a = std::get_if<cmd_announce>(&cmd)) return stage(*a);
    if (const auto *w = std::get_if<cmd_arrival>(&cmd)) return stage(*w, undo);
    return refuse("the router model holds bindings, proxy-ARP entries and arrival watches only");
}

void router_model::roll_back(undo_log &undo) {
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) (*it)();
    undo.clear();
}

router_model::result router_model::show_nat(const cmd_show &c, std::string &next) const {
    const uint32_t limit = c.limit ? c.limit : cmd_show::kShowNatLimit;
    ojson rows = ojson::array();
    ip4_addr last;
    auto it = c.after ? t_.bindings.upper_bound(c.after->host()) : t_.bindings.begin();
    for (; it != t_.bindings.end(); ++it) {
        const held &h = it->second;
        if (c.filter && !c.filter->contains(h.b.home)) continue;
        if (rows.size() == limit) {
            cmd_show rest = c;
            rest.after = last;
            next = format_command(command{rest});
            break;
        }
        rows.push_back(ojson{{"home", h.b.home.to_string()},
                             {"care_of", h.b.care_of.to_string()},
                             {"type", to_string(h.b.kind)},
                             {"port", h.b.is_local() ? ojson(h.b.port) : ojson(nullptr)},
                             {"epoch", h.epoch},
                             {"packets", 0},
                             {"last_hit_s", nullptr}});
        last = h.b.home;
    }
    return {true, {}, std::move(rows)};
}

ojson router_model::show_proxy_arp() const {
    ojson rows = ojson::array();
    for (const auto &[port, pfx] : t_.proxies)
        rows.push_back(ojson{{"port", port}, {"prefix", pfx.to_string()}});
    return rows;
}

ojson router_model::show_arrivals() const {
    ojson rows = ojson::array();
    for (const auto &[vm, a] : t_.arrivals)
        rows.push_back(ojson{{"vm", vm.to_string()},
                             {"mac", a.first.to_string()},
                             {"port", a.second},
                             {"frames", 0},
                             {"state", "waiting"}});
    return rows;
}

ojson router_model::call(std::string_view line) {
    parse_result p = parse_command(line);
    const auto *batch = p.cmd ? std::get_if<cmd_batch>(&*p.cmd) : nullptr;
    if (!in_batch_) {
        if (!p.cmd) return failure(p.error);
        if (batch) {
            if (batch->action != cmd_batch::op::begin) return failure("no batch in progress");
            in_batch_ = true;
            batch_refused_ = false;
            batch_.clear();
            return success();
        }
        if (const auto *s = std::get_if<cmd_show>(&*p.cmd)) {
            if (s->item == cmd_show::what::proxy_arp) return success(show_proxy_arp());
            if (s->item == cmd_show::what::arrivals) return success(show_arrivals());
            if (s->item != cmd_show::what::nat)
                return failure("the router model shows nat, proxy-arp and arrivals only");
            std::string next;
            ojson j = success(show_nat(*s, next).data);
            if (!next.empty()) j["next"] = next;
            return j;
        }
        undo_log undo;
        result r = stage_command(*p.cmd, undo);
        if (!r.ok) {
            roll_back(undo);
            pending_announcements_ = 0;
            return failure(r.error);
        }
        announcements_ += pending_announcements_;
        pending_announcements_ = 0;
        return success(std::move(r.data));
    }
    if (!batch) {
        std::string error = p.error;
        if (p.cmd && !is_batchable(*p.cmd)) error = "only configuration commands can be batched";
        if (!error.empty()) {
            batch_refused_ = true;
            return failure(error);
        }
        batch_.push_back(std::move(*p.cmd));
        return success();
    }
    switch (batch->action) {
        case cmd_batch::op::begin:
            batch_refused_ = true;
            return failure("a batch is already in progress");
        case cmd_batch::op::abort:
            in_batch_ = false;
            batch_.clear();
            return success();
        case cmd_batch::op::commit: break;
    }
    in_batch_ = false;
    std::vector<command> cmds = std::move(batch_);
    batch_.clear();
    if (batch_refused_) return failure("the batch has refused commands; nothing applied");
    undo_log undo;  // the batch is all or nothing
    pending_announcements_ = 0;
    for (size_t i = 0; i < cmds.size(); ++i) {
        result r = stage_command(cmds[i], undo);
        if (!r.ok) {
            roll_back(undo);
            pending_announcements_ = 0;
            return failure(fmt::format("command {}: {}; nothing applied", i + 1, r.error));
        }
    }
    announcements_ += pending_announcements_;
    pending_announcements_ = 0;
    return success(ojson{{"applied", cmds.size()}});
}

}  // namespace ssw::agent
