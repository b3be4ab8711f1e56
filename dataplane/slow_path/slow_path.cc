#include "dataplane/slow_path/slow_path.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_ring.h>

#include "dataplane/packet/arp.h"
#include "dataplane/packet/fragment.h"
#include "dataplane/packet/icmp.h"
#include "dataplane/packet/ipv4.h"
#include "dataplane/router.h"
#include "dataplane/slow_path/punt.h"

namespace ssw {

namespace {
uint8_t *ip_of(rte_mbuf *m) { return rte_pktmbuf_mtod(m, uint8_t *) + kEthHeaderLen; }
}  // namespace

slow_path::slow_path(router &r) : r_(r) {}

slow_path::~slow_path() = default;

bool slow_path::init(std::string &error) {
    if (!wakeup_.init()) {
        error = fmt::format("eventfd: {}", strerror(errno));
        return false;
    }
    const uint64_t rate = std::max<uint32_t>(1, r_.config().icmp_rate);
    icmp_limit_ = token_bucket(rate, rate / 10, 1000, now_ms());
    const uint64_t proxy_rate = std::max<uint32_t>(1, r_.config().proxy_arp_rate);
    for (auto &b : proxy_limit_) b = token_bucket(proxy_rate, proxy_rate / 10, 1000, now_ms());
    for (auto &b : rarp_limit_) b = token_bucket(kRarpRate, kRarpRate / 4, 1000, now_ms());
    return true;
}

uint64_t slow_path::now_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1000000;
}

bool slow_path::prepare_to_wait() { return wakeup_.prepare(r_.punt_ring()); }

int slow_path::timeout_ms(int cap) const {
    uint64_t d = r_.neigh_cache().next_deadline();
    for (const auto &a : announcements_) d = std::min(d, a.next_ms);
    if (d == UINT64_MAX) return cap;
    uint64_t now = now_ms();
    if (d <= now) return 0;
    return int(std::min<uint64_t>(d - now, uint64_t(cap)));
}

void slow_path::tick() {
    const uint64_t now = now_ms();
    r_.neigh_cache().tick(now);
    for (size_t i = 0; i < announcements_.size();) {
        announcement &a = announcements_[i];
        if (a.next_ms > now) {
            ++i;
            continue;
        }
        for (const auto &[addr, mac] : announcement_for(a.port, a.prefix))
            send_garp(a.port, addr, mac);
        if (--a.left == 0) {
            announcements_.erase(announcements_.begin() + long(i));
            continue;
        }
        a.next_ms = now + a.interval_ms;
        ++i;
    }
}

void slow_path::announce(uint16_t port, const ip4_prefix &prefix, unsigned count,
                         unsigned interval_ms) {
    if (count == 0) return;
    announcements_.push_back({port, prefix, count, interval_ms, 0});
    tick();  // the first burst goes now
}

std::vector<std::pair<ip4_addr, mac_addr>> slow_path::announcement_for(
    uint16_t port, const ip4_prefix &prefix) const {
    std::vector<std::pair<ip4_addr, mac_addr>> out;
    for_each_announced(r_, r_.neigh_cache(), port, prefix, [&](ip4_addr a, const mac_addr *mac) {
        out.emplace_back(a, mac ? *mac : r_.runtime(port).mac);
    });
    return out;
}

void slow_path::reply_arp(rte_mbuf *m, uint16_t port, const arp_message &request, event counted) {
    // Answer in place: the request's buffer becomes the reply, from this port's MAC.
    const mac_addr &mine = r_.runtime(port).mac;
    arp_message reply{kArpReply, mine, request.target_ip, request.sender_mac, request.sender_ip};
    build_arp_frame(rte_pktmbuf_mtod(m, uint8_t *), request.sender_mac, mine, reply);
    m->data_len = m->pkt_len = kArpFrameLen;
    counters_.count(counted);
    send_frame(m, port);
}

