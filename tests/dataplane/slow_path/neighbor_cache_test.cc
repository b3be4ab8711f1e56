// The neighbor state machine, driven with explicit times against a recording io and a real
// neighbor_table.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/slow_path/neighbor_cache.h"
#include "dataplane/tables/neighbor_table.h"
#include "dataplane/tables/rcu.h"

namespace ssw {
namespace {

struct fake_io : neighbor_cache::io {
    struct request {
        uint16_t port;
        ip4_addr target;
        std::optional<mac_addr> unicast;
    };
    struct sent_pkt {
        void *pkt;
        uint16_t port;
        mac_addr mac;
    };
    struct dropped_pkt {
        void *pkt;
        drop_reason why;
    };
    std::vector<request> requests;
    std::vector<sent_pkt> sent;
    std::vector<dropped_pkt> dropped;

    void send_arp_request(uint16_t port, ip4_addr target, const mac_addr *unicast) override {
        requests.push_back(
            {port, target, unicast ? std::optional<mac_addr>(*unicast) : std::nullopt});
    }
    void send_held(void *pkt, uint16_t port, const mac_addr &mac) override {
        sent.push_back({pkt, port, mac});
    }
    void drop_held(void *pkt, drop_reason why) override { dropped.push_back({pkt, why}); }
};

const ip4_addr kIp(10, 0, 0, 2);
const ip4_addr kIp2(10, 0, 0, 3);
const ip4_addr kIp3(10, 0, 1, 4);
const mac_addr kMacA = *mac_addr::parse("02:00:00:00:00:aa");
const mac_addr kMacB = *mac_addr::parse("02:00:00:00:00:bb");

using kind = neighbor_cache::arp_kind;

class NeighborCache : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(rcu_.init(1));
        make(params_, 64);
    }
    void TearDown() override {
        cache_.reset();
        rcu_.synchronize();
    }
    // Rebuilds the cache (and table) with other parameters.
    void make(const neighbor_params &p, uint32_t table_capacity) {
        cache_.reset();
        rcu_.synchronize();
        table_ = std::make_unique<neighbor_table>();
        ASSERT_TRUE(table_->init(table_capacity, rcu_));
        params_ = p;
        cache_ = std::make_unique<neighbor_cache>(*table_, params_, io_);
    }

    void *pkt(int i) { return &pkts_[i]; }
    const neighbor_cache::entry *entry(ip4_addr ip) const {
        auto it = cache_->entries().find(ip);
        return it == cache_->entries().end() ? nullptr : &it->second;
    }
    neighbor_state state(ip4_addr ip) const {
        auto *e = entry(ip);
        EXPECT_NE(e, nullptr) << ip.to_string();
        return e ? e->state : neighbor_state::failed;
    }
    // The workers' view: (port, MAC) or nothing.
    std::optional<std::pair<uint16_t, mac_addr>> published(ip4_addr ip) const {
        uint64_t w = 0;
        if (!table_->lookup(ip, w)) return std::nullopt;
        return std::make_pair(neighbor_table::port_of(w),
                              mac_addr::from_raw48(w & 0xffffffffffffull));
    }

    rcu_domain rcu_;
    std::unique_ptr<neighbor_table> table_;
    fake_io io_;
    neighbor_params params_;
    std::unique_ptr<neighbor_cache> cache_;
    char pkts_[64] = {};
};

TEST_F(NeighborCache, ResolveCreatesIncompleteAndBroadcastsOnce) {
    EXPECT_EQ(cache_->next_deadline(), UINT64_MAX);
    cache_->resolve(kIp, 1, pkt(0), 1000);
    ASSERT_NE(entry(kIp), nullptr);
    EXPECT_EQ(state(kIp), neighbor_state::incomplete);
    EXPECT_EQ(entry(kIp)->port, 1);
    EXPECT_EQ(entry(kIp)->hold.size(), 1u);
    ASSERT_EQ(io_.requests.size(), 1u);
    EXPECT_EQ(io_.requests[0].port, 1);
    EXPECT_EQ(io_.requests[0].target, kIp);
    EXPECT_FALSE(io_.requests[0].unicast) << "the first request is a broadcast";
    EXPECT_FALSE(published(kIp));
    EXPECT_EQ(cache_->next_deadline(), 1000 + params_.retrans_ms);

    // More packets are held without more requests.
    cache_->resolve(kIp, 1, pkt(1), 1100);
    cache_->resolve(kIp, 1, pkt(2), 1200);
    EXPECT_EQ(io_.requests.size(), 1u);
    EXPECT_EQ(entry(kIp)->hold.size(), 3u);
    EXPECT_TRUE(io_.sent.empty());
    EXPECT_TRUE(io_.dropped.empty());
}

