// The Internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// Every value here is a raw 16-bit word as it sits in memory (network byte order). The one's
// complement sum is byte-order independent (RFC 1071 2(B)), so no swapping is ever needed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace ssw::csum {

// Adds the bytes of [p, p+len) as 16-bit words in memory order to a 32-bit accumulator. An
// odd trailing byte is padded with zero, as RFC 1071 prescribes.
inline uint32_t add(uint32_t sum, const void *p, size_t len) {
    const auto *b = static_cast<const uint8_t *>(p);
    uint64_t acc = sum;
    while (len >= 8) {
        uint64_t w;
        std::memcpy(&w, b, 8);
        acc += w >> 32;
        acc += w & 0xffffffffu;
        b += 8;
        len -= 8;
    }
    while (len >= 2) {
        uint16_t w;
        std::memcpy(&w, b, 2);
        acc += w;
        b += 2;
        len -= 2;
    }
    if (len) {
        uint16_t w = 0;
        std::memcpy(&w, b, 1);
        acc += w;
    }
    while (acc >> 32) acc = (acc & 0xffffffffu) + (acc >> 32);
    return uint32_t(acc);
}

// Folds a 32-bit accumulator to a 16-bit one's complement sum (not yet complemented).
constexpr uint16_t fold(uint32_t sum) {
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    return uint16_t(sum);
}

// The checksum field value for a region whose checksum field is zero (or skipped).
inline uint16_t compute(const void *p, size_t len, uint32_t initial = 0) {
    return uint16_t(~fold(add(initial, p, len)));
}

// True when a region including its checksum field sums to 0xffff (the check a receiver does).
inline bool verify(const void *p, size_t len, uint32_t initial = 0) {
    return fold(add(initial, p, len)) == 0xffff;
}

// verify() for the common 20-byte IPv4 header: five 32-bit words, no loop.
inline bool verify20(const void *p) {
    // Three loads, each straight into a register (a 20-byte memcpy to an array goes through
    // the stack, and the reloads stall on store forwarding).
    const auto *b = static_cast<const uint8_t *>(p);
    uint64_t lo, hi;
    uint32_t last;
    std::memcpy(&lo, b, 8);
    std::memcpy(&hi, b + 8, 8);
    std::memcpy(&last, b + 16, 4);
    const uint64_t sum = (lo & 0xffffffffu) + (lo >> 32) + (hi & 0xffffffffu) + (hi >> 32) + last;
    uint32_t s32 = uint32_t(sum) + uint32_t(sum >> 32);
    s32 += s32 < uint32_t(sum);  // the carry of that addition, end-around
    return fold(s32) == 0xffff;
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'). Unlike eqn. 2 (RFC 1141) this never produces
// 0x0000 where a full recomputation gives 0xffff.
constexpr uint16_t replace16(uint16_t check, uint16_t old_word, uint16_t new_word) {
    uint32_t sum = uint16_t(~check);
    sum += uint16_t(~old_word);
    sum += new_word;
    return uint16_t(~fold(sum));
}

// The same for a 32-bit field (an IPv4 address): both halves replaced in one update.
constexpr uint16_t replace32(uint16_t check, uint32_t old_word, uint32_t new_word) {
    uint32_t sum = uint16_t(~check);
    sum += uint16_t(~old_word) + uint16_t(~(old_word >> 16));
    sum += uint16_t(new_word) + uint16_t(new_word >> 16);
    return uint16_t(~fold(sum));
}

}  // namespace ssw::csum
