// Address value types: parsing refuses anything ambiguous, printing round-trips, and the
// prefix arithmetic and MAC packings agree with straightforward definitions.
#include <cstring>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "dataplane/net/net_types.h"

namespace ssw {
namespace {

TEST(Be16, HostAndRawAreByteSwaps) {
    be16_t v(0x1234);
    EXPECT_EQ(v.host(), 0x1234);
    uint8_t bytes[2];
    std::memcpy(bytes, &v, 2);
    EXPECT_EQ(bytes[0], 0x12);
    EXPECT_EQ(bytes[1], 0x34);
    EXPECT_EQ(be16_t::from_raw(v.raw()), v);
}

TEST(Be32, BytesAreInNetworkOrder) {
    be32_t v(0x0a0b0c0d);
    uint8_t bytes[4];
    std::memcpy(bytes, &v, 4);
    EXPECT_EQ(bytes[0], 0x0a);
    EXPECT_EQ(bytes[3], 0x0d);
    EXPECT_EQ(v.host(), 0x0a0b0c0du);
    EXPECT_EQ(be32_t::from_raw(v.raw()).host(), 0x0a0b0c0du);
}

TEST(Ip4Addr, ParsesDottedQuad) {
    auto a = ip4_addr::parse("192.168.1.254");
    ASSERT_TRUE(a);
    EXPECT_EQ(a->host(), 0xc0a801feu);
    EXPECT_EQ(*a, ip4_addr(192, 168, 1, 254));
    EXPECT_EQ(ip4_addr::parse("0.0.0.0")->host(), 0u);
    EXPECT_EQ(ip4_addr::parse("255.255.255.255")->host(), 0xffffffffu);
    EXPECT_EQ(ip4_addr::parse("10.0.0.1")->host(), 0x0a000001u);
}

TEST(Ip4Addr, ToStringRoundTripsRandomAddresses) {
    std::mt19937 rng(1);
    for (int i = 0; i < 20000; ++i) {
        ip4_addr a{uint32_t(rng())};
        std::string s = a.to_string();
        auto back = ip4_addr::parse(s);
        ASSERT_TRUE(back) << s;
        EXPECT_EQ(*back, a) << s;
    }
    EXPECT_EQ(ip4_addr(1, 2, 3, 4).to_string(), "1.2.3.4");
    EXPECT_EQ(ip4_addr(0u).to_string(), "0.0.0.0");
    EXPECT_EQ(ip4_addr(0xffffffffu).to_string(), "255.255.255.255");
}

TEST(Ip4Addr, RefusesMalformedText) {
    for (const char *bad : {"",
                            "1",
                            "1.2",
                            "1.2.3",
                            "1.2.3.4.5",
                            "1.2.3.4.",
                            ".1.2.3.4",
                            "1..2.3",
                            "256.0.0.1",
                            "1.256.0.1",
                            "1.2.3.256",
                            "999.1.1.1",
                            "4294967296.0.0.1",
                            "010.0.0.1",
                            "1.02.3.4",
                            "1.2.3.00",
                            "00.0.0.0",
                            "1.2.3.4x",
                            "x1.2.3.4",
                            "1.2.3.4 ",
                            " 1.2.3.4",
                            "1. 2.3.4",
                            "1.2.3.4/24",
                            "-1.2.3.4",
                            "+1.2.3.4",
                            "1.2.3.-4",
                            "a.b.c.d",
                            "0x1.2.3.4",
                            "1,2,3,4",
                            "1.2.3.4\n",
                            "..."}) {
        EXPECT_FALSE(ip4_addr::parse(bad)) << "accepted '" << bad << "'";
    }
    // An embedded NUL is data, not the end of the string.
    EXPECT_FALSE(ip4_addr::parse(std::string_view("1.2.3.4\0", 8)));
    EXPECT_FALSE(ip4_addr::parse(std::string_view("1.2\0.3.4", 8)));
}

TEST(Ip4Addr, Classification) {
    EXPECT_TRUE(ip4_addr(0u).is_zero());
    EXPECT_FALSE(ip4_addr(1u).is_zero());
    EXPECT_TRUE(ip4_addr(224, 0, 0, 1).is_multicast());
    EXPECT_TRUE(ip4_addr(239, 255, 255, 255).is_multicast());
    EXPECT_FALSE(ip4_addr(223, 255, 255, 255).is_multicast());
    EXPECT_FALSE(ip4_addr(240, 0, 0, 0).is_multicast());
    EXPECT_TRUE(ip4_addr(255, 255, 255, 255).is_limited_broadcast());
    EXPECT_FALSE(ip4_addr(255, 255, 255, 254).is_limited_broadcast());
    EXPECT_TRUE(ip4_addr(127, 0, 0, 1).is_loopback());
    EXPECT_TRUE(ip4_addr(127, 255, 0, 1).is_loopback());
    EXPECT_FALSE(ip4_addr(128, 0, 0, 1).is_loopback());
    EXPECT_FALSE(ip4_addr(126, 255, 255, 255).is_loopback());
    EXPECT_TRUE(ip4_addr(240, 0, 0, 1).is_reserved());
    EXPECT_FALSE(ip4_addr(239, 0, 0, 1).is_reserved());
}

TEST(Ip4Addr, OrdersByNumericValue) {
    EXPECT_LT(ip4_addr(9, 255, 255, 255), ip4_addr(10, 0, 0, 0));
    EXPECT_LT(ip4_addr(10, 0, 0, 2), ip4_addr(10, 0, 0, 10));
    EXPECT_EQ(ip4_addr::from_be(ip4_addr(1, 2, 3, 4).be()), ip4_addr(1, 2, 3, 4));
}

TEST(Ip4Prefix, ParsesWithAndWithoutLength) {
    auto p = ip4_prefix::parse("10.1.0.0/16");
    ASSERT_TRUE(p);
    EXPECT_EQ(p->addr, ip4_addr(10, 1, 0, 0));
    EXPECT_EQ(p->len, 16);
    auto h = ip4_prefix::parse("10.1.2.3");
    ASSERT_TRUE(h);
    EXPECT_EQ(h->len, 32);
    EXPECT_EQ(h->addr, ip4_addr(10, 1, 2, 3));
    auto z = ip4_prefix::parse("0.0.0.0/0");
    ASSERT_TRUE(z);
    EXPECT_EQ(z->len, 0);
    auto full = ip4_prefix::parse("1.2.3.4/32");
    ASSERT_TRUE(full);
    EXPECT_EQ(full->len, 32);
    // Host bits are kept by parse; the caller decides.
    auto hb = ip4_prefix::parse("10.1.2.3/8");
    ASSERT_TRUE(hb);
    EXPECT_EQ(hb->addr, ip4_addr(10, 1, 2, 3));
    EXPECT_EQ(hb->len, 8);
}

TEST(Ip4Prefix, RefusesMalformedText) {
    for (const char *bad : {"",
                            "/8",
                            "/",
                            "10.0.0.0/",
                            "10.0.0.0/33",
                            "10.0.0.0/99",
                            "10.0.0.0/-1",
                            "10.0.0.0/+8",
                            "10.0.0.0/08",
                            "10.0.0.0/8x",
                            "10.0.0.0/8/8",
                            "10.0.0.0//8",
                            "10.0.0/8",
                            "10.0.0.0 /8",
                            "10.0.0.0/ 8",
                            "10.0.0.0/8 ",
                            "010.0.0.0/8",
                            "1.2.3.4.5/8",
                            "256.0.0.0/8",
                            "10.0.0.0/4294967304"}) {
        EXPECT_FALSE(ip4_prefix::parse(bad)) << "accepted '" << bad << "'";
    }
}

TEST(Ip4Prefix, ToStringRoundTrips) {
    std::mt19937 rng(2);
    for (int i = 0; i < 20000; ++i) {
        ip4_prefix p{ip4_addr(uint32_t(rng())), uint8_t(rng() % 33)};
        auto back = ip4_prefix::parse(p.to_string());
        ASSERT_TRUE(back) << p.to_string();
        EXPECT_EQ(*back, p);
    }
    EXPECT_EQ((ip4_prefix{ip4_addr(10, 0, 0, 0), 8}).to_string(), "10.0.0.0/8");
    EXPECT_EQ((ip4_prefix{ip4_addr(0u), 0}).to_string(), "0.0.0.0/0");
}

TEST(Ip4Prefix, MaskOf) {
    EXPECT_EQ(ip4_prefix::mask_of(0), 0u);
    EXPECT_EQ(ip4_prefix::mask_of(1), 0x80000000u);
    EXPECT_EQ(ip4_prefix::mask_of(8), 0xff000000u);
    EXPECT_EQ(ip4_prefix::mask_of(23), 0xfffffe00u);
    EXPECT_EQ(ip4_prefix::mask_of(31), 0xfffffffeu);
    EXPECT_EQ(ip4_prefix::mask_of(32), 0xffffffffu);
    for (uint8_t len = 0; len <= 32; ++len) {
        uint32_t m = ip4_prefix::mask_of(len);
        EXPECT_EQ(__builtin_popcount(m), len);
        if (len) {
            EXPECT_EQ(m >> (32 - len), (uint64_t(1) << len) - 1) << int(len);
        }
    }
}

TEST(Ip4Prefix, ContainsAddresses) {
    ip4_prefix p = *ip4_prefix::parse("10.1.0.0/16");
    EXPECT_TRUE(p.contains(ip4_addr(10, 1, 0, 0)));
    EXPECT_TRUE(p.contains(ip4_addr(10, 1, 255, 255)));
    EXPECT_TRUE(p.contains(ip4_addr(10, 1, 2, 3)));
    EXPECT_FALSE(p.contains(ip4_addr(10, 2, 0, 0)));
    EXPECT_FALSE(p.contains(ip4_addr(10, 0, 255, 255)));
    EXPECT_FALSE(p.contains(ip4_addr(11, 1, 0, 0)));
    ip4_prefix all = *ip4_prefix::parse("0.0.0.0/0");
    EXPECT_TRUE(all.contains(ip4_addr(0u)));
    EXPECT_TRUE(all.contains(ip4_addr(0xffffffffu)));
    ip4_prefix host = *ip4_prefix::parse("1.2.3.4/32");
    EXPECT_TRUE(host.contains(ip4_addr(1, 2, 3, 4)));
    EXPECT_FALSE(host.contains(ip4_addr(1, 2, 3, 5)));
}

TEST(Ip4Prefix, ContainsAddressesMatchesBitwiseDefinition) {
    std::mt19937 rng(3);
    for (int i = 0; i < 20000; ++i) {
        uint8_t len = uint8_t(rng() % 33);
        ip4_prefix p = ip4_prefix{ip4_addr(uint32_t(rng())), len}.network();
        // Half the probes inside the prefix, half anywhere.
        uint32_t a = rng();
        if (i & 1) a = p.addr.host() | (a & ~ip4_prefix::mask_of(len));
        bool expected = len == 0 || (a >> (32 - len)) == (p.addr.host() >> (32 - len));
        EXPECT_EQ(p.contains(ip4_addr(a)), expected)
            << p.to_string() << " " << ip4_addr(a).to_string();
    }
}

TEST(Ip4Prefix, ContainsAndOverlapsPrefixes) {
    auto P = [](const char *s) { return *ip4_prefix::parse(s); };
    EXPECT_TRUE(P("10.0.0.0/8").contains(P("10.1.0.0/16")));
    EXPECT_FALSE(P("10.1.0.0/16").contains(P("10.0.0.0/8")));
    EXPECT_TRUE(P("10.0.0.0/8").contains(P("10.0.0.0/8")));
    EXPECT_TRUE(P("0.0.0.0/0").contains(P("192.168.0.0/16")));
    EXPECT_FALSE(P("10.0.0.0/8").contains(P("11.0.0.0/16")));
    EXPECT_TRUE(P("10.0.0.0/8").contains(P("10.255.255.255/32")));

    EXPECT_TRUE(P("10.0.0.0/8").overlaps(P("10.1.0.0/16")));
    EXPECT_TRUE(P("10.1.0.0/16").overlaps(P("10.0.0.0/8")));
    EXPECT_TRUE(P("10.1.0.0/16").overlaps(P("10.1.0.0/16")));
    EXPECT_FALSE(P("10.1.0.0/16").overlaps(P("10.2.0.0/16")));
    EXPECT_FALSE(P("192.168.1.0/24").overlaps(P("192.168.0.0/24")));
    EXPECT_TRUE(P("0.0.0.0/0").overlaps(P("1.2.3.4/32")));
    // Adjacent halves of a /23 do not overlap each other but both overlap the /23.
    EXPECT_FALSE(P("10.0.0.0/24").overlaps(P("10.0.1.0/24")));
    EXPECT_TRUE(P("10.0.0.0/23").overlaps(P("10.0.1.0/24")));
}

TEST(Ip4Prefix, HostBitsNetworkBroadcast) {
    auto P = [](const char *s) { return *ip4_prefix::parse(s); };
    EXPECT_TRUE(P("10.1.2.3/8").has_host_bits());
    EXPECT_FALSE(P("10.0.0.0/8").has_host_bits());
    EXPECT_TRUE(P("10.0.0.1/31").has_host_bits());
    EXPECT_FALSE(P("10.0.0.1/32").has_host_bits());
    EXPECT_TRUE(P("0.0.0.1/0").has_host_bits());
    EXPECT_FALSE(P("0.0.0.0/0").has_host_bits());

    EXPECT_EQ(P("10.1.2.3/8").network(), P("10.0.0.0/8"));
    EXPECT_EQ(P("192.168.37.200/20").network(), P("192.168.32.0/20"));
    EXPECT_EQ(P("1.2.3.4/32").network(), P("1.2.3.4/32"));
    EXPECT_EQ(P("255.255.255.255/0").network(), P("0.0.0.0/0"));

    EXPECT_EQ(P("10.0.0.0/8").broadcast(), ip4_addr(10, 255, 255, 255));
    EXPECT_EQ(P("192.168.32.0/20").broadcast(), ip4_addr(192, 168, 47, 255));
    EXPECT_EQ(P("10.0.0.0/31").broadcast(), ip4_addr(10, 0, 0, 1));
    EXPECT_EQ(P("1.2.3.4/32").broadcast(), ip4_addr(1, 2, 3, 4));
    EXPECT_EQ(P("0.0.0.0/0").broadcast(), ip4_addr(0xffffffffu));

    std::mt19937 rng(4);
    for (int i = 0; i < 10000; ++i) {
        ip4_prefix p{ip4_addr(uint32_t(rng())), uint8_t(rng() % 33)};
        ip4_prefix n = p.network();
        EXPECT_FALSE(n.has_host_bits());
        EXPECT_EQ(n.len, p.len);
        EXPECT_TRUE(n.contains(p.addr));
        EXPECT_TRUE(n.contains(n.broadcast()));
        EXPECT_EQ(p.has_host_bits(), !(n == p));
    }
}

TEST(MacAddr, ParsesAndPrintsLowercase) {
    auto m = mac_addr::parse("02:00:5e:10:aB:Ff");
    ASSERT_TRUE(m);
    EXPECT_EQ(m->b, (std::array<uint8_t, 6>{0x02, 0x00, 0x5e, 0x10, 0xab, 0xff}));
    EXPECT_EQ(m->to_string(), "02:00:5e:10:ab:ff");
    auto upper = mac_addr::parse("AA:BB:CC:DD:EE:FF");
    auto lower = mac_addr::parse("aa:bb:cc:dd:ee:ff");
    ASSERT_TRUE(upper);
    ASSERT_TRUE(lower);
    EXPECT_EQ(*upper, *lower);
    EXPECT_EQ(upper->to_string(), "aa:bb:cc:dd:ee:ff");
}

TEST(MacAddr, ToStringRoundTripsRandomAddresses) {
    std::mt19937_64 rng(5);
    for (int i = 0; i < 20000; ++i) {
        mac_addr m = mac_addr::from_u64(rng() & 0xffffffffffffull);
        auto back = mac_addr::parse(m.to_string());
        ASSERT_TRUE(back) << m.to_string();
        EXPECT_EQ(*back, m);
    }
}

TEST(MacAddr, RefusesMalformedText) {
    for (const char *bad : {"",
                            "aa:bb:cc:dd:ee",
                            "aa:bb:cc:dd:ee:",
                            "aa:bb:cc:dd:ee:ff:",
                            "aa:bb:cc:dd:ee:ff:00",
                            "gg:bb:cc:dd:ee:ff",
                            "aa:bb:cc:dd:ee:fg",
                            "aa-bb-cc-dd-ee-ff",
                            "aa.bb.cc.dd.ee.ff",
                            "aabb.ccdd.eeff",
                            "aabbccddeeff",
                            "a:b:c:d:e:f",
                            "aa:bb:cc:dd:ee:f",
                            "aaa:bb:cc:dd:ee:f",
                            " aa:bb:cc:dd:ee:f",
                            "aa:bb:cc:dd:ee:ff ",
                            "aa:bb:cc:dd:ee f",
                            "aa:bb:cc:dd:ee:-f",
                            "aa:bb:cc:dd:ee:+f",
                            "aa::bb:cc:dd:eef",
                            "0x:bb:cc:dd:ee:ff",
                            "aa;bb:cc:dd:ee:ff"}) {
        EXPECT_FALSE(mac_addr::parse(bad)) << "accepted '" << bad << "'";
    }
}

TEST(MacAddr, Classification) {
    EXPECT_TRUE(mac_addr::parse("ff:ff:ff:ff:ff:ff")->is_broadcast());
    EXPECT_TRUE(mac_addr::parse("ff:ff:ff:ff:ff:ff")->is_multicast());
    EXPECT_FALSE(mac_addr::parse("ff:ff:ff:ff:ff:fe")->is_broadcast());
    EXPECT_TRUE(mac_addr::parse("01:00:5e:00:00:01")->is_multicast());
    EXPECT_TRUE(mac_addr::parse("33:33:00:00:00:01")->is_multicast());
    EXPECT_FALSE(mac_addr::parse("02:00:00:00:00:01")->is_multicast());
    EXPECT_FALSE(mac_addr::parse("00:00:00:00:00:01")->is_zero());
    EXPECT_TRUE(mac_addr::parse("00:00:00:00:00:00")->is_zero());
    EXPECT_FALSE(mac_addr::parse("00:00:00:00:00:00")->is_multicast());
}

TEST(MacAddr, U64PacksFirstByteHighest) {
    mac_addr m = *mac_addr::parse("01:02:03:04:05:06");
    EXPECT_EQ(m.to_u64(), 0x010203040506ull);
    EXPECT_EQ(mac_addr::from_u64(0x010203040506ull), m);
    // Bits above 48 are ignored.
    EXPECT_EQ(mac_addr::from_u64(0xffff010203040506ull), m);
    std::mt19937_64 rng(6);
    for (int i = 0; i < 20000; ++i) {
        uint64_t v = rng() & 0xffffffffffffull;
        EXPECT_EQ(mac_addr::from_u64(v).to_u64(), v);
        mac_addr r = mac_addr::from_u64(rng());
        EXPECT_EQ(mac_addr::from_u64(r.to_u64()), r);
    }
}

TEST(MacAddr, Raw48IsMemoryOrder) {
    mac_addr m = *mac_addr::parse("01:02:03:04:05:06");
    uint64_t raw = m.raw48();
    EXPECT_EQ(raw >> 48, 0u);
    uint8_t bytes[8];
    std::memcpy(bytes, &raw, 8);
    for (int i = 0; i < 6; ++i) {
        EXPECT_EQ(bytes[i], i + 1);
    }
    EXPECT_EQ(mac_addr::from_raw48(raw), m);
    EXPECT_EQ(mac_addr::from_bytes(bytes), m);
    std::mt19937_64 rng(7);
    for (int i = 0; i < 20000; ++i) {
        mac_addr r = mac_addr::from_u64(rng());
        uint64_t w = r.raw48();
        EXPECT_EQ(w >> 48, 0u);
        EXPECT_EQ(mac_addr::from_raw48(w), r);
        EXPECT_EQ(mac_addr::from_raw48(w | 0xabcd000000000000ull), r);
    }
}

}  // namespace
}  // namespace ssw
