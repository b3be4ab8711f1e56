// The binding table: both keys of a binding (M and M*) reach the same binding; replacing a binding
// moves its care-of key; conflicts and capacity are refused with a message; per-worker hit
// counters; bulk and single lookups agree; and a concurrent RCU reader only ever sees a
// binding that a key really held.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/tables/nat_table.h"
#include "dataplane/tables/rcu.h"
#include "tests/test_support.h"

namespace ssw {
namespace {

using test::A;

binding fwd(const char *m, const char *ms) { return {A(m), A(ms), binding_kind::forward, 0}; }
binding local(const char *m, const char *ms, uint16_t port, bool keep_source = false) {
    return {A(m), A(ms), keep_source ? binding_kind::local_keep_source : binding_kind::local, port};
}

class NatTable : public ::testing::Test {
protected:
    void SetUp() override { ASSERT_TRUE(rcu_.init(4)); }
    void TearDown() override { rcu_.synchronize(); }
    void make(uint32_t capacity = 64, unsigned workers = 1) {
        ASSERT_TRUE(nat_.init(capacity, workers, rcu_));
    }
    bool set(const binding &b) {
        std::string err;
        bool ok = nat_.set(b, err);
        EXPECT_EQ(ok, err.empty()) << err;
        return ok;
    }
    std::string refusal(const binding &b) {
        std::string err;
        EXPECT_FALSE(nat_.set(b, err))
            << "accepted " << b.home.to_string() << " -> " << b.care_of.to_string();
        EXPECT_FALSE(err.empty());
        return err;
    }
    // Every binding of t (the fixture's table by default), by home address.
    std::map<ip4_addr, binding> all(const nat_table *t = nullptr) const {
        std::map<ip4_addr, binding> m;
        (t ? *t : nat_).for_each([&](const binding &b) {
            EXPECT_TRUE(m.emplace(b.home, b).second);
        });
        return m;
    }
    // The binding a key reaches, checked against the binding it must belong to.
    void expect_binding(ip4_addr key, const binding &b) {
        const nat_table::view s = nat_.lookup(key.host());
        ASSERT_TRUE(s) << key.to_string();
        EXPECT_EQ(s.home, b.home.host()) << key.to_string();
        EXPECT_EQ(s.care_of, b.care_of.host()) << key.to_string();
        EXPECT_EQ(s.kind, b.kind) << key.to_string();
        if (b.is_local()) {
            EXPECT_EQ(s.port, b.port) << key.to_string();
        }
    }
    bool found(ip4_addr key) const { return bool(nat_.lookup(key.host())); }

