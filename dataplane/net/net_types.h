// Value types for addresses. Network byte order lives in the type (be16_t, be32_t), host
// order in ip4_addr: a conversion is always explicit, never an implicit integer cast.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace ssw {

// A 16-bit value in network byte order. The raw bits are what is on the wire.
class be16_t {
public:
    constexpr be16_t() = default;
    constexpr explicit be16_t(uint16_t host) : raw_(__builtin_bswap16(host)) {}
    static constexpr be16_t from_raw(uint16_t raw) {
        be16_t v;
        v.raw_ = raw;
        return v;
    }
    constexpr uint16_t host() const { return __builtin_bswap16(raw_); }
    constexpr uint16_t raw() const { return raw_; }
    constexpr bool operator==(const be16_t &) const = default;

private:
    uint16_t raw_ = 0;
};

// A 32-bit value in network byte order.
class be32_t {
public:
    constexpr be32_t() = default;
    constexpr explicit be32_t(uint32_t host) : raw_(__builtin_bswap32(host)) {}
    static constexpr be32_t from_raw(uint32_t raw) {
        be32_t v;
        v.raw_ = raw;
        return v;
    }
    constexpr uint32_t host() const { return __builtin_bswap32(raw_); }
    constexpr uint32_t raw() const { return raw_; }
    constexpr bool operator==(const be32_t &) const = default;

private:
    uint32_t raw_ = 0;
};

static_assert(sizeof(be16_t) == 2 && sizeof(be32_t) == 4);

// An IPv4 address in host byte order (what rte_lpm and our tables key on).
class ip4_addr {
public:
    constexpr ip4_addr() = default;
    constexpr explicit ip4_addr(uint32_t host) : v_(host) {}
    constexpr ip4_addr(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
        : v_(uint32_t(a) << 24 | uint32_t(b) << 16 | uint32_t(c) << 8 | d) {}
    static constexpr ip4_addr from_be(be32_t be) { return ip4_addr(be.host()); }

    constexpr uint32_t host() const { return v_; }
    constexpr be32_t be() const { return be32_t(v_); }
    constexpr bool is_zero() const { return v_ == 0; }
    constexpr bool is_multicast() const { return (v_ >> 28) == 0xe; }
    constexpr bool is_limited_broadcast() const { return v_ == 0xffffffffu; }
    constexpr bool is_loopback() const { return (v_ >> 24) == 127; }
    // Class E (240/4) is reserved (RFC 1112); together with the above a router never
    // forwards these as a source (RFC 1812 5.3.7).
    constexpr bool is_reserved() const { return (v_ >> 28) == 0xf; }
    constexpr auto operator<=>(const ip4_addr &) const = default;

    static std::optional<ip4_addr> parse(std::string_view text);
    std::string to_string() const;

private:
    uint32_t v_ = 0;
};

// An IPv4 prefix. A valid prefix has no host bits set.
struct ip4_prefix {
    ip4_addr addr;
    uint8_t len = 0;

    static constexpr uint32_t mask_of(uint8_t len) {
        return len == 0 ? 0 : ~uint32_t(0) << (32 - len);
    }
    constexpr uint32_t mask() const { return mask_of(len); }
    constexpr bool contains(ip4_addr a) const { return (a.host() & mask()) == addr.host(); }
    constexpr bool contains(const ip4_prefix &p) const { return p.len >= len && contains(p.addr); }
    constexpr bool overlaps(const ip4_prefix &p) const { return contains(p) || p.contains(*this); }
    constexpr ip4_addr broadcast() const { return ip4_addr(addr.host() | ~mask()); }
    constexpr auto operator<=>(const ip4_prefix &) const = default;

    // "A.B.C.D/L" or "A.B.C.D" (taken as /32). Does not check host bits: see has_host_bits.
    static std::optional<ip4_prefix> parse(std::string_view text);
    constexpr bool has_host_bits() const { return (addr.host() & ~mask()) != 0; }
    constexpr ip4_prefix network() const { return {ip4_addr(addr.host() & mask()), len}; }
    std::string to_string() const;
};

struct mac_addr {
    std::array<uint8_t, 6> b{};

    constexpr bool is_broadcast() const {
        return b[0] == 0xff && b[1] == 0xff && b[2] == 0xff && b[3] == 0xff && b[4] == 0xff &&
               b[5] == 0xff;
    }
    constexpr bool is_multicast() const { return (b[0] & 1) != 0; }  // includes broadcast
    constexpr bool is_zero() const { return (b[0] | b[1] | b[2] | b[3] | b[4] | b[5]) == 0; }
    constexpr auto operator<=>(const mac_addr &) const = default;

    // Packs into the low 48 bits of a word, for single-store publication to readers.
    constexpr uint64_t to_u64() const {
        uint64_t v = 0;
        for (uint8_t x : b) v = v << 8 | x;
        return v;
    }
    static constexpr mac_addr from_u64(uint64_t v) {
        mac_addr m;
        for (int i = 5; i >= 0; --i, v >>= 8) m.b[i] = uint8_t(v);
        return m;
    }
    // The six bytes as they sit in memory, loaded into the low 48 bits of a little-endian
    // word: compare with a masked 8-byte load of a frame, store with a 6-byte copy.
    uint64_t raw48() const {
        uint64_t v = 0;
        std::memcpy(&v, b.data(), 6);
        return v;
    }
    static mac_addr from_raw48(uint64_t v) {
        mac_addr m;
        std::memcpy(m.b.data(), &v, 6);
        return m;
    }
    static mac_addr from_bytes(const void *p) {
        mac_addr m;
        std::memcpy(m.b.data(), p, 6);
        return m;
    }

    static std::optional<mac_addr> parse(std::string_view text);  // aa:bb:cc:dd:ee:ff
    std::string to_string() const;
};

}  // namespace ssw
