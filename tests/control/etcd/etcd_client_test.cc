// The etcd client against one real member: keys, lists, transactions, leases, watches; and
// the options create() refuses.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

#include "tests/control/etcd/etcd_test_support.h"

namespace ssw::etcd_test {
namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;
using test::etcd_cluster;

class etcd_single : public single_member_suite {
protected:
    void SetUp() override {
        ASSERT_TRUE(start_error_.empty()) << start_error_;
        c_ = connect(cluster_->client_options());
        ASSERT_TRUE(c_);
        prefix_ = test_prefix();
    }

    std::unique_ptr<client> c_;
    std::string prefix_;
};

TEST(etcd_prefix_end, follows_etcd) {
    EXPECT_EQ(prefix_end("a"), "b");
    EXPECT_EQ(prefix_end("/ssw/"), "/ssw0");
    EXPECT_EQ(prefix_end("a\xfe"), "a\xff");
    EXPECT_EQ(prefix_end("a\xff\xff"), "b");
    EXPECT_EQ(prefix_end("\xff\xff"), std::string(1, '\0'));
    EXPECT_EQ(prefix_end(""), std::string(1, '\0'));
}

TEST(etcd_create, refuses_bad_options) {
    auto refused = [](client_options o, const std::string &why) {
        std::string error;
        auto c = client::create(o, error);
        EXPECT_FALSE(c);
        EXPECT_NE(error.find(why), std::string::npos) << "error: " << error;
    };
    client_options o;
    refused(o, "no endpoints");
    o.endpoints = {"http://127.0.0.1:1", "https://127.0.0.1:2"};
    refused(o, "mix http and https");
    o.endpoints = {"ftp://127.0.0.1:1"};
    refused(o, "neither http nor https");
    o.endpoints = {"127.0.0.1"};
    refused(o, "not host:port");
    o.endpoints = {"https://127.0.0.1:1"};
    refused(o, "need ca_file");
    o.ca_file = "/nonexistent/ca.pem";
    refused(o, "cannot read /nonexistent/ca.pem");
    char not_pem[] = "/tmp/ssw-etcd-not-pem-XXXXXX";
    const int fd = mkstemp(not_pem);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(write(fd, "hello\n", 6), 6);
    close(fd);
    o.ca_file = not_pem;
    refused(o, std::string(not_pem) + " is not a PEM file");
    o.cert_file = not_pem;
    refused(o, "give both or neither");
    o = {};
    o.endpoints = {"127.0.0.1:1"};
    o.ca_file = not_pem;
    refused(o, "are for https endpoints");
    unlink(not_pem);
    o.ca_file.clear();
    o.request_timeout = 0ms;
    refused(o, "must be positive");
}

// A port nobody listens on: the client is created (it does not connect) and its calls fail
// at once, naming the member.
TEST(etcd_create, unreachable_member_fails_fast) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
    ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len), 0);
    const std::string address = "127.0.0.1:" + std::to_string(ntohs(a.sin_port));
    client_options o;
    o.endpoints = {address};
    std::string error;
    auto c = client::create(o, error);
    ASSERT_TRUE(c) << error;
    const auto t0 = clock::now();
    std::optional<key_value> kv;
    int64_t rev;
    EXPECT_FALSE(c->get("k", kv, rev, error));
    EXPECT_LT(clock::now() - t0, 3s);
    EXPECT_EQ(error.rfind("etcd " + address + ": ", 0), 0u) << error;
    EXPECT_EQ(c->watch_prefix("k", 0, error), nullptr);
    EXPECT_EQ(c->grant_lease(5, error), nullptr);
    close(fd);
}

TEST_F(etcd_single, get_put_del) {
    const std::string k = prefix_ + "k";
    std::optional<key_value> kv;
    int64_t rev = 0;
    std::string error;
    ASSERT_TRUE(c_->get(k, kv, rev, error)) << error;
    EXPECT_FALSE(kv);
    EXPECT_GT(rev, 0);

    const int64_t r1 = put(*c_, k, "v1");
    ASSERT_TRUE(c_->get(k, kv, rev, error)) << error;
    ASSERT_TRUE(kv);
    EXPECT_EQ(kv->key, k);
    EXPECT_EQ(kv->value, "v1");
    EXPECT_EQ(kv->create_revision, r1);
    EXPECT_EQ(kv->mod_revision, r1);
    EXPECT_EQ(kv->version, 1);
    EXPECT_GE(rev, r1);

    const int64_t r2 = put(*c_, k, "v2");
    EXPECT_GT(r2, r1);
    kv = get(*c_, k);
    ASSERT_TRUE(kv);
    EXPECT_EQ(kv->value, "v2");
    EXPECT_EQ(kv->create_revision, r1);
    EXPECT_EQ(kv->version, 2);

    int64_t r3 = 0;
    ASSERT_TRUE(c_->del(k, r3, error)) << error;
    EXPECT_GT(r3, r2);
    EXPECT_FALSE(get(*c_, k));

    // Keys and values are bytes: NUL and 0xff included.
    const std::string bin_key = prefix_ + std::string("b\0\xff", 3);
    const std::string bin_value("\0\x01\xff", 3);
    put(*c_, bin_key, bin_value);
    kv = get(*c_, bin_key);
    ASSERT_TRUE(kv);
    EXPECT_EQ(kv->value, bin_value);

    // A prefix delete takes the keys under it and nothing else.
    put(*c_, prefix_ + "p/a", "1");
    put(*c_, prefix_ + "p/b", "2");
    put(*c_, prefix_ + "q", "3");
    ASSERT_TRUE(c_->del(prefix_ + "p/", r3, error, true)) << error;
    range_result r;
    ASSERT_TRUE(c_->list(prefix_ + "p/", r, error)) << error;
    EXPECT_TRUE(r.kvs.empty());
    EXPECT_TRUE(get(*c_, prefix_ + "q"));
}