TEST_F(NeighborCache, HoldOverflowDropsOldest) {
    neighbor_params p;
    p.hold_max = 4;
    make(p, 64);
    for (int i = 0; i < 7; ++i) cache_->resolve(kIp, 1, pkt(i), 0);
    ASSERT_EQ(io_.dropped.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(io_.dropped[size_t(i)].pkt, pkt(i));
        EXPECT_EQ(io_.dropped[size_t(i)].why, drop_reason::neighbor_hold_overflow);
    }
    ASSERT_EQ(entry(kIp)->hold.size(), 4u);
    ASSERT_TRUE(cache_->learn(kIp, 1, kMacA, kind::reply, 10));
    ASSERT_EQ(io_.sent.size(), 4u);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(io_.sent[size_t(i)].pkt, pkt(i + 3));
    }
}

TEST_F(NeighborCache, ReplyCompletesAndReleasesInOrder) {
    for (int i = 0; i < 5; ++i) cache_->resolve(kIp, 3, pkt(i), 100);
    EXPECT_TRUE(cache_->learn(kIp, 3, kMacA, kind::reply, 150));
    EXPECT_EQ(state(kIp), neighbor_state::reachable);
    EXPECT_EQ(entry(kIp)->mac, kMacA);
    EXPECT_TRUE(entry(kIp)->hold.empty());
    auto pub = published(kIp);
    ASSERT_TRUE(pub);
    EXPECT_EQ(pub->first, 3);
    EXPECT_EQ(pub->second, kMacA);
    ASSERT_EQ(io_.sent.size(), 5u);
    for (int i = 0; i < 5; ++i) {
        EXPECT_EQ(io_.sent[size_t(i)].pkt, pkt(i));
        EXPECT_EQ(io_.sent[size_t(i)].port, 3);
        EXPECT_EQ(io_.sent[size_t(i)].mac, kMacA);
    }
    EXPECT_TRUE(io_.dropped.empty());
    EXPECT_EQ(cache_->next_deadline(), 150 + params_.reachable_ms);
    // A request to us from the resolving neighbor completes an entry just as well.
    cache_->resolve(kIp2, 3, pkt(9), 200);
    EXPECT_TRUE(cache_->learn(kIp2, 3, kMacB, kind::request_to_us, 210));
    EXPECT_EQ(state(kIp2), neighbor_state::reachable);
    ASSERT_EQ(io_.sent.size(), 6u);
    EXPECT_EQ(io_.sent[5].pkt, pkt(9));
    EXPECT_EQ(io_.sent[5].mac, kMacB);
}

TEST_F(NeighborCache, RetriesThenFailsThenForgets) {
    cache_->resolve(kIp, 1, pkt(0), 0);
    cache_->resolve(kIp, 1, pkt(1), 0);
    cache_->tick(params_.retrans_ms - 1);
    EXPECT_EQ(io_.requests.size(), 1u);
    uint64_t t = 0;
    for (unsigned probe = 2; probe <= params_.broadcast_probes; ++probe) {
        t += params_.retrans_ms;
        EXPECT_EQ(cache_->next_deadline(), t);
        cache_->tick(t);
        ASSERT_EQ(io_.requests.size(), probe);
        EXPECT_FALSE(io_.requests.back().unicast);
        EXPECT_EQ(io_.requests.back().target, kIp);
        EXPECT_EQ(state(kIp), neighbor_state::incomplete);
    }
    EXPECT_TRUE(io_.dropped.empty());
    t += params_.retrans_ms;
    cache_->tick(t);
    EXPECT_EQ(io_.requests.size(), params_.broadcast_probes) << "no request after the last probe";
    EXPECT_EQ(state(kIp), neighbor_state::failed);
    ASSERT_EQ(io_.dropped.size(), 2u);
    EXPECT_EQ(io_.dropped[0].pkt, pkt(0));
    EXPECT_EQ(io_.dropped[1].pkt, pkt(1));
    EXPECT_EQ(io_.dropped[0].why, drop_reason::neighbor_failed);
    EXPECT_EQ(io_.dropped[1].why, drop_reason::neighbor_failed);

    // While FAILED, packets are dropped at once and no request goes out.
    cache_->resolve(kIp, 1, pkt(2), t + 10);
    ASSERT_EQ(io_.dropped.size(), 3u);
    EXPECT_EQ(io_.dropped[2].pkt, pkt(2));
    EXPECT_EQ(io_.dropped[2].why, drop_reason::neighbor_failed);
    EXPECT_EQ(io_.requests.size(), params_.broadcast_probes);

    EXPECT_EQ(cache_->next_deadline(), t + params_.failed_ms);
    cache_->tick(t + params_.failed_ms - 1);
    EXPECT_NE(entry(kIp), nullptr);
    cache_->tick(t + params_.failed_ms);
    EXPECT_EQ(entry(kIp), nullptr);
    EXPECT_EQ(cache_->next_deadline(), UINT64_MAX);

    // Then a new packet starts a new resolution.
    cache_->resolve(kIp, 1, pkt(3), t + params_.failed_ms + 1);
    EXPECT_EQ(state(kIp), neighbor_state::incomplete);
    EXPECT_EQ(io_.requests.size(), params_.broadcast_probes + 1u);
}

