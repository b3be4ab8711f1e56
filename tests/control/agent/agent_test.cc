// ssw-agent's loop against a real etcd member, each agent driving an in-memory router
// (router_model): after moves of random VMs to random subnets, in both modes and by several
// movers at once, every router holds exactly what the desired state in etcd says it must;
// and agents whose routers a revision does not concern do not each write a status for it.
#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "control/agent/agent.h"
#include "control/agent/router_link.h"
#include "control/cluster/mover.h"
#include "tests/control/etcd/etcd_test_support.h"

namespace ssw::etcd_test {
namespace {

using namespace std::chrono_literals;

constexpr int kRouters = 8, kVmsPerSubnet = 3;

// kRouters routers, subnet s<i> of router R<i> on port 1, kVmsPerSubnet VMs in each.
std::string topology_json() {
    nlohmann::json t;
    for (int i = 1; i <= kRouters; ++i) {
        const std::string net = fmt::format("10.9.{}", i);
        t["routers"][fmt::format("R{}", i)] = nlohmann::json::object();
        t["subnets"][fmt::format("s{}", i)] = {{"prefix", net + ".0/24"},
                                               {"router", fmt::format("R{}", i)},
                                               {"port", 1},
                                               {"gateway", net + ".1"},
                                               {"care_of_pool", net + ".100-" + net + ".199"}};
        for (int j = 0; j < kVmsPerSubnet; ++j)
            t["vms"][fmt::format("vm{}-{}", i, j)] = fmt::format("{}.{}", net, 10 + j);
    }
    return t.dump();
}

class agents : public single_member_suite {
protected:
    void SetUp() override {
        ASSERT_TRUE(start_error_.empty()) << start_error_;
        k_.prefix = test_prefix();
        store_ = connect(cluster_->client_options());
        ASSERT_TRUE(store_);
        cluster::mover mv(*store_, k_);
        auto res = mv.put_topology(topology_json());
        ASSERT_TRUE(res.ok) << res.error;
        for (int i = 1; i <= kRouters; ++i) {
            const std::string name = fmt::format("R{}", i);
            auto &a = agents_.emplace_back(std::make_unique<one>());
            a->store = connect(cluster_->client_options());
            a->link = std::make_unique<agent::model_link>(name, agent::router_model::config{});
            agent::options o;
            o.router = name;
            o.keys = k_;
            o.lease_ttl_s = 10;
            a->loop = std::make_unique<agent::agent>(*a->store, *a->link, o);
            a->thread = std::thread([p = a.get()] { p->loop->run(p->stop); });
        }
        // Every agent has published its first status.
        for (auto deadline = std::chrono::steady_clock::now() + 20s;;) {
            etcd::range_result r;
            std::string error;
            ASSERT_TRUE(store_->list(k_.statuses(), r, error)) << error;
            if (int(r.kvs.size()) == kRouters) break;
            ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "agents did not start";
            std::this_thread::sleep_for(50ms);
        }
    }
    void TearDown() override {
        for (auto &a : agents_) a->stop = true;
        for (auto &a : agents_)
            if (a->thread.joinable()) a->thread.join();
    }

    // Stops the agents, then compares each model router with what etcd says it must hold.
    void expect_routers_hold_desired() {
        TearDown();
        etcd::range_result r;
        std::string error;
        ASSERT_TRUE(store_->list(k_.desired(), r, error)) << error;
        cluster::desired_state d;
        for (const auto &kv : r.kvs) {
            if (kv.key == k_.topology()) {
                ASSERT_TRUE(topology::parse(kv.value, d.topo, error)) << error;
            } else if (kv.key.starts_with(k_.vms())) {
                const auto m = ip4_addr::parse(kv.key.substr(k_.vms().size()));
                ASSERT_TRUE(m);
                ASSERT_TRUE(cluster::vm_record::parse(*m, kv.value, d.vms[*m], error)) << error;
            }
        }
        for (int i = 1; i <= kRouters; ++i) {
            const std::string name = fmt::format("R{}", i);
            router_holdings held;
            ASSERT_TRUE(agents_[i - 1]->link->fetch(d.topo, held, error)) << error;
            const router_holdings want = cluster::desired_for(d, name);
            EXPECT_EQ(held.bindings.size(), want.bindings.size()) << name;
            EXPECT_TRUE(held == want) << name << " holds something else than etcd says";
        }
    }

    struct one {
        std::unique_ptr<etcd::client> store;
        std::unique_ptr<agent::model_link> link;
        std::unique_ptr<agent::agent> loop;
        std::atomic<bool> stop{false};
        std::thread thread;
    };

    cluster::keys k_;
    std::unique_ptr<etcd::client> store_;
    std::vector<std::unique_ptr<one>> agents_;
};

// Random moves by four movers at once (each its own VMs), in both modes, returns included.
TEST_F(agents, routers_end_as_etcd_says_after_concurrent_moves) {
    std::atomic<int> done{0}, failed{0};
    std::vector<std::thread> movers;
    for (int k = 0; k < 4; ++k) {
        movers.emplace_back([&, k] {
            auto store = connect(cluster_->client_options());
            std::mt19937 rng(k + 1);
            for (int n = 0; n < 12; ++n) {
                // Mover k moves the VMs vm<i>-<j> with i % 4 == k.
                const int i = 1 + (k + 4 * int(rng() % (kRouters / 4))) % kRouters;
                const std::string vm = fmt::format("vm{}-{}", i, rng() % kVmsPerSubnet);
                const std::string to = fmt::format("s{}", 1 + rng() % kRouters);
                cluster::mover mv(*store, k_);
                auto res = mv.move(vm, to, std::nullopt, rng() % 2 == 0);
                ++(res.ok ? done : failed);
                if (!res.ok) ADD_FAILURE() << vm << " to " << to << ": " << res.error;
            }
        });
    }
    for (auto &t : movers) t.join();
    EXPECT_EQ(done, 48);
    EXPECT_EQ(failed, 0);
    expect_routers_hold_desired();
}

// Triangle moves between R1 and R2 concern R1, R2 (and the VM's home router) only: the other
// agents' statuses are not rewritten for each revision (they are at most once per status
// interval), so etcd's revision grows by far less than one write per agent per phase.
TEST_F(agents, agents_not_concerned_do_not_write_for_every_revision) {
    std::string error;
    int64_t before = 0, after = 0;
    std::optional<etcd::key_value> kv;
    ASSERT_TRUE(store_->get(k_.topology(), kv, before, error)) << error;
    const int moves = 20;
    for (int n = 0; n < moves; ++n) {
        cluster::mover mv(*store_, k_);
        auto res = mv.move("vm1-0", n % 2 ? "s1" : "s2", std::nullopt, true);
        ASSERT_TRUE(res.ok) << res.error;
    }
    ASSERT_TRUE(store_->get(k_.topology(), kv, after, error)) << error;
    // The status writes of those revisions, from etcd's history.
    auto w = store_->watch_prefix(k_.statuses(), before + 1, error);
    ASSERT_TRUE(w) << error;
    int64_t rev = 0;
    int writes = 0;
    for (const auto &e : collect(*w, 100000, rev, 2s)) writes += e.kv.mod_revision <= after;
    // Every agent writing for each phase would be moves x 3 x kRouters; the two or three
    // agents concerned ack each phase, the others write at most once a second.
    EXPECT_GT(writes, moves);
    EXPECT_LT(writes, moves * 3 * kRouters / 2)
        << "every agent seems to write its status for every revision";
    expect_routers_hold_desired();
}

}  // namespace
}  // namespace ssw::etcd_test
