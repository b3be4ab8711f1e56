// One router instance: its ports, buffers, tables, workers and slow path.
//
// Threads: every EAL lcore runs a worker (worker 0 on the main lcore). The control thread
// (control/) runs the slow path and is the only writer of every table; workers only read
// them, lock-free, and hand rare packets to the slow path through the punt ring. The slow
// path transmits through worker 0's inject ring, since every tx queue belongs to a worker.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "dataplane/port.h"
#include "dataplane/rx_wait.h"
#include "dataplane/slow_path/neighbor_cache.h"
#include "dataplane/tables/nat_table.h"
#include "dataplane/tables/neighbor_table.h"
#include "dataplane/tables/proxy_arp.h"
#include "dataplane/tables/rcu.h"
#include "dataplane/tables/route_table.h"

namespace ssw {

class worker;
class slow_path;

// The router's own addresses, for the workers' spoofed-source check: a 64-bit Bloom filter
// answers "no" for almost every packet with one load and a shift; a hit is confirmed in the
// sorted list. Immutable once published; replaced whole (RCU) when addresses change.
struct own_address_set {
    uint64_t bloom = 0;
    std::vector<uint32_t> addrs;  // raw network-order words, sorted

    static unsigned bit(uint32_t raw) { return (raw * 0x9e3779b1u) >> 26; }
    bool may_contain(uint32_t raw) const { return (bloom >> bit(raw)) & 1; }
    bool contains(uint32_t raw) const;
};

struct router_config {
    uint16_t burst = 32;  // rx burst size (at most kMaxBurst)
    // How idle workers wait for packets (docs/DESIGN.md §3.8): the router's mode, and the
    // ports that run another one.
    rx_mode mode = rx_mode::adaptive;
    std::vector<std::pair<uint16_t, rx_mode>> port_modes;
    uint32_t poll_us = 200;       // adaptive: polling goes on this long after the last packet
    uint32_t max_sleep_ms = 100;  // longest sleep in epoll: the loop's housekeeping
    // Queues with no descriptor to wait on sleep with back-off from 10 us up to this; 0 =
    // they never sleep. 500 us: 2-3% of a core when idle, +0.3 ms RTT per idle router
    // (bench/RESULTS.md, case e).
    uint32_t idle_sleep_us = 500;
    uint32_t mbufs = 16383;
    uint32_t max_routes = 65536;
    uint32_t tbl8_groups = 4096;
    uint32_t icmp_rate = 1000;       // ICMP errors per second, per generating thread
    uint32_t nat_capacity = 65536;   // bindings
    uint32_t proxy_arp_rate = 1000;  // proxy-ARP replies per second, per port
    uint16_t rx_desc = 1024;
    uint16_t tx_desc = 1024;
    neighbor_params neighbor;
};

inline constexpr uint16_t kMaxBurst = 64;

// An address configured on a port: the host address and its prefix length.
struct interface_address {
    ip4_addr addr;
    uint8_t len = 0;
    ip4_prefix subnet() const { return ip4_prefix{addr, len}.network(); }
    bool operator==(const interface_address &) const = default;
};

// Whether `a` is one of the addresses of port `port` in `per_port` (of any port when port is
// UINT16_MAX). The router's live addresses and the control model's are both asked this.
inline bool holds_address(std::span<const std::vector<interface_address>> per_port, ip4_addr a,
                          uint16_t port = UINT16_MAX) {
    for (size_t p = 0; p < per_port.size(); ++p) {
        if (port != UINT16_MAX && p != port) continue;
        for (const auto &ia : per_port[p])
            if (ia.addr == a) return true;
    }
    return false;
}

class router {
public:
    router();
    ~router();
    router(const router &) = delete;
    router &operator=(const router &) = delete;

    // After rte_eal_init: creates buffers and tables and starts every port. False with a
    // message on error.
    bool init(const router_config &cfg, std::string &error);
    // Starts the workers on the worker lcores. Worker 0 runs when the caller calls
    // run_main_worker() on the main lcore.
    void launch_workers();
    int run_main_worker();
    // Asks workers to stop; wait_workers() returns when they have.
    // (Async-signal-safe: a store and a write.) Wakes sleeping workers.
    void request_stop();
    bool stopping() const { return stop_.load(std::memory_order_acquire); }
    // Readable once the router stops: every worker sleeps on it.
    int stop_fd() const { return stop_fd_; }
    // The mode rx queues of `port` run (config: the port's own, else the router's).
    rx_mode port_mode(uint16_t port) const;
    void wait_workers();
    // Stops and closes the ports, after the workers have stopped.
    void close_ports();

