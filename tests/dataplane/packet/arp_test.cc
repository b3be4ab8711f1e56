// ARP parsing and building (RFC 826), and the RFC 5227 classifications.
#include <cstring>
#include <random>

#include <gtest/gtest.h>

#include "dataplane/packet/arp.h"

namespace ssw {
namespace {

const mac_addr kMacA = *mac_addr::parse("02:00:00:00:00:0a");
const mac_addr kMacB = *mac_addr::parse("02:00:00:00:00:0b");

// An ARP payload written byte by byte from RFC 826, independent of build_arp_frame.
struct arp_bytes {
    uint8_t b[kArpLen];
    arp_bytes(uint16_t op, const mac_addr &sha, ip4_addr spa, const mac_addr &tha, ip4_addr tpa) {
        b[0] = 0x00, b[1] = 0x01;  // Ethernet
        b[2] = 0x08, b[3] = 0x00;  // IPv4
        b[4] = 6, b[5] = 4;
        b[6] = uint8_t(op >> 8), b[7] = uint8_t(op);
        std::memcpy(b + 8, sha.b.data(), 6);
        put_ip(b + 14, spa);
        std::memcpy(b + 18, tha.b.data(), 6);
        put_ip(b + 24, tpa);
    }
    static void put_ip(uint8_t *p, ip4_addr a) {
        p[0] = uint8_t(a.host() >> 24), p[1] = uint8_t(a.host() >> 16);
        p[2] = uint8_t(a.host() >> 8), p[3] = uint8_t(a.host());
    }
};

TEST(ParseArp, ValidRequest) {
    arp_bytes a(1, kMacA, ip4_addr(10, 0, 0, 1), mac_addr{}, ip4_addr(10, 0, 0, 2));
    arp_message m;
    drop_reason why = drop_reason::no_buffer;
    ASSERT_TRUE(parse_arp(a.b, sizeof a.b, m, why));
    EXPECT_EQ(m.op, kArpRequest);
    EXPECT_EQ(m.sender_mac, kMacA);
    EXPECT_EQ(m.sender_ip, ip4_addr(10, 0, 0, 1));
    EXPECT_TRUE(m.target_mac.is_zero());
    EXPECT_EQ(m.target_ip, ip4_addr(10, 0, 0, 2));
    EXPECT_FALSE(m.is_gratuitous());
    EXPECT_FALSE(m.is_probe());
}

TEST(ParseArp, ValidReply) {
    arp_bytes a(2, kMacB, ip4_addr(192, 168, 7, 9), kMacA, ip4_addr(192, 168, 7, 1));
    arp_message m;
    drop_reason why;
    ASSERT_TRUE(parse_arp(a.b, sizeof a.b, m, why));
    EXPECT_EQ(m.op, kArpReply);
    EXPECT_EQ(m.sender_mac, kMacB);
    EXPECT_EQ(m.sender_ip, ip4_addr(192, 168, 7, 9));
    EXPECT_EQ(m.target_mac, kMacA);
    EXPECT_EQ(m.target_ip, ip4_addr(192, 168, 7, 1));
}

TEST(ParseArp, TrailingPaddingIgnored) {
    uint8_t buf[46] = {};
    arp_bytes a(1, kMacA, ip4_addr(10, 0, 0, 1), mac_addr{}, ip4_addr(10, 0, 0, 2));
    std::memcpy(buf, a.b, kArpLen);
    std::memset(buf + kArpLen, 0xee, sizeof buf - kArpLen);
    arp_message m;
    drop_reason why;
    ASSERT_TRUE(parse_arp(buf, sizeof buf, m, why));
    EXPECT_EQ(m.target_ip, ip4_addr(10, 0, 0, 2));
}

void expect_refused(const uint8_t *p, size_t len, drop_reason want) {
    arp_message m;
    drop_reason why = drop_reason::no_buffer;
    EXPECT_FALSE(parse_arp(p, len, m, why));
    EXPECT_EQ(name_of(why), name_of(want));
}

TEST(ParseArp, ShortRefused) {
    arp_bytes a(1, kMacA, ip4_addr(10, 0, 0, 1), mac_addr{}, ip4_addr(10, 0, 0, 2));
    for (size_t len = 0; len < kArpLen; ++len) expect_refused(a.b, len, drop_reason::arp_malformed);
}

TEST(ParseArp, WrongTypesAndLengthsRefused) {
    struct {
        size_t at;
        uint8_t value;
    } const cases[] = {
        {1, 6},     // htype 6 (IEEE 802)
        {0, 1},     // htype 0x0101
        {1, 0},     // htype 0
        {2, 0x86},  // ptype 0x8600
        {3, 0x06},  // ptype 0x0806
        {4, 8},     // hlen 8
        {4, 0},     // hlen 0
        {5, 16},    // plen 16
        {5, 0},     // plen 0
        {7, 3},     // op 3 (RARP request)
        {7, 0},     // op 0
        {6, 1},     // op 0x0101
    };
    for (const auto &c : cases) {
        arp_bytes a(1, kMacA, ip4_addr(10, 0, 0, 1), mac_addr{}, ip4_addr(10, 0, 0, 2));
        a.b[c.at] = c.value;
        SCOPED_TRACE(testing::Message() << "byte " << c.at << " = " << int(c.value));
        expect_refused(a.b, kArpLen, drop_reason::arp_malformed);
    }
}

TEST(ParseArp, BadSenderRefused) {
    for (const char *mac : {"ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "33:33:00:00:00:01",
                            "03:00:00:00:00:00", "00:00:00:00:00:00"}) {
        arp_bytes a(2, *mac_addr::parse(mac), ip4_addr(10, 0, 0, 1), kMacA, ip4_addr(10, 0, 0, 2));
        SCOPED_TRACE(mac);
        expect_refused(a.b, kArpLen, drop_reason::arp_bad_sender);
    }
}

TEST(ParseArp, MalformedReportedBeforeBadSender) {
    arp_bytes a(3, *mac_addr::parse("ff:ff:ff:ff:ff:ff"), ip4_addr(10, 0, 0, 1), kMacA,
                ip4_addr(10, 0, 0, 2));
    expect_refused(a.b, kArpLen, drop_reason::arp_malformed);
}

TEST(BuildArpFrame, LayoutAndRoundTrip) {
    std::mt19937 rng(31);
    for (int i = 0; i < 2000; ++i) {
        arp_message msg;
        msg.op = i % 2 ? kArpReply : kArpRequest;
        msg.sender_mac = mac_addr::from_u64(rng() & 0xfeffffffffffull);  // unicast
        if (msg.sender_mac.is_zero()) msg.sender_mac = kMacA;
        msg.sender_ip = ip4_addr(uint32_t(rng()));
        msg.target_mac = mac_addr::from_u64(uint64_t(rng()) << 16 | rng());
        msg.target_ip = ip4_addr(uint32_t(rng()));
        mac_addr eth_dst = i % 3 ? *mac_addr::parse("ff:ff:ff:ff:ff:ff") : msg.target_mac;
        mac_addr eth_src = msg.sender_mac;

        uint8_t frame[kArpFrameLen + 4];
        std::memset(frame, 0xcc, sizeof frame);
        build_arp_frame(frame, eth_dst, eth_src, msg);
        EXPECT_EQ(frame[kArpFrameLen], 0xcc) << "wrote past the frame";
        EXPECT_EQ(mac_addr::from_bytes(frame), eth_dst);
        EXPECT_EQ(mac_addr::from_bytes(frame + 6), eth_src);
        EXPECT_EQ(frame[12], 0x08);
        EXPECT_EQ(frame[13], 0x06);

        arp_bytes expect(msg.op, msg.sender_mac, msg.sender_ip, msg.target_mac, msg.target_ip);
        ASSERT_EQ(std::memcmp(frame + 14, expect.b, kArpLen), 0);

        arp_message back;
        drop_reason why;
        ASSERT_TRUE(parse_arp(frame + 14, kArpLen, back, why));
        EXPECT_EQ(back.op, msg.op);
        EXPECT_EQ(back.sender_mac, msg.sender_mac);
        EXPECT_EQ(back.sender_ip, msg.sender_ip);
        EXPECT_EQ(back.target_mac, msg.target_mac);
        EXPECT_EQ(back.target_ip, msg.target_ip);
    }
}

TEST(ArpMessage, GratuitousAndProbe) {
    arp_message m;
    m.sender_ip = ip4_addr(10, 0, 0, 5);
    m.target_ip = ip4_addr(10, 0, 0, 5);
    EXPECT_TRUE(m.is_gratuitous());
    EXPECT_FALSE(m.is_probe());
    m.target_ip = ip4_addr(10, 0, 0, 6);
    EXPECT_FALSE(m.is_gratuitous());
    m.sender_ip = ip4_addr(0u);
    EXPECT_TRUE(m.is_probe());
    EXPECT_FALSE(m.is_gratuitous());

    // Through the parser: an announcement and a probe as RFC 5227 sends them.
    arp_bytes ann(1, kMacA, ip4_addr(10, 0, 0, 5), mac_addr{}, ip4_addr(10, 0, 0, 5));
    arp_bytes probe(1, kMacA, ip4_addr(0u), mac_addr{}, ip4_addr(10, 0, 0, 5));
    arp_message a, p;
    drop_reason why;
    ASSERT_TRUE(parse_arp(ann.b, kArpLen, a, why));
    ASSERT_TRUE(parse_arp(probe.b, kArpLen, p, why));
    EXPECT_TRUE(a.is_gratuitous());
    EXPECT_FALSE(a.is_probe());
    EXPECT_TRUE(p.is_probe());
    EXPECT_FALSE(p.is_gratuitous());
}

}  // namespace
}  // namespace ssw
