#include "control/agent/agent.h"

#include <algorithm>
#include <ctime>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace ssw::agent {

using clock = std::chrono::steady_clock;

// The wall-clock time to the millisecond: journald adds its own, a log file has none.
void say(const std::string &router, const std::string &what) {
    const auto now = std::chrono::system_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    localtime_r(&t, &tm);
    fmt::print(stderr, "{:02}:{:02}:{:02}.{:03} ssw-agent {}: {}\n", tm.tm_hour, tm.tm_min,
               tm.tm_sec, ms.count() % 1000, router, what);
}

agent::agent(etcd::client &store, router_link &router, options o)
    : store_(store), router_(router), o_(std::move(o)) {}

bool agent::ensure_lease() {
    if (lease_ && lease_->alive()) return true;
    std::string error;
    lease_ = store_.grant_lease(o_.lease_ttl_s, error);
    stats_.lease_alive = bool(lease_);
    if (!lease_) {
        say(o_.router, "no lease: " + error);
        return false;
    }
    ++stats_.lease_grants;
    published_once_ = false;  // the status goes again, on the new lease
    return true;
}

void agent::publish_status() {
    if (!lease_ || !lease_->alive()) return;
    if (published_once_ && status_ == published_) return;
    // Only the revision moved, by changes for other routers: nobody waits for it.
    cluster::router_status same = published_;
    same.revision = status_.revision;
    if (published_once_ && !urgent_ && same == status_ &&
        clock::now() - last_publish_ < o_.status_interval)
        return;
    std::string error;
    int64_t rev = 0;
    if (!store_.put(o_.keys.status(o_.router), status_.to_json(), rev, error, lease_->id())) {
        say(o_.router, "cannot publish its status: " + error);
        return;
    }
    published_ = status_;
    published_once_ = true;
    urgent_ = false;
    last_publish_ = clock::now();
}

bool agent::relist(std::string &error) {
    etcd::range_result r;
    if (!store_.list(o_.keys.desired(), r, error)) return false;
    desired_ = cluster::desired_state{};
    desired_.revision = r.revision;
    full_ = true;
    topology_ok_ = false;
    topology_error_ =
        fmt::format("no topology at {} (sswctl topology put FILE)", o_.keys.topology());
    for (const auto &kv : r.kvs) on_event({etcd::watch_event::type::put, kv});
    watch_ = store_.watch_prefix(o_.keys.desired(), r.revision + 1, error);
    if (!watch_) return false;
    ++stats_.relists;
    ++status_.relists;
    stats_.store_revision = r.revision;
    // Moves done before this list were announced then, or are too old to announce now.
    for (const auto &[m, rec] : desired_.vms)
        if (rec.phase == cluster::move_phase::done) announced_[m] = rec.move_id;
    return true;
}

void agent::on_event(const etcd::watch_event &e) {
    const std::string &key = e.kv.key;
    const bool put = e.what == etcd::watch_event::type::put;
    if (key == o_.keys.topology()) {
        topology_ok_ = put && topology::parse(e.kv.value, desired_.topo, topology_error_);
        if (!put) topology_error_ = "the topology was deleted";
        actual_known_ = false;  // what the router holds is read again, in the new scope
        full_ = true;
    } else if (key.starts_with(o_.keys.vms())) {
        auto m = ip4_addr::parse(key.substr(o_.keys.vms().size()));
        if (!m) return;
        dirty_.insert(*m);
        if (!put) {
            desired_.vms.erase(*m);
            return;
        }
        cluster::vm_record rec;
        std::string error;
        if (!cluster::vm_record::parse(*m, e.kv.value, rec, error)) {
            say(o_.router, error + "; ignored");
            return;
        }
        desired_.vms[*m] = std::move(rec);
    } else if (key == o_.keys.resync()) {
        actual_known_ = false;  // `sswctl reconcile`: read the router again, diff everything
        urgent_ = true;         // and it waits for every agent's status
    }
}

bool agent::read_router(std::string &error) {
    if (!topology_ok_) {
        error = topology_error_;
        return false;
    }
    ++stats_.router_reads;
    if (!router_.fetch(desired_.topo, actual_, error)) return false;
    actual_known_ = true;
    full_ = true;  // all of it is diffed against what was read
    return true;
}

