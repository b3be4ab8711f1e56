// Fuzz target: one received frame through the whole packet path of a configured router
// (worker: classify, check, route, translate, rewrite; slow path: ARP, ICMP, fragmentation,
// neighbor resolution), on three null ports.
//
// Input: byte 0 controls the run, the rest is the frame.
//   bits 0-1  rx port (the value mod 3)
//   bits 2-3  destination MAC: 0 as in the frame, 1 and 2 the rx port's MAC, 3 broadcast
//   bits 4-6  copies of the frame in one burst: 7 -> 64 (kMaxBurst), 6 -> 3, else 1;
//             5 -> 1 with the bindings taken out of the dataplane for this input (the
//             workers' path without translation)
//   bit  7    recompute the IPv4 header checksum and the transport checksum first
// A frame longer than an mbuf's data room arrives in two chained segments, as a scattering
// PMD delivers it; the worker must drop it as eth_multi_segment.
//
// After every input, what must hold (FUZZ_CHECK aborts, so libFuzzer keeps the input):
//   - every received frame was forwarded, punted or dropped under a reason, exactly once
//     (an ICMP error request or a redirect is a punt on top of its packet's own fate);
//   - every frame the router transmits, forwarded or originated, is one well-formed
//     segment from the port's MAC: ARP that parses, or IPv4 with a correct header checksum,
//     a total length equal to the frame, within the egress MTU, TTL >= 1, no martian
//     address, and a correct transport checksum whenever the received one was correct;
//   - no mbuf is lost: once the rings are drained and unresolved neighbors have timed out
//     (timers driven by a fake clock), the pool holds what it held before.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "control/router/executor.h"
#include "dataplane/packet/arp.h"
#include "dataplane/packet/ipv4.h"
#include "dataplane/router.h"
#include "dataplane/slow_path/punt.h"
#include "dataplane/slow_path/slow_path.h"
#include "dataplane/worker.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace ssw;

// The router of tests/e2e/test_service_switch.py, plus what reaches the other paths: a
// default route, a blackhole, an on-link route nobody answers on, a hairpin with redirects,
// a small MTU for fragmentation and frag-needed, static neighbors for every gateway.
constexpr const char *kConfig[] = {
    "address add 203.0.113.1/24 port 0",
    "address add 10.0.0.1/24 port 1",
    "address add 100.64.0.1/30 port 1",
    "address add 192.168.10.1/24 port 2",
    "port 0 mtu 576",
    "port 1 role core",
    "port 2 redirects on",
    "neigh add 203.0.113.10 lladdr 02:00:00:00:00:0a port 0",
    "neigh add 203.0.113.254 lladdr 02:00:00:00:00:fe port 0",
    "neigh add 10.0.0.2 lladdr 02:00:00:00:01:02 port 1",
    "neigh add 10.0.0.4 lladdr 02:00:00:00:01:04 port 1",
    "neigh add 192.168.10.2 lladdr 02:00:00:00:02:02 port 2",
    "neigh add 192.168.10.254 lladdr 02:00:00:00:02:fe port 2",
    "neigh add 192.168.11.3 lladdr 02:00:00:00:02:03 port 2",
    "route add 0.0.0.0/0 via 203.0.113.254",
    "route add 172.16.0.0/12 via 10.0.0.2",
    "route add 192.168.20.0/24 via 192.168.10.254",
    "route add 198.51.100.0/24 blackhole",
    "route add 100.100.0.0/24 port 2",
    "nat add 192.168.11.3 to 192.168.10.3 local port 2",
    "nat add 192.168.11.4 to 10.0.0.4",
    "nat add 192.168.11.6 to 192.168.10.6 local port 2 keep-source",
    "proxy-arp add 192.168.11.0/24 port 2",
    "proxy-arp add 10.0.0.128/25 port 1",
};

struct harness {
    router r;
    std::unique_ptr<executor> ex;
    uint64_t fake_ms = 0;      // the neighbor timers' clock, far ahead of the real one
    bool input_l4_ok = false;  // whether the frame being processed had a correct L4 checksum
    // The received datagram, when it is well-formed IPv4, to check what the router makes of it.
    struct datagram {
        bool valid = false;
        uint16_t id = 0;
        uint8_t proto = 0;
        uint8_t ttl = 0;
        bool mf = false;
        uint32_t begin = 0, end = 0;  // payload bytes [begin, end) of the original datagram
        std::vector<uint8_t> payload;
    } in;
    uint64_t inputs = 0;
    bool verbose = false;  // SSW_FUZZ_VERBOSE=1: what each input did, for triage
};
harness *h = nullptr;

