// The slow path: what workers punt (ARP, packets for the router, ICMP errors, packets whose
// next hop needs resolving or that need fragmenting), and every packet the router itself
// originates. It runs on the control thread, so it reads the control-side state (addresses,
// the neighbor cache) without synchronisation, and transmits through worker 0's inject ring.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dataplane/counters.h"
#include "dataplane/net/net_types.h"
#include "dataplane/packet/arp.h"
#include "dataplane/rx_wait.h"
#include "dataplane/slow_path/arrivals.h"
#include "dataplane/slow_path/neighbor_cache.h"
#include "dataplane/slow_path/token_bucket.h"
#include "dataplane/tables/proxy_arp.h"

namespace ssw {

class router;

// What an announcement of `prefix` on `port` names (docs/DESIGN.md §2.3): f(a, nullptr) for
// each address the router answers ARP for there (reached at the port's own MAC), and
// f(a, &mac) for each neighbour confirmed there lately (reached at its own MAC; a stale MAC
// announced would mislead every host). Network and broadcast addresses name no host (except
// in /31 and /32). State as for answers_arp_for: the live router, or the control model that
// `arp announce` is checked against.
template <typename State, typename F>
void for_each_announced(const State &s, const neighbor_cache &nc, uint16_t port,
                        const ip4_prefix &prefix, F &&f) {
    const uint32_t first = prefix.addr.host(), last = prefix.broadcast().host();
    const auto &neighbors = nc.entries();
    for (uint64_t v = first; v <= last; ++v) {
        if (prefix.len <= 30 && (v == first || v == last)) continue;
        const ip4_addr a{uint32_t(v)};
        if (answers_arp_for(s, port, a)) {
            f(a, static_cast<const mac_addr *>(nullptr));
            continue;
        }
        auto n = neighbors.find(a);
        if (n != neighbors.end() && n->second.port == port &&
            (n->second.state == neighbor_state::reachable ||
             n->second.state == neighbor_state::permanent))
            f(a, &n->second.mac);
    }
}

class slow_path final : public neighbor_cache::io {
public:
    explicit slow_path(router &r);
    ~slow_path() override;
    bool init(std::string &error);

    // ---- waking the control thread ----
    // An eventfd that becomes readable when workers punt while the control thread waits.
    int wake_fd() const { return wakeup_.fd(); }
    // Workers call this after they enqueue punts.
    void notify() { wakeup_.notify(); }
    // The control thread calls prepare_to_wait() before it blocks: false means punts are
    // already queued and it must not block. After waking it calls done_waiting().
    bool prepare_to_wait();
    void done_waiting() { wakeup_.done(); }

    // Handles up to `budget` punted packets; returns how many.
    unsigned poll(unsigned budget = 256);
    // Runs due timers (ARP retries, aging).
    void tick();
    // Milliseconds until the next timer, at most `cap`.
    int timeout_ms(int cap) const;

    const counter_block &counters() const { return counters_; }
    static uint64_t now_ms();

    // ---- originating packets ----
    // A whole frame for `port`, handed to worker 0 to transmit. Consumes m.
    void send_frame(rte_mbuf *m, uint16_t port);
    // An IPv4 packet at offset 14 of m (link header space left free): routed, resolved and
    // sent. Consumes m.
    void send_ip(rte_mbuf *m);
    rte_mbuf *alloc_frame();

    // Gratuitous ARP for every address of `prefix` reachable on `port`, each with the MAC
    // it is reached at: the router's for what it answers for (its own and proxied
    // addresses), the host's own for a confirmed neighbor there (a co-located moved VM, a
    // home neighbour after a return: docs/DESIGN.md §2.3). `count` bursts, `interval_ms`
    // apart, the first now; each burst looks the addresses up afresh.
    void announce(uint16_t port, const ip4_prefix &prefix, unsigned count, unsigned interval_ms);
    // What one burst of such an announcement would say: (address, MAC) pairs.
    std::vector<std::pair<ip4_addr, mac_addr>> announcement_for(uint16_t port,
                                                                const ip4_prefix &prefix) const;
    size_t pending_announcements() const { return announcements_.size(); }

    // ---- arrivals of live-migrated VMs (arrivals.h) ----
    arrival_watch &arrivals() { return arrivals_; }
    const arrival_watch &arrivals() const { return arrivals_; }
    // RARPs handled per second and port (QEMU sends five per migrated VM); the rest dropped.
    static constexpr uint64_t kRarpRate = 200;

    // neighbor_cache::io
    void send_arp_request(uint16_t port, ip4_addr target, const mac_addr *unicast) override;
    void send_held(void *pkt, uint16_t port, const mac_addr &mac) override;
    void drop_held(void *pkt, drop_reason why) override;

private:
    void handle_arp(rte_mbuf *m, uint16_t port, uint64_t now);
    void handle_rarp(rte_mbuf *m, uint16_t port, const mac_addr &eth_src, uint64_t now);
    void count_arrival(arrival_watch::verdict v);
    void handle_local(rte_mbuf *m, uint16_t port);
    void send_icmp_error(rte_mbuf *orig, uint16_t in_port, uint8_t type, uint8_t code,
                         uint32_t rest);
    // Fragments when m exceeds the port's MTU, then resolves and sends each piece.
    void output(rte_mbuf *m, uint16_t port, ip4_addr next_hop, uint64_t now);
    void resolve_and_send(rte_mbuf *m, uint16_t port, ip4_addr next_hop, uint64_t now);
    void drop(rte_mbuf *m, drop_reason why);
    void send_redirect(rte_mbuf *m, uint16_t in_port, ip4_addr gateway);
    void send_garp(uint16_t port, ip4_addr a, const mac_addr &mac);
    // Turns ARP request `m` into the reply for its target, sent on `port`, counted under
    // `counted`.
    void reply_arp(rte_mbuf *m, uint16_t port, const arp_message &request, event counted);

    struct announcement {
        uint16_t port;
        ip4_prefix prefix;
        unsigned left;
        unsigned interval_ms;
        uint64_t next_ms;
    };
    std::vector<announcement> announcements_;
    std::array<token_bucket, RTE_MAX_ETHPORTS> proxy_limit_;
    std::array<token_bucket, RTE_MAX_ETHPORTS> rarp_limit_;
    arrival_watch arrivals_;

    router &r_;
    counter_block counters_;
    token_bucket icmp_limit_;
    ring_wakeup wakeup_;
    uint16_t ip_id_ = 0;
};

}  // namespace ssw
