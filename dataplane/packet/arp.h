// ARP messages (RFC 826) for IPv4 over Ethernet: parsing with validation, and building.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/drop_reason.h"
#include "dataplane/net/net_types.h"

namespace ssw {

inline constexpr size_t kArpLen = 28;  // the ARP payload for IPv4 over Ethernet
inline constexpr size_t kArpFrameLen = 14 + kArpLen;
inline constexpr uint16_t kArpRequest = 1;
inline constexpr uint16_t kArpReply = 2;

struct arp_message {
    uint16_t op = 0;
    mac_addr sender_mac;
    ip4_addr sender_ip;
    mac_addr target_mac;
    ip4_addr target_ip;

    // Sender and target protocol addresses equal: an announcement (RFC 5227 3).
    bool is_gratuitous() const { return sender_ip == target_ip; }
    // Sender protocol address 0: an address probe (RFC 5227 2.1.1).
    bool is_probe() const { return sender_ip.is_zero(); }
};

// Parses the ARP payload that follows the Ethernet header. Refuses anything but Ethernet/IPv4
// with 6/4 byte addresses and opcode 1 or 2 (arp_malformed), and a sender hardware address
// that is broadcast, multicast or zero (arp_bad_sender).
bool parse_arp(const uint8_t *p, size_t len, arp_message &msg, drop_reason &why);

// Parses a RARP payload (RFC 903): what a hypervisor broadcasts from a VM's MAC when the VM
// resumes after a live migration (QEMU's announce-self). Only an Ethernet/IPv4 reverse request
// (opcode 3) with 6/4 byte addresses, a unicast sender hardware address and that address as
// the frame's source `eth_src` is one (else rarp_malformed); `sender` is its MAC.
inline constexpr uint16_t kRarpRequest = 3;
bool parse_rarp(const uint8_t *p, size_t len, const mac_addr &eth_src, mac_addr &sender,
                drop_reason &why);

// Writes a whole Ethernet + ARP frame (kArpFrameLen bytes) to out.
void build_arp_frame(uint8_t *out, const mac_addr &eth_dst, const mac_addr &eth_src,
                     const arp_message &msg);

}  // namespace ssw
