#include "tests/fuzz/fuzz_support.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include <fmt/format.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ip.h>

#include "dataplane/packet/checksum.h"

namespace ssw::fuzz {

namespace {
// The EAL's runtime directory (/var/run/dpdk/PREFIX), which it never removes itself.
void remove_runtime_dir() {
    std::error_code ec;
    std::filesystem::remove_all(rte_eal_get_runtime_dir(), ec);
}
}  // namespace

void init_eal(const char *target) {
    const std::string prefix = fmt::format("ssw-fuzz-{}-{}", target, getpid());
    // clang-format off
    std::vector<std::string> args = {
        target, "--no-huge", "-m", "512", "--no-shconf", "--no-pci", "-l", "0",
        "--vdev", "net_null0", "--vdev", "net_null1", "--vdev", "net_null2",
        "--log-level", "*:error", "--no-telemetry", "--file-prefix", prefix};
    // clang-format on
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (rte_eal_init(int(args.size()), argv.data()) < 0) {
        fmt::print(stderr, "{}: rte_eal_init failed: {}\n", target, rte_strerror(rte_errno));
        std::abort();
    }
    std::atexit(remove_runtime_dir);
}

void fail(const char *file, int line, const char *cond, const std::string &detail) {
    fmt::print(stderr, "\n==== fuzz invariant broken at {}:{}\n     {}\n     {}\n", file, line,
               cond, detail);
    std::fflush(stderr);
    remove_runtime_dir();  // abort() runs no atexit handler
    std::abort();
}

namespace {

struct l4_view {
    uint8_t proto = 0;
    size_t ihl = 0;
    size_t len = 0;        // transport bytes
    size_t ck_offset = 0;  // of the checksum in the transport header
};

// The transport part of a whole, unfragmented TCP/UDP/ICMP datagram whose checksum field
// lies inside it.
bool whole_l4(const uint8_t *ip, size_t avail, l4_view &v) {
    if (avail < 20 || (ip[0] >> 4) != 4) return false;
    v.ihl = size_t(ip[0] & 0x0f) * 4;
    const size_t total = size_t(ip[2]) << 8 | ip[3];
    if (v.ihl < 20 || total < v.ihl || total > avail) return false;
    const uint16_t frag = uint16_t(ip[6] << 8 | ip[7]);
    if (frag & 0x3fff) return false;  // MF or an offset: a fragment
    v.proto = ip[9];
    v.len = total - v.ihl;
    switch (v.proto) {
        case IPPROTO_TCP: v.ck_offset = 16; break;
        case IPPROTO_UDP: v.ck_offset = 6; break;
        case IPPROTO_ICMP: v.ck_offset = 2; break;
        default: return false;
    }
    return v.len >= v.ck_offset + 2;
}

uint32_t pseudo_header_sum(const uint8_t *ip, const l4_view &v) {
    uint32_t sum = csum::add(0, ip + 12, 8);  // source and destination
    const uint8_t tail[4] = {0, v.proto, uint8_t(v.len >> 8), uint8_t(v.len)};
    return csum::add(sum, tail, 4);
}

}  // namespace

bool l4_checksum_ok(const uint8_t *ip, size_t avail) {
    l4_view v;
    if (!whole_l4(ip, avail, v)) return false;
    const uint8_t *l4 = ip + v.ihl;
    if (v.proto == IPPROTO_UDP && l4[6] == 0 && l4[7] == 0) return true;
    const uint32_t initial = v.proto == IPPROTO_ICMP ? 0 : pseudo_header_sum(ip, v);
    return csum::verify(l4, v.len, initial);
}

void fix_checksums(uint8_t *ip, size_t avail) {
    if (avail < 20 || (ip[0] >> 4) != 4) return;
    const size_t ihl = size_t(ip[0] & 0x0f) * 4;
    if (ihl < 20 || ihl > avail) return;
    ip[10] = ip[11] = 0;
    const uint16_t hck = csum::compute(ip, ihl);
    std::memcpy(ip + 10, &hck, 2);
    l4_view v;
    if (!whole_l4(ip, avail, v)) return;
    uint8_t *l4 = ip + v.ihl;
    l4[v.ck_offset] = l4[v.ck_offset + 1] = 0;
    const uint32_t initial = v.proto == IPPROTO_ICMP ? 0 : pseudo_header_sum(ip, v);
    uint16_t ck = csum::compute(l4, v.len, initial);
    if (v.proto == IPPROTO_UDP && ck == 0) ck = 0xffff;
    std::memcpy(l4 + v.ck_offset, &ck, 2);
}

}  // namespace ssw::fuzz
