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
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/packet/nat_rewrite.h"

namespace ssw {
namespace {

using bytes = std::vector<uint8_t>;

constexpr uint8_t kTcp = 6, kUdp = 17, kIcmp = 1;

// ---- a reference checksum: big-endian 16-bit words, summed in 64 bits, folded at the end ----

uint64_t ref_add(uint64_t sum, const uint8_t *p, size_t n) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += uint64_t(p[i]) << 8 | p[i + 1];
    if (n & 1) sum += uint64_t(p[n - 1]) << 8;
    return sum;
}
uint16_t ref_finish(uint64_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(~sum);
}
uint64_t ref_pseudo(uint32_t src, uint32_t dst, uint8_t proto, size_t len) {
    return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) + proto + len;
}

void put16(uint8_t *p, uint16_t v) {
    p[0] = uint8_t(v >> 8);
    p[1] = uint8_t(v);
}
uint16_t get16(const uint8_t *p) { return uint16_t(p[0] << 8 | p[1]); }
void put32(uint8_t *p, uint32_t v) {
    put16(p, uint16_t(v >> 16));
    put16(p + 2, uint16_t(v));
}
uint32_t get32(const uint8_t *p) { return uint32_t(get16(p)) << 16 | get16(p + 2); }
uint32_t raw_of(uint32_t host) { return ip4_addr(host).be().raw(); }

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

bool later_fragment(const ip_spec &s) { return (s.frag & 0x1fff) != 0; }

bytes build(const ip_spec &s);

