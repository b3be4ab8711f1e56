// What the fuzz targets share: EAL set-up with null ports, invariant checks that abort (so
// that libFuzzer records the input), and checksum helpers for whole packets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace ssw::fuzz {

// rte_eal_init with three null ports (net_null0..2), no hugepages, no PCI, one lcore, and a
// file prefix unique to this process. Aborts on failure: a target cannot run without it.
void init_eal(const char *target);

// Reports a broken invariant and aborts; libFuzzer saves the input as a crash.
[[noreturn]] void fail(const char *file, int line, const char *cond, const std::string &detail);

// Whether the transport checksum (TCP, UDP, ICMP) of the IPv4 datagram at ip is correct. Only
// for whole datagrams: false for fragments, other protocols, and anything truncated. A UDP
// checksum of zero ("none", RFC 768) counts as correct.
bool l4_checksum_ok(const uint8_t *ip, size_t avail);

// Recomputes the IPv4 header checksum and, for a whole TCP/UDP/ICMP datagram, the transport
// checksum, in place. Does nothing where the header does not fit in avail bytes.
void fix_checksums(uint8_t *ip, size_t avail);

}  // namespace ssw::fuzz

#define FUZZ_CHECK(cond, ...)                                                                \
    do {                                                                                     \
        if (!(cond)) ::ssw::fuzz::fail(__FILE__, __LINE__, #cond, fmt::format(__VA_ARGS__)); \
    } while (0)
