// Large, long-lived table memory. Tables come from DPDK's hugepage heap when the process has
// one (fewer TLB misses on random lookups); otherwise (--no-huge, unit tests without EAL) from
// the ordinary heap, advised to use transparent huge pages.
#pragma once

#include <cstddef>

namespace ssw {

// Called once after rte_eal_init: whether DPDK's heap has hugepages to give.
void use_dpdk_table_memory(bool yes);

// Zeroed, 64-byte aligned memory; nullptr when none can be had. `from_dpdk` records which
// heap served it, to give it back with table_free.
void *table_alloc(size_t bytes, bool &from_dpdk);
void table_free(void *p, bool from_dpdk);

}  // namespace ssw
