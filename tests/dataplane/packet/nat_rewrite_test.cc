// Address translation in place (nat::rewrite) on many random packets of every kind, against
// the from-scratch reference of nat_rewrite_reference.h.
#include "tests/dataplane/packet/nat_rewrite_reference.h"

namespace ssw {
namespace {

using namespace nat_rewrite_test;

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

}  // namespace
}  // namespace ssw
