// Arrival detection (docs/DESIGN.md §2.6): a live-migrated VM announces itself when it resumes
// on its new host. The hypervisor sends RARPs from the VM's MAC (QEMU: five, over ~0.8 s) and
// the guest sends gratuitous ARPs for its address. The control plane tells the router which VM
// it expects on which port (`arrival watch M mac X port P`); the first of those frames seen on
// that port from that MAC is the VM's arrival, reported once (an event for the control socket's
// subscribers, and `show arrivals`); later ones only count. Nothing else in a frame is trusted:
// a RARP or ARP from an unexpected MAC, on another port, or for a VM nobody expects changes
// nothing. Control thread only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "dataplane/net/net_types.h"

namespace ssw {

enum class arrival_via : uint8_t { rarp, arp };
const char *to_string(arrival_via v);

struct arrival_event {
    uint64_t seq = 0;  // 1, 2, ... per router process
    ip4_addr vm;
    mac_addr mac;
    uint16_t port = 0;
    arrival_via via = arrival_via::rarp;
    uint64_t waited_ms = 0;  // from the watch to the arrival
};

class arrival_watch {
public:
    struct expected {
        mac_addr mac;
        uint16_t port = 0;
        uint64_t since_ms = 0;  // when the watch was set
        std::optional<arrival_event> arrived;
        uint64_t frames = 0;  // RARP and ARP frames from the VM on that port, the first included
    };

    // Expects `vm` with `mac` on `port` from now. An unchanged watch keeps its state (an
    // agent re-applying it must not re-arm an arrival already seen); a changed one restarts.
    // The caller guarantees one VM per MAC (the executor refuses a second).
    void expect(ip4_addr vm, const mac_addr &mac, uint16_t port, uint64_t now_ms);
    void forget(ip4_addr vm);

    enum class verdict { unexpected, arrived, repeat };
    // A RARP whose sender hardware address is `mac`, received on `port`.
    verdict on_rarp(uint16_t port, const mac_addr &mac, uint64_t now_ms);
    // An ARP frame (request, reply or announcement) whose sender is (`ip`, `mac`), on `port`.
    verdict on_arp(uint16_t port, const mac_addr &mac, ip4_addr ip, uint64_t now_ms);

    // Arrivals not yet handed out, oldest first (at most kMaxPending: older ones are dropped,
    // and still shown by entries()).
    std::vector<arrival_event> take_events();
    const std::map<ip4_addr, expected> &entries() const { return by_vm_; }

    static constexpr size_t kMaxPending = 1024;

private:
    verdict seen(ip4_addr vm, expected &e, uint16_t port, arrival_via via, uint64_t now_ms);

    std::map<ip4_addr, expected> by_vm_;
    std::map<mac_addr, ip4_addr> by_mac_;
    std::vector<arrival_event> pending_;
    uint64_t seq_ = 0;
};

}  // namespace ssw