void agent::apply_each(const router_holdings &want, const std::set<ip4_addr> &homes,
                       const std::map<ip4_addr, uint64_t> &del_epoch) {
    // The batch was refused: one batch per VM finds which VMs cannot be applied.
    std::string error;
    if (!read_router(error)) return;
    for (ip4_addr m : homes) {
        const std::set<ip4_addr> one{m};
        auto cmds = diff_commands(actual_, want, one, proxy_scope(desired_.topo, o_.router, one),
                                  del_epoch);
        if (cmds.empty()) continue;
        if (!router_.apply(cmds, error)) {
            auto e = del_epoch.find(m);
            status_.failures.push_back({m, e == del_epoch.end() ? 0 : e->second, error});
            say(o_.router, fmt::format("VM {}: {}", m.to_string(), error));
            continue;
        }
        if (!read_router(error)) return;
    }
}

void agent::converge() {
    if (!topology_ok_) {
        status_.error = topology_error_;
        return;
    }
    if (!desired_.topo.routers.count(o_.router)) {
        status_.error = fmt::format("router {} is not in the topology", o_.router);
        return;
    }
    status_.error.clear();
    touched_all_ = full_;
    if (!(full_ ? converge_all() : converge_changed())) return;
    status_.router_up = true;
    status_.revision = desired_.revision;
    stats_.applied_revision = desired_.revision;
}

bool agent::converge_all() {
    auto want = cluster::desired_for(desired_, o_.router);
    if (want != want_) urgent_ = true;
    std::set<ip4_addr> homes;
    std::map<ip4_addr, uint64_t> del_epoch;
    for (const auto &[m, rec] : desired_.vms) {
        homes.insert(m);
        del_epoch[m] = cluster::view_of(desired_.topo, rec, rec.phase, o_.router).epoch;
    }
    for (const auto &[m, h] : actual_.bindings) homes.insert(m);
    for (const auto &[m, a] : actual_.arrivals) homes.insert(m);
    const auto scope = proxy_scope(desired_.topo, o_.router, homes);
    const auto cmds = diff_commands(actual_, want, homes, scope, del_epoch);
    status_.failures.clear();
    if (!cmds.empty()) {
        std::string error;
        if (router_.apply(cmds, error)) {
            ++stats_.applies;
            router_holdings now = want;
            for (const auto &p : actual_.proxies)
                if (!scope.count(p)) now.proxies.insert(p);
            actual_ = std::move(now);
            say(o_.router,
                fmt::format("revision {}: {} change(s) applied", desired_.revision, cmds.size()));
        } else if (!router_.intact()) {
            actual_known_ = false;
            status_.router_up = false;
            status_.error = error;
            return false;
        } else {
            ++stats_.apply_failures;
            say(o_.router, fmt::format("revision {}: batch refused ({}); applying VM by VM",
                                       desired_.revision, error));
            apply_each(want, homes, del_epoch);
        }
    }
    want_ = std::move(want);
    full_ = false;
    dirty_.clear();
    return true;
}

namespace {
// Makes `to[m]` what `from[m]` is (absent included); true when that changed it.
template <typename Map>
bool patch(Map &to, const Map &from, ip4_addr m) {
    auto f = from.find(m);
    auto t = to.find(m);
    if (f == from.end()) {
        if (t == to.end()) return false;
        to.erase(t);
        return true;
    }
    if (t != to.end() && t->second == f->second) return false;
    to[m] = f->second;
    return true;
}
}  // namespace

