// The worker's loop: poll every rx queue it owns, process, transmit, report quiescence; and
// when the queues run dry, sleep until one has packets (docs/DESIGN.md §3.8).
#include <sched.h>
#include <sys/prctl.h>

#include <algorithm>

#include <rte_cycles.h>

#include "dataplane/worker.h"

namespace ssw {

rx_mode worker::mode() const {
    rx_mode m = rx_mode::interrupt;
    for (const rx_queue &q : rxq_) m = std::min(m, q.mode);
    return m;
}

bool worker::prepare_sleep(std::string &error) {
    if (!waiter_.init(error) || !waiter_.add(r_.stop_fd(), error)) return false;
    if (index_ == 0 && !waiter_.add(r_.inject_wakeup().fd(), error)) return false;
    for (rx_queue &q : rxq_) {
        if (q.mode == rx_mode::poll) continue;
        q.wait_fd = rx_queue_wait_fd(q.port, q.queue, q.why);
        if (q.wait_fd >= 0 && !waiter_.add(q.wait_fd, error)) return false;
    }
    return true;
}

void worker::sleep(uint64_t timeout_us) {
    rcu_domain &rcu = r_.rcu();
    // Offline: the control thread's RCU grace periods never wait for a sleeping worker.
    rcu.offline(index_);
    // Worker 0 drains the inject ring: it sleeps only if the ring is empty, and the slow path
    // wakes it when it fills the ring.
    ring_wakeup *inject = index_ == 0 ? &r_.inject_wakeup() : nullptr;
    if (!inject || inject->prepare(r_.inject_ring())) {
        counters_.count(event::idle_sleeps);
        if (!waiter_.wait(timeout_us)) counters_.count(event::idle_timeouts);
        if (inject) inject->done();
    }
    rcu.online(index_);
    clock_.start();  // sleeping is no stage's cost
}

int worker::run() {
    // Sleeps of a few microseconds need a timer slack below Linux's default 50 us.
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    rcu_domain &rcu = r_.rcu();
    rcu.register_reader(index_);
    rcu.online(index_);

    const router_config &cfg = r_.config();
    const uint16_t burst = std::min<uint16_t>(cfg.burst, kMaxBurst);
    const rx_mode mode = this->mode();
    // Queues with no descriptor to wait on (and not polled) limit each sleep to a back-off.
    const bool timed = std::any_of(rxq_.begin(), rxq_.end(), [](const rx_queue &q) {
        return q.mode != rx_mode::poll && q.wait_fd < 0;
    });
    const bool sleeps = mode != rx_mode::poll && !(timed && cfg.idle_sleep_us == 0);
    const uint64_t poll_cycles =
        mode == rx_mode::adaptive ? uint64_t(cfg.poll_us) * rte_get_tsc_hz() / 1000000 : 0;
    const uint64_t max_sleep_us = uint64_t(std::max<uint32_t>(cfg.max_sleep_ms, 1)) * 1000;
    constexpr uint32_t kFirstSleepUs = 10;
    uint32_t backoff_us = kFirstSleepUs;
    uint64_t idle_since = 0;  // TSC of the first empty poll after traffic; 0: traffic
    rte_mbuf *pkts[kMaxBurst];

    clock_.start();
    while (likely(!r_.stopping())) {
        unsigned got = 0;
        for (const rx_queue &q : rxq_) {
            const uint16_t n = rte_eth_rx_burst(q.port, q.queue, pkts, burst);
            clock_.mark(stage::rx);
            if (n) {
                process_burst(q.port, pkts, n);
                got += n;
            }
        }
        if (index_ == 0) got += drain_inject();
        flush();
        clock_.mark(stage::tx);
        rcu.quiescent(index_);

        if (got) {
            idle_since = 0;
            backoff_us = kFirstSleepUs;
            continue;
        }
        if (!sleeps) continue;
        if (poll_cycles) {  // adaptive: keep polling for poll_us after the last packet
            const uint64_t now = rte_rdtsc();
            if (idle_since == 0) idle_since = now;
            if (now - idle_since < poll_cycles) {
                // Routers share cores: a runnable thread on ours (another router's worker
                // with a packet) runs first; with none, this returns at once.
                sched_yield();
                continue;
            }
        }
        // After a sleep that found nothing, idle_since stays old: the next empty poll sleeps
        // again at once.
        sleep(timed ? std::min(backoff_us, cfg.idle_sleep_us) : max_sleep_us);
        if (timed) backoff_us = std::min(backoff_us * 2, cfg.idle_sleep_us);
    }
    rcu.offline(index_);
    rcu.unregister_reader(index_);
    return 0;
}

}  // namespace ssw
