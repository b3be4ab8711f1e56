// Address translation in place (nat::rewrite) on crafted packets: UDP checksums of zero and
// of all ones, echo and quotes left alone, no-ops, and refusals that leave the packet as it
// was.
#include "tests/dataplane/packet/nat_rewrite_reference.h"

namespace ssw {
namespace {

using namespace nat_rewrite_test;

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
