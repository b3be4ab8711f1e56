// IPv4 fragmentation (RFC 791 3.2, RFC 1812 5.2.6): every fragment fits, offsets and MF are
// right, the payload reassembles, options are copied as their copied flag says.
#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <rte_ip.h>

#include "dataplane/packet/fragment.h"
#include "dataplane/packet/ipv4.h"

namespace ssw {
namespace {

uint16_t get16(const uint8_t *p) { return uint16_t(p[0] << 8 | p[1]); }

struct option_list {
    std::vector<uint8_t> bytes;   // as in the header, padded to a multiple of 4
    std::vector<uint8_t> copied;  // what later fragments should carry, padded
};

// Random well-formed options of at most `max` bytes: NOPs, options with and without the
// copied flag, sometimes an end-of-list followed by junk.
option_list random_options(std::mt19937 &rng, size_t max) {
    option_list o;
    static const uint8_t kTypes[] = {0x07 /* RR */,
                                     0x44 /* TS */,
                                     0x83 /* LSRR */,
                                     0x89 /* SSRR */,
                                     0x94 /* RA */,
                                     0x82 /* security */,
                                     0x19,
                                     0x9e};
    while (o.bytes.size() < max) {
        const size_t room = max - o.bytes.size();
        const unsigned pick = rng() % 10;
        if (pick == 0) {
            o.bytes.push_back(1);  // NOP: never copied
            continue;
        }
        if (pick == 1) {  // end of list; the rest is junk nobody should read
            o.bytes.push_back(0);
            while (o.bytes.size() < max) o.bytes.push_back(uint8_t(rng()));
            break;
        }
        if (room < 2) break;
        const uint8_t type = kTypes[rng() % 8];
        const uint8_t len = uint8_t(2 + rng() % (std::min<size_t>(room, 11) - 1));
        o.bytes.push_back(type);
        o.bytes.push_back(len);
        for (int i = 2; i < len; ++i) o.bytes.push_back(uint8_t(rng()));
        if (type & 0x80) o.copied.insert(o.copied.end(), o.bytes.end() - len, o.bytes.end());
    }
    while (o.bytes.size() % 4) o.bytes.push_back(0);
    while (o.copied.size() % 4) o.copied.push_back(0);
    return o;
}

std::vector<uint8_t> make_datagram(const std::vector<uint8_t> &options,
                                   const std::vector<uint8_t> &payload, uint16_t frag = 0) {
    const size_t hlen = 20 + options.size();
    std::vector<uint8_t> p(hlen + payload.size());
    auto *ip = reinterpret_cast<rte_ipv4_hdr *>(p.data());
    ip->version_ihl = uint8_t(0x40 | hlen / 4);
    ip->type_of_service = 0x2e;
    ip->total_length = be16_t(uint16_t(p.size())).raw();
    ip->packet_id = be16_t(0xd00d).raw();
    ip->fragment_offset = be16_t(frag).raw();
    ip->time_to_live = 63;
    ip->next_proto_id = 17;
    ip->src_addr = ip4_addr(10, 1, 1, 1).be().raw();
    ip->dst_addr = ip4_addr(10, 2, 2, 2).be().raw();
    std::copy(options.begin(), options.end(), p.begin() + 20);
    std::copy(payload.begin(), payload.end(), p.begin() + long(hlen));
    set_ipv4_checksum(ip);
    return p;
}

struct fragments {
    std::vector<std::vector<uint8_t>> bufs;
    int calls = 0;
    int fail_at = -1;  // emit returns nullptr on this call

