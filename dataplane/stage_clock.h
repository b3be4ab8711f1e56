// Where a worker's cycles go, stage by stage (issue: "per-stage cycles ... so the next
// optimization is chosen from data"). Built in with -Dstage_cycles=true only: a stage mark
// is one rdtsc per burst per stage, which a production build does not pay.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include <rte_cycles.h>

#include "dataplane/counters.h"

namespace ssw {

// route: the LPM lookups, and with bindings the per-packet route checks; rewrite:
// translations, TTL, the Ethernet header and queueing for tx (in plain routing also each
// packet's TTL and size checks, done in the same pass); neighbor: what a run of packets to one
// next hop shares, worked out once per run within the rewrite pass (its MAC; in plain routing
// also the route's checks and its port's settings).
enum class stage : uint8_t { rx, parse, dnat, route, snat, rewrite, neighbor, tx, count };
inline constexpr std::array<std::string_view, size_t(stage::count)> kStageNames = {
    "rx", "parse", "dnat", "route", "snat", "rewrite", "neighbor", "tx"};

#ifdef SSW_STAGE_CYCLES
inline constexpr bool kStageCycles = true;
#else
inline constexpr bool kStageCycles = false;
#endif

class stage_clock {
public:
    void start() {
        if constexpr (kStageCycles) last_ = rte_rdtsc();
    }
    // Charges the cycles since the previous mark to `s`.
    void mark(stage s) {
        if constexpr (kStageCycles) {
            const uint64_t now = rte_rdtsc();
            cycles_[size_t(s)].add(now - last_);
            last_ = now;
        }
    }
    uint64_t cycles(stage s) const { return cycles_[size_t(s)].get(); }

private:
    uint64_t last_ = 0;
    std::array<counter, size_t(stage::count)> cycles_;
};

}  // namespace ssw
