// The orchestrator's topology file: the testbed's parses to what conf/README.md describes;
// every kind of mistake is refused with a message naming the problem; the look-ups.
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

#include "control/orchestrator/topology.h"
#include "tests/test_support.h"

namespace ssw {
namespace {

namespace fs = std::filesystem;

using test::A;
using test::P;
using test::testbed_topology;

TEST(Topology, TestbedParses) {
    const std::string path = testbed_topology();
    ASSERT_FALSE(path.empty()) << "conf/testbed/topology.json not found: set SSW_SOURCE_DIR";
    topology t;
    std::string err;
    ASSERT_TRUE(topology::load(path, t, err)) << err;
    ASSERT_EQ(t.routers.size(), 4u);
    EXPECT_EQ(t.routers.at("R1").name, "R1");
    EXPECT_EQ(t.routers.at("R1").socket, "/run/ssw/testbed/r1.sock");
    EXPECT_EQ(t.routers.at("R4").socket, "/run/ssw/testbed/r4.sock");
    ASSERT_EQ(t.subnets.size(), 4u);
    const topo_subnet &home = t.subnets.at("home");
    EXPECT_EQ(home.name, "home");
    EXPECT_EQ(home.prefix, P("192.168.11.0/24"));
    EXPECT_EQ(home.router, "R3");
    EXPECT_EQ(home.port, 1);
    EXPECT_EQ(home.gateway, A("192.168.11.1"));
    EXPECT_TRUE(home.has_pool());
    EXPECT_EQ(home.pool_first, A("192.168.11.100"));
    EXPECT_EQ(home.pool_last, A("192.168.11.199"));
    const topo_subnet &ext = t.subnets.at("external");
    EXPECT_EQ(ext.router, "R1");
    EXPECT_EQ(ext.port, 0);
    EXPECT_FALSE(ext.has_pool());
    EXPECT_EQ(t.subnets.at("foreign").router, "R2");
    EXPECT_EQ(t.subnets.at("foreign2").router, "R4");
    EXPECT_EQ(t.subnets.at("foreign2").prefix, P("192.168.12.0/24"));
    EXPECT_EQ(t.vms.size(), 2u);
    EXPECT_EQ(t.vms.at("C"), A("192.168.11.3"));
    EXPECT_EQ(t.vms.at("V"), A("192.168.11.4"));
    EXPECT_EQ(t.state_path, "/run/ssw/testbed/vm-state.json");

    // Look-ups.
    ASSERT_NE(t.subnet_of(A("192.168.10.77")), nullptr);
    EXPECT_EQ(t.subnet_of(A("192.168.10.77"))->name, "foreign");
    EXPECT_EQ(t.subnet_of(A("203.0.113.9"))->name, "external");
    EXPECT_EQ(t.subnet_of(A("192.168.13.1")), nullptr);
    ASSERT_NE(t.subnet("foreign2"), nullptr);
    EXPECT_EQ(t.subnet("foreign2")->router, "R4");
    ASSERT_NE(t.subnet("192.168.12.0/24"), nullptr) << "a subnet named by its prefix";
    EXPECT_EQ(t.subnet("192.168.12.0/24")->name, "foreign2");
    EXPECT_EQ(t.subnet("192.168.12.0/25"), nullptr);
    EXPECT_EQ(t.subnet("nowhere"), nullptr);
    EXPECT_EQ(t.vm_address("C"), A("192.168.11.3"));
    EXPECT_EQ(t.vm_address("192.168.11.3"), A("192.168.11.3"));
    EXPECT_EQ(t.vm_address("192.168.10.50"), A("192.168.10.50")) << "any address in a subnet";
    EXPECT_EQ(t.vm_address("10.1.1.1"), std::nullopt) << "in no subnet";
    EXPECT_EQ(t.vm_address("D"), std::nullopt);
    EXPECT_EQ(t.vm_address(""), std::nullopt);
    EXPECT_EQ(t.vm_name(A("192.168.11.4")), "V");
    EXPECT_EQ(t.vm_name(A("192.168.11.9")), "192.168.11.9");
}

TEST(Topology, LoadMissingFile) {
    topology t;
    std::string err;
    EXPECT_FALSE(topology::load("/nonexistent/topology.json", t, err));
    EXPECT_NE(err.find("/nonexistent/topology.json"), std::string::npos) << err;
}

TEST(Topology, LoadErrorsNameTheFile) {
    char tmpl[] = "/tmp/ssw-topology-test-XXXXXX";
    const int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    const std::string text = "{\"routers\": {}}";
    ASSERT_EQ(write(fd, text.data(), text.size()), ssize_t(text.size()));
    close(fd);
    topology t;
    std::string err;
    EXPECT_FALSE(topology::load(tmpl, t, err));
    EXPECT_NE(err.find(tmpl), std::string::npos) << err;
    EXPECT_NE(err.find("at least one router"), std::string::npos) << err;
    unlink(tmpl);
}

// A valid topology to break one piece at a time.
std::string with(const std::string &routers, const std::string &subnets,
                 const std::string &extra = "") {
    return "{\"routers\": " + routers + ", \"subnets\": " + subnets + extra + "}";
}
const std::string kRouters = R"({"R1": {"socket": "/s1"}, "R2": {"socket": "/s2"}})";
std::string subnet(const std::string &name, const std::string &prefix, const std::string &router,
                   const std::string &gateway, const std::string &more = "") {
    return "\"" + name + "\": {\"prefix\": \"" + prefix + "\", \"router\": \"" + router +
           "\", \"port\": 1, \"gateway\": \"" + gateway + "\"" + more + "}";
}
const std::string kSubnets =
    "{" + subnet("a", "10.1.0.0/24", "R1", "10.1.0.1") + ", " +
    subnet("b", "10.2.0.0/24", "R2", "10.2.0.1", R"(, "care_of_pool": "10.2.0.100-10.2.0.200")") +
    "}";

void expect_refused(const std::string &text, const std::string &mention) {
    topology t;
    std::string err;
    EXPECT_FALSE(topology::parse(text, t, err)) << "accepted: " << text;
    EXPECT_NE(err.find(mention), std::string::npos)
        << "'" << err << "' does not mention '" << mention << "' for " << text;
}

TEST(Topology, MinimalValid) {
    topology t;
    std::string err;
    ASSERT_TRUE(topology::parse(with(kRouters, kSubnets), t, err)) << err;
    EXPECT_EQ(t.subnets.size(), 2u);
    EXPECT_TRUE(t.vms.empty());
    EXPECT_TRUE(t.state_path.empty());
    EXPECT_EQ(t.subnets.at("b").pool_first, A("10.2.0.100"));
    // No subnets at all is a topology too (nothing to move).
    ASSERT_TRUE(topology::parse(with(kRouters, "{}"), t, err)) << err;
    EXPECT_TRUE(t.subnets.empty());
}

TEST(Topology, SocketIsOptional) {
    // An etcd deployment's topology names the routers; each agent knows its own socket.
    topology t;
    std::string error;
    ASSERT_TRUE(topology::parse(with(R"({"R1": {}})", "{}"), t, error)) << error;
    EXPECT_EQ(t.routers.at("R1").socket, "");
}

TEST(Topology, Refusals) {
    expect_refused("", "not valid JSON");
    expect_refused("{\"routers\": ", "not valid JSON");
    expect_refused("[1, 2]", "missing \"routers\"");
    expect_refused("{\"subnets\": {}}", "missing \"routers\"");
    expect_refused(with("{}", kSubnets), "at least one router");
    expect_refused(with("[\"R1\"]", kSubnets), "at least one router");
    expect_refused(with(R"({"R1": {"socket": 5}})", "{}"), "router R1.socket: expected a string");
    expect_refused(with(R"({"R1": "/s1"})", "{}"), "router R1: expected an object");
    expect_refused("{\"routers\": " + kRouters + "}", "missing \"subnets\"");
    expect_refused(with(kRouters, "[]"), "\"subnets\" must be an object");
    // Subnets.
    expect_refused(with(kRouters, "{" + subnet("a", "10.1.0.0/24", "R9", "10.1.0.1") + "}"),
                   "subnet a: unknown router 'R9'");
    expect_refused(with(kRouters, "{" + subnet("a", "10.1.0.0/33", "R1", "10.1.0.1") + "}"),
                   "subnet a: prefix is not a valid network");
    expect_refused(with(kRouters, "{" + subnet("a", "10.1.0.1/24", "R1", "10.1.0.1") + "}"),
                   "subnet a: prefix is not a valid network");
    expect_refused(with(kRouters, "{" + subnet("a", "ten/8", "R1", "10.1.0.1") + "}"),
                   "subnet a: prefix is not a valid network");
    expect_refused(with(kRouters, "{" + subnet("a", "10.1.0.0/24", "R1", "10.2.0.1") + "}"),
                   "subnet a: gateway outside 10.1.0.0/24");
    expect_refused(with(kRouters, "{" + subnet("a", "10.1.0.0/24", "R1", "gw") + "}"),
                   "subnet a.gateway: 'gw' is not an IPv4 address");
    expect_refused(with(kRouters, R"({"a": {"prefix": "10.1.0.0/24", "router": "R1", "port": 1}})"),
                   "subnet a: missing \"gateway\"");
    expect_refused(with(kRouters, R"({"a": {"router": "R1", "port": 1, "gateway": "10.1.0.1"}})"),
                   "subnet a: missing \"prefix\"");
    expect_refused(
        with(kRouters, R"({"a": {"prefix": "10.1.0.0/24", "port": 1, "gateway": "10.1.0.1"}})"),
        "subnet a: missing \"router\"");
    expect_refused(
        with(kRouters,
             R"({"a": {"prefix": "10.1.0.0/24", "router": "R1", "gateway": "10.1.0.1"}})"),
        "subnet a: missing \"port\"");
    for (const char *port : {"-1", "70000", "\"1\"", "1.5"})
        expect_refused(
            with(kRouters,
                 std::string(R"({"a": {"prefix": "10.1.0.0/24", "router": "R1", "port": )") + port +
                     R"(, "gateway": "10.1.0.1"}})"),
            "subnet a: bad port");
    // Care-of pools.
    auto pool = [&](const std::string &p) {
        return with(kRouters, "{" +
                                  subnet("a", "10.1.0.0/24", "R1", "10.1.0.1",
                                         ", \"care_of_pool\": \"" + p + "\"") +
                                  "}");
    };
    expect_refused(pool("10.1.0.100"), "subnet a: care_of_pool must be FIRST-LAST");
    expect_refused(pool("10.1.0.100-10.1.1.5"),
                   "care_of_pool '10.1.0.100-10.1.1.5' is not a range inside 10.1.0.0/24");
    expect_refused(pool("10.0.255.250-10.1.0.5"), "is not a range inside");
    expect_refused(pool("10.1.0.200-10.1.0.100"), "is not a range inside");
    expect_refused(pool("x-10.1.0.100"), "is not a range inside");
    topology t;
    std::string err;
    EXPECT_TRUE(topology::parse(pool("10.1.0.7-10.1.0.7"), t, err))
        << "a pool of one address: " << err;
    // Overlapping subnets, whichever way round.
    expect_refused(with(kRouters, "{" + subnet("a", "10.1.0.0/24", "R1", "10.1.0.1") + ", " +
                                      subnet("b", "10.1.0.128/25", "R2", "10.1.0.129") + "}"),
                   "subnet b overlaps subnet a");
    expect_refused(with(kRouters, "{" + subnet("a", "10.1.0.0/25", "R1", "10.1.0.1") + ", " +
                                      subnet("b", "10.0.0.0/8", "R2", "10.2.0.1") + "}"),
                   "overlaps subnet a");
    expect_refused(with(kRouters, "{" + subnet("a", "10.1.0.0/24", "R1", "10.1.0.1") + ", " +
                                      subnet("b", "10.1.0.0/24", "R2", "10.1.0.2") + "}"),
                   "overlaps");
    // VMs.
    expect_refused(with(kRouters, kSubnets, R"(, "vms": {"C": "10.3.0.5"})"),
                   "vm C: 10.3.0.5 is in no subnet");
    expect_refused(with(kRouters, kSubnets, R"(, "vms": {"C": "ten"})"),
                   "vm C: 'ten' is not an IPv4 address");
    expect_refused(with(kRouters, kSubnets, R"(, "vms": {"C": 7})"), "vm C: expected a string");
    // The state path.
    expect_refused(with(kRouters, kSubnets, R"(, "state": 7)"), "state: expected a string");
    ASSERT_TRUE(topology::parse(
        with(kRouters, kSubnets, R"(, "vms": {"C": "10.1.0.5"}, "state": "/x/s.json")"), t, err))
        << err;
    EXPECT_EQ(t.vms.at("C"), A("10.1.0.5"));
    EXPECT_EQ(t.state_path, "/x/s.json");
}

TEST(Topology, ParseResetsTheOutput) {
    topology t;
    std::string err;
    ASSERT_TRUE(topology::parse(with(kRouters, kSubnets, R"(, "vms": {"C": "10.1.0.5"})"), t, err))
        << err;
    ASSERT_TRUE(topology::parse(with(kRouters, "{}"), t, err)) << err;
    EXPECT_TRUE(t.vms.empty());
    EXPECT_TRUE(t.subnets.empty());
}

}  // namespace
}  // namespace ssw