void slow_path::send_garp(uint16_t port, ip4_addr a, const mac_addr &mac) {
    rte_mbuf *m = alloc_frame();
    if (!m) return;
    const mac_addr &mine = r_.runtime(port).mac;
    // An announcement (RFC 5227 3): a request with sender = target address. Linux updates
    // an entry it has on it even with arp_accept=0 (and regardless of locktime). The frame
    // comes from our MAC, so bridges keep learning the host's MAC where the host is; the
    // ARP sender hardware address says where `a` is reached.
    arp_message msg{kArpRequest, mac, a, mac_addr{}, a};
    build_arp_frame(reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, kArpFrameLen)),
                    mac_addr::from_u64(0xffffffffffffull), mine, msg);
    counters_.count(event::garp_sent);
    send_frame(m, port);
}

rte_mbuf *slow_path::alloc_frame() {
    rte_mbuf *m = rte_pktmbuf_alloc(r_.pool());
    if (!m) counters_.drop(drop_reason::no_buffer);
    return m;
}

void slow_path::drop(rte_mbuf *m, drop_reason why) {
    counters_.drop(why);
    rte_pktmbuf_free(m);
}

void slow_path::send_frame(rte_mbuf *m, uint16_t port) {
    m->port = port;
    if (rte_ring_enqueue(r_.inject_ring(), m) != 0)
        drop(m, drop_reason::tx_full);
    else
        r_.inject_wakeup().notify();  // worker 0 may be asleep
}

unsigned slow_path::poll(unsigned budget) {
    rte_mbuf *pkts[64];
    unsigned done = 0;
    const uint64_t now = now_ms();
    while (done < budget) {
        unsigned n = rte_ring_dequeue_burst(r_.punt_ring(), reinterpret_cast<void **>(pkts),
                                            std::min(64u, budget - done), nullptr);
        if (n == 0) break;
        for (unsigned i = 0; i < n; ++i) {
            rte_mbuf *m = pkts[i];
            const punt_meta pm = *punt_of(m);
            switch (pm.kind) {
                case punt_kind::arp: handle_arp(m, pm.port, now); break;
                case punt_kind::local: handle_local(m, pm.port); break;
                case punt_kind::icmp_error:
                    if (pm.icmp_type == icmp::kRedirect)
                        send_redirect(m, pm.port, ip4_addr(pm.next_hop));
                    else
                        send_icmp_error(m, pm.port, pm.icmp_type, pm.icmp_code, pm.mtu);
                    rte_pktmbuf_free(m);
                    break;
                case punt_kind::output: output(m, pm.port, ip4_addr(pm.next_hop), now); break;
            }
        }
        done += n;
    }
    return done;
}

// ---- ARP ----

