// Quiescent-state based reclamation (DPDK RCU QSBR) for the tables the workers read.
//
// Readers are the worker lcores, registered by worker index. Each reports a quiescent state
// once per loop and goes offline before it sleeps, so a sleeping worker never holds up the
// writer. The writer (the control thread) defers every free until all readers that could
// still hold the old pointer or index have passed a quiescent state.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>

#include <rte_rcu_qsbr.h>

namespace ssw {

class rcu_domain {
public:
    rcu_domain() = default;
    rcu_domain(const rcu_domain &) = delete;
    rcu_domain &operator=(const rcu_domain &) = delete;
    ~rcu_domain();

    bool init(unsigned max_readers);
    rte_rcu_qsbr *qsbr() const { return v_; }

    // ---- readers ----
    void register_reader(unsigned id) { rte_rcu_qsbr_thread_register(v_, id); }
    void unregister_reader(unsigned id) { rte_rcu_qsbr_thread_unregister(v_, id); }
    void online(unsigned id) { rte_rcu_qsbr_thread_online(v_, id); }
    void offline(unsigned id) { rte_rcu_qsbr_thread_offline(v_, id); }
    void quiescent(unsigned id) { rte_rcu_qsbr_quiescent(v_, id); }

    // ---- the writer ----
    // Runs fn once every reader has passed a quiescent state after this call.
    void defer(std::function<void()> fn);
    // Runs the deferred functions whose grace period is over; never blocks.
    void reclaim();
    // Waits for a grace period, then runs everything deferred.
    void synchronize();
    size_t pending() const { return deferred_.size(); }

private:
    rte_rcu_qsbr *v_ = nullptr;
    bool from_dpdk_ = false;
    std::deque<std::pair<uint64_t, std::function<void()>>> deferred_;
};

}  // namespace ssw
