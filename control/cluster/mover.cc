#include "control/cluster/mover.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ssw::cluster {

using ojson = nlohmann::ordered_json;
using clock = std::chrono::steady_clock;

namespace {

std::string mover_id() {
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    // One process may run several movers (sswctl -f): numbered, so that each move's id is
    // its own even within a millisecond.
    static std::atomic<unsigned> seq{0};
    return fmt::format("{}:{}:{}:{}", host, getpid(), ms, seq++);
}

double ms_since(clock::time_point t) {
    return std::round(std::chrono::duration<double, std::milli>(clock::now() - t).count() * 10) /
           10;
}

ojson state_json(const topology &topo, const vm_state &s) {
    return ojson{{"location", s.location},
                 {"care_of", s.care_of.is_zero() ? "" : s.care_of.to_string()},
                 {"mode", s.triangle ? "triangle" : "optimized"},
                 {"epoch", s.epoch},
                 {"vm", topo.vm_name(s.home)}};
}

// Repeats a store call that failed until it succeeds or `limit` has passed. While the
// cluster elects a leader (a member died, a partition) writes fail with "leader changed",
// "request timed out" or a missed deadline for about an election timeout, and such a write
// may have been applied all the same. Every write repeated here is a transaction whose
// compares make a repeat of an applied one fail, and its caller recognises its own write in
// what the failure reads: an election neither fails a move nor leaves one half-written.
template <class Call>
bool repeat(std::chrono::milliseconds limit, std::string &error, Call &&call) {
    const auto deadline = clock::now() + limit;
    const auto pause = std::chrono::milliseconds(200);
    while (!call()) {
        if (clock::now() + pause >= deadline) return false;
        std::this_thread::sleep_for(pause);
        error.clear();
    }
    return true;
}

vm_state at_home(const topology &topo, ip4_addr m) {
    const topo_subnet *home = topo.subnet_of(m);
    return vm_state{m, home ? home->name : "", {}, false, 0};
}

}  // namespace

mover::mover(etcd::client &store, keys k, move_options o)
    : store_(store), keys_(std::move(k)), o_(o), id_(mover_id()) {}

bool mover::load(loaded &out, std::string &error) {
    etcd::range_result r;
    if (!store_.list(keys_.desired(), r, error)) return false;
    out = loaded{};
    out.d.revision = r.revision;
    bool have_topology = false;
    for (const auto &kv : r.kvs) {
        out.latest = std::max(out.latest, kv.mod_revision);
        if (kv.key == keys_.topology()) {
            if (!topology::parse(kv.value, out.d.topo, error)) {
                error = "the topology in etcd is not valid: " + error;
                return false;
            }
            have_topology = true;
        }
    }
    if (!have_topology) {
        error = fmt::format("no topology at {} (sswctl topology put FILE)", keys_.topology());
        return false;
    }
    for (const auto &kv : r.kvs) {
        if (!kv.key.starts_with(keys_.vms())) continue;
        auto m = ip4_addr::parse(kv.key.substr(keys_.vms().size()));
        vm_record rec;
        if (!m || !vm_record::parse(*m, kv.value, rec, error)) return false;
        out.d.vms[*m] = std::move(rec);
        out.mod[*m] = kv.mod_revision;
    }
    return true;
}

bool mover::load_vm(const std::string &vm, loaded &out, ip4_addr &m, result &res) {
    res.ok = load(out, res.error);
    if (!res.ok) return false;
    auto a = out.d.topo.vm_address(vm);
    if (!a) {
        res.ok = false;
        res.error = fmt::format(
            "unknown VM '{}' (a name from the topology or an address in one of its subnets)", vm);
        return false;
    }
    m = *a;
    return true;
}

bool mover::statuses(std::map<std::string, router_status> &out, int64_t &revision,
                     std::string &error) {
    etcd::range_result r;
    if (!store_.list(keys_.statuses(), r, error)) return false;
    out.clear();
    revision = r.revision;
    for (const auto &kv : r.kvs) {
        router_status s;
        if (router_status::parse(kv.value, s, error))
            out[kv.key.substr(keys_.statuses().size())] = std::move(s);
    }
    return true;
}

mover::result mover::put_topology(const std::string &text) {
    result res;
    topology t;
    std::string error;
    int64_t rev = 0;
    if (!topology::parse(text, t, error) || !store_.put(keys_.topology(), text, rev, error)) {
        res.ok = false;
        res.error = error;
        return res;
    }
    res.log.push_back(fmt::format("topology written at revision {}: {} router(s), {} subnet(s)",
                                  rev, t.routers.size(), t.subnets.size()));
    res.data = ojson{{"revision", rev}};
    return res;
}

