// Proxy-ARP: longest-prefix match per port (against a linear scan), the table's bookkeeping,
// and the decision answers_arp_for makes from a router's state (docs/DESIGN.md §2.3).
#include <map>
#include <optional>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/tables/proxy_arp.h"
#include "tests/test_support.h"

namespace ssw {
namespace {

using test::A;
using test::P;

TEST(ProxyArpTable, AddRemoveContainsEntries) {
    proxy_arp_table t;
    EXPECT_EQ(t.size(), 0u);
    EXPECT_TRUE(t.entries().empty());
    EXPECT_TRUE(t.add(1, P("192.168.11.0/24")));
    EXPECT_FALSE(t.add(1, P("192.168.11.0/24"))) << "already present";
    EXPECT_TRUE(t.add(2, P("192.168.11.0/24"))) << "another port";
    EXPECT_TRUE(t.add(1, P("192.168.11.3/32")));
    EXPECT_TRUE(t.add(0, P("10.0.0.0/8")));
    EXPECT_EQ(t.size(), 4u);
    EXPECT_TRUE(t.contains(1, P("192.168.11.0/24")));
    EXPECT_TRUE(t.contains(1, P("192.168.11.3/32")));
    EXPECT_FALSE(t.contains(1, P("192.168.11.0/25")));
    EXPECT_FALSE(t.contains(0, P("192.168.11.0/24")));
    EXPECT_FALSE(t.contains(3, P("192.168.11.0/24")));
    using E = std::pair<uint16_t, ip4_prefix>;
    EXPECT_EQ(t.entries(), (std::vector<E>{{0, P("10.0.0.0/8")},
                                           {1, P("192.168.11.0/24")},
                                           {1, P("192.168.11.3/32")},
                                           {2, P("192.168.11.0/24")}}));
    EXPECT_FALSE(t.remove(1, P("192.168.12.0/24")));
    EXPECT_FALSE(t.remove(3, P("192.168.11.0/24")));
    EXPECT_TRUE(t.remove(1, P("192.168.11.0/24")));
    EXPECT_FALSE(t.remove(1, P("192.168.11.0/24")));
    EXPECT_EQ(t.size(), 3u);
    EXPECT_FALSE(t.contains(1, P("192.168.11.0/24")));
    EXPECT_TRUE(t.contains(2, P("192.168.11.0/24")));
    // The /24 is gone from port 1; the /32 still answers there.
    EXPECT_EQ(t.match(1, A("192.168.11.3")), P("192.168.11.3/32"));
    EXPECT_EQ(t.match(1, A("192.168.11.4")), std::nullopt);
    EXPECT_EQ(t.match(2, A("192.168.11.4")), P("192.168.11.0/24"));
    // Ports beyond the table are refused, not an out-of-bounds write.
    EXPECT_FALSE(t.add(RTE_MAX_ETHPORTS, P("10.0.0.0/8")));
    EXPECT_FALSE(t.contains(RTE_MAX_ETHPORTS, P("10.0.0.0/8")));
    EXPECT_EQ(t.match(RTE_MAX_ETHPORTS, A("10.0.0.1")), std::nullopt);
    EXPECT_EQ(t.match(UINT16_MAX, A("10.0.0.1")), std::nullopt);
}

TEST(ProxyArpTable, LongestPrefixWins) {
    proxy_arp_table t;
    ASSERT_TRUE(t.add(1, P("10.0.0.0/8")));
    ASSERT_TRUE(t.add(1, P("10.1.0.0/16")));
    ASSERT_TRUE(t.add(1, P("10.1.2.0/24")));
    ASSERT_TRUE(t.add(1, P("10.1.2.3/32")));
    EXPECT_EQ(t.match(1, A("10.1.2.3")), P("10.1.2.3/32"));
    EXPECT_EQ(t.match(1, A("10.1.2.4")), P("10.1.2.0/24"));
    EXPECT_EQ(t.match(1, A("10.1.3.4")), P("10.1.0.0/16"));
    EXPECT_EQ(t.match(1, A("10.2.3.4")), P("10.0.0.0/8"));
    EXPECT_EQ(t.match(1, A("11.0.0.1")), std::nullopt);
    EXPECT_EQ(t.match(0, A("10.1.2.3")), std::nullopt) << "per port";
    // /0 covers everything.
    ASSERT_TRUE(t.add(1, P("0.0.0.0/0")));
    EXPECT_EQ(t.match(1, A("11.0.0.1")), P("0.0.0.0/0"));
    EXPECT_EQ(t.match(1, A("10.1.2.3")), P("10.1.2.3/32"));
    ASSERT_TRUE(t.remove(1, P("10.1.2.0/24")));
    EXPECT_EQ(t.match(1, A("10.1.2.4")), P("10.1.0.0/16"));
}

TEST(ProxyArpTable, MatchAgreesWithLinearScan) {
    std::mt19937 rng(31);
    proxy_arp_table t;
    std::set<std::pair<uint16_t, ip4_prefix>> entries;
    // Prefixes of /8../32 under a few /8s so that they nest, on four ports.
    auto random_prefix = [&] {
        const uint32_t bases[] = {0x0a000000, 0xc0a80000, 0xac100000};
        const uint8_t len = uint8_t(8 + rng() % 25);
        const uint32_t a =
            bases[rng() % 3] | (uint32_t(rng()) & (rng() % 2 ? 0x0000ffff : 0x00ffffff));
        return ip4_prefix{ip4_addr(a & ip4_prefix::mask_of(len)), len};
    };
    for (int i = 0; i < 3000; ++i) {
        const uint16_t port = uint16_t(rng() % 4);
        const ip4_prefix p = random_prefix();
        if (rng() % 5 == 0 && !entries.empty()) {
            auto it = entries.begin();
            std::advance(it, long(rng() % entries.size()));
            EXPECT_TRUE(t.remove(it->first, it->second));
            entries.erase(it);
        } else {
            EXPECT_EQ(t.add(port, p), entries.insert({port, p}).second);
        }
    }
    ASSERT_EQ(t.size(), entries.size());
    using E = std::pair<uint16_t, ip4_prefix>;
    EXPECT_EQ(t.entries(), std::vector<E>(entries.begin(), entries.end()));
    for (const auto &[port, p] : entries) EXPECT_TRUE(t.contains(port, p));

    auto scan = [&](uint16_t port, ip4_addr a) -> std::optional<ip4_prefix> {
        std::optional<ip4_prefix> best;
        for (const auto &[q, p] : entries)
            if (q == port && p.contains(a) && (!best || p.len > best->len)) best = p;
        return best;
    };
    int hits = 0;
    for (int i = 0; i < 20000; ++i) {
        const uint16_t port = uint16_t(rng() % 5);
        ip4_addr a;
        if (i % 2) {
            a = ip4_addr(uint32_t(rng()));
        } else {
            // Near an entry: its address with some host bits changed.
            auto it = entries.begin();
            std::advance(it, long(rng() % entries.size()));
            a = ip4_addr(it->second.addr.host() ^
                         (uint32_t(rng()) & ~ip4_prefix::mask_of(uint8_t(rng() % 33))));
        }
        const auto want = scan(port, a);
        ASSERT_EQ(t.match(port, a), want) << "port " << port << " " << a.to_string();
        hits += want.has_value();
    }
    EXPECT_GT(hits, 1000) << "the addresses tried hit entries";
}

// A router's state as answers_arp_for sees it.
struct fake_state {
    std::map<ip4_addr, uint16_t> own;  // address -> port
    proxy_arp_table proxy;
    std::map<ip4_addr, uint16_t> local_bindings;  // home address -> delivery port

