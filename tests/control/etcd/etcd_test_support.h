// What the etcd client's tests share: a client of a cluster, and calls that fail the test with
// the client's message.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "control/etcd/etcd_client.h"
#include "tests/control/etcd/etcd_cluster.h"

namespace ssw::etcd_test {

using namespace ssw::etcd;

inline std::unique_ptr<client> connect(const client_options &o) {
    std::string error;
    auto c = client::create(o, error);
    EXPECT_TRUE(c) << error;
    return c;
}

// The revision of the put; 0 (and a failure) when it failed.
inline int64_t put(client &c, const std::string &key, const std::string &value, int64_t lease = 0) {
    int64_t rev = 0;
    std::string error;
    EXPECT_TRUE(c.put(key, value, rev, error, lease)) << error;
    return rev;
}

inline std::optional<key_value> get(client &c, const std::string &key) {
    std::optional<key_value> kv;
    int64_t rev = 0;
    std::string error;
    EXPECT_TRUE(c.get(key, kv, rev, error)) << error;
    return kv;
}

// Events from `w` until there are `n` or `timeout` has passed.
inline std::vector<watch_event> collect(
    watch &w, std::size_t n, int64_t &revision,
    std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::vector<watch_event> all, some;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (all.size() < n && std::chrono::steady_clock::now() < deadline) {
        std::string error;
        if (!w.next(some, revision, std::chrono::milliseconds(200), error)) {
            ADD_FAILURE() << "watch ended: " << error;
            break;
        }
        all.insert(all.end(), some.begin(), some.end());
    }
    return all;
}

// The current test's name as a key prefix: "/<suite>.<test>/".
inline std::string test_prefix() {
    const auto *info = ::testing::UnitTest::GetInstance()->current_test_info();
    return std::string("/") + info->test_suite_name() + "." + info->name() + "/";
}

// A suite on one member of its own (starting one costs about a second); each test keeps to
// its own key prefix (test_prefix()).
class single_member_suite : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        cluster_ = new test::etcd_cluster;
        if (!cluster_->start(1, false, start_error_) && start_error_.empty())
            start_error_ = "etcd_cluster::start failed";
    }
    static void TearDownTestSuite() {
        delete cluster_;
        cluster_ = nullptr;
    }

    static inline test::etcd_cluster *cluster_ = nullptr;
    static inline std::string start_error_;
};

}  // namespace ssw::etcd_test
