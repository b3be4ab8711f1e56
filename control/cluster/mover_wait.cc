// The mover's waits for the agents (control/cluster/mover.h): for their acknowledgements of a
// phase (status/ keys), and for the switch an agent writes when a VM arrives (--on-arrival).
#include <thread>

#include <fmt/format.h>

#include "control/cluster/mover.h"

namespace ssw::cluster {

using clock = std::chrono::steady_clock;

bool mover::wait_acks(const std::set<std::string> &routers, int64_t revision, ip4_addr m,
                      uint64_t epoch, std::string &error) {
    if (routers.empty()) return true;
    const auto deadline = clock::now() + o_.phase_timeout;
    // The statuses, kept by one watch across the phases of a move (and the moves of one
    // mover): the watch first, from now, then the list, as a watch from a revision already
    // past waits for etcd's catch-up loop (100 ms) before it delivers anything. Events the
    // list has already seen are skipped.
    std::map<std::string, router_status> &st = acks_;
    int64_t &at = acks_at_;
    std::unique_ptr<etcd::watch> &watch = acks_watch_;
    auto start = [&] {
        return (watch = store_.watch_prefix(keys_.statuses(), 0, error)) && statuses(st, at, error);
    };
    auto absorb = [&](const std::vector<etcd::watch_event> &events) {
        for (const auto &e : events) {
            if (e.kv.mod_revision <= at) continue;
            const std::string name = e.kv.key.substr(keys_.statuses().size());
            router_status s;
            std::string ignored;
            if (e.what == etcd::watch_event::type::del)
                st.erase(name);
            else if (router_status::parse(e.kv.value, s, ignored))
                st[name] = std::move(s);
        }
    };
    if (!watch && !start()) return false;
    // What came since the last phase, before the statuses are trusted.
    for (;;) {
        std::vector<etcd::watch_event> events;
        int64_t rev = 0;
        if (!watch->next(events, rev, std::chrono::milliseconds(0), error)) {
            if (!start()) return false;
            break;
        }
        if (events.empty()) break;
        absorb(events);
    }
    for (;;) {
        std::string behind;
        for (const auto &r : routers) {
            auto it = st.find(r);
            if (it == st.end()) {
                error = fmt::format("router {} has no live agent (its status expired)", r);
                return false;
            }
            for (const auto &f : it->second.failures)
                if (f.vm == m && f.epoch >= epoch) {
                    error = fmt::format("router {} refused: {}", r, f.error);
                    return false;
                }
            if (it->second.revision >= revision) continue;
            if (!it->second.router_up) {
                error = fmt::format("router {} does not answer its agent: {}", r, it->second.error);
                return false;
            }
            if (behind.empty()) behind = r;
        }
        if (behind.empty()) return true;
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        if (left.count() <= 0) {
            error = fmt::format("router {} did not acknowledge revision {} within {} ms", behind,
                                revision, o_.phase_timeout.count());
            return false;
        }
        std::vector<etcd::watch_event> events;
        int64_t rev = 0;
        if (!watch->next(events, rev, left, error)) {
            // A broken watch: watch again and read the statuses again.
            if (!start()) return false;
            continue;
        }
        absorb(events);
    }
}

bool mover::wait_arrival(ip4_addr m, int64_t mod_rev, std::chrono::milliseconds timeout,
                         vm_record &out, int64_t &out_mod, std::string &error) {
    const std::string key = keys_.vm(m);
    const auto deadline = clock::now() + timeout;
    // The watch from now, then the record as it is (a watch from a past revision would wait
    // for etcd's catch-up loop): nothing written between the two is missed. A watch that
    // breaks (a member lost) is made again the same way, until the deadline.
    std::unique_ptr<etcd::watch> w;
    std::optional<etcd::key_value> kv;
    for (;;) {
        int64_t rev = 0;
        if (!w) {
            w = store_.watch_prefix(key, 0, error);
            if (w && !store_.get(key, kv, rev, error)) w.reset();
        }
        if (w) {
            if (!kv) {
                error = fmt::format("the record of VM {} was deleted", m.to_string());
                return false;
            }
            if (kv->mod_revision != mod_rev) {
                out_mod = kv->mod_revision;
                return vm_record::parse(m, kv->value, out, error);
            }
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
        if (left.count() <= 0) {
            if (w) error.clear();  // else the last error says why nothing could be read
            return false;
        }
        if (!w) {
            std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(200)));
            continue;
        }
        std::vector<etcd::watch_event> events;
        if (!w->next(events, rev, left, error)) {
            w.reset();
            continue;
        }
        for (const auto &e : events) {
            if (e.kv.key != key) continue;  // a longer address under the same prefix
            if (e.what == etcd::watch_event::type::del)
                kv.reset();
            else
                kv = e.kv;
        }
    }
}

}  // namespace ssw::cluster