bool agent::converge_changed() {
    touched_ = std::exchange(dirty_, {});
    if (touched_.empty()) return true;
    const topology &topo = desired_.topo;
    // These VMs decide their bindings, their /32 proxy entries and (with the other VMs of
    // their home subnets) their home prefixes' proxy entries on the ports this router serves.
    std::set<ip4_addr> related = cluster::same_home_subnets(desired_, touched_);
    related.insert(touched_.begin(), touched_.end());
    const router_holdings part = cluster::desired_for(desired_, o_.router, &related);
    std::set<std::pair<uint16_t, ip4_prefix>> scope;
    for (const auto &[name, served] : topo.subnets) {
        if (served.router != o_.router) continue;
        for (ip4_addr m : touched_) {
            if (const topo_subnet *home = topo.subnet_of(m))
                scope.insert({served.port, home->prefix});
            scope.insert({served.port, ip4_prefix{m, 32}});
        }
    }
    // want_ patched in place (a copy would cost as much as every VM): the touched VMs'
    // bindings and arrival watches, and the proxy entries in scope.
    bool changed = false;
    std::map<ip4_addr, uint64_t> del_epoch;
    for (ip4_addr m : touched_) {
        changed |= patch(want_.bindings, part.bindings, m);
        changed |= patch(want_.arrivals, part.arrivals, m);
        if (auto it = desired_.vms.find(m); it != desired_.vms.end())
            del_epoch[m] = cluster::view_of(topo, it->second, it->second.phase, o_.router).epoch;
    }
    for (const auto &p : scope) {
        if (part.proxies.count(p))
            changed |= want_.proxies.insert(p).second;
        else
            changed |= want_.proxies.erase(p) > 0;
    }
    if (changed) urgent_ = true;
    const auto cmds = diff_commands(actual_, want_, touched_, scope, del_epoch);
    std::erase_if(status_.failures, [&](const auto &f) { return touched_.count(f.vm) > 0; });
    if (cmds.empty()) return true;
    std::string error;
    if (router_.apply(cmds, error)) {
        ++stats_.applies;
        for (ip4_addr m : touched_) {
            patch(actual_.bindings, want_.bindings, m);
            patch(actual_.arrivals, want_.arrivals, m);
        }
        for (const auto &p : scope) {
            if (want_.proxies.count(p))
                actual_.proxies.insert(p);
            else
                actual_.proxies.erase(p);
        }
        say(o_.router,
            fmt::format("revision {}: {} change(s) applied", desired_.revision, cmds.size()));
        return true;
    }
    if (!router_.intact()) {
        actual_known_ = false;
        status_.router_up = false;
        status_.error = error;
        return false;
    }
    // Refused: read the router again and diff everything, VM by VM if need be.
    say(o_.router, fmt::format("revision {}: batch refused ({}); reading the router again",
                               desired_.revision, error));
    touched_all_ = true;
    if (!read_router(error)) {
        status_.router_up = false;
        status_.error = error;
        return false;
    }
    return converge_all();
}

void agent::announce_done_moves(const std::set<ip4_addr> *only) {
    auto announce = [&](ip4_addr m, const cluster::vm_record &rec) {
        if (rec.phase != cluster::move_phase::done || rec.move_id.empty()) return;
        auto [it, fresh] = announced_.try_emplace(m, rec.move_id);
        if (!fresh && it->second == rec.move_id) return;
        it->second = rec.move_id;
        for (const auto &a : cluster::announcements(desired_.topo, rec, o_.router)) {
            std::string error;
            const std::string cmd = format_command(a);
            if (router_.send(cmd, error))
                ++stats_.announcements;
            else
                say(o_.router, fmt::format("{}: {}", cmd, error));
        }
    };
    if (!only) {
        for (const auto &[m, rec] : desired_.vms) announce(m, rec);
        return;
    }
    for (ip4_addr m : *only)
        if (auto it = desired_.vms.find(m); it != desired_.vms.end()) announce(m, it->second);
}

void agent::run(const std::atomic<bool> &stop) {
    next_resync_ = clock::now() + o_.resync_interval;
    // How long a wait for the store lasts: the router's connection is checked in between.
    const auto tick = std::min(o_.retry_interval, std::chrono::milliseconds(200));
    std::string last_error;
    auto trouble = [&](const std::string &what) {
        if (what != last_error) say(o_.router, what);
        last_error = what;
        std::this_thread::sleep_for(o_.retry_interval);
    };
    while (!stop) {
        std::string error;
        ensure_lease();
        if (!watch_ && !relist(error)) {
            trouble("cannot list the desired state: " + error);
            continue;
        }
        // Without a topology there is nothing to hold: wait for one.
        if (topology_ok_ && (!router_.intact() || !actual_known_ || clock::now() >= next_resync_)) {
            next_resync_ = clock::now() + o_.resync_interval;
            if (!read_router(error)) {
                status_.router_up = false;
                status_.error = error;
                stats_.router_up = false;
                publish_status();
                trouble("router: " + error);
                continue;
            }
        }
        stats_.router_up = topology_ok_;
        converge();
        if (status_.router_up) announce_done_moves(touched_all_ ? nullptr : &touched_);
        publish_status();
        last_error.clear();

        std::vector<etcd::watch_event> events;
        int64_t revision = 0;
        if (!watch_->next(events, revision, tick, error)) {
            ++stats_.watch_restarts;
            if (watch_->compacted()) {
                say(o_.router, fmt::format("watch compacted at {}: listing again",
                                           watch_->compact_revision()));
                watch_.reset();
                continue;
            }
            say(o_.router, "watch broken (" + error + "): watching again");
            watch_ = store_.watch_prefix(o_.keys.desired(), desired_.revision + 1, error);
            continue;
        }
        for (const auto &e : events) {
            on_event(e);
            desired_.revision = std::max(desired_.revision, e.kv.mod_revision);
        }
        stats_.store_revision = std::max<int64_t>(stats_.store_revision, revision);
    }
    lease_.reset();  // revoked: the status goes with it
}

}  // namespace ssw::agent
