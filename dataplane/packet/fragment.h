// IPv4 fragmentation (RFC 791 3.2, RFC 1812 5.2.6) of a datagram without DF that exceeds
// the egress MTU. The datagram may itself be a fragment: offsets and the final MF bit carry
// over. Options go into the first fragment whole and into later ones only when their copied
// flag is set (RFC 791 3.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace ssw {

// Splits `pkt` (len bytes, a checked IPv4 datagram) into fragments of at most `mtu` bytes.
// For each fragment, calls emit(buffer_size) for a buffer to write it into (nullptr aborts)
// and writes the fragment there. Returns the number of fragments, or -1 when the datagram
// cannot be fragmented (malformed options, MTU too small for header plus 8 bytes, abort).
int fragment_ipv4(const uint8_t *pkt, size_t len, uint16_t mtu,
                  const std::function<uint8_t *(size_t)> &emit);

// The options of header `hdr` (hlen bytes) that later fragments repeat, padded to a multiple
// of 4 bytes with end-of-options. Returns their length, or -1 for malformed options.
int copied_options(const uint8_t *hdr, size_t hlen, uint8_t *out);

}  // namespace ssw
