// ICMP messages the router originates: error layout (RFC 792, RFC 1812 4.3.2.3), echo replies,
// and the RFC 1812 4.3.2.7 rules for when an error may be sent at all.
#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <rte_ip.h>

#include "dataplane/packet/icmp.h"
#include "dataplane/packet/ipv4.h"

namespace ssw {
namespace {

const ip4_addr kRouter(192, 0, 2, 254);
const ip4_addr kHostA(198, 51, 100, 1);
const ip4_addr kHostB(203, 0, 113, 9);

uint16_t get16(const uint8_t *p) { return uint16_t(p[0] << 8 | p[1]); }
uint32_t get32(const uint8_t *p) { return uint32_t(get16(p)) << 16 | get16(p + 2); }
ip4_addr get_ip(const uint8_t *p) { return ip4_addr(get32(p)); }

// An IPv4 datagram: header with `opt_len` option bytes (NOPs unless given), protocol,
// payload; checksummed.
std::vector<uint8_t> make_datagram(ip4_addr src, ip4_addr dst, uint8_t proto,
                                   const std::vector<uint8_t> &payload, size_t opt_len = 0,
                                   uint16_t frag = 0, uint8_t tos = 0) {
    const size_t hlen = 20 + opt_len;
    std::vector<uint8_t> p(hlen + payload.size());
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(p.data());
    ip->version_ihl = uint8_t(0x40 | hlen / 4);
    ip->type_of_service = tos;
    ip->total_length = be16_t(uint16_t(p.size())).raw();
    ip->packet_id = be16_t(0x4242).raw();
    ip->fragment_offset = be16_t(frag).raw();
    ip->time_to_live = 17;
    ip->next_proto_id = proto;
    ip->src_addr = src.be().raw();
    ip->dst_addr = dst.be().raw();
    std::memset(p.data() + 20, 1, opt_len);
    std::copy(payload.begin(), payload.end(), p.begin() + long(hlen));
    set_ipv4_checksum(ip);
    return p;
}

// An ICMP echo request message (type 8) with a correct checksum.
std::vector<uint8_t> make_echo(uint16_t id, uint16_t seq, const std::vector<uint8_t> &data,
                               uint8_t type = icmp::kEchoRequest) {
    std::vector<uint8_t> m(8 + data.size());
    m[0] = type;
    m[1] = 0;
    m[4] = uint8_t(id >> 8), m[5] = uint8_t(id);
    m[6] = uint8_t(seq >> 8), m[7] = uint8_t(seq);
    std::copy(data.begin(), data.end(), m.begin() + 8);
    uint16_t c = csum::compute(m.data(), m.size());
    std::memcpy(m.data() + 2, &c, 2);
    return m;
}

std::vector<uint8_t> random_bytes(std::mt19937 &rng, size_t n) {
    std::vector<uint8_t> v(n);
    for (auto &b : v) b = uint8_t(rng());
    return v;
}

// Checks the IP header of a message the router originated.
void expect_router_header(const uint8_t *out, size_t len, ip4_addr src, ip4_addr dst) {
    EXPECT_EQ(out[0], 0x45);
    EXPECT_EQ(get16(out + 2), len);
    EXPECT_EQ(get16(out + 6) & 0xbfff, 0) << "fragment offset or MF set";
    EXPECT_EQ(out[8], 64);
    EXPECT_EQ(out[9], IPPROTO_ICMP);
    EXPECT_TRUE(csum::verify(out, 20));
    EXPECT_EQ(get_ip(out + 12), src);
    EXPECT_EQ(get_ip(out + 16), dst);
}

TEST(IcmpError, LayoutForTimeExceeded) {
    std::mt19937 rng(41);
    auto orig = make_datagram(kHostA, kHostB, 17, random_bytes(rng, 100));
    std::vector<uint8_t> out(1600, 0xcc);
    size_t n = build_icmp_error(out.data(), out.size(), icmp::kTimeExceeded, icmp::kTtlExceeded, 0,
                                kRouter, orig.data(), orig.size(), 0x7777);
    ASSERT_EQ(n, 20 + 8 + orig.size());
    expect_router_header(out.data(), n, kRouter, kHostA);
    EXPECT_EQ(get16(out.data() + 4), 0x7777);
    EXPECT_EQ(out[1], 0xc0) << "RFC 1812 4.3.2.5: internetwork control precedence";
    const uint8_t *ic = out.data() + 20;
    EXPECT_EQ(ic[0], icmp::kTimeExceeded);
    EXPECT_EQ(ic[1], icmp::kTtlExceeded);
    EXPECT_EQ(get32(ic + 4), 0u);
    EXPECT_TRUE(csum::verify(ic, n - 20));
    EXPECT_EQ(std::memcmp(ic + 8, orig.data(), orig.size()), 0);
    EXPECT_EQ(out[n], 0xcc) << "wrote past the message";
}

TEST(IcmpError, FragNeededCarriesMtuInNetworkOrder) {
    std::mt19937 rng(42);
    auto orig = make_datagram(kHostA, kHostB, 6, random_bytes(rng, 40), 0, 0x4000);
    uint8_t out[600];
    size_t n = build_icmp_error(out, sizeof out, icmp::kDestUnreachable, icmp::kFragNeeded, 1400,
                                kRouter, orig.data(), orig.size(), 1);
    ASSERT_EQ(n, 20 + 8 + orig.size());
    const uint8_t *ic = out + 20;
    EXPECT_EQ(ic[0], 3);
    EXPECT_EQ(ic[1], 4);
    // RFC 1191: unused (16 bits) then the next-hop MTU.
    EXPECT_EQ(ic[4], 0);
    EXPECT_EQ(ic[5], 0);
    EXPECT_EQ(ic[6], 1400 >> 8);
    EXPECT_EQ(ic[7], 1400 & 0xff);
    EXPECT_TRUE(csum::verify(ic, n - 20));
}

TEST(IcmpError, QuoteLimitedTo576InAll) {
    std::mt19937 rng(43);
    for (size_t payload : {527u, 528u, 529u, 600u, 1480u, 8000u}) {
        auto orig = make_datagram(kHostA, kHostB, 17, random_bytes(rng, payload));
        std::vector<uint8_t> out(10000);
        size_t n = build_icmp_error(out.data(), out.size(), icmp::kDestUnreachable,
                                    icmp::kNetUnreachable, 0, kRouter, orig.data(), orig.size(), 2);
        const size_t want = std::min<size_t>(576, 28 + orig.size());
        ASSERT_EQ(n, want) << payload;
        expect_router_header(out.data(), n, kRouter, kHostA);
        EXPECT_TRUE(csum::verify(out.data() + 20, n - 20));
        EXPECT_EQ(std::memcmp(out.data() + 28, orig.data(), n - 28), 0);
    }
}

TEST(IcmpError, QuoteStopsAtTotalLengthNotFramePadding) {
    std::mt19937 rng(44);
    auto orig = make_datagram(kHostA, kHostB, 17, random_bytes(rng, 6));
    const size_t real = orig.size();
    orig.resize(46, 0xee);  // minimum Ethernet payload
    uint8_t out[200];
    size_t n = build_icmp_error(out, sizeof out, icmp::kDestUnreachable, icmp::kHostUnreachable, 0,
                                kRouter, orig.data(), orig.size(), 3);
    ASSERT_EQ(n, 28 + real);
    EXPECT_TRUE(csum::verify(out + 20, n - 20));
}

TEST(IcmpError, QuoteOfTruncatedOriginal) {
    std::mt19937 rng(45);
    auto orig = make_datagram(kHostA, kHostB, 17, random_bytes(rng, 300));
    uint8_t out[600];
    size_t n = build_icmp_error(out, sizeof out, icmp::kDestUnreachable, icmp::kHostUnreachable, 0,
                                kRouter, orig.data(), 48, 3);
    ASSERT_EQ(n, 28u + 48u);
    EXPECT_EQ(std::memcmp(out + 28, orig.data(), 48), 0);
    EXPECT_TRUE(csum::verify(out + 20, n - 20));
}

TEST(IcmpError, OddQuoteLengthsChecksumCorrectly) {
    std::mt19937 rng(46);
    for (size_t payload = 0; payload < 600; ++payload) {
        auto orig = make_datagram(kHostA, kHostB, 17, random_bytes(rng, payload), 4 * (rng() % 11));
        uint8_t out[600];
        uint32_t rest = rng();
        size_t n = build_icmp_error(out, sizeof out, icmp::kParameterProblem, 0, rest, kRouter,
                                    orig.data(), orig.size(), 3);
        ASSERT_EQ(n, std::min<size_t>(576, 28 + orig.size()));
        ASSERT_TRUE(csum::verify(out, 20));
        ASSERT_TRUE(csum::verify(out + 20, n - 20)) << payload;
        ASSERT_EQ(get32(out + 24), rest);
    }
}

TEST(IcmpError, RefusedWhenBufferTooSmall) {
    std::mt19937 rng(47);
    auto orig = make_datagram(kHostA, kHostB, 17, random_bytes(rng, 100));
    std::vector<uint8_t> out(200, 0xcc);
    EXPECT_EQ(build_icmp_error(out.data(), 28 + orig.size() - 1, icmp::kTimeExceeded, 0, 0, kRouter,
                               orig.data(), orig.size(), 1),
              0u);
    EXPECT_EQ(build_icmp_error(out.data(), 28 + orig.size(), icmp::kTimeExceeded, 0, 0, kRouter,
                               orig.data(), orig.size(), 1),
              28 + orig.size());
}

TEST(EchoReply, MirrorsTheRequest) {
    std::mt19937 rng(48);
    for (size_t len : {0u, 1u, 2u, 3u, 7u, 56u, 57u, 1000u, 1472u}) {
        auto data = random_bytes(rng, len);
        auto req =
            make_datagram(kHostA, kRouter, IPPROTO_ICMP, make_echo(0xbeef, 77, data), 0, 0, 0x10);
        std::vector<uint8_t> out(1600, 0xcc);
        size_t n = build_echo_reply(out.data(), out.size(), req.data(), req.size(), 0x5151);
        ASSERT_EQ(n, 20 + 8 + len);
        expect_router_header(out.data(), n, kRouter, kHostA);
        EXPECT_EQ(out[1], 0x10) << "TOS copied";
        EXPECT_EQ(get16(out.data() + 4), 0x5151);
        const uint8_t *ic = out.data() + 20;
        EXPECT_EQ(ic[0], icmp::kEchoReply);
        EXPECT_EQ(ic[1], 0);
        EXPECT_EQ(get16(ic + 4), 0xbeef);
        EXPECT_EQ(get16(ic + 6), 77);
        EXPECT_TRUE(std::equal(data.begin(), data.end(), ic + 8));
        EXPECT_TRUE(csum::verify(ic, n - 20)) << len;
        EXPECT_EQ(out[n], 0xcc);
    }
}

TEST(EchoReply, ChecksumValidOnRandomRequests) {
    std::mt19937 rng(49);
    for (int i = 0; i < 20000; ++i) {
        auto data = random_bytes(rng, rng() % 200);
        // Bias towards all-ones and near-zero payloads.
        if (i % 4 == 1) std::fill(data.begin(), data.end(), 0xff);
        auto req = make_datagram(kHostA, kRouter, IPPROTO_ICMP,
                                 make_echo(uint16_t(rng()), uint16_t(rng()), data));
        uint8_t out[300];
        size_t n = build_echo_reply(out, sizeof out, req.data(), req.size(), 1);
        ASSERT_EQ(n, 28 + data.size());
        // The checksum must equal a full recomputation, not merely verify.
        uint8_t copy[300];
        std::memcpy(copy, out + 20, n - 20);
        copy[2] = copy[3] = 0;
        uint16_t full = csum::compute(copy, n - 20);
        uint16_t got;
        std::memcpy(&got, out + 22, 2);
        ASSERT_EQ(got, full) << i;
    }
}

TEST(EchoReply, DropsRequestOptions) {
    std::mt19937 rng(50);
    for (size_t opt = 4; opt <= 40; opt += 4) {
        auto data = random_bytes(rng, 33);
        auto req = make_datagram(kHostA, kRouter, IPPROTO_ICMP, make_echo(1, 2, data), opt);
        uint8_t out[200];
        size_t n = build_echo_reply(out, sizeof out, req.data(), req.size(), 9);
        ASSERT_EQ(n, 20 + 8 + data.size()) << opt;
        EXPECT_EQ(out[0], 0x45);
        EXPECT_EQ(get16(out + 2), n);
        EXPECT_TRUE(csum::verify(out, 20));
        EXPECT_EQ(out[20], icmp::kEchoReply);
        EXPECT_EQ(std::memcmp(out + 28, data.data(), data.size()), 0);
        EXPECT_TRUE(csum::verify(out + 20, n - 20));
    }
}

TEST(EchoReply, IgnoresEthernetPadding) {
    auto req = make_datagram(kHostA, kRouter, IPPROTO_ICMP, make_echo(5, 6, {1, 2, 3}));
    const size_t real = req.size();
    req.resize(46, 0xab);
    uint8_t out[100];
    size_t n = build_echo_reply(out, sizeof out, req.data(), req.size(), 9);
    ASSERT_EQ(n, real);
    EXPECT_TRUE(csum::verify(out + 20, n - 20));
}

TEST(EchoReply, RefusesTruncatedRequests) {
    auto req = make_datagram(kHostA, kRouter, IPPROTO_ICMP, make_echo(5, 6, {1, 2, 3, 4}));
    uint8_t out[100];
    // The frame is shorter than total length says: the ICMP part is cut.
    for (size_t len = 20; len < 28; ++len)
        EXPECT_EQ(build_echo_reply(out, sizeof out, req.data(), len, 1), 0u) << len;
    // Total length leaves less than an ICMP header.
    auto tiny = make_datagram(kHostA, kRouter, IPPROTO_ICMP, {8, 0, 0xf7, 0xff, 0, 0, 0});
    EXPECT_EQ(build_echo_reply(out, sizeof out, tiny.data(), tiny.size(), 1), 0u);
}

TEST(EchoReply, RefusesBadChecksumAndOtherTypes) {
    auto req = make_datagram(kHostA, kRouter, IPPROTO_ICMP, make_echo(5, 6, {1, 2, 3, 4, 5}));
    uint8_t out[100];
    ASSERT_NE(build_echo_reply(out, sizeof out, req.data(), req.size(), 1), 0u);
    for (size_t at = 20; at < req.size(); ++at) {
        auto bad = req;
        bad[at] ^= 0x04;
        EXPECT_EQ(build_echo_reply(out, sizeof out, bad.data(), bad.size(), 1), 0u) << at;
    }
    auto reply =
        make_datagram(kHostA, kRouter, IPPROTO_ICMP, make_echo(5, 6, {1}, icmp::kEchoReply));
    EXPECT_EQ(build_echo_reply(out, sizeof out, reply.data(), reply.size(), 1), 0u);
    auto ts = make_datagram(kHostA, kRouter, IPPROTO_ICMP, make_echo(5, 6, {1}, 13));
    EXPECT_EQ(build_echo_reply(out, sizeof out, ts.data(), ts.size(), 1), 0u);
}

TEST(EchoReply, RefusesSmallBuffer) {
    auto req = make_datagram(kHostA, kRouter, IPPROTO_ICMP, make_echo(5, 6, {1, 2, 3, 4}), 8);
    uint8_t out[100];
    EXPECT_EQ(build_echo_reply(out, 31, req.data(), req.size(), 1), 0u);
    EXPECT_EQ(build_echo_reply(out, 32, req.data(), req.size(), 1), 32u);
}

// An echo request whose ICMP part is all zero but for the type (identifier 0, sequence 0, no
// data) is valid; its reply is all zero, whose only valid checksum is 0xffff (an RFC 1624
// update would give 0x0000, which no receiver accepts).
TEST(EchoReply, AllZeroEchoGetsVerifiableReply) {
    for (size_t len : {0u, 2u, 31u}) {
        auto req = make_datagram(kHostA, kRouter, IPPROTO_ICMP,
                                 make_echo(0, 0, std::vector<uint8_t>(len, 0)));
        uint8_t out[100];
        size_t n = build_echo_reply(out, sizeof out, req.data(), req.size(), 1);
        ASSERT_EQ(n, 28 + len);
        EXPECT_TRUE(csum::verify(out + 20, n - 20))
            << "payload " << len << ": checksum bytes " << int(out[22]) << "," << int(out[23]);
    }
}

// ---- icmp_error_allowed ----

bool allowed(const std::vector<uint8_t> &p) { return icmp_error_allowed(p.data(), p.size()); }

TEST(IcmpErrorAllowed, OrdinaryDatagramsAllowed) {
    std::vector<uint8_t> l4(20, 0);
    EXPECT_TRUE(allowed(make_datagram(kHostA, kHostB, IPPROTO_UDP, l4)));
    EXPECT_TRUE(allowed(make_datagram(kHostA, kHostB, IPPROTO_TCP, l4)));
    EXPECT_TRUE(allowed(make_datagram(kHostA, kHostB, IPPROTO_ICMP, make_echo(1, 1, {}))));
    EXPECT_TRUE(allowed(
        make_datagram(kHostA, kHostB, IPPROTO_ICMP, make_echo(1, 1, {}, icmp::kEchoReply))));
    // The first fragment (MF, offset 0) is about the whole datagram.
    EXPECT_TRUE(allowed(make_datagram(kHostA, kHostB, IPPROTO_UDP, l4, 0, 0x2000)));
    EXPECT_TRUE(allowed(make_datagram(kHostA, kHostB, IPPROTO_UDP, l4, 0, 0x4000)));
    // With options, the ICMP type is found after them.
    EXPECT_TRUE(allowed(make_datagram(kHostA, kHostB, IPPROTO_ICMP, make_echo(1, 1, {}), 12)));
}

TEST(IcmpErrorAllowed, NoErrorAboutAnError) {
    for (uint8_t type : {3, 4, 5, 11, 12}) {
        auto m = make_echo(0, 0, std::vector<uint8_t>(28, 0), type);
        EXPECT_FALSE(allowed(make_datagram(kHostA, kHostB, IPPROTO_ICMP, m))) << int(type);
        EXPECT_FALSE(allowed(make_datagram(kHostA, kHostB, IPPROTO_ICMP, m, 8))) << int(type);
    }
    // Informational types are fine.
    for (uint8_t type : {0, 8, 13, 14})
        EXPECT_TRUE(allowed(make_datagram(kHostA, kHostB, IPPROTO_ICMP, make_echo(0, 0, {}, type))))
            << int(type);
    // An ICMP datagram with no ICMP byte to look at: stay silent.
    auto bare = make_datagram(kHostA, kHostB, IPPROTO_ICMP, {});
    EXPECT_FALSE(allowed(bare));
}

TEST(IcmpErrorAllowed, NoErrorAboutLaterFragments) {
    std::vector<uint8_t> l4(16, 0);
    EXPECT_FALSE(allowed(make_datagram(kHostA, kHostB, IPPROTO_UDP, l4, 0, 0x0001)));
    EXPECT_FALSE(allowed(make_datagram(kHostA, kHostB, IPPROTO_UDP, l4, 0, 0x2000 | 185)));
    EXPECT_FALSE(allowed(make_datagram(kHostA, kHostB, IPPROTO_UDP, l4, 0, 0x1fff)));
    EXPECT_FALSE(allowed(make_datagram(kHostA, kHostB, IPPROTO_ICMP, make_echo(1, 1, {}), 0, 10)));
}

TEST(IcmpErrorAllowed, NoErrorToOrFromNonUnicast) {
    std::vector<uint8_t> l4(16, 0);
    EXPECT_FALSE(allowed(make_datagram(kHostA, ip4_addr(224, 0, 0, 1), IPPROTO_UDP, l4)));
    EXPECT_FALSE(allowed(make_datagram(kHostA, ip4_addr(239, 1, 2, 3), IPPROTO_UDP, l4)));
    EXPECT_FALSE(allowed(make_datagram(kHostA, ip4_addr(255, 255, 255, 255), IPPROTO_UDP, l4)));
    for (ip4_addr src : {ip4_addr(0u), ip4_addr(127, 0, 0, 1), ip4_addr(224, 0, 0, 9),
                         ip4_addr(240, 1, 1, 1), ip4_addr(255, 255, 255, 255)})
        EXPECT_FALSE(allowed(make_datagram(src, kHostB, IPPROTO_UDP, l4))) << src.to_string();
}

TEST(WriteIpv4Header, Fields) {
    uint8_t h[20];
    write_ipv4_header(h, kRouter, kHostA, 17, 1234, 0xabcd, 33, 0x28);
    EXPECT_EQ(h[0], 0x45);
    EXPECT_EQ(h[1], 0x28);
    EXPECT_EQ(get16(h + 2), 1234);
    EXPECT_EQ(get16(h + 4), 0xabcd);
    EXPECT_EQ(get16(h + 6), 0);
    EXPECT_EQ(h[8], 33);
    EXPECT_EQ(h[9], 17);
    EXPECT_EQ(get_ip(h + 12), kRouter);
    EXPECT_EQ(get_ip(h + 16), kHostA);
    EXPECT_TRUE(csum::verify(h, 20));
    drop_reason why;
    EXPECT_TRUE(check_ipv4(reinterpret_cast<const rte_ipv4_hdr *>(h), 1234, why));
}

}  // namespace
}  // namespace ssw