// More keys than a page (1000): every page read at the first one's revision.
TEST_F(etcd_single, list_pages_at_one_revision) {
    constexpr int keys = 2500;
    auto key = [&](int i) {
        char b[16];
        std::snprintf(b, sizeof b, "%05d", i);
        return prefix_ + b;
    };
    std::string error;
    int64_t written = 0;
    for (int i = 0; i < keys; i += 100) {  // etcd takes at most 128 operations per txn
        std::vector<request_op> ops;
        for (int j = i; j < i + 100; ++j) ops.push_back(request_op::put(key(j), std::to_string(j)));
        txn_result t;
        ASSERT_TRUE(c_->txn({}, ops, {}, t, error)) << error;
        written = t.revision;
    }
    range_result all;
    ASSERT_TRUE(c_->list(prefix_, all, error)) << error;
    EXPECT_EQ(all.revision, written);
    ASSERT_EQ(all.kvs.size(), std::size_t(keys));
    for (int i = 0; i < keys; ++i) {
        EXPECT_EQ(all.kvs[i].key, key(i));
        EXPECT_EQ(all.kvs[i].value, std::to_string(i));
    }

    // Later writes do not show in a list at the earlier revision.
    put(*c_, key(keys), "late");
    int64_t rev;
    ASSERT_TRUE(c_->del(key(0), rev, error)) << error;
    range_result then, now;
    ASSERT_TRUE(c_->list(prefix_, then, error, written)) << error;
    EXPECT_EQ(then.revision, written);
    EXPECT_EQ(then.kvs.size(), std::size_t(keys));
    EXPECT_EQ(then.kvs.front().key, key(0));
    ASSERT_TRUE(c_->list(prefix_, now, error)) << error;
    EXPECT_EQ(now.revision, rev);
    EXPECT_EQ(now.kvs.size(), std::size_t(keys));
    EXPECT_EQ(now.kvs.front().key, key(1));
    EXPECT_EQ(now.kvs.back().value, "late");

    range_result none;
    ASSERT_TRUE(c_->list(prefix_ + "nothing/", none, error)) << error;
    EXPECT_TRUE(none.kvs.empty());
    EXPECT_GE(none.revision, rev);
}

TEST_F(etcd_single, txn_success_and_failure) {
    const std::string k = prefix_ + "k";
    std::string error;
    txn_result t;
    // Create if absent; the get sees the put of the same transaction.
    ASSERT_TRUE(c_->txn({compare::absent(k)}, {request_op::put(k, "1"), request_op::get(k)},
                        {request_op::get(k)}, t, error))
        << error;
    EXPECT_TRUE(t.succeeded);
    ASSERT_EQ(t.gets.size(), 1u);
    ASSERT_EQ(t.gets[0].size(), 1u);
    EXPECT_EQ(t.gets[0][0].value, "1");
    const int64_t created = t.revision;
    EXPECT_EQ(t.gets[0][0].mod_revision, created);

    // Not absent any more: the failure branch runs, and writes nothing.
    ASSERT_TRUE(
        c_->txn({compare::absent(k)}, {request_op::put(k, "x")}, {request_op::get(k)}, t, error))
        << error;
    EXPECT_FALSE(t.succeeded);
    ASSERT_EQ(t.gets.size(), 1u);
    ASSERT_EQ(t.gets[0].size(), 1u);
    EXPECT_EQ(t.gets[0][0].value, "1");
    EXPECT_EQ(t.revision, created);

    // Compare-and-swap on the mod revision.
    ASSERT_TRUE(c_->txn({compare::mod_is(k, created)}, {request_op::put(k, "2")}, {}, t, error))
        << error;
    EXPECT_TRUE(t.succeeded);
    EXPECT_TRUE(t.gets.empty());
    const int64_t swapped = t.revision;
    ASSERT_TRUE(c_->txn({compare::mod_is(k, created)}, {request_op::put(k, "3")}, {}, t, error))
        << error;
    EXPECT_FALSE(t.succeeded);
    EXPECT_EQ(get(*c_, k)->value, "2");

    // Value, version and a prefix get; a prefix delete in the same transaction.
    put(*c_, prefix_ + "d/a", "a");
    put(*c_, prefix_ + "d/b", "b");
    compare by_value{k, compare::target::value, compare::op::equal, 0, "2"};
    compare by_version{k, compare::target::version, compare::op::greater, 1, {}};
    ASSERT_TRUE(
        c_->txn({by_value, by_version},
                {request_op::get(prefix_ + "d/", true), request_op::del(prefix_ + "d/", true),
                 request_op::get(prefix_ + "d/", true)},
                {}, t, error))
        << error;
    EXPECT_TRUE(t.succeeded);
    EXPECT_GT(t.revision, swapped);
    ASSERT_EQ(t.gets.size(), 2u);
    EXPECT_EQ(t.gets[0].size(), 2u);
    EXPECT_TRUE(t.gets[1].empty());
    by_value.value = "nope";
    ASSERT_TRUE(c_->txn({by_value}, {}, {}, t, error)) << error;
    EXPECT_FALSE(t.succeeded);
}