// The full transport segment with its checksum computed from scratch.
bytes build_segment(const ip_spec &s) {
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
bytes build(const ip_spec &s) {
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
ip_spec translated(const ip_spec &s, size_t field, uint32_t old_a, uint32_t new_a) {
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

const char *kind_name(kind k) {
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
ip_spec random_packet(packet_gen &g, kind k, size_t field, uint32_t x) {
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
bool check_one(const ip_spec &s, size_t field, uint32_t x, uint32_t y, std::string &what) {
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

void run_case(kind k, uint32_t seed, int n = 20000) {
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

TEST(NatRewrite, Tcp) { run_case(kind::tcp, 1); }
TEST(NatRewrite, Udp) { run_case(kind::udp, 2); }
TEST(NatRewrite, IcmpEcho) { run_case(kind::icmp_echo, 3); }
TEST(NatRewrite, OtherProtocols) { run_case(kind::other, 4); }
TEST(NatRewrite, IpOptions) { run_case(kind::options, 5); }
TEST(NatRewrite, FirstFragments) { run_case(kind::first_fragment, 6); }
TEST(NatRewrite, LaterFragments) { run_case(kind::later_fragment, 7); }
TEST(NatRewrite, IcmpErrors) { run_case(kind::icmp_error, 8); }

// The builder itself: what it computes verifies with the dataplane's checksum code, and a
// translated description differs where it should (so the comparisons above can fail).
TEST(NatRewrite, ReferenceBuilderIsSound) {
    packet_gen g(9);
    for (int i = 0; i < 2000; ++i) {
        ip_spec s = random_packet(g, kind::icmp_error, nat::kDstOffset, 0x0a000001);
        s.quote->src = 0x0a000001;
        bytes p = build(s);
        const size_t ihl = 20 + s.options.size();
        EXPECT_TRUE(csum::verify(p.data(), ihl));
        EXPECT_TRUE(csum::verify(p.data() + ihl, p.size() - ihl)) << "ICMP checksum";
        EXPECT_TRUE(csum::verify(p.data() + ihl + 8, 20 + s.quote->options.size()))
            << "quoted header";
        const bytes t = build(translated(s, nat::kDstOffset, 0x0a000001, 0x0a000002));
        EXPECT_NE(p, t);
        EXPECT_EQ(get32(&t[ihl + 8 + 12]), 0x0a000002u) << "quoted source translated";
    }
    ip_spec tcp;
    g.header(tcp, 5, 5);
    g.transport(tcp, kTcp);
    bytes p = build(tcp);
    uint64_t sum =
        ref_add(ref_pseudo(tcp.src, tcp.dst, kTcp, p.size() - 20), p.data() + 20, p.size() - 20);
    EXPECT_EQ(ref_finish(sum), 0) << "TCP checksum verifies over the pseudo-header";
}

// ---- crafted cases ----

TEST(NatRewrite, UdpZeroChecksumStaysZero) {
    packet_gen g(10);
    for (int i = 0; i < 200; ++i) {
        ip_spec s;
        g.header(s, 5, 5);
        g.transport(s, kUdp);
        s.udp_no_checksum = true;
        s.dst = 0xc0a80b03;
        bytes p = build(s);
        drop_reason why{};
        ASSERT_TRUE(nat::rewrite(p.data(), p.size(), nat::kDstOffset, raw_of(0xc0a80a03), why));
        EXPECT_EQ(get16(&p[26]), 0) << "a UDP checksum of 0 means none and stays 0";
        EXPECT_EQ(get32(&p[16]), 0xc0a80a03u);
        EXPECT_TRUE(csum::verify(p.data(), 20));
    }
}

// A UDP datagram whose checksum, after translation, computes to 0: it must go out as 0xffff
// (RFC 768), since 0 would mean "no checksum".
TEST(NatRewrite, UdpChecksumComputingToZeroIsSentAsAllOnes) {
    const uint32_t x = 0xc0a80b03, y = 0xc0a80a03;
    ip_spec s;
    s.src = 0x0a000001;
    s.dst = y;
    s.proto = kUdp;
    s.l4 = bytes(16, 0x5a);
    s.keep = s.l4.size();
    // Choose the last payload word so that the sum with destination y folds to 0xffff.
    put16(&s.l4[4], uint16_t(s.l4.size()));
    put16(&s.l4[6], 0);
    put16(&s.l4[14], 0);
    uint64_t sum = ref_add(ref_pseudo(s.src, y, kUdp, s.l4.size()), s.l4.data(), s.l4.size());
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    put16(&s.l4[14], uint16_t(0xffff - sum));
    sum = ref_add(ref_pseudo(s.src, y, kUdp, s.l4.size()), s.l4.data(), s.l4.size());
    ASSERT_EQ(ref_finish(sum), 0) << "the crafted datagram's checksum computes to 0";

    // Before translation (destination x) its checksum is an ordinary value.
    s.dst = x;
    bytes p = build(s);
    ASSERT_NE(get16(&p[26]), 0);
    ASSERT_NE(get16(&p[26]), 0xffff);
    drop_reason why{};
    ASSERT_TRUE(nat::rewrite(p.data(), p.size(), nat::kDstOffset, raw_of(y), why));
    EXPECT_EQ(get16(&p[26]), 0xffff);
    EXPECT_EQ(p, build(translated(s, nat::kDstOffset, x, y)));

    // And back: a checksum sent as 0xffff translates like the 0 it stands for.
    ASSERT_TRUE(nat::rewrite(p.data(), p.size(), nat::kDstOffset, raw_of(x), why));
    EXPECT_EQ(p, build(s));

    // The same inside an ICMP error's quote.
    ip_spec err;
    err.src = 0x0a000063;
    err.dst = x;
    err.proto = kIcmp;
    err.l4 = {3, 3, 0, 0, 0, 0, 0, 0};
    auto q = std::make_shared<ip_spec>();
    q->src = x;
    q->dst = s.src;
    q->proto = kUdp;
    q->l4 = s.l4;
    q->keep = 8;
    q->is_quote = true;
    // Inside the quote the addresses are swapped; the sum is the same (the pseudo-header adds
    // both).
    err.quote = q;
    err.keep = 8 + 20 + 8;
    bytes e = build(err);
    ASSERT_TRUE(nat::rewrite(e.data(), e.size(), nat::kDstOffset, raw_of(y), why));
    EXPECT_EQ(get16(&e[20 + 8 + 20 + 6]), 0xffff) << "quoted UDP checksum";
    EXPECT_EQ(e, build(translated(err, nat::kDstOffset, x, y)));
}

TEST(NatRewrite, IcmpEchoChecksumUnchanged) {
    packet_gen g(11);
    for (int i = 0; i < 500; ++i) {
        ip_spec s;
        g.header(s, 5, 8);
        g.transport(s, kIcmp);
        bytes p = build(s);
        const size_t ihl = 20 + s.options.size();
        const bytes l4_before(p.begin() + long(ihl), p.end());
        drop_reason why{};
        ASSERT_TRUE(nat::rewrite(p.data(), p.size(), i % 2 ? nat::kSrcOffset : nat::kDstOffset,
                                 raw_of(g.u32() | 1), why));
        EXPECT_EQ(bytes(p.begin() + long(ihl), p.end()), l4_before);
        EXPECT_TRUE(csum::verify(p.data(), ihl));
    }
}

// An ICMP error quoting a packet of someone else: only the outer address changes; the quote
// and the ICMP checksum stay as they were.
TEST(NatRewrite, QuoteOfAnotherAddressLeftAlone) {
    packet_gen g(15);
    for (size_t field : {nat::kSrcOffset, nat::kDstOffset}) {
        for (int i = 0; i < 200; ++i) {
            const uint32_t x = 0xc0a80b03, y = 0xc0a80a03;
            ip_spec s = random_packet(g, kind::icmp_error, field, x);
            uint32_t &inner = field == nat::kDstOffset ? s.quote->src : s.quote->dst;
            inner = 0x0a000000 | g.below(1 << 24);
            bytes p = build(s);
            const size_t ihl = 20 + s.options.size();
            const bytes icmp_before(p.begin() + long(ihl), p.end());
            drop_reason why{};
            ASSERT_TRUE(nat::rewrite(p.data(), p.size(), field, raw_of(y), why));
            EXPECT_EQ(bytes(p.begin() + long(ihl), p.end()), icmp_before);
            EXPECT_EQ(get32(&p[field]), y);
            EXPECT_TRUE(csum::verify(p.data(), ihl));
        }
    }
}

TEST(NatRewrite, SameAddressIsANoOp) {
    packet_gen g(12);
    for (kind k : {kind::tcp, kind::udp, kind::icmp_error, kind::other}) {
        for (size_t field : {nat::kSrcOffset, nat::kDstOffset}) {
            const uint32_t x = g.u32();
            bytes p = build(random_packet(g, k, field, x));
            const bytes before = p;
            drop_reason why{};
            EXPECT_TRUE(nat::rewrite(p.data(), p.size(), field, raw_of(x), why));
            EXPECT_EQ(p, before) << kind_name(k);
        }
    }
}

// ---- refusals: the packet stays exactly as it was ----

void expect_refused(bytes p, size_t field, uint32_t y, drop_reason want, const std::string &what) {
    const bytes before = p;
    drop_reason why = drop_reason::no_route;
    EXPECT_FALSE(nat::rewrite(p.data(), p.size(), field, raw_of(y), why)) << what;
    EXPECT_EQ(why, want) << what << ": " << name_of(why);
    EXPECT_EQ(p, before) << what << ": a refused packet must be unchanged";
}

TEST(NatRewrite, TruncatedTransportRefused) {
    packet_gen g(13);
    for (uint8_t proto : {kTcp, kUdp}) {
        const size_t need = proto == kTcp ? 18 : 8;
        for (size_t keep = 0; keep < need; ++keep) {
            for (bool fragment : {false, true}) {
                for (size_t field : {nat::kSrcOffset, nat::kDstOffset}) {
                    ip_spec s;
                    g.header(s, 5, 7);
                    g.transport(s, proto);
                    s.frag = fragment ? 0x2000 : 0x4000;
                    s.l4 = g.random_bytes(keep);  // the whole datagram holds `keep` bytes
                    s.keep = keep;
                    expect_refused(build(s), field, g.u32(), drop_reason::nat_l4_truncated,
                                   (proto == kTcp ? "tcp" : "udp") + std::string(" with ") +
                                       std::to_string(keep) + " bytes" +
                                       (fragment ? " (first fragment)" : ""));
                }
            }
        }
        // Exactly enough: translated.
        ip_spec s;
        g.header(s, 5, 5);
        g.transport(s, proto);
        s.l4.resize(need);
        s.keep = need;
        bytes p = build(s);
        drop_reason why{};
        EXPECT_TRUE(nat::rewrite(p.data(), p.size(), nat::kDstOffset, raw_of(0x01020304), why));
        EXPECT_EQ(p, build(translated(s, nat::kDstOffset, s.dst, 0x01020304)));
    }
    // A later fragment carries no transport header: a few bytes are fine.
    ip_spec later;
    g.header(later, 5, 5);
    later.proto = kTcp;
    later.frag = 0x0010;
    later.l4 = g.random_bytes(3);
    later.keep = 3;
    bytes p = build(later);
    drop_reason why{};
    EXPECT_TRUE(nat::rewrite(p.data(), p.size(), nat::kSrcOffset, raw_of(0x01020304), why));
    EXPECT_EQ(p, build(translated(later, nat::kSrcOffset, later.src, 0x01020304)));
}

TEST(NatRewrite, TruncatedIcmpQuoteRefused) {
    packet_gen g(14);
    const uint32_t x = 0xc0a80b03, y = 0xc0a80a03;
    auto error_with_quote = [&](const bytes &quote, uint8_t type) {
        ip_spec s;
        g.header(s, 5, 6);
        s.dst = x;
        s.proto = kIcmp;
        s.l4 = g.random_bytes(8);
        s.l4[0] = type;
        s.l4.insert(s.l4.end(), quote.begin(), quote.end());
        s.keep = s.l4.size();
        return build(s);
    };
    for (uint8_t type : {uint8_t(3), uint8_t(11), uint8_t(12)}) {
        // Fewer than 8 bytes of ICMP header.
        for (size_t n = 1; n < 8; ++n) {
            ip_spec s;
            g.header(s, 5, 5);
            s.dst = x;
            s.proto = kIcmp;
            s.l4 = g.random_bytes(n);
            s.l4[0] = type;
            s.keep = n;
            expect_refused(build(s), nat::kDstOffset, y, drop_reason::nat_icmp_quote_truncated,
                           "ICMP error of " + std::to_string(n) + " bytes");
        }
        // A valid quoted header to cut and damage.
        ip_spec q;
        g.header(q, 6, 6);  // 24-byte header
        g.transport(q, kUdp);
        q.src = x;
        q.is_quote = true;
        q.keep = 8;
        const bytes quote = build(q);
        ASSERT_EQ(quote.size(), 32u);
        // Less than 20 bytes quoted.
        for (size_t n = 0; n < 20; ++n)
            expect_refused(error_with_quote(bytes(quote.begin(), quote.begin() + long(n)), type),
                           nat::kDstOffset, y, drop_reason::nat_icmp_quote_truncated,
                           "quote of " + std::to_string(n) + " bytes");
        // An IHL beyond the quote: 24-byte header, 20..23 bytes quoted.
        for (size_t n = 20; n < 24; ++n)
            expect_refused(error_with_quote(bytes(quote.begin(), quote.begin() + long(n)), type),
                           nat::kDstOffset, y, drop_reason::nat_icmp_quote_truncated,
                           "24-byte header, " + std::to_string(n) + " bytes quoted");
        bytes big = quote;
        big[0] = 0x4f;  // 60-byte header in a 32-byte quote
        expect_refused(error_with_quote(big, type), nat::kDstOffset, y,
                       drop_reason::nat_icmp_quote_truncated, "IHL 15 in a 32-byte quote");
        bytes small = quote;
        small[0] = 0x44;  // IHL below 5
        expect_refused(error_with_quote(small, type), nat::kDstOffset, y,
                       drop_reason::nat_icmp_quote_truncated, "IHL 4");
        for (uint8_t version : {0, 5, 6, 15}) {
            bytes v = quote;
            v[0] = uint8_t(version << 4 | 6);
            expect_refused(error_with_quote(v, type), nat::kDstOffset, y,
                           drop_reason::nat_icmp_quote_truncated,
                           "version " + std::to_string(version));
        }
        // The intact quote is translated.
        bytes ok = error_with_quote(quote, type);
        drop_reason why{};
        EXPECT_TRUE(nat::rewrite(ok.data(), ok.size(), nat::kDstOffset, raw_of(y), why));
        EXPECT_EQ(get32(&ok[ok.size() - 32 + 12]), y);
    }
}

}  // namespace
}  // namespace ssw