TEST_F(NeighborCache, CustomProbeCounts) {
    neighbor_params p;
    p.broadcast_probes = 5;
    p.retrans_ms = 250;
    make(p, 64);
    cache_->resolve(kIp, 1, pkt(0), 0);
    for (uint64_t t = 250; t <= 5000; t += 250) cache_->tick(t);
    EXPECT_EQ(io_.requests.size(), 5u);
    EXPECT_EQ(entry(kIp), nullptr) << "failed and forgotten by now";
}

TEST_F(NeighborCache, LateReplyRevivesFailedEntry) {
    cache_->resolve(kIp, 1, pkt(0), 0);
    for (uint64_t t = 1000; t <= 3000; t += 1000) cache_->tick(t);
    ASSERT_EQ(state(kIp), neighbor_state::failed);
    EXPECT_TRUE(cache_->learn(kIp, 1, kMacA, kind::reply, 3500));
    EXPECT_EQ(state(kIp), neighbor_state::reachable);
    EXPECT_TRUE(published(kIp));
}

TEST_F(NeighborCache, WhatCreatesAnEntry) {
    EXPECT_FALSE(cache_->learn(kIp, 1, kMacA, kind::reply, 0));
    EXPECT_FALSE(cache_->learn(kIp, 1, kMacA, kind::other, 0));
    EXPECT_EQ(entry(kIp), nullptr);
    EXPECT_FALSE(published(kIp));
    EXPECT_TRUE(cache_->entries().empty());

    EXPECT_TRUE(cache_->learn(kIp, 2, kMacA, kind::request_to_us, 0));
    EXPECT_EQ(state(kIp), neighbor_state::reachable);
    EXPECT_EQ(entry(kIp)->port, 2);
    auto pub = published(kIp);
    ASSERT_TRUE(pub);
    EXPECT_EQ(pub->first, 2);
    EXPECT_EQ(pub->second, kMacA);
    EXPECT_TRUE(io_.requests.empty()) << "learning sends nothing";
}

TEST_F(NeighborCache, GratuitousUpdatesExistingEntry) {
    ASSERT_TRUE(cache_->learn(kIp, 2, kMacA, kind::request_to_us, 0));
    EXPECT_TRUE(cache_->learn(kIp, 2, kMacB, kind::other, 100));
    EXPECT_EQ(entry(kIp)->mac, kMacB);
    EXPECT_EQ(published(kIp)->second, kMacB);
    EXPECT_EQ(entry(kIp)->updated_ms, 100u);
    EXPECT_EQ(entry(kIp)->deadline_ms, 100 + params_.reachable_ms);
    // A reply updates it too.
    EXPECT_TRUE(cache_->learn(kIp, 2, kMacA, kind::reply, 200));
    EXPECT_EQ(published(kIp)->second, kMacA);
}

TEST_F(NeighborCache, ResolveOnReachableSendsAtOnce) {
    ASSERT_TRUE(cache_->learn(kIp, 2, kMacA, kind::request_to_us, 0));
    cache_->resolve(kIp, 2, pkt(0), 10);
    ASSERT_EQ(io_.sent.size(), 1u);
    EXPECT_EQ(io_.sent[0].pkt, pkt(0));
    EXPECT_EQ(io_.sent[0].port, 2);
    EXPECT_EQ(io_.sent[0].mac, kMacA);
    EXPECT_TRUE(io_.requests.empty());
}

