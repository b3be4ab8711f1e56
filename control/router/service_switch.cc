// The executor's service-switch commands: bindings (docs/DESIGN.md §2), proxy-ARP entries,
// gratuitous ARP announcements and arrival watches (§2.6).
#include "control/router/executor.h"

#include <fmt/format.h>

#include "dataplane/log.h"
#include "dataplane/slow_path/slow_path.h"

namespace ssw {

reply executor::stage(const cmd_nat &c, transaction &t) {
    // No binding can have such a home (0.0.0.0 is not even a key of the tables): a delete of
    // one, a withdrawal included, is refused as an add is.
    if (!usable_host(c.home))
        return reply::failure(fmt::format("{} is not a unicast host address", c.home.to_string()));
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
        return reply::failure(
            fmt::format("stale update: epoch {} is older than epoch {} held for {}", *c.epoch, held,
                        c.home.to_string()));

    if (!c.add) {
        if (!exists) {
            // With an epoch, a delete means "absent as of epoch E" (a withdrawal): nothing to
            // remove, but a later add older than E must still be refused.
            if (!c.epoch)
                return reply::failure(fmt::format("no binding for {}", c.home.to_string()));
            if (*c.epoch == held) return reply::success(json{{"changed", false}});
            std::optional<uint64_t> before_deleted;
            if (deleted) before_deleted = held;
            model_.deleted_epoch[m] = *c.epoch;
            t.undo.push(undo::withdrawal{m, before_deleted});
            return reply::success(json{{"changed", false}});
        }
        const binding_entry before = it->second;
        const uint64_t epoch = c.epoch.value_or(held);
        model_.owner.erase(m);
        model_.owner.erase(before.b.care_of.host());
        model_.bindings.erase(it);
        std::optional<uint64_t> before_deleted;
        if (auto d = model_.deleted_epoch.find(m); d != model_.deleted_epoch.end())
            before_deleted = d->second;
        model_.deleted_epoch[m] = epoch;
        t.undo.push(undo::binding_removed{before, before_deleted});
        t.publish.push(publish::binding_remove{c.home, before.b.is_local()});
        return {};
    }

    const binding b{c.home, c.care_of, c.type, c.port};
    if (!usable_host(c.care_of) || c.home == c.care_of)  // (home: checked above)
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
                                              ip4_addr(a).to_string(),
                                              ip4_addr(o->second).to_string()));
    }
    if (!exists && model_.bindings.size() >= r_.nat().capacity())
        return reply::failure(fmt::format("binding table full ({} bindings; see --nat-capacity)",
                                          r_.nat().capacity()));

    const uint64_t epoch = c.epoch.value_or(held + 1);
    std::optional<binding_entry> before;
    if (exists) before = it->second;
    std::optional<uint64_t> before_deleted;
    if (auto d = model_.deleted_epoch.find(m); d != model_.deleted_epoch.end())
        before_deleted = d->second;
    if (before) model_.owner.erase(before->b.care_of.host());
    model_.bindings[m] = {b, epoch};
    model_.owner[m] = m;
    model_.owner[c.care_of.host()] = m;
    model_.deleted_epoch.erase(m);
    if (!before && !before_deleted)
        t.undo.push(undo::binding_added{m, c.care_of.host()});
    else
        t.undo.push(undo::binding_replaced{m, c.care_of.host(), before, before_deleted});
    // A VM that left this router's segment: its neighbor entry there is stale now.
    if (before && before->b.is_local() && !(b.is_local() && b.port == before->b.port))
        t.publish.push(publish::neighbor_forget_learned{c.home});
    t.publish.push(publish::binding_set{b});
    return reply::success(json{{"changed", true}, {"epoch", epoch}});
}

// ---- proxy-ARP and announcements ----

reply executor::stage(const cmd_proxy_arp &c, transaction &t) {
    if (!r_.valid_port(c.port))
        return reply::failure(fmt::format("port {} does not exist", c.port));
    const bool present = model_.proxy.contains(c.port, c.prefix);
    if (c.add && present)
        return reply::failure(
            fmt::format("proxy-arp {} port {} exists", c.prefix.to_string(), c.port));
    if (!c.add && !present)
        return reply::failure(
            fmt::format("no proxy-arp {} on port {}", c.prefix.to_string(), c.port));
    if (c.add)
        model_.proxy.add(c.port, c.prefix);
    else
        model_.proxy.remove(c.port, c.prefix);
    t.undo.push(undo::proxy{c.add, c.port, c.prefix});
    t.publish.push(publish::proxy{c.add, c.port, c.prefix});
    return {};
}

