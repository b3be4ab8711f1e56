// The router's counters in DPDK telemetry (dpdk-telemetry.py, or the v2 socket):
//   /ssw/stats               events and drops by reason, summed over workers and slow path
//   /ssw/ports               per port: MAC, link, role, packets, errors
//   /ssw/nat                 binding count and translated packets; /ssw/nat,M one binding
//   /ssw/proxy_arp           proxy-ARP entries, replies, gratuitous ARP sent
//   /ssw/neigh               neighbor entries
// Telemetry callbacks run in DPDK's telemetry threads, but the tables they report on belong
// to the control thread: a callback hands its request to the control loop (an eventfd wakes
// it) and waits for the answer, so no table is ever read from two threads.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace ssw {

class executor;

class telemetry_bridge {
public:
    telemetry_bridge();
    ~telemetry_bridge();
    // Registers the /ssw/* commands. Once per process.
    bool start(std::string &error);
    // The control loop polls this fd and calls serve() when it is readable.
    int wake_fd() const { return wake_fd_; }
    void serve(executor &ex);

    // Called from a telemetry thread: the JSON answer for `cmd` ("stats", "nat", ...) and
    // its parameter, computed on the control thread. Null when it timed out.
    nlohmann::ordered_json ask(const std::string &cmd, const std::string &param);

private:
    std::mutex asking_;  // one request at a time
    std::mutex m_;
    std::condition_variable cv_;
    bool pending_ = false;
    bool done_ = false;
    std::string cmd_, param_;
    nlohmann::ordered_json answer_;
    int wake_fd_ = -1;
};

}  // namespace ssw
