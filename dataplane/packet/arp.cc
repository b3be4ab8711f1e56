#include "dataplane/packet/arp.h"

#include <cstring>

#include <rte_arp.h>
#include <rte_ether.h>

namespace ssw {

namespace {
// The fixed part of an Ethernet/IPv4 ARP or RARP header; its opcode, or 0 when not one.
uint16_t ether_ipv4_opcode(const rte_arp_hdr &h) {
    if (be16_t::from_raw(h.arp_hardware).host() != RTE_ARP_HRD_ETHER ||
        be16_t::from_raw(h.arp_protocol).host() != RTE_ETHER_TYPE_IPV4 || h.arp_hlen != 6 ||
        h.arp_plen != 4)
        return 0;
    return be16_t::from_raw(h.arp_opcode).host();
}
}  // namespace

bool parse_arp(const uint8_t *p, size_t len, arp_message &msg, drop_reason &why) {
    if (len < kArpLen) {
        why = drop_reason::arp_malformed;
        return false;
    }
    rte_arp_hdr h;
    std::memcpy(&h, p, sizeof h);
    const uint16_t op = ether_ipv4_opcode(h);
    if (op != kArpRequest && op != kArpReply) {
        why = drop_reason::arp_malformed;
        return false;
    }
    msg.op = op;
    msg.sender_mac = mac_addr::from_bytes(&h.arp_data.arp_sha);
    msg.target_mac = mac_addr::from_bytes(&h.arp_data.arp_tha);
    msg.sender_ip = ip4_addr::from_be(be32_t::from_raw(h.arp_data.arp_sip));
    msg.target_ip = ip4_addr::from_be(be32_t::from_raw(h.arp_data.arp_tip));
    if (msg.sender_mac.is_multicast() || msg.sender_mac.is_zero()) {
        why = drop_reason::arp_bad_sender;
        return false;
    }
    return true;
}

bool parse_rarp(const uint8_t *p, size_t len, const mac_addr &eth_src, mac_addr &sender,
                drop_reason &why) {
    why = drop_reason::rarp_malformed;
    if (len < kArpLen) return false;
    rte_arp_hdr h;
    std::memcpy(&h, p, sizeof h);
    if (ether_ipv4_opcode(h) != kRarpRequest) return false;
    sender = mac_addr::from_bytes(&h.arp_data.arp_sha);
    return !sender.is_multicast() && !sender.is_zero() && sender == eth_src;
}

void build_arp_frame(uint8_t *out, const mac_addr &eth_dst, const mac_addr &eth_src,
                     const arp_message &msg) {
    rte_ether_hdr eth;
    std::memcpy(&eth.dst_addr, eth_dst.b.data(), 6);
    std::memcpy(&eth.src_addr, eth_src.b.data(), 6);
    eth.ether_type = be16_t(RTE_ETHER_TYPE_ARP).raw();
    std::memcpy(out, &eth, sizeof eth);

    rte_arp_hdr h;
    h.arp_hardware = be16_t(RTE_ARP_HRD_ETHER).raw();
    h.arp_protocol = be16_t(RTE_ETHER_TYPE_IPV4).raw();
    h.arp_hlen = 6;
    h.arp_plen = 4;
    h.arp_opcode = be16_t(msg.op).raw();
    std::memcpy(&h.arp_data.arp_sha, msg.sender_mac.b.data(), 6);
    std::memcpy(&h.arp_data.arp_tha, msg.target_mac.b.data(), 6);
    h.arp_data.arp_sip = msg.sender_ip.be().raw();
    h.arp_data.arp_tip = msg.target_ip.be().raw();
    std::memcpy(out + sizeof eth, &h, sizeof h);
}

}  // namespace ssw
