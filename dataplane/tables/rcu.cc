#include "dataplane/tables/rcu.h"

#include "dataplane/tables/memory.h"

namespace ssw {

rcu_domain::~rcu_domain() {
    if (v_) {
        while (!deferred_.empty()) {
            deferred_.front().second();
            deferred_.pop_front();
        }
        table_free(v_, from_dpdk_);
    }
}

bool rcu_domain::init(unsigned max_readers) {
    size_t sz = rte_rcu_qsbr_get_memsize(max_readers);
    v_ = static_cast<rte_rcu_qsbr *>(table_alloc(sz, from_dpdk_));
    if (!v_) return false;
    return rte_rcu_qsbr_init(v_, max_readers) == 0;
}

void rcu_domain::defer(std::function<void()> fn) {
    deferred_.emplace_back(rte_rcu_qsbr_start(v_), std::move(fn));
}

void rcu_domain::reclaim() {
    // Tokens grow monotonically, so the first one not yet safe ends the scan.
    while (!deferred_.empty() && rte_rcu_qsbr_check(v_, deferred_.front().first, false) == 1) {
        auto fn = std::move(deferred_.front().second);
        deferred_.pop_front();
        fn();
    }
}

void rcu_domain::synchronize() {
    rte_rcu_qsbr_synchronize(v_, RTE_QSBR_THRID_INVALID);
    while (!deferred_.empty()) {
        auto fn = std::move(deferred_.front().second);
        deferred_.pop_front();
        fn();
    }
}

}  // namespace ssw