std::string hex(const uint8_t *p, size_t n) {
    std::string s;
    for (size_t i = 0; i < std::min<size_t>(n, 96); ++i) s += fmt::format("{:02x}", p[i]);
    if (n > 96) s += "...";
    return s;
}

// A forwarded datagram, or a fragment the router cut from it (the same id and protocol, not
// from one of the router's addresses: those it originates itself): its TTL is one less, it
// covers a part of what was received, MF set unless it ends where the received one ended,
// and past the headers translation may touch, the same bytes.
void check_pieces(uint16_t port, const uint8_t *ip, uint32_t avail) {
    const auto &in = h->in;
    const auto *hdr = reinterpret_cast<const rte_ipv4_hdr *>(ip);
    if (!in.valid || be16_t::from_raw(hdr->packet_id).host() != in.id ||
        hdr->next_proto_id != in.proto || h->r.is_own_address(src_of(hdr)))
        return;
    const uint32_t ihl = ihl_bytes(hdr);
    const uint32_t begin = uint32_t(frag_field(hdr) & 0x1fff) * 8;
    const uint32_t end = begin + avail - ihl;
    const bool mf = frag_field(hdr) & 0x2000;
    FUZZ_CHECK(hdr->time_to_live + 1 == in.ttl, "port {}: TTL {} out, {} in", port,
               hdr->time_to_live, in.ttl);
    FUZZ_CHECK(begin >= in.begin && end <= in.end && (end < in.end ? mf : mf == in.mf),
               "port {}: a piece [{}, {}) MF {} of the datagram [{}, {}) MF {} received: {}", port,
               begin, end, mf, in.begin, in.end, in.mf, hex(ip, avail));
    constexpr uint32_t kTranslatable = 128;  // the transport header and an ICMP error's quote
    for (uint32_t i = std::max(begin, in.begin + kTranslatable); i < end; ++i) {
        FUZZ_CHECK(ip[ihl + (i - begin)] == in.payload[i - in.begin],
                   "port {}: payload byte {} changed in a piece [{}, {})", port, i, begin, end);
    }
}

// A frame the router hands to port `port`.
void check_frame(uint16_t port, const rte_mbuf *m) {
    FUZZ_CHECK(m->nb_segs == 1 && m->pkt_len == m->data_len,
               "port {}: {} segments, pkt_len {} data_len {}", port, m->nb_segs, m->pkt_len,
               m->data_len);
    const uint32_t len = m->data_len;
    const auto *p = rte_pktmbuf_mtod(m, const uint8_t *);
    FUZZ_CHECK(len >= kEthHeaderLen, "port {}: {}-byte frame", port, len);
    const mac_addr src = mac_addr::from_bytes(p + 6), dst = mac_addr::from_bytes(p);
    FUZZ_CHECK(src == h->r.runtime(port).mac, "port {}: source MAC {} is not the port's {}", port,
               src.to_string(), h->r.runtime(port).mac.to_string());
    FUZZ_CHECK(!dst.is_zero(), "port {}: zero destination MAC: {}", port, hex(p, len));
    const uint16_t type = uint16_t(p[12] << 8 | p[13]);
    if (type == kEtherTypeArp) {
        FUZZ_CHECK(len == kArpFrameLen, "port {}: ARP frame of {} bytes", port, len);
        arp_message msg;
        drop_reason why;
        FUZZ_CHECK(parse_arp(p + kEthHeaderLen, kArpLen, msg, why),
                   "port {}: ARP that does not parse ({}): {}", port, name_of(why), hex(p, len));
        return;
    }
    FUZZ_CHECK(type == kEtherTypeIpv4, "port {}: ethertype {:#06x}", port, type);
    FUZZ_CHECK(!dst.is_multicast(), "port {}: IPv4 to multicast MAC {}", port, dst.to_string());
    const uint8_t *ip = p + kEthHeaderLen;
    const uint32_t avail = len - kEthHeaderLen;
    FUZZ_CHECK(avail >= kIpv4MinHeaderLen, "port {}: {} bytes of IPv4", port, avail);
    const auto *hdr = reinterpret_cast<const rte_ipv4_hdr *>(ip);
    const uint32_t ihl = ihl_bytes(hdr);
    FUZZ_CHECK((ip[0] >> 4) == 4 && ihl >= kIpv4MinHeaderLen && ihl <= avail,
               "port {}: version/IHL {:#04x} in {} bytes", port, ip[0], avail);
    FUZZ_CHECK(total_length(hdr) == avail, "port {}: total length {} in a frame carrying {}", port,
               total_length(hdr), avail);
    const uint16_t mtu = h->r.runtime(port).mtu.load();
    FUZZ_CHECK(avail <= mtu, "port {}: {}-byte packet beyond the MTU {}: {}", port, avail, mtu,
               hex(ip, avail));
    FUZZ_CHECK(csum::verify(ip, ihl), "port {}: bad IPv4 header checksum: {}", port, hex(ip, ihl));
    FUZZ_CHECK(hdr->time_to_live >= 1, "port {}: TTL 0 sent", port);
    FUZZ_CHECK(!bad_source(src_of(hdr)) && !bad_destination(dst_of(hdr)),
               "port {}: martian {} -> {}", port, src_of(hdr).to_string(), dst_of(hdr).to_string());
    const uint8_t proto = hdr->next_proto_id;
    const bool whole = (frag_field(hdr) & 0x3fff) == 0;
    check_pieces(port, ip, avail);
    if (h->input_l4_ok && whole &&
        (proto == IPPROTO_TCP || proto == IPPROTO_UDP || proto == IPPROTO_ICMP)) {
        FUZZ_CHECK(fuzz::l4_checksum_ok(ip, avail),
                   "port {}: transport checksum (protocol {}) broken in transit: {}", port, proto,
                   hex(ip, avail));
    }
}