TEST_F(NeighborCache, ReachableAgesToProbeAndBack) {
    ASSERT_TRUE(cache_->learn(kIp, 1, kMacA, kind::request_to_us, 0));
    const uint64_t r = params_.reachable_ms;
    cache_->tick(r - 1);
    EXPECT_EQ(state(kIp), neighbor_state::reachable);
    EXPECT_TRUE(io_.requests.empty());
    cache_->tick(r);
    EXPECT_EQ(state(kIp), neighbor_state::probe);
    ASSERT_EQ(io_.requests.size(), 1u);
    ASSERT_TRUE(io_.requests[0].unicast) << "a probe goes to the known MAC";
    EXPECT_EQ(*io_.requests[0].unicast, kMacA);
    EXPECT_EQ(io_.requests[0].port, 1);
    EXPECT_EQ(io_.requests[0].target, kIp);
    EXPECT_TRUE(published(kIp)) << "still usable while probing";
    // Packets keep flowing while probing.
    cache_->resolve(kIp, 1, pkt(0), r + 1);
    EXPECT_EQ(io_.sent.size(), 1u);
    // The answer makes it reachable again with a fresh timer.
    EXPECT_TRUE(cache_->learn(kIp, 1, kMacA, kind::reply, r + 500));
    EXPECT_EQ(state(kIp), neighbor_state::reachable);
    EXPECT_EQ(cache_->next_deadline(), r + 500 + r);
    cache_->tick(r + 500 + r - 1);
    EXPECT_EQ(state(kIp), neighbor_state::reachable);
    EXPECT_EQ(io_.requests.size(), 1u);
}

TEST_F(NeighborCache, UnansweredProbeRemovesEntry) {
    ASSERT_TRUE(cache_->learn(kIp, 1, kMacA, kind::request_to_us, 0));
    uint64_t t = params_.reachable_ms;
    cache_->tick(t);
    ASSERT_EQ(state(kIp), neighbor_state::probe);
    for (unsigned n = 2; n <= params_.unicast_probes; ++n) {
        t += params_.retrans_ms;
        cache_->tick(t);
        ASSERT_EQ(io_.requests.size(), n);
        ASSERT_TRUE(io_.requests.back().unicast);
        EXPECT_EQ(state(kIp), neighbor_state::probe);
        EXPECT_TRUE(published(kIp));
    }
    t += params_.retrans_ms;
    cache_->tick(t);
    EXPECT_EQ(io_.requests.size(), params_.unicast_probes);
    EXPECT_EQ(entry(kIp), nullptr);
    EXPECT_FALSE(published(kIp));
    EXPECT_EQ(table_->size(), 0u);
}

TEST_F(NeighborCache, StaticNeverAgesNorLearns) {
    std::string err;
    ASSERT_TRUE(cache_->add_static(kIp, 4, kMacA, 0, err)) << err;
    EXPECT_EQ(state(kIp), neighbor_state::permanent);
    EXPECT_EQ(cache_->next_deadline(), UINT64_MAX);
    auto pub = published(kIp);
    ASSERT_TRUE(pub);
    EXPECT_EQ(pub->first, 4);
    EXPECT_EQ(pub->second, kMacA);
    for (uint64_t t = 0; t < 10 * uint64_t(params_.reachable_ms); t += 997) cache_->tick(t);
    EXPECT_EQ(state(kIp), neighbor_state::permanent);
    EXPECT_TRUE(io_.requests.empty());
    for (kind k : {kind::reply, kind::request_to_us, kind::other})
        EXPECT_FALSE(cache_->learn(kIp, 4, kMacB, k, 100));
    EXPECT_FALSE(cache_->learn(kIp, 5, kMacB, kind::reply, 100));
    EXPECT_EQ(entry(kIp)->mac, kMacA);
    EXPECT_EQ(entry(kIp)->port, 4);
    EXPECT_EQ(published(kIp)->second, kMacA);
    // Packets for it on another port are dropped, not resolved.
    cache_->resolve(kIp, 5, pkt(0), 200);
    ASSERT_EQ(io_.dropped.size(), 1u);
    EXPECT_EQ(io_.dropped[0].why, drop_reason::neighbor_failed);
    EXPECT_TRUE(io_.requests.empty());
    // And on its own port sent.
    cache_->resolve(kIp, 4, pkt(1), 200);
    ASSERT_EQ(io_.sent.size(), 1u);
    EXPECT_EQ(io_.sent[0].mac, kMacA);
}