reply executor::stage(const cmd_announce &c, transaction &t) {
    if (!r_.valid_port(c.port))
        return reply::failure(fmt::format("port {} does not exist", c.port));
    // 4096 addresses per announcement: a /20 in three bursts is ~12k frames.
    if (c.prefix.len < 20)
        return reply::failure(
            fmt::format("{} is too large to announce (at most a /20)", c.prefix.to_string()));
    // What the router answers for (per the model, batch included) and the neighbours it has
    // confirmed on that port.
    size_t n = 0;
    for_each_announced(model_, r_.neigh_cache(), c.port, c.prefix,
                       [&](ip4_addr, const mac_addr *) { ++n; });
    if (n == 0)
        return reply::failure(
            fmt::format("the router answers ARP for no address of {} on port {}, "
                        "nor knows a host of it there",
                        c.prefix.to_string(), c.port));
    t.publish.push(publish::announce{c});
    return reply::success(json{{"addresses", n}, {"frames", n * c.count}});
}

reply executor::stage(const cmd_arrival &c, transaction &t) {
    auto it = model_.arrivals.find(c.vm);
    std::optional<arrival_spec> before;
    if (it != model_.arrivals.end()) before = it->second;
    if (!c.watch) {
        if (!before)
            return reply::failure(fmt::format("no arrival watch for {}", c.vm.to_string()));
        model_.arrivals.erase(it);
        t.undo.push(undo::arrival{c.vm, before});
        t.publish.push(publish::arrival{c.vm, std::nullopt});
        return {};
    }
    if (!usable_host(c.vm))
        return reply::failure(fmt::format("{} is not a unicast host address", c.vm.to_string()));
    if (!r_.valid_port(c.port))
        return reply::failure(fmt::format("port {} does not exist", c.port));
    const arrival_spec spec{c.mac, c.port};
    if (before == spec) return reply::success(json{{"changed", false}});
    // One VM per MAC: a RARP names only the MAC.
    for (const auto &[vm, a] : model_.arrivals)
        if (a.mac == c.mac && vm != c.vm)
            return reply::failure(fmt::format("{} is already watched for as the MAC of {}",
                                              c.mac.to_string(), vm.to_string()));
    model_.arrivals[c.vm] = spec;
    t.undo.push(undo::arrival{c.vm, before});
    t.publish.push(publish::arrival{c.vm, spec});
    return reply::success(json{{"changed", true}});
}

// ---- undo and publish ----

void executor::revert(const undo::binding_added &u) {
    model_.owner.erase(u.care_of);
    model_.bindings.erase(u.home);
    model_.owner.erase(u.home);
}

void executor::revert(const undo::binding_replaced &u) {
    model_.owner.erase(u.care_of);
    if (u.before) {
        model_.bindings[u.home] = *u.before;
        model_.owner[u.before->b.care_of.host()] = u.home;
    } else {
        model_.bindings.erase(u.home);
        model_.owner.erase(u.home);
    }
    if (u.before_deleted) model_.deleted_epoch[u.home] = *u.before_deleted;
}

void executor::revert(const undo::binding_removed &u) {
    const uint32_t m = u.before.b.home.host();
    model_.bindings[m] = u.before;
    model_.owner[m] = m;
    model_.owner[u.before.b.care_of.host()] = m;
    revert(undo::withdrawal{m, u.before_deleted});
}

void executor::revert(const undo::withdrawal &u) {
    if (u.before_deleted)
        model_.deleted_epoch[u.home] = *u.before_deleted;
    else
        model_.deleted_epoch.erase(u.home);
}

void executor::revert(const undo::proxy &u) {
    if (u.added)
        model_.proxy.remove(u.port, u.prefix);
    else
        model_.proxy.add(u.port, u.prefix);
}

void executor::revert(const undo::arrival &u) {
    if (u.before)
        model_.arrivals[u.vm] = *u.before;
    else
        model_.arrivals.erase(u.vm);
}

void executor::apply(const publish::binding_set &p) {
    std::string error;
    if (!r_.nat().set(p.b, error))
        SSW_LOG(ERR, "binding of {} not installed: {}", p.b.home.to_string(), error);
}

void executor::apply(const publish::binding_remove &p) {
    r_.nat().remove(p.home);
    if (p.local) r_.neigh_cache().remove_learned(p.home);  // the VM left this segment
}

void executor::apply(const publish::neighbor_forget_learned &p) {
    r_.neigh_cache().remove_learned(p.ip);
}

void executor::apply(const publish::proxy &p) {
    if (p.add)
        r_.proxy_arp().add(p.port, p.prefix);
    else
        r_.proxy_arp().remove(p.port, p.prefix);
}

void executor::apply(const publish::announce &p) {
    r_.slow().announce(p.c.port, p.c.prefix, p.c.count, p.c.interval_ms);
}

void executor::apply(const publish::arrival &p) {
    if (p.spec)
        r_.slow().arrivals().expect(p.vm, p.spec->mac, p.spec->port, slow_path::now_ms());
    else
        r_.slow().arrivals().forget(p.vm);
}

}  // namespace ssw
