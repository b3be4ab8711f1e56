// The etcd client when members go (three real members, one killed with SIGKILL), and over TLS
// with client-certificate authentication.
#include <thread>

#include "tests/control/etcd/etcd_test_support.h"

namespace ssw::etcd_test {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
using test::etcd_cluster;

// A client of the three members, `first` first: the member it talks to until that one fails.
client_options ordered_from(const etcd_cluster &cluster, int first) {
    client_options o;
    for (int n = 0; n < cluster.size(); ++n)
        o.endpoints.push_back(cluster.endpoint((first + n) % 3));
    o.dial_timeout = 500ms;
    o.request_timeout = 2s;
    return o;
}

// The member the client talks to (a follower: the cluster keeps its leader) is killed.
// Reads and writes go on through the others; its watch breaks, and watching again from the
// last revision seen + 1 misses nothing; its lease is kept alive through another member.
TEST(etcd_three, current_member_killed) {
    etcd_cluster cluster;
    std::string error;
    ASSERT_TRUE(cluster.start(3, false, error)) << error;
    const int leader = cluster.leader(error);
    ASSERT_GE(leader, 0) << error;
    const int f = (leader + 1) % 3;
    auto c = connect(ordered_from(cluster, f));
    ASSERT_TRUE(c);
    const std::string prefix = test_prefix();
    const int64_t r1 = put(*c, prefix + "before", "1");
    auto w = c->watch_prefix(prefix, 0, error);
    ASSERT_TRUE(w) << error;
    auto l = c->grant_lease(2, error);
    ASSERT_TRUE(l) << error;
    const int64_t leased = put(*c, prefix + "leased", "x", l->id());

    const auto killed = clock::now();
    cluster.kill(f, SIGKILL);

    int64_t r2 = 0;
    ASSERT_TRUE(c->put(prefix + "after", "2", r2, error)) << error;
    auto kv = get(*c, prefix + "after");
    ASSERT_TRUE(kv);
    EXPECT_EQ(kv->mod_revision, r2);

    // The watch: events it had, then the end, broken (not compacted).
    std::vector<watch_event> events;
    int64_t revision = 0;
    bool ok = true;
    while (clock::now() - killed < 5s && (ok = w->next(events, revision, 500ms, error))) {
    }
    ASSERT_FALSE(ok) << "the watch on the killed member did not end";
    EXPECT_NE(error.find("broken"), std::string::npos) << error;
    EXPECT_FALSE(w->compacted());
    EXPECT_GE(revision, r1);
    EXPECT_LE(revision, leased);
    auto again = c->watch_prefix(prefix, revision + 1, error);
    ASSERT_TRUE(again) << error;
    events = collect(*again, revision < leased ? 2 : 1, revision);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back().kv.key, prefix + "after");
    EXPECT_EQ(events.back().kv.mod_revision, r2);

    // Past the lease's TTL: kept alive through another member.
    std::this_thread::sleep_until(killed + std::chrono::seconds(l->ttl_seconds()) + 1s);
    EXPECT_TRUE(l->alive());
    EXPECT_TRUE(get(*c, prefix + "leased"));

    // The member comes back with what it missed.
    ASSERT_TRUE(cluster.restart(f, error)) << error;
    client_options only_f = ordered_from(cluster, f);
    only_f.endpoints.resize(1);
    auto cf = connect(only_f);
    ASSERT_TRUE(cf);
    kv = get(*cf, prefix + "after");
    ASSERT_TRUE(kv);
    EXPECT_EQ(kv->value, "2");
}

