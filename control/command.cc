#include "control/command.h"

#include <charconv>

#include <fmt/format.h>

namespace ssw {

namespace {

// A malformed command; the message says what was expected and what was found.
struct syntax_error {
    std::string message;
};

class word_cursor {
public:
    explicit word_cursor(std::string_view line) : words_(split_words(line)) {}

    bool at_end() const { return pos_ >= words_.size(); }
    std::string_view peek() const { return at_end() ? std::string_view{} : words_[pos_]; }
    std::string_view next(std::string_view what) {
        if (at_end()) fail("missing {}", what);
        return words_[pos_++];
    }
    bool accept(std::string_view keyword) {
        if (!at_end() && words_[pos_] == keyword) {
            ++pos_;
            return true;
        }
        return false;
    }
    void expect(std::string_view keyword, std::string_view context) {
        if (at_end()) fail("{}: missing '{}'", context, keyword);
        if (words_[pos_] != keyword) fail("{}: expected '{}', got '{}'", context, keyword, words_[pos_]);
        ++pos_;
    }
    void expect_end(std::string_view context) {
        if (!at_end()) fail("{}: unexpected '{}' after the command", context, words_[pos_]);
    }

    ip4_addr address(std::string_view what) {
        auto w = next(what);
        auto a = ip4_addr::parse(w);
        if (!a) fail("'{}' is not a valid IPv4 address ({})", w, what);
        return *a;
    }
    // A prefix "A.B.C.D/L"; a bare address is a /32. Host bits are refused.
    ip4_prefix prefix(std::string_view what) {
        auto w = next(what);
        auto p = ip4_prefix::parse(w);
        if (!p) fail("'{}' is not a valid IPv4 prefix ({})", w, what);
        if (p->has_host_bits())
            fail("'{}' has host bits set: did you mean {}?", w, p->network().to_string());
        return *p;
    }
    // An interface address "A.B.C.D/L": host bits expected, length required.
    ip4_prefix address_with_length(std::string_view what) {
        auto w = next(what);
        if (w.find('/') == std::string_view::npos) fail("'{}' needs a prefix length ({})", w, what);
        auto p = ip4_prefix::parse(w);
        if (!p) fail("'{}' is not a valid IPv4 address/length ({})", w, what);
        return *p;
    }
    mac_addr mac(std::string_view what) {
        auto w = next(what);
        auto m = mac_addr::parse(w);
        if (!m) fail("'{}' is not a MAC address like 02:00:00:00:00:01 ({})", w, what);
        return *m;
    }
    uint32_t number(std::string_view what, uint32_t min, uint32_t max) {
        auto w = next(what);
        uint32_t v = 0;
        auto [ptr, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
        if (ec != std::errc() || ptr != w.data() + w.size() || v < min || v > max)
            fail("'{}' is not a valid {} ({}..{})", w, what, min, max);
        return v;
    }
    uint16_t port_id() { return uint16_t(number("port number", 0, 65534)); }

    template <typename... Args>
    [[noreturn]] void fail(fmt::format_string<Args...> f, Args &&...args) const {
        throw syntax_error{fmt::format(f, std::forward<Args>(args)...)};
    }

private:
    std::vector<std::string_view> words_;
    size_t pos_ = 0;
};

cmd_address parse_address(word_cursor &c) {
    cmd_address cmd;
    auto verb = c.next("'add' or 'del' after 'address'");
    if (verb == "add")
        cmd.add = true;
    else if (verb == "del")
        cmd.add = false;
    else
        c.fail("address: expected 'add' or 'del', got '{}'", verb);
    auto p = c.address_with_length("address/length");
    if (p.len == 0) c.fail("address: prefix length 0 is not an interface address");
    cmd.addr = p.addr;
    cmd.len = p.len;
    c.expect("port", "address");
    cmd.port = c.port_id();
    c.expect_end("address");
    return cmd;
}

cmd_route parse_route(word_cursor &c) {
    cmd_route cmd;
    auto verb = c.next("'add', 'replace' or 'del' after 'route'");
    if (verb == "add")
        cmd.action = cmd_route::op::add;
    else if (verb == "replace")
        cmd.action = cmd_route::op::replace;
    else if (verb == "del")
        cmd.action = cmd_route::op::del;
    else
        c.fail("route: expected 'add', 'replace' or 'del', got '{}'", verb);
    cmd.prefix = c.prefix("route prefix");
    if (cmd.action == cmd_route::op::del) {
        c.expect_end("route del");
        return cmd;
    }
    auto kind = c.next("'via GATEWAY', 'port N' or 'blackhole' after the prefix");
    if (kind == "via") {
        cmd.kind = cmd_route::target::via;
        cmd.gateway = c.address("gateway");
    } else if (kind == "port") {
        cmd.kind = cmd_route::target::port;
        cmd.port = c.port_id();
    } else if (kind == "blackhole") {
        cmd.kind = cmd_route::target::blackhole;
    } else {
        c.fail("route: expected 'via', 'port' or 'blackhole' after the prefix, got '{}'", kind);
    }
    c.expect_end("route");
    return cmd;
}

cmd_neigh parse_neigh(word_cursor &c) {
    cmd_neigh cmd;
    auto verb = c.next("'add' or 'del' after 'neigh'");
    if (verb == "add")
        cmd.add = true;
    else if (verb == "del")
        cmd.add = false;
    else
        c.fail("neigh: expected 'add' or 'del', got '{}'", verb);
    cmd.ip = c.address("neighbor address");
    if (!cmd.add) {
        c.expect_end("neigh del");
        return cmd;
    }
    c.expect("lladdr", "neigh add");
    cmd.mac = c.mac("link-layer address");
    if (cmd.mac.is_multicast() || cmd.mac.is_zero())
        c.fail("neigh add: {} is not a unicast MAC address", cmd.mac.to_string());
    c.expect("port", "neigh add");
    cmd.port = c.port_id();
    c.expect_end("neigh add");
    return cmd;
}

cmd_port_mtu parse_port(word_cursor &c) {
    cmd_port_mtu cmd;
    cmd.port = c.port_id();
    auto attr = c.next("a port setting ('mtu')");
    if (attr != "mtu") c.fail("port: unknown setting '{}' (expected 'mtu')", attr);
    // 68: the smallest MTU every IPv4 host must accept (RFC 791); 9702: af_packet's limit.
    cmd.mtu = uint16_t(c.number("MTU", 68, 9702));
    c.expect_end("port");
    return cmd;
}

cmd_show parse_show(word_cursor &c) {
    cmd_show cmd;
    auto what = c.next("what to show (ports, addresses, routes, neigh, stats)");
    if (what == "ports")
        cmd.item = cmd_show::what::ports;
    else if (what == "addresses")
        cmd.item = cmd_show::what::addresses;
    else if (what == "routes")
        cmd.item = cmd_show::what::routes;
    else if (what == "neigh")
        cmd.item = cmd_show::what::neigh;
    else if (what == "stats")
        cmd.item = cmd_show::what::stats;
    else
        c.fail("show: unknown item '{}' (ports, addresses, routes, neigh, stats)", what);
    c.expect_end("show");
    return cmd;
}

}  // namespace

std::vector<std::string_view> split_words(std::string_view line) {
    std::vector<std::string_view> words;
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
        size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
        if (i > start) words.push_back(line.substr(start, i - start));
    }
    return words;
}

bool is_blank_or_comment(std::string_view line) {
    auto words = split_words(line);
    return words.empty() || words[0].front() == '#';
}

parse_result parse_command(std::string_view line) {
    for (char ch : line) {
        if ((unsigned char)ch < 0x20 && ch != '\t' && ch != '\r')
            return {std::nullopt, "command contains a control character"};
        if ((unsigned char)ch >= 0x7f) return {std::nullopt, "command contains a non-ASCII byte"};
    }
    word_cursor c(line);
    try {
        if (c.at_end()) c.fail("empty command (try 'help')");
        auto head = c.next("command");
        if (head == "address") return {parse_address(c), {}};
        if (head == "route") return {parse_route(c), {}};
        if (head == "neigh") return {parse_neigh(c), {}};
        if (head == "port") return {parse_port(c), {}};
        if (head == "show") return {parse_show(c), {}};
        if (head == "stats") {
            c.expect("reset", "stats");
            c.expect_end("stats reset");
            return {cmd_stats_reset{}, {}};
        }
        if (head == "help") {
            c.expect_end("help");
            return {cmd_help{}, {}};
        }
        c.fail("unknown command '{}' (try 'help')", head);
    } catch (const syntax_error &e) {
        return {std::nullopt, e.message};
    }
}

const std::vector<std::string> &command_summary() {
    static const std::vector<std::string> lines = {
        "address add|del A.B.C.D/LEN port N    interface address; adds its connected route",
        "route add|replace PREFIX via GATEWAY  static route through an on-link gateway",
        "route add|replace PREFIX port N       on-link route: destinations ARPed on port N",
        "route add|replace PREFIX blackhole    drop (counted) everything to PREFIX",
        "route del PREFIX                      remove a static route",
        "neigh add IP lladdr MAC port N        static neighbor (never ages)",
        "neigh del IP                          remove a neighbor entry",
        "port N mtu BYTES                      egress MTU (68..9702)",
        "show ports|addresses|routes|neigh|stats",
        "stats reset                           restart counters from zero",
        "help                                  this list",
    };
    return lines;
}

}  // namespace ssw
