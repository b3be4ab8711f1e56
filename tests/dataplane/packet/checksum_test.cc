// The Internet checksum against a plain RFC 1071 implementation, and the RFC 1624 incremental
// updates against full recomputation.
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <rte_ip.h>

#include "dataplane/packet/checksum.h"
#include "dataplane/packet/ipv4.h"

namespace ssw {
namespace {

// RFC 1071 as written: big-endian 16-bit words, end-around carry, complement. Returns the
// checksum as a number whose high byte goes first on the wire.
uint16_t reference_checksum(const uint8_t *p, size_t n, uint32_t extra = 0) {
    uint32_t s = extra;
    for (size_t i = 0; i < n; i += 2) {
        s += uint32_t(p[i]) << 8 | (i + 1 < n ? p[i + 1] : 0);
        s = (s & 0xffff) + (s >> 16);
    }
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return uint16_t(~s);
}

// The checksum field as the wire bytes say, high byte first.
uint16_t wire_value(uint16_t raw) {
    uint8_t b[2];
    std::memcpy(b, &raw, 2);
    return uint16_t(b[0] << 8 | b[1]);
}

uint16_t load16(const uint8_t *p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}
uint32_t load32(const uint8_t *p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

TEST(Checksum, KnownVector) {
    // The example header from RFC 1071 section 3 sums to 0xddf2 (bytes 00 01 f2 03 f4 f5 f6 f7).
    const uint8_t data[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(wire_value(uint16_t(~csum::compute(data, sizeof data))), 0xddf2);
    // A textbook IPv4 header (checksum 0xb861).
    uint8_t ip[] = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                    0x00, 0x00, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    EXPECT_EQ(wire_value(csum::compute(ip, sizeof ip)), 0xb861);
    ip[10] = 0xb8;
    ip[11] = 0x61;
    EXPECT_TRUE(csum::verify(ip, sizeof ip));
    ip[11] = 0x62;
    EXPECT_FALSE(csum::verify(ip, sizeof ip));
}

TEST(Checksum, EmptyAndZeroBuffers) {
    EXPECT_EQ(csum::compute(nullptr, 0), 0xffff);
    std::vector<uint8_t> zeros(100, 0);
    EXPECT_EQ(csum::compute(zeros.data(), zeros.size()), 0xffff);
    EXPECT_FALSE(csum::verify(zeros.data(), zeros.size()));
    std::vector<uint8_t> ones(1500, 0xff);
    EXPECT_EQ(csum::compute(ones.data(), ones.size()), 0x0000);
    EXPECT_TRUE(csum::verify(ones.data(), ones.size()));
}

TEST(Checksum, ComputeMatchesReferenceOnRandomBuffers) {
    std::mt19937 rng(11);
    std::vector<uint8_t> buf(1501 + 8);
    for (size_t len = 0; len <= 1500; ++len) {
        for (int rep = 0; rep < 4; ++rep) {
            // Bias some buffers towards 0xff bytes, where carries pile up.
            const bool heavy = rep == 3;
            for (auto &b : buf)
                b = heavy ? uint8_t(0xff - (rng() % 3 == 0 ? rng() % 4 : 0)) : uint8_t(rng());
            // Odd start addresses too: the implementation loads with memcpy.
            const uint8_t *p = buf.data() + (rep & 1);
            ASSERT_EQ(wire_value(csum::compute(p, len)), reference_checksum(p, len))
                << "len " << len << " rep " << rep;
        }
    }
}

TEST(Checksum, InitialValueActsAsAPrefix) {
    std::mt19937 rng(12);
    for (int i = 0; i < 2000; ++i) {
        std::vector<uint8_t> a(2 * (rng() % 40)), b(rng() % 600);
        for (auto &x : a) x = uint8_t(rng());
        for (auto &x : b) x = uint8_t(rng());
        std::vector<uint8_t> ab = a;
        ab.insert(ab.end(), b.begin(), b.end());
        uint32_t pseudo = csum::add(0, a.data(), a.size());
        EXPECT_EQ(csum::compute(b.data(), b.size(), pseudo), csum::compute(ab.data(), ab.size()));
    }
    // A large initial accumulator must still fold correctly.
    std::vector<uint8_t> ones(64, 0xff);
    EXPECT_EQ(wire_value(csum::compute(ones.data(), ones.size(), 0xffffffffu)),
              reference_checksum(ones.data(), ones.size(), 0xffff));
}

TEST(Checksum, VerifyAcceptsComputedAndRejectsCorruption) {
    std::mt19937 rng(13);
    std::vector<uint8_t> buf(1500);
    for (int i = 0; i < 5000; ++i) {
        size_t len = 2 + rng() % 1499;
        for (size_t j = 0; j < len; ++j) buf[j] = uint8_t(rng());
        size_t at = 2 * (rng() % (len / 2));  // an aligned checksum field
        buf[at] = buf[at + 1] = 0;
        uint16_t c = csum::compute(buf.data(), len);
        std::memcpy(&buf[at], &c, 2);
        ASSERT_TRUE(csum::verify(buf.data(), len)) << len;
        // Any single bit flip changes the sum by +-2^k, never a multiple of 0xffff.
        size_t bit = rng() % (len * 8);
        buf[bit / 8] ^= uint8_t(1 << (bit % 8));
        ASSERT_FALSE(csum::verify(buf.data(), len)) << len << " bit " << bit;
    }
}

TEST(Checksum, FoldCarriesTwice) {
    EXPECT_EQ(csum::fold(0), 0);
    EXPECT_EQ(csum::fold(0xffff), 0xffff);
    EXPECT_EQ(csum::fold(0x1fffe), 0xffff);
    EXPECT_EQ(csum::fold(0xffffffffu), 0xffff);
    EXPECT_EQ(csum::fold(0x0001ffffu), 0x0001);
    EXPECT_EQ(csum::fold(0x12345678u), uint16_t(0x1234 + 0x5678));
}

// A random option-less header with a correct checksum.
void random_header(std::mt19937 &rng, uint8_t *h) {
    for (int i = 0; i < 20; ++i) h[i] = uint8_t(rng());
    h[0] = 0x45;
    set_ipv4_checksum(reinterpret_cast<rte_ipv4_hdr *>(h));
}

// Field offsets in an IPv4 header.
constexpr size_t kId = 4, kTtl = 8, kCheck = 10, kSrc = 12, kDst = 16;

// Applies `change` to h, checks the incremental checksum equals a full recomputation, and
// leaves h with the new fields and that checksum.
template <typename Change>
void check_incremental16(uint8_t *h, size_t word_at, Change change) {
    uint16_t old_word = load16(h + word_at);
    uint16_t check = load16(h + kCheck);
    change(h);
    uint16_t new_word = load16(h + word_at);
    uint16_t incremental = csum::replace16(check, old_word, new_word);
    set_ipv4_checksum(reinterpret_cast<rte_ipv4_hdr *>(h));
    ASSERT_EQ(incremental, load16(h + kCheck))
        << "old check " << check << " old word " << old_word << " new word " << new_word;
}

template <typename Change>
void check_incremental32(uint8_t *h, size_t word_at, Change change) {
    uint32_t old_word = load32(h + word_at);
    uint16_t check = load16(h + kCheck);
    change(h);
    uint32_t new_word = load32(h + word_at);
    uint16_t incremental = csum::replace32(check, old_word, new_word);
    set_ipv4_checksum(reinterpret_cast<rte_ipv4_hdr *>(h));
    ASSERT_EQ(incremental, load16(h + kCheck))
        << "old check " << check << " old word " << old_word << " new word " << new_word;
}

TEST(Checksum, IncrementalMatchesRecomputationOnRandomHeaders) {
    std::mt19937 rng(14);
    uint8_t h[20];
    for (int i = 0; i < 100000; ++i) {
        random_header(rng, h);
        const uint8_t ttl = uint8_t(rng());
        ASSERT_NO_FATAL_FAILURE(check_incremental16(h, kTtl, [&](uint8_t *p) { p[kTtl] = ttl; }));
        const uint32_t src = rng(), dst = rng();
        ASSERT_NO_FATAL_FAILURE(
            check_incremental32(h, kSrc, [&](uint8_t *p) { std::memcpy(p + kSrc, &src, 4); }));
        ASSERT_NO_FATAL_FAILURE(
            check_incremental32(h, kDst, [&](uint8_t *p) { std::memcpy(p + kDst, &dst, 4); }));
        // Any other 16-bit word but the checksum and the version/IHL word (which would change
        // the header length).
        size_t at = 2 * (1 + rng() % 9);
        if (at == kCheck) at = kId;
        const uint16_t w = uint16_t(rng());
        ASSERT_NO_FATAL_FAILURE(
            check_incremental16(h, at, [&](uint8_t *p) { std::memcpy(p + at, &w, 2); }));
        // Unchanged field: the checksum must not change either.
        ASSERT_NO_FATAL_FAILURE(check_incremental16(h, kTtl, [](uint8_t *) {}));
    }
}

// Sets the identification field so that the header's full checksum comes out as 0x0000
// (its one's complement sum is 0xffff).
void force_zero_checksum(uint8_t *h) {
    h[kId] = h[kId + 1] = 0;
    h[kCheck] = h[kCheck + 1] = 0;
    uint16_t s = csum::fold(csum::add(0, h, 20));
    uint16_t id = uint16_t(0xffff - s);
    std::memcpy(h + kId, &id, 2);
    set_ipv4_checksum(reinterpret_cast<rte_ipv4_hdr *>(h));
}

TEST(Checksum, IncrementalAtZeroChecksumEdges) {
    std::mt19937 rng(15);
    uint8_t h[20];
    int from_zero = 0, to_zero = 0;
    for (int i = 0; i < 20000; ++i) {
        // From a header whose checksum is 0x0000.
        random_header(rng, h);
        force_zero_checksum(h);
        ASSERT_EQ(load16(h + kCheck), 0) << i;
        ASSERT_TRUE(csum::verify(h, 20));
        ++from_zero;
        const uint8_t ttl = uint8_t(rng());
        ASSERT_NO_FATAL_FAILURE(check_incremental16(h, kTtl, [&](uint8_t *p) { p[kTtl] = ttl; }));

        // To a header whose checksum is 0x0000: build the target, then start from a variant.
        random_header(rng, h);
        force_zero_checksum(h);
        uint8_t target[20];
        std::memcpy(target, h, 20);
        const uint32_t other_src = rng();
        std::memcpy(h + kSrc, &other_src, 4);
        set_ipv4_checksum(reinterpret_cast<rte_ipv4_hdr *>(h));
        ASSERT_NO_FATAL_FAILURE(check_incremental32(
            h, kSrc, [&](uint8_t *p) { std::memcpy(p + kSrc, target + kSrc, 4); }));
        ASSERT_EQ(load16(h + kCheck), 0);
        ++to_zero;

        // TTL change landing exactly on 0x0000.
        random_header(rng, h);
        force_zero_checksum(h);
        std::memcpy(target, h, 20);
        h[kTtl] = uint8_t(h[kTtl] + 1 + rng() % 254);
        set_ipv4_checksum(reinterpret_cast<rte_ipv4_hdr *>(h));
        ASSERT_NO_FATAL_FAILURE(
            check_incremental16(h, kTtl, [&](uint8_t *p) { p[kTtl] = target[kTtl]; }));
        ASSERT_EQ(load16(h + kCheck), 0);
    }
    EXPECT_EQ(from_zero, 20000);
    EXPECT_EQ(to_zero, 20000);
}

TEST(Checksum, IncrementalHandlesAllOnesWords) {
    // Old and new words of 0x0000 and 0xffff, where eqn. 2 of RFC 1624 goes wrong.
    std::mt19937 rng(16);
    uint8_t h[20];
    const uint16_t specials[] = {0x0000, 0xffff, 0x0001, 0xfffe, 0x8000, 0x7fff};
    for (int i = 0; i < 5000; ++i) {
        random_header(rng, h);
        if (i & 1) force_zero_checksum(h);
        for (uint16_t from : specials) {
            for (uint16_t to : specials) {
                std::memcpy(h + kId, &from, 2);
                set_ipv4_checksum(reinterpret_cast<rte_ipv4_hdr *>(h));
                ASSERT_NO_FATAL_FAILURE(
                    check_incremental16(h, kId, [&](uint8_t *p) { std::memcpy(p + kId, &to, 2); }));
                ASSERT_TRUE(csum::verify(h, 20));
            }
        }
    }
}

// RFC 1624 eqn. 3 equals a full recomputation except for data that becomes all zero (its
// full checksum is 0xffff, the update gives 0x0000). That cannot happen to an IPv4 header
// (the version is non-zero) nor to TCP/UDP (the pseudo-header holds the protocol); the one
// message that can become all zero, an echo reply, is summed afresh (icmp_test.cc).

TEST(DecrementTtl, MatchesFullRecomputationWithOptions) {
    std::mt19937 rng(17);
    uint8_t a[60], b[60];
    for (int i = 0; i < 100000; ++i) {
        const unsigned ihl = 5 + rng() % 11;
        for (auto &x : a) x = uint8_t(rng());
        a[0] = uint8_t(0x40 | ihl);
        a[kTtl] = uint8_t(1 + rng() % 255);
        if (i % 7 == 0) a[kTtl] = 1;
        auto *ha = reinterpret_cast<rte_ipv4_hdr *>(a);
        set_ipv4_checksum(ha);
        if (i % 5 == 0) {  // steer some towards a zero checksum before or after
            std::memcpy(b, a, 60);
            b[kId] = b[kId + 1] = b[kCheck] = b[kCheck + 1] = 0;
            if (i % 10 == 0) --b[kTtl];
            uint16_t s = csum::fold(csum::add(0, b, ihl * 4));
            uint16_t id = uint16_t(0xffff - s);
            std::memcpy(a + kId, &id, 2);
            set_ipv4_checksum(ha);
        }
        ASSERT_TRUE(csum::verify(a, ihl * 4));
        std::memcpy(b, a, 60);
        auto *hb = reinterpret_cast<rte_ipv4_hdr *>(b);
        const uint8_t ttl = a[kTtl];
        decrement_ttl(ha);
        --hb->time_to_live;
        set_ipv4_checksum(hb);
        ASSERT_EQ(a[kTtl], uint8_t(ttl - 1));
        ASSERT_EQ(std::memcmp(a, b, 60), 0) << "ihl " << ihl << " ttl " << int(ttl) << " check "
                                            << ha->hdr_checksum << " vs " << hb->hdr_checksum;
        ASSERT_TRUE(csum::verify(a, ihl * 4));
    }
}

TEST(SetIpv4Checksum, CoversOptionsAndOnlyTheHeader) {
    std::mt19937 rng(18);
    uint8_t p[80];
    for (int i = 0; i < 10000; ++i) {
        for (auto &x : p) x = uint8_t(rng());
        const unsigned ihl = 5 + rng() % 11;
        p[0] = uint8_t(0x40 | ihl);
        set_ipv4_checksum(reinterpret_cast<rte_ipv4_hdr *>(p));
        ASSERT_TRUE(csum::verify(p, ihl * 4));
        p[kCheck] = p[kCheck + 1] = 0;
        ASSERT_EQ(wire_value(csum::compute(p, ihl * 4)), reference_checksum(p, ihl * 4));
        set_ipv4_checksum(reinterpret_cast<rte_ipv4_hdr *>(p));
        // Bytes after the header do not count.
        p[ihl * 4] ^= 0x5a;
        ASSERT_TRUE(csum::verify(p, ihl * 4));
        // The last option byte does.
        p[ihl * 4 - 1] ^= 0x01;
        ASSERT_FALSE(csum::verify(p, ihl * 4));
    }
}

}  // namespace
}  // namespace ssw