    bool is_own_address(ip4_addr a, uint16_t port) const {
        auto it = own.find(a);
        return it != own.end() && (port == UINT16_MAX || it->second == port);
    }
    bool proxies(uint16_t port, ip4_addr a) const { return proxy.match(port, a).has_value(); }
    std::optional<uint16_t> local_binding_port(ip4_addr a) const {
        auto it = local_bindings.find(a);
        if (it == local_bindings.end()) return std::nullopt;
        return it->second;
    }
};

TEST(AnswersArpFor, Decisions) {
    // The foreign router R2: port 0 core, port 1 the foreign segment 192.168.10.0/24, where
    // it proxies the home prefix 192.168.11.0/24 for moved VMs.
    fake_state s;
    s.own = {{A("10.0.0.2"), 0}, {A("192.168.10.1"), 1}};
    ASSERT_TRUE(s.proxy.add(1, P("192.168.11.0/24")));
    ASSERT_TRUE(s.proxy.add(0, P("192.168.11.0/24")));
    ASSERT_TRUE(s.proxy.add(1, P("10.0.0.0/24")));  // covers the router's core address
    s.local_bindings = {{A("192.168.11.3"), 1}, {A("192.168.11.4"), 2}};

    // Its own address on the asking port.
    EXPECT_TRUE(answers_arp_for(s, 1, A("192.168.10.1")));
    EXPECT_TRUE(answers_arp_for(s, 0, A("10.0.0.2")));
    // Proxied on that port: the home gateway, a home neighbour.
    EXPECT_TRUE(answers_arp_for(s, 1, A("192.168.11.1")));
    EXPECT_TRUE(answers_arp_for(s, 1, A("192.168.11.77")));
    // Proxied, but a VM moved here answers for itself on this port (case 7).
    EXPECT_FALSE(answers_arp_for(s, 1, A("192.168.11.3")));
    // ...while on another port the router still answers for it.
    EXPECT_TRUE(answers_arp_for(s, 0, A("192.168.11.3")));
    // A local binding delivered on another port: answered here.
    EXPECT_TRUE(answers_arp_for(s, 1, A("192.168.11.4")));
    // The asker's own address (a probe, or its gratuitous ARP): never.
    EXPECT_FALSE(answers_arp_for(s, 1, A("192.168.11.77"), A("192.168.11.77")));
    EXPECT_TRUE(answers_arp_for(s, 1, A("192.168.11.77"), A("192.168.11.78")));
    // One of the router's addresses on another port: not answered here, even if proxied.
    EXPECT_FALSE(answers_arp_for(s, 1, A("10.0.0.2")));
    EXPECT_FALSE(answers_arp_for(s, 0, A("192.168.10.1")));
    // Neither own nor proxied.
    EXPECT_FALSE(answers_arp_for(s, 1, A("192.168.12.5")));
    EXPECT_FALSE(answers_arp_for(s, 2, A("192.168.11.77")));
    // The router's own address on the asking port is answered whoever asks.
    EXPECT_TRUE(answers_arp_for(s, 1, A("192.168.10.1"), A("192.168.10.1")));
}

}  // namespace
}  // namespace ssw
