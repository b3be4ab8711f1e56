#include "dataplane/worker.h"

#include <algorithm>
#include <cstring>

#include <immintrin.h>

#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_lpm.h>
#include <rte_prefetch.h>

#include "dataplane/packet/icmp.h"
#include "dataplane/packet/ipv4.h"
#include "dataplane/packet/nat_rewrite.h"
#include "dataplane/slow_path/slow_path.h"

namespace ssw {

namespace {
constexpr uint64_t kMac48 = 0xffffffffffffull;

inline uint64_t load_mac48(const uint8_t *p) {
    uint64_t v;
    std::memcpy(&v, p, 8);  // caller guarantees 14 readable bytes
    return v & kMac48;
}

// The first 16 bytes of a frame process_burst forwards without a second look: the port's MAC
// (bytes 0-5, set per port), type IPv4 (12-13) and version 4 with a 20-byte header (14).
// kPlainHeadTail is bytes 8-15 as one little-endian word; kPlainHeadBytes, the bytes compared.
constexpr uint64_t kPlainHeadTail = 0x0045000800000000ull;
constexpr unsigned kPlainHeadBytes = 0x703f;
inline bool plain_head(const uint8_t *eth, __m128i want) {
    const __m128i got = _mm_loadu_si128(reinterpret_cast<const __m128i *>(eth));
    const unsigned eq = unsigned(_mm_movemask_epi8(_mm_cmpeq_epi8(got, want)));
    return (eq & kPlainHeadBytes) == kPlainHeadBytes;
}

// Whether the device found the IPv4 header checksum right (the port asks for the check where
// the device offers it); anything else is summed here.
inline bool checksum_verified(const rte_mbuf *m) {
    return (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_GOOD;
}
}  // namespace

worker::worker(router &r, unsigned index, unsigned n_workers, unsigned lcore)
    : r_(r), index_(index), lcore_(lcore), txq_(uint16_t(index)) {
    // The router's ICMP rate is shared among the workers; a burst of 100 ms worth.
    const uint64_t rate = std::max<uint64_t>(1, r.config().icmp_rate / std::max(1u, n_workers));
    icmp_limit_ = token_bucket(rate, rate / 10, rte_get_tsc_hz(), rte_rdtsc());
}

void worker::drop_with_icmp(rte_mbuf *m, drop_reason why, uint16_t in_port, uint8_t type,
                            uint8_t code, uint16_t mtu) {
    counters_.drop(why);
    if (!icmp_limit_.take(rte_rdtsc())) {
        counters_.count(event::icmp_errors_suppressed);
        dropped_[n_dropped_++] = m;
        if (n_dropped_ == kMaxBurst) free_dropped();
        return;
    }
    punt_meta *pm = punt_of(m);
    pm->icmp_type = type;
    pm->icmp_code = code;
    pm->mtu = mtu;
    punt(m, punt_kind::icmp_error, in_port);
}

bool worker::check_frame(rte_mbuf *m, uint16_t in_port, uint64_t my_mac,
                         const own_address_set *own) {
    if (unlikely(m->nb_segs != 1)) {
        drop(m, drop_reason::eth_multi_segment);
        return false;
    }
    const uint32_t len = m->data_len;
    if (unlikely(len < kEthHeaderLen)) {
        drop(m, drop_reason::eth_truncated);
        return false;
    }
    const auto *eth = rte_pktmbuf_mtod(m, const uint8_t *);
    const uint64_t dmac = load_mac48(eth);
    const bool to_me = dmac == my_mac;
    const bool broadcast = dmac == kMac48;
    if (unlikely(!to_me && !broadcast)) {
        drop(m, (eth[0] & 1) ? drop_reason::eth_multicast : drop_reason::eth_not_for_us);
        return false;
    }
    uint16_t type;
    std::memcpy(&type, eth + 12, 2);
    if (likely(type == be16_t(kEtherTypeIpv4).raw())) {
        if (unlikely(broadcast)) {
            // RFC 1812 5.3.4: a link-layer broadcast is never forwarded.
            drop(m, drop_reason::ip_not_for_us_l2_broadcast);
            return false;
        }
        const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(eth + kEthHeaderLen);
        if (!plain_ipv4_ok(ip, len - kEthHeaderLen, checksum_verified(m))) {
            drop_reason why;
            if (!check_ipv4(ip, len - kEthHeaderLen, why)) {
                drop(m, why);
                return false;
            }
        }
        if (unlikely(own->may_contain(ip->src_addr)) && own->contains(ip->src_addr)) {
            drop(m, drop_reason::ip_source_is_ours);
            return false;
        }
        return true;
    }
    if (type == be16_t(kEtherTypeArp).raw() || type == be16_t(kEtherTypeRarp).raw())
        punt(m, punt_kind::arp, in_port);
    else if (type == be16_t(kEtherTypeVlan).raw() || type == be16_t(kEtherTypeQinQ).raw())
        drop(m, drop_reason::eth_vlan);
    else
        drop(m, drop_reason::eth_unknown_type);
    return false;
}

void worker::process_burst(uint16_t in_port, rte_mbuf **pkts, uint16_t n) {
    counters_.count(event::rx_packets, n);
    const uint64_t my_mac = r_.runtime(in_port).mac_raw;
    const own_address_set *own = r_.own_addresses();
    const bool nat_on = !r_.nat().empty();
    const __m128i head = _mm_set_epi64x(int64_t(kPlainHeadTail), int64_t(my_mac));

    rte_mbuf *ip_pkts[kMaxBurst];
    uint32_t dsts[kMaxBurst];
    uint16_t n_ip = 0;

    for (uint16_t i = 0; i < n && i < 4; ++i) rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
    for (uint16_t i = 0; i < n; ++i) {
        if (i + 4 < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4], void *));
        rte_mbuf *m = pkts[i];
        const uint32_t len = m->data_len;
        auto *eth = rte_pktmbuf_mtod(m, uint8_t *);
        auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + kEthHeaderLen);
        // The common case in one test: a one-segment IPv4 frame to our MAC with a plain
        // header that checks out, from a source that cannot be ours. The rest is sorted out
        // (and counted) one check at a time.
        const bool plain = m->nb_segs == 1 && len >= kEthHeaderLen + kIpv4MinHeaderLen &&
                           plain_head(eth, head) &&
                           plain_ipv4_ok(ip, len - kEthHeaderLen, checksum_verified(m)) &&
                           !own->may_contain(ip->src_addr);
        if (unlikely(!plain) && !check_frame(m, in_port, my_mac, own)) continue;
        // Ethernet pads short frames: forward the datagram, not the padding.
        const uint32_t frame = kEthHeaderLen + total_length(ip);
        if (frame < len) rte_pktmbuf_trim(m, uint16_t(len - frame));
        ip_pkts[n_ip] = m;
        dsts[n_ip] = dst_of(ip).host();
        ++n_ip;
    }
    clock_.mark(stage::parse);
    if (n_ip == 0) return;
    if (nat_on)
        translate_burst(in_port, ip_pkts, dsts, n_ip);
    else
        route_burst(in_port, ip_pkts, dsts, n_ip);
}

