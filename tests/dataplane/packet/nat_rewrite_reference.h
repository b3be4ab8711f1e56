// Address translation in place (nat::rewrite): on many random packets, the incremental
// checksum updates must give exactly what a full recomputation gives — IPv4 header, TCP and
// UDP through the pseudo-header, and for ICMP errors the quoted header, the quoted transport
// checksum and the ICMP checksum (RFC 5508 3.2). Packets that cannot be translated correctly
// are refused and left unchanged.
//
// The test builds every packet from a description, with every checksum computed from scratch
// by its own code (below, not dataplane/packet/checksum.h). The expected result of a rewrite is the
// same description with the address changed, built from scratch again; the rewritten packet
// must equal it byte for byte.
//
// This header holds that reference: packet descriptions, their builder, random packets and
// the check of one rewrite. nat_rewrite_test.cc runs it on random packets,
// nat_rewrite_cases_test.cc on crafted ones.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/packet/nat_rewrite.h"

// In a named namespace, not an anonymous one: gtest needs one fixture type per suite across
// the test files that share it.
namespace ssw::nat_rewrite_test {

using bytes = std::vector<uint8_t>;

inline constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1;

// ---- a reference checksum: big-endian 16-bit words, summed in 64 bits, folded at the end ----

inline uint64_t ref_add(uint64_t sum, const uint8_t *p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint64_t(p[i]) << 8 | p[i + 1];
    if (n & 1) sum += uint64_t(p[n - 1]) << 8;
    return sum;
}
inline uint16_t ref_finish(uint64_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}
inline uint64_t ref_pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len) {
    return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

inline void put16(uint8_t *p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
inline uint16_t get16(const uint8_t *p) { return uint16_t(p[0] << 8 | p[1]); }
inline void put32(uint8_t *p, uint32_t v) {
    put16(p, uint16_t(v >> 16));
    put16(p + 2, uint16_t(v));
}
inline uint32_t get32(const uint8_t *p) { return uint32_t(get16(p)) << 16 | get16(p + 2); }
inline uint32_t raw_of(uint32_t host) { return ip4_addr(host).be().raw(); }

// ---- packet descriptions ----

struct ip_spec {
    uint8_t tos = 0, ttl = 64;
    uint16_t id = 0;
    uint16_t frag = 0;  // flags and offset, host order
    bytes options;      // a multiple of 4, at most 40 bytes
    uint32_t src = 0, dst = 0;
    uint8_t proto = 0;
    // The whole transport segment. Its checksum field is computed by build(); for an ICMP
    // error, bytes 8.. are replaced by the quote.
    bytes l4;
    bool udp_no_checksum = false;
    // Transport bytes present: l4.size() for a whole packet, less in a first fragment or a
    // quote. A quote keeps the original total length; a fragment's is its own.
    size_t keep = 0;
    bool is_quote = false;
    // The addresses the transport checksum is computed with, when not src/dst: a quote that
    // holds only part of its checksum field keeps the bytes it had.
    bool pseudo_override = false;
    uint32_t pseudo_src = 0, pseudo_dst = 0;
    // ICMP errors: the quoted packet and how many of its transport bytes are quoted.
    std::shared_ptr<ip_spec> quote;
};

inline bool later_fragment(const ip_spec &s) { return (s.frag & 0x1fff) != 0; }

inline bytes build(const ip_spec &s);

// The full transport segment with its checksum computed from scratch.
inline bytes build_segment(const ip_spec &s) {
    bytes seg = s.l4;
    if (s.quote) {
        bytes q = build(*s.quote);
        seg.resize(8);
        seg.insert(seg.end(), q.begin(), q.end());
    }
    if (later_fragment(s)) return seg;  // no transport header here
    const uint32_t ps = s.pseudo_override ? s.pseudo_src : s.src;
    const uint32_t pd = s.pseudo_override ? s.pseudo_dst : s.dst;
    if (s.proto == kTcp && seg.size() >= 18) {
        put16(&seg[16], 0);
        put16(&seg[16],
              ref_finish(ref_add(ref_pseudo(ps, pd, kTcp, seg.size()), seg.data(), seg.size())));
    } else if (s.proto == kUdp && seg.size() >= 8) {
        put16(&seg[4], uint16_t(seg.size()));
        put16(&seg[6], 0);
        if (!s.udp_no_checksum) {
            uint16_t ck =
                ref_finish(ref_add(ref_pseudo(ps, pd, kUdp, seg.size()), seg.data(), seg.size()));
            put16(&seg[6], ck == 0 ? 0xffff : ck);  // RFC 768: a computed 0 is sent as all ones
        }
    } else if (s.proto == kIcmp && seg.size() >= 4) {
        put16(&seg[2], 0);
        put16(&seg[2], ref_finish(ref_add(0, seg.data(), seg.size())));
    }
    return seg;
}

// The packet (a quote: its first bytes), every checksum computed from scratch.
inline bytes build(const ip_spec &s) {
    const bytes seg = build_segment(s);
    const size_t ihl = 20 + s.options.size();
    const size_t keep = std::min(s.keep, seg.size());
    bytes p(ihl + keep);
    p[0] = uint8_t(0x40 | ihl / 4);
    p[1] = s.tos;
    put16(&p[2], uint16_t(s.is_quote ? ihl + seg.size() : ihl + keep));
    put16(&p[4], s.id);
    put16(&p[6], s.frag);
    p[8] = s.ttl;
    p[9] = s.proto;
    put32(&p[12], s.src);
    put32(&p[16], s.dst);
    std::copy(s.options.begin(), s.options.end(), p.begin() + 20);
    put16(&p[10], ref_finish(ref_add(0, p.data(), ihl)));
    std::copy(seg.begin(), seg.begin() + long(keep), p.begin() + long(ihl));
    return p;
}

// The description after translating `field` (nat::kSrcOffset or kDstOffset) from old_a to
// new_a, as RFC 5508 3.2 says: the outer address, and the opposite address of a quote that
// names old_a.
inline ip_spec translated(const ip_spec &s, size_t field, uint32_t old_a, uint32_t new_a) {
    ip_spec t = s;
    (field == nat::kSrcOffset ? t.src : t.dst) = new_a;
    if (t.quote && !later_fragment(s)) {
        auto q = std::make_shared<ip_spec>(*s.quote);
        uint32_t &inner = field == nat::kSrcOffset ? q->dst : q->src;
        if (inner == old_a) {
            // A transport checksum only partly quoted cannot be fixed: its bytes stay.
            const size_t ck_end = q->proto == kTcp ? 18 : q->proto == kUdp ? 8 : 0;
            if (ck_end && q->keep < ck_end && !q->pseudo_override) {
                q->pseudo_override = true;
                q->pseudo_src = q->src;
                q->pseudo_dst = q->dst;
            }
            inner = new_a;
        }
        t.quote = q;
    }
    return t;
}

// ---- random descriptions ----

class packet_gen {
public:
    explicit packet_gen(uint32_t seed) : rng_(seed) {}

    uint32_t u32() { return uint32_t(rng_()); }
    uint32_t below(uint32_t n) { return uint32_t(rng_() % n); }
    bool chance(unsigned percent) { return below(100) < percent; }
    bytes random_bytes(size_t n) {
        bytes b(n);
        for (auto &x : b) x = uint8_t(rng_());
        return b;
    }

    void header(ip_spec &s, unsigned min_ihl_words, unsigned max_ihl_words) {
        s.tos = uint8_t(u32());
        s.ttl = uint8_t(1 + below(255));
        s.id = uint16_t(u32());
        s.frag = chance(50) ? 0x4000 : 0;  // DF
        const unsigned ihl = min_ihl_words + below(max_ihl_words - min_ihl_words + 1);
        s.options = random_bytes((ihl - 5) * 4);
        s.src = u32();
        s.dst = u32();
    }
    bytes tcp_segment() {
        const size_t hlen = 20 + 4 * below(11);
        return random_bytes(hlen + below(200));
    }
    bytes udp_segment() { return random_bytes(8 + below(200)); }
    bytes icmp_echo() {
        bytes b = random_bytes(8 + below(120));
        b[0] = chance(50) ? 8 : 0;
        b[1] = 0;
        return b;
    }
    // A transport segment of `proto` (anything else: random bytes).
    void transport(ip_spec &s, uint8_t proto) {
        s.proto = proto;
        if (proto == kTcp) {
            s.l4 = tcp_segment();
        } else if (proto == kUdp) {
            s.l4 = udp_segment();
            s.udp_no_checksum = chance(15);
        } else if (proto == kIcmp) {
            s.l4 = icmp_echo();
        } else {
            s.l4 = random_bytes(below(200));
        }
        s.keep = s.l4.size();
    }
    uint8_t other_proto() {
        for (;;) {
            uint8_t p = uint8_t(u32());
            if (p != kTcp && p != kUdp && p != kIcmp) return p;
        }
    }

private:
    std::mt19937 rng_;
};

enum class kind { tcp, udp, icmp_echo, other, options, first_fragment, later_fragment, icmp_error };

inline const char *kind_name(kind k) {
    switch (k) {
        case kind::tcp: return "tcp";
        case kind::udp: return "udp";
        case kind::icmp_echo: return "icmp_echo";
        case kind::other: return "other";
        case kind::options: return "options";
        case kind::first_fragment: return "first_fragment";
        case kind::later_fragment: return "later_fragment";
        case kind::icmp_error: return "icmp_error";
    }
    return "?";
}

// A random packet of kind k whose address at `field` is x.
inline ip_spec random_packet(packet_gen &g, kind k, size_t field, uint32_t x) {
    ip_spec s;
    const uint8_t protos[] = {kTcp, kUdp, kIcmp};
    switch (k) {
        case kind::tcp:
            g.header(s, 5, 5);
            g.transport(s, kTcp);
            break;
        case kind::udp:
            g.header(s, 5, 5);
            g.transport(s, kUdp);
            break;
        case kind::icmp_echo:
            g.header(s, 5, 5);
            g.transport(s, kIcmp);
            break;
        case kind::other:
            g.header(s, 5, 15);
            g.transport(s, g.other_proto());
            break;
        case kind::options:
            g.header(s, 6, 15);
            g.transport(s, protos[g.below(3)]);
            break;
        case kind::first_fragment: {
            g.header(s, 5, 10);
            g.transport(s, protos[g.below(3)]);
            s.frag = 0x2000;  // MF, offset 0
            // A multiple of 8 that still holds the transport checksum, less than the segment.
            const size_t min_keep = s.proto == kTcp ? 18 : 8;
            if (s.l4.size() < min_keep + 16) s.l4.resize(min_keep + 16 + g.below(64));
            const size_t max_units = (s.l4.size() - 1) / 8;
            const size_t min_units = (min_keep + 7) / 8;
            s.keep = 8 * (min_units + g.below(uint32_t(max_units - min_units + 1)));
            break;
        }
        case kind::later_fragment: {
            g.header(s, 5, 8);
            const uint8_t all[] = {kTcp, kUdp, kIcmp, g.other_proto()};
            s.proto = all[g.below(4)];
            s.l4 = g.random_bytes(g.below(300));  // the middle of some segment
            if (s.proto == kIcmp && !s.l4.empty() && g.chance(50))
                s.l4[0] = 3;  // looks like an error
            s.keep = s.l4.size();
            s.frag = uint16_t((g.chance(50) ? 0x2000 : 0) | (1 + g.below(0x1fff)));
            break;
        }
        case kind::icmp_error: {
            g.header(s, 5, 7);
            s.proto = kIcmp;
            const uint8_t types[] = {3, 11, 12, 4, 5};
            s.l4 = g.random_bytes(8);
            s.l4[0] = types[g.below(5)];
            s.l4[1] = uint8_t(g.below(16));
            // The quoted packet travelled the other way.
            auto q = std::make_shared<ip_spec>();
            g.header(*q, 5, 8);
            g.transport(*q, protos[g.below(3)]);
            q->is_quote = true;
            if (g.chance(5)) q->frag = uint16_t(0x2000 | (1 + g.below(100)));  // a later fragment
            // 8..N transport bytes, sometimes fewer (a partial checksum field, or none).
            const size_t n = g.chance(80) ? 8 + g.below(64) : g.below(20);
            q->keep = std::min(n, q->l4.size());
            uint32_t &inner = field == nat::kDstOffset ? q->src : q->dst;
            inner = g.chance(85) ? x : g.u32();  // sometimes quotes someone else
            if (g.chance(5))
                (field == nat::kDstOffset ? q->dst : q->src) = x;  // x on the other side too
            s.quote = q;
            s.keep = 8 + 20 + q->options.size() + q->keep;
            break;
        }
    }
    (field == nat::kSrcOffset ? s.src : s.dst) = x;
    return s;
}

// Rewrites a copy of the packet of `s` and compares with the translated description built
// from scratch. Returns false (after reporting) on the first mismatch.
inline bool check_one(const ip_spec &s, size_t field, uint32_t x, uint32_t y, std::string &what) {
    bytes pkt = build(s);
    const bytes expect = build(translated(s, field, x, y));
    drop_reason why = drop_reason::no_route;
    if (!nat::rewrite(pkt.data(), pkt.size(), field, raw_of(y), why)) {
        what = "refused (" + std::string(name_of(why)) + ")";
        return false;
    }
    if (pkt != expect) {
        size_t i = 0;
        while (pkt[i] == expect[i]) ++i;
        what = "byte " + std::to_string(i) + " of " + std::to_string(pkt.size()) + " is " +
               std::to_string(pkt[i]) + ", a full recomputation gives " + std::to_string(expect[i]);
        return false;
    }
    return true;
}

inline void run_case(kind k, uint32_t seed, int n = 20000) {
    packet_gen g(seed);
    for (size_t field : {nat::kSrcOffset, nat::kDstOffset}) {
        int failures = 0;
        for (int i = 0; i < n && failures < 5; ++i) {
            const uint32_t x = g.u32();
            uint32_t y = g.u32();
            if (y == x) ++y;
            const ip_spec s = random_packet(g, k, field, x);
            std::string what;
            if (!check_one(s, field, x, y, what)) {
                ++failures;
                ADD_FAILURE() << kind_name(k) << " packet " << i << " (seed " << seed << "), "
                              << (field == nat::kSrcOffset ? "source" : "destination") << " "
                              << ip4_addr(x).to_string() << " -> " << ip4_addr(y).to_string()
                              << ": " << what;
            }
        }
    }
}

}  // namespace ssw::nat_rewrite_test
