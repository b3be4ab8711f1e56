#include "dataplane/port.h"

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>
#include <rte_ethdev.h>

#include "dataplane/rx_wait.h"

namespace ssw {

bool start_port(uint16_t id, const port_setup &setup, port_info &info, port_runtime &rt,
                std::string &error) {
    rte_eth_dev_info dev{};
    int rc = rte_eth_dev_info_get(id, &dev);
    if (rc != 0) {
        error = fmt::format("port {}: cannot read device info: {}", id, rte_strerror(-rc));
        return false;
    }
    char name[RTE_ETH_NAME_MAX_LEN] = {};
    rte_eth_dev_get_name_by_port(id, name);
    info.id = id;
    info.name = name;
    info.driver = dev.driver_name ? dev.driver_name : "";

    if (dev.max_tx_queues < setup.workers) {
        error = fmt::format("port {} ({}): {} workers need {} tx queues, the device has {}{}", id,
                            info.name, setup.workers, setup.workers, dev.max_tx_queues,
                            info.driver == "net_af_packet" ? " (give the vdev qpairs=N)" : "");
        return false;
    }
    // af_packet fans a socket's traffic out over all its queue pairs: every rx queue it has
    // must be polled, or the flows hashed to an unpolled one are lost.
    uint16_t rxq =
        info.driver == "net_af_packet"
            ? dev.max_rx_queues
            : std::max<uint16_t>(1, std::min<uint16_t>(dev.max_rx_queues, setup.workers));
    uint16_t txq = setup.workers;

    rte_eth_conf conf{};
    // Let the device check IPv4 header checksums where it can: a packet it marks good is not
    // summed again in software (worker.cc); others (unknown, bad) are.
    if (dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM)
        conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
    if (rxq > 1 && dev.flow_type_rss_offloads) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_hf =
            (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP) & dev.flow_type_rss_offloads;
    }
    rc = rte_eth_dev_configure(id, rxq, txq, &conf);
    if (rc != 0) {
        error = fmt::format("port {} ({}): configure failed: {}", id, info.name, rte_strerror(-rc));
        return false;
    }
    uint16_t nb_rxd = setup.rx_desc, nb_txd = setup.tx_desc;
    rte_eth_dev_adjust_nb_rx_tx_desc(id, &nb_rxd, &nb_txd);
    int socket = rte_eth_dev_socket_id(id);
    if (socket < 0) socket = SOCKET_ID_ANY;
    for (uint16_t q = 0; q < rxq; ++q) {
        rc = rte_eth_rx_queue_setup(id, q, nb_rxd, socket, nullptr, setup.pool);
        if (rc != 0) {
            error =
                fmt::format("port {} ({}): rx queue {}: {}", id, info.name, q, rte_strerror(-rc));
            return false;
        }
    }
    for (uint16_t q = 0; q < txq; ++q) {
        rc = rte_eth_tx_queue_setup(id, q, nb_txd, socket, nullptr);
        if (rc != 0) {
            error =
                fmt::format("port {} ({}): tx queue {}: {}", id, info.name, q, rte_strerror(-rc));
            return false;
        }
    }
    rc = rte_eth_dev_start(id);
    if (rc != 0) {
        error = fmt::format("port {} ({}): start failed: {}", id, info.name, rte_strerror(-rc));
        return false;
    }
    rte_ether_addr mac;
    rte_eth_macaddr_get(id, &mac);
    std::memcpy(rt.mac.b.data(), mac.addr_bytes, 6);
    rt.mac_raw = rt.mac.raw48();
    uint16_t mtu = 1500;
    if (rte_eth_dev_get_mtu(id, &mtu) != 0 || mtu == 0) mtu = 1500;
    rt.mtu.store(mtu, std::memory_order_relaxed);
    rt.active = true;
    info.rx_queues = rxq;
    info.tx_queues = txq;
    info.rx_ip_checksum = conf.rxmode.offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
    return true;
}

std::string check_port_mtu(uint16_t id, uint16_t mtu) {
    rte_eth_dev_info info{};
    if (rte_eth_dev_info_get(id, &info) == 0 && info.max_mtu &&
        (mtu < info.min_mtu || mtu > info.max_mtu))
        return fmt::format("port {}: MTU {} outside the device's {}..{}", id, mtu, info.min_mtu,
                           info.max_mtu);
    return {};
}

bool set_port_mtu(uint16_t id, uint16_t mtu, std::string &error) {
    const int rc = rte_eth_dev_set_mtu(id, mtu);
    if (rc == 0 || rc == -ENOTSUP) return true;
    error = rte_strerror(-rc);
    return false;
}

namespace {

// Frames the kernel dropped at full af_packet rings, per port since the last reset: the
// kernel restarts its count at each read, so the sum is kept here. Only the control thread
// reads port status.
std::array<uint64_t, RTE_MAX_ETHPORTS> ring_drops{};

uint64_t collect_ring_drops(uint16_t id) {
    rte_eth_dev_info info{};
    if (id >= RTE_MAX_ETHPORTS || rte_eth_dev_info_get(id, &info) != 0) return 0;
    for (uint16_t q = 0; q < info.nb_rx_queues; ++q) ring_drops[id] += rx_queue_ring_drops(id, q);
    return ring_drops[id];
}

}  // namespace

port_status read_port_status(uint16_t id) {
    rte_eth_link link{};
    rte_eth_link_get_nowait(id, &link);
    rte_eth_stats st{};
    rte_eth_stats_get(id, &st);
    return {link.link_status != 0,
            link.link_speed,
            st.ipackets,
            st.opackets,
            st.imissed + collect_ring_drops(id),
            st.ierrors,
            st.oerrors};
}

void reset_port_stats(uint16_t id) {
    rte_eth_stats_reset(id);
    if (id < RTE_MAX_ETHPORTS) {
        collect_ring_drops(id);  // what the kernel counted until now
        ring_drops[id] = 0;
    }
}

}  // namespace ssw