inline const next_hop *worker::forwarding_hop(rte_mbuf *m, uint32_t hop, uint16_t in_port) {
    if (unlikely(hop == route_table::kNoRoute)) {
        drop_with_icmp(m, drop_reason::no_route, in_port, icmp::kDestUnreachable,
                       icmp::kNetUnreachable);
        return nullptr;
    }
    const next_hop &nh = r_.routes().hop(hop);
    if (likely(nh.type == next_hop::kind::connected || nh.type == next_hop::kind::gateway))
        return &nh;
    if (nh.type == next_hop::kind::local)
        punt(m, punt_kind::local, in_port);
    else
        drop(m, nh.type == next_hop::kind::broadcast ? drop_reason::ip_directed_broadcast
                                                     : drop_reason::blackhole);
    return nullptr;
}

inline bool worker::may_leave(rte_mbuf *m, const rte_ipv4_hdr *ip, uint16_t in_port, uint16_t mtu,
                              bool &fragment) {
    if (unlikely(ip->time_to_live <= 1)) {
        drop_with_icmp(m, drop_reason::ttl_exceeded, in_port, icmp::kTimeExceeded,
                       icmp::kTtlExceeded);
        return false;
    }
    fragment = total_length(ip) > mtu;
    if (unlikely(fragment) && dont_fragment(ip)) {
        drop_with_icmp(m, drop_reason::frag_needed, in_port, icmp::kDestUnreachable,
                       icmp::kFragNeeded, mtu);
        return false;
    }
    return true;
}

inline bool worker::l2_header(uint32_t nh, uint16_t out, uint64_t &lo, uint32_t &hi) const {
    uint64_t word = 0;
    const bool known =
        r_.neighbors().lookup(ip4_addr(nh), word) && neighbor_table::port_of(word) == out;
    const uint64_t my_mac = r_.runtime(out).mac_raw;
    lo = (word & kMac48) | my_mac << 48;
    hi = uint32_t(my_mac >> 16);
    return known;
}

