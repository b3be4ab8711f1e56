#include "dataplane/rx_wait.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <linux/if_packet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <rte_ethdev.h>

namespace ssw {

std::optional<rx_mode> parse_rx_mode(std::string_view s) {
    if (s == "poll") return rx_mode::poll;
    if (s == "adaptive") return rx_mode::adaptive;
    if (s == "interrupt") return rx_mode::interrupt;
    return std::nullopt;
}

std::string_view to_string(rx_mode m) {
    switch (m) {
        case rx_mode::poll: return "poll";
        case rx_mode::adaptive: return "adaptive";
        case rx_mode::interrupt: return "interrupt";
    }
    return "?";
}

int rx_queue_wait_fd(uint16_t port, uint16_t queue, std::string &why) {
    rte_eth_dev_info dev{};
    if (rte_eth_dev_info_get(port, &dev) != 0) {
        why = "the device gives no information";
        return -1;
    }
    const std::string_view driver = dev.driver_name ? dev.driver_name : "";
    if (driver != "net_af_packet") {
        why = fmt::format("{} has no descriptor to wait on", driver);
        return -1;
    }
    // The queue's private data: set by rte_eth_dev_start, read the way rte_eth_rx_burst does.
    const auto &ops = rte_eth_fp_ops[port];
    if (queue >= RTE_MAX_QUEUES_PER_PORT || !ops.rxq.data || !ops.rxq.data[queue]) {
        why = "the queue is not started";
        return -1;
    }
    int fd;
    std::memcpy(&fd, ops.rxq.data[queue], sizeof fd);
    // Use it only if it is what it must be: a socket of ours, AF_PACKET, bound to the port.
    int domain = 0;
    socklen_t len = sizeof domain;
    if (fd < 0 || fcntl(fd, F_GETFD) == -1 ||
        getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0 || domain != AF_PACKET) {
        why = "the PMD's queue holds no AF_PACKET socket where expected (another DPDK?)";
        return -1;
    }
    sockaddr_ll sll{};
    len = sizeof sll;
    if (getsockname(fd, reinterpret_cast<sockaddr *>(&sll), &len) != 0 || dev.if_index == 0 ||
        unsigned(sll.sll_ifindex) != dev.if_index) {
        why = fmt::format("the socket is bound to ifindex {}, the port is ifindex {}",
                          sll.sll_ifindex, dev.if_index);
        return -1;
    }
    return fd;
}

uint64_t rx_queue_ring_drops(uint16_t port, uint16_t queue) {
    std::string why;
    const int fd = rx_queue_wait_fd(port, queue, why);
    tpacket_stats st{};
    socklen_t len = sizeof st;
    if (fd < 0 || getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &len) != 0) return 0;
    return st.tp_drops;
}

ring_wakeup::~ring_wakeup() {
    if (fd_ >= 0) close(fd_);
}

bool ring_wakeup::init() {
    fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd_ >= 0;
}

void ring_wakeup::signal() {
    const uint64_t one = 1;
    const ssize_t rc = write(fd_, &one, sizeof one);
    (void)rc;  // EAGAIN: the counter is already non-zero, the sleeper wakes anyway
}

bool ring_wakeup::prepare(const rte_ring *ring) {
    sleeping_.store(true, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (rte_ring_count(ring) != 0) {
        sleeping_.store(false, std::memory_order_relaxed);
        return false;
    }
    return true;
}

void ring_wakeup::done() {
    sleeping_.store(false, std::memory_order_relaxed);
    uint64_t v;
    while (read(fd_, &v, sizeof v) > 0) {
    }
}

rx_waiter::~rx_waiter() {
    if (epfd_ >= 0) close(epfd_);
}

bool rx_waiter::init(std::string &error) {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) error = fmt::format("epoll_create1: {}", std::strerror(errno));
    return epfd_ >= 0;
}

bool rx_waiter::add(int fd, std::string &error) {
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered: readable for as long as there is something to read
    ev.data.fd = fd;
    if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) == 0) return true;
    error = fmt::format("epoll_ctl: {}", std::strerror(errno));
    return false;
}

bool rx_waiter::wait(uint64_t timeout_us) {
    epoll_event ev[8];
    const timespec ts{long(timeout_us / 1000000), long(timeout_us % 1000000) * 1000};
    int n = epoll_pwait2(epfd_, ev, 8, &ts, nullptr);
    if (n < 0 && errno == ENOSYS)  // before Linux 5.11: millisecond timeouts, rounded up
        n = epoll_wait(epfd_, ev, 8, int((timeout_us + 999) / 1000));
    return n > 0;
}

}  // namespace ssw
