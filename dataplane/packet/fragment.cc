#include "dataplane/packet/fragment.h"

#include <cstring>

#include <rte_ip.h>

#include "dataplane/packet/ipv4.h"

namespace ssw {

int copied_options(const uint8_t *hdr, size_t hlen, uint8_t *out) {
    size_t n = 0;
    for (size_t i = 20; i < hlen;) {
        uint8_t type = hdr[i];
        if (type == 0) break;  // end of options list
        if (type == 1) {       // no-operation
            ++i;
            continue;
        }
        if (i + 1 >= hlen) return -1;
        uint8_t olen = hdr[i + 1];
        if (olen < 2 || i + olen > hlen) return -1;
        if (type & 0x80) {
            std::memcpy(out + n, hdr + i, olen);
            n += olen;
        }
        i += olen;
    }
    while (n % 4) out[n++] = 0;
    return int(n);
}

int fragment_ipv4(const uint8_t *pkt, size_t len, uint16_t mtu,
                  const std::function<uint8_t *(size_t)> &emit) {
    const auto *ip = reinterpret_cast<const rte_ipv4_hdr *>(pkt);
    const size_t hlen = ihl_bytes(ip);
    const size_t tlen = total_length(ip);
    if (tlen > len || tlen <= hlen) return -1;

    uint8_t later_opts[40];
    int later_olen = copied_options(pkt, hlen, later_opts);
    if (later_olen < 0) return -1;

    const uint16_t frag = frag_field(ip);
    const uint16_t base_offset = frag & 0x1fff;  // in 8-byte units
    const bool last_has_mf = frag & 0x2000;

    const uint8_t *payload = pkt + hlen;
    const size_t payload_len = tlen - hlen;
    // A piece that ends beyond 65535 bytes belongs to no valid datagram (RFC 791: 13-bit
    // offsets in 8-byte units); its offsets would wrap into the flags.
    if (size_t(base_offset) * 8 + payload_len > 65535 - 20) return -1;
    size_t done = 0;
    int count = 0;
    while (done < payload_len) {
        const size_t h = count == 0 ? hlen : 20 + size_t(later_olen);
        if (mtu < h + 8) return -1;
        size_t chunk = payload_len - done;
        const bool last = h + chunk <= mtu;
        if (!last) chunk = (mtu - h) & ~size_t(7);

        uint8_t *out = emit(h + chunk);
        if (!out) return -1;
        std::memcpy(out, pkt, 20);
        if (count == 0)
            std::memcpy(out + 20, pkt + 20, hlen - 20);
        else
            std::memcpy(out + 20, later_opts, later_olen);
        std::memcpy(out + h, payload + done, chunk);

        auto *fh = reinterpret_cast<rte_ipv4_hdr *>(out);
        fh->version_ihl = uint8_t(0x40 | (h / 4));
        fh->total_length = be16_t(uint16_t(h + chunk)).raw();
        uint16_t f = uint16_t(base_offset + done / 8);
        if (!last || last_has_mf) f |= 0x2000;
        fh->fragment_offset = be16_t(f).raw();
        set_ipv4_checksum(fh);

        done += chunk;
        ++count;
    }
    return count;
}

}  // namespace ssw