uint16_t on_tx(uint16_t port, uint16_t, rte_mbuf **pkts, uint16_t n, void *) {
    for (uint16_t i = 0; i < n; ++i) check_frame(port, pkts[i]);
    return n;
}

// Worker 0's job in the run loop: what the slow path originated goes out on its port.
void drain_inject() {
    rte_mbuf *pkts[64];
    unsigned n;
    while ((n = rte_ring_dequeue_burst(h->r.inject_ring(), reinterpret_cast<void **>(pkts), 64,
                                       nullptr)) != 0) {
        for (unsigned i = 0; i < n; ++i) {
            rte_mbuf *m = pkts[i];
            FUZZ_CHECK(h->r.valid_port(m->port), "slow path sent a frame to port {}", m->port);
            const uint16_t sent = rte_eth_tx_burst(m->port, 0, &m, 1);
            FUZZ_CHECK(sent == 1, "null port {} refused a frame", m->port);
        }
    }
}

void run_slow_path() {
    for (int round = 0; round < 1000; ++round) {
        h->r.slow().poll(4096);
        drain_inject();
        if (rte_ring_count(h->r.punt_ring()) == 0 && rte_ring_count(h->r.inject_ring()) == 0)
            return;
    }
    FUZZ_CHECK(false, "the slow path never went idle");
}

// Punts by kind, and a check of what workers tell the slow path. The ring is left as found.
unsigned count_icmp_punts() {
    std::vector<void *> all(rte_ring_count(h->r.punt_ring()));
    const unsigned n =
        rte_ring_dequeue_bulk(h->r.punt_ring(), all.data(), unsigned(all.size()), nullptr);
    FUZZ_CHECK(n == all.size(), "punt ring count changed");
    unsigned icmp = 0;
    for (void *p : all) {
        const punt_meta *pm = punt_of(static_cast<rte_mbuf *>(p));
        FUZZ_CHECK(pm->kind <= punt_kind::output, "punt kind {}", unsigned(pm->kind));
        FUZZ_CHECK(h->r.valid_port(pm->port), "punt for port {}", pm->port);
        icmp += pm->kind == punt_kind::icmp_error;
    }
    if (n) {
        FUZZ_CHECK(rte_ring_enqueue_bulk(h->r.punt_ring(), all.data(), n, nullptr) == n,
                   "cannot put punts back");
    }
    return icmp;
}

size_t dynamic_neighbors(std::string *list = nullptr) {
    size_t n = 0;
    for (const auto &[ip, e] : h->r.neigh_cache().entries()) {
        if (e.state == neighbor_state::permanent) continue;
        ++n;
        if (list)
            *list += fmt::format("{} {} port {} held {}; ", ip.to_string(), to_string(e.state),
                                 e.port, e.hold.size());
    }
    return n;
}

