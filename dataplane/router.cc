#include "dataplane/router.h"

#include <algorithm>
#include <cstring>

#include <sys/eventfd.h>
#include <unistd.h>

#include <fmt/format.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "dataplane/slow_path/punt.h"
#include "dataplane/slow_path/slow_path.h"
#include "dataplane/tables/memory.h"
#include "dataplane/worker.h"

namespace ssw {

namespace {
int worker_entry(void *arg) { return static_cast<worker *>(arg)->run(); }
// DPDK object names are process-wide: each router instance gets its own.
std::atomic<unsigned> instances{0};
}  // namespace

router::router() = default;

router::~router() {
    // The deferred frees refer to the tables, which are destroyed before rcu_: run them
    // now, while the tables exist (the workers have stopped).
    if (rcu_.qsbr()) rcu_.synchronize();
    workers_.clear();
    delete own_.exchange(nullptr);
    neigh_cache_.reset();  // frees held mbufs
    slow_.reset();
    if (punt_ring_) {
        void *m;
        while (rte_ring_dequeue(punt_ring_, &m) == 0) rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
        rte_ring_free(punt_ring_);
    }
    if (inject_ring_) {
        void *m;
        while (rte_ring_dequeue(inject_ring_, &m) == 0)
            rte_pktmbuf_free(static_cast<rte_mbuf *>(m));
        rte_ring_free(inject_ring_);
    }
    if (stop_fd_ >= 0) close(stop_fd_);
}

void router::request_stop() {
    stop_.store(true, std::memory_order_release);
    const uint64_t one = 1;
    const ssize_t rc = write(stop_fd_, &one, sizeof one);
    (void)rc;  // it stays readable: every sleeping worker wakes
}

rx_mode router::port_mode(uint16_t port) const {
    for (const auto &[p, m] : cfg_.port_modes)
        if (p == port) return m;
    return cfg_.mode;
}

bool router::init(const router_config &cfg, std::string &error) {
    cfg_ = cfg;
    if (cfg_.burst == 0 || cfg_.burst > kMaxBurst) {
        error = fmt::format("burst must be 1..{}", kMaxBurst);
        return false;
    }
    use_dpdk_table_memory(rte_eal_has_hugepages() != 0);
    const unsigned id = instances++;
    auto name = [id](const char *base) {
        return id ? fmt::format("{}{}", base, id) : std::string(base);
    };
    if (!register_punt_field()) {
        error = fmt::format("cannot register the mbuf field: {}", rte_strerror(rte_errno));
        return false;
    }

    // Worker 0 on the main lcore, then one per worker lcore.
    worker_lcores_.push_back(rte_get_main_lcore());
    unsigned lc;
    RTE_LCORE_FOREACH_WORKER(lc) worker_lcores_.push_back(lc);
    const unsigned n_workers = unsigned(worker_lcores_.size());

    if (!rcu_.init(n_workers)) {
        error = "cannot allocate the RCU state";
        return false;
    }
    // Per-lcore mempool caches, plus what every rx and tx ring can hold.
    pool_ = rte_pktmbuf_pool_create(name("ssw_mbufs").c_str(), cfg_.mbufs, 256, 0,
                                    RTE_MBUF_DEFAULT_BUF_SIZE, int(rte_socket_id()));
    if (!pool_) {
        error = fmt::format(
            "cannot create a pool of {} mbufs: {} (give more memory with -m, "
            "or fewer mbufs with --mbufs)",
            cfg_.mbufs, rte_strerror(rte_errno));
        return false;
    }
    punt_ring_ =
        rte_ring_create(name("ssw_punt").c_str(), 4096, int(rte_socket_id()), RING_F_SC_DEQ);
    inject_ring_ = rte_ring_create(name("ssw_inject").c_str(), 4096, int(rte_socket_id()),
                                   RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!punt_ring_ || !inject_ring_) {
        error = fmt::format("cannot create rings: {}", rte_strerror(rte_errno));
        return false;
    }
    stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (stop_fd_ < 0 || !inject_wakeup_.init()) {
        error = fmt::format("cannot create eventfds: {}", std::strerror(errno));
        return false;
    }
    if (!routes_.init(name("ssw_routes"), cfg_.max_routes, cfg_.tbl8_groups, rcu_, error))
        return false;
    if (!neighbors_.init(cfg_.neighbor.max_entries, rcu_)) {
        error = "cannot allocate the neighbor table";
        return false;
    }
    if (!nat_.init(cfg_.nat_capacity, n_workers, rcu_)) {
        error = fmt::format("cannot allocate a binding table for {} bindings", cfg_.nat_capacity);
        return false;
    }
    publish_own_addresses();  // empty: workers always find a set
    slow_ = std::make_unique<slow_path>(*this);
    if (!slow_->init(error)) return false;
    neigh_cache_ = std::make_unique<neighbor_cache>(neighbors_, cfg_.neighbor, *slow_);

    for (unsigned i = 0; i < n_workers; ++i)
        workers_.push_back(std::make_unique<worker>(*this, i, n_workers, worker_lcores_[i]));

    port_setup setup;
    setup.workers = uint16_t(n_workers);
    setup.rx_desc = cfg_.rx_desc;
    setup.tx_desc = cfg_.tx_desc;
    setup.pool = pool_;
    uint16_t pid;
    RTE_ETH_FOREACH_DEV(pid) {
        if (pid != ports_.size()) {
            error =
                fmt::format("port ids are not contiguous (port {} after {})", pid, ports_.size());
            return false;
        }
        port_info info;
        if (!start_port(pid, setup, info, port_rt_[pid], error)) return false;
        // Spread the port's rx queues over the workers.
        for (uint16_t q = 0; q < info.rx_queues; ++q)
            workers_[q % n_workers]->add_rx_queue(pid, q, port_mode(pid));
        ports_.push_back(info);
    }
    for (const auto &[p, m] : cfg_.port_modes)
        if (p >= ports_.size()) {
            error = fmt::format("--port-rx-mode: port {} does not exist (the router has {})", p,
                                ports_.size());
            return false;
        }
    for (auto &w : workers_)
        if (!w->prepare_sleep(error)) return false;
    return true;
}

void router::launch_workers() {
    for (size_t i = 1; i < workers_.size(); ++i)
        rte_eal_remote_launch(worker_entry, workers_[i].get(), worker_lcores_[i]);
    launched_ = true;
}

int router::run_main_worker() { return workers_[0]->run(); }

void router::wait_workers() {
    if (launched_) rte_eal_mp_wait_lcore();
    launched_ = false;
}

void router::close_ports() {
    for (const auto &p : ports_) {
        rte_eth_dev_stop(p.id);
        rte_eth_dev_close(p.id);
        port_rt_[p.id].active = false;
    }
}

bool own_address_set::contains(uint32_t raw) const {
    return std::binary_search(addrs.begin(), addrs.end(), raw);
}

void router::publish_own_addresses() {
    auto *s = new own_address_set;
    for (const auto &port : addrs_)
        for (const auto &ia : port) {
            const uint32_t raw = ia.addr.be().raw();
            s->addrs.push_back(raw);
            s->bloom |= uint64_t(1) << own_address_set::bit(raw);
        }
    std::sort(s->addrs.begin(), s->addrs.end());
    const own_address_set *old = own_.exchange(s, std::memory_order_acq_rel);
    if (old) rcu_.defer([old] { delete old; });
}

bool router::is_own_address(ip4_addr a, uint16_t port) const {
    return holds_address(std::span(addrs_.data(), ports_.size()), a, port);
}

std::optional<ip4_addr> router::source_address(uint16_t port, ip4_addr dst) const {
    if (port >= ports_.size() || addrs_[port].empty()) return std::nullopt;
    for (const auto &ia : addrs_[port])
        if (ia.subnet().contains(dst)) return ia.addr;
    return addrs_[port].front().addr;
}

}  // namespace ssw