    rcu_domain rcu_;
    nat_table nat_;
};

TEST_F(NatTable, SetFindRemoveForEach) {
    make();
    EXPECT_TRUE(nat_.empty());
    EXPECT_EQ(nat_.size(), 0u);
    EXPECT_EQ(nat_.capacity(), 64u);
    binding out;
    EXPECT_EQ(nat_.find(A("192.168.11.3"), out), nullptr);

    const binding c = fwd("192.168.11.3", "192.168.10.3");
    const binding v = local("192.168.11.4", "192.168.10.4", 1);
    const binding w = local("192.168.11.5", "192.168.10.5", 2, true);
    ASSERT_TRUE(set(c));
    ASSERT_TRUE(set(v));
    ASSERT_TRUE(set(w));
    EXPECT_FALSE(nat_.empty());
    EXPECT_EQ(nat_.size(), 3u);
    ASSERT_NE(nat_.find(A("192.168.11.3"), out), nullptr);
    EXPECT_EQ(out, c);
    ASSERT_NE(nat_.find(A("192.168.11.4"), out), nullptr);
    EXPECT_EQ(out, v);
    ASSERT_NE(nat_.find(A("192.168.11.5"), out), nullptr);
    EXPECT_EQ(out, w);
    // find is by home address only.
    EXPECT_EQ(nat_.find(A("192.168.10.3"), out), nullptr);
    EXPECT_EQ(all(), (std::map<ip4_addr, binding>{{c.home, c}, {v.home, v}, {w.home, w}}));

    EXPECT_TRUE(nat_.remove(A("192.168.11.4")));
    EXPECT_FALSE(nat_.remove(A("192.168.11.4")));
    EXPECT_FALSE(nat_.remove(A("192.168.10.3"))) << "a care-of address is not a binding";
    EXPECT_EQ(nat_.size(), 2u);
    EXPECT_EQ(nat_.find(A("192.168.11.4"), out), nullptr);
    EXPECT_FALSE(found(A("192.168.11.4")));
    EXPECT_FALSE(found(A("192.168.10.4")));
    EXPECT_EQ(all(), (std::map<ip4_addr, binding>{{c.home, c}, {w.home, w}}));
    EXPECT_TRUE(nat_.remove(c.home));
    EXPECT_TRUE(nat_.remove(w.home));
    EXPECT_TRUE(nat_.empty());
    EXPECT_TRUE(all().empty());
}

TEST_F(NatTable, KindsCounted) {
    make();
    EXPECT_FALSE(nat_.has_forward());
    EXPECT_FALSE(nat_.has_local_snat());
    ASSERT_TRUE(set(local("10.1.0.1", "10.2.0.1", 1, true)));
    EXPECT_FALSE(nat_.has_forward()) << "keep-source is neither";
    EXPECT_FALSE(nat_.has_local_snat()) << "keep-source translates no source";
    ASSERT_TRUE(set(fwd("10.1.0.2", "10.2.0.2")));
    EXPECT_TRUE(nat_.has_forward());
    EXPECT_FALSE(nat_.has_local_snat());
    ASSERT_TRUE(set(local("10.1.0.3", "10.2.0.3", 1)));
    EXPECT_TRUE(nat_.has_local_snat());
    // Replacing changes the kind counts.
    ASSERT_TRUE(set(local("10.1.0.2", "10.2.0.2", 2)));
    EXPECT_FALSE(nat_.has_forward());
    EXPECT_TRUE(nat_.has_local_snat());
    ASSERT_TRUE(set(local("10.1.0.3", "10.2.0.3", 1, true)));
    EXPECT_TRUE(nat_.has_local_snat()) << "10.1.0.2 is still local";
    ASSERT_TRUE(set(fwd("10.1.0.2", "10.2.0.9")));
    EXPECT_TRUE(nat_.has_forward());
    EXPECT_FALSE(nat_.has_local_snat());
    ASSERT_TRUE(set(fwd("10.1.0.1", "10.2.0.1")));
    EXPECT_TRUE(nat_.has_forward());
    EXPECT_TRUE(nat_.remove(A("10.1.0.2")));
    EXPECT_TRUE(nat_.has_forward()) << "10.1.0.1 is forward";
    EXPECT_TRUE(nat_.remove(A("10.1.0.1")));
    EXPECT_FALSE(nat_.has_forward());
    EXPECT_FALSE(nat_.has_local_snat());
    EXPECT_TRUE(nat_.remove(A("10.1.0.3")));
    EXPECT_FALSE(nat_.has_forward());
    EXPECT_FALSE(nat_.has_local_snat());
}

TEST_F(NatTable, HomeAndCareOfReachTheSameBinding) {
    make();
    const binding b = local("192.168.11.3", "192.168.10.3", 1);
    ASSERT_TRUE(set(b));
    expect_binding(b.home, b);
    expect_binding(b.care_of, b);
    EXPECT_NE(nat_.lookup(b.home.host()).pos, nat_.lookup(b.care_of.host()).pos)
        << "each key has its own entry (and hit counter)";
    EXPECT_FALSE(found(A("192.168.11.30")));
}

TEST_F(NatTable, ReplaceMovesTheCareOfKey) {
    make();
    const binding b1 = fwd("192.168.11.3", "192.168.10.3");
    ASSERT_TRUE(set(b1));
    const binding b2 = local("192.168.11.3", "192.168.12.3", 2);
    ASSERT_TRUE(set(b2));
    EXPECT_EQ(nat_.size(), 1u);
    EXPECT_FALSE(found(b1.care_of)) << "the old care-of key is gone";
    expect_binding(b2.home, b2);
    expect_binding(b2.care_of, b2);
    binding out;
    ASSERT_NE(nat_.find(b2.home, out), nullptr);
    EXPECT_EQ(out, b2);
    // Same care-of, new kind and port.
    const binding b3 = local("192.168.11.3", "192.168.12.3", 3, true);
    ASSERT_TRUE(set(b3));
    expect_binding(b3.home, b3);
    expect_binding(b3.care_of, b3);
    // The old care-of is free for another binding now.
    ASSERT_TRUE(set(fwd("192.168.11.4", "192.168.10.3")));
    expect_binding(A("192.168.10.3"), fwd("192.168.11.4", "192.168.10.3"));
    expect_binding(b3.home, b3);
    // Removing frees both keys.
    EXPECT_TRUE(nat_.remove(b3.home));
    EXPECT_FALSE(found(b3.home));
    EXPECT_FALSE(found(b3.care_of));
}

TEST_F(NatTable, CareOfConflictsRefused) {
    make();
    ASSERT_TRUE(set(fwd("192.168.11.3", "192.168.10.3")));
    // M* is another binding's home address.
    std::string e = refusal(fwd("192.168.11.4", "192.168.11.3"));
    EXPECT_NE(e.find("192.168.11.3"), std::string::npos) << e;
    EXPECT_NE(e.find("home address"), std::string::npos) << e;
    // M* is another binding's care-of address.
    e = refusal(local("192.168.11.4", "192.168.10.3", 1));
    EXPECT_NE(e.find("192.168.10.3"), std::string::npos) << e;
    EXPECT_NE(e.find("care-of address"), std::string::npos) << e;
    EXPECT_NE(e.find("192.168.11.3"), std::string::npos) << "names the binding: " << e;
    // Zero, or M == M*.
    refusal(fwd("0.0.0.0", "192.168.10.9"));
    refusal(fwd("192.168.11.9", "0.0.0.0"));
    refusal(fwd("192.168.11.9", "192.168.11.9"));
    // Nothing changed.
    EXPECT_EQ(nat_.size(), 1u);
    expect_binding(A("192.168.11.3"), fwd("192.168.11.3", "192.168.10.3"));
    expect_binding(A("192.168.10.3"), fwd("192.168.11.3", "192.168.10.3"));
    EXPECT_FALSE(found(A("192.168.11.4")));
    // A binding may keep its own care-of address.
    EXPECT_TRUE(set(local("192.168.11.3", "192.168.10.3", 1)));
}

// The table's invariant: each key reaches the one binding it belongs to. A new
// binding whose home address is another binding's care-of address must not take that key
// (it did before commit 9b7f352: only the care-of address was checked).
TEST_F(NatTable, HomeThatIsAnotherCareOfDoesNotStealTheKey) {
    make();
    const binding a = fwd("192.168.11.3", "192.168.10.3");
    ASSERT_TRUE(set(a));
    std::string err;
    const bool accepted = nat_.set(fwd("192.168.10.3", "192.168.10.77"), err);
    EXPECT_FALSE(accepted) << "home 192.168.10.3 is the care-of address of 192.168.11.3";
    EXPECT_NE(err.find("192.168.10.3"), std::string::npos) << err;
    EXPECT_NE(err.find("192.168.11.3"), std::string::npos) << "names the binding: " << err;
    EXPECT_FALSE(found(A("192.168.10.77")));
    EXPECT_EQ(nat_.size(), 1u);
    expect_binding(A("192.168.10.3"), a);
    expect_binding(A("192.168.11.3"), a);
    if (accepted) {
        // Removing the first binding must not remove the second one's home key.
        EXPECT_TRUE(nat_.remove(a.home));
        EXPECT_TRUE(found(A("192.168.10.3")));
    }
}

TEST_F(NatTable, Capacity) {
    make(4);
    for (int i = 1; i <= 4; ++i)
        ASSERT_TRUE(set({ip4_addr(10, 0, 0, uint8_t(i)), ip4_addr(10, 1, 0, uint8_t(i)),
                         binding_kind::forward, 0}));
    const std::string e = refusal(fwd("10.0.0.5", "10.1.0.5"));
    EXPECT_NE(e.find("full"), std::string::npos) << e;
    EXPECT_NE(e.find("4"), std::string::npos) << "mentions the capacity: " << e;
    EXPECT_FALSE(found(A("10.0.0.5")));
    EXPECT_FALSE(found(A("10.1.0.5")));
    // Replacing at capacity works, many times over (erased entries come back through RCU).
    for (int round = 0; round < 50; ++round) {
        for (int i = 1; i <= 4; ++i) {
            const binding b{
                ip4_addr(10, 0, 0, uint8_t(i)), ip4_addr(10, 2, uint8_t(round), uint8_t(i)),
                round % 2 ? binding_kind::local : binding_kind::forward, uint16_t(round % 3)};
            ASSERT_TRUE(set(b)) << "round " << round;
            expect_binding(b.home, b);
            expect_binding(b.care_of, b);
        }
        if (round % 7 == 0) rcu_.reclaim();
    }
    EXPECT_EQ(nat_.size(), 4u);
    // After a removal there is room again.
    EXPECT_TRUE(nat_.remove(A("10.0.0.2")));
    EXPECT_TRUE(set(fwd("10.0.0.5", "10.1.0.5")));
    refusal(fwd("10.0.0.6", "10.1.0.6"));
}

TEST_F(NatTable, KeyZeroNeverFound) {
    make();
    ASSERT_TRUE(set(fwd("10.0.0.1", "10.0.0.2")));
    EXPECT_FALSE(nat_.lookup(0));
    const uint32_t keys[3] = {0, A("10.0.0.1").host(), 0};
    nat_table::view out[3];
    nat_.lookup_bulk(keys, 3, out);
    EXPECT_FALSE(out[0]);
    EXPECT_TRUE(out[1]);
    EXPECT_FALSE(out[2]);
}

TEST_F(NatTable, HitsSumPerWorker) {
    make(16, 3);
    const binding b = fwd("10.0.0.1", "10.0.0.2");
    ASSERT_TRUE(set(b));
    ASSERT_TRUE(set(fwd("10.0.0.3", "10.0.0.4")));
    uint64_t packets = 99, last = 99;
    nat_.hits(b.home, packets, last);
    EXPECT_EQ(packets, 0u);
    EXPECT_EQ(last, 0u);
    // Hits through either key count for the binding; the time is kept to 2^24 cycles.
    const nat_table::view s = nat_.lookup(b.care_of.host());
    ASSERT_TRUE(s);
    const uint64_t t = uint64_t(1) << 40;
    for (int i = 0; i < 5; ++i) nat_.hit(s, 0, t + (uint64_t(i) << 24));
    for (int i = 0; i < 3; ++i) nat_.hit(s, 1, t + (uint64_t(10 + i) << 24));
    nat_.hit(nat_.lookup(b.home.host()), 2, t + (uint64_t(7) << 24) + 5);
    nat_.hits(b.home, packets, last);
    EXPECT_EQ(packets, 9u);
    EXPECT_EQ(last, t + (uint64_t(12) << 24)) << "the latest over all workers";
    // Another binding's counters are its own.
    nat_.hits(A("10.0.0.3"), packets, last);
    EXPECT_EQ(packets, 0u);
    // An unknown address has none.
    nat_.hits(A("10.9.9.9"), packets, last);
    EXPECT_EQ(packets, 0u);
    EXPECT_EQ(last, 0u);
    // By care-of address: hits() is by home address.
    nat_.hits(b.care_of, packets, last);
    EXPECT_EQ(packets, 0u);
}

// A binding's count survives a change of its care-of address on the home key's side; the
// care-of key's side starts again with the new M*. A key that takes an entry another key left
// starts from zero.
TEST_F(NatTable, HitsAcrossRebindingAndReuse) {
    make(16, 2);
    const binding b = fwd("10.0.0.1", "10.0.0.2");
    ASSERT_TRUE(set(b));
    for (int i = 0; i < 4; ++i) nat_.hit(nat_.lookup(b.home.host()), 0, 1 << 24);
    for (int i = 0; i < 2; ++i) nat_.hit(nat_.lookup(b.care_of.host()), 1, 1 << 24);
    uint64_t packets, last;
    nat_.hits(b.home, packets, last);
    EXPECT_EQ(packets, 6u);
    ASSERT_TRUE(set(fwd("10.0.0.1", "10.0.0.3")));
    nat_.hits(b.home, packets, last);
    EXPECT_EQ(packets, 4u) << "the home key's count stays, the new care-of key's is zero";
    ASSERT_TRUE(nat_.remove(b.home));
    // The same two keys bound and removed over and over: their erased entries are held, then
    // (the writer waits for grace periods when too many are) taken again, counters zeroed.
    const binding c = fwd("10.1.0.1", "10.2.0.1");
    for (int round = 0; round < 200; ++round) {
        ASSERT_TRUE(set(c));
        nat_.hits(c.home, packets, last);
        ASSERT_EQ(packets, 0u) << "round " << round;
        ASSERT_EQ(last, 0u) << "round " << round;
        nat_.hit(nat_.lookup(c.home.host()), 0, 1 << 24);
        nat_.hit(nat_.lookup(c.care_of.host()), 1, 1 << 24);
        ASSERT_TRUE(nat_.remove(c.home));
    }
}

TEST_F(NatTable, BulkLookupAgreesWithLookup) {
    make(1000);
    std::mt19937 rng(21);
    std::vector<uint32_t> present;
    for (uint32_t i = 1; i <= 900; ++i) {
        const uint32_t m = 0x0a000000 | i, ms = 0x0b000000 | i;
        binding b{ip4_addr(m), ip4_addr(ms), binding_kind(i % 3), uint16_t(i % 5)};
        ASSERT_TRUE(set(b));
        present.push_back(m);
        present.push_back(ms);
    }
    for (uint32_t i = 1; i <= 900; i += 3) ASSERT_TRUE(nat_.remove(ip4_addr(0x0a000000 | i)));
    for (int round = 0; round < 2000; ++round) {
        const unsigned n = 1 + rng() % 64;
        uint32_t keys[64];
        for (unsigned i = 0; i < n; ++i) {
            switch (rng() % 4) {
                case 0: keys[i] = uint32_t(rng()); break;
                case 1: keys[i] = 0; break;
                default: keys[i] = present[rng() % present.size()]; break;
            }
        }
        nat_table::view out[64];
        nat_.lookup_bulk(keys, n, out);
        for (unsigned i = 0; i < n; ++i) {
            const nat_table::view one = nat_.lookup(keys[i]);
            ASSERT_EQ(bool(out[i]), bool(one)) << ip4_addr(keys[i]).to_string();
            if (!one) continue;
            ASSERT_EQ(out[i].home, one.home);
            ASSERT_EQ(out[i].care_of, one.care_of);
            ASSERT_EQ(out[i].pos, one.pos);
            ASSERT_EQ(out[i].kind, one.kind);
            ASSERT_EQ(out[i].port, one.port);
        }
    }
    // And the contents are what was set.
    for (uint32_t i = 1; i <= 900; ++i) {
        const nat_table::view s = nat_.lookup(0x0b000000 | i);
        if (i % 3 == 1) {
            EXPECT_FALSE(s);
            continue;
        }
        ASSERT_TRUE(s);
        EXPECT_EQ(s.home, 0x0a000000 | i);
        EXPECT_EQ(s.kind, binding_kind(i % 3));
        EXPECT_EQ(s.port, uint16_t(i % 5));
    }
}

TEST(NatTablePipeline, EveryStepOnceInOrderAndAhead) {
    for (size_t n :
         {size_t(0), size_t(1), size_t(5), nat_table::kPrepareNear, nat_table::kPrepareNear + 1,
          nat_table::kPrepareFar, nat_table::kPrepareFar + 1, size_t(100)}) {
        std::vector<std::pair<size_t, int>> ev;  // (i, step), step 2: apply
        nat_table::pipelined(
            n, [&](size_t i, unsigned step) { ev.emplace_back(i, int(step)); },
            [&](size_t i) { ev.emplace_back(i, 2); });
        ASSERT_EQ(ev.size(), 3 * n) << n;
        std::vector<size_t> at[3];
        for (auto &v : at) v.assign(n, SIZE_MAX);
        size_t applied = 0;
        for (size_t k = 0; k < ev.size(); ++k) {
            const auto [i, step] = ev[k];
            ASSERT_LT(i, n);
            ASSERT_EQ(at[step][i], SIZE_MAX) << "step " << step << " of " << i << " twice";
            at[step][i] = k;
            if (step == 2) {
                ASSERT_EQ(i, applied++) << "applied out of order";
            }
        }
        for (size_t i = 0; i < n; ++i) {
            EXPECT_LT(at[0][i], at[1][i]) << i;
            EXPECT_LT(at[1][i], at[2][i]) << i;
            // Ahead: apply(i) comes after both steps of the next updates too.
            if (i + nat_table::kPrepareNear - 1 < n) {
                EXPECT_LT(at[1][i + nat_table::kPrepareNear - 1], at[2][i]) << i;
            }
            if (i + nat_table::kPrepareFar - 1 < n) {
                EXPECT_LT(at[0][i + nat_table::kPrepareFar - 1], at[2][i]) << i;
            }
        }
    }
}

TEST_F(NatTable, PreparedUpdatesGiveWhatSetGives) {
    make(300, 2);
    nat_table plain;
    ASSERT_TRUE(plain.init(300, 2, rcu_));
    std::mt19937 rng(5);
    // Random rebindings, replacements, conflicts (a care-of address another binding holds) and
    // kinds, applied one by one to `plain` and pipelined, with prepare_set, to nat_.
    for (int round = 0; round < 20; ++round) {
        std::vector<binding> bs(1 + rng() % 150);
        for (auto &b : bs)
            b = binding{ip4_addr(0x0a000000u | (1 + rng() % 200)),
                        ip4_addr(0x0b000000u | (1 + rng() % 250)), binding_kind(rng() % 3),
                        uint16_t(rng() % 4)};
        std::vector<std::string> want(bs.size()), got(bs.size());
        for (size_t i = 0; i < bs.size(); ++i) plain.set(bs[i], want[i]);
        nat_table::pipelined(
            bs.size(), [&](size_t i, unsigned step) { nat_.prepare_set(bs[i], step); },
            [&](size_t i) { nat_.set(bs[i], got[i]); });
        ASSERT_EQ(got, want) << "round " << round;
        const std::map<ip4_addr, binding> a = all(&plain);
        ASSERT_EQ(all(), a) << "round " << round;
        // Preparing alone changes nothing.
        for (const auto &b : bs) {
            nat_.prepare_set(b, 0);
            nat_.prepare_set(b, 1);
        }
        ASSERT_EQ(all(), a);
    }
    rcu_.synchronize();
    rcu_.reclaim();
}

// ---- one writer, one RCU reader ----
//
// 32 home addresses; home i's care-of addresses come from its own range 10.128.i.0/28, and
// the last four bits of a care-of address fix the kind and port the writer gives it. So a
// reader can tell from the lookup alone whether it is a binding the key really held: a home key
// must reach a binding with that home and a care-of of its range; a care-of key a binding with that
// care-of and the home whose range holds it; and kind and port must match the care-of.
constexpr unsigned kHomes = 32, kCareOfs = 16;
uint32_t home_addr(unsigned i) { return 0x0a000001u | i << 8; }                     // 10.0.i.1
uint32_t care_of_addr(unsigned i, unsigned j) { return 0x0a800000u | i << 8 | j; }  // 10.128.i.j
binding_kind kind_for(uint32_t care_of) { return binding_kind((care_of & 0xf) % 3); }
uint16_t port_for(uint32_t care_of) { return uint16_t(1 + (care_of & 0xf) % 5); }

// Empty when the binding found is consistent with key; else what is wrong.
std::string check_view(uint32_t key, const nat_table::view *s) {
    const bool is_home = (key >> 23) == (0x0a000000u >> 23);
    const unsigned i = (key >> 8) & 0xff;
    const uint32_t home = home_addr(i);
    if (is_home ? s->home != key : s->care_of != key) return "binding does not carry its key";
    if (s->home != home) return "care-of key reaches another home's binding";
    if ((s->care_of & 0xfffffff0u) != (0x0a800000u | i << 8))
        return "care-of outside its home's range";
    if (s->kind != kind_for(s->care_of)) return "kind does not match the care-of address";
    if (s->kind != binding_kind::forward && s->port != port_for(s->care_of))
        return "port does not match the care-of address";
    return {};
}

TEST(NatTableConcurrency, ReaderSeesOnlyBindingsKeysHeld) {
    rcu_domain rcu;
    ASSERT_TRUE(rcu.init(1));
    nat_table nat;
    ASSERT_TRUE(nat.init(kHomes, 1, rcu));

    std::vector<uint32_t> keys;
    for (unsigned i = 0; i < kHomes; ++i) {
        keys.push_back(home_addr(i));
        for (unsigned j = 0; j < kCareOfs; ++j) keys.push_back(care_of_addr(i, j));
    }

    std::atomic<bool> stop{false};
    std::atomic<uint64_t> lookups{0}, found{0}, bad{0};
    std::mutex first_mu;
    std::string first_bad;
    rcu.register_reader(0);
    std::thread reader([&] {
        rcu.online(0);
        std::mt19937 rng(5);
        uint64_t n = 0, f = 0;
        auto report = [&](uint32_t key, const std::string &what) {
            if (bad.fetch_add(1) == 0) {
                std::lock_guard<std::mutex> g(first_mu);
                first_bad = ip4_addr(key).to_string() + ": " + what;
            }
        };
        while (!stop.load(std::memory_order_relaxed)) {
            for (int k = 0; k < 8; ++k) {
                const uint32_t key = keys[rng() % keys.size()];
                if (const nat_table::view s = nat.lookup(key)) {
                    ++f;
                    if (auto e = check_view(key, &s); !e.empty()) report(key, e);
                }
                ++n;
            }
            uint32_t batch[32];
            nat_table::view out[32];
            for (auto &b : batch) b = keys[rng() % keys.size()];
            // Both ways of a bulk, in turn: tags first, and buckets at once.
            lockfree_hash::bulk_hint hint{(n & 64) != 0};
            nat.lookup_bulk(batch, 32, out, -1, &hint);
            for (unsigned i = 0; i < 32; ++i) {
                if (out[i]) {
                    ++f;
                    if (auto e = check_view(batch[i], &out[i]); !e.empty()) report(batch[i], e);
                }
            }
            n += 32;
            rcu.quiescent(0);
        }
        lookups = n;
        found = f;
        rcu.offline(0);
    });

    // The writer: adds, replaces (new care-of, new kind) and deletes at full speed.
    std::mt19937 rng(6);
    std::map<uint32_t, uint32_t> model;  // home -> care-of
    uint64_t writes = 0, removes = 0;
    std::string write_error;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (write_error.empty() && std::chrono::steady_clock::now() < end) {
        for (int k = 0; k < 256; ++k) {
            const unsigned i = rng() % kHomes;
            const uint32_t m = home_addr(i);
            if (rng() % 4 == 0) {
                EXPECT_EQ(nat.remove(ip4_addr(m)), model.erase(m) == 1);
                ++removes;
            } else {
                const uint32_t ms = care_of_addr(i, rng() % kCareOfs);
                const binding b{ip4_addr(m), ip4_addr(ms), kind_for(ms), port_for(ms)};
                if (!nat.set(b, write_error)) break;  // reported after the reader stops
                model[m] = ms;
                ++writes;
            }
        }
        rcu.reclaim();
    }
    stop = true;
    reader.join();
    rcu.unregister_reader(0);

    EXPECT_EQ(write_error, "");
    EXPECT_EQ(bad.load(), 0u) << "first: " << first_bad;
    EXPECT_GT(lookups.load(), 10000u) << "the reader made progress";
    EXPECT_GT(found.load(), 0u);
    EXPECT_LT(found.load(), lookups.load()) << "misses too";
    EXPECT_GT(writes, 1000u);
    EXPECT_GT(removes, 100u);
    // The table ends as the writer left it.
    EXPECT_EQ(nat.size(), model.size());
    for (unsigned i = 0; i < kHomes; ++i) {
        const uint32_t m = home_addr(i);
        const nat_table::view s = nat.lookup(m);
        auto it = model.find(m);
        if (it == model.end()) {
            EXPECT_FALSE(s);
            continue;
        }
        ASSERT_TRUE(s);
        EXPECT_EQ(s.care_of, it->second);
        EXPECT_EQ(nat.lookup(it->second).home, m);
        for (unsigned j = 0; j < kCareOfs; ++j)
            if (care_of_addr(i, j) != it->second) {
                EXPECT_FALSE(nat.lookup(care_of_addr(i, j)));
            }
    }
    rcu.synchronize();
}

}  // namespace
}  // namespace ssw
