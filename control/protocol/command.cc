#include "control/protocol/command.h"

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
        if (words_[pos_] != keyword)
            fail("{}: expected '{}', got '{}'", context, keyword, words_[pos_]);
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
    if (p.len == 0)
        c.fail("address: '{}' has prefix length 0, not an interface address",
               ip4_prefix{p.addr, 0}.to_string());
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

cmd_port parse_port(word_cursor &c) {
    cmd_port cmd;
    cmd.port = c.port_id();
    auto attr = c.next("a port setting (mtu, role, redirects)");
    if (attr == "mtu") {
        cmd.what = cmd_port::setting::mtu;
        // 68: the smallest MTU every IPv4 host must accept (RFC 791); 9702: af_packet's limit.
        cmd.mtu = uint16_t(c.number("MTU", 68, 9702));
    } else if (attr == "role") {
        cmd.what = cmd_port::setting::role;
        auto role = c.next("'core' or 'access'");
        auto r = parse_port_role(role);
        if (!r) c.fail("port role: expected 'core' or 'access', got '{}'", role);
        cmd.role = *r;
    } else if (attr == "redirects") {
        cmd.what = cmd_port::setting::redirects;
        auto v = c.next("'on' or 'off'");
        if (v != "on" && v != "off") c.fail("port redirects: expected 'on' or 'off', got '{}'", v);
        cmd.redirects = v == "on";
    } else {
        c.fail("port: unknown setting '{}' (mtu, role, redirects)", attr);
    }
    c.expect_end("port");
    return cmd;
}

std::optional<uint64_t> parse_epoch(word_cursor &c) {
    if (!c.accept("epoch")) return std::nullopt;
    auto w = c.next("epoch number");
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
    if (ec != std::errc() || ptr != w.data() + w.size() || v == 0)
        c.fail("'{}' is not a valid epoch (1..2^64-1)", w);
    return v;
}

cmd_nat parse_nat(word_cursor &c) {
    cmd_nat cmd;
    auto verb = c.next("'add' or 'del' after 'nat'");
    if (verb == "add")
        cmd.add = true;
    else if (verb == "del")
        cmd.add = false;
    else
        c.fail("nat: expected 'add' or 'del', got '{}'", verb);
    cmd.home = c.address("home address");
    if (!cmd.add) {
        cmd.epoch = parse_epoch(c);
        c.expect_end("nat del");
        return cmd;
    }
    c.expect("to", "nat add");
    cmd.care_of = c.address("care-of address");
    if (c.accept("local")) {
        c.expect("port", "nat add ... local");
        cmd.port = c.port_id();
        cmd.type = c.accept("keep-source") ? binding_kind::local_keep_source : binding_kind::local;
    }
    cmd.epoch = parse_epoch(c);
    c.expect_end("nat add");
    return cmd;
}

cmd_proxy_arp parse_proxy_arp(word_cursor &c) {
    cmd_proxy_arp cmd;
    auto verb = c.next("'add' or 'del' after 'proxy-arp'");
    if (verb == "add")
        cmd.add = true;
    else if (verb == "del")
        cmd.add = false;
    else
        c.fail("proxy-arp: expected 'add' or 'del', got '{}'", verb);
    cmd.prefix = c.prefix("proxied prefix");
    c.expect("port", "proxy-arp");
    cmd.port = c.port_id();
    c.expect_end("proxy-arp");
    return cmd;
}

cmd_announce parse_arp(word_cursor &c) {
    cmd_announce cmd;
    c.expect("announce", "arp");
    cmd.prefix = c.prefix("address or prefix to announce");
    c.expect("port", "arp announce");
    cmd.port = c.port_id();
    while (!c.at_end()) {
        if (c.accept("count"))
            cmd.count = c.number("count", 1, 100);
        else if (c.accept("interval"))
            cmd.interval_ms = c.number("interval in ms", 1, 60000);
        else
            c.fail("arp announce: expected 'count' or 'interval', got '{}'", c.peek());
    }
    return cmd;
}

