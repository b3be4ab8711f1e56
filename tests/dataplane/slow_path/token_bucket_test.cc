// The token bucket over an explicit tick count (no clocks read).
#include <gtest/gtest.h>

#include "dataplane/slow_path/token_bucket.h"

namespace ssw {
namespace {

int take_all(token_bucket &b, uint64_t now) {
    int n = 0;
    while (b.take(now) && n < 1000000) ++n;
    return n;
}

TEST(TokenBucket, StartsFullWithBurst) {
    token_bucket b(10, 5, 1000, 0);  // 10/s, 100 ticks per token
    EXPECT_EQ(take_all(b, 0), 5);
    EXPECT_FALSE(b.take(0));
    EXPECT_FALSE(b.take(99));
    EXPECT_TRUE(b.take(100));
    EXPECT_FALSE(b.take(100));
}

TEST(TokenBucket, RefillCappedAtBurst) {
    token_bucket b(10, 5, 1000, 0);
    take_all(b, 0);
    EXPECT_EQ(take_all(b, 1000000), 5);
    EXPECT_EQ(take_all(b, 1000250), 2);
}

TEST(TokenBucket, PartialIntervalsAccumulate) {
    token_bucket b(10, 5, 1000, 0);
    take_all(b, 0);
    EXPECT_TRUE(b.take(150));  // one token, 50 ticks toward the next kept
    EXPECT_FALSE(b.take(199));
    EXPECT_TRUE(b.take(200));
    EXPECT_FALSE(b.take(299));
    EXPECT_TRUE(b.take(300));
}

TEST(TokenBucket, LongRunRate) {
    // Constant demand never lets the bucket fill again, so no fraction is lost: exactly one
    // token per 1000 ticks after the initial burst.
    token_bucket b(1000, 10, 1000000, 0);  // 1000/s at 1 MHz
    int taken = 0;
    uint64_t last = 0;
    for (uint64_t t = 0; t < 10000000; t += 37) {
        taken += b.take(t);
        last = t;
    }
    EXPECT_EQ(uint64_t(taken), 10 + last / 1000);
}

TEST(TokenBucket, DegenerateParameters) {
    token_bucket zero_rate(0, 0, 1000, 0);  // treated as 1/s, burst 1
    EXPECT_TRUE(zero_rate.take(0));
    EXPECT_FALSE(zero_rate.take(999));
    EXPECT_TRUE(zero_rate.take(1000));
    token_bucket fast(5000, 2, 1000, 0);  // faster than the tick: one token per tick
    EXPECT_EQ(take_all(fast, 0), 2);
    EXPECT_EQ(take_all(fast, 1), 1);
    EXPECT_EQ(take_all(fast, 10), 2);
}

}  // namespace
}  // namespace ssw