TEST_F(etcd_single, lease_keys_go_when_dropped) {
    const std::string k = prefix_ + "k";
    std::string error;
    auto l = c_->grant_lease(5, error);
    ASSERT_TRUE(l) << error;
    EXPECT_NE(l->id(), 0);
    EXPECT_EQ(l->ttl_seconds(), 5);
    EXPECT_TRUE(l->alive());
    put(*c_, k, "v", l->id());
    auto kv = get(*c_, k);
    ASSERT_TRUE(kv);
    EXPECT_EQ(kv->lease, l->id());
    int64_t left = 0;
    ASSERT_TRUE(c_->lease_time_to_live(l->id(), left, error)) << error;
    EXPECT_GT(left, 0);
    EXPECT_LE(left, 5);

    const int64_t id = l->id();
    l.reset();  // revoked
    EXPECT_FALSE(get(*c_, k));
    ASSERT_TRUE(c_->lease_time_to_live(id, left, error)) << error;
    EXPECT_EQ(left, -1);
    ASSERT_TRUE(c_->lease_time_to_live(0x5eed, left, error)) << error;
    EXPECT_EQ(left, -1);
}

TEST_F(etcd_single, lease_kept_alive_past_its_ttl) {
    std::string error;
    auto l = c_->grant_lease(2, error);
    ASSERT_TRUE(l) << error;
    put(*c_, prefix_ + "k", "v", l->id());
    std::this_thread::sleep_for(std::chrono::seconds(l->ttl_seconds()) + 1500ms);
    EXPECT_TRUE(l->alive());
    EXPECT_TRUE(get(*c_, prefix_ + "k"));
    int64_t left = -1;
    ASSERT_TRUE(c_->lease_time_to_live(l->id(), left, error)) << error;
    EXPECT_GE(left, 0);
}

// A member that stops answering (SIGSTOP): alive() turns false once a TTL has gone by without
// a keepalive, and stays false.
TEST_F(etcd_single, lease_dies_when_member_stops) {
    client_options o = cluster_->client_options();
    o.request_timeout = 500ms;
    auto c = connect(o);
    ASSERT_TRUE(c);
    std::string error;
    auto l = c->grant_lease(1, error);
    ASSERT_TRUE(l) << error;
    const auto ttl = std::chrono::seconds(l->ttl_seconds());
    struct resume {
        etcd_cluster &cluster;
        ~resume() {
            cluster.kill(0, SIGCONT);
            std::string ignored;
            cluster.wait_ready(0, ignored);
        }
    } guard{*cluster_};
    const auto stopped = clock::now();
    cluster_->kill(0, SIGSTOP);
    while (l->alive() && clock::now() - stopped < ttl + 3s) std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(l->alive());
    EXPECT_LT(clock::now() - stopped, ttl + 1s);
    cluster_->kill(0, SIGCONT);
    ASSERT_TRUE(cluster_->wait_ready(0, error)) << error;
    std::this_thread::sleep_for(3 * o.request_timeout);
    EXPECT_FALSE(l->alive());
}

