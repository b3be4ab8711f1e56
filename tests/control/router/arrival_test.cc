// Arrival detection on a real router (three DPDK null ports): `arrival watch` commands, and
// RARP and ARP frames through worker 0 and the slow path, as a migrated VM and a forger would
// send them.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "dataplane/slow_path/slow_path.h"
#include "tests/dataplane/worker_fixture.h"

namespace ssw {
namespace {

using test::A;
using test::frame_bytes;

constexpr const char *kVm = "192.168.11.3";
constexpr const char *kVmMac = "52:54:00:12:34:56";

mac_addr M(const char *text) { return *mac_addr::parse(text); }

// An Ethernet broadcast of a RARP or ARP payload: opcode, sender (mac, ip), target (mac, ip).
frame_bytes arp_like(uint16_t ethertype, uint16_t op, const mac_addr &src, const mac_addr &sha,
                     const char *sip, const mac_addr &tha, const char *tip) {
    frame_bytes f(60);
    std::memset(f.data(), 0xff, 6);
    std::memcpy(f.data() + 6, src.b.data(), 6);
    test::put16(f.data() + 12, ethertype);
    uint8_t *a = f.data() + 14;
    test::put16(a, 1);
    test::put16(a + 2, 0x0800);
    a[4] = 6;
    a[5] = 4;
    test::put16(a + 6, op);
    const uint32_t s = A(sip).be().raw(), t = A(tip).be().raw();
    std::memcpy(a + 8, sha.b.data(), 6);
    std::memcpy(a + 14, &s, 4);
    std::memcpy(a + 18, tha.b.data(), 6);
    std::memcpy(a + 24, &t, 4);
    return f;
}
// What QEMU's announce-self sends for a NIC with `mac`.
frame_bytes rarp(const mac_addr &mac) {
    return arp_like(0x8035, 3, mac, mac, "0.0.0.0", mac, "0.0.0.0");
}
// A gratuitous ARP request for `ip` from `mac`.
frame_bytes garp(const mac_addr &mac, const char *ip) {
    return arp_like(0x0806, 1, mac, mac, ip, mac_addr{}, ip);
}

class Arrivals : public test::worker_fixture {
protected:
    // The frames arrive on `port`: worker 0 punts them, the slow path handles them; returns
    // what the slow path's counters gained.
    counter_totals deliver(uint16_t port, const std::vector<frame_bytes> &frames) {
        counter_totals before;
        before.accumulate(r_->slow().counters());
        worker &w = r_->worker_at(0);
        for (size_t i = 0; i < frames.size(); i += 32) {
            const std::vector<frame_bytes> burst(
                frames.begin() + long(i), frames.begin() + long(std::min(i + 32, frames.size())));
            auto pkts = test::received(r_->pool(), burst, port);
            w.process_burst(port, pkts.data(), uint16_t(pkts.size()));
            w.flush();
            while (r_->slow().poll() > 0) {
            }
        }
        counter_totals after;
        after.accumulate(r_->slow().counters());
        return after - before;
    }
    json row(const char *vm) {
        for (const auto &r : ok("show arrivals").data)
            if (r["vm"] == vm) return r;
        return {};
    }
};

TEST_F(Arrivals, Commands) {
    ok(std::string("arrival watch ") + kVm + " mac " + kVmMac + " port 1");
    reply r = ok(std::string("arrival watch ") + kVm + " mac " + kVmMac + " port 1");
    EXPECT_EQ(r.data["changed"], false) << "the same watch again changes nothing";
    refused("arrival watch 192.168.11.4 mac 52:54:00:12:34:56 port 1",
            "52:54:00:12:34:56 is already watched for as the MAC of 192.168.11.3");
    refused("arrival watch 192.168.11.4 mac 52:54:00:00:00:04 port 7", "port 7 does not exist");
    refused("arrival watch 0.0.0.0 mac 52:54:00:00:00:04 port 1", "not a unicast host address");
    refused("arrival unwatch 192.168.11.4", "no arrival watch for 192.168.11.4");
    EXPECT_FALSE(parse_command("arrival watch 192.168.11.4 mac ff:ff:ff:ff:ff:ff port 1").cmd);
    EXPECT_FALSE(parse_command("arrival watch 192.168.11.4 mac 00:00:00:00:00:00 port 1").cmd);
    EXPECT_EQ(row(kVm)["state"], "waiting");
    EXPECT_EQ(row(kVm)["mac"], kVmMac);
    EXPECT_EQ(row(kVm)["port"], 1);
    // A snapshot rebuilds it; a batch that fails takes it back.
    const auto snap = ex_->snapshot_commands();
    EXPECT_NE(std::find(snap.begin(), snap.end(),
                        std::string("arrival watch ") + kVm + " mac " + kVmMac + " port 1"),
              snap.end());
    EXPECT_FALSE(ex_->execute_batch(parse_all({"arrival unwatch 192.168.11.3",
                                               "arrival watch 192.168.11.5 mac "
                                               "52:54:00:00:00:05 port 9"}))
                     .ok);
    EXPECT_EQ(row(kVm)["state"], "waiting") << "the refused batch kept the watch";
    EXPECT_EQ(ok("show arrivals").data.size(), 1u);
    ok(std::string("arrival unwatch ") + kVm);
    EXPECT_TRUE(ok("show arrivals").data.empty());
    EXPECT_TRUE(r_->slow().arrivals().entries().empty()) << "the slow path forgot it too";
    EXPECT_FALSE(ex_->execute_line("events").ok) << "events belong to a socket connection";
}

TEST_F(Arrivals, FirstRarpIsTheArrivalTheRestRepeats) {
    const mac_addr vm = M(kVmMac);
    // Nobody expects it yet: dropped, counted, no event.
    counter_totals d = deliver(1, {rarp(vm)});
    EXPECT_EQ(d.drop_count(drop_reason::rarp_unexpected), 1u);
    ok(std::string("arrival watch ") + kVm + " mac " + kVmMac + " port 1");
    // On the wrong port, from another MAC, or malformed: no arrival.
    d = deliver(2, {rarp(vm)});
    EXPECT_EQ(d.drop_count(drop_reason::rarp_unexpected), 1u);
    d = deliver(1, {rarp(M("52:54:00:00:00:99"))});
    EXPECT_EQ(d.drop_count(drop_reason::rarp_unexpected), 1u);
    frame_bytes forged = rarp(vm);
    std::memcpy(forged.data() + 6, M("52:54:00:00:00:99").b.data(), 6);  // Ethernet source
    frame_bytes reply_op = arp_like(0x8035, 4, vm, vm, "0.0.0.0", vm, "0.0.0.0");
    d = deliver(1, {forged, reply_op});
    EXPECT_EQ(d.drop_count(drop_reason::rarp_malformed), 2u);
    EXPECT_TRUE(r_->slow().arrivals().take_events().empty());
    EXPECT_EQ(row(kVm)["state"], "waiting");

    // QEMU's five RARPs: one arrival, four repeats, one event.
    d = deliver(1, std::vector<frame_bytes>(5, rarp(vm)));
    EXPECT_EQ(d.event_count(event::arrivals), 1u);
    EXPECT_EQ(d.event_count(event::arrival_repeats), 4u);
    EXPECT_EQ(test::total_drops(d), 0u);
    auto events = r_->slow().arrivals().take_events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].vm, A(kVm));
    EXPECT_EQ(events[0].mac, vm);
    EXPECT_EQ(events[0].port, 1);
    EXPECT_EQ(events[0].via, arrival_via::rarp);
    json r = row(kVm);
    EXPECT_EQ(r["state"], "arrived");
    EXPECT_EQ(r["via"], "rarp");
    EXPECT_EQ(r["frames"], 5);
    // The guest's gratuitous ARPs after it: repeats too, and still ARP as usual.
    d = deliver(1, {garp(vm, kVm)});
    EXPECT_EQ(d.event_count(event::arrival_repeats), 1u);
    EXPECT_EQ(d.event_count(event::arrivals), 0u);
    EXPECT_TRUE(r_->slow().arrivals().take_events().empty());
    // Re-applying the watch (an agent's resync) does not re-arm it; a changed one does.
    ok(std::string("arrival watch ") + kVm + " mac " + kVmMac + " port 1");
    EXPECT_EQ(row(kVm)["state"], "arrived");
    ok(std::string("arrival watch ") + kVm + " mac " + kVmMac + " port 2");
    EXPECT_EQ(row(kVm)["state"], "waiting");
}