// Plain routing in one pass. Packets of a burst mostly go to one next hop: what sending to it
// takes (the route's checks, its port's MTU and redirect setting, the Ethernet header) is
// worked out once per run of packets to it, and each packet pays only its own checks (TTL,
// size) and rewrite. Errors are answered about the packet as it arrived.
void worker::route_burst(uint16_t in_port, rte_mbuf **pkts, const uint32_t *dsts, uint16_t n) {
    uint32_t hops[kMaxBurst];
    r_.routes().lookup_bulk(dsts, hops, n);
    clock_.mark(stage::route);

    // The run's route (a hop index; for a connected route also the destination, which is
    // then the next hop) and what sending by it takes. Hop indices are far below kNoRun.
    constexpr uint32_t kNoRun = route_table::kNoRoute - 1;
    uint32_t run_hop = kNoRun, run_dst = 0, nh = 0;
    bool per_dst = false, redirects = false, known = false;
    uint16_t out = 0, mtu = 0;
    uint64_t l2_lo = 0;
    uint32_t l2_hi = 0;
    // Forwarded packets for port q_out, in order, queued together when the port changes.
    rte_mbuf *fwd[kMaxBurst];
    uint16_t n_fwd = 0, q_out = 0;
    for (uint16_t j = 0; j < n; ++j) {
        rte_mbuf *m = pkts[j];
        if (hops[j] != run_hop || (per_dst && dsts[j] != run_dst)) {
            clock_.mark(stage::rewrite);
            const next_hop *h = forwarding_hop(m, hops[j], in_port);
            if (!h) continue;
            run_hop = hops[j];
            run_dst = dsts[j];
            per_dst = h->type == next_hop::kind::connected;
            nh = per_dst ? dsts[j] : h->gateway.host();
            out = h->port;
            const port_runtime &rt = r_.runtime(out);
            mtu = rt.mtu.load(std::memory_order_relaxed);
            redirects = out == in_port && rt.redirects.load(std::memory_order_relaxed);
            known = l2_header(nh, out, l2_lo, l2_hi);
            clock_.mark(stage::neighbor);
        }
        auto *eth = rte_pktmbuf_mtod(m, uint8_t *);
        auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + kEthHeaderLen);
        bool fragment;
        if (unlikely(!may_leave(m, ip, in_port, mtu, fragment))) continue;
        if (unlikely(redirects)) redirect(m, in_port, nh);
        decrement_ttl(ip);
        if (unlikely(fragment || !known)) {
            punt_of(m)->next_hop = nh;
            punt(m, punt_kind::output, out);
            continue;
        }
        std::memcpy(eth, &l2_lo, 8);
        std::memcpy(eth + 8, &l2_hi, 4);
        if (out != q_out && n_fwd) {
            queue_forwarded(q_out, fwd, n_fwd);
            n_fwd = 0;
        }
        q_out = out;
        fwd[n_fwd++] = m;
    }
    if (n_fwd) queue_forwarded(q_out, fwd, n_fwd);
    clock_.mark(stage::rewrite);
}

