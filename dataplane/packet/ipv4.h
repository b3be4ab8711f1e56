// IPv4 header checks (RFC 1812 5.2.2, 5.3.7) and small field helpers over raw headers.
#pragma once

#include <cstdint>

#include <rte_ip.h>

#include "dataplane/drop_reason.h"
#include "dataplane/net/net_types.h"
#include "dataplane/packet/checksum.h"

namespace ssw {

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeRarp = 0x8035;  // a hypervisor's announcement of a moved VM
inline constexpr uint16_t kEtherTypeVlan = 0x8100;
inline constexpr uint16_t kEtherTypeQinQ = 0x88a8;
inline constexpr uint32_t kEthHeaderLen = 14;
inline constexpr uint32_t kIpv4MinHeaderLen = 20;

inline uint32_t ihl_bytes(const rte_ipv4_hdr *ip) { return uint32_t(ip->version_ihl & 0x0f) * 4; }
inline ip4_addr src_of(const rte_ipv4_hdr *ip) {
    return ip4_addr::from_be(be32_t::from_raw(ip->src_addr));
}
inline ip4_addr dst_of(const rte_ipv4_hdr *ip) {
    return ip4_addr::from_be(be32_t::from_raw(ip->dst_addr));
}
inline uint16_t total_length(const rte_ipv4_hdr *ip) {
    return be16_t::from_raw(ip->total_length).host();
}
inline uint16_t frag_field(const rte_ipv4_hdr *ip) {
    return be16_t::from_raw(ip->fragment_offset).host();
}
inline bool dont_fragment(const rte_ipv4_hdr *ip) { return frag_field(ip) & 0x4000; }
// True for every fragment but the first (offset != 0): those carry no transport header.
inline bool is_later_fragment(const rte_ipv4_hdr *ip) { return (frag_field(ip) & 0x1fff) != 0; }

inline bool bad_source(ip4_addr a) {
    return a.is_zero() || a.is_multicast() || a.is_limited_broadcast() || a.is_loopback() ||
           a.is_reserved();
}
inline bool bad_destination(ip4_addr a) {
    return a.is_zero() || a.is_multicast() || a.is_limited_broadcast() || a.is_loopback() ||
           a.is_reserved();
}

// Checks the IPv4 header of a frame that has `avail` bytes from the IP header on. On failure
// sets `why` and returns false. Checks what RFC 1812 5.2.2 requires of a router, in the order
// that needs the fewest bytes first, and rejects martian addresses (5.3.7).
inline bool check_ipv4(const rte_ipv4_hdr *ip, uint32_t avail, drop_reason &why) {
    if (avail < kIpv4MinHeaderLen) {
        why = drop_reason::ip_truncated;
        return false;
    }
    if ((ip->version_ihl >> 4) != 4) {
        why = drop_reason::ip_version;
        return false;
    }
    const uint32_t hlen = ihl_bytes(ip);
    if (hlen < kIpv4MinHeaderLen || hlen > avail) {
        why = drop_reason::ip_bad_ihl;
        return false;
    }
    const uint32_t tlen = total_length(ip);
    if (tlen < hlen || tlen > avail) {
        why = drop_reason::ip_bad_length;
        return false;
    }
    if (!(hlen == kIpv4MinHeaderLen ? csum::verify20(ip) : csum::verify(ip, hlen))) {
        why = drop_reason::ip_bad_checksum;
        return false;
    }
    if (bad_source(src_of(ip))) {
        why = drop_reason::ip_bad_source;
        return false;
    }
    if (bad_destination(dst_of(ip))) {
        why = drop_reason::ip_bad_destination;
        return false;
    }
    return true;
}

// The common case of check_ipv4 in one expression with few branches: a 20-byte header
// (version 4, IHL 5), a total length that fits, a right checksum, no martian address. False
// says nothing about why: check_ipv4 tells. checksum_verified: the receiving device found the
// header checksum right (RTE_MBUF_F_RX_IP_CKSUM_GOOD), so it is not summed again.
inline bool plain_ipv4_ok(const rte_ipv4_hdr *ip, uint32_t avail, bool checksum_verified = false) {
    const auto martian = [](uint32_t a) { return a == 0 || (a >> 24) == 127 || (a >> 28) >= 0xe; };
    const uint32_t tlen = total_length(ip);
    return ip->version_ihl == 0x45 && tlen >= kIpv4MinHeaderLen && tlen <= avail &&
           (checksum_verified || csum::verify20(ip)) && !martian(src_of(ip).host()) &&
           !martian(dst_of(ip).host());
}

// Decrements the TTL and patches the header checksum. The TTL is the high byte of its 16-bit
// word, so the word drops by 0x0100 and the checksum (its complement) rises by 0x0100, with
// the end-around carry; a sum of exactly 0xffff becomes 0x0000, the value a full recomputation
// gives (it never yields 0xffff). Linux's ip_decrease_ttl does the same; four instructions
// instead of RFC 1624's general replace.
inline void decrement_ttl(rte_ipv4_hdr *ip) {
    uint32_t check = ip->hdr_checksum;
    check += be16_t(uint16_t(0x0100)).raw();
    ip->hdr_checksum = uint16_t(check + (check >= 0xffff));
    --ip->time_to_live;
}

// Recomputes the header checksum from scratch.
inline void set_ipv4_checksum(rte_ipv4_hdr *ip) {
    ip->hdr_checksum = 0;
    ip->hdr_checksum = csum::compute(ip, ihl_bytes(ip));
}

}  // namespace ssw
