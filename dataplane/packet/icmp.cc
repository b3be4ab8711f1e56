#include "dataplane/packet/icmp.h"

#include <algorithm>
#include <cstring>

#include <rte_icmp.h>
#include <rte_ip.h>

#include "dataplane/packet/checksum.h"
#include "dataplane/packet/ipv4.h"

namespace ssw {

namespace {
constexpr uint8_t kDefaultTtl = 64;
constexpr uint8_t kTosInternetworkControl = 0xc0;  // RFC 1812 4.3.2.5
}  // namespace

void write_ipv4_header(uint8_t *out, ip4_addr src, ip4_addr dst, uint8_t proto, uint16_t total_len,
                       uint16_t id, uint8_t ttl, uint8_t tos) {
    rte_ipv4_hdr h{};
    h.version_ihl = 0x45;
    h.type_of_service = tos;
    h.total_length = be16_t(total_len).raw();
    h.packet_id = be16_t(id).raw();
    h.fragment_offset = 0;
    h.time_to_live = ttl;
    h.next_proto_id = proto;
    h.src_addr = src.be().raw();
    h.dst_addr = dst.be().raw();
    h.hdr_checksum = csum::compute(&h, sizeof h);
    std::memcpy(out, &h, sizeof h);
}

bool icmp_error_allowed(const uint8_t *p, size_t len) {
    const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(p);
    if (is_later_fragment(ip)) return false;
    if (bad_source(src_of(ip)) || dst_of(ip).is_multicast() || dst_of(ip).is_limited_broadcast())
        return false;
    if (ip->next_proto_id == IPPROTO_ICMP) {
        size_t hlen = ihl_bytes(ip);
        if (len < hlen + 1) return false;  // cannot tell: stay silent
        if (icmp::is_error_type(p[hlen])) return false;
    }
    return true;
}

size_t build_icmp_error(uint8_t *out, size_t cap, uint8_t type, uint8_t code, uint32_t rest,
                        ip4_addr src, const uint8_t *orig, size_t orig_len, uint16_t ip_id) {
    const auto *oip = reinterpret_cast<const rte_ipv4_hdr *>(orig);
    size_t quote = std::min<size_t>(orig_len, total_length(oip));
    quote = std::min(quote, icmp::kMaxErrorLen - 20 - 8);
    const size_t total = 20 + 8 + quote;
    if (total > cap) return 0;
    write_ipv4_header(out, src, src_of(oip), IPPROTO_ICMP, uint16_t(total), ip_id, kDefaultTtl,
                      kTosInternetworkControl);
    uint8_t *ic = out + 20;
    ic[0] = type;
    ic[1] = code;
    ic[2] = ic[3] = 0;
    be32_t r(rest);
    std::memcpy(ic + 4, &r, 4);
    std::memcpy(ic + 8, orig, quote);
    uint16_t c = csum::compute(ic, 8 + quote);
    std::memcpy(ic + 2, &c, 2);
    return total;
}

size_t build_echo_reply(uint8_t *out, size_t cap, const uint8_t *req, size_t req_len,
                        uint16_t ip_id) {
    const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(req);
    const size_t hlen = ihl_bytes(ip);
    const size_t tlen = std::min<size_t>(total_length(ip), req_len);
    if (tlen < hlen + 8) return 0;
    const uint8_t *icmp_in = req + hlen;
    const size_t icmp_len = tlen - hlen;
    if (icmp_in[0] != icmp::kEchoRequest || !csum::verify(icmp_in, icmp_len)) return 0;
    const size_t total = 20 + icmp_len;
    if (total > cap) return 0;
    write_ipv4_header(out, dst_of(ip), src_of(ip), IPPROTO_ICMP, uint16_t(total), ip_id,
                      kDefaultTtl, ip->type_of_service);
    uint8_t *ic = out + 20;
    std::memcpy(ic, icmp_in, icmp_len);
    // Summed afresh: an RFC 1624 update gives 0x0000 for a message that becomes all zero
    // (identifier, sequence and data zero), whose only valid checksum is 0xffff.
    ic[0] = icmp::kEchoReply;
    ic[2] = ic[3] = 0;
    const uint16_t check = csum::compute(ic, icmp_len);
    std::memcpy(ic + 2, &check, 2);
    return total;
}

}  // namespace ssw
