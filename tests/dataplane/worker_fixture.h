// A router on three DPDK null ports, configured through its executor (router_fixture): the
// fixture of the executor's tests (tests/control/router/) and, with a harness that drives
// worker 0 (worker_fixture), of the fast path's (tests/dataplane/worker_test.cc). Every test
// gets a fresh router, its tables empty; the null ports exist for a whole test suite.
#pragma once

#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "control/router/executor.h"
#include "dataplane/slow_path/punt.h"
#include "dataplane/worker.h"
#include "tests/test_support.h"

namespace ssw::test {

inline constexpr int kPorts = 3;
inline std::string null_port_name(int i) { return "net_null_test" + std::to_string(i); }

class router_fixture : public ::testing::Test {
protected:
    // router::init takes every ethdev port: the null ports exist for the whole suite, and
    // each test's router configures and starts them anew.
    static void SetUpTestSuite() {
        for (int i = 0; i < kPorts; ++i) {
            const int rc = rte_eal_hotplug_add("vdev", null_port_name(i).c_str(), "");
            ASSERT_EQ(rc, 0) << "cannot create " << null_port_name(i);
        }
    }
    static void TearDownTestSuite() {
        for (int i = 0; i < kPorts; ++i) rte_eal_hotplug_remove("vdev", null_port_name(i).c_str());
    }

    void SetUp() override { start_router(); }
    void TearDown() override { stop_router(); }

    void start_router() {
        router_config cfg;
        cfg.max_routes = 1024;
        cfg.tbl8_groups = 64;
        cfg.nat_capacity = 64;
        cfg.mbufs = 2047;
        cfg.rx_desc = 128;
        cfg.tx_desc = 128;
        r_ = std::make_unique<router>();
        std::string err;
        ASSERT_TRUE(r_->init(cfg, err)) << err;
        ASSERT_EQ(r_->port_count(), kPorts) << "only the test's null ports may exist";
        ex_ = std::make_unique<executor>(*r_);
    }
    void stop_router() {
        ex_.reset();
        if (!r_) return;
        // Stopped, not closed: closing would release the null ports. The router does not
        // free its mbuf pool; this test frees it so that many routers fit in the test's heap.
        for (uint16_t p = 0; p < r_->port_count(); ++p) rte_eth_dev_stop(p);
        rte_mempool *pool = r_->pool();
        r_.reset();
        rte_mempool_free(pool);
    }
    void restart_router() {
        stop_router();
        start_router();
    }

    reply run(const std::string &line) { return ex_->execute_line(line); }
    // The command is accepted; returns its reply.
    reply ok(const std::string &line) {
        reply r = run(line);
        EXPECT_TRUE(r.ok) << "'" << line << "' refused: " << r.error;
        return r;
    }
    // The command is refused with a message containing `mention`; nothing changes.
    void refused(const std::string &line, const std::string &mention) {
        const auto before = ex_->snapshot_commands();
        const size_t nat_before = r_->nat().size(), proxy_before = r_->proxy_arp().size();
        const size_t routes_before = r_->routes().size();
        reply r = run(line);
        EXPECT_FALSE(r.ok) << "'" << line << "' accepted";
        EXPECT_NE(r.error.find(mention), std::string::npos)
            << "'" << line << "' gave '" << r.error << "', which does not mention '" << mention
            << "'";
        EXPECT_EQ(ex_->snapshot_commands(), before) << "'" << line << "' changed the model";
        EXPECT_EQ(r_->nat().size(), nat_before);
        EXPECT_EQ(r_->proxy_arp().size(), proxy_before);
        EXPECT_EQ(r_->routes().size(), routes_before);
    }
    std::vector<command> parse_all(const std::vector<std::string> &lines) {
        std::vector<command> cmds;
        for (const auto &l : lines) {
            auto p = parse_command(l);
            EXPECT_TRUE(p.cmd) << l << ": " << p.error;
            if (p.cmd) cmds.push_back(*p.cmd);
        }
        return cmds;
    }
    std::optional<binding> nat(const char *home) const {
        binding b;
        if (!r_->nat().find(A(home), b)) return std::nullopt;
        return b;
    }
    uint64_t model_epoch(const char *home) const {
        auto it = ex_->model().bindings.find(A(home).host());
        return it == ex_->model().bindings.end() ? 0 : it->second.epoch;
    }
    static std::vector<std::string> sorted(std::vector<std::string> v) {
        std::sort(v.begin(), v.end());
        return v;
    }

