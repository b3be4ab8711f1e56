// The transaction's typed logs (control/router/transaction.h): records come back in the
// order they were pushed (or its reverse), whatever their types, and clear() empties them.
#include "control/router/transaction.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace ssw {
namespace {

struct small {
    int v;
};
struct large {
    int v;
    char pad[60];
};
using log_t = typed_log<small, large>;

std::vector<std::string> order(const log_t &log, bool reverse) {
    std::vector<std::string> out;
    auto note = [&](const auto &r) {
        using T = std::decay_t<decltype(r)>;
        out.push_back((std::is_same_v<T, small> ? "s" : "l") + std::to_string(r.v));
    };
    if (reverse)
        log.for_each_reverse(note);
    else
        for (size_t i = 0; i < log.size(); ++i) log.visit(i, note);
    return out;
}

TEST(TypedLog, KeepsTheOrderAcrossTypes) {
    log_t log;
    log.push(small{1});
    log.push(large{2, {}});
    log.push(small{3});
    log.push(small{4});
    log.push(large{5, {}});
    EXPECT_EQ(log.size(), 5u);
    EXPECT_EQ(order(log, false), (std::vector<std::string>{"s1", "l2", "s3", "s4", "l5"}));
    EXPECT_EQ(order(log, true), (std::vector<std::string>{"l5", "s4", "s3", "l2", "s1"}));
}

TEST(TypedLog, GetIfFindsOnlyItsType) {
    log_t log;
    log.push(large{7, {}});
    log.push(small{8});
    ASSERT_NE(log.get_if<large>(0), nullptr);
    EXPECT_EQ(log.get_if<large>(0)->v, 7);
    EXPECT_EQ(log.get_if<small>(0), nullptr);
    ASSERT_NE(log.get_if<small>(1), nullptr);
    EXPECT_EQ(log.get_if<small>(1)->v, 8);
    EXPECT_EQ(log.get_if<large>(1), nullptr);
}

TEST(TypedLog, ClearEmptiesAndTheLogIsReusable) {
    log_t log;
    log.reserve_steps(100);
    log.reserve<small>(100);
    for (int i = 0; i < 100; ++i) log.push(small{i});
    log.clear();
    EXPECT_EQ(log.size(), 0u);
    EXPECT_TRUE(order(log, false).empty());
    log.push(large{9, {}});
    EXPECT_EQ(order(log, false), (std::vector<std::string>{"l9"}));
}

TEST(TypedLog, ABindingCostsTwoSmallRecords) {
    // The point of typed records: a staged binding is an 8-byte undo record and a 12-byte
    // publish record (plus a step each), not a pair of std::function.
    EXPECT_LE(sizeof(undo::binding_added), 8u);
    EXPECT_LE(sizeof(publish::binding_set), 12u);
}

}  // namespace
}  // namespace ssw