void slow_path::handle_arp(rte_mbuf *m, uint16_t port, uint64_t now) {
    const auto *eth = rte_pktmbuf_mtod(m, const rte_ether_hdr *);
    const mac_addr eth_src = mac_addr::from_bytes(&eth->src_addr);
    if (eth->ether_type == be16_t(kEtherTypeRarp).raw()) {
        handle_rarp(m, port, eth_src, now);
        return;
    }
    arp_message msg;
    drop_reason why;
    if (!parse_arp(ip_of(m), m->data_len - kEthHeaderLen, msg, why)) {
        drop(m, why);
        return;
    }
    counters_.count(msg.op == kArpRequest ? event::arp_requests_received
                                          : event::arp_replies_received);
    // A watched VM's ARP on the port it is expected at (its own frame: the Ethernet source is
    // the sender) is its arrival; the frame then goes on as any ARP does.
    if (eth_src == msg.sender_mac && !arrivals_.entries().empty())
        count_arrival(arrivals_.on_arp(port, msg.sender_mac, msg.sender_ip, now));
    // A sender claiming one of our addresses, or no single host, is never learned.
    const bool learnable =
        !msg.is_probe() && !bad_source(msg.sender_ip) && !r_.is_own_address(msg.sender_ip);
    neighbor_cache &nc = r_.neigh_cache();

    if (r_.is_own_address(msg.target_ip, port) && !msg.is_gratuitous()) {
        if (msg.op == kArpRequest) {
            if (learnable && nc.learn(msg.sender_ip, port, msg.sender_mac,
                                      neighbor_cache::arp_kind::request_to_us, now))
                counters_.count(event::neighbors_learned);
            reply_arp(m, port, msg, event::arp_replies_sent);
            return;
        }
        if (learnable &&
            nc.learn(msg.sender_ip, port, msg.sender_mac, neighbor_cache::arp_kind::reply, now))
            counters_.count(event::neighbors_learned);
        rte_pktmbuf_free(m);
        return;
    }
    // Proxy-ARP: answer at once for a proxied address, never to a probe (RFC 5227: only the
    // owner defends an address) nor to an announcement.
    if (msg.op == kArpRequest && !msg.is_probe() && !msg.is_gratuitous() &&
        answers_arp_for(r_, port, msg.target_ip, msg.sender_ip)) {
        if (!proxy_limit_[port].take(now)) {
            counters_.count(event::proxy_arp_suppressed);
            rte_pktmbuf_free(m);
            return;
        }
        if (learnable && nc.learn(msg.sender_ip, port, msg.sender_mac,
                                  neighbor_cache::arp_kind::request_to_us, now))
            counters_.count(event::neighbors_learned);
        reply_arp(m, port, msg, event::proxy_arp_replies);
        return;
    }
    // Not addressed to us: gratuitous ARP and others refresh an entry we already have; from a
    // VM we deliver on this port (a local binding) they create it, since we expect it here:
    // its announcement after a move tells us its MAC before any packet needs it.
    const auto kind = r_.local_binding_port(msg.sender_ip) == std::optional<uint16_t>(port)
                          ? neighbor_cache::arp_kind::request_to_us
                          : neighbor_cache::arp_kind::other;
    if (learnable && nc.learn(msg.sender_ip, port, msg.sender_mac, kind, now)) {
        counters_.count(event::neighbors_learned);
        rte_pktmbuf_free(m);
        return;
    }
    drop(m, drop_reason::arp_not_for_us);
}

void slow_path::handle_rarp(rte_mbuf *m, uint16_t port, const mac_addr &eth_src, uint64_t now) {
    mac_addr sender;
    drop_reason why;
    if (!parse_rarp(ip_of(m), m->data_len - kEthHeaderLen, eth_src, sender, why)) {
        drop(m, why);
        return;
    }
    // Checked after the parse, so that a malformed flood does not spend the tokens.
    if (!rarp_limit_[port].take(now)) {
        drop(m, drop_reason::rarp_rate_limited);
        return;
    }
    const auto v = arrivals_.on_rarp(port, sender, now);
    if (v == arrival_watch::verdict::unexpected) {
        drop(m, drop_reason::rarp_unexpected);
        return;
    }
    count_arrival(v);
    rte_pktmbuf_free(m);
}

void slow_path::count_arrival(arrival_watch::verdict v) {
    if (v == arrival_watch::verdict::arrived) counters_.count(event::arrivals);
    if (v == arrival_watch::verdict::repeat) counters_.count(event::arrival_repeats);
}

void slow_path::send_arp_request(uint16_t port, ip4_addr target, const mac_addr *unicast) {
    auto src = r_.source_address(port, target);
    if (!src) return;  // no address on the port: nothing to ask from
    rte_mbuf *m = alloc_frame();
    if (!m) return;
    const mac_addr &mine = r_.runtime(port).mac;
    const mac_addr bcast = mac_addr::from_u64(0xffffffffffffull);
    arp_message req{kArpRequest, mine, *src, mac_addr{}, target};
    uint8_t *p = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, kArpFrameLen));
    build_arp_frame(p, unicast ? *unicast : bcast, mine, req);
    counters_.count(event::arp_requests_sent);
    send_frame(m, port);
}

