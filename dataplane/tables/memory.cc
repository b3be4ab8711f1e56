#include "dataplane/tables/memory.h"

#include <sys/mman.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include <rte_malloc.h>

namespace ssw {

namespace {
std::atomic<bool> dpdk_memory{false};
}

void use_dpdk_table_memory(bool yes) { dpdk_memory = yes; }

void *table_alloc(size_t bytes, bool &from_dpdk) {
    if (bytes == 0) bytes = 64;
    if (dpdk_memory) {
        if (void *p = rte_zmalloc("ssw_table", bytes, 64)) {
            from_dpdk = true;
            return p;
        }
    }
    from_dpdk = false;
    size_t rounded = (bytes + 4095) & ~size_t(4095);
    void *p = std::aligned_alloc(4096, rounded);
    if (!p) return nullptr;
    if (rounded >= (2u << 20)) madvise(p, rounded, MADV_HUGEPAGE);
    std::memset(p, 0, rounded);
    return p;
}

void table_free(void *p, bool from_dpdk) {
    if (!p) return;
    if (from_dpdk)
        rte_free(p);
    else
        std::free(p);
}

}  // namespace ssw