mover::result mover::get_topology() {
    result res;
    std::optional<etcd::key_value> kv;
    int64_t rev = 0;
    if (!store_.get(keys_.topology(), kv, rev, res.error) || !kv) {
        if (res.error.empty()) res.error = "no topology at " + keys_.topology();
        res.ok = false;
        return res;
    }
    res.log.push_back(kv->value);
    return res;
}

std::optional<ip4_addr> mover::pick_care_of(const loaded &l, const topo_subnet &s, ip4_addr m,
                                            bool spread, std::string &error) {
    if (!s.has_pool()) {
        error = fmt::format("subnet {} has no care-of pool (care_of_pool)", s.name);
        return std::nullopt;
    }
    etcd::range_result taken;
    if (!store_.list(keys_.care_ofs(), taken, error)) return std::nullopt;
    std::set<ip4_addr> used{s.gateway};
    for (const auto &kv : taken.kvs)
        if (auto a = ip4_addr::parse(kv.key.substr(keys_.care_ofs().size()))) used.insert(*a);
    for (const auto &[name, a] : l.d.topo.vms) used.insert(a);
    for (const auto &[home, rec] : l.d.vms) used.insert(home);
    used.insert(m);
    // Movers that lost a race for the first free address would all pick the next one: the
    // k-th of k movers into one subnet needed k attempts.
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    const uint64_t first = s.pool_first.host(), size = s.pool_last.host() - first + 1;
    const uint64_t start = spread ? rng() % size : 0;
    for (uint64_t i = 0; i < size; ++i) {
        const ip4_addr a(uint32_t(first + (start + i) % size));
        if (!used.count(a)) return a;
    }
    error = fmt::format("subnet {} has no free care-of address (care_of_pool)", s.name);
    return std::nullopt;
}

bool mover::write_phase(loaded &l, ip4_addr m, const vm_record &rec, int64_t &mod_rev,
                        std::string &error) {
    std::vector<etcd::compare> cmp{etcd::compare::mod_is(keys_.vm(m), mod_rev)};
    etcd::compare mine{keys_.lock(m), etcd::compare::target::value, etcd::compare::op::equal, 0,
                       id_};
    cmp.push_back(mine);
    std::vector<etcd::request_op> ops{etcd::request_op::put(keys_.vm(m), rec.to_json())};
    if (rec.phase == move_phase::done) {
        ops.push_back(etcd::request_op::del(keys_.lock(m)));
        // The care-of address left behind is free again after the hold time: routers and
        // hosts may still hold it for a while.
        if (rec.prev && !rec.prev->care_of.is_zero() && rec.prev->care_of != rec.now.care_of) {
            int64_t hold = 0;
            if (!repeat(o_.phase_timeout, error, [&] {
                    return store_.grant_expiring_lease(o_.care_of_hold_s, hold, error);
                }))
                return false;
            ops.push_back(etcd::request_op::put(
                keys_.care_of(rec.prev->care_of),
                ojson{{"vm", m.to_string()}, {"released", true}}.dump(), hold));
        }
    }
    etcd::txn_result t;
    if (!repeat(o_.phase_timeout, error, [&] {
            return store_.txn(cmp, ops, {etcd::request_op::get(keys_.vm(m))}, t, error);
        }))
        return false;
    if (!t.succeeded) {
        // A write repeated (by the client, its member dead before answering, or by repeat())
        // may have been applied the first time. Then the record is ours, as written.
        const auto &now = t.gets.empty() ? std::vector<etcd::key_value>{} : t.gets[0];
        if (now.empty() || now[0].value != rec.to_json()) {
            error =
                fmt::format("the record of VM {} was changed by another command", m.to_string());
            return false;
        }
        t.revision = now[0].mod_revision;
    }
    mod_rev = t.revision;
    l.d.vms[m] = rec;
    l.mod[m] = mod_rev;
    return true;
}

namespace {
// The move that puts `rec`'s back, at the next epoch.
vm_record rollback_of(const vm_record &rec) {
    vm_record back;
    back.now = *rec.prev;
    back.now.epoch = rec.now.epoch + 1;
    back.prev = rec.now;
    back.phase = move_phase::prepare;
    back.move_id = rec.move_id + "/rollback";
    back.rollback = true;
    return back;
}
}  // namespace