    std::unique_ptr<router> r_;
    std::unique_ptr<executor> ex_;
};

// ---- the worker's harness: bursts in, what became of them out ----
//
// Bursts are handed to worker::process_burst as a port would receive them; what each port
// transmits is copied by a tx callback, what the worker hands to the slow path is taken off
// the punt ring, and the counters are compared before and after. Checksums are checked
// against RFC 1071 sums written here, not the dataplane's own arithmetic.

using frame_bytes = std::vector<uint8_t>;

// ---- reference arithmetic ----

inline uint16_t get16(const uint8_t *p) { return uint16_t(p[0] << 8 | p[1]); }
inline void put16(uint8_t *p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
// RFC 1071 by the book: big-endian 16-bit words summed, carries folded, complemented.
inline uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum = 0) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += get16(p + i);
    if (n & 1) sum += uint32_t(p[n - 1]) << 8;
    return sum;
}
inline uint16_t complement_of(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}
// The header checksum a sender computes for the IPv4 header at `ip`.
inline uint16_t ipv4_checksum(const uint8_t *ip) {
    std::array<uint8_t, 60> h{};
    const size_t hlen = size_t(ip[0] & 0x0f) * 4;
    std::memcpy(h.data(), ip, hlen);
    h[10] = h[11] = 0;
    return complement_of(sum16(h.data(), hlen));
}
// The UDP checksum over the pseudo-header (RFC 768); a computed 0 is sent as 0xffff.
inline uint16_t udp_checksum(const uint8_t *ip) {
    const uint8_t *udp = ip + size_t(ip[0] & 0x0f) * 4;
    const uint16_t len = get16(udp + 4);
    frame_bytes u(udp, udp + len);
    u[6] = u[7] = 0;
    const uint16_t c = complement_of(sum16(u.data(), len, sum16(ip + 12, 8) + IPPROTO_UDP + len));
    return c == 0 ? 0xffff : c;
}

// ---- frames ----

inline const uint8_t *ip_of(const frame_bytes &f) { return f.data() + 14; }
inline std::string addr_at(const uint8_t *p) {
    uint32_t raw;
    std::memcpy(&raw, p, 4);
    return ip4_addr::from_be(be32_t::from_raw(raw)).to_string();
}
inline std::string src_of(const frame_bytes &f) { return addr_at(ip_of(f) + 12); }
inline std::string dst_of(const frame_bytes &f) { return addr_at(ip_of(f) + 16); }
inline uint8_t ttl_of(const frame_bytes &f) { return ip_of(f)[8]; }
inline uint16_t udp_field(const frame_bytes &f) { return get16(ip_of(f) + 20 + 6); }

// A UDP datagram in an Ethernet frame, as a host would send it.
struct udp_packet {
    const char *src = "192.0.2.10";
    const char *dst = "198.18.1.1";
    uint16_t sport = 1024;
    uint8_t ttl = 64;
    bool df = false;
    bool udp_checksum = false;  // computed; else 0, "none" (RFC 768)
    uint16_t payload = 18;      // bytes after the UDP header; 18 makes a 60-byte frame
};

