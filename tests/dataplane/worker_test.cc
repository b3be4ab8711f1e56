// The fast path (dataplane/worker.cc, docs/DESIGN.md §3) on a router with three DPDK null
// ports, configured through its executor as ssw-router is: plain routing and the translating
// path, TTL and checksums, translations by binding kind and egress role, and every drop
// counted under its reason. The harness (tests/dataplane/worker_fixture.h) feeds worker 0
// bursts and collects what each port sent, what went to the slow path, and the counters.
#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "dataplane/worker.h"
#include "tests/dataplane/worker_fixture.h"

namespace ssw {
namespace {

using namespace test;

class Worker : public worker_fixture {};

// ---- moved from the executor's tests ----

// The worker over this router: packets forwarded in several bursts before one flush, more
// than a tx burst holds, are all transmitted by that flush (a full tx buffer is sent at once;
// what is queued after it must still be pending for the flush).
TEST_F(Worker, SendsEveryQueuedPacketAtFlush) {
    for (const char *line :
         {"address add 192.0.2.1/24 port 0", "address add 10.0.0.1/24 port 1",
          "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1", "route add 0.0.0.0/0 via 10.0.0.2"})
        ok(line);
    rte_ether_addr mac;
    ASSERT_EQ(rte_eth_macaddr_get(0, &mac), 0);
    worker &w = r_->worker_at(0);
    auto events = [&](event e) { return w.counters().events[size_t(e)].get(); };
    const uint64_t tx0 = events(event::tx_packets);
    constexpr uint16_t kBurst = 50, kBursts = 3;  // 150: two full tx bursts of 64 and 22 more
    const std::vector frames(kBurst, udp_frame(mac, "198.18.1.1", 1024));
    for (int b = 0; b < kBursts; ++b) {
        auto pkts = received(r_->pool(), frames);
        w.process_burst(0, pkts.data(), kBurst);
    }
    w.flush();
    EXPECT_EQ(events(event::forwarded), kBurst * kBursts);
    EXPECT_EQ(events(event::tx_packets) - tx0, kBurst * kBursts);
}

// One burst whose packets go many ways: runs of packets to one next hop broken by packets
// that are dropped, answered or handed to the slow path, and connected destinations (each its
// own next hop). Every packet meets its own fate, and the forwarded ones leave in order with
// the right next hop's MAC, the TTL decremented and a right checksum. The same again with a
// binding in the table, which takes the translating path (to no binding of these packets).
TEST_F(Worker, RoutesEachPacketOfAMixedBurst) {
    for (const char *line :
         {"address add 192.0.2.1/24 port 0", "address add 10.0.0.1/24 port 1",
          "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1",
          "neigh add 10.0.0.3 lladdr 02:00:00:00:00:03 port 1",
          "neigh add 10.0.0.5 lladdr 02:00:00:00:00:05 port 1", "route add 0.0.0.0/0 via 10.0.0.2",
          "route add 203.0.113.0/24 via 10.0.0.3", "route add 198.51.100.0/24 blackhole"})
        ok(line);
    rte_ether_addr in_mac, out_mac;
    ASSERT_EQ(rte_eth_macaddr_get(0, &in_mac), 0);
    ASSERT_EQ(rte_eth_macaddr_get(1, &out_mac), 0);
    struct packet {
        const char *dst;
        uint8_t ttl;
        uint8_t neighbor;  // the last byte of the next hop's MAC; 0: not transmitted
    };
    const packet burst[] = {
        {"198.18.1.1", 64, 2},   {"203.0.113.9", 64, 3}, {"198.51.100.7", 64, 0},  // blackhole
        {"203.0.113.10", 64, 3}, {"198.18.1.2", 1, 0},                             // TTL
        {"198.18.1.3", 64, 2},   {"10.0.0.5", 64, 5},    {"10.0.0.6", 64, 0},      // unresolved
        {"10.0.0.5", 64, 5},     {"192.0.2.1", 64, 0},                             // local
        {"198.18.1.4", 2, 2},
    };
    constexpr size_t kN = std::size(burst);
    std::vector<frame_bytes> frames;
    for (size_t i = 0; i < kN; ++i)
        frames.push_back(udp_frame(in_mac, burst[i].dst, uint16_t(1000 + i), burst[i].ttl));

    for (const bool with_binding : {false, true}) {
        SCOPED_TRACE(with_binding ? "translating path" : "plain routing");
        if (with_binding) ok("nat add 172.16.0.1 to 172.16.1.1");
        worker &w = r_->worker_at(0);
        counter_totals before;
        before.accumulate(w.counters());
        tx_capture tx(1);
        ASSERT_TRUE(tx.ok());
        auto pkts = received(r_->pool(), frames);
        w.process_burst(0, pkts.data(), uint16_t(kN));
        w.flush();
        counter_totals after;
        after.accumulate(w.counters());
        const counter_totals d = after - before;

        std::vector<size_t> sent;
        for (size_t i = 0; i < kN; ++i)
            if (burst[i].neighbor) sent.push_back(i);
        ASSERT_EQ(tx.frames.size(), sent.size());
        for (size_t k = 0; k < sent.size(); ++k) {
            const packet &p = burst[sent[k]];
            const frame_bytes &f = tx.frames[k];
            SCOPED_TRACE(p.dst);
            ASSERT_EQ(f.size(), 60u);
            const uint8_t want_dmac[6] = {2, 0, 0, 0, 0, p.neighbor};
            EXPECT_EQ(std::memcmp(f.data(), want_dmac, 6), 0);
            EXPECT_EQ(std::memcmp(f.data() + 6, out_mac.addr_bytes, 6), 0);
            const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(f.data() + 14);
            EXPECT_EQ(ip->dst_addr, A(p.dst).be().raw());
            EXPECT_EQ(ip->time_to_live, p.ttl - 1);
            EXPECT_EQ(rte_ipv4_cksum(ip), 0) << "the header sums wrong";
            const auto *udp = reinterpret_cast<const rte_udp_hdr *>(ip + 1);
            EXPECT_EQ(rte_be_to_cpu_16(udp->src_port), 1000 + sent[k]) << "out of order";
        }
        EXPECT_EQ(d.event_count(event::forwarded), sent.size());
        EXPECT_EQ(d.drop_count(drop_reason::blackhole), 1u);
        EXPECT_EQ(d.drop_count(drop_reason::ttl_exceeded), 1u);
        // The ICMP error request, the unresolved neighbor and the local packet.
        EXPECT_EQ(d.event_count(event::punted), 3u);
    }

    // Without a default route, a burst that starts with a packet to nowhere.
    ok("route del 0.0.0.0/0");
    for (const bool with_binding : {true, false}) {
        SCOPED_TRACE(with_binding ? "translating path" : "plain routing");
        if (!with_binding) ok("nat del 172.16.0.1");
        worker &w = r_->worker_at(0);
        counter_totals before;
        before.accumulate(w.counters());
        tx_capture tx(1);
        ASSERT_TRUE(tx.ok());
        const std::array frames2 = {udp_frame(in_mac, "198.18.1.1", 1),
                                    udp_frame(in_mac, "203.0.113.9", 2),
                                    udp_frame(in_mac, "198.18.1.2", 3)};
        auto pkts = received(r_->pool(), frames2);
        w.process_burst(0, pkts.data(), uint16_t(pkts.size()));
        w.flush();
        counter_totals after;
        after.accumulate(w.counters());
        const counter_totals d = after - before;
        EXPECT_EQ(d.drop_count(drop_reason::no_route), 2u);
        EXPECT_EQ(d.event_count(event::forwarded), 1u);
        ASSERT_EQ(tx.frames.size(), 1u);
        EXPECT_EQ(tx.frames[0][5], 3) << "not to 10.0.0.3's MAC";
    }
}

// ---- TTL and the header checksum ----

// decrement_ttl patches the checksum (+0x0100 with end-around carry) instead of summing the
// header again; the result must be the very value a full computation gives. The incoming
// checksums sit around the carries: from 0xff00 on the addition wraps, and 0xfeff lands on
// 0xffff, which a computation never gives (it gives 0x0000). On both paths.
TEST_F(Worker, TtlDecrementLeavesTheChecksumAFullComputationGives) {
    config({"address add 192.0.2.1/24 port 0", "address add 10.0.0.1/24 port 1",
            "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1",
            "route add 0.0.0.0/0 via 10.0.0.2"});
    const rte_ether_addr in_mac = mac_of(0), out_mac = mac_of(1);
    const uint16_t checksums[] = {0x0000, 0x0001, 0x00ff, 0x0100, 0x1234,
                                  0x7fff, 0xfeff, 0xff00, 0xff01, 0xfffe};
    std::vector<frame_bytes> frames;
    for (const uint8_t ttl : {2, 64, 255}) {
        for (const uint16_t want : checksums) {
            frame_bytes f = frame(in_mac, {.dst = "198.18.7.7", .ttl = ttl});
            uint8_t *ip = f.data() + 14;
            // The identification field chooses the checksum.
            bool found = false;
            for (uint32_t id = 0; id <= 0xffff && !found; ++id) {
                put16(ip + 4, uint16_t(id));
                found = ipv4_checksum(ip) == want;
            }
            ASSERT_TRUE(found) << std::hex << want;
            put16(ip + 10, want);
            frames.push_back(f);
        }
    }
    for (const bool with_binding : {false, true}) {
        SCOPED_TRACE(with_binding ? "translating path" : "plain routing");
        if (with_binding) ok("nat add 172.16.0.1 to 172.16.1.1");
        const outcome o = pass(0, frames);
        ASSERT_EQ(o.sent[1].size(), frames.size());
        for (size_t i = 0; i < frames.size(); ++i) {
            const uint8_t *in = ip_of(frames[i]), *out = ip_of(o.sent[1][i]);
            SCOPED_TRACE(::testing::Message()
                         << "TTL " << int(in[8]) << ", checksum 0x" << std::hex << get16(in + 10));
            EXPECT_EQ(out[8], in[8] - 1);
            EXPECT_EQ(get16(out + 10), ipv4_checksum(out));
            for (size_t k = 0; k < 20; ++k) {
                if (k == 8 || k == 10 || k == 11) continue;  // the TTL and the checksum
                EXPECT_EQ(out[k], in[k]) << "header byte " << k;
            }
            expect_sent(o.sent[1][i], 2, out_mac);
        }
        EXPECT_EQ(o.d.event_count(event::forwarded), frames.size());
        EXPECT_EQ(total_drops(o.d), 0u);
    }
}

// A packet that arrives with TTL 1 (or 0) is not forwarded: counted as ttl_exceeded and handed
// over for an ICMP time exceeded (RFC 792 type 11 code 0) about the packet as it arrived,
// untranslated even when it was to a binding's address. TTL 2 still leaves, with TTL 1.
TEST_F(Worker, TtlExpiryIsAnsweredAboutThePacketAsItArrived) {
    config({"address add 192.0.2.1/24 port 0", "address add 10.0.0.1/24 port 1",
            "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1",
            "route add 0.0.0.0/0 via 10.0.0.2"});
    const rte_ether_addr in_mac = mac_of(0);
    const std::vector<frame_bytes> frames = {
        frame(in_mac, {.dst = "198.18.1.1", .ttl = 1}),
        frame(in_mac, {.dst = "198.18.1.2", .ttl = 0}),
        frame(in_mac, {.dst = "198.18.0.3", .ttl = 1, .udp_checksum = true}),  // a forward M
        frame(in_mac, {.dst = "198.18.0.104", .ttl = 1}),                      // a local M*
        frame(in_mac, {.dst = "198.18.1.3", .ttl = 2}),
    };
    for (const bool with_binding : {false, true}) {
        SCOPED_TRACE(with_binding ? "translating path" : "plain routing");
        if (with_binding) {
            ok("nat add 198.18.0.3 to 198.18.0.103");
            ok("nat add 198.18.0.4 to 198.18.0.104 local port 1");
        }
        const outcome o = pass(0, frames);
        EXPECT_EQ(o.d.drop_count(drop_reason::ttl_exceeded), 4u);
        EXPECT_EQ(total_drops(o.d), 4u);
        ASSERT_EQ(o.sent[1].size(), 1u);
        EXPECT_EQ(dst_of(o.sent[1][0]), "198.18.1.3");
        EXPECT_EQ(ttl_of(o.sent[1][0]), 1);
        ASSERT_EQ(o.punts.size(), 4u);
        for (size_t i = 0; i < 4; ++i) {
            SCOPED_TRACE(dst_of(frames[i]));
            EXPECT_EQ(o.punts[i].kind, punt_kind::icmp_error);
            EXPECT_EQ(o.punts[i].port, 0);
            EXPECT_EQ(o.punts[i].icmp_type, 11);
            EXPECT_EQ(o.punts[i].icmp_code, 0);
            EXPECT_EQ(o.punts[i].bytes, frames[i]) << "not the packet as it arrived";
        }
        if (with_binding) {
            EXPECT_EQ(hits("198.18.0.3"), 0u);
            EXPECT_EQ(hits("198.18.0.4"), 0u);
        }
    }
}

// ---- translation ----

// A forward binding M -> M* turns the destination into M* before the route lookup: the packet
// follows M*'s route (over the core), not the route M's own prefix has, with both checksums
// right. A packet already to M* is not translated again (Figure 3, case 4). Without a route to
// M*, a packet to M has no route, whatever routes M's prefix.
TEST_F(Worker, ForwardBindingTranslatesTheDestinationBeforeTheRouteLookup) {
    const char *M = "192.168.11.3", *MSTAR = "192.168.12.100";
    config({"port 1 role core", "address add 203.0.113.1/24 port 0",
            "address add 10.0.0.1/24 port 1", "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1",
            "neigh add 203.0.113.9 lladdr 02:00:00:00:00:09 port 0",
            "route add 192.168.12.0/24 via 10.0.0.2",     // M*'s prefix, over the core
            "route add 192.168.11.0/24 via 203.0.113.9",  // M's prefix, elsewhere
            "nat add 192.168.11.3 to 192.168.12.100"});
    const rte_ether_addr in_mac = mac_of(0), core_mac = mac_of(1);
    const std::vector<frame_bytes> frames = {
        frame(in_mac, {.src = "203.0.113.10", .dst = M, .udp_checksum = true}),
        frame(in_mac, {.src = "203.0.113.10", .dst = MSTAR, .udp_checksum = true}),
    };
    outcome o = pass(0, frames);
    EXPECT_TRUE(o.sent[0].empty()) << "routed by M's prefix";
    ASSERT_EQ(o.sent[1].size(), 2u);
    const frame_bytes &to_m = o.sent[1][0], &to_mstar = o.sent[1][1];
    EXPECT_EQ(dst_of(to_m), MSTAR);
    EXPECT_EQ(src_of(to_m), "203.0.113.10");
    EXPECT_EQ(ttl_of(to_m), 63);
    EXPECT_NE(udp_field(to_m), udp_field(frames[0])) << "the UDP checksum was not updated";
    expect_sent(to_m, 2, core_mac);
    EXPECT_EQ(dst_of(to_mstar), MSTAR);
    EXPECT_EQ(udp_field(to_mstar), udp_field(frames[1])) << "translated a second time";
    expect_sent(to_mstar, 2, core_mac);
    EXPECT_EQ(hits(M), 1u) << "only the packet to M is a hit";
    EXPECT_TRUE(o.punts.empty());

    ok("route del 192.168.12.0/24");
    o = pass(0, {frames[0]});
    EXPECT_EQ(o.d.drop_count(drop_reason::no_route), 1u);
    EXPECT_EQ(total_drops(o.d), 1u);
    for (const auto &port : o.sent) EXPECT_TRUE(port.empty());
    ASSERT_EQ(o.punts.size(), 1u);
    EXPECT_EQ(o.punts[0].kind, punt_kind::icmp_error);
    EXPECT_EQ(o.punts[0].icmp_type, 3);  // destination unreachable
    EXPECT_EQ(o.punts[0].icmp_code, 0);  // net unreachable
    EXPECT_EQ(o.punts[0].bytes, frames[0]) << "the error is about the packet to M";
    EXPECT_EQ(hits(M), 1u);
}

// Source translation depends on the port a packet leaves by (docs/DESIGN.md §2.1): a forward
// binding's M* becomes M only towards an access port; a local binding's M becomes M* only
// towards a core port; a keep-source binding leaves M as it is. Each translated packet keeps
// right IPv4 and UDP checksums; a binding counts only the packets it translated.
TEST_F(Worker, SourceTranslationFollowsTheEgressPortRole) {
    const char *M = "192.168.11.3", *MSTAR = "192.168.10.3";  // local, on port 2
    const char *M2 = "192.168.11.4", *M2STAR = "10.0.0.4";    // forward
    const char *E = "203.0.113.10", *X = "10.0.0.2";
    config({"address add 203.0.113.1/24 port 0", "port 1 role core",
            "address add 10.0.0.1/24 port 1", "address add 192.168.10.1/24 port 2",
            "neigh add 203.0.113.10 lladdr 02:00:00:00:00:0a port 0",
            "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1",
            "nat add 192.168.11.4 to 10.0.0.4",
            "nat add 192.168.11.3 to 192.168.10.3 local port 2"});
    const std::array<rte_ether_addr, kPorts> mac = {mac_of(0), mac_of(1), mac_of(2)};

    // From the core (port 1): M2* and M2 as sources, towards E (access).
    const std::vector<frame_bytes> from_core = {
        frame(mac[1], {.src = M2STAR, .dst = E, .udp_checksum = true}),
        frame(mac[1], {.src = M2, .dst = E, .udp_checksum = true}),
    };
    outcome o = pass(1, from_core);
    ASSERT_EQ(o.sent[0].size(), 2u);
    EXPECT_EQ(src_of(o.sent[0][0]), M2) << "forward binding, access egress: M2* -> M2";
    EXPECT_EQ(src_of(o.sent[0][1]), M2) << "a forward binding's home address stays";
    EXPECT_EQ(udp_field(o.sent[0][1]), udp_field(from_core[1]));
    for (const frame_bytes &f : o.sent[0]) {
        EXPECT_EQ(dst_of(f), E);
        expect_sent(f, 0x0a, mac[0]);
    }
    EXPECT_EQ(hits(M2), 1u);

    // From the foreign segment (port 2): towards X (core) and E (access).
    const std::vector<frame_bytes> from_segment = {
        frame(mac[2], {.src = M, .dst = X, .udp_checksum = true}),
        frame(mac[2], {.src = M, .dst = E, .udp_checksum = true}),
        frame(mac[2], {.src = M2STAR, .dst = X, .udp_checksum = true}),
        frame(mac[2], {.src = MSTAR, .dst = X, .udp_checksum = true}),
    };
    o = pass(2, from_segment);
    ASSERT_EQ(o.sent[1].size(), 3u);
    ASSERT_EQ(o.sent[0].size(), 1u);
    EXPECT_EQ(src_of(o.sent[1][0]), MSTAR) << "local binding, core egress: M -> M*";
    EXPECT_EQ(src_of(o.sent[0][0]), M) << "local binding, access egress: M stays";
    EXPECT_EQ(src_of(o.sent[1][1]), M2STAR) << "forward binding, core egress: M2* stays";
    EXPECT_EQ(src_of(o.sent[1][2]), MSTAR) << "a local binding's care-of address stays";
    EXPECT_EQ(udp_field(o.sent[0][0]), udp_field(from_segment[1]));
    EXPECT_EQ(udp_field(o.sent[1][1]), udp_field(from_segment[2]));
    EXPECT_EQ(udp_field(o.sent[1][2]), udp_field(from_segment[3]));
    for (const frame_bytes &f : o.sent[1]) {
        EXPECT_EQ(dst_of(f), X);
        expect_sent(f, 0x02, mac[1]);
    }
    expect_sent(o.sent[0][0], 0x0a, mac[0]);
    EXPECT_EQ(hits(M), 1u);
    EXPECT_EQ(hits(M2), 1u);

    // Keep-source (triangle mode): M leaves for the core as M. Another VM's local binding
    // keeps core-bound sources looked up, and translated: its M3 still leaves as M3*.
    ok("nat add 192.168.11.3 to 192.168.10.3 local port 2 keep-source");
    ok("nat add 192.168.11.5 to 192.168.10.5 local port 2");
    o = pass(2, {from_segment[0],
                 frame(mac[2], {.src = "192.168.11.5", .dst = X, .udp_checksum = true})});
    ASSERT_EQ(o.sent[1].size(), 2u);
    EXPECT_EQ(src_of(o.sent[1][0]), M);
    EXPECT_EQ(udp_field(o.sent[1][0]), udp_field(from_segment[0]));
    EXPECT_EQ(src_of(o.sent[1][1]), "192.168.10.5");
    for (const frame_bytes &f : o.sent[1]) expect_sent(f, 0x02, mac[1]);
}

// A local binding is M's host route (docs/DESIGN.md §2.1): packets to M* and to M leave on the
// binding's port towards M, with no route in the LPM for either, and whatever the LPM says
// once there is one. Until M's MAC is known they go to the slow path to resolve M there.
TEST_F(Worker, LocalBindingDeliversOnItsPortWithoutARoute) {
    const char *M = "192.168.11.3", *MSTAR = "192.168.10.3";
    config({"port 1 role core", "address add 10.0.0.1/24 port 1",
            "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1",
            "nat add 192.168.11.3 to 192.168.10.3 local port 2"});
    ASSERT_EQ(r_->routes().lookup(A(M)), nullptr);
    ASSERT_EQ(r_->routes().lookup(A(MSTAR)), nullptr);
    const rte_ether_addr core_mac = mac_of(1), seg_mac = mac_of(2);
    const std::vector<frame_bytes> frames = {
        frame(core_mac, {.src = "10.0.0.2", .dst = MSTAR, .udp_checksum = true}),
        frame(core_mac, {.src = "10.0.0.2", .dst = M, .udp_checksum = true}),
    };

    // M not resolved yet: handed over, translated, to be sent to M on port 2.
    outcome o = pass(1, frames);
    for (const auto &port : o.sent) EXPECT_TRUE(port.empty());
    ASSERT_EQ(o.punts.size(), 2u);
    for (const punted &p : o.punts) {
        EXPECT_EQ(p.kind, punt_kind::output);
        EXPECT_EQ(p.port, 2);
        EXPECT_EQ(p.next_hop, A(M).host());
        EXPECT_EQ(dst_of(p.bytes), M);
        EXPECT_EQ(ttl_of(p.bytes), 63);
        EXPECT_EQ(get16(ip_of(p.bytes) + 10), ipv4_checksum(ip_of(p.bytes)));
        EXPECT_EQ(udp_field(p.bytes), udp_checksum(ip_of(p.bytes)));
    }
    EXPECT_EQ(hits(M), 1u) << "the packet to M* is a hit, the one to M is not";

    // Resolved, and then with routes for both prefixes over the core: still delivered on 2.
    ok("neigh add 192.168.11.3 lladdr 02:00:00:00:00:33 port 2");
    for (const bool routed : {false, true}) {
        SCOPED_TRACE(routed ? "with routes over the core" : "no route");
        if (routed) {
            ok("route add 192.168.11.0/24 via 10.0.0.2");
            ok("route add 192.168.10.0/24 via 10.0.0.2");
        }
        o = pass(1, frames);
        EXPECT_TRUE(o.sent[1].empty());
        ASSERT_EQ(o.sent[2].size(), 2u);
        for (size_t i = 0; i < 2; ++i) {
            const frame_bytes &f = o.sent[2][i];
            EXPECT_EQ(dst_of(f), M);
            EXPECT_EQ(src_of(f), "10.0.0.2");
            EXPECT_EQ(ttl_of(f), 63);
            expect_sent(f, 0x33, seg_mac);
        }
        EXPECT_EQ(udp_field(o.sent[2][1]), udp_field(frames[1]));
        EXPECT_TRUE(o.punts.empty());
    }
    EXPECT_EQ(hits(M), 3u);
}

// ---- drops ----

// No route: counted as no_route and answered with ICMP net unreachable about the packet. A
// blackhole route and a subnet's broadcast address: counted, never answered. On both paths.
TEST_F(Worker, UnroutedAndBlackholedPacketsAreCountedByReason) {
    config({"address add 192.0.2.1/24 port 0", "address add 10.0.0.1/24 port 1",
            "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1",
            "route add 203.0.113.0/24 via 10.0.0.2", "route add 198.51.100.0/24 blackhole"});
    const rte_ether_addr in_mac = mac_of(0);
    const std::vector<frame_bytes> frames = {
        frame(in_mac, {.dst = "100.64.1.1"}),    // no route
        frame(in_mac, {.dst = "198.51.100.7"}),  // blackhole
        frame(in_mac, {.dst = "10.0.0.255"}),    // directed broadcast
        frame(in_mac, {.dst = "203.0.113.5"}),   // forwarded
    };
    for (const bool with_binding : {false, true}) {
        SCOPED_TRACE(with_binding ? "translating path" : "plain routing");
        if (with_binding) ok("nat add 172.16.0.1 to 172.16.1.1");
        const outcome o = pass(0, frames);
        EXPECT_EQ(o.d.drop_count(drop_reason::no_route), 1u);
        EXPECT_EQ(o.d.drop_count(drop_reason::blackhole), 1u);
        EXPECT_EQ(o.d.drop_count(drop_reason::ip_directed_broadcast), 1u);
        EXPECT_EQ(total_drops(o.d), 3u);
        EXPECT_EQ(o.d.event_count(event::forwarded), 1u);
        ASSERT_EQ(o.sent[1].size(), 1u);
        EXPECT_EQ(dst_of(o.sent[1][0]), "203.0.113.5");
        ASSERT_EQ(o.punts.size(), 1u) << "only no route is answered";
        EXPECT_EQ(o.punts[0].kind, punt_kind::icmp_error);
        EXPECT_EQ(o.punts[0].port, 0);
        EXPECT_EQ(o.punts[0].icmp_type, 3);
        EXPECT_EQ(o.punts[0].icmp_code, 0);
        EXPECT_EQ(o.punts[0].bytes, frames[0]);
    }
}

// A frame to a MAC that is not the receiving port's is dropped before any routing: another
// host's MAC and the router's other ports' MACs as eth_not_for_us, a multicast MAC as
// eth_multicast, IPv4 in a broadcast frame as ip_not_for_us_l2_broadcast (RFC 1812 5.3.4).
TEST_F(Worker, FramesNotForOurMacAreDropped) {
    config({"address add 192.0.2.1/24 port 0", "address add 10.0.0.1/24 port 1",
            "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1",
            "route add 0.0.0.0/0 via 10.0.0.2"});
    const rte_ether_addr in_mac = mac_of(0);
    const auto to = [&](const rte_ether_addr &mac) { return frame(mac, {.dst = "198.18.1.1"}); };
    const rte_ether_addr other_host = {{0x02, 0, 0, 0, 0, 0x99}};
    const rte_ether_addr multicast = {{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01}};
    const rte_ether_addr broadcast = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
    const std::vector<frame_bytes> frames = {to(other_host), to(mac_of(1)), to(mac_of(2)),
                                             to(multicast),  to(broadcast), to(in_mac)};
    for (const bool with_binding : {false, true}) {
        SCOPED_TRACE(with_binding ? "translating path" : "plain routing");
        if (with_binding) ok("nat add 172.16.0.1 to 172.16.1.1");
        const outcome o = pass(0, frames);
        EXPECT_EQ(o.d.event_count(event::rx_packets), frames.size());
        EXPECT_EQ(o.d.drop_count(drop_reason::eth_not_for_us), 3u);
        EXPECT_EQ(o.d.drop_count(drop_reason::eth_multicast), 1u);
        EXPECT_EQ(o.d.drop_count(drop_reason::ip_not_for_us_l2_broadcast), 1u);
        EXPECT_EQ(total_drops(o.d), 5u);
        EXPECT_EQ(o.d.event_count(event::forwarded), 1u);
        EXPECT_EQ(o.sent[1].size(), 1u);
        EXPECT_TRUE(o.punts.empty());
    }
}

// ---- the two paths ----

// The same burst through plain routing (empty binding table) and through the translating path
// (a binding for none of its packets): every port sends the same frames in the same order, the
// slow path gets the same packets with the same instructions, and every counter moves alike.
// The burst holds every fate the worker decides: forwarded by gateway and by connected route,
// hairpinned with a redirect, padded, blackholed, unrouted, a directed broadcast, for the
// router, TTL expired, too big with and without DF, an unresolved neighbor, a spoofed source,
// a wrong MAC and a bad checksum.
TEST_F(Worker, TranslatingPathAgreesWithPlainRouting) {
    config({"address add 192.0.2.1/24 port 0", "address add 10.0.0.1/24 port 1",
            "address add 172.16.0.1/24 port 2", "port 0 redirects on", "port 2 mtu 100",
            "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1",
            "neigh add 10.0.0.3 lladdr 02:00:00:00:00:03 port 1",
            "neigh add 192.0.2.20 lladdr 02:00:00:00:00:14 port 0",
            "neigh add 172.16.0.2 lladdr 02:00:00:00:00:ac port 2",
            "route add 198.18.0.0/15 via 10.0.0.2", "route add 203.0.113.0/24 via 10.0.0.3",
            "route add 198.51.100.0/24 blackhole", "route add 100.64.0.0/16 via 172.16.0.2"});
    const rte_ether_addr in_mac = mac_of(0);
    std::vector<frame_bytes> frames = {
        frame(in_mac, {.dst = "198.18.1.1", .udp_checksum = true}),
        frame(in_mac, {.dst = "203.0.113.9"}),
        frame(in_mac, {.dst = "198.51.100.7"}),  // blackhole
        frame(in_mac, {.dst = "10.0.0.5"}),      // unresolved: output
        frame(in_mac, {.dst = "10.0.0.3", .udp_checksum = true}),
        frame(in_mac, {.dst = "192.0.2.1"}),             // local
        frame(in_mac, {.dst = "192.0.2.20"}),            // hairpin: forwarded + redirect
        frame(in_mac, {.dst = "10.0.0.255"}),            // directed broadcast
        frame(in_mac, {.dst = "198.18.1.2", .ttl = 1}),  // TTL: ICMP
        frame(in_mac, {.dst = "8.8.8.8"}),               // no route: ICMP
        frame(in_mac, {.dst = "100.64.1.1", .df = true, .payload = 172}),  // frag needed: ICMP
        frame(in_mac, {.dst = "100.64.1.2", .payload = 172}),              // fragment: output
        frame(in_mac, {.dst = "100.64.1.3"}),
        frame(in_mac, {.src = "10.0.0.1", .dst = "198.18.1.3"}),  // our own source
        frame(mac_of(1), {.dst = "198.18.1.4"}),                  // not our MAC
        frame(in_mac, {.dst = "198.18.1.5", .ttl = 2}),
        frame(in_mac, {.dst = "198.18.1.6", .payload = 2}),  // 30 bytes padded to 60
    };
    frame_bytes bad = frame(in_mac, {.dst = "198.18.1.7"});
    bad[14 + 10] ^= 0x5a;
    frames.push_back(bad);

    const outcome plain = pass(0, frames);
    ok("nat add 172.31.0.1 to 172.31.1.1");
    const outcome translating = pass(0, frames);

    // What the burst must come to (so that agreeing is not agreeing on nothing).
    EXPECT_EQ(plain.sent[0].size(), 1u);  // the hairpin
    EXPECT_EQ(plain.sent[1].size(), 5u);
    EXPECT_EQ(plain.sent[2].size(), 1u);
    ASSERT_EQ(plain.sent[1].size(), 5u);
    EXPECT_EQ(plain.sent[1][4].size(), 14u + 30u) << "Ethernet padding is not forwarded";
    EXPECT_EQ(plain.d.event_count(event::forwarded), 7u);
    EXPECT_EQ(plain.punts.size(), 7u);  // output x2, local, redirect, ICMP x3
    EXPECT_EQ(total_drops(plain.d), 8u);
    for (const drop_reason why :
         {drop_reason::blackhole, drop_reason::ip_directed_broadcast, drop_reason::ttl_exceeded,
          drop_reason::no_route, drop_reason::frag_needed, drop_reason::ip_source_is_ours,
          drop_reason::eth_not_for_us, drop_reason::ip_bad_checksum})
        EXPECT_EQ(plain.d.drop_count(why), 1u) << name_of(why);

    for (uint16_t p = 0; p < kPorts; ++p)
        EXPECT_EQ(translating.sent[p], plain.sent[p]) << "port " << p << " sent otherwise";
    // The plain path hands packets over in burst order; the translating path decides every
    // fate first, so the order differs.
    std::vector<punted> a = plain.punts, b = translating.punts;
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    EXPECT_EQ(b, a) << "the slow path got other packets or instructions";
    for (size_t i = 0; i < kEventCount; ++i)
        EXPECT_EQ(translating.d.events[i], plain.d.events[i]) << kEventNames[i];
    for (size_t i = 0; i < kDropReasonCount; ++i)
        EXPECT_EQ(translating.d.drops[i], plain.d.drops[i]) << kDropReasonNames[i];
}

}  // namespace
}  // namespace ssw