void mover::drive(loaded &l, ip4_addr m, vm_record rec, int64_t mod_rev, result &res) {
    const auto started = clock::now();
    std::string error;
    // The record an agent wrote (the switch on the VM's arrival) becomes the one driven on.
    auto adopt = [&](const vm_record &written, int64_t at) {
        rec = written;
        mod_rev = at;
        l.d.vms[m] = rec;
        l.mod[m] = mod_rev;
    };
    for (;;) {
        const auto needed = routers_changed(l.d, m, rec.phase);
        const bool acked = wait_acks(needed, mod_rev, m, rec.now.epoch, error);
        std::string who;
        for (const auto &r : needed) who += (who.empty() ? "" : ", ") + r;
        res.log.push_back(fmt::format("{}{}: revision {}, {} {} ({:.1f} ms)",
                                      rec.rollback ? "rollback " : "", to_string(rec.phase),
                                      mod_rev, acked ? "acknowledged by" : "NOT acknowledged by",
                                      who.empty() ? "none needed" : who, ms_since(started)));
        if (!acked && rec.phase == move_phase::done) {
            // Every router that carries traffic has the new state; the old foreign router
            // removes its own when it can (epochs keep anything stale from coming back).
            res.log.push_back(fmt::format("warning: {}", error));
        } else if (!acked && !rec.rollback) {
            res.ok = false;
            res.error = error + "; the move was rolled back";
            const vm_record back = rollback_of(rec);
            if (!write_phase(l, m, back, mod_rev, error)) {
                res.error += " (not rolled back: " + error + "; run sswctl migrate --resume)";
                return;
            }
            rec = back;
            continue;
        } else if (!acked) {
            res.log.push_back(fmt::format("warning: {}; it converges when it comes back", error));
        }
        if (rec.phase == move_phase::done) break;
        if (rec.phase == move_phase::prepare && rec.await_arrival && !rec.rollback) {
            // The switch is the arrival's: the agent of the new subnet's router writes it.
            const auto timeout = arrival_timeout_.value_or(o_.phase_timeout);
            const topo_subnet *at = arrival_subnet(l.d.topo, rec);
            res.log.push_back(fmt::format("waiting up to {} ms for {} ({}) to arrive at {}",
                                          timeout.count(), l.d.topo.vm_name(m),
                                          rec.await_arrival->to_string(), at ? at->router : "?"));
            vm_record next;
            int64_t next_mod = 0;
            const auto waiting = clock::now();
            if (wait_arrival(m, mod_rev, timeout, next, next_mod, error)) {
                if (next.move_id != rec.move_id || next.phase != move_phase::switch_over) {
                    res.ok = false;
                    res.error = fmt::format("the record of VM {} was changed by another command",
                                            l.d.topo.vm_name(m));
                    return;
                }
                res.log.push_back(
                    fmt::format("arrived: {} ({:.1f} ms)", next.arrived, ms_since(waiting)));
                res.data["arrival_wait_ms"] = ms_since(waiting);
                res.data["arrived"] = next.arrived;
                adopt(next, next_mod);
                continue;
            }
            if (error.empty())
                error = fmt::format("{} did not arrive within {} ms", l.d.topo.vm_name(m),
                                    timeout.count());
            res.ok = false;
            res.error = error + "; the move was rolled back";
            const vm_record back = rollback_of(rec);
            if (!write_phase(l, m, back, mod_rev, error)) {
                // The arrival may have come at the last moment: the move goes on then.
                if (wait_arrival(m, mod_rev, std::chrono::milliseconds(0), next, next_mod, error) &&
                    next.move_id == rec.move_id && next.phase == move_phase::switch_over) {
                    res.ok = true;
                    res.error.clear();
                    adopt(next, next_mod);
                    continue;
                }
                res.error += " (not rolled back: " + error + "; run sswctl migrate --resume)";
                return;
            }
            rec = back;
            continue;
        }
        rec.phase = rec.phase == move_phase::prepare ? move_phase::switch_over : move_phase::done;
        if (!write_phase(l, m, rec, mod_rev, error)) {
            res.ok = false;
            res.error = fmt::format(
                "{}; the move is left at phase {} (sswctl migrate --resume {} finishes it)", error,
                to_string(l.d.vms.at(m).phase), l.d.topo.vm_name(m));
            return;
        }
    }
    if (!rec.rollback) res.data["convergence_ms"] = ms_since(started);
}