// With bindings. Decide, then move: the fate of every packet of the burst is computed first
// (translations, route, checks, with the table lookups done in bulk), then packets are
// rewritten and queued per egress port.
void worker::translate_burst(uint16_t in_port, rte_mbuf **pkts, const uint32_t *dsts, uint16_t n) {
    struct fate {
        uint32_t next_hop;                   // host order
        uint32_t new_dst;                    // network order; 0: keep
        uint32_t new_src;                    // network order; 0: keep
        const nat_table::view *dst_binding;  // counts the hit; into by_dst / by_src
        const nat_table::view *src_binding;
        uint16_t out;
        bool fragment;  // larger than the egress MTU, DF clear: the slow path fragments
    };
    fate f[kMaxBurst];
    const nat_table &nat = r_.nat();
    nat_table::view by_dst[kMaxBurst];
    nat_table::view by_src[kMaxBurst];
    uint32_t hops[kMaxBurst];

    // Destination translation comes before the route lookup (docs/DESIGN.md §2).
    nat.lookup_bulk(dsts, n, by_dst, int(index_), &dnat_hint_);
    clock_.mark(stage::dnat);
    uint32_t lpm_keys[kMaxBurst];
    for (uint16_t j = 0; j < n; ++j) {
        const nat_table::view &b = by_dst[j];
        lpm_keys[j] =
            b && b.kind == binding_kind::forward && b.home == dsts[j] ? b.care_of : dsts[j];
    }
    r_.routes().lookup_bulk(lpm_keys, hops, n);

    // Phase 1: route and check. Errors are answered about the packet as it arrived.
    uint32_t src_keys[kMaxBurst];
    uint16_t src_idx[kMaxBurst];
    uint16_t n_src = 0;
    for (uint16_t j = 0; j < n; ++j) {
        rte_mbuf *m = pkts[j];
        auto *ip = reinterpret_cast<rte_ipv4_hdr *>(rte_pktmbuf_mtod(m, uint8_t *) + kEthHeaderLen);
        fate &fj = f[j];
        fj.new_dst = fj.new_src = 0;
        fj.dst_binding = fj.src_binding = nullptr;
        const nat_table::view &b = by_dst[j];
        if (b && b.kind != binding_kind::forward) {
            // A local binding is M's host route: M* -> M, or M as it is, on b.port.
            fj.out = b.port;
            fj.next_hop = b.home;
            if (dsts[j] == b.care_of) {
                fj.new_dst = be32_t(b.home).raw();
                fj.dst_binding = &b;  // its counter line came with the bucket
            }
        } else {
            if (b && dsts[j] == b.home) {
                fj.new_dst = be32_t(b.care_of).raw();
                fj.dst_binding = &b;
            }
            const next_hop *nh = forwarding_hop(m, hops[j], in_port);
            if (!nh) {
                pkts[j] = nullptr;
                continue;
            }
            fj.out = nh->port;
            fj.next_hop = nh->type == next_hop::kind::gateway ? nh->gateway.host()
                          : fj.new_dst                        ? be32_t::from_raw(fj.new_dst).host()
                                                              : dsts[j];
        }
        const port_runtime &out_rt = r_.runtime(fj.out);
        if (unlikely(!may_leave(m, ip, in_port, out_rt.mtu.load(std::memory_order_relaxed),
                                fj.fragment))) {
            pkts[j] = nullptr;
            continue;
        }
        if (unlikely(fj.out == in_port) && out_rt.redirects.load(std::memory_order_relaxed))
            redirect(m, in_port, fj.next_hop);
        // Source translation depends on the egress port's role.
        const bool access = out_rt.role.load(std::memory_order_relaxed) == port_role::access;
        if (access ? nat.has_forward() : nat.has_local_snat()) {
            src_keys[n_src] = src_of(ip).host();
            src_idx[n_src++] = j;
        }
    }

    clock_.mark(stage::route);

    // Phase 2: source translations, looked up together.
    if (n_src) {
        nat.lookup_bulk(src_keys, n_src, by_src, -1, &snat_hint_);
        for (uint16_t k = 0; k < n_src; ++k) {
            const nat_table::view &b = by_src[k];
            if (!b) continue;
            fate &fj = f[src_idx[k]];
            const bool access =
                r_.runtime(fj.out).role.load(std::memory_order_relaxed) == port_role::access;
            if (access && b.kind == binding_kind::forward && src_keys[k] == b.care_of) {
                fj.new_src = be32_t(b.home).raw();
                fj.src_binding = &b;
                nat.prefetch_hit(b, index_);
            } else if (!access && b.kind == binding_kind::local && src_keys[k] == b.home) {
                fj.new_src = be32_t(b.care_of).raw();
                fj.src_binding = &b;
                nat.prefetch_hit(b, index_);
            }
        }
    }

    clock_.mark(stage::snat);

    // Phase 3: rewrite (translations, TTL, Ethernet header) and queue. Packets of a burst
    // mostly share a next hop: one neighbor lookup serves a run of them.
    const uint64_t now = rte_rdtsc();
    uint32_t last_nh = 0;
    uint16_t last_out = UINT16_MAX;
    uint64_t l2_lo = 0;
    uint32_t l2_hi = 0;
    bool known = false;
    // The current run of packets for last_out, queued together when the port changes.
    rte_mbuf *run[kMaxBurst];
    uint16_t n_run = 0;
    for (uint16_t j = 0; j < n; ++j) {
        rte_mbuf *m = pkts[j];
        if (!m) continue;
        const fate &fj = f[j];
        auto *eth = rte_pktmbuf_mtod(m, uint8_t *);
        auto *ip = reinterpret_cast<rte_ipv4_hdr *>(eth + kEthHeaderLen);
        if (fj.new_dst | fj.new_src) {
            auto *raw = reinterpret_cast<uint8_t *>(ip);
            const size_t len = total_length(ip);
            drop_reason why;
            if ((fj.new_dst && !nat::rewrite(raw, len, nat::kDstOffset, fj.new_dst, why)) ||
                (fj.new_src && !nat::rewrite(raw, len, nat::kSrcOffset, fj.new_src, why))) {
                drop(m, why);
                continue;
            }
            if (fj.dst_binding) nat.hit(*fj.dst_binding, index_, now);
            if (fj.src_binding) nat.hit(*fj.src_binding, index_, now);
        }
        decrement_ttl(ip);
        if (unlikely(fj.fragment)) {
            punt_of(m)->next_hop = fj.next_hop;
            punt(m, punt_kind::output, fj.out);
            continue;
        }
        if (fj.next_hop != last_nh || fj.out != last_out) {
            if (n_run && fj.out != last_out) {
                queue_forwarded(last_out, run, n_run);
                n_run = 0;
            }
            clock_.mark(stage::rewrite);
            last_nh = fj.next_hop;
            last_out = fj.out;
            known = l2_header(last_nh, last_out, l2_lo, l2_hi);
            clock_.mark(stage::neighbor);
        }
        if (unlikely(!known)) {
            punt_of(m)->next_hop = last_nh;
            punt(m, punt_kind::output, last_out);
            continue;
        }
        std::memcpy(eth, &l2_lo, 8);
        std::memcpy(eth + 8, &l2_hi, 4);
        run[n_run++] = m;
    }
    if (n_run) queue_forwarded(last_out, run, n_run);
    clock_.mark(stage::rewrite);
}