TEST_F(NeighborCache, StaticReplacesDynamicAndReleasesHeld) {
    cache_->resolve(kIp, 1, pkt(0), 0);
    cache_->resolve(kIp, 1, pkt(1), 0);
    std::string err;
    ASSERT_TRUE(cache_->add_static(kIp, 1, kMacB, 5, err)) << err;
    EXPECT_EQ(state(kIp), neighbor_state::permanent);
    ASSERT_EQ(io_.sent.size(), 2u);
    EXPECT_EQ(io_.sent[0].pkt, pkt(0));
    EXPECT_EQ(io_.sent[1].pkt, pkt(1));
    EXPECT_EQ(io_.sent[1].mac, kMacB);
    // Its incomplete timer is gone.
    cache_->tick(100000);
    EXPECT_EQ(io_.requests.size(), 1u);
    EXPECT_EQ(state(kIp), neighbor_state::permanent);
    // A reachable dynamic entry is replaced as well.
    ASSERT_TRUE(cache_->learn(kIp2, 1, kMacA, kind::request_to_us, 0));
    ASSERT_TRUE(cache_->add_static(kIp2, 2, kMacB, 5, err));
    EXPECT_EQ(published(kIp2)->first, 2);
    EXPECT_EQ(published(kIp2)->second, kMacB);
}

TEST_F(NeighborCache, RemoveDropsHeld) {
    cache_->resolve(kIp, 1, pkt(0), 0);
    cache_->resolve(kIp, 1, pkt(1), 0);
    EXPECT_TRUE(cache_->remove(kIp));
    EXPECT_EQ(entry(kIp), nullptr);
    ASSERT_EQ(io_.dropped.size(), 2u);
    EXPECT_EQ(io_.dropped[0].why, drop_reason::neighbor_removed);
    EXPECT_EQ(io_.dropped[1].why, drop_reason::neighbor_removed);
    EXPECT_FALSE(cache_->remove(kIp));
    EXPECT_EQ(cache_->next_deadline(), UINT64_MAX);
    // Removing a published entry unpublishes it, static ones included.
    ASSERT_TRUE(cache_->learn(kIp2, 1, kMacA, kind::request_to_us, 0));
    std::string err;
    ASSERT_TRUE(cache_->add_static(kIp3, 1, kMacA, 0, err));
    EXPECT_TRUE(cache_->remove(kIp2));
    EXPECT_TRUE(cache_->remove(kIp3));
    EXPECT_FALSE(published(kIp2));
    EXPECT_FALSE(published(kIp3));
    EXPECT_EQ(table_->size(), 0u);
}

TEST_F(NeighborCache, FlushPortKeepsStaticAndOtherPorts) {
    cache_->resolve(kIp, 1, pkt(0), 0);                                  // incomplete on 1
    ASSERT_TRUE(cache_->learn(kIp2, 1, kMacA, kind::request_to_us, 0));  // reachable on 1
    ASSERT_TRUE(cache_->learn(kIp3, 2, kMacB, kind::request_to_us, 0));  // reachable on 2
    const ip4_addr kStatic(10, 9, 9, 9);
    std::string err;
    ASSERT_TRUE(cache_->add_static(kStatic, 1, kMacB, 0, err));
    cache_->flush_port(1);
    EXPECT_EQ(entry(kIp), nullptr);
    EXPECT_EQ(entry(kIp2), nullptr);
    EXPECT_FALSE(published(kIp2));
    EXPECT_NE(entry(kIp3), nullptr);
    EXPECT_TRUE(published(kIp3));
    EXPECT_NE(entry(kStatic), nullptr);
    EXPECT_TRUE(published(kStatic));
    ASSERT_EQ(io_.dropped.size(), 1u);
    EXPECT_EQ(io_.dropped[0].pkt, pkt(0));
    EXPECT_EQ(io_.dropped[0].why, drop_reason::neighbor_removed);
    cache_->flush_port(7);
    EXPECT_EQ(cache_->entries().size(), 2u);
}

