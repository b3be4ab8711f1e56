// The command language: every valid form parses to the right fields; every malformed line is
// refused with a message that names what is wrong.
#include <cstdint>
#include <string>
#include <variant>

#include <gtest/gtest.h>

#include "control/protocol/command.h"
#include "tests/test_support.h"

namespace ssw {
namespace {

template <typename T>
T parse_as(std::string_view line) {
    auto r = parse_command(line);
    EXPECT_TRUE(r.cmd) << "'" << line << "': " << r.error;
    if (!r.cmd) return T{};
    EXPECT_TRUE(r.error.empty());
    EXPECT_TRUE(std::holds_alternative<T>(*r.cmd))
        << "'" << line << "' parsed as index " << r.cmd->index();
    if (!std::holds_alternative<T>(*r.cmd)) return T{};
    return std::get<T>(*r.cmd);
}

// The line is refused and the message contains `mention`.
void expect_error(std::string_view line, std::string_view mention) {
    auto r = parse_command(line);
    EXPECT_FALSE(r.cmd) << "accepted '" << line << "'";
    EXPECT_FALSE(r.error.empty()) << "'" << line << "'";
    EXPECT_NE(r.error.find(mention), std::string::npos)
        << "'" << line << "' gave '" << r.error << "', which does not mention '" << mention << "'";
}

using test::A;

TEST(ParseCommand, AddressAddDel) {
    auto a = parse_as<cmd_address>("address add 10.0.0.1/24 port 0");
    EXPECT_TRUE(a.add);
    EXPECT_EQ(a.addr, A("10.0.0.1"));
    EXPECT_EQ(a.len, 24);
    EXPECT_EQ(a.port, 0);
    auto d = parse_as<cmd_address>("address del 192.168.1.77/32 port 65534");
    EXPECT_FALSE(d.add);
    EXPECT_EQ(d.addr, A("192.168.1.77"));
    EXPECT_EQ(d.len, 32);
    EXPECT_EQ(d.port, 65534);
    // Host bits are expected in an interface address.
    auto h = parse_as<cmd_address>("address add 172.16.5.4/12 port 3");
    EXPECT_EQ(h.addr, A("172.16.5.4"));
    EXPECT_EQ(h.len, 12);
    EXPECT_EQ(h.port, 3);
    EXPECT_EQ(parse_as<cmd_address>("address add 10.0.0.1/1 port 1").len, 1);
}

TEST(ParseCommand, RouteForms) {
    auto v = parse_as<cmd_route>("route add 10.0.0.0/8 via 192.168.1.1");
    EXPECT_EQ(v.action, cmd_route::op::add);
    EXPECT_EQ(v.prefix, *ip4_prefix::parse("10.0.0.0/8"));
    EXPECT_EQ(v.kind, cmd_route::target::via);
    EXPECT_EQ(v.gateway, A("192.168.1.1"));

    auto p = parse_as<cmd_route>("route replace 172.16.0.0/12 port 7");
    EXPECT_EQ(p.action, cmd_route::op::replace);
    EXPECT_EQ(p.prefix, *ip4_prefix::parse("172.16.0.0/12"));
    EXPECT_EQ(p.kind, cmd_route::target::port);
    EXPECT_EQ(p.port, 7);

    auto b = parse_as<cmd_route>("route add 0.0.0.0/0 blackhole");
    EXPECT_EQ(b.action, cmd_route::op::add);
    EXPECT_EQ(b.prefix.len, 0);
    EXPECT_EQ(b.kind, cmd_route::target::blackhole);

    auto r = parse_as<cmd_route>("route replace 192.0.2.0/24 blackhole");
    EXPECT_EQ(r.action, cmd_route::op::replace);
    EXPECT_EQ(r.kind, cmd_route::target::blackhole);

    auto host = parse_as<cmd_route>("route add 10.1.2.3 via 10.0.0.1");
    EXPECT_EQ(host.prefix, *ip4_prefix::parse("10.1.2.3/32"));

    auto del = parse_as<cmd_route>("route del 10.0.0.0/8");
    EXPECT_EQ(del.action, cmd_route::op::del);
    EXPECT_EQ(del.prefix, *ip4_prefix::parse("10.0.0.0/8"));

    auto dflt = parse_as<cmd_route>("route replace 0.0.0.0/0 via 203.0.113.1");
    EXPECT_EQ(dflt.prefix.len, 0);
    EXPECT_EQ(dflt.gateway, A("203.0.113.1"));
}

TEST(ParseCommand, NeighForms) {
    auto n = parse_as<cmd_neigh>("neigh add 10.0.0.5 lladdr 02:00:00:AB:cd:01 port 2");
    EXPECT_TRUE(n.add);
    EXPECT_EQ(n.ip, A("10.0.0.5"));
    EXPECT_EQ(n.mac, *mac_addr::parse("02:00:00:ab:cd:01"));
    EXPECT_EQ(n.port, 2);
    auto d = parse_as<cmd_neigh>("neigh del 10.0.0.5");
    EXPECT_FALSE(d.add);
    EXPECT_EQ(d.ip, A("10.0.0.5"));
}

TEST(ParseCommand, PortSettings) {
    auto p = parse_as<cmd_port>("port 1 mtu 1500");
    EXPECT_EQ(p.what, cmd_port::setting::mtu);
    EXPECT_EQ(p.port, 1);
    EXPECT_EQ(p.mtu, 1500);
    EXPECT_EQ(parse_as<cmd_port>("port 0 mtu 68").mtu, 68);
    EXPECT_EQ(parse_as<cmd_port>("port 65534 mtu 9702").mtu, 9702);
    EXPECT_EQ(parse_as<cmd_port>("port 65534 mtu 9702").port, 65534);

    auto core = parse_as<cmd_port>("port 2 role core");
    EXPECT_EQ(core.what, cmd_port::setting::role);
    EXPECT_EQ(core.port, 2);
    EXPECT_EQ(core.role, port_role::core);
    auto access = parse_as<cmd_port>("port 3 role access");
    EXPECT_EQ(access.what, cmd_port::setting::role);
    EXPECT_EQ(access.role, port_role::access);

    auto on = parse_as<cmd_port>("port 4 redirects on");
    EXPECT_EQ(on.what, cmd_port::setting::redirects);
    EXPECT_TRUE(on.redirects);
    auto off = parse_as<cmd_port>("port 4 redirects off");
    EXPECT_EQ(off.what, cmd_port::setting::redirects);
    EXPECT_FALSE(off.redirects);
}

TEST(ParseCommand, ShowStatsHelp) {
    EXPECT_EQ(parse_as<cmd_show>("show ports").item, cmd_show::what::ports);
    EXPECT_EQ(parse_as<cmd_show>("show addresses").item, cmd_show::what::addresses);
    EXPECT_EQ(parse_as<cmd_show>("show routes").item, cmd_show::what::routes);
    EXPECT_EQ(parse_as<cmd_show>("show neigh").item, cmd_show::what::neigh);
    EXPECT_EQ(parse_as<cmd_show>("show stats").item, cmd_show::what::stats);
    parse_as<cmd_stats_reset>("stats reset");
    parse_as<cmd_help>("help");
}

TEST(ParseCommand, BlanksAnywhere) {
    auto r = parse_as<cmd_route>("  route\tadd   10.0.0.0/8 \t via\t\t192.168.1.1   ");
    EXPECT_EQ(r.gateway, A("192.168.1.1"));
    EXPECT_EQ(r.prefix.len, 8);
    auto a = parse_as<cmd_address>("address add 10.0.0.1/24 port 4\r");  // CRLF files
    EXPECT_EQ(a.port, 4);
    EXPECT_EQ(parse_as<cmd_show>("\tshow\tneigh\t").item, cmd_show::what::neigh);
    parse_as<cmd_help>("   help   ");
}

TEST(ParseCommand, EmptyAndUnknown) {
    for (const char *blank : {"", " ", "\t\t", "  \r"}) {
        auto r = parse_command(blank);
        EXPECT_FALSE(r.cmd);
        EXPECT_FALSE(r.error.empty());
    }
    expect_error("foo", "'foo'");
    expect_error("frobnicate 1 2 3", "'frobnicate'");
    expect_error("ROUTE add 10.0.0.0/8 blackhole", "'ROUTE'");
    expect_error("# not a command here", "'#'");
    expect_error("routes add 10.0.0.0/8 blackhole", "'routes'");
}

TEST(ParseCommand, AddressErrors) {
    expect_error("address", "missing");
    expect_error("address add", "missing");
    expect_error("address add 10.0.0.1/24", "'port'");
    expect_error("address add 10.0.0.1/24 port", "missing");
    expect_error("address add 10.0.0.1/24 port 1 extra", "'extra'");
    expect_error("address add 10.0.0.1/24 port 1 port 2", "'port'");
    expect_error("address frob 10.0.0.1/24 port 1", "'frob'");
    expect_error("address add 10.0.0.1 port 1", "'10.0.0.1'");
    expect_error("address add 10.0.0.1 port 1", "length");
    expect_error("address add 10.0.0.256/24 port 1", "'10.0.0.256/24'");
    expect_error("address add 10.0.0.1/33 port 1", "'10.0.0.1/33'");
    expect_error("address add 10.0.0.1/24x port 1", "'10.0.0.1/24x'");
    expect_error("address add 10.0.0.1/ port 1", "'10.0.0.1/'");
    expect_error("address add /24 port 1", "'/24'");
    expect_error("address add 10.0.0.1/0 port 1", "length 0");
    expect_error("address add 10.0.0.1/24 prt 1", "'prt'");
    expect_error("address add 10.0.0.1/24 port one", "'one'");
    expect_error("address add 10.0.0.1/24 port -1", "'-1'");
    expect_error("address add 10.0.0.1/24 port 65535", "'65535'");
    expect_error("address add 10.0.0.1/24 port 4294967296", "'4294967296'");
    expect_error("address add 10.0.0.1/24 port +1", "'+1'");
    expect_error("address add 10.0.0.1/24 port 0x1", "'0x1'");
    expect_error("address add 10.0.0.1/24 port 1.5", "'1.5'");
}

// Every refusal quotes the word it refused; the /0 one names only the length.
TEST(ParseCommand, ZeroLengthAddressErrorQuotesToken) {
    expect_error("address add 10.0.0.1/0 port 1", "'10.0.0.1/0'");
}

TEST(ParseCommand, RouteErrors) {
    expect_error("route", "missing");
    expect_error("route add", "missing");
    expect_error("route change 10.0.0.0/8 blackhole", "'change'");
    expect_error("route add 10.0.0.0/8", "missing");
    expect_error("route replace 10.0.0.0/8", "missing");
    expect_error("route add 10.1.2.3/8 via 10.0.0.1", "'10.1.2.3/8'");
    expect_error("route add 10.1.2.3/8 via 10.0.0.1", "did you mean 10.0.0.0/8");
    expect_error("route del 192.168.1.1/24", "did you mean 192.168.1.0/24");
    expect_error("route add 0.0.0.1/0 blackhole", "did you mean 0.0.0.0/0");
    expect_error("route add 10.0.0.0/33 blackhole", "'10.0.0.0/33'");
    expect_error("route add 10.0.0/8 blackhole", "'10.0.0/8'");
    expect_error("route add 10.0.0.0/8 via", "missing");
    expect_error("route add 10.0.0.0/8 via 1.2.3", "'1.2.3'");
    expect_error("route add 10.0.0.0/8 via 1.2.3.4/32", "'1.2.3.4/32'");
    expect_error("route add 10.0.0.0/8 dev eth0", "'dev'");
    expect_error("route add 10.0.0.0/8 port", "missing");
    expect_error("route add 10.0.0.0/8 port x", "'x'");
    expect_error("route add 10.0.0.0/8 port -1", "'-1'");
    expect_error("route add 10.0.0.0/8 port 65535", "'65535'");
    expect_error("route add 10.0.0.0/8 port 99999999999", "'99999999999'");
    expect_error("route add 10.0.0.0/8 blackhole now", "'now'");
    expect_error("route add 10.0.0.0/8 via 1.2.3.4 port 1", "'port'");
    expect_error("route del 10.0.0.0/8 via 1.2.3.4", "'via'");
    expect_error("route del 10.0.0.0/8 blackhole", "'blackhole'");
    expect_error("route del", "missing");
}

TEST(ParseCommand, NeighErrors) {
    expect_error("neigh", "missing");
    expect_error("neigh show", "'show'");
    expect_error("neigh add", "missing");
    expect_error("neigh add 10.0.0.500 lladdr 02:00:00:00:00:01 port 1", "'10.0.0.500'");
    expect_error("neigh add 10.0.0.5", "'lladdr'");
    expect_error("neigh add 10.0.0.5 02:00:00:00:00:01 port 1", "'02:00:00:00:00:01'");
    expect_error("neigh add 10.0.0.5 lladdr", "missing");
    expect_error("neigh add 10.0.0.5 lladdr 02:00:00:00:00 port 1", "'02:00:00:00:00'");
    expect_error("neigh add 10.0.0.5 lladdr zz:00:00:00:00:01 port 1", "'zz:00:00:00:00:01'");
    expect_error("neigh add 10.0.0.5 lladdr 02-00-00-00-00-01 port 1", "'02-00-00-00-00-01'");
    expect_error("neigh add 10.0.0.5 lladdr 01:00:5e:00:00:01 port 1", "01:00:5e:00:00:01");
    expect_error("neigh add 10.0.0.5 lladdr 01:00:5e:00:00:01 port 1", "unicast");
    expect_error("neigh add 10.0.0.5 lladdr ff:ff:ff:ff:ff:ff port 1", "ff:ff:ff:ff:ff:ff");
    expect_error("neigh add 10.0.0.5 lladdr 03:00:00:00:00:01 port 1", "03:00:00:00:00:01");
    expect_error("neigh add 10.0.0.5 lladdr 00:00:00:00:00:00 port 1", "00:00:00:00:00:00");
    expect_error("neigh add 10.0.0.5 lladdr 02:00:00:00:00:01", "'port'");
    expect_error("neigh add 10.0.0.5 lladdr 02:00:00:00:00:01 port 70000", "'70000'");
    expect_error("neigh add 10.0.0.5 lladdr 02:00:00:00:00:01 port 1 x", "'x'");
    expect_error("neigh del 10.0.0.5 lladdr 02:00:00:00:00:01", "'lladdr'");
    expect_error("neigh del 10.0.0.0/24", "'10.0.0.0/24'");
}

TEST(ParseCommand, PortErrors) {
    expect_error("port", "missing");
    expect_error("port 1", "missing");
    expect_error("port 1 mtu", "missing");
    expect_error("port 1 mtu 67", "'67'");
    expect_error("port 1 mtu 0", "'0'");
    expect_error("port 1 mtu 9703", "'9703'");
    expect_error("port 1 mtu 65536", "'65536'");
    expect_error("port 1 mtu -1500", "'-1500'");
    expect_error("port 1 mtu 1500bytes", "'1500bytes'");
    expect_error("port 1 speed 100", "'speed'");
    expect_error("port x mtu 1500", "'x'");
    expect_error("port -1 mtu 1500", "'-1'");
    expect_error("port 65535 mtu 1500", "'65535'");
    expect_error("port 1 mtu 1500 now", "'now'");
    expect_error("port 1 role", "missing");
    expect_error("port 1 role edge", "'edge'");
    expect_error("port 1 role core access", "'access'");
    expect_error("port 1 redirects", "missing");
    expect_error("port 1 redirects yes", "'yes'");
    expect_error("port 1 redirects on off", "'off'");
}

TEST(ParseCommand, ShowStatsHelpErrors) {
    expect_error("show", "missing");
    expect_error("show route", "'route'");
    expect_error("show interfaces", "'interfaces'");
    expect_error("show routes all", "'all'");
    expect_error("stats", "'reset'");
    expect_error("stats clear", "'clear'");
    expect_error("stats reset now", "'now'");
    expect_error("help me", "'me'");
}

TEST(ParseCommand, ControlAndNonAsciiBytesRefused) {
    expect_error("show\x01 ports", "control character");
    expect_error(std::string_view("show\0ports", 10), "control character");
    expect_error("show ports\n", "control character");
    expect_error("show\x1bports", "control character");
    expect_error("route add 10.0.0.0/8 via 1.2.3.4\x7f", "non-ASCII");
    expect_error("route add 10.0.0.0/8 via 1.2.3.\xc3\xa9", "non-ASCII");
    expect_error("show ports \xff", "non-ASCII");
    expect_error("sh\x80ow ports", "non-ASCII");
}

// ---- NAT, proxy ARP, announcements, batches ----

TEST(ParseCommand, NatForms) {
    auto f = parse_as<cmd_nat>("nat add 10.0.0.5 to 198.51.100.5");
    EXPECT_TRUE(f.add);
    EXPECT_EQ(f.home, A("10.0.0.5"));
    EXPECT_EQ(f.care_of, A("198.51.100.5"));
    EXPECT_EQ(f.type, binding_kind::forward);
    EXPECT_FALSE(f.epoch);

    auto l = parse_as<cmd_nat>("nat add 10.0.0.5 to 198.51.100.5 local port 3 epoch 17");
    EXPECT_EQ(l.type, binding_kind::local);
    EXPECT_EQ(l.port, 3);
    ASSERT_TRUE(l.epoch);
    EXPECT_EQ(*l.epoch, 17u);

    auto k = parse_as<cmd_nat>("nat add 10.0.0.5 to 198.51.100.5 local port 3 keep-source");
    EXPECT_EQ(k.type, binding_kind::local_keep_source);
    EXPECT_FALSE(k.epoch);

    auto big = parse_as<cmd_nat>("nat add 10.0.0.5 to 198.51.100.5 epoch 18446744073709551615");
    ASSERT_TRUE(big.epoch);
    EXPECT_EQ(*big.epoch, UINT64_MAX);

    auto d = parse_as<cmd_nat>("nat del 10.0.0.5");
    EXPECT_FALSE(d.add);
    EXPECT_EQ(d.home, A("10.0.0.5"));
    EXPECT_FALSE(d.epoch);
    auto de = parse_as<cmd_nat>("nat del 10.0.0.5 epoch 4");
    ASSERT_TRUE(de.epoch);
    EXPECT_EQ(*de.epoch, 4u);
}

TEST(ParseCommand, NatErrors) {
    expect_error("nat", "missing");
    expect_error("nat put 10.0.0.5 to 1.2.3.4", "'put'");
    expect_error("nat add 10.0.0.5", "'to'");
    expect_error("nat add 10.0.0.5 via 1.2.3.4", "'via'");
    expect_error("nat add 10.0.0.5 to", "missing");
    expect_error("nat add 10.0.0.500 to 1.2.3.4", "'10.0.0.500'");
    expect_error("nat add 10.0.0.5 to 1.2.3.4/32", "'1.2.3.4/32'");
    expect_error("nat add 10.0.0.5 to 1.2.3.4 local", "'port'");
    expect_error("nat add 10.0.0.5 to 1.2.3.4 local port", "missing");
    expect_error("nat add 10.0.0.5 to 1.2.3.4 local port 1 keep", "'keep'");
    expect_error("nat add 10.0.0.5 to 1.2.3.4 epoch", "missing");
    expect_error("nat add 10.0.0.5 to 1.2.3.4 epoch 0", "'0'");
    expect_error("nat add 10.0.0.5 to 1.2.3.4 epoch -1", "'-1'");
    expect_error("nat add 10.0.0.5 to 1.2.3.4 epoch 18446744073709551616",
                 "'18446744073709551616'");
    expect_error("nat add 10.0.0.5 to 1.2.3.4 epoch 1 extra", "'extra'");
    expect_error("nat add 10.0.0.5 to 1.2.3.4 keep-source", "'keep-source'");
    expect_error("nat del 10.0.0.5 to 1.2.3.4", "'to'");
    expect_error("nat del 10.0.0.5 epoch x", "'x'");
}

TEST(ParseCommand, ProxyArp) {
    auto a = parse_as<cmd_proxy_arp>("proxy-arp add 10.1.0.0/16 port 2");
    EXPECT_TRUE(a.add);
    EXPECT_EQ(a.prefix, *ip4_prefix::parse("10.1.0.0/16"));
    EXPECT_EQ(a.port, 2);
    auto d = parse_as<cmd_proxy_arp>("proxy-arp del 10.1.2.3 port 0");
    EXPECT_FALSE(d.add);
    EXPECT_EQ(d.prefix, *ip4_prefix::parse("10.1.2.3/32"));
    expect_error("proxy-arp", "missing");
    expect_error("proxy-arp set 10.1.0.0/16 port 2", "'set'");
    expect_error("proxy-arp add 10.1.2.0/16 port 2", "did you mean 10.1.0.0/16");
    expect_error("proxy-arp add 10.1.0.0/16", "'port'");
    expect_error("proxy-arp add 10.1.0.0/16 port 2 now", "'now'");
}

TEST(ParseCommand, ArpAnnounce) {
    auto a = parse_as<cmd_announce>("arp announce 10.0.0.1 port 1");
    EXPECT_EQ(a.prefix, *ip4_prefix::parse("10.0.0.1/32"));
    EXPECT_EQ(a.port, 1);
    EXPECT_EQ(a.count, 3u);
    EXPECT_EQ(a.interval_ms, 200u);
    auto b = parse_as<cmd_announce>("arp announce 10.0.0.0/30 port 2 count 5 interval 1000");
    EXPECT_EQ(b.prefix.len, 30);
    EXPECT_EQ(b.count, 5u);
    EXPECT_EQ(b.interval_ms, 1000u);
    auto c = parse_as<cmd_announce>("arp announce 10.0.0.0/30 port 2 interval 50 count 1");
    EXPECT_EQ(c.count, 1u);
    EXPECT_EQ(c.interval_ms, 50u);
    expect_error("arp", "'announce'");
    expect_error("arp request 10.0.0.1 port 1", "'request'");
    expect_error("arp announce 10.0.0.1", "'port'");
    expect_error("arp announce 10.0.0.1/24 port 1", "did you mean 10.0.0.0/24");
    expect_error("arp announce 10.0.0.1 port 1 count 0", "'0'");
    expect_error("arp announce 10.0.0.1 port 1 count 101", "'101'");
    expect_error("arp announce 10.0.0.1 port 1 interval 0", "'0'");
    expect_error("arp announce 10.0.0.1 port 1 interval 60001", "'60001'");
    expect_error("arp announce 10.0.0.1 port 1 count", "missing");
    expect_error("arp announce 10.0.0.1 port 1 burst 3", "'burst'");
}

TEST(ParseCommand, Batch) {
    EXPECT_EQ(parse_as<cmd_batch>("batch begin").action, cmd_batch::op::begin);
    EXPECT_EQ(parse_as<cmd_batch>("batch commit").action, cmd_batch::op::commit);
    EXPECT_EQ(parse_as<cmd_batch>("batch abort").action, cmd_batch::op::abort);
    expect_error("batch", "missing");
    expect_error("batch start", "'start'");
    expect_error("batch commit now", "'now'");
}

TEST(ParseCommand, ShowNatAndProxyArp) {
    auto n = parse_as<cmd_show>("show nat");
    EXPECT_EQ(n.item, cmd_show::what::nat);
    EXPECT_FALSE(n.filter);
    EXPECT_FALSE(n.after);
    EXPECT_EQ(n.limit, 0u);
    auto f = parse_as<cmd_show>("show nat 10.0.0.5");
    EXPECT_EQ(f.item, cmd_show::what::nat);
    ASSERT_TRUE(f.filter);
    EXPECT_EQ(*f.filter, (ip4_prefix{A("10.0.0.5"), 32}));
    auto page = parse_as<cmd_show>("show nat 10.1.0.0/16 after 10.1.2.3 limit 500");
    ASSERT_TRUE(page.filter && page.after);
    EXPECT_EQ(*page.filter, (ip4_prefix{A("10.1.0.0"), 16}));
    EXPECT_EQ(*page.after, A("10.1.2.3"));
    EXPECT_EQ(page.limit, 500u);
    auto rest = parse_as<cmd_show>("show nat after 10.1.2.3");
    EXPECT_FALSE(rest.filter);
    EXPECT_EQ(*rest.after, A("10.1.2.3"));
    EXPECT_EQ(parse_as<cmd_show>("show nat limit 1").limit, 1u);
    for (const char *line :
         {"show nat", "show nat 10.0.0.5", "show nat 10.1.0.0/16 after 10.1.2.3 limit 500",
          "show nat after 10.1.2.3", "show nat limit 7"})
        EXPECT_EQ(format_command(*parse_command(line).cmd), line) << "canonical";
    EXPECT_EQ(parse_as<cmd_show>("show proxy-arp").item, cmd_show::what::proxy_arp);
    EXPECT_FALSE(parse_as<cmd_show>("show routes").filter);
    expect_error("show nat 10.0.0", "'10.0.0'");
    expect_error("show nat 10.0.0.5 10.0.0.6", "'10.0.0.6'");
    expect_error("show nat 10.1.0.0/8", "host bits");
    expect_error("show nat limit 0", "'0'");
    expect_error("show nat limit 100001", "1..100000");
    expect_error("show nat after", "missing");
    expect_error("show nat after 10.0.0.0/8", "'10.0.0.0/8'");
    expect_error("show nat limit 5 after 10.0.0.1", "'after'");
    expect_error("show proxy-arp 10.0.0.5", "'10.0.0.5'");
}

TEST(IsReadOnly, OnlyShowAndHelp) {
    auto ro = [](const char *line) {
        auto r = parse_command(line);
        EXPECT_TRUE(r.cmd) << line << ": " << r.error;
        return r.cmd && is_read_only(*r.cmd);
    };
    EXPECT_TRUE(ro("show ports"));
    EXPECT_TRUE(ro("show nat 10.0.0.1"));
    EXPECT_TRUE(ro("help"));
    EXPECT_FALSE(ro("stats reset"));
    EXPECT_FALSE(ro("route del 10.0.0.0/8"));
    EXPECT_FALSE(ro("address add 10.0.0.1/24 port 1"));
    EXPECT_FALSE(ro("neigh del 10.0.0.1"));
    EXPECT_FALSE(ro("port 1 mtu 1500"));
    EXPECT_FALSE(ro("nat del 10.0.0.1"));
    EXPECT_FALSE(ro("proxy-arp del 10.0.0.0/8 port 1"));
    EXPECT_FALSE(ro("arp announce 10.0.0.1 port 1"));
    EXPECT_FALSE(ro("batch begin"));
}

TEST(SplitWords, BlanksSeparate) {
    auto w = split_words(" a\tbb  ccc\r\n");
    ASSERT_GE(w.size(), 3u);
    EXPECT_EQ(w[0], "a");
    EXPECT_EQ(w[1], "bb");
    EXPECT_EQ(w[2], "ccc");
    EXPECT_EQ(w.size(), 4u);
    EXPECT_EQ(w[3], "\n");  // only space, tab and CR separate
    EXPECT_TRUE(split_words("").empty());
    EXPECT_TRUE(split_words(" \t \r ").empty());
    EXPECT_EQ(split_words("one").size(), 1u);
}

TEST(IsBlankOrComment, Lines) {
    for (const char *yes : {"", " ", "\t", "\r", "#", "# a comment", "   # indented", "\t#x",
                            "#route add 10.0.0.0/8 blackhole"})
        EXPECT_TRUE(is_blank_or_comment(yes)) << "'" << yes << "'";
    for (const char *no :
         {"help", " show ports", "route add 10.0.0.0/8 blackhole # why", "x#", "\tx"})
        EXPECT_FALSE(is_blank_or_comment(no)) << "'" << no << "'";
}

TEST(CommandSummary, CoversEveryCommand) {
    const auto &lines = command_summary();
    ASSERT_FALSE(lines.empty());
    std::string all;
    for (const auto &l : lines) {
        EXPECT_FALSE(l.empty());
        all += l + "\n";
    }
    for (const char *word : {"address", "route", "neigh", "port", "show", "stats", "help",
                             "blackhole", "via", "lladdr", "mtu", "replace", "del", "nat",
                             "proxy-arp", "arp announce", "batch", "role", "redirects"})
        EXPECT_NE(all.find(word), std::string::npos) << word;
}

}  // namespace
}  // namespace ssw
