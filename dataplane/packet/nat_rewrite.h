// Address translation of one IPv4 packet in place, with every checksum fixed incrementally
// (RFC 1624): the IPv4 header; TCP and UDP through their pseudo-header (a UDP checksum of 0
// means "none" and stays 0, RFC 768); and for ICMP errors the quoted packet too (RFC 5508
// 3.2): translating the outer destination translates the quoted source, and the other way
// round, fixing the quoted header's checksum, its transport checksum when quoted, and the
// ICMP checksum over all of it. Fragments: every fragment gets the new address; only the
// first carries a transport header (RFC 791).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include <rte_ip.h>

#include "dataplane/drop_reason.h"
#include "dataplane/packet/checksum.h"
#include "dataplane/packet/icmp.h"
#include "dataplane/packet/ipv4.h"

namespace ssw::nat {

inline constexpr size_t kSrcOffset = 12;  // of the address fields in an IPv4 header
inline constexpr size_t kDstOffset = 16;

namespace detail {

inline uint32_t load32(const uint8_t *p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
inline uint16_t load16(const uint8_t *p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
inline void store32(uint8_t *p, uint32_t v) { std::memcpy(p, &v, 4); }
inline void store16(uint8_t *p, uint16_t v) { std::memcpy(p, &v, 2); }

// The offset of the transport checksum for `proto`, or 0 when it has none covering the
// pseudo-header (ICMP, others).
inline size_t l4_checksum_offset(uint8_t proto) {
    if (proto == IPPROTO_TCP) return 16;
    if (proto == IPPROTO_UDP) return 6;
    return 0;
}

// Patches a transport checksum at p for an address word old -> new. A zero UDP checksum
// stays zero; a computed zero is sent as 0xffff (RFC 768).
inline void patch_l4(uint8_t *p, uint8_t proto, uint32_t old_a, uint32_t new_a) {
    uint16_t ck = load16(p);
    if (proto == IPPROTO_UDP && ck == 0) return;
    ck = csum::replace32(ck, old_a, new_a);
    if (proto == IPPROTO_UDP && ck == 0) ck = 0xffff;
    store16(p, ck);
}

// Translates the quoted packet of an ICMP error: its address at `inner_off` (12 or 16)
// from old_a to new_a. `icmp` points at the ICMP header, `icmp_len` bytes are present.
inline bool rewrite_quote(uint8_t *icmp, size_t icmp_len, size_t inner_off, uint32_t old_a,
                          uint32_t new_a, drop_reason &why) {
    uint8_t *in = icmp + 8;
    const size_t in_len = icmp_len - 8;
    if (icmp_len < 8 + kIpv4MinHeaderLen) {
        why = drop_reason::nat_icmp_quote_truncated;
        return false;
    }
    const size_t in_ihl = size_t(in[0] & 0x0f) * 4;
    if ((in[0] >> 4) != 4 || in_ihl < kIpv4MinHeaderLen || in_ihl > in_len) {
        why = drop_reason::nat_icmp_quote_truncated;
        return false;
    }
    if (load32(in + inner_off) != old_a) return true;  // quotes someone else: leave it

    uint16_t icmp_ck = load16(icmp + 2);
    store32(in + inner_off, new_a);
    icmp_ck = csum::replace32(icmp_ck, old_a, new_a);
    const uint16_t old_ipck = load16(in + 10);
    const uint16_t new_ipck = csum::replace32(old_ipck, old_a, new_a);
    store16(in + 10, new_ipck);
    icmp_ck = csum::replace16(icmp_ck, old_ipck, new_ipck);

    const auto *in_ip = reinterpret_cast<const rte_ipv4_hdr *>(in);
    const size_t l4 = l4_checksum_offset(in_ip->next_proto_id);
    if (l4 && !is_later_fragment(in_ip) && in_ihl + l4 + 2 <= in_len) {
        uint8_t *p = in + in_ihl + l4;
        const uint16_t old_l4 = load16(p);
        patch_l4(p, in_ip->next_proto_id, old_a, new_a);
        icmp_ck = csum::replace16(icmp_ck, old_l4, load16(p));
    }
    store16(icmp + 2, icmp_ck);
    return true;
}

}  // namespace detail

// Rewrites the address at `field` (kSrcOffset or kDstOffset) of the checked IPv4 packet at
// ip (len bytes, the datagram's total length) to new_a (network order, as raw bits). False,
// with the reason, when the packet cannot be translated correctly; it is then unchanged.
inline bool rewrite(uint8_t *ip, size_t len, size_t field, uint32_t new_a, drop_reason &why) {
    using namespace detail;
    auto *hdr = reinterpret_cast<rte_ipv4_hdr *>(ip);
    const uint32_t old_a = load32(ip + field);
    if (old_a == new_a) return true;
    const size_t ihl = ihl_bytes(hdr);
    uint8_t *l4 = ip + ihl;
    const size_t l4_len = len - ihl;

    // Check everything that can fail before changing anything.
    const uint8_t proto = hdr->next_proto_id;
    const bool first = !is_later_fragment(hdr);
    const size_t ck_off = l4_checksum_offset(proto);
    if (first && ck_off && l4_len < ck_off + 2) {
        why = drop_reason::nat_l4_truncated;
        return false;
    }
    if (first && proto == IPPROTO_ICMP && l4_len >= 1 && icmp::is_error_type(l4[0])) {
        // The quoted packet travelled the other way: its source is our destination.
        const size_t inner_field = field == kDstOffset ? kSrcOffset : kDstOffset;
        if (l4_len < 8) {
            why = drop_reason::nat_icmp_quote_truncated;
            return false;
        }
        if (!rewrite_quote(l4, l4_len, inner_field, old_a, new_a, why)) return false;
    }
    if (first && ck_off) patch_l4(l4 + ck_off, proto, old_a, new_a);
    store32(ip + field, new_a);
    hdr->hdr_checksum = csum::replace32(hdr->hdr_checksum, old_a, new_a);
    return true;
}

}  // namespace ssw::nat