TEST_F(Arrivals, GratuitousArpAloneIsAnArrival) {
    ok(std::string("arrival watch ") + kVm + " mac " + kVmMac + " port 1");
    // Another host claiming the VM's address, or the VM's MAC with another address: nothing.
    counter_totals d =
        deliver(1, {garp(M("52:54:00:00:00:99"), kVm), garp(M(kVmMac), "192.168.11.9")});
    EXPECT_EQ(d.event_count(event::arrivals), 0u);
    d = deliver(1, {garp(M(kVmMac), kVm)});
    EXPECT_EQ(d.event_count(event::arrivals), 1u);
    auto events = r_->slow().arrivals().take_events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].via, arrival_via::arp);
}

TEST_F(Arrivals, RarpFloodIsRateLimited) {
    ok(std::string("arrival watch ") + kVm + " mac " + kVmMac + " port 1");
    const uint64_t n = slow_path::kRarpRate;  // more than the bucket holds
    counter_totals d = deliver(1, std::vector<frame_bytes>(n, rarp(M("52:54:00:00:00:99"))));
    EXPECT_GT(d.drop_count(drop_reason::rarp_rate_limited), 0u);
    EXPECT_EQ(
        d.drop_count(drop_reason::rarp_rate_limited) + d.drop_count(drop_reason::rarp_unexpected),
        n);
}

}  // namespace
}  // namespace ssw
