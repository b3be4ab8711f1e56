// Counters: one block per thread that writes them (each worker, and the slow path), cache
// aligned, written by that thread only and summed when read. `stats reset` never writes a
// block: the reader keeps a baseline and subtracts it.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "dataplane/drop_reason.h"

namespace ssw {

// A counter with a single writer. Relaxed load + store compiles to a plain add on x86 and
// keeps concurrent reads by the control thread well-defined.
class counter {
public:
    void add(uint64_t n = 1) {
        v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> v_{0};
};

#define SSW_EVENT_COUNTERS(_)                                                         \
    _(rx_packets, "frames received")                                                  \
    _(forwarded, "packets routed to an egress port")                                  \
    _(tx_packets, "frames handed to a port for transmission")                         \
    _(punted, "frames handed to the slow path")                                       \
    _(arp_requests_received, "ARP requests received")                                 \
    _(arp_replies_received, "ARP replies received")                                   \
    _(arp_replies_sent, "ARP replies sent for the router's own addresses")            \
    _(arp_requests_sent, "ARP requests sent to resolve or refresh neighbors")         \
    _(neighbors_learned, "neighbor entries created or updated from ARP")              \
    _(held_packets_sent, "held packets sent after their next hop resolved")           \
    _(proxy_arp_replies, "ARP replies sent on behalf of proxied addresses")           \
    _(proxy_arp_suppressed, "proxy-ARP replies not sent: per-port rate limit")        \
    _(garp_sent, "gratuitous ARP announcements sent")                                 \
    _(arrivals, "watched VMs seen arriving: their first RARP or ARP on the port")     \
    _(arrival_repeats, "further RARP or ARP frames from watched VMs already arrived") \
    _(redirects_sent, "ICMP redirects sent")                                          \
    _(echo_replies_sent, "ICMP echo replies sent")                                    \
    _(icmp_errors_sent, "ICMP errors sent (unreachable, time exceeded, frag needed)") \
    _(icmp_errors_suppressed, "ICMP errors not sent: rate limit or slow path busy")   \
    _(fragments_sent, "fragments made from packets larger than the egress MTU")       \
    _(idle_sleeps, "times an idle worker slept")                                      \
    _(idle_timeouts, "sleeps that ended by their timeout, not by a packet or a wake-up")

enum class event : uint8_t {
#define SSW_EVENT_ENUM(name, text) name,
    SSW_EVENT_COUNTERS(SSW_EVENT_ENUM)
#undef SSW_EVENT_ENUM
};

inline constexpr size_t kEventCount = 0
#define SSW_EVENT_COUNT(name, text) +1
    SSW_EVENT_COUNTERS(SSW_EVENT_COUNT)
#undef SSW_EVENT_COUNT
    ;

inline constexpr std::array<std::string_view, kEventCount> kEventNames = {
#define SSW_EVENT_NAME(name, text) #name,
    SSW_EVENT_COUNTERS(SSW_EVENT_NAME)
#undef SSW_EVENT_NAME
};

struct alignas(64) counter_block {
    std::array<counter, kEventCount> events;
    std::array<counter, kDropReasonCount> drops;

    void count(event e, uint64_t n = 1) { events[size_t(e)].add(n); }
    void drop(drop_reason r, uint64_t n = 1) { drops[size_t(r)].add(n); }
};

// A plain copy of a counter_block, for summing and subtracting.
struct counter_totals {
    std::array<uint64_t, kEventCount> events{};
    std::array<uint64_t, kDropReasonCount> drops{};

    void accumulate(const counter_block &b) {
        for (size_t i = 0; i < kEventCount; ++i) events[i] += b.events[i].get();
        for (size_t i = 0; i < kDropReasonCount; ++i) drops[i] += b.drops[i].get();
    }
    counter_totals operator-(const counter_totals &base) const {
        counter_totals r;
        for (size_t i = 0; i < kEventCount; ++i) r.events[i] = events[i] - base.events[i];
        for (size_t i = 0; i < kDropReasonCount; ++i) r.drops[i] = drops[i] - base.drops[i];
        return r;
    }
    uint64_t event_count(event e) const { return events[size_t(e)]; }
    uint64_t drop_count(drop_reason r) const { return drops[size_t(r)]; }
};

}  // namespace ssw
