// The router's own per-packet cost, without a PMD's noise: a configured router on two null
// ports, and bursts of 32 frames built as the pcap PMD builds them (mbufs taken from the pool,
// a stored 60-byte frame copied in). Every case pays the same generator and the same null
// transmit; `io` does nothing else (testpmd's io forwarding, the floor), the others run the
// worker's process_burst + flush on the burst. Reported per case: cycles per packet
// (`cyc_per_pkt`), the router's own cycles (`work_cyc_per_pkt`: minus io's, measured first in
// the same invocation), and `vs_io` (the packet rate as a fraction of io's).
//
// The cases are the forwarding benchmark's (run_bench.py, case fwd): plain routing to a
// gateway (`route`), and forward bindings M -> M* hit at random among 1K and 1M (`nat/1K`,
// `nat/1M`). `nat/1M-miss`: the same 1M bindings, traffic to random unbound destinations
// (64.0.0.0/8, by the default route): what a router holding bindings pays for the traffic
// that is not to a moved VM, most of it in practice. Use it to see what a change to the fast
// path costs; run_bench.py measures the whole router.
//
//   nat_lookup_bench's conventions: Google Benchmark's flags, then `--` and EAL options.
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>

#include "bench/bench_eal.h"
#include "control/router/executor.h"
#include "dataplane/packet/checksum.h"
#include "dataplane/router.h"
#include "dataplane/worker.h"

namespace {

using namespace ssw;

constexpr uint16_t kBurst = 32;
constexpr uint32_t kFrames = 1 << 16;  // distinct stored frames, as run_bench.py's pcap files
constexpr uint32_t kFrameLen = 60;
constexpr uint32_t kHomeBase = 16u << 24;    // M: 16.0.0.1 ...
constexpr uint32_t kCareOfBase = 32u << 24;  // M*: 32.0.0.1 ...
constexpr uint32_t kRouteNet = 0xC6120100;   // 198.18.1.0/24, via the default route
constexpr uint32_t kUnboundNet = 64u << 24;  // 64.0.0.0/8, via the default route too
constexpr uint32_t kSource = 0xC000020A;     // 192.0.2.10

// bench/run_bench.py's ROUTER_CONF.
constexpr const char *kConfig[] = {
    "address add 192.0.2.1/24 port 0",
    "address add 10.0.0.1/24 port 1",
    "neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1",
    "route add 0.0.0.0/0 via 10.0.0.2",
    "port 1 role core",
};

struct lab {
    router r;
    std::unique_ptr<executor> ex;
    uint32_t bindings = 0;
};
lab *the_lab = nullptr;
double io_cycles = 0;  // io's cycles per packet, once measured

// A 60-byte IPv4/UDP frame to the router's port-0 MAC, checksums right.
void build_frame(uint8_t *f, const uint8_t *dmac, uint32_t dst, uint16_t sport) {
    std::memset(f, 0, kFrameLen);
    std::memcpy(f, dmac, 6);
    const uint8_t smac[6] = {2, 0, 0, 0, 0, 1};
    std::memcpy(f + 6, smac, 6);
    f[12] = 0x08;
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(f + 14);
    ip->version_ihl = 0x45;
    ip->total_length = rte_cpu_to_be_16(46);
    ip->fragment_offset = rte_cpu_to_be_16(0x4000);
    ip->time_to_live = 64;
    ip->next_proto_id = IPPROTO_UDP;
    ip->src_addr = rte_cpu_to_be_32(kSource);
    ip->dst_addr = rte_cpu_to_be_32(dst);
    ip->hdr_checksum = rte_ipv4_cksum(ip);
    auto *udp = reinterpret_cast<rte_udp_hdr *>(ip + 1);
    udp->src_port = rte_cpu_to_be_16(sport);
    udp->dst_port = rte_cpu_to_be_16(9);
    udp->dgram_len = rte_cpu_to_be_16(26);
    udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
}

// The stored frames of one case: destinations drawn as run_bench.py draws them (unbound:
// random in kUnboundNet).
std::vector<uint8_t> frames_for(uint32_t nat_n, bool unbound = false) {
    std::vector<uint8_t> v(size_t(kFrames) * 64);
    rte_ether_addr mac;
    rte_eth_macaddr_get(0, &mac);
    std::mt19937 rng(nat_n + 1);
    for (uint32_t i = 0; i < kFrames; ++i) {
        const uint32_t dst = unbound ? kUnboundNet + 1 + rng() % ((1u << 24) - 2)
                             : nat_n ? kHomeBase + 1 + rng() % nat_n
                                     : kRouteNet + 1 + rng() % 254;
        build_frame(&v[size_t(i) * 64], mac.addr_bytes, dst, uint16_t(1024 + (i & 0x3fff)));
    }
    return v;
}

// Bindings 16.0.0.1.. -> 32.0.0.1.., up to n in all (the table only grows between cases).
void load_bindings(uint32_t n) {
    for (uint32_t i = the_lab->bindings; i < n; ++i) {
        const std::string line =
            fmt::format("nat add {} to {}", ip4_addr(kHomeBase + 1 + i).to_string(),
                        ip4_addr(kCareOfBase + 1 + i).to_string());
        if (!the_lab->ex->execute_line(line).ok) {
            std::fprintf(stderr, "worker_bench: '%s' refused\n", line.c_str());
            std::abort();
        }
    }
    the_lab->bindings = std::max(the_lab->bindings, n);
}

// What the pcap PMD does for one burst: fresh mbufs, stored frames copied in.
inline void generate(rte_mempool *pool, rte_mbuf **pkts, const std::vector<uint8_t> &frames,
                     uint32_t &next) {
    while (rte_pktmbuf_alloc_bulk(pool, pkts, kBurst) != 0) {
    }
    for (uint16_t i = 0; i < kBurst; ++i) {
        rte_mbuf *m = pkts[i];
        std::memcpy(rte_pktmbuf_mtod(m, uint8_t *), &frames[size_t(next) * 64], kFrameLen);
        m->data_len = m->pkt_len = kFrameLen;
        m->port = 0;
        next = (next + 1) & (kFrames - 1);
    }
}

void report(benchmark::State &state, uint64_t cycles, bool is_io) {
    const int64_t pkts = int64_t(state.iterations()) * kBurst;
    state.SetItemsProcessed(pkts);
    const double cyc = double(cycles) / double(pkts);
    state.counters["cyc_per_pkt"] = cyc;
    if (is_io) {
        io_cycles = cyc;
    } else if (io_cycles > 0) {
        state.counters["work_cyc_per_pkt"] = cyc - io_cycles;
        state.counters["vs_io"] = io_cycles / cyc;
    }
}

void BM_io(benchmark::State &state) {
    const auto frames = frames_for(0);
    rte_mempool *pool = the_lab->r.pool();
    rte_mbuf *pkts[kBurst];
    uint32_t next = 0;
    const uint64_t t0 = rte_rdtsc();
    for (auto _ : state) {
        generate(pool, pkts, frames, next);
        const uint16_t sent = rte_eth_tx_burst(1, 0, pkts, kBurst);
        if (sent < kBurst) rte_pktmbuf_free_bulk(pkts + sent, kBurst - sent);
    }
    report(state, rte_rdtsc() - t0, true);
}

void BM_router(benchmark::State &state, uint32_t nat_n, bool unbound) {
    load_bindings(nat_n);
    if (nat_n == 0 && the_lab->bindings) {
        state.SkipWithError("route must run before the nat cases (the table only grows)");
        return;
    }
    const auto frames = frames_for(nat_n, unbound);
    rte_mempool *pool = the_lab->r.pool();
    worker &w = the_lab->r.worker_at(0);
    const uint64_t fwd0 = w.counters().events[size_t(event::forwarded)].get();
    rte_mbuf *pkts[kBurst];
    uint32_t next = 0;
    uint64_t runs = 0;
    const uint64_t t0 = rte_rdtsc();
    for (auto _ : state) {
        generate(pool, pkts, frames, next);
        w.process_burst(0, pkts, kBurst);
        w.flush();
        ++runs;
    }
    report(state, rte_rdtsc() - t0, false);
    if (w.counters().events[size_t(event::forwarded)].get() - fwd0 != runs * kBurst)
        state.SkipWithError("not every packet was forwarded: the set-up is wrong");
}

}  // namespace