// ---- packets for the router ----

void slow_path::handle_local(rte_mbuf *m, uint16_t port) {
    const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(ip_of(m));
    const size_t len = m->data_len - kEthHeaderLen;
    if (frag_field(ip) & 0x3fff) {  // a fragment: we do not reassemble
        drop(m, drop_reason::local_unsupported);
        return;
    }
    if (ip->next_proto_id == IPPROTO_ICMP) {
        const uint8_t type = len > ihl_bytes(ip) ? ip_of(m)[ihl_bytes(ip)] : 0xff;
        if (type != icmp::kEchoRequest) {
            drop(m, type == 0xff ? drop_reason::local_bad_icmp : drop_reason::local_unsupported);
            return;
        }
        rte_mbuf *r = alloc_frame();
        if (!r) {
            rte_pktmbuf_free(m);
            return;
        }
        uint8_t *out = reinterpret_cast<uint8_t *>(rte_pktmbuf_append(r, kEthHeaderLen + len));
        size_t n = out ? build_echo_reply(out + kEthHeaderLen, len, ip_of(m), len, ip_id_++) : 0;
        if (n == 0) {
            rte_pktmbuf_free(r);
            drop(m, drop_reason::local_bad_icmp);
            return;
        }
        rte_pktmbuf_trim(r, uint16_t(len - n));
        rte_pktmbuf_free(m);
        counters_.count(event::echo_replies_sent);
        send_ip(r);
        return;
    }
    counters_.drop(drop_reason::local_unsupported);
    if (ip->next_proto_id == IPPROTO_UDP)  // RFC 1122 3.2.2.1: no listener on that port
        send_icmp_error(m, port, icmp::kDestUnreachable, icmp::kPortUnreachable, 0);
    rte_pktmbuf_free(m);
}

// ---- ICMP errors ----

void slow_path::send_icmp_error(rte_mbuf *orig, uint16_t in_port, uint8_t type, uint8_t code,
                                uint32_t rest) {
    const uint8_t *oip = ip_of(orig);
    const size_t olen = orig->data_len - kEthHeaderLen;
    if (!icmp_error_allowed(oip, olen)) return;
    if (!icmp_limit_.take(now_ms())) {
        counters_.count(event::icmp_errors_suppressed);
        return;
    }
    const ip4_addr to = src_of(reinterpret_cast<const rte_ipv4_hdr *>(oip));
    auto src = r_.source_address(in_port, to);
    if (!src) {
        for (uint16_t p = 0; p < r_.port_count() && !src; ++p) src = r_.source_address(p, to);
        if (!src) return;  // the router has no address at all
    }
    rte_mbuf *m = alloc_frame();
    if (!m) return;
    uint8_t *out =
        reinterpret_cast<uint8_t *>(rte_pktmbuf_append(m, kEthHeaderLen + icmp::kMaxErrorLen));
    size_t n = build_icmp_error(out + kEthHeaderLen, icmp::kMaxErrorLen, type, code, rest, *src,
                                oip, olen, ip_id_++);
    if (n == 0) {
        rte_pktmbuf_free(m);
        return;
    }
    rte_pktmbuf_trim(m, uint16_t(icmp::kMaxErrorLen - n));
    counters_.count(event::icmp_errors_sent);
    send_ip(m);
}

void slow_path::send_redirect(rte_mbuf *m, uint16_t in_port, ip4_addr gateway) {
    // Only to a source on the segment (RFC 1812 5.2.7.2): on a connected subnet of the port,
    // or a moved VM delivered there by a local binding.
    const ip4_addr src = src_of(reinterpret_cast<const rte_ipv4_hdr *>(ip_of(m)));
    bool on_link = false;
    for (const auto &ia : r_.addresses(in_port)) on_link |= ia.subnet().contains(src);
    if (r_.local_binding_port(src) == std::optional<uint16_t>(in_port)) on_link = true;
    if (!on_link || gateway == src) return;
    send_icmp_error(m, in_port, icmp::kRedirect, icmp::kRedirectHost, gateway.host());
    counters_.count(event::redirects_sent);
}