TEST_F(NeighborCache, NextDeadlineIsEarliestTimer) {
    EXPECT_EQ(cache_->next_deadline(), UINT64_MAX);
    ASSERT_TRUE(cache_->learn(kIp, 1, kMacA, kind::request_to_us, 1000));  // 1000 + 30000
    EXPECT_EQ(cache_->next_deadline(), 1000 + params_.reachable_ms);
    cache_->resolve(kIp2, 1, pkt(0), 5000);  // 5000 + 1000
    EXPECT_EQ(cache_->next_deadline(), 5000 + params_.retrans_ms);
    std::string err;
    ASSERT_TRUE(cache_->add_static(kIp3, 1, kMacA, 0, err));
    EXPECT_EQ(cache_->next_deadline(), 5000 + params_.retrans_ms);
    ASSERT_TRUE(cache_->learn(kIp2, 1, kMacB, kind::reply, 5500));
    EXPECT_EQ(cache_->next_deadline(), 1000 + params_.reachable_ms);
    // Ticking early changes nothing.
    cache_->tick(1000);
    EXPECT_EQ(cache_->next_deadline(), 1000 + params_.reachable_ms);
}

TEST_F(NeighborCache, IncompleteCompletesOnlyFromAskedPort) {
    cache_->resolve(kIp, 1, pkt(0), 0);
    EXPECT_FALSE(cache_->learn(kIp, 2, kMacA, kind::reply, 10));
    EXPECT_FALSE(cache_->learn(kIp, 2, kMacA, kind::request_to_us, 10));
    EXPECT_EQ(state(kIp), neighbor_state::incomplete);
    EXPECT_FALSE(published(kIp));
    EXPECT_TRUE(io_.sent.empty());
    EXPECT_TRUE(cache_->learn(kIp, 1, kMacB, kind::reply, 20));
    EXPECT_EQ(state(kIp), neighbor_state::reachable);
    ASSERT_EQ(io_.sent.size(), 1u);
    EXPECT_EQ(io_.sent[0].port, 1);
    EXPECT_EQ(io_.sent[0].mac, kMacB);
}

TEST_F(NeighborCache, PortChangeOfReachableRestartsResolution) {
    ASSERT_TRUE(cache_->learn(kIp, 1, kMacA, kind::request_to_us, 0));
    cache_->resolve(kIp, 2, pkt(0), 100);
    EXPECT_EQ(state(kIp), neighbor_state::incomplete);
    EXPECT_EQ(entry(kIp)->port, 2);
    EXPECT_FALSE(published(kIp)) << "the old port's entry must not be used";
    ASSERT_EQ(io_.requests.size(), 1u);
    EXPECT_EQ(io_.requests[0].port, 2);
    EXPECT_FALSE(io_.requests[0].unicast);
    EXPECT_TRUE(io_.sent.empty());
    EXPECT_EQ(cache_->next_deadline(), 100 + params_.retrans_ms);
    // An answer on the old port does not complete it.
    EXPECT_FALSE(cache_->learn(kIp, 1, kMacA, kind::reply, 150));
    EXPECT_TRUE(cache_->learn(kIp, 2, kMacB, kind::reply, 200));
    auto pub = published(kIp);
    ASSERT_TRUE(pub);
    EXPECT_EQ(pub->first, 2);
    EXPECT_EQ(pub->second, kMacB);
    ASSERT_EQ(io_.sent.size(), 1u);
    EXPECT_EQ(io_.sent[0].port, 2);
}

TEST_F(NeighborCache, PortChangeWhileIncompleteStartsOver) {
    cache_->resolve(kIp, 1, pkt(0), 0);
    cache_->resolve(kIp, 1, pkt(1), 0);
    cache_->tick(params_.retrans_ms);  // second request on port 1
    ASSERT_EQ(io_.requests.size(), 2u);
    cache_->resolve(kIp, 2, pkt(2), params_.retrans_ms + 10);
    EXPECT_EQ(entry(kIp)->port, 2);
    ASSERT_EQ(io_.dropped.size(), 2u) << "packets held for the old port are dropped";
    EXPECT_EQ(io_.dropped[0].why, drop_reason::neighbor_removed);
    ASSERT_EQ(io_.requests.size(), 3u);
    EXPECT_EQ(io_.requests[2].port, 2);
    ASSERT_EQ(entry(kIp)->hold.size(), 1u);
    EXPECT_EQ(entry(kIp)->hold.front(), pkt(2));
    // It gets the full number of probes on the new port.
    uint64_t t = params_.retrans_ms + 10;
    for (int i = 1; i < params_.broadcast_probes; ++i) {
        t += params_.retrans_ms;
        cache_->tick(t);
    }
    EXPECT_EQ(state(kIp), neighbor_state::incomplete);
    EXPECT_EQ(io_.requests.size(), 2u + params_.broadcast_probes);
}