// Runs the neighbor timers on the fake clock until every entry a packet created (and every
// packet held for it) is gone: each input starts from the configured state.
void expire_neighbors() {
    for (int round = 0; round < 64 && dynamic_neighbors() != 0; ++round) {
        h->fake_ms += 3'600'000;
        h->r.neigh_cache().tick(h->fake_ms);
        run_slow_path();
    }
    std::string list;
    FUZZ_CHECK(dynamic_neighbors(&list) == 0, "neighbor entries that never expire: {}", list);
}

rte_mbuf *make_mbuf(const std::vector<uint8_t> &frame, uint16_t port, uint16_t room) {
    rte_mbuf *m = rte_pktmbuf_alloc(h->r.pool());
    FUZZ_CHECK(m != nullptr, "pool empty");
    const size_t first = std::min<size_t>(frame.size(), room);
    char *p = rte_pktmbuf_append(m, uint16_t(first));
    FUZZ_CHECK(p != nullptr, "append {}", first);
    if (first) std::memcpy(p, frame.data(), first);
    if (frame.size() > first) {
        rte_mbuf *s = rte_pktmbuf_alloc(h->r.pool());
        FUZZ_CHECK(s != nullptr, "pool empty");
        const size_t rest = frame.size() - first;
        char *q = rte_pktmbuf_append(s, uint16_t(rest));
        FUZZ_CHECK(q != nullptr, "append {}", rest);
        std::memcpy(q, frame.data() + first, rest);
        FUZZ_CHECK(rte_pktmbuf_chain(m, s) == 0, "chain");
    }
    m->port = port;
    return m;
}