int main(int argc, char **argv) {
    ssw::bench::eal_session eal(argc, argv, "worker-bench",
                                {"--vdev", "net_null0", "--vdev", "net_null1", "--no-telemetry"});
    if (!eal.ok()) return 1;
    const auto owner = std::make_unique<lab>();  // destroyed before the EAL shuts down
    the_lab = owner.get();
    router_config cfg;
    cfg.mbufs = 16383;
    cfg.nat_capacity = 1u << 20;
    std::string error;
    if (!the_lab->r.init(cfg, error)) {
        std::fprintf(stderr, "worker_bench: router init: %s\n", error.c_str());
        return 1;
    }
    the_lab->ex = std::make_unique<executor>(the_lab->r);
    for (const char *line : kConfig) {
        if (!the_lab->ex->execute_line(line).ok) {
            std::fprintf(stderr, "worker_bench: '%s' refused\n", line);
            return 1;
        }
    }
    // io first: the others are reported against it. The NAT cases grow the table in order.
    benchmark::RegisterBenchmark("io", BM_io);
    benchmark::RegisterBenchmark("route", BM_router, 0u, false);
    benchmark::RegisterBenchmark("nat/1K", BM_router, 1u << 10, false);
    benchmark::RegisterBenchmark("nat/1M", BM_router, 1u << 20, false);
    benchmark::RegisterBenchmark("nat/1M-miss", BM_router, 1u << 20, true);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
