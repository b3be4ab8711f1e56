// DPDK ports: set-up, and the per-port settings workers read while they run.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <rte_mempool.h>

#include "dataplane/net/binding.h"
#include "dataplane/net/net_types.h"

namespace ssw {

// What workers read per packet. `mac` is fixed once the port starts; the settings change
// with `port N ...` commands and are read with relaxed loads.

struct alignas(64) port_runtime {
    mac_addr mac;
    uint64_t mac_raw = 0;  // mac.raw48(), compared with a masked 8-byte load of the frame
    std::atomic<uint16_t> mtu{1500};
    std::atomic<port_role> role{port_role::access};  // source translation depends on it
    std::atomic<bool> redirects{false};              // ICMP redirects on hairpinned packets
    bool active = false;
};

struct port_info {
    uint16_t id = 0;
    std::string name;    // device name, e.g. net_af_packet0
    std::string driver;  // e.g. net_af_packet
    uint16_t rx_queues = 0;
    uint16_t tx_queues = 0;
    // The device checks IPv4 header checksums on receive (RTE_ETH_RX_OFFLOAD_IPV4_CKSUM,
    // enabled when offered): the worker then skips its own check for packets marked good.
    bool rx_ip_checksum = false;
};

struct port_setup {
    uint16_t workers = 1;
    uint16_t rx_desc = 1024;
    uint16_t tx_desc = 1024;
    rte_mempool *pool = nullptr;
};

// Configures and starts port `id` with one tx queue per worker and as many rx queues as the
// device and the workers allow. Fills info and rt. Returns false with a message on error.
bool start_port(uint16_t id, const port_setup &setup, port_info &info, port_runtime &rt,
                std::string &error);

// Empty when the device takes `mtu` (or cannot say); else why not.
std::string check_port_mtu(uint16_t id, uint16_t mtu);
// Sets the device's MTU where it has one (pcap and null have none: not an error). False with
// a message when the device refused it.
bool set_port_mtu(uint16_t id, uint16_t mtu, std::string &error);

// What the device reports of itself: link state and its own counters. rx_missed includes the
// frames the kernel dropped at a full af_packet ring (rx_queue_ring_drops).
struct port_status {
    bool link_up = false;
    uint32_t speed_mbps = 0;
    uint64_t rx_packets = 0, tx_packets = 0, rx_missed = 0, rx_errors = 0, tx_errors = 0;
};
port_status read_port_status(uint16_t id);
void reset_port_stats(uint16_t id);

}  // namespace ssw