TEST_F(etcd_single, watch_delivers_events_in_order) {
    std::string error;
    auto w = c_->watch_prefix(prefix_, 0, error);
    ASSERT_TRUE(w) << error;
    const int64_t r1 = put(*c_, prefix_ + "a", "1");
    const int64_t r2 = put(*c_, prefix_ + "b", "2");
    put(*c_, prefix_.substr(0, prefix_.size() - 1) + "-outside", "x");
    int64_t r3 = 0;
    ASSERT_TRUE(c_->del(prefix_ + "a", r3, error)) << error;
    int64_t revision = 0;
    auto events = collect(*w, 3, revision);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].what, watch_event::type::put);
    EXPECT_EQ(events[0].kv.key, prefix_ + "a");
    EXPECT_EQ(events[0].kv.value, "1");
    EXPECT_EQ(events[0].kv.mod_revision, r1);
    EXPECT_EQ(events[1].kv.key, prefix_ + "b");
    EXPECT_EQ(events[1].kv.mod_revision, r2);
    EXPECT_EQ(events[2].what, watch_event::type::del);
    EXPECT_EQ(events[2].kv.key, prefix_ + "a");
    EXPECT_EQ(events[2].kv.mod_revision, r3);
    EXPECT_EQ(revision, r3);

    // Nothing more: next() comes back after its timeout, with no events.
    std::vector<watch_event> none;
    const auto t0 = clock::now();
    ASSERT_TRUE(w->next(none, revision, 300ms, error)) << error;
    const auto waited = clock::now() - t0;
    EXPECT_TRUE(none.empty());
    EXPECT_GE(waited, 250ms);
    EXPECT_LT(waited, 1s);
    EXPECT_EQ(revision, r3);
    EXPECT_FALSE(w->compacted());
}

TEST_F(etcd_single, watch_from_old_revision_replays_history) {
    const std::string k = prefix_ + "k";
    const int64_t r1 = put(*c_, k, "1");
    const int64_t r2 = put(*c_, k, "2");
    int64_t r3 = 0;
    std::string error;
    ASSERT_TRUE(c_->del(k, r3, error)) << error;
    auto w = c_->watch_prefix(prefix_, r1, error);
    ASSERT_TRUE(w) << error;
    int64_t revision = 0;
    auto events = collect(*w, 3, revision);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_EQ(events[0].kv.mod_revision, r1);
    EXPECT_EQ(events[0].kv.value, "1");
    EXPECT_EQ(events[1].kv.mod_revision, r2);
    EXPECT_EQ(events[2].kv.mod_revision, r3);
    EXPECT_EQ(events[2].what, watch_event::type::del);
    EXPECT_EQ(revision, r3);

    auto from_r2 = c_->watch_prefix(prefix_, r2, error);
    ASSERT_TRUE(from_r2) << error;
    events = collect(*from_r2, 2, revision);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].kv.mod_revision, r2);
}

TEST_F(etcd_single, watch_reports_compaction) {
    const int64_t r1 = put(*c_, prefix_ + "k", "1");
    const int64_t r2 = put(*c_, prefix_ + "k", "2");
    std::string error;
    ASSERT_TRUE(c_->compact(r2, error)) << error;
    auto w = c_->watch_prefix(prefix_, r1, error);
    ASSERT_TRUE(w) << error;
    std::vector<watch_event> events;
    int64_t revision = 0;
    EXPECT_FALSE(w->next(events, revision, 5s, error));
    EXPECT_TRUE(w->compacted());
    EXPECT_GE(w->compact_revision(), r2);
    EXPECT_NE(error.find("compacted"), std::string::npos) << error;
    // Ended for good.
    EXPECT_FALSE(w->next(events, revision, 10ms, error));

    // What the owner does then: list, and watch from the list's revision + 1.
    range_result r;
    ASSERT_TRUE(c_->list(prefix_, r, error)) << error;
    ASSERT_EQ(r.kvs.size(), 1u);
    auto again = c_->watch_prefix(prefix_, r.revision + 1, error);
    ASSERT_TRUE(again) << error;
    const int64_t r3 = put(*c_, prefix_ + "k", "3");
    events = collect(*again, 1, revision);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kv.mod_revision, r3);
}

TEST_F(etcd_single, cancel_unblocks_next) {
    std::string error;
    auto w = c_->watch_prefix(prefix_, 0, error);
    ASSERT_TRUE(w) << error;
    bool result = true;
    std::string waiter_error;
    clock::duration waited{};
    std::thread waiter([&] {
        std::vector<watch_event> events;
        int64_t revision;
        const auto t0 = clock::now();
        result = w->next(events, revision, 20s, waiter_error);
        waited = clock::now() - t0;
    });
    std::this_thread::sleep_for(200ms);
    w->cancel();
    waiter.join();
    EXPECT_FALSE(result);
    EXPECT_LT(waited, 2s);
    EXPECT_NE(waiter_error.find("canceled"), std::string::npos) << waiter_error;
    std::vector<watch_event> events;
    int64_t revision;
    EXPECT_FALSE(w->next(events, revision, 10ms, error));
    EXPECT_FALSE(w->compacted());
}

}  // namespace
}  // namespace ssw::etcd_test
