// The fast path (dataplane/worker.cc, docs/DESIGN.md §3) on a router with three DPDK null
// ports, configured through its executor as ssw-router is. The harness
// (tests/dataplane/worker_fixture.h) feeds worker 0 bursts and collects what each port sent,
// what went to the slow path, and the counters.
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

}  // namespace
}  // namespace ssw
