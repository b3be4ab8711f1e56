// ARP resolution and aging: the neighbor state machine, run by the control thread. It owns
// the resolution state, timers and bounded hold queues, and publishes usable entries to the
// neighbor_table the workers read.
//
//   (none) --packet needs it--> INCOMPLETE --reply/request from it--> REACHABLE
//   INCOMPLETE --no answer after broadcast_probes requests--> FAILED --failed_ms--> (none)
//   REACHABLE --reachable_ms without confirmation--> PROBE (unicast requests, still used)
//   PROBE --answer--> REACHABLE;  PROBE --no answer after unicast_probes--> (none)
//   PERMANENT (static, `neigh add`): never ages, never overwritten by ARP.
//
// What creates or updates an entry follows Linux with arp_accept=0: a request addressed to
// one of our addresses creates or refreshes the sender's entry (RFC 826); a reply updates an
// entry that exists (so it completes one we are resolving); any other ARP, gratuitous ARP
// included, updates an entry that exists and creates none.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <string>

#include "dataplane/drop_reason.h"
#include "dataplane/net/net_types.h"
#include "dataplane/tables/neighbor_table.h"

namespace ssw {

struct neighbor_params {
    uint32_t reachable_ms = 30000;  // Linux base_reachable_time
    uint32_t retrans_ms = 1000;     // Linux retrans_time
    uint8_t broadcast_probes = 3;   // Linux mcast_solicit
    uint8_t unicast_probes = 3;     // Linux ucast_solicit
    uint16_t hold_max = 16;         // packets held per unresolved neighbor
    uint32_t failed_ms = 1000;      // how long a FAILED entry suppresses new resolution
    uint32_t max_entries = 4096;
};

enum class neighbor_state : uint8_t { incomplete, reachable, probe, failed, permanent };
const char *to_string(neighbor_state s);

class neighbor_cache {
public:
    // Side effects, implemented by the slow path (and by a recorder in the unit tests). A held
    // packet is an opaque pointer here.
    struct io {
        virtual ~io() = default;
        // unicast == nullptr: broadcast request.
        virtual void send_arp_request(uint16_t port, ip4_addr target, const mac_addr *unicast) = 0;
        virtual void send_held(void *pkt, uint16_t port, const mac_addr &mac) = 0;
        virtual void drop_held(void *pkt, drop_reason why) = 0;
    };

    struct entry {
        ip4_addr ip;
        uint16_t port = 0;
        mac_addr mac;
        neighbor_state state = neighbor_state::incomplete;
        uint64_t updated_ms = 0;   // last confirmation (or creation)
        uint64_t deadline_ms = 0;  // next timer; 0 = none
        uint8_t probes = 0;
        std::deque<void *> hold;
    };

    enum class arp_kind { request_to_us, reply, other };

    neighbor_cache(neighbor_table &table, const neighbor_params &params, io &out)
        : table_(table), params_(params), io_(out) {}
    ~neighbor_cache();

    // A packet must go to `ip` on `port` and the workers' table has no usable entry for it.
    void resolve(ip4_addr ip, uint16_t port, void *pkt, uint64_t now_ms);
    // An ARP message from `ip` (its MAC `mac`) arrived on `port`. Returns true when an entry
    // was created or updated.
    bool learn(ip4_addr ip, uint16_t port, const mac_addr &mac, arp_kind kind, uint64_t now_ms);
    // Static entries. add_static replaces any dynamic entry for ip.
    bool add_static(ip4_addr ip, uint16_t port, const mac_addr &mac, uint64_t now_ms,
                    std::string &error);
    bool remove(ip4_addr ip);
    // Removes a learned entry; a static (permanent) one stays. False when none was removed.
    bool remove_learned(ip4_addr ip);
    // Removes every dynamic entry on `port` (its addresses changed); held packets dropped.
    void flush_port(uint16_t port);
    // Runs the timers that are due.
    void tick(uint64_t now_ms);
    // The earliest pending timer, or UINT64_MAX.
    uint64_t next_deadline() const;

    const std::map<ip4_addr, entry> &entries() const { return entries_; }
    const neighbor_params &params() const { return params_; }

private:
    bool publish(entry &e);
    void hold(entry &e, void *pkt);
    void release_hold(entry &e);
    void drop_hold(entry &e, drop_reason why);
    void erase(std::map<ip4_addr, entry>::iterator it, drop_reason why);

    neighbor_table &table_;
    neighbor_params params_;
    io &io_;
    std::map<ip4_addr, entry> entries_;
};

}  // namespace ssw
