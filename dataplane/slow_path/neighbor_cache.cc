#include "dataplane/slow_path/neighbor_cache.h"

#include <fmt/format.h>

namespace ssw {

const char *to_string(neighbor_state s) {
    switch (s) {
        case neighbor_state::incomplete: return "incomplete";
        case neighbor_state::reachable: return "reachable";
        case neighbor_state::probe: return "probe";
        case neighbor_state::failed: return "failed";
        case neighbor_state::permanent: return "permanent";
    }
    return "?";
}

neighbor_cache::~neighbor_cache() {
    for (auto &[ip, e] : entries_) drop_hold(e, drop_reason::neighbor_removed);
}

bool neighbor_cache::publish(entry &e) { return table_.set(e.ip, e.mac, e.port); }

void neighbor_cache::release_hold(entry &e) {
    while (!e.hold.empty()) {
        void *p = e.hold.front();
        e.hold.pop_front();
        io_.send_held(p, e.port, e.mac);
    }
}

void neighbor_cache::drop_hold(entry &e, drop_reason why) {
    while (!e.hold.empty()) {
        void *p = e.hold.front();
        e.hold.pop_front();
        io_.drop_held(p, why);
    }
}

void neighbor_cache::erase(std::map<ip4_addr, entry>::iterator it, drop_reason why) {
    drop_hold(it->second, why);
    table_.remove(it->first);
    entries_.erase(it);
}

void neighbor_cache::resolve(ip4_addr ip, uint16_t port, void *pkt, uint64_t now_ms) {
    auto it = entries_.find(ip);
    if (it == entries_.end()) {
        if (entries_.size() >= params_.max_entries) {
            io_.drop_held(pkt, drop_reason::neighbor_table_full);
            return;
        }
        entry e;
        e.ip = ip;
        e.port = port;
        e.state = neighbor_state::incomplete;
        e.updated_ms = now_ms;
        e.deadline_ms = now_ms + params_.retrans_ms;
        e.probes = 1;
        auto &held = entries_.emplace(ip, std::move(e)).first->second;
        hold(held, pkt);
        io_.send_arp_request(port, ip, nullptr);
        return;
    }
    entry &e = it->second;
    switch (e.state) {
        case neighbor_state::incomplete:
            if (e.port != port) {  // the route moved while we were resolving: start over
                drop_hold(e, drop_reason::neighbor_removed);
                e.port = port;
                e.probes = 1;
                e.deadline_ms = now_ms + params_.retrans_ms;
                io_.send_arp_request(port, ip, nullptr);
            }
            hold(e, pkt);
            return;
        case neighbor_state::failed: io_.drop_held(pkt, drop_reason::neighbor_failed); return;
        case neighbor_state::reachable:
        case neighbor_state::probe:
        case neighbor_state::permanent:
            if (e.port == port) {
                // Published after the worker looked: send it on.
                io_.send_held(pkt, port, e.mac);
                return;
            }
            if (e.state == neighbor_state::permanent) {
                io_.drop_held(pkt, drop_reason::neighbor_failed);
                return;
            }
            // Known on another port (the address moved between segments): resolve afresh.
            table_.remove(ip);
            e.port = port;
            e.state = neighbor_state::incomplete;
            e.probes = 1;
            e.deadline_ms = now_ms + params_.retrans_ms;
            hold(e, pkt);
            io_.send_arp_request(port, ip, nullptr);
            return;
    }
}

void neighbor_cache::hold(entry &e, void *pkt) {
    if (params_.hold_max == 0) {
        io_.drop_held(pkt, drop_reason::neighbor_hold_overflow);
        return;
    }
    if (e.hold.size() >= params_.hold_max) {  // the oldest goes, as Linux does
        io_.drop_held(e.hold.front(), drop_reason::neighbor_hold_overflow);
        e.hold.pop_front();
    }
    e.hold.push_back(pkt);
}

bool neighbor_cache::learn(ip4_addr ip, uint16_t port, const mac_addr &mac, arp_kind kind,
                           uint64_t now_ms) {
    auto it = entries_.find(ip);
    if (it == entries_.end()) {
        if (kind != arp_kind::request_to_us || entries_.size() >= params_.max_entries) return false;
        entry e;
        e.ip = ip;
        e.port = port;
        e.mac = mac;
        e.state = neighbor_state::reachable;
        e.updated_ms = now_ms;
        e.deadline_ms = now_ms + params_.reachable_ms;
        auto [nit, ok] = entries_.emplace(ip, std::move(e));
        if (!publish(nit->second)) {
            entries_.erase(nit);
            return false;
        }
        return true;
    }
    entry &e = it->second;
    if (e.state == neighbor_state::permanent) return false;
    // An INCOMPLETE entry completes only from the port we asked on.
    if (e.state == neighbor_state::incomplete && e.port != port) return false;
    e.mac = mac;
    e.port = port;
    e.state = neighbor_state::reachable;
    e.updated_ms = now_ms;
    e.deadline_ms = now_ms + params_.reachable_ms;
    e.probes = 0;
    if (!publish(e)) {
        erase(it, drop_reason::neighbor_table_full);
        return false;
    }
    release_hold(e);
    return true;
}

bool neighbor_cache::add_static(ip4_addr ip, uint16_t port, const mac_addr &mac, uint64_t now_ms,
                                std::string &error) {
    auto it = entries_.find(ip);
    if (it == entries_.end()) {
        if (entries_.size() >= params_.max_entries) {
            error = fmt::format("neighbor table full ({} entries)", params_.max_entries);
            return false;
        }
        it = entries_.emplace(ip, entry{}).first;
        it->second.ip = ip;
    }
    entry &e = it->second;
    e.port = port;
    e.mac = mac;
    e.state = neighbor_state::permanent;
    e.updated_ms = now_ms;
    e.deadline_ms = 0;
    e.probes = 0;
    if (!publish(e)) {
        erase(it, drop_reason::neighbor_table_full);
        error = "neighbor table full";
        return false;
    }
    release_hold(e);
    return true;
}

bool neighbor_cache::remove(ip4_addr ip) {
    auto it = entries_.find(ip);
    if (it == entries_.end()) return false;
    erase(it, drop_reason::neighbor_removed);
    return true;
}

bool neighbor_cache::remove_learned(ip4_addr ip) {
    auto it = entries_.find(ip);
    if (it == entries_.end() || it->second.state == neighbor_state::permanent) return false;
    erase(it, drop_reason::neighbor_removed);
    return true;
}

void neighbor_cache::flush_port(uint16_t port) {
    for (auto it = entries_.begin(); it != entries_.end();) {
        auto next = std::next(it);
        if (it->second.port == port && it->second.state != neighbor_state::permanent)
            erase(it, drop_reason::neighbor_removed);
        it = next;
    }
}

void neighbor_cache::tick(uint64_t now_ms) {
    for (auto it = entries_.begin(); it != entries_.end();) {
        auto next = std::next(it);
        entry &e = it->second;
        if (e.deadline_ms == 0 || e.deadline_ms > now_ms) {
            it = next;
            continue;
        }
        switch (e.state) {
            case neighbor_state::incomplete:
                if (e.probes < params_.broadcast_probes) {
                    ++e.probes;
                    e.deadline_ms = now_ms + params_.retrans_ms;
                    io_.send_arp_request(e.port, e.ip, nullptr);
                } else {
                    e.state = neighbor_state::failed;
                    e.deadline_ms = now_ms + params_.failed_ms;
                    drop_hold(e, drop_reason::neighbor_failed);
                }
                break;
            case neighbor_state::failed: erase(it, drop_reason::neighbor_failed); break;
            case neighbor_state::reachable:
                e.state = neighbor_state::probe;
                e.probes = 1;
                e.deadline_ms = now_ms + params_.retrans_ms;
                io_.send_arp_request(e.port, e.ip, &e.mac);
                break;
            case neighbor_state::probe:
                if (e.probes < params_.unicast_probes) {
                    ++e.probes;
                    e.deadline_ms = now_ms + params_.retrans_ms;
                    io_.send_arp_request(e.port, e.ip, &e.mac);
                } else {
                    erase(it, drop_reason::neighbor_removed);
                }
                break;
            case neighbor_state::permanent: e.deadline_ms = 0; break;
        }
        it = next;
    }
}

uint64_t neighbor_cache::next_deadline() const {
    uint64_t d = UINT64_MAX;
    for (const auto &[ip, e] : entries_)
        if (e.deadline_ms && e.deadline_ms < d) d = e.deadline_ms;
    return d;
}

}  // namespace ssw