bool mover::take_over(loaded &l, ip4_addr m, result &res) {
    std::string error;
    if (!lease_ && !(lease_ = store_.grant_lease(o_.lock_ttl_s, error))) {
        res.ok = false;
        res.error = error;
        return false;
    }
    const vm_record &rec = l.d.vms.at(m);
    etcd::txn_result t;
    if (!repeat(o_.phase_timeout, error, [&] {
            return store_.txn({etcd::compare::mod_is(keys_.vm(m), l.mod.at(m)),
                               etcd::compare::absent(keys_.lock(m))},
                              {etcd::request_op::put(keys_.lock(m), id_, lease_->id())},
                              {etcd::request_op::get(keys_.lock(m))}, t, error);
        })) {
        res.ok = false;
        res.error = error;
        return false;
    }
    const auto &lock = t.gets.empty() ? std::vector<etcd::key_value>{} : t.gets[0];
    if (!t.succeeded && !(lock.size() == 1 && lock[0].value == id_)) {
        res.ok = false;
        res.error = lock.empty()
                        ? fmt::format("the record of VM {} changed meanwhile", l.d.topo.vm_name(m))
                        : fmt::format(
                              "VM {} is being moved by {} (phase {}); nothing "
                              "changed",
                              l.d.topo.vm_name(m), lock[0].value, to_string(rec.phase));
        return false;
    }
    res.log.push_back(fmt::format("taking over move {} of {} at phase {}", rec.move_id,
                                  l.d.topo.vm_name(m), to_string(rec.phase)));
    drive(l, m, rec, l.mod.at(m), res);
    return res.ok;
}

