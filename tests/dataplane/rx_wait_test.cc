// The pieces an idle worker sleeps with: rx modes, the ring wake-up, the epoll set, and the
// search for an rx queue's descriptor (af_packet only; the e2e test test_rx_modes.py runs
// real af_packet ports).
#include "dataplane/rx_wait.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "tests/dataplane/worker_fixture.h"

namespace ssw {
namespace {

bool readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, 0) == 1;
}

// A ring in plain, cache-aligned memory: rte_ring_init needs no EAL heap.
struct test_ring {
    rte_ring *r = nullptr;
    test_ring() {
        const size_t size = (size_t(rte_ring_get_memsize(16)) + 63) & ~size_t(63);
        r = static_cast<rte_ring *>(std::aligned_alloc(64, size));
        EXPECT_EQ(rte_ring_init(r, "rx_wait_test", 16, RING_F_SP_ENQ | RING_F_SC_DEQ), 0);
    }
    ~test_ring() { std::free(r); }
    test_ring(const test_ring &) = delete;
    test_ring &operator=(const test_ring &) = delete;
};

TEST(rx_mode, names_round_trip) {
    for (rx_mode m : {rx_mode::poll, rx_mode::adaptive, rx_mode::interrupt})
        EXPECT_EQ(parse_rx_mode(to_string(m)), m);
    EXPECT_FALSE(parse_rx_mode("Poll"));
    EXPECT_FALSE(parse_rx_mode(""));
    EXPECT_FALSE(parse_rx_mode("napi"));
    // The most awake mode sorts first: a worker runs the minimum over its queues.
    EXPECT_LT(rx_mode::poll, rx_mode::adaptive);
    EXPECT_LT(rx_mode::adaptive, rx_mode::interrupt);
}

TEST(ring_wakeup, wakes_only_a_sleeper) {
    test_ring ring;
    ring_wakeup w;
    ASSERT_TRUE(w.init());
    w.notify();  // nobody sleeps: no system call, nothing to read
    EXPECT_FALSE(readable(w.fd()));

    ASSERT_TRUE(w.prepare(ring.r));  // empty ring: may sleep
    w.notify();
    EXPECT_TRUE(readable(w.fd()));
    w.notify();  // the first notify took the sleeper: one write
    w.done();
    EXPECT_FALSE(readable(w.fd()));
    w.notify();  // awake again
    EXPECT_FALSE(readable(w.fd()));
}

TEST(ring_wakeup, refuses_to_sleep_on_a_full_ring) {
    test_ring ring;
    ring_wakeup w;
    ASSERT_TRUE(w.init());
    int item;
    ASSERT_EQ(rte_ring_enqueue(ring.r, &item), 0);
    EXPECT_FALSE(w.prepare(ring.r));
    w.notify();  // prepare gave up sleeping: nothing written
    EXPECT_FALSE(readable(w.fd()));
}

TEST(rx_waiter, wakes_on_a_readable_descriptor_and_times_out_otherwise) {
    rx_waiter waiter;
    std::string error;
    ASSERT_TRUE(waiter.init(error)) << error;
    const int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ASSERT_GE(ev, 0);
    ASSERT_TRUE(waiter.add(ev, error)) << error;
    EXPECT_FALSE(waiter.wait(1000));
    const uint64_t one = 1;
    ASSERT_EQ(write(ev, &one, sizeof one), ssize_t(sizeof one));
    EXPECT_TRUE(waiter.wait(10'000'000));  // returns at once: level-triggered
    EXPECT_TRUE(waiter.wait(10'000'000));  // still readable: still returns
    EXPECT_FALSE(waiter.add(-1, error));
    EXPECT_NE(error.find("epoll_ctl"), std::string::npos) << error;
    close(ev);
}

using rx_wait_router = test::router_fixture;

TEST_F(rx_wait_router, null_ports_have_no_descriptor_and_say_why) {
    std::string why;
    EXPECT_EQ(rx_queue_wait_fd(0, 0, why), -1);
    EXPECT_EQ(why, "net_null has no descriptor to wait on");
    EXPECT_EQ(rx_queue_ring_drops(0, 0), 0u);  // no ring, nothing to read
    // The worker's queues fell back to the timed back-off, each with the reason.
    for (const auto &q : r_->worker_at(0).rx_queues()) {
        EXPECT_EQ(q.mode, rx_mode::adaptive);
        EXPECT_EQ(q.wait_fd, -1);
        EXPECT_EQ(q.why, why);
    }
    EXPECT_EQ(r_->worker_at(0).mode(), rx_mode::adaptive);
}

}  // namespace
}  // namespace ssw