inline frame_bytes frame(const rte_ether_addr &to, const udp_packet &p) {
    const uint16_t ip_len = uint16_t(20 + 8 + p.payload);
    frame_bytes f(std::max<size_t>(60, 14 + ip_len));  // short frames are padded
    std::memcpy(f.data(), to.addr_bytes, 6);
    f[6] = 0x02;
    f[12] = 0x08;
    uint8_t *ip = f.data() + 14;
    ip[0] = 0x45;
    put16(ip + 2, ip_len);
    put16(ip + 6, p.df ? 0x4000 : 0);
    ip[8] = p.ttl;
    ip[9] = IPPROTO_UDP;
    const uint32_t src = A(p.src).be().raw(), dst = A(p.dst).be().raw();
    std::memcpy(ip + 12, &src, 4);
    std::memcpy(ip + 16, &dst, 4);
    uint8_t *udp = ip + 20;
    put16(udp, p.sport);
    put16(udp + 2, 9);
    put16(udp + 4, uint16_t(8 + p.payload));
    for (uint16_t i = 0; i < p.payload; ++i) udp[8 + i] = uint8_t(0xa0 + i);
    if (p.udp_checksum) put16(udp + 6, udp_checksum(ip));
    put16(ip + 10, ipv4_checksum(ip));
    return f;
}

// A 60-byte UDP frame from 192.0.2.10 to `dst`, UDP source port `sport`, to `mac`.
inline frame_bytes udp_frame(const rte_ether_addr &mac, const char *dst, uint16_t sport,
                             uint8_t ttl = 64) {
    return frame(mac, {.dst = dst, .sport = sport, .ttl = ttl});
}

// Fresh mbufs holding the frames, as port `port` would receive them.
template <typename Frames>
std::vector<rte_mbuf *> received(rte_mempool *pool, const Frames &frames, uint16_t port = 0) {
    std::vector<rte_mbuf *> pkts(frames.size());
    EXPECT_EQ(rte_pktmbuf_alloc_bulk(pool, pkts.data(), unsigned(pkts.size())), 0);
    for (size_t i = 0; i < pkts.size(); ++i) {
        std::memcpy(rte_pktmbuf_append(pkts[i], uint16_t(frames[i].size())), frames[i].data(),
                    frames[i].size());
        pkts[i]->port = port;
    }
    return pkts;
}

// What a port transmits, copied by a tx callback before the null device frees it.
class tx_capture {
public:
    explicit tx_capture(uint16_t port) : port_(port) {
        cb_ = rte_eth_add_tx_callback(port, 0, record, this);
    }
    // A removed callback is the caller's to free (rte_ethdev.h); no other thread transmits.
    ~tx_capture() {
        if (cb_ && rte_eth_remove_tx_callback(port_, 0, cb_) == 0)
            rte_free(const_cast<rte_eth_rxtx_callback *>(cb_));
    }
    bool ok() const { return cb_ != nullptr; }
    std::vector<frame_bytes> frames;

private:
    static uint16_t record(uint16_t, uint16_t, rte_mbuf **pkts, uint16_t n, void *self) {
        for (uint16_t i = 0; i < n; ++i) {
            const auto *p = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
            static_cast<tx_capture *>(self)->frames.emplace_back(p, p + pkts[i]->data_len);
        }
        return n;
    }
    uint16_t port_;
    const rte_eth_rxtx_callback *cb_;
};

// A packet handed to the slow path: what punt_meta says of it (only the fields its kind
// sets), and its bytes.
struct punted {
    punt_kind kind = punt_kind::arp;
    uint16_t port = 0;
    uint8_t icmp_type = 0, icmp_code = 0;
    uint16_t mtu = 0;       // fragmentation needed
    uint32_t next_hop = 0;  // output, redirect
    frame_bytes bytes;
    auto key() const { return std::tie(bytes, kind, port, icmp_type, icmp_code, mtu, next_hop); }
    bool operator==(const punted &o) const { return key() == o.key(); }
    bool operator<(const punted &o) const { return key() < o.key(); }
};

// What one burst came to.
struct outcome {
    std::array<std::vector<frame_bytes>, kPorts> sent;  // per port, in order
    std::vector<punted> punts;                          // in the order they were handed over
    counter_totals d;                                   // what the counters gained
};