    const router_config &config() const { return cfg_; }
    uint16_t port_count() const { return uint16_t(ports_.size()); }
    bool valid_port(uint32_t p) const { return p < ports_.size(); }
    const port_info &port(uint16_t p) const { return ports_[p]; }
    port_runtime &runtime(uint16_t p) { return port_rt_[p]; }
    const port_runtime &runtime(uint16_t p) const { return port_rt_[p]; }

    // ---- addresses (control thread only) ----
    const std::vector<interface_address> &addresses(uint16_t port) const { return addrs_[port]; }
    std::vector<interface_address> &addresses(uint16_t port) { return addrs_[port]; }
    // Whether `a` is one of our addresses on `port` (on any port when port == UINT16_MAX).
    bool is_own_address(ip4_addr a, uint16_t port = UINT16_MAX) const;
    // Rebuilds the workers' own-address set from addresses(); call after changing them.
    void publish_own_addresses();
    const own_address_set *own_addresses() const { return own_.load(std::memory_order_acquire); }

    bool proxies(uint16_t port, ip4_addr a) const { return proxy_arp_.covers(port, a); }
    // The port a local binding delivers `a` on, if `a` is the home address of one.
    std::optional<uint16_t> local_binding_port(ip4_addr a) const {
        binding b;
        if (!nat_.find(a, b) || !b.is_local()) return std::nullopt;
        return b.port;
    }
    // The source address for packets we originate out of `port` towards `dst`: the port's
    // address on dst's subnet, else its first address; nullopt when the port has none.
    std::optional<ip4_addr> source_address(uint16_t port, ip4_addr dst) const;

    rcu_domain &rcu() { return rcu_; }
    route_table &routes() { return routes_; }
    const route_table &routes() const { return routes_; }
    neighbor_table &neighbors() { return neighbors_; }
    nat_table &nat() { return nat_; }
    const nat_table &nat() const { return nat_; }
    proxy_arp_table &proxy_arp() { return proxy_arp_; }
    const proxy_arp_table &proxy_arp() const { return proxy_arp_; }
    neighbor_cache &neigh_cache() { return *neigh_cache_; }
    slow_path &slow() { return *slow_; }
    rte_mempool *pool() const { return pool_; }
    rte_ring *punt_ring() const { return punt_ring_; }
    rte_ring *inject_ring() const { return inject_ring_; }
    // Worker 0 sleeps on it; whoever fills the inject ring calls notify() after enqueueing.
    ring_wakeup &inject_wakeup() { return inject_wakeup_; }
    unsigned worker_count() const { return unsigned(workers_.size()); }
    const worker &worker_at(unsigned i) const { return *workers_[i]; }
    worker &worker_at(unsigned i) { return *workers_[i]; }

private:
    router_config cfg_;
    std::atomic<bool> stop_{false};
    int stop_fd_ = -1;
    rcu_domain rcu_;
    route_table routes_;
    neighbor_table neighbors_;
    nat_table nat_;
    proxy_arp_table proxy_arp_;
    std::unique_ptr<neighbor_cache> neigh_cache_;
    std::unique_ptr<slow_path> slow_;
    std::vector<port_info> ports_;
    std::array<port_runtime, RTE_MAX_ETHPORTS> port_rt_;
    std::array<std::vector<interface_address>, RTE_MAX_ETHPORTS> addrs_;
    std::atomic<const own_address_set *> own_{nullptr};
    rte_mempool *pool_ = nullptr;
    rte_ring *punt_ring_ = nullptr;
    rte_ring *inject_ring_ = nullptr;
    ring_wakeup inject_wakeup_;
    std::vector<std::unique_ptr<worker>> workers_;
    std::vector<unsigned> worker_lcores_;
    bool launched_ = false;
};

}  // namespace ssw
