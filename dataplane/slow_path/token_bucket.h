// A token bucket over TSC ticks (or any monotonic tick count), for rate-limited messages.
#pragma once

#include <algorithm>
#include <cstdint>

namespace ssw {

class token_bucket {
public:
    token_bucket() = default;
    // `rate` tokens per second, at most `burst` saved up; `hz` ticks per second.
    token_bucket(uint64_t rate, uint64_t burst, uint64_t hz, uint64_t now)
        : ticks_per_token_(std::max<uint64_t>(1, hz / std::max<uint64_t>(1, rate))),
          burst_(std::max<uint64_t>(1, burst)),
          tokens_(burst_),
          last_(now) {}

    bool take(uint64_t now) {
        const uint64_t add = (now - last_) / ticks_per_token_;
        if (add) {
            tokens_ = std::min(burst_, tokens_ + add);
            last_ = tokens_ == burst_ ? now : last_ + add * ticks_per_token_;
        }
        if (tokens_ == 0) return false;
        --tokens_;
        return true;
    }

private:
    uint64_t ticks_per_token_ = 1;
    uint64_t burst_ = 1;
    uint64_t tokens_ = 1;
    uint64_t last_ = 0;
};

}  // namespace ssw