mover::result mover::move(const std::string &vm, const std::string &to,
                          std::optional<ip4_addr> care_of, bool triangle,
                          std::optional<std::chrono::milliseconds> on_arrival) {
    result res;
    arrival_timeout_ = on_arrival;
    auto fail = [&](std::string e) {
        res.ok = false;
        res.error = std::move(e);
        return res;
    };
    loaded l;
    std::string error;
    ip4_addr m;
    if (!load_vm(vm, l, m, res)) return res;
    const topology &topo = l.d.topo;
    const topo_subnet *home = topo.subnet_of(m);
    const topo_subnet *target = topo.subnet(to);
    if (!target) return fail(fmt::format("unknown subnet '{}'", to));
    if (care_of && !target->prefix.contains(*care_of))
        return fail(fmt::format("care-of {} is outside {} ({})", care_of->to_string(), target->name,
                                target->prefix.to_string()));
    if (care_of && target == home) return fail("a VM at home has no care-of address");
    std::optional<mac_addr> mac;
    if (on_arrival) {
        auto it = topo.vm_macs.find(m);
        if (it == topo.vm_macs.end())
            return fail(fmt::format(
                "--on-arrival needs VM {}'s MAC, which the topology does not give (\"vms\": "
                "{{\"{}\": {{\"address\": \"{}\", \"mac\": ...}}}}); nothing changed",
                topo.vm_name(m), topo.vm_name(m), m.to_string()));
        mac = it->second;
    }
    if (!(lease_ = store_.grant_lease(o_.lock_ttl_s, error))) return fail(error);

    // A move of this VM that its mover left unfinished is finished first.
    if (auto it = l.d.vms.find(m); it != l.d.vms.end() && it->second.phase != move_phase::done) {
        if (!take_over(l, m, res)) return res;
        if (!load(l, error)) return fail(error);
    }

    for (int attempt = 0;; ++attempt) {
        // Looked up again at every attempt: a reload (load()) replaces the topology they
        // point into.
        home = topo.subnet_of(m);
        target = topo.subnet(to);
        if (!target || !home) return fail(fmt::format("unknown subnet '{}'", to));
        auto it = l.d.vms.find(m);
        const vm_state cur = it != l.d.vms.end() ? it->second.now : at_home(topo, m);
        const int64_t cur_mod = it != l.d.vms.end() ? l.mod.at(m) : 0;
        vm_state next = cur;
        next.location = target->name;
        next.triangle = target != home && triangle;
        bool new_care_of = false;
        if (target == home) {
            next.care_of = {};
        } else if (care_of) {
            next.care_of = *care_of;
            new_care_of = *care_of != cur.care_of;
        } else if (cur.location != target->name || cur.care_of.is_zero()) {
            auto a = pick_care_of(l, *target, m, attempt > 0, error);
            if (!a) return fail(error);
            next.care_of = *a;
            new_care_of = true;
        }
        if (next.location == cur.location && next.care_of == cur.care_of &&
            next.triangle == cur.triangle) {
            res.log.push_back(fmt::format("{} is in {} already (epoch {})", topo.vm_name(m),
                                          cur.location, cur.epoch));
            res.data = state_json(topo, cur);
            return res;
        }
        next.epoch = cur.epoch + 1;
        vm_record rec{next, cur, move_phase::prepare, id_, false, mac, {}};

        // Every router the move changes must have a live agent that reaches its router.
        loaded after = l;
        after.d.vms[m] = rec;
        std::set<std::string> needed;
        for (auto p : {move_phase::prepare, move_phase::switch_over, move_phase::done})
            needed.merge(routers_changed(after.d, m, p));
        std::map<std::string, router_status> st;
        int64_t at = 0;
        if (!statuses(st, at, error)) return fail(error);
        for (const auto &r : needed) {
            if (!st.count(r))
                return fail(fmt::format("router {} has no live agent (no {}); nothing changed", r,
                                        keys_.status(r)));
            if (!st[r].router_up)
                return fail(fmt::format("router {} does not answer its agent ({}); nothing changed",
                                        r, st[r].error));
        }

        std::vector<etcd::compare> cmp{etcd::compare::mod_is(keys_.vm(m), cur_mod),
                                       etcd::compare::absent(keys_.lock(m))};
        std::vector<etcd::request_op> ops{etcd::request_op::put(keys_.vm(m), rec.to_json()),
                                          etcd::request_op::put(keys_.lock(m), id_, lease_->id())};
        if (new_care_of) {
            cmp.push_back(etcd::compare::absent(keys_.care_of(next.care_of)));
            ops.push_back(etcd::request_op::put(keys_.care_of(next.care_of),
                                                ojson{{"vm", m.to_string()}}.dump()));
        }
        const std::vector<etcd::request_op> why{etcd::request_op::get(keys_.vm(m)),
                                                etcd::request_op::get(keys_.lock(m)),
                                                etcd::request_op::get(keys_.care_of(next.care_of))};
        etcd::txn_result t;
        if (!repeat(o_.phase_timeout, error, [&] { return store_.txn(cmp, ops, why, t, error); }))
            return fail(fmt::format(
                "{}; whether the move was written is unknown (sswctl where {} says; sswctl "
                "migrate --resume {} finishes it)",
                error, topo.vm_name(m), topo.vm_name(m)));
        const auto got = [&](size_t i) {
            return i < t.gets.size() && !t.gets[i].empty() ? &t.gets[i][0] : nullptr;
        };
        // A write repeated by the client after its member died may have been applied once.
        if (!t.succeeded && got(0) && got(1) && got(1)->value == id_ &&
            got(0)->value == rec.to_json()) {
            t.succeeded = true;
            t.revision = got(0)->mod_revision;
        }
        if (t.succeeded) {
            res.data = ojson{{"vm", topo.vm_name(m)},
                             {"from", cur.location},
                             {"to", next.location},
                             {"care_of", next.care_of.is_zero() ? "" : next.care_of.to_string()},
                             {"mode", next.triangle ? "triangle" : "optimized"},
                             {"epoch", next.epoch},
                             {"move", id_}};
            after.mod[m] = t.revision;
            drive(after, m, rec, t.revision, res);
            return res;
        }
        // Refused: say by what.
        if (const auto *lock = got(1))
            return fail(fmt::format("VM {} is being moved by {}; nothing changed", topo.vm_name(m),
                                    lock->value));
        const auto *now = got(0);
        if ((now ? now->mod_revision : 0) != cur_mod)
            return fail(
                fmt::format("VM {} was moved by another command meanwhile; nothing "
                            "changed (sswctl where {})",
                            topo.vm_name(m), topo.vm_name(m)));
        if (care_of) {
            const auto *taken = got(2);
            return fail(fmt::format("care-of {} is in use ({}); nothing changed",
                                    care_of->to_string(), taken ? taken->value : "taken"));
        }
        if (attempt == 8) return fail("could not reserve a care-of address (contention)");
        // Another mover took that address first: pick another.
        if (!load(l, error)) return fail(error);
    }
}

mover::result mover::return_home(const std::string &vm,
                                 std::optional<std::chrono::milliseconds> on_arrival) {
    result res;
    loaded l;
    ip4_addr m;
    if (!load_vm(vm, l, m, res)) return res;
    return move(vm, l.d.topo.subnet_of(m)->name, std::nullopt, false, on_arrival);
}

mover::result mover::resume(const std::string &vm) {
    result res;
    arrival_timeout_.reset();
    loaded l;
    ip4_addr m;
    if (!load_vm(vm, l, m, res)) return res;
    auto it = l.d.vms.find(m);
    if (it == l.d.vms.end() || it->second.phase == move_phase::done) {
        res.log.push_back(fmt::format("{}: no move under way", l.d.topo.vm_name(m)));
        return res;
    }
    take_over(l, m, res);
    return res;
}

}  // namespace ssw::cluster