cmd_show parse_show(word_cursor &c) {
    cmd_show cmd;
    auto what = c.next("what to show (ports, addresses, routes, neigh, stats, nat, proxy-arp)");
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
    else if (what == "nat") {
        cmd.item = cmd_show::what::nat;
        if (!c.at_end() && c.peek() != "after" && c.peek() != "limit")
            cmd.filter = c.prefix("home address or prefix");
        if (c.accept("after")) cmd.after = c.address("home address to continue after");
        if (c.accept("limit")) cmd.limit = c.number("limit", 1, cmd_show::kShowNatMaxLimit);
    } else if (what == "proxy-arp")
        cmd.item = cmd_show::what::proxy_arp;
    else
        c.fail("show: unknown item '{}' (ports, addresses, routes, neigh, stats, nat, proxy-arp)",
               what);
    c.expect_end("show");
    return cmd;
}

cmd_batch parse_batch(word_cursor &c) {
    cmd_batch cmd;
    auto verb = c.next("'begin', 'commit' or 'abort' after 'batch'");
    if (verb == "begin")
        cmd.action = cmd_batch::op::begin;
    else if (verb == "commit")
        cmd.action = cmd_batch::op::commit;
    else if (verb == "abort")
        cmd.action = cmd_batch::op::abort;
    else
        c.fail("batch: expected 'begin', 'commit' or 'abort', got '{}'", verb);
    c.expect_end("batch");
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
    for (char ch : line) {
        if (ch == ' ' || ch == '\t' || ch == '\r') continue;
        return ch == '#';
    }
    return true;
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
        if (head == "nat") return {parse_nat(c), {}};
        if (head == "proxy-arp") return {parse_proxy_arp(c), {}};
        if (head == "arp") return {parse_arp(c), {}};
        if (head == "batch") return {parse_batch(c), {}};
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

bool is_config_change(const command &c) {
    return std::holds_alternative<cmd_address>(c) || std::holds_alternative<cmd_route>(c) ||
           std::holds_alternative<cmd_neigh>(c) || std::holds_alternative<cmd_port>(c) ||
           std::holds_alternative<cmd_nat>(c) || std::holds_alternative<cmd_proxy_arp>(c);
}

namespace {

// A /32 as its address, any other prefix as A.B.C.D/LEN: what `show nat` and `arp announce`
// take.
std::string address_or_prefix(const ip4_prefix &p) {
    return p.len == 32 ? p.addr.to_string() : p.to_string();
}

struct formatter {
    std::string operator()(const cmd_address &c) const {
        return fmt::format("address {} {}/{} port {}", c.add ? "add" : "del", c.addr.to_string(),
                           c.len, c.port);
    }
    std::string operator()(const cmd_route &c) const {
        const char *verb = c.action == cmd_route::op::add       ? "add"
                           : c.action == cmd_route::op::replace ? "replace"
                                                                : "del";
        std::string s = fmt::format("route {} {}", verb, c.prefix.to_string());
        if (c.action == cmd_route::op::del) return s;
        switch (c.kind) {
            case cmd_route::target::via: return s + " via " + c.gateway.to_string();
            case cmd_route::target::port: return s + fmt::format(" port {}", c.port);
            case cmd_route::target::blackhole: return s + " blackhole";
        }
        return s;
    }
    std::string operator()(const cmd_neigh &c) const {
        if (!c.add) return "neigh del " + c.ip.to_string();
        return fmt::format("neigh add {} lladdr {} port {}", c.ip.to_string(), c.mac.to_string(),
                           c.port);
    }
    std::string operator()(const cmd_port &c) const {
        switch (c.what) {
            case cmd_port::setting::mtu: return fmt::format("port {} mtu {}", c.port, c.mtu);
            case cmd_port::setting::role:
                return fmt::format("port {} role {}", c.port, to_string(c.role));
            case cmd_port::setting::redirects:
                return fmt::format("port {} redirects {}", c.port, c.redirects ? "on" : "off");
        }
        return {};
    }
    std::string operator()(const cmd_nat &c) const {
        std::string s =
            c.add ? fmt::format("nat add {} to {}", c.home.to_string(), c.care_of.to_string())
                  : "nat del " + c.home.to_string();
        if (c.add && c.type != binding_kind::forward) {
            s += fmt::format(" local port {}", c.port);
            if (c.type == binding_kind::local_keep_source) s += " keep-source";
        }
        if (c.epoch) s += fmt::format(" epoch {}", *c.epoch);
        return s;
    }
    std::string operator()(const cmd_proxy_arp &c) const {
        return fmt::format("proxy-arp {} {} port {}", c.add ? "add" : "del", c.prefix.to_string(),
                           c.port);
    }
    std::string operator()(const cmd_announce &c) const {
        // The shortest text that parses back to c: a /32 as its address, defaults left out.
        const cmd_announce defaults;
        std::string s = fmt::format("arp announce {} port {}", address_or_prefix(c.prefix), c.port);
        if (c.count != defaults.count) s += fmt::format(" count {}", c.count);
        if (c.interval_ms != defaults.interval_ms) s += fmt::format(" interval {}", c.interval_ms);
        return s;
    }
    std::string operator()(const cmd_show &c) const {
        switch (c.item) {
            case cmd_show::what::ports: return "show ports";
            case cmd_show::what::addresses: return "show addresses";
            case cmd_show::what::routes: return "show routes";
            case cmd_show::what::neigh: return "show neigh";
            case cmd_show::what::stats: return "show stats";
            case cmd_show::what::nat: {
                std::string out = "show nat";
                if (c.filter) out += " " + address_or_prefix(*c.filter);
                if (c.after) out += fmt::format(" after {}", c.after->to_string());
                if (c.limit) out += fmt::format(" limit {}", c.limit);
                return out;
            }
            case cmd_show::what::proxy_arp: return "show proxy-arp";
        }
        return {};
    }
    std::string operator()(const cmd_stats_reset &) const { return "stats reset"; }
    std::string operator()(const cmd_help &) const { return "help"; }
    std::string operator()(const cmd_batch &c) const {
        return c.action == cmd_batch::op::begin    ? "batch begin"
               : c.action == cmd_batch::op::commit ? "batch commit"
                                                   : "batch abort";
    }
};

}  // namespace

std::string format_command(const command &c) { return std::visit(formatter{}, c); }

bool is_batchable(const command &c) {
    return is_config_change(c) || std::holds_alternative<cmd_announce>(c);
}

bool is_read_only(const command &c) {
    return std::holds_alternative<cmd_show>(c) || std::holds_alternative<cmd_help>(c);
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
        "port N role core|access               source translation depends on the egress role",
        "port N redirects on|off               ICMP redirects for packets hairpinned on N",
        "nat add M to M* [epoch E]             forward binding: dst M->M*, src M*->M to access",
        "nat add M to M* local port P [keep-source] [epoch E]",
        "                                      local binding: dst M*->M delivered on P,",
        "                                      src M->M* to core (keep-source: untranslated)",
        "nat del M [epoch E]                   remove M's binding (with E: ensure it is absent as "
        "of E)",
        "proxy-arp add|del PREFIX port N       answer ARP for PREFIX on port N",
        "arp announce IP|PREFIX port N [count K] [interval MS]",
        "                                      gratuitous ARP: each address with the MAC it is "
        "reached at",
        "batch begin|commit|abort              the commands between apply all together or not at "
        "all",
        "show ports|addresses|routes|neigh|stats|proxy-arp",
        "show nat [M|PREFIX] [after M] [limit N]",
        "                                      bindings by home address, N at a time (default",
        fmt::format("                                      {}; the reply names the next page)",
                    cmd_show::kShowNatLimit),
        "stats reset                           restart counters from zero",
        "help                                  this list",
    };
    return lines;
}

}  // namespace ssw
