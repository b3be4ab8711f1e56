#include "control/protocol/command_spec.h"

#include <charconv>

#include <fmt/format.h>

namespace ssw::spec {

std::string_view word_cursor::next(std::string_view what) {
    if (at_end()) fail(fmt::format("missing {}", what), false);
    return words_[pos_++];
}

void word_cursor::expect(const std::string &word) {
    if (!at_end() && words_[pos_] == word) {
        ++pos_;
        return;
    }
    throw syntax_error{{}, pos_, {word}, std::string(peek())};
}

size_t word_cursor::expect_one_of(const std::vector<std::string> &words) {
    for (size_t i = 0; !at_end() && i < words.size(); ++i) {
        if (words_[pos_] == words[i]) {
            ++pos_;
            return i;
        }
    }
    throw syntax_error{{}, pos_, words, std::string(peek())};
}

void word_cursor::fail(std::string message, bool at_word) const {
    throw syntax_error{std::move(message), at_word && pos_ > 0 ? pos_ - 1 : pos_, {}, {}};
}

ip4_addr word_cursor::address(std::string_view what) {
    auto w = next(what);
    auto a = ip4_addr::parse(w);
    if (!a) fail(fmt::format("'{}' is not a valid IPv4 address ({})", w, what));
    return *a;
}

ip4_prefix word_cursor::prefix(std::string_view what) {
    auto w = next(what);
    auto p = ip4_prefix::parse(w);
    if (!p) fail(fmt::format("'{}' is not a valid IPv4 prefix ({})", w, what));
    if (p->has_host_bits())
        fail(fmt::format("'{}' has host bits set: did you mean {}?", w, p->network().to_string()));
    return *p;
}

ip4_prefix word_cursor::address_with_length(std::string_view what) {
    auto w = next(what);
    if (w.find('/') == std::string_view::npos)
        fail(fmt::format("'{}' needs a prefix length ({})", w, what));
    auto p = ip4_prefix::parse(w);
    if (!p) fail(fmt::format("'{}' is not a valid IPv4 address/length ({})", w, what));
    return *p;
}

mac_addr word_cursor::mac(std::string_view what) {
    auto w = next(what);
    auto m = mac_addr::parse(w);
    if (!m) fail(fmt::format("'{}' is not a MAC address like 02:00:00:00:00:01 ({})", w, what));
    return *m;
}

uint64_t word_cursor::number(std::string_view what, uint64_t min, uint64_t max) {
    auto w = next(what);
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (ec != std::errc() || ptr != w.data() + w.size() || v < min || v > max)
        fail(fmt::format("'{}' is not a valid {} ({}..{})", w, what, min, max));
    return v;
}

}  // namespace ssw::spec