counter_totals worker0() {
    counter_totals t;
    t.accumulate(h->r.worker_at(0).counters());
    return t;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
    fuzz::init_eal("packet_fuzz");
    h = new harness;
    router_config cfg;
    cfg.mbufs = 8191;
    cfg.max_routes = 1024;
    cfg.tbl8_groups = 64;
    cfg.nat_capacity = 1024;
    // ICMP errors and proxy replies never rate-limited: the same input, the same packets.
    cfg.icmp_rate = 1'000'000'000;
    cfg.proxy_arp_rate = 1'000'000'000;
    std::string error;
    if (!h->r.init(cfg, error)) {
        fmt::print(stderr, "router init: {}\n", error);
        std::abort();
    }
    h->ex = std::make_unique<executor>(h->r);
    for (const char *line : kConfig) {
        reply rep = h->ex->execute_line(line);
        if (!rep.ok) {
            fmt::print(stderr, "'{}' refused: {}\n", line, rep.error);
            std::abort();
        }
    }
    for (uint16_t p = 0; p < h->r.port_count(); ++p) {
        if (!rte_eth_add_tx_callback(p, 0, on_tx, nullptr)) {
            fmt::print(stderr, "port {}: no tx callback\n", p);
            std::abort();
        }
    }
    h->fake_ms = slow_path::now_ms() + 1'000'000'000'000ull;
    h->verbose = std::getenv("SSW_FUZZ_VERBOSE") != nullptr;
    run_slow_path();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const uint8_t ctl = data[0];
    ++data;
    --size;
    const uint16_t port = uint16_t((ctl & 3) % 3);
    const unsigned mac_mode = (ctl >> 2) & 3;
    const unsigned copy_sel = (ctl >> 4) & 7;
    const uint16_t copies = copy_sel == 7 ? kMaxBurst : copy_sel == 6 ? 3 : 1;
    const bool no_nat = copy_sel == 5;
    const bool fix = ctl & 0x80;

    router &r = h->r;
    rte_mempool *pool = r.pool();
    const uint16_t room = uint16_t(rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM);
    std::vector<uint8_t> frame(data, data + std::min<size_t>(size, 2 * size_t(room)));
    if (frame.size() >= 6 && (mac_mode == 1 || mac_mode == 2))
        std::memcpy(frame.data(), r.runtime(port).mac.b.data(), 6);
    if (frame.size() >= 6 && mac_mode == 3) std::memset(frame.data(), 0xff, 6);
    const bool ipv4 = frame.size() >= kEthHeaderLen && frame[12] == 0x08 && frame[13] == 0x00;
    if (fix && ipv4)
        fuzz::fix_checksums(frame.data() + kEthHeaderLen, frame.size() - kEthHeaderLen);
    h->in = {};
    if (ipv4 && frame.size() >= kEthHeaderLen + kIpv4MinHeaderLen) {
        const uint8_t *ip = frame.data() + kEthHeaderLen;
        const auto *hdr = reinterpret_cast<const rte_ipv4_hdr *>(ip);
        const uint32_t ihl = ihl_bytes(hdr), tl = total_length(hdr);
        if ((ip[0] >> 4) == 4 && ihl >= kIpv4MinHeaderLen && tl >= ihl &&
            tl <= frame.size() - kEthHeaderLen) {
            auto &in = h->in;
            in.valid = true;
            in.id = be16_t::from_raw(hdr->packet_id).host();
            in.proto = hdr->next_proto_id;
            in.ttl = hdr->time_to_live;
            in.mf = frag_field(hdr) & 0x2000;
            in.begin = uint32_t(frag_field(hdr) & 0x1fff) * 8;
            in.end = in.begin + tl - ihl;
            in.payload.assign(ip + ihl, ip + tl);
        }
    }
    h->input_l4_ok =
        ipv4 && fuzz::l4_checksum_ok(frame.data() + kEthHeaderLen, frame.size() - kEthHeaderLen);
    const bool chained = frame.size() > room;

    const unsigned avail_before = rte_mempool_avail_count(pool);
    const counter_totals before = worker0();
    counter_totals slow_before;
    slow_before.accumulate(r.slow().counters());

    std::vector<binding> bindings;
    if (no_nat) {
        r.nat().for_each([&](const binding &b) { bindings.push_back(b); });
        for (const binding &b : bindings) r.nat().remove(b.home);
        FUZZ_CHECK(r.nat().empty(), "bindings left");
    }

    rte_mbuf *pkts[kMaxBurst];
    for (uint16_t i = 0; i < copies; ++i) pkts[i] = make_mbuf(frame, port, room);
    worker &w = r.worker_at(0);
    w.process_burst(port, pkts, copies);
    w.flush();

    const unsigned icmp_punts = count_icmp_punts();
    const counter_totals d = worker0() - before;
    uint64_t drops = 0;
    for (size_t i = 0; i < kDropReasonCount; ++i)
        if (i != size_t(drop_reason::tx_full)) drops += d.drops[i];
    const uint64_t rx = d.event_count(event::rx_packets);
    const uint64_t fwd = d.event_count(event::forwarded);
    const uint64_t punted = d.event_count(event::punted);
    FUZZ_CHECK(rx == copies, "rx_packets +{} for {} frames", rx, copies);
    FUZZ_CHECK(fwd + punted - icmp_punts + drops == copies,
               "{} frames: forwarded {} + punted {} (of which {} ICMP requests) + dropped {}",
               copies, fwd, punted, icmp_punts, drops);
    FUZZ_CHECK(d.event_count(event::tx_packets) == fwd && d.drop_count(drop_reason::tx_full) == 0,
               "forwarded {}, transmitted {}", fwd, d.event_count(event::tx_packets));
    if (chained)
        FUZZ_CHECK(d.drop_count(drop_reason::eth_multi_segment) == copies,
                   "{} chained frames, eth_multi_segment +{}", copies,
                   d.drop_count(drop_reason::eth_multi_segment));

    run_slow_path();
    r.slow().tick();
    run_slow_path();
    expire_neighbors();
    for (const binding &b : bindings) {
        std::string error;
        FUZZ_CHECK(r.nat().set(b, error), "binding of {} not restored: {}", b.home.to_string(),
                   error);
    }
    r.rcu().reclaim();

    FUZZ_CHECK(rte_ring_count(r.punt_ring()) == 0 && rte_ring_count(r.inject_ring()) == 0,
               "rings not drained");
    const unsigned avail_after = rte_mempool_avail_count(pool);
    FUZZ_CHECK(avail_after == avail_before, "mbuf leak: {} free before the input, {} after",
               avail_before, avail_after);
    ++h->inputs;
    if (h->verbose) {
        counter_totals all = d;
        counter_totals slow_after;
        slow_after.accumulate(r.slow().counters());
        const counter_totals sd = slow_after - slow_before;
        std::string line = fmt::format("port {} x{} {}B:", port, copies, frame.size());
        for (size_t i = 0; i < kEventCount; ++i)
            if (all.events[i] + sd.events[i])
                line += fmt::format(" {}={}", kEventNames[i], all.events[i] + sd.events[i]);
        for (size_t i = 0; i < kDropReasonCount; ++i)
            if (all.drops[i] + sd.drops[i])
                line += fmt::format(" drop:{}={}", kDropReasonNames[i], all.drops[i] + sd.drops[i]);
        fmt::print(stderr, "{}\n", line);
    }
    return 0;
}
