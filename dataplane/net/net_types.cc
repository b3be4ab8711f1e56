#include "dataplane/net/net_types.h"

#include <charconv>

#include <fmt/format.h>

namespace ssw {

namespace {

// Parses a decimal number in [0, max] with no sign, no leading zeros (except "0") and no
// trailing junk, so that "010.0.0.1" and "1.2.3.4x" are refused rather than guessed at.
std::optional<uint32_t> parse_decimal(std::string_view s, uint32_t max) {
    if (s.empty() || s.size() > 10) return std::nullopt;
    if (s.size() > 1 && s[0] == '0') return std::nullopt;
    uint32_t v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || ptr != s.data() + s.size() || v > max) return std::nullopt;
    return v;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

std::optional<ip4_addr> ip4_addr::parse(std::string_view text) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
        size_t dot = text.find('.');
        if ((i < 3) != (dot != std::string_view::npos)) return std::nullopt;
        auto octet = parse_decimal(text.substr(0, dot), 255);
        if (!octet) return std::nullopt;
        v = v << 8 | *octet;
        text = i < 3 ? text.substr(dot + 1) : std::string_view{};
    }
    return ip4_addr(v);
}

std::string ip4_addr::to_string() const {
    return fmt::format("{}.{}.{}.{}", v_ >> 24, (v_ >> 16) & 0xff, (v_ >> 8) & 0xff, v_ & 0xff);
}

std::optional<ip4_prefix> ip4_prefix::parse(std::string_view text) {
    size_t slash = text.find('/');
    auto addr = ip4_addr::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    if (slash == std::string_view::npos) return ip4_prefix{*addr, 32};
    auto len = parse_decimal(text.substr(slash + 1), 32);
    if (!len) return std::nullopt;
    return ip4_prefix{*addr, uint8_t(*len)};
}

std::string ip4_prefix::to_string() const { return fmt::format("{}/{}", addr.to_string(), len); }

std::optional<mac_addr> mac_addr::parse(std::string_view text) {
    if (text.size() != 17) return std::nullopt;
    mac_addr m;
    for (int i = 0; i < 6; ++i) {
        int hi = hex_digit(text[i * 3]), lo = hex_digit(text[i * 3 + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        if (i < 5 && text[i * 3 + 2] != ':') return std::nullopt;
        m.b[i] = uint8_t(hi << 4 | lo);
    }
    return m;
}

std::string mac_addr::to_string() const {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4],
                       b[5]);
}

}  // namespace ssw
