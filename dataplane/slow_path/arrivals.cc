#include "dataplane/slow_path/arrivals.h"

namespace ssw {

const char *to_string(arrival_via v) { return v == arrival_via::rarp ? "rarp" : "arp"; }

void arrival_watch::expect(ip4_addr vm, const mac_addr &mac, uint16_t port, uint64_t now_ms) {
    auto it = by_vm_.find(vm);
    if (it != by_vm_.end()) {
        if (it->second.mac == mac && it->second.port == port) return;
        by_mac_.erase(it->second.mac);
    }
    expected &e = by_vm_[vm] = expected{};
    e.mac = mac;
    e.port = port;
    e.since_ms = now_ms;
    by_mac_[mac] = vm;
}

void arrival_watch::forget(ip4_addr vm) {
    auto it = by_vm_.find(vm);
    if (it == by_vm_.end()) return;
    by_mac_.erase(it->second.mac);
    by_vm_.erase(it);
}

arrival_watch::verdict arrival_watch::seen(ip4_addr vm, expected &e, uint16_t port, arrival_via via,
                                           uint64_t now_ms) {
    if (port != e.port) return verdict::unexpected;
    ++e.frames;
    if (e.arrived) return verdict::repeat;
    e.arrived = arrival_event{++seq_, vm, e.mac, port, via, now_ms - e.since_ms};
    if (pending_.size() == kMaxPending) pending_.erase(pending_.begin());
    pending_.push_back(*e.arrived);
    return verdict::arrived;
}

arrival_watch::verdict arrival_watch::on_rarp(uint16_t port, const mac_addr &mac, uint64_t now_ms) {
    auto m = by_mac_.find(mac);
    if (m == by_mac_.end()) return verdict::unexpected;
    return seen(m->second, by_vm_.at(m->second), port, arrival_via::rarp, now_ms);
}

arrival_watch::verdict arrival_watch::on_arp(uint16_t port, const mac_addr &mac, ip4_addr ip,
                                             uint64_t now_ms) {
    auto it = by_vm_.find(ip);
    if (it == by_vm_.end() || it->second.mac != mac) return verdict::unexpected;
    return seen(ip, it->second, port, arrival_via::arp, now_ms);
}

std::vector<arrival_event> arrival_watch::take_events() {
    std::vector<arrival_event> out;
    out.swap(pending_);
    return out;
}

}  // namespace ssw