// The leader is killed under the client: writes fail only while the others elect a new one.
// Then a second member: the last one has no leader.
TEST(etcd_three, leader_killed) {
    etcd_cluster cluster;
    std::string error;
    ASSERT_TRUE(cluster.start(3, false, error)) << error;
    const int leader = cluster.leader(error);
    ASSERT_GE(leader, 0) << error;
    auto c = connect(ordered_from(cluster, leader));
    ASSERT_TRUE(c);
    const std::string prefix = test_prefix();
    put(*c, prefix + "before", "1");
    cluster.kill(leader, SIGKILL);

    const auto killed = clock::now();
    bool ok = false;
    int64_t rev = 0;
    while (!ok && clock::now() - killed < 10s) {
        ok = c->put(prefix + "after", "2", rev, error);
        if (!ok) std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(ok) << error;
    EXPECT_LT(clock::now() - killed, 8s);
    auto kv = get(*c, prefix + "after");
    ASSERT_TRUE(kv);
    EXPECT_EQ(kv->mod_revision, rev);
    const int now_leader = cluster.leader(error);
    EXPECT_GE(now_leader, 0) << error;
    EXPECT_NE(now_leader, leader);

    // One more gone: the last member has no leader, and a watch through it ends (the client
    // asks etcd for that with "hasleader") rather than going quiet.
    const int last = (leader + 1) % 3, other = (leader + 2) % 3;
    client_options only_last = ordered_from(cluster, last);
    only_last.endpoints.resize(1);
    auto cl = connect(only_last);
    ASSERT_TRUE(cl);
    auto w = cl->watch_prefix(prefix, 0, error);
    ASSERT_TRUE(w) << error;
    cluster.kill(other, SIGKILL);
    const auto lost = clock::now();
    std::vector<watch_event> events;
    int64_t revision = 0;
    ok = true;
    while (clock::now() - lost < 10s && (ok = w->next(events, revision, 500ms, error))) {
    }
    ASSERT_FALSE(ok) << "the watch went on without a leader";
    EXPECT_NE(error.find("no leader"), std::string::npos) << error;
    EXPECT_FALSE(w->compacted());
}

// One member with TLS and client-certificate authentication, shared by the suite.
class etcd_tls : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        cluster_ = new etcd_cluster;
        if (!cluster_->start(1, true, start_error_) && start_error_.empty())
            start_error_ = "etcd_cluster::start failed";
    }
    static void TearDownTestSuite() {
        delete cluster_;
        cluster_ = nullptr;
    }
    void SetUp() override { ASSERT_TRUE(start_error_.empty()) << start_error_; }

    // Every call fails, promptly, naming the member.
    static void refused(const client_options &o) {
        std::string error;
        auto c = client::create(o, error);
        ASSERT_TRUE(c) << error;
        const std::string member = "etcd " + o.endpoints[0].substr(8) + ": ";
        const auto t0 = clock::now();
        std::optional<key_value> kv;
        int64_t rev;
        EXPECT_FALSE(c->get("k", kv, rev, error));
        EXPECT_EQ(error.rfind(member, 0), 0u) << error;
        EXPECT_FALSE(c->put("k", "v", rev, error));
        EXPECT_EQ(c->watch_prefix("k", 0, error), nullptr);
        EXPECT_EQ(c->grant_lease(5, error), nullptr);
        EXPECT_LT(clock::now() - t0, 4 * o.request_timeout);
    }

    static inline etcd_cluster *cluster_ = nullptr;
    static inline std::string start_error_;
};

TEST_F(etcd_tls, client_certificate_of_the_cluster_ca_works) {
    auto c = connect(cluster_->client_options());
    ASSERT_TRUE(c);
    const std::string prefix = test_prefix();
    std::string error;
    auto w = c->watch_prefix(prefix, 0, error);
    ASSERT_TRUE(w) << error;
    const int64_t rev = put(*c, prefix + "k", "v");
    auto kv = get(*c, prefix + "k");
    ASSERT_TRUE(kv);
    EXPECT_EQ(kv->value, "v");
    int64_t revision = 0;
    auto events = collect(*w, 1, revision);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kv.mod_revision, rev);
}

TEST_F(etcd_tls, refused_without_a_client_certificate) {
    client_options o = cluster_->client_options();
    o.cert_file.clear();
    o.key_file.clear();
    o.request_timeout = 1s;
    refused(o);
}

TEST_F(etcd_tls, refused_with_a_certificate_of_another_ca) {
    client_options o = cluster_->client_options();
    o.cert_file = cluster_->tls().other_client_cert;
    o.key_file = cluster_->tls().other_client_key;
    o.request_timeout = 1s;
    refused(o);
}

TEST_F(etcd_tls, refused_when_the_member_is_not_trusted) {
    client_options o = cluster_->client_options();
    o.ca_file = cluster_->tls().other_ca;
    o.request_timeout = 1s;
    refused(o);
}

}  // namespace
}  // namespace ssw::etcd_test