// ---- output ----

void slow_path::send_ip(rte_mbuf *m) {
    const ip4_addr dst = dst_of(reinterpret_cast<const rte_ipv4_hdr *>(ip_of(m)));
    const next_hop *nh = r_.routes().lookup(dst);
    if (!nh || nh->type == next_hop::kind::local || nh->type == next_hop::kind::blackhole ||
        nh->type == next_hop::kind::broadcast) {
        drop(m, nh ? drop_reason::blackhole : drop_reason::no_route);
        return;
    }
    const ip4_addr via = nh->type == next_hop::kind::gateway ? nh->gateway : dst;
    output(m, nh->port, via, now_ms());
}

void slow_path::output(rte_mbuf *m, uint16_t port, ip4_addr next_hop, uint64_t now) {
    const uint16_t mtu = r_.runtime(port).mtu.load(std::memory_order_relaxed);
    const size_t len = m->data_len - kEthHeaderLen;
    if (len <= mtu) {
        resolve_and_send(m, port, next_hop, now);
        return;
    }
    // Without DF (the worker checked): fragment (RFC 791).
    rte_mbuf *frags[64];
    unsigned n = 0;
    int rc = fragment_ipv4(ip_of(m), len, mtu, [&](size_t size) -> uint8_t * {
        if (n == 64) return nullptr;
        rte_mbuf *f = rte_pktmbuf_alloc(r_.pool());
        if (!f) return nullptr;
        frags[n++] = f;
        auto *p =
            reinterpret_cast<uint8_t *>(rte_pktmbuf_append(f, uint16_t(kEthHeaderLen + size)));
        return p ? p + kEthHeaderLen : nullptr;
    });
    if (rc < 0) {
        for (unsigned i = 0; i < n; ++i) rte_pktmbuf_free(frags[i]);
        drop(m, drop_reason::fragment_failed);
        return;
    }
    rte_pktmbuf_free(m);
    counters_.count(event::fragments_sent, n);
    for (unsigned i = 0; i < n; ++i) resolve_and_send(frags[i], port, next_hop, now);
}

void slow_path::resolve_and_send(rte_mbuf *m, uint16_t port, ip4_addr next_hop, uint64_t now) {
    uint64_t word;
    if (r_.neighbors().lookup(next_hop, word) && neighbor_table::port_of(word) == port) {
        send_held(m, port, mac_addr::from_raw48(word));
        return;
    }
    r_.neigh_cache().resolve(next_hop, port, m, now);
}

void slow_path::send_held(void *pkt, uint16_t port, const mac_addr &mac) {
    auto *m = static_cast<rte_mbuf *>(pkt);
    auto *eth = rte_pktmbuf_mtod(m, uint8_t *);
    std::memcpy(eth, mac.b.data(), 6);
    std::memcpy(eth + 6, r_.runtime(port).mac.b.data(), 6);
    const uint16_t type = be16_t(kEtherTypeIpv4).raw();
    std::memcpy(eth + 12, &type, 2);
    counters_.count(event::held_packets_sent);
    send_frame(m, port);
}

void slow_path::drop_held(void *pkt, drop_reason why) {
    auto *m = static_cast<rte_mbuf *>(pkt);
    // RFC 1812 4.3.3.1: the next hop is unreachable, tell the source.
    if (why == drop_reason::neighbor_failed)
        send_icmp_error(m, m->port, icmp::kDestUnreachable, icmp::kHostUnreachable, 0);
    drop(m, why);
}

}  // namespace ssw
