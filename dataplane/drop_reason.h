// Every packet the router does not send is counted under exactly one of these reasons.
// Declared once; the X-macro gives the enum, the names `show stats` prints and the help text.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace ssw {

#define SSW_DROP_REASONS(_)                                                                  \
    _(eth_truncated, "frame shorter than an Ethernet header")                                \
    _(eth_not_for_us, "destination MAC is neither ours nor broadcast")                       \
    _(eth_multicast, "Ethernet multicast frame")                                             \
    _(eth_vlan, "VLAN-tagged frame (no VLAN interfaces configured)")                         \
    _(eth_unknown_type, "ethertype other than IPv4, ARP or RARP")                            \
    _(eth_multi_segment, "frame in several mbuf segments")                                   \
    _(ip_truncated, "frame shorter than the IPv4 header")                                    \
    _(ip_version, "IP version is not 4")                                                     \
    _(ip_bad_ihl, "IHL below 5 or header longer than the frame")                             \
    _(ip_bad_length, "total length below the header or beyond the frame")                    \
    _(ip_bad_checksum, "IPv4 header checksum wrong")                                         \
    _(ip_bad_source, "source is multicast, broadcast, loopback, reserved or zero")           \
    _(ip_bad_destination, "destination is multicast, broadcast, loopback or zero")           \
    _(ip_not_for_us_l2_broadcast, "IPv4 in an Ethernet broadcast frame not for the router")  \
    _(ip_source_is_ours, "source is one of the router's own addresses (spoofed or looped)")  \
    _(ip_directed_broadcast, "to a connected subnet's broadcast address (RFC 1812 5.3.5.2)") \
    _(ttl_exceeded, "TTL expired in transit")                                                \
    _(no_route, "no route to the destination")                                               \
    _(blackhole, "route is a blackhole")                                                     \
    _(frag_needed, "larger than the egress MTU with DF set")                                 \
    _(nat_l4_truncated, "to translate, but the transport checksum is not in this fragment")  \
    _(nat_icmp_quote_truncated, "ICMP error to translate whose quoted header is truncated")  \
    _(fragment_failed, "could not fragment (no buffers or bad options)")                     \
    _(neighbor_failed, "next hop did not answer ARP")                                        \
    _(neighbor_hold_overflow, "hold queue of an unresolved next hop full")                   \
    _(neighbor_table_full, "no room for another neighbor entry")                             \
    _(neighbor_removed, "held for a next hop whose entry was deleted")                       \
    _(punt_queue_full, "slow-path queue full")                                               \
    _(local_unsupported, "addressed to the router, protocol not served")                     \
    _(local_bad_icmp, "ICMP to the router truncated or with bad checksum")                   \
    _(arp_malformed, "ARP with wrong hardware/protocol type or lengths, or truncated")       \
    _(arp_bad_sender, "ARP from a broadcast, multicast or zero sender")                      \
    _(arp_not_for_us, "ARP for an address the router does not answer for")                   \
    _(rarp_malformed, "RARP other than an Ethernet/IPv4 reverse request from its sender")    \
    _(rarp_unexpected, "RARP from a MAC no arrival watch expects on that port")              \
    _(rarp_rate_limited, "RARP beyond the per-port rate limit")                              \
    _(tx_full, "egress queue full")                                                          \
    _(no_buffer, "no mbuf for a generated packet")

enum class drop_reason : uint8_t {
#define SSW_DROP_ENUM(name, text) name,
    SSW_DROP_REASONS(SSW_DROP_ENUM)
#undef SSW_DROP_ENUM
};

inline constexpr size_t kDropReasonCount = 0
#define SSW_DROP_COUNT(name, text) +1
    SSW_DROP_REASONS(SSW_DROP_COUNT)
#undef SSW_DROP_COUNT
    ;

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonNames = {
#define SSW_DROP_NAME(name, text) #name,
    SSW_DROP_REASONS(SSW_DROP_NAME)
#undef SSW_DROP_NAME
};

inline constexpr std::array<std::string_view, kDropReasonCount> kDropReasonHelp = {
#define SSW_DROP_HELP(name, text) text,
    SSW_DROP_REASONS(SSW_DROP_HELP)
#undef SSW_DROP_HELP
};

constexpr std::string_view name_of(drop_reason r) { return kDropReasonNames[size_t(r)]; }

}  // namespace ssw
