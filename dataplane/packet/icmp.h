// ICMP messages the router originates (RFC 792, RFC 1812 4.3): echo replies and errors.
// Builders write an IPv4 packet (no link header) into a caller's buffer and return its
// length, 0 when the message must not or cannot be built.
#pragma once

#include <cstddef>
#include <cstdint>

#include "dataplane/net/net_types.h"

namespace ssw {

namespace icmp {
inline constexpr uint8_t kEchoReply = 0;
inline constexpr uint8_t kDestUnreachable = 3;
inline constexpr uint8_t kRedirect = 5;
inline constexpr uint8_t kEchoRequest = 8;
inline constexpr uint8_t kTimeExceeded = 11;
inline constexpr uint8_t kParameterProblem = 12;

// Destination unreachable codes
inline constexpr uint8_t kNetUnreachable = 0;
inline constexpr uint8_t kHostUnreachable = 1;
inline constexpr uint8_t kProtocolUnreachable = 2;
inline constexpr uint8_t kPortUnreachable = 3;
inline constexpr uint8_t kFragNeeded = 4;
// Redirect code (RFC 792): for the host
inline constexpr uint8_t kRedirectHost = 1;
// Time exceeded code
inline constexpr uint8_t kTtlExceeded = 0;

// RFC 1812 4.3.2.3: an ICMP error carries as much of the original datagram as fits in 576
// bytes in all.
inline constexpr size_t kMaxErrorLen = 576;

inline bool is_error_type(uint8_t type) {
    return type == kDestUnreachable || type == 4 /* source quench */ || type == kRedirect ||
           type == kTimeExceeded || type == kParameterProblem;
}
}  // namespace icmp

// RFC 1812 4.3.2.7: no ICMP error about an ICMP error, a non-first fragment, a packet to a
// broadcast or multicast address or from an address that does not name a single host.
// `ip` points at a header check_ipv4 accepted.
bool icmp_error_allowed(const uint8_t *ip, size_t len);

// An error of `type`/`code` about the datagram `orig` (orig_len bytes from its IP header),
// sent from `src` back to the datagram's source. `rest` is the 32-bit word after the
// checksum in host order (the next-hop MTU for fragmentation needed, RFC 1191).
size_t build_icmp_error(uint8_t *out, size_t cap, uint8_t type, uint8_t code, uint32_t rest,
                        ip4_addr src, const uint8_t *orig, size_t orig_len, uint16_t ip_id);

// The echo reply to the echo request `req` (a whole IPv4 packet, already checked). The reply
// goes from the address that was pinged back to the sender, without the request's IP options.
// Returns 0 if the request is truncated or its ICMP checksum is wrong.
size_t build_echo_reply(uint8_t *out, size_t cap, const uint8_t *req, size_t req_len,
                        uint16_t ip_id);

// Writes a 20-byte IPv4 header (no options, checksum set).
void write_ipv4_header(uint8_t *out, ip4_addr src, ip4_addr dst, uint8_t proto, uint16_t total_len,
                       uint16_t id, uint8_t ttl, uint8_t tos);

}  // namespace ssw
