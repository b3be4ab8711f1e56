// What a worker tells the slow path about a packet it hands over, kept in an mbuf dynamic
// field. Workers punt only rare packets: ARP, packets for the router, packets that need an
// ICMP error, and routed packets whose next hop is unresolved or that need fragmenting.
#pragma once

#include <cstdint>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

namespace ssw {

enum class punt_kind : uint8_t {
    arp,         // an ARP or RARP frame (port: ingress)
    local,       // an IPv4 packet for one of our addresses (port: ingress)
    icmp_error,  // send icmp_type/icmp_code (and mtu) about this unmodified packet
    output,      // routed and rewritten; needs ARP resolution and/or fragmenting
};

struct punt_meta {
    punt_kind kind;
    uint8_t icmp_type;
    uint8_t icmp_code;
    uint8_t unused;
    uint16_t port;      // ingress port (arp, local, icmp_error) or egress port (output)
    uint16_t mtu;       // icmp_error: next-hop MTU for fragmentation needed
    uint32_t next_hop;  // output: the neighbor to send to, host order
};

// Registers the dynamic field; once per process, before the first punt. Returns false on error.
bool register_punt_field();
extern int punt_field_offset;

inline punt_meta *punt_of(rte_mbuf *m) {
    return RTE_MBUF_DYNFIELD(m, punt_field_offset, punt_meta *);
}

}  // namespace ssw