TEST_F(NeighborCache, MaxEntries) {
    neighbor_params p;
    p.max_entries = 2;
    make(p, 64);
    cache_->resolve(kIp, 1, pkt(0), 0);
    ASSERT_TRUE(cache_->learn(kIp2, 1, kMacA, kind::request_to_us, 0));
    cache_->resolve(kIp3, 1, pkt(1), 0);
    EXPECT_EQ(entry(kIp3), nullptr);
    ASSERT_EQ(io_.dropped.size(), 1u);
    EXPECT_EQ(io_.dropped[0].pkt, pkt(1));
    EXPECT_EQ(io_.dropped[0].why, drop_reason::neighbor_table_full);
    EXPECT_FALSE(cache_->learn(kIp3, 1, kMacA, kind::request_to_us, 0));
    std::string err;
    EXPECT_FALSE(cache_->add_static(kIp3, 1, kMacA, 0, err));
    EXPECT_FALSE(err.empty());
    EXPECT_EQ(cache_->entries().size(), 2u);
    // Existing entries still update.
    EXPECT_TRUE(cache_->learn(kIp2, 1, kMacB, kind::other, 5));
    EXPECT_TRUE(cache_->add_static(kIp2, 1, kMacA, 5, err));
}

TEST_F(NeighborCache, PublishFailureWhenTableFull) {
    make(params_, 1);  // the workers' table holds one entry
    ASSERT_TRUE(cache_->learn(kIp, 1, kMacA, kind::request_to_us, 0));
    EXPECT_FALSE(cache_->learn(kIp2, 1, kMacA, kind::request_to_us, 0));
    EXPECT_EQ(entry(kIp2), nullptr) << "an entry the workers cannot see is not kept";
    // An incomplete entry that cannot be published is given up, its packets dropped.
    cache_->resolve(kIp3, 1, pkt(0), 0);
    EXPECT_FALSE(cache_->learn(kIp3, 1, kMacB, kind::reply, 10));
    EXPECT_EQ(entry(kIp3), nullptr);
    ASSERT_EQ(io_.dropped.size(), 1u);
    EXPECT_EQ(io_.dropped[0].why, drop_reason::neighbor_table_full);
    EXPECT_TRUE(io_.sent.empty());
}

TEST_F(NeighborCache, DestructorDropsHeld) {
    cache_->resolve(kIp, 1, pkt(0), 0);
    cache_->resolve(kIp2, 1, pkt(1), 0);
    cache_.reset();
    ASSERT_EQ(io_.dropped.size(), 2u);
    for (auto &d : io_.dropped) {
        EXPECT_EQ(d.why, drop_reason::neighbor_removed);
    }
}

// --arp-hold 0: nothing is held (each packet is dropped as hold overflow) but resolution
// still starts; a port change of an INCOMPLETE entry must not touch an empty queue.
TEST_F(NeighborCache, HoldMaxZeroHoldsNothing) {
    neighbor_params p;
    p.hold_max = 0;
    make(p, 64);
    cache_->resolve(kIp, 1, pkt(0), 0);
    ASSERT_NE(entry(kIp), nullptr);
    ASSERT_TRUE(entry(kIp)->hold.empty()) << "held a packet with hold_max 0";
    ASSERT_EQ(io_.dropped.size(), 1u);
    EXPECT_EQ(io_.dropped[0].pkt, pkt(0));
    EXPECT_EQ(io_.requests.size(), 1u) << "resolution still starts";
    cache_->resolve(kIp, 2, pkt(1), 10);  // port change while INCOMPLETE
    EXPECT_TRUE(entry(kIp)->hold.empty());
    EXPECT_EQ(io_.dropped.size(), 2u);
    EXPECT_EQ(io_.dropped[1].pkt, pkt(1));
}

TEST(NeighborState, Names) {
    EXPECT_STREQ(to_string(neighbor_state::incomplete), "incomplete");
    EXPECT_STREQ(to_string(neighbor_state::reachable), "reachable");
    EXPECT_STREQ(to_string(neighbor_state::probe), "probe");
    EXPECT_STREQ(to_string(neighbor_state::failed), "failed");
    EXPECT_STREQ(to_string(neighbor_state::permanent), "permanent");
}

}  // namespace
}  // namespace ssw