// A router_fixture that hands bursts to worker 0 and collects what became of them.
class worker_fixture : public router_fixture {
protected:
    rte_ether_addr mac_of(uint16_t port) {
        rte_ether_addr mac{};
        EXPECT_EQ(rte_eth_macaddr_get(port, &mac), 0);
        return mac;
    }
    std::vector<punted> take_punts() {
        std::vector<punted> out;
        rte_mbuf *pkts[64];
        unsigned n;
        while ((n = rte_ring_dequeue_burst(r_->punt_ring(), reinterpret_cast<void **>(pkts), 64,
                                           nullptr)) > 0) {
            for (unsigned i = 0; i < n; ++i) {
                const punt_meta *pm = punt_of(pkts[i]);
                punted p;
                p.kind = pm->kind;
                p.port = pm->port;
                if (pm->kind == punt_kind::icmp_error) {
                    p.icmp_type = pm->icmp_type;
                    p.icmp_code = pm->icmp_code;
                    if (pm->icmp_type == 3 && pm->icmp_code == 4) p.mtu = pm->mtu;
                    if (pm->icmp_type == 5) p.next_hop = pm->next_hop;
                }
                if (pm->kind == punt_kind::output) p.next_hop = pm->next_hop;
                const auto *b = rte_pktmbuf_mtod(pkts[i], const uint8_t *);
                p.bytes.assign(b, b + pkts[i]->data_len);
                out.push_back(std::move(p));
                rte_pktmbuf_free(pkts[i]);
            }
        }
        return out;
    }
    // One burst from `in_port` through worker 0, then a flush.
    outcome pass(uint16_t in_port, const std::vector<frame_bytes> &frames) {
        worker &w = r_->worker_at(0);
        take_punts();
        counter_totals before;
        before.accumulate(w.counters());
        std::vector<std::unique_ptr<tx_capture>> tx;
        for (uint16_t p = 0; p < kPorts; ++p) {
            tx.push_back(std::make_unique<tx_capture>(p));
            EXPECT_TRUE(tx.back()->ok());
        }
        auto pkts = received(r_->pool(), frames, in_port);
        w.process_burst(in_port, pkts.data(), uint16_t(pkts.size()));
        w.flush();
        outcome o;
        counter_totals after;
        after.accumulate(w.counters());
        o.d = after - before;
        for (uint16_t p = 0; p < kPorts; ++p) o.sent[p] = tx[p]->frames;
        o.punts = take_punts();
        return o;
    }
    uint64_t hits(const char *home) const {
        uint64_t packets = 0, last = 0;
        r_->nat().hits(A(home), packets, last);
        return packets;
    }
    void config(std::initializer_list<const char *> lines) {
        for (const char *l : lines) ok(l);
    }
};

inline uint64_t total_drops(const counter_totals &d) {
    uint64_t n = 0;
    for (uint64_t x : d.drops) n += x;
    return n;
}

// A frame as the worker sends it: to `dmac` (last byte; the rest 02:00:00:00:00), from port
// `out`'s MAC, with the IPv4 header checksum and (when the sender computed one) the UDP
// checksum exactly as a sender would compute them.
inline void expect_sent(const frame_bytes &f, uint8_t dmac, const rte_ether_addr &out) {
    ASSERT_GE(f.size(), 14u + 28u);
    const uint8_t want_dmac[6] = {2, 0, 0, 0, 0, dmac};
    EXPECT_EQ(std::memcmp(f.data(), want_dmac, 6), 0) << "not to the next hop's MAC";
    EXPECT_EQ(std::memcmp(f.data() + 6, out.addr_bytes, 6), 0) << "not from the port's MAC";
    EXPECT_EQ(get16(ip_of(f) + 10), ipv4_checksum(ip_of(f))) << "IPv4 header checksum";
    if (udp_field(f)) {
        EXPECT_EQ(udp_field(f), udp_checksum(ip_of(f))) << "UDP checksum";
    }
}

}  // namespace ssw::test