    std::function<uint8_t *(size_t)> emitter() {
        return [this](size_t n) -> uint8_t * {
            if (calls++ == fail_at) return nullptr;
            bufs.emplace_back(n, 0xcc);
            return bufs.back().data();
        };
    }
};

// Checks the fragments of `orig` against everything RFC 791 asks; returns the reassembled
// payload.
void check_fragments(const std::vector<uint8_t> &orig, const option_list &opts, uint16_t mtu,
                     const fragments &f) {
    const auto *oh = reinterpret_cast<const rte_ipv4_hdr *>(orig.data());
    const size_t ohlen = ihl_bytes(oh);
    const uint16_t ofrag = frag_field(oh);
    const size_t base = size_t(ofrag & 0x1fff) * 8;
    std::vector<uint8_t> payload;
    for (size_t k = 0; k < f.bufs.size(); ++k) {
        SCOPED_TRACE(testing::Message()
                     << "fragment " << k << " of " << f.bufs.size() << ", mtu " << mtu);
        const auto &b = f.bufs[k];
        const auto *h = reinterpret_cast<const rte_ipv4_hdr *>(b.data());
        const size_t hlen = ihl_bytes(h);
        ASSERT_LE(b.size(), mtu);
        ASSERT_EQ(h->version_ihl >> 4, 4);
        ASSERT_EQ(total_length(h), b.size());
        ASSERT_GT(b.size(), hlen);
        ASSERT_TRUE(csum::verify(h, hlen));
        drop_reason why;
        ASSERT_TRUE(check_ipv4(h, uint32_t(b.size()), why)) << name_of(why);
        // Fields that stay.
        EXPECT_EQ(h->type_of_service, oh->type_of_service);
        EXPECT_EQ(h->packet_id, oh->packet_id);
        EXPECT_EQ(h->time_to_live, oh->time_to_live);
        EXPECT_EQ(h->next_proto_id, oh->next_proto_id);
        EXPECT_EQ(h->src_addr, oh->src_addr);
        EXPECT_EQ(h->dst_addr, oh->dst_addr);
        // Options.
        if (k == 0) {
            ASSERT_EQ(hlen, ohlen);
            EXPECT_EQ(std::memcmp(b.data() + 20, orig.data() + 20, ohlen - 20), 0);
        } else {
            ASSERT_EQ(hlen, 20 + opts.copied.size());
            EXPECT_TRUE(std::equal(opts.copied.begin(), opts.copied.end(), b.begin() + 20));
        }
        // Offset and MF.
        const uint16_t fr = frag_field(h);
        const bool last = k + 1 == f.bufs.size();
        EXPECT_EQ(size_t(fr & 0x1fff) * 8, base + payload.size());
        EXPECT_EQ(bool(fr & 0x2000), !last || (ofrag & 0x2000));
        EXPECT_EQ(fr & 0x4000, 0);
        const size_t chunk = b.size() - hlen;
        if (!last) {
            EXPECT_EQ(chunk % 8, 0u);
        }
        payload.insert(payload.end(), b.begin() + long(hlen), b.end());
    }
    ASSERT_EQ(payload.size(), total_length(oh) - ohlen);
    EXPECT_EQ(std::memcmp(payload.data(), orig.data() + ohlen, payload.size()), 0);
}

TEST(Fragment, RandomPayloadsAndMtus) {
    std::mt19937 rng(61);
    int total_frags = 0;
    for (int i = 0; i < 3000; ++i) {
        const uint16_t mtu = uint16_t(68 + rng() % (1500 - 68 + 1));
        option_list opts = i % 2 ? random_options(rng, 4 * (rng() % 11)) : option_list{};
        std::vector<uint8_t> payload(1 + rng() % 4000);
        for (auto &x : payload) x = uint8_t(rng());
        auto orig = make_datagram(opts.bytes, payload);
        fragments f;
        int n = fragment_ipv4(orig.data(), orig.size(), mtu, f.emitter());
        ASSERT_EQ(n, int(f.bufs.size()));
        ASSERT_GE(n, 1);
        if (orig.size() <= mtu) {
            ASSERT_EQ(n, 1);
        } else {
            ASSERT_GE(n, 2);
        }
        ASSERT_NO_FATAL_FAILURE(check_fragments(orig, opts, mtu, f)) << "iteration " << i;
        total_frags += n;
    }
    EXPECT_GT(total_frags, 6000);
}

TEST(Fragment, ExactSizes) {
    // 1500-byte datagram, no options, MTU 576: 552 payload bytes per fragment (69 * 8).
    std::vector<uint8_t> payload(1480);
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = uint8_t(i * 7);
    auto orig = make_datagram({}, payload);
    fragments f;
    ASSERT_EQ(fragment_ipv4(orig.data(), orig.size(), 576, f.emitter()), 3);
    EXPECT_EQ(f.bufs[0].size(), 572u);
    EXPECT_EQ(f.bufs[1].size(), 572u);
    EXPECT_EQ(f.bufs[2].size(), 20u + 1480 - 2 * 552);
    EXPECT_EQ(get16(f.bufs[1].data() + 6), 0x2000 | 69);
    EXPECT_EQ(get16(f.bufs[2].data() + 6), 138);
    check_fragments(orig, {}, 576, f);
}

TEST(Fragment, FitsWholeIsOneCopy) {
    std::vector<uint8_t> payload(100, 0x5a);
    auto orig = make_datagram({}, payload);
    fragments f;
    ASSERT_EQ(fragment_ipv4(orig.data(), orig.size(), 1500, f.emitter()), 1);
    EXPECT_EQ(f.bufs[0], orig);
}

TEST(Fragment, IgnoresBytesBeyondTotalLength) {
    std::vector<uint8_t> payload(300);
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = uint8_t(i);
    auto orig = make_datagram({}, payload);
    auto padded = orig;
    padded.resize(orig.size() + 50, 0xee);
    fragments f;
    ASSERT_EQ(fragment_ipv4(padded.data(), padded.size(), 100, f.emitter()), 4);
    check_fragments(orig, {}, 100, f);
}

TEST(Fragment, RefragmentingAFragmentKeepsOffsetsAndMf) {
    std::mt19937 rng(62);
    for (int i = 0; i < 500; ++i) {
        const uint16_t base = uint16_t(rng() % 4000);
        const bool mf = i % 2;
        std::vector<uint8_t> payload(8 * (20 + rng() % 150) + (mf ? 0 : rng() % 8));
        for (auto &x : payload) x = uint8_t(rng());
        option_list opts = random_options(rng, 4 * (rng() % 6));
        auto orig = make_datagram(opts.bytes, payload, uint16_t(base | (mf ? 0x2000 : 0)));
        const uint16_t mtu = uint16_t(68 + rng() % 600);
        fragments f;
        int n = fragment_ipv4(orig.data(), orig.size(), mtu, f.emitter());
        ASSERT_EQ(n, int(f.bufs.size()));
        ASSERT_NO_FATAL_FAILURE(check_fragments(orig, opts, mtu, f));
        EXPECT_EQ(frag_field(reinterpret_cast<rte_ipv4_hdr *>(f.bufs[0].data())) & 0x1fff, base);
        const uint16_t last = frag_field(reinterpret_cast<rte_ipv4_hdr *>(f.bufs.back().data()));
        EXPECT_EQ(bool(last & 0x2000), mf);
    }
}

TEST(Fragment, OptionsOnlyCopiedOnesRepeat) {
    // RR (not copied, 7 bytes), NOP, LSRR (copied, 8 bytes), router alert (copied, 4).
    std::vector<uint8_t> options = {0x07, 7, 4,  1,  2,  3,  4,    1, 0x83, 8,
                                    8,    9, 10, 11, 12, 13, 0x94, 4, 0,    0};
    ASSERT_EQ(options.size(), 20u);
    option_list opts{options, {0x83, 8, 8, 9, 10, 11, 12, 13, 0x94, 4, 0, 0}};
    std::vector<uint8_t> payload(1000);
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = uint8_t(i);
    auto orig = make_datagram(options, payload);
    fragments f;
    int n = fragment_ipv4(orig.data(), orig.size(), 300, f.emitter());
    ASSERT_GE(n, 4);
    EXPECT_EQ(ihl_bytes(reinterpret_cast<rte_ipv4_hdr *>(f.bufs[0].data())), 40u);
    for (int k = 1; k < n; ++k)
        EXPECT_EQ(ihl_bytes(reinterpret_cast<rte_ipv4_hdr *>(f.bufs[size_t(k)].data())), 32u);
    check_fragments(orig, opts, 300, f);
}

TEST(Fragment, NoCopiedOptionsMeansPlainLaterHeaders) {
    std::vector<uint8_t> options = {0x07, 11, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0};  // RR only
    std::vector<uint8_t> payload(500, 3);
    auto orig = make_datagram(options, payload);
    fragments f;
    int n = fragment_ipv4(orig.data(), orig.size(), 200, f.emitter());
    ASSERT_GE(n, 3);
    for (int k = 1; k < n; ++k)
        EXPECT_EQ(ihl_bytes(reinterpret_cast<rte_ipv4_hdr *>(f.bufs[size_t(k)].data())), 20u);
    check_fragments(orig, {options, {}}, 200, f);
}

TEST(Fragment, MalformedOptionsRefused) {
    const std::vector<std::vector<uint8_t>> bad = {
        {0x83, 0, 0, 0},                 // length 0
        {0x83, 1, 0, 0},                 // length 1
        {0x07, 5, 0, 0},                 // runs past the header
        {0x44, 200, 0, 0, 0, 0, 0, 0},   // far past
        {1, 1, 1, 0x83},                 // type with no length byte
        {0x94, 4, 0, 0, 0x07, 0, 0, 0},  // second option length 0
    };
    std::vector<uint8_t> payload(400, 9);
    for (const auto &o : bad) {
        auto orig = make_datagram(o, payload);
        fragments f;
        EXPECT_EQ(fragment_ipv4(orig.data(), orig.size(), 100, f.emitter()), -1);
        EXPECT_TRUE(f.bufs.empty());
        uint8_t out[40];
        EXPECT_EQ(copied_options(orig.data(),
                                 ihl_bytes(reinterpret_cast<rte_ipv4_hdr *>(orig.data())), out),
                  -1);
    }
}

TEST(Fragment, MtuTooSmallRefused) {
    std::mt19937 rng(63);
    for (size_t olen : {0u, 4u, 20u, 40u}) {
        std::vector<uint8_t> options(olen, 1);
        std::vector<uint8_t> payload(200, 1);
        auto orig = make_datagram(options, payload);
        const uint16_t hlen = uint16_t(20 + olen);
        for (uint16_t mtu = 0; mtu < hlen + 8; ++mtu) {
            fragments f;
            EXPECT_EQ(fragment_ipv4(orig.data(), orig.size(), mtu, f.emitter()), -1) << mtu;
        }
        fragments f;
        EXPECT_GT(fragment_ipv4(orig.data(), orig.size(), uint16_t(hlen + 8), f.emitter()), 1);
        check_fragments(orig, {options, {}}, uint16_t(hlen + 8), f);
    }
}

TEST(Fragment, BadLengthsRefused) {
    std::vector<uint8_t> payload(200, 1);
    auto orig = make_datagram({}, payload);
    fragments f;
    // Frame shorter than total length.
    EXPECT_EQ(fragment_ipv4(orig.data(), orig.size() - 1, 100, f.emitter()), -1);
    // Header only, nothing to fragment.
    auto empty = make_datagram({}, {});
    EXPECT_EQ(fragment_ipv4(empty.data(), empty.size(), 100, f.emitter()), -1);
    EXPECT_TRUE(f.bufs.empty());
}

TEST(Fragment, EmitFailureAborts) {
    std::vector<uint8_t> payload(1000, 1);
    auto orig = make_datagram({}, payload);
    for (int fail_at = 0; fail_at < 3; ++fail_at) {
        fragments f;
        f.fail_at = fail_at;
        EXPECT_EQ(fragment_ipv4(orig.data(), orig.size(), 300, f.emitter()), -1);
        EXPECT_EQ(f.calls, fail_at + 1) << "emit called again after it failed";
    }
}

TEST(CopiedOptions, Direct) {
    auto run = [](std::vector<uint8_t> options) {
        auto pkt = make_datagram(options, {1, 2, 3, 4, 5, 6, 7, 8});
        std::vector<uint8_t> out(44, 0xcc);
        int n = copied_options(pkt.data(), 20 + options.size(), out.data());
        out.resize(n < 0 ? 0 : size_t(n));
        return std::make_pair(n, out);
    };
    EXPECT_EQ(run({}).first, 0);
    EXPECT_EQ(run({1, 1, 1, 1}).first, 0);
    EXPECT_EQ(run({0, 0x83, 0, 0}).first, 0) << "bytes after end-of-list read";
    auto [n1, o1] = run({0x94, 4, 0, 0});
    EXPECT_EQ(n1, 4);
    EXPECT_EQ(o1, (std::vector<uint8_t>{0x94, 4, 0, 0}));
    auto [n2, o2] = run({0x83, 3, 5, 1, 0x07, 3, 9, 0});
    EXPECT_EQ(n2, 4);
    EXPECT_EQ(o2, (std::vector<uint8_t>{0x83, 3, 5, 0}));
    auto [n3, o3] = run({0x07, 3, 9, 0x83, 5, 1, 2, 3, 0x89, 3, 7, 0});
    EXPECT_EQ(n3, 8);
    EXPECT_EQ(o3, (std::vector<uint8_t>{0x83, 5, 1, 2, 3, 0x89, 3, 7}));
    // Option filling the whole 40 bytes.
    std::vector<uint8_t> big(40, 0xab);
    big[0] = 0x83;
    big[1] = 40;
    auto [n4, o4] = run(big);
    EXPECT_EQ(n4, 40);
    EXPECT_EQ(o4, big);
    EXPECT_EQ(run({0x83, 0, 0, 0}).first, -1);
    EXPECT_EQ(run({0x83, 1, 0, 0}).first, -1);
    EXPECT_EQ(run({0x83, 5, 0, 0}).first, -1);
    EXPECT_EQ(run({1, 1, 1, 0x07}).first, -1);
}

TEST(CopiedOptions, MatchesGeneratedExpectation) {
    std::mt19937 rng(64);
    for (int i = 0; i < 20000; ++i) {
        option_list opts = random_options(rng, 4 * (rng() % 11));
        auto pkt = make_datagram(opts.bytes, {0});
        uint8_t out[40];
        int n = copied_options(pkt.data(), 20 + opts.bytes.size(), out);
        ASSERT_EQ(n, int(opts.copied.size()));
        ASSERT_TRUE(std::equal(opts.copied.begin(), opts.copied.end(), out));
    }
}

}  // namespace
}  // namespace ssw
