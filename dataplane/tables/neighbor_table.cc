#include "dataplane/tables/neighbor_table.h"

namespace ssw {

bool neighbor_table::init(uint32_t capacity, rcu_domain &rcu) { return index_.init(capacity, rcu); }

bool neighbor_table::set(ip4_addr ip, const mac_addr &mac, uint16_t port) {
    return index_.upsert(ip.host(), pack(mac, port)) != lockfree_hash::upsert_result::full;
}

bool neighbor_table::remove(ip4_addr ip) { return index_.erase(ip.host()); }

}  // namespace ssw
