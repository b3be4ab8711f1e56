// The executor's snapshot on a real router (three DPDK null ports): the configuration as
// canonical commands that rebuild it, bindings, epochs and deletion epochs included.
#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "tests/dataplane/worker_fixture.h"

namespace ssw {
namespace {

using test::kPorts;

class Snapshot : public test::router_fixture {
protected:
    // Every route the dataplane's table holds, with its next hop, checked against the model:
    // the table keeps no list of its own, so it is asked for each of the model's prefixes,
    // and its count must be theirs.
    std::vector<std::pair<ip4_prefix, next_hop>> installed_routes() const {
        std::vector<std::pair<ip4_prefix, next_hop>> out;
        for (const auto &[pfx, e] : ex_->model().routes) {
            const next_hop *nh = r_->routes().find(pfx);
            EXPECT_NE(nh, nullptr) << pfx.to_string() << " is in the model, not in the table";
            if (nh) out.emplace_back(pfx, *nh);
        }
        EXPECT_EQ(r_->routes().size(), out.size());
        return out;
    }
};

TEST_F(Snapshot, RebuildsTheSameConfiguration) {
    const std::vector<std::string> config = {
        "port 0 role core",
        "port 1 mtu 9000",
        "port 2 redirects on",
        "address add 10.0.0.2/24 port 0",
        "address add 192.168.10.1/24 port 1",
        "address add 192.168.10.2/24 port 1",
        "address add 10.9.9.9/32 port 2",
        "route add 0.0.0.0/0 via 10.0.0.1",
        "route add 192.168.11.0/24 via 10.0.0.3",
        "route add 172.16.0.0/12 port 2",
        "route add 198.51.100.0/24 blackhole",
        "route add 100.64.1.128/25 via 10.0.0.4",
        "neigh add 10.0.0.1 lladdr 02:00:00:00:01:01 port 0",
        "proxy-arp add 192.168.11.0/24 port 1",
        "proxy-arp add 192.168.12.7/32 port 1",
        "nat add 192.168.11.3 to 192.168.10.100 local port 1 epoch 3",
        "nat add 192.168.11.4 to 192.168.10.101 local port 1 keep-source epoch 9",
        "nat add 192.168.12.7 to 192.168.10.102",
        "nat add 192.168.13.5 to 192.168.10.103 epoch 2",
        "nat del 192.168.13.5 epoch 4",
        "nat del 192.168.13.6 epoch 11",
    };
    for (const auto &l : config) ok(l);
    const auto snap = ex_->snapshot_commands();
    // Every snapshot line is a command in canonical form.
    for (const auto &l : snap) {
        auto p = parse_command(l);
        ASSERT_TRUE(p.cmd) << l << ": " << p.error;
        EXPECT_EQ(format_command(*p.cmd), l);
    }
    std::vector<std::pair<std::string, binding>> bindings;
    r_->nat().for_each([&](const binding &b) { bindings.emplace_back(b.home.to_string(), b); });
    std::sort(bindings.begin(), bindings.end(), [](auto &a, auto &b) { return a.first < b.first; });
    const auto routes = installed_routes();
    const auto proxies = r_->proxy_arp().entries();

    restart_router();
    ASSERT_TRUE(ex_->snapshot_commands().size() == size_t(kPorts))
        << "a fresh router has only port MTUs";
    for (const auto &l : snap) ok(l);
    EXPECT_EQ(sorted(ex_->snapshot_commands()), sorted(snap));
    std::vector<std::pair<std::string, binding>> bindings2;
    r_->nat().for_each([&](const binding &b) { bindings2.emplace_back(b.home.to_string(), b); });
    std::sort(bindings2.begin(), bindings2.end(),
              [](auto &a, auto &b) { return a.first < b.first; });
    EXPECT_EQ(bindings2, bindings);
    EXPECT_EQ(installed_routes(), routes);
    EXPECT_EQ(r_->proxy_arp().entries(), proxies);
    EXPECT_EQ(r_->runtime(0).role.load(), port_role::core);
    EXPECT_EQ(r_->runtime(1).mtu.load(), 9000);
    EXPECT_TRUE(r_->runtime(2).redirects.load());
    EXPECT_EQ(model_epoch("192.168.11.4"), 9u);
    EXPECT_EQ(model_epoch("192.168.12.7"), 1u);
    // The tombstones came back: older updates stay refused.
    refused("nat add 192.168.13.5 to 192.168.10.103 epoch 3", "stale");
    refused("nat add 192.168.13.6 to 192.168.10.104 epoch 10", "stale");
    refused("nat add 192.168.11.3 to 192.168.10.100 epoch 2", "stale");
}

}  // namespace
}  // namespace ssw
