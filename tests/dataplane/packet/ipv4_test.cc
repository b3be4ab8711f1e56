// check_ipv4: RFC 1812 5.2.2 header validation and 5.3.7 martian filtering, one drop reason
// per failure.
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <rte_ip.h>

#include "dataplane/packet/ipv4.h"

namespace ssw {
namespace {

// A valid datagram: 20-byte header (or more with options), payload, and trailing room.
struct datagram {
    std::vector<uint8_t> bytes = std::vector<uint8_t>(1600, 0);

    explicit datagram(unsigned ihl = 5, uint16_t payload = 32) {
        auto *ip = hdr();
        ip->version_ihl = uint8_t(0x40 | ihl);
        ip->type_of_service = 0;
        ip->total_length = be16_t(uint16_t(ihl * 4 + payload)).raw();
        ip->packet_id = be16_t(0x1234).raw();
        ip->time_to_live = 64;
        ip->next_proto_id = 17;
        ip->src_addr = ip4_addr(192, 0, 2, 1).be().raw();
        ip->dst_addr = ip4_addr(198, 51, 100, 7).be().raw();
        for (unsigned i = 20; i < ihl * 4; ++i) bytes[i] = 1;  // NOP options
        for (unsigned i = 0; i < payload; ++i) bytes[ihl * 4 + i] = uint8_t(i);
        fix();
    }
    rte_ipv4_hdr *hdr() { return reinterpret_cast<rte_ipv4_hdr *>(bytes.data()); }
    void fix() { set_ipv4_checksum(hdr()); }
    uint32_t len() { return total_length(hdr()); }
};

struct check_result {
    bool ok;
    drop_reason why;
};

check_result check(datagram &d, uint32_t avail) {
    drop_reason why = drop_reason::no_buffer;  // a sentinel check_ipv4 never sets
    bool ok = check_ipv4(d.hdr(), avail, why);
    return {ok, why};
}

void expect_drop(datagram &d, uint32_t avail, drop_reason want) {
    auto r = check(d, avail);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(name_of(r.why), name_of(want));
}

TEST(CheckIpv4, GoodHeaderPasses) {
    datagram d;
    auto r = check(d, d.len());
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.why, drop_reason::no_buffer) << "why changed on success";
}

TEST(CheckIpv4, HeaderWithOptionsPasses) {
    for (unsigned ihl = 5; ihl <= 15; ++ihl) {
        datagram d(ihl, 8);
        EXPECT_TRUE(check(d, d.len()).ok) << ihl;
    }
}

TEST(CheckIpv4, EthernetPaddingPasses) {
    // A 20-byte datagram in a minimum-size frame: 26 bytes of padding after it.
    datagram d(5, 0);
    EXPECT_TRUE(check(d, 46).ok);
    datagram e(5, 100);
    EXPECT_TRUE(check(e, e.len() + 1).ok);
    EXPECT_TRUE(check(e, 1500).ok);
}

TEST(CheckIpv4, Truncated) {
    datagram d;
    for (uint32_t avail = 0; avail < 20; ++avail) expect_drop(d, avail, drop_reason::ip_truncated);
}

TEST(CheckIpv4, Version) {
    for (uint8_t v : {0, 1, 5, 6, 15}) {
        datagram d;
        d.hdr()->version_ihl = uint8_t(v << 4 | 5);
        d.fix();
        expect_drop(d, d.len(), drop_reason::ip_version);
    }
}

TEST(CheckIpv4, IhlBelowFive) {
    for (uint8_t ihl = 0; ihl < 5; ++ihl) {
        datagram d;
        d.hdr()->version_ihl = uint8_t(0x40 | ihl);
        expect_drop(d, d.len(), drop_reason::ip_bad_ihl);
    }
}

TEST(CheckIpv4, IhlBeyondFrame) {
    // A 60-byte header in a frame with only 40 bytes.
    datagram d(15, 0);
    expect_drop(d, 40, drop_reason::ip_bad_ihl);
    expect_drop(d, 59, drop_reason::ip_bad_ihl);
    EXPECT_TRUE(check(d, 60).ok);
}

TEST(CheckIpv4, TotalLengthBelowHeader) {
    datagram d(6, 20);
    d.hdr()->total_length = be16_t(23).raw();  // below 24
    d.fix();
    expect_drop(d, 200, drop_reason::ip_bad_length);
    d.hdr()->total_length = be16_t(0).raw();
    d.fix();
    expect_drop(d, 200, drop_reason::ip_bad_length);
    d.hdr()->total_length = be16_t(24).raw();  // header only: fine
    d.fix();
    EXPECT_TRUE(check(d, 200).ok);
}

TEST(CheckIpv4, TotalLengthBeyondFrame) {
    datagram d(5, 100);
    expect_drop(d, d.len() - 1, drop_reason::ip_bad_length);
    expect_drop(d, 20, drop_reason::ip_bad_length);
    EXPECT_TRUE(check(d, d.len()).ok);
}

TEST(CheckIpv4, BadChecksum) {
    std::mt19937 rng(21);
    for (int i = 0; i < 1000; ++i) {
        datagram d(5 + rng() % 11, 16);
        const uint32_t hlen = ihl_bytes(d.hdr());
        // Corrupt one bit of the header that check_ipv4 checks no other way: TOS, id, flags,
        // TTL, protocol, the checksum itself or an option byte.
        static const unsigned kFree[] = {1, 4, 5, 6, 7, 8, 9, 10, 11};
        unsigned at = rng() % 2 && hlen > 20 ? 20 + rng() % (hlen - 20) : kFree[rng() % 9];
        d.bytes[at] ^= uint8_t(1 << (rng() % 8));
        expect_drop(d, d.len(), drop_reason::ip_bad_checksum);
    }
}

TEST(CheckIpv4, ChecksumOfZeroIsValid) {
    // A header whose checksum field is 0x0000 is valid (its sum is 0xffff).
    datagram d;
    auto *h = d.hdr();
    h->packet_id = 0;
    h->hdr_checksum = 0;
    uint16_t s = csum::fold(csum::add(0, h, 20));
    h->packet_id = uint16_t(0xffff - s);
    d.fix();
    ASSERT_EQ(h->hdr_checksum, 0);
    EXPECT_TRUE(check(d, d.len()).ok);
}

TEST(CheckIpv4, MartianSources) {
    for (ip4_addr src :
         {ip4_addr(0u), ip4_addr(127, 0, 0, 1), ip4_addr(127, 200, 1, 1), ip4_addr(224, 0, 0, 1),
          ip4_addr(239, 255, 255, 250), ip4_addr(255, 255, 255, 255), ip4_addr(240, 0, 0, 1),
          ip4_addr(254, 1, 2, 3)}) {
        datagram d;
        d.hdr()->src_addr = src.be().raw();
        d.fix();
        SCOPED_TRACE(src.to_string());
        expect_drop(d, d.len(), drop_reason::ip_bad_source);
    }
}

TEST(CheckIpv4, BadDestinations) {
    for (ip4_addr dst :
         {ip4_addr(0u), ip4_addr(127, 0, 0, 1), ip4_addr(224, 0, 0, 5), ip4_addr(239, 1, 1, 1),
          ip4_addr(255, 255, 255, 255), ip4_addr(240, 0, 0, 1)}) {
        datagram d;
        d.hdr()->dst_addr = dst.be().raw();
        d.fix();
        SCOPED_TRACE(dst.to_string());
        expect_drop(d, d.len(), drop_reason::ip_bad_destination);
    }
}

TEST(CheckIpv4, OrdinaryAddressesPass) {
    for (ip4_addr a :
         {ip4_addr(1, 0, 0, 0), ip4_addr(10, 0, 0, 1), ip4_addr(126, 255, 255, 255),
          ip4_addr(128, 0, 0, 1), ip4_addr(223, 255, 255, 255), ip4_addr(192, 168, 1, 255)}) {
        datagram d;
        d.hdr()->src_addr = a.be().raw();
        d.hdr()->dst_addr = a.be().raw();
        d.fix();
        EXPECT_TRUE(check(d, d.len()).ok) << a.to_string();
    }
}

TEST(CheckIpv4, CheapestFailureReportedFirst) {
    // Wrong version and bad checksum: version is reported.
    datagram d;
    d.hdr()->version_ihl = 0x65;
    expect_drop(d, d.len(), drop_reason::ip_version);
    // Bad length and bad checksum: length is reported.
    datagram e(5, 40);
    e.hdr()->hdr_checksum ^= 0xff;
    expect_drop(e, e.len() - 1, drop_reason::ip_bad_length);
    // Bad source and bad checksum: checksum is reported.
    datagram f;
    f.hdr()->src_addr = ip4_addr(127, 0, 0, 1).be().raw();
    expect_drop(f, f.len(), drop_reason::ip_bad_checksum);
    // Bad source and bad destination: source first.
    datagram g;
    g.hdr()->src_addr = 0;
    g.hdr()->dst_addr = 0;
    g.fix();
    expect_drop(g, g.len(), drop_reason::ip_bad_source);
}

// plain_ipv4_ok, the fast path's test, agrees with check_ipv4 on 20-byte headers, and skips
// only the checksum when the device has verified it (RTE_MBUF_F_RX_IP_CKSUM_GOOD).
TEST(PlainIpv4Ok, AgreesWithCheckIpv4) {
    std::mt19937 rng(5);
    for (int i = 0; i < 2000; ++i) {
        datagram d(5, 16);
        // Corrupt one random byte of the header, or none.
        if (rng() % 4) d.bytes[rng() % 20] ^= uint8_t(1 + rng() % 255);
        const uint32_t avail = d.len() + rng() % 3 - 1;
        const auto r = check(d, avail);
        SCOPED_TRACE(i);
        EXPECT_EQ(plain_ipv4_ok(d.hdr(), avail), r.ok && ihl_bytes(d.hdr()) == 20);
    }
}

TEST(PlainIpv4Ok, DeviceVerifiedChecksumIsNotSummedAgain) {
    datagram d;
    ASSERT_TRUE(plain_ipv4_ok(d.hdr(), d.len()));
    d.hdr()->hdr_checksum ^= 0x0101;
    EXPECT_FALSE(plain_ipv4_ok(d.hdr(), d.len())) << "summed in software: wrong";
    EXPECT_FALSE(plain_ipv4_ok(d.hdr(), d.len(), false));
    EXPECT_TRUE(plain_ipv4_ok(d.hdr(), d.len(), true)) << "the device said right: not summed";
    // The other checks still apply.
    d.hdr()->dst_addr = ip4_addr(127, 0, 0, 1).be().raw();
    EXPECT_FALSE(plain_ipv4_ok(d.hdr(), d.len(), true));
    datagram e;
    EXPECT_FALSE(plain_ipv4_ok(e.hdr(), e.len() - 1, true)) << "total length beyond the frame";
}

TEST(Ipv4Fields, Accessors) {
    datagram d(7, 10);
    auto *h = d.hdr();
    EXPECT_EQ(ihl_bytes(h), 28u);
    EXPECT_EQ(total_length(h), 38);
    EXPECT_EQ(src_of(h), ip4_addr(192, 0, 2, 1));
    EXPECT_EQ(dst_of(h), ip4_addr(198, 51, 100, 7));
    EXPECT_FALSE(dont_fragment(h));
    EXPECT_FALSE(is_later_fragment(h));
    h->fragment_offset = be16_t(0x4000).raw();
    EXPECT_TRUE(dont_fragment(h));
    EXPECT_FALSE(is_later_fragment(h));
    h->fragment_offset = be16_t(0x2000).raw();  // MF only: the first fragment
    EXPECT_FALSE(dont_fragment(h));
    EXPECT_FALSE(is_later_fragment(h));
    h->fragment_offset = be16_t(0x0001).raw();
    EXPECT_TRUE(is_later_fragment(h));
    h->fragment_offset = be16_t(0x3fff).raw();
    EXPECT_TRUE(is_later_fragment(h));
    EXPECT_EQ(frag_field(h), 0x3fff);
}

TEST(DecrementTtl, DecrementsAndKeepsHeaderValid) {
    datagram d;
    for (int ttl = 255; ttl >= 1; --ttl) {
        d.hdr()->time_to_live = uint8_t(ttl);
        d.fix();
        decrement_ttl(d.hdr());
        EXPECT_EQ(d.hdr()->time_to_live, ttl - 1);
        EXPECT_EQ(d.hdr()->next_proto_id, 17);
        EXPECT_TRUE(csum::verify(d.hdr(), 20)) << ttl;
    }
}

}  // namespace
}  // namespace ssw
