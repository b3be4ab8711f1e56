// The resolved neighbors the workers use to fill in destination MACs: IPv4 address ->
// (MAC, port), one 64-bit word per entry held in the hash itself, so that a worker reads the
// whole entry with one load (one cache line per lookup) and a MAC change is one store. Only usable
// entries are here; resolution state, timers and hold queues belong to the neighbor cache
// (neighbor_cache.h), which writes this table from the control thread.
#pragma once

#include <cstdint>

#include "dataplane/net/net_types.h"
#include "dataplane/tables/lockfree_hash.h"
#include "dataplane/tables/rcu.h"

namespace ssw {

class neighbor_table {
public:
    bool init(uint32_t capacity, rcu_domain &rcu);

    // ---- readers ----
    // A packed entry: the MAC's bytes in memory order in bits 0..47 (mac_addr::raw48, so a
    // worker copies 6 bytes of the word into the frame), the port in bits 48..63.
    static uint64_t pack(const mac_addr &mac, uint16_t port) {
        return mac.raw48() | uint64_t(port) << 48;
    }
    static constexpr uint16_t port_of(uint64_t word) { return uint16_t(word >> 48); }

    bool lookup(ip4_addr ip, uint64_t &word) const { return index_.lookup(ip.host(), word); }

    // ---- the writer ----
    // False when the table is full.
    bool set(ip4_addr ip, const mac_addr &mac, uint16_t port);
    bool remove(ip4_addr ip);
    uint32_t size() const { return index_.size(); }

private:
    lockfree_hash index_;
};

}  // namespace ssw
