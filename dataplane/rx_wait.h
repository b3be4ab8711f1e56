// How an idle worker waits for packets (docs/DESIGN.md §3.8): the rx modes, the file
// descriptor that becomes readable when an rx queue has packets, the epoll set a worker
// sleeps in, and the wake-up a producer sends to a thread sleeping on a ring.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <rte_ring.h>

namespace ssw {

// poll: never sleep. adaptive: poll for a while after the last packet, then sleep until a
// queue has packets. interrupt: sleep as soon as a poll finds nothing. Ordered from the most
// awake: a worker runs the most awake mode of the queues it owns.
enum class rx_mode : uint8_t { poll, adaptive, interrupt };

std::optional<rx_mode> parse_rx_mode(std::string_view s);
std::string_view to_string(rx_mode m);

// The descriptor that is readable while rx queue `queue` of port `port` holds packets, or -1
// with the reason in `why`. Only af_packet queues have one: the PMD's socket, read from its
// private queue (its first member in DPDK 21.11-24.11) and used only after it checks out as
// an AF_PACKET socket bound to the port's interface. The kernel reports it readable while
// the last frame it filled is still owned by the user (packet_poll), so a level-triggered
// epoll on it needs no arming and misses no packet.
int rx_queue_wait_fd(uint16_t port, uint16_t queue, std::string &why);

// Frames the kernel dropped because rx queue `queue` of port `port` had no free frame in its
// af_packet ring, since the previous call (PACKET_STATISTICS restarts at each read); 0 for a
// queue with no such socket. The PMD of DPDK 22.11 never reads it, so nothing else does.
uint64_t rx_queue_ring_drops(uint16_t port, uint16_t queue);

// An eventfd that wakes a thread sleeping on the consumer side of a ring. The producer calls
// notify() after it enqueues; the consumer calls prepare(ring) before it blocks (false: the
// ring has entries, do not block) and done() when it wakes. Both sides order their store
// before their load with a full fence, so one of them always sees the other: no lost
// wake-up, and no system call while the consumer is awake.
class ring_wakeup {
public:
    ring_wakeup() = default;
    ~ring_wakeup();
    ring_wakeup(const ring_wakeup &) = delete;
    ring_wakeup &operator=(const ring_wakeup &) = delete;

    bool init();
    int fd() const { return fd_; }
    void notify() {
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (sleeping_.load(std::memory_order_relaxed) && sleeping_.exchange(false)) signal();
    }
    bool prepare(const rte_ring *ring);
    void done();

private:
    void signal();
    int fd_ = -1;
    std::atomic<bool> sleeping_{false};
};

// A worker's sleep: an epoll set holding its queues' wait descriptors and the extra
// descriptors that must wake it (the router's stop, the inject ring's wake-up).
class rx_waiter {
public:
    rx_waiter() = default;
    ~rx_waiter();
    rx_waiter(const rx_waiter &) = delete;
    rx_waiter &operator=(const rx_waiter &) = delete;

    bool init(std::string &error);
    bool add(int fd, std::string &error);
    // Sleeps until a descriptor is readable or `timeout_us` passes: false on timeout.
    bool wait(uint64_t timeout_us);

private:
    int epfd_ = -1;
};

}  // namespace ssw