void worker::redirect(rte_mbuf *m, uint16_t in_port, uint32_t gateway) {
    // RFC 1812 5.2.7.2: the packet leaves by the port it came in on; tell its source of the
    // better first hop. A copy goes to the slow path, which checks the source is on-link.
    if (!icmp_limit_.take(rte_rdtsc())) {
        counters_.count(event::icmp_errors_suppressed);
        return;
    }
    rte_mbuf *c = rte_pktmbuf_copy(m, r_.pool(), 0, UINT32_MAX);
    if (!c) {
        counters_.count(event::icmp_errors_suppressed);
        return;
    }
    punt_meta *pm = punt_of(c);
    pm->icmp_type = icmp::kRedirect;
    pm->icmp_code = icmp::kRedirectHost;
    pm->next_hop = gateway;
    punt(c, punt_kind::icmp_error, in_port);
}

void worker::queue_forwarded(uint16_t port, rte_mbuf *const *pkts, uint16_t n) {
    counters_.count(event::forwarded, n);
    tx_buffer &b = txb_[port];
    while (n) {
        const uint16_t k = std::min<uint16_t>(n, kMaxBurst - b.n);
        std::memcpy(b.pkts + b.n, pkts, k * sizeof *pkts);
        b.n += k;
        pkts += k;
        n -= k;
        if (b.n == kMaxBurst) flush_port(port);  // clears the port's pending bit
    }
    if (b.n) pending_ports_ |= uint64_t(1) << port;
}

void worker::flush_port(uint16_t port) {
    tx_buffer &b = txb_[port];
    const uint16_t sent = rte_eth_tx_burst(port, txq_, b.pkts, b.n);
    counters_.count(event::tx_packets, sent);
    if (unlikely(sent < b.n)) {
        counters_.drop(drop_reason::tx_full, b.n - sent);
        rte_pktmbuf_free_bulk(b.pkts + sent, b.n - sent);
    }
    b.n = 0;
    pending_ports_ &= ~(uint64_t(1) << port);
}

void worker::flush_punts() {
    if (n_punts_ == 0) return;
    const unsigned ok = rte_ring_enqueue_burst(r_.punt_ring(), reinterpret_cast<void **>(punts_),
                                               n_punts_, nullptr);
    counters_.count(event::punted, ok);
    for (unsigned i = ok; i < n_punts_; ++i) {
        // An ICMP error request already counted its packet's drop reason.
        if (punt_of(punts_[i])->kind == punt_kind::icmp_error)
            counters_.count(event::icmp_errors_suppressed);
        else
            counters_.drop(drop_reason::punt_queue_full);
        rte_pktmbuf_free(punts_[i]);
    }
    n_punts_ = 0;
    if (ok) r_.slow().notify();
}

unsigned worker::drain_inject() {
    rte_mbuf *pkts[kMaxBurst];
    const unsigned n = rte_ring_dequeue_burst(r_.inject_ring(), reinterpret_cast<void **>(pkts),
                                              kMaxBurst, nullptr);
    for (unsigned i = 0; i < n; ++i) to_port(pkts[i]->port, pkts[i]);
    return n;
}

void worker::flush() {
    while (pending_ports_) flush_port(uint16_t(__builtin_ctzll(pending_ports_)));
    flush_punts();
    if (n_dropped_) free_dropped();
}

}  // namespace ssw
