// A worker: one run-to-completion loop on one lcore. Per burst: classify, check, route, and
// rewrite every packet (plain routing in one pass; with bindings, fates decided into arrays
// first, around the bulk table lookups); then transmit grouped by port. Rare packets go to
// the slow path (punt.h); nothing here allocates, locks, throws or logs.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "dataplane/counters.h"
#include "dataplane/router.h"
#include "dataplane/rx_wait.h"
#include "dataplane/slow_path/punt.h"
#include "dataplane/slow_path/token_bucket.h"
#include "dataplane/stage_clock.h"

namespace ssw {

class worker {
public:
    // An rx queue this worker polls, and how it waits for it when idle.
    struct rx_queue {
        uint16_t port = 0;
        uint16_t queue = 0;
        rx_mode mode = rx_mode::adaptive;
        int wait_fd = -1;  // readable while the queue has packets; -1: timed back-off
        std::string why;   // why there is no wait_fd (poll mode: empty)
    };

    worker(router &r, unsigned index, unsigned n_workers, unsigned lcore);
    unsigned lcore() const { return lcore_; }
    void add_rx_queue(uint16_t port, uint16_t queue, rx_mode mode) {
        rxq_.push_back({.port = port, .queue = queue, .mode = mode, .wait_fd = -1, .why = {}});
    }
    const std::vector<rx_queue> &rx_queues() const { return rxq_; }
    unsigned index() const { return index_; }
    const counter_block &counters() const { return counters_; }
    const stage_clock &stages() const { return clock_; }

    // After the ports start: finds each queue's wait descriptor and builds the epoll set the
    // worker sleeps in (worker_loop.cc). False with a message on error.
    bool prepare_sleep(std::string &error);
    // The mode the worker runs: the most awake of its queues'.
    rx_mode mode() const;

    // The loop; returns when the router stops.
    int run();

    // One received burst from `port` (exposed for tests and benchmarks that drive a worker
    // without ports). Consumes the mbufs.
    void process_burst(uint16_t port, rte_mbuf **pkts, uint16_t n);
    // Transmits what process_burst queued and hands punts to the slow path.
    void flush();

private:
    struct tx_buffer {
        uint16_t n = 0;
        rte_mbuf *pkts[kMaxBurst];
    };

    // Classifies and checks a frame that is not a plain IPv4 packet to us (or fails a check
    // of the common case): true when it is an IPv4 datagram to route; otherwise it was
    // dropped (counted by reason) or handed to the slow path.
    bool check_frame(rte_mbuf *m, uint16_t in_port, uint64_t my_mac, const own_address_set *own);
    // Plain routing, when the binding table is empty: one pass over the burst.
    void route_burst(uint16_t in_port, rte_mbuf **pkts, const uint32_t *dsts, uint16_t n);
    // With bindings: translations looked up in bulk between the passes.
    void translate_burst(uint16_t in_port, rte_mbuf **pkts, const uint32_t *dsts, uint16_t n);
    // The next hop of route `hop` when it forwards; otherwise the packet is answered (no
    // route), handed to the slow path (local) or dropped, and the result is nullptr.
    const next_hop *forwarding_hop(rte_mbuf *m, uint32_t hop, uint16_t in_port);
    // The checks a packet passes on its way out of port `out` (TTL, size against the port's
    // MTU); false when it was answered with an ICMP error instead. fragment: larger than the
    // MTU, DF clear (the slow path fragments it).
    bool may_leave(rte_mbuf *m, const rte_ipv4_hdr *ip, uint16_t in_port, uint16_t mtu,
                   bool &fragment);
    // The Ethernet header to next hop `nh` (host order) on port `out`: destination MAC and
    // the first two bytes of the source in lo, the rest of the source in hi. False when the
    // neighbor is not known there (the packet goes to the slow path, which resolves it).
    bool l2_header(uint32_t nh, uint16_t out, uint64_t &lo, uint32_t &hi) const;
    void redirect(rte_mbuf *m, uint16_t in_port, uint32_t gateway);
    void to_port(uint16_t port, rte_mbuf *m) {
        tx_buffer &b = txb_[port];
        b.pkts[b.n++] = m;
        pending_ports_ |= uint64_t(1) << port;
        if (b.n == kMaxBurst) flush_port(port);
    }
    // Queues forwarded packets (counted as such) for `port`.
    void queue_forwarded(uint16_t port, rte_mbuf *const *pkts, uint16_t n);
    void flush_port(uint16_t port);
    void drop(rte_mbuf *m, drop_reason why) {
        counters_.drop(why);
        dropped_[n_dropped_++] = m;
        if (n_dropped_ == kMaxBurst) free_dropped();
    }
    void free_dropped() {
        rte_pktmbuf_free_bulk(dropped_, n_dropped_);
        n_dropped_ = 0;
    }
    void punt(rte_mbuf *m, punt_kind kind, uint16_t port) {
        punt_meta *pm = punt_of(m);
        pm->kind = kind;
        pm->port = port;
        punts_[n_punts_++] = m;
        if (n_punts_ == kMaxBurst) flush_punts();
    }
    // Counts `why`, then hands the unmodified packet over for an ICMP error if the rate limit
    // allows, else frees it.
    void drop_with_icmp(rte_mbuf *m, drop_reason why, uint16_t in_port, uint8_t type, uint8_t code,
                        uint16_t mtu = 0);
    void flush_punts();
    unsigned drain_inject();
    // Idle: sleeps until a queue has packets, a wake-up, or `timeout_us` (worker_loop.cc).
    void sleep(uint64_t timeout_us);

    router &r_;
    const unsigned index_;
    const unsigned lcore_;
    const uint16_t txq_;
    std::vector<rx_queue> rxq_;
    rx_waiter waiter_;
    counter_block counters_;
    stage_clock clock_;

    tx_buffer txb_[RTE_MAX_ETHPORTS];
    uint64_t pending_ports_ = 0;
    rte_mbuf *punts_[kMaxBurst];
    uint16_t n_punts_ = 0;
    rte_mbuf *dropped_[kMaxBurst];
    uint16_t n_dropped_ = 0;

    token_bucket icmp_limit_;  // ICMP errors (RFC 1812 4.3.2.8), in TSC ticks
    // How the last bulk binding lookups of each kind went (mostly hits or mostly misses).
    lockfree_hash::bulk_hint dnat_hint_, snat_hint_;
};

}  // namespace ssw
