#include "control/protocol/command.h"

#include <limits>

#include <fmt/format.h>

#include "control/protocol/command_spec.h"

// The specs below name only the fields each form sets (see command_spec.h).
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace ssw {

namespace {

using spec::form;
using spec::group;
using spec::kw;
using spec::node;
using spec::syntax_error;
using spec::value;
using spec::word_cursor;

// A /32 as its address, any other prefix as A.B.C.D/LEN: what `show nat` and `arp announce`
// take.
std::string address_or_prefix(const ip4_prefix &p) {
    return p.len == 32 ? p.addr.to_string() : p.to_string();
}

// ---- value nodes shared by several commands ----

template <class Cmd>
node<Cmd> add_del(bool Cmd::*field) {
    return spec::choice<Cmd, bool>(field, {"add", "del"}, {true, false});
}
template <class Cmd>
node<Cmd> address(std::string placeholder, std::string what, ip4_addr Cmd::*field) {
    return value<Cmd>(
        std::move(placeholder),
        [field, what](word_cursor &c, Cmd &x) { x.*field = c.address(what); },
        [field](const Cmd &x, std::string &out) { out += (x.*field).to_string(); });
}
template <class Cmd>
node<Cmd> prefix(std::string placeholder, std::string what, ip4_prefix Cmd::*field) {
    return value<Cmd>(
        std::move(placeholder),
        [field, what](word_cursor &c, Cmd &x) { x.*field = c.prefix(what); },
        [field](const Cmd &x, std::string &out) { out += (x.*field).to_string(); });
}
template <class Cmd>
node<Cmd> port(std::string placeholder, uint16_t Cmd::*field) {
    return value<Cmd>(
        std::move(placeholder), [field](word_cursor &c, Cmd &x) { x.*field = c.port_id(); },
        [field](const Cmd &x, std::string &out) { out += std::to_string(x.*field); });
}
// A host's MAC: unicast, not zero.
template <class Cmd>
node<Cmd> unicast_mac(std::string what, mac_addr Cmd::*field) {
    return value<Cmd>(
        "MAC",
        [field, what](word_cursor &c, Cmd &x) {
            x.*field = c.mac(what);
            if ((x.*field).is_multicast() || (x.*field).is_zero())
                c.fail(fmt::format("{}: {} is not a unicast MAC address", what,
                                   (x.*field).to_string()));
        },
        [field](const Cmd &x, std::string &out) { out += (x.*field).to_string(); });
}
// "[epoch E]": the binding's epoch, 1..2^64-1.
template <class Cmd>
node<Cmd> epoch() {
    return group<Cmd>(
        "epoch", [](const Cmd &x) { return x.epoch.has_value(); },
        {value<Cmd>(
            "E",
            [](word_cursor &c, Cmd &x) {
                x.epoch = c.number("epoch", 1, std::numeric_limits<uint64_t>::max());
            },
            [](const Cmd &x, std::string &out) { out += std::to_string(*x.epoch); })});
}

// ---- one spec per command ----

template <class Cmd>
struct command_spec {
    std::string head;
    std::vector<form<Cmd>> forms;
};

command_spec<cmd_address> address_spec() {
    using C = cmd_address;
    node<C> with_length = value<C>(
        "A.B.C.D/LEN",
        [](word_cursor &c, C &x) {
            const ip4_prefix p = c.address_with_length("address/length");
            if (p.len == 0)
                c.fail(fmt::format("address: '{}' has prefix length 0, not an interface address",
                                   ip4_prefix{p.addr, 0}.to_string()));
            x.addr = p.addr;
            x.len = p.len;
        },
        [](const C &x, std::string &out) {
            out += fmt::format("{}/{}", x.addr.to_string(), x.len);
        });
    return {"address",
            {{.nodes = {add_del(&C::add), with_length, kw<C>("port"), port("N", &C::port)},
              .help = "interface address; adds its connected route"}}};
}

command_spec<cmd_route> route_spec() {
    using C = cmd_route;
    using op = C::op;
    using target = C::target;
    auto add_or_replace = [] {
        return spec::choice<C, op>(&C::action, {"add", "replace"}, {op::add, op::replace});
    };
    auto via = [](target t) {
        return [t](const C &x) { return x.action != op::del && x.kind == t; };
    };
    auto set_kind = [](target t) { return [t](C &x) { x.kind = t; }; };
    node<C> pfx = prefix("PREFIX", "route prefix", &C::prefix);
    return {"route",
            {{.nodes = {add_or_replace(), pfx, kw<C>("via"),
                        address("GATEWAY", "gateway", &C::gateway)},
              .is = via(target::via),
              .init = set_kind(target::via),
              .help = "static route through an on-link gateway"},
             {.nodes = {add_or_replace(), pfx, kw<C>("port"), port("N", &C::port)},
              .is = via(target::port),
              .init = set_kind(target::port),
              .help = "on-link route: destinations ARPed on port N"},
             {.nodes = {add_or_replace(), pfx, kw<C>("blackhole")},
              .is = via(target::blackhole),
              .init = set_kind(target::blackhole),
              .help = "drop (counted) everything to PREFIX"},
             {.nodes = {kw<C>("del"), pfx},
              .is = [](const C &x) { return x.action == op::del; },
              .init = [](C &x) { x.action = op::del; },
              .help = "remove a static route"}}};
}

command_spec<cmd_neigh> neigh_spec() {
    using C = cmd_neigh;
    node<C> mac = unicast_mac("link-layer address", &C::mac);
    node<C> ip = address("IP", "neighbor address", &C::ip);
    return {"neigh",
            {{.nodes = {kw<C>("add"), ip, kw<C>("lladdr"), mac, kw<C>("port"), port("N", &C::port)},
              .is = [](const C &x) { return x.add; },
              .init = [](C &x) { x.add = true; },
              .help = "static neighbor (never ages)"},
             {.nodes = {kw<C>("del"), ip},
              .is = [](const C &x) { return !x.add; },
              .init = [](C &x) { x.add = false; },
              .help = "remove a neighbor entry"}}};
}

command_spec<cmd_port> port_spec() {
    using C = cmd_port;
    using S = C::setting;
    auto setting = [](S s) {
        return std::pair{std::function<bool(const C &)>([s](const C &x) { return x.what == s; }),
                         std::function<void(C &)>([s](C &x) { x.what = s; })};
    };
    // 68: the smallest MTU every IPv4 host must accept (RFC 791); 9702: af_packet's limit.
    node<C> mtu = value<C>(
        "BYTES", [](word_cursor &c, C &x) { x.mtu = uint16_t(c.number("MTU", 68, 9702)); },
        [](const C &x, std::string &out) { out += std::to_string(x.mtu); });
    const auto [is_mtu, set_mtu] = setting(S::mtu);
    const auto [is_role, set_role] = setting(S::role);
    const auto [is_redirects, set_redirects] = setting(S::redirects);
    return {"port",
            {{.nodes = {port("N", &C::port), kw<C>("mtu"), mtu},
              .is = is_mtu,
              .init = set_mtu,
              .help = "egress MTU (68..9702)"},
             {.nodes = {port("N", &C::port), kw<C>("role"),
                        spec::choice<C, port_role>(&C::role, {"core", "access"},
                                                   {port_role::core, port_role::access})},
              .is = is_role,
              .init = set_role,
              .help = "source translation depends on the egress role"},
             {.nodes = {port("N", &C::port), kw<C>("redirects"),
                        spec::choice<C, bool>(&C::redirects, {"on", "off"}, {true, false})},
              .is = is_redirects,
              .init = set_redirects,
              .help = "ICMP redirects for packets hairpinned on N"}}};
}

command_spec<cmd_nat> nat_spec() {
    using C = cmd_nat;
    node<C> m = address("M", "home address", &C::home);
    node<C> ms = address("M*", "care-of address", &C::care_of);
    node<C> keep_source = group<C>(
        "keep-source", [](const C &x) { return x.type == binding_kind::local_keep_source; }, {},
        [](C &x) { x.type = binding_kind::local_keep_source; });
    return {"nat",
            {{.nodes = {kw<C>("add"), m, kw<C>("to"), ms, epoch<C>()},
              .is = [](const C &x) { return x.add && x.type == binding_kind::forward; },
              .init = [](C &x) { x.add = true, x.type = binding_kind::forward; },
              .help = "forward binding: dst M->M*, src M*->M to access"},
             {.nodes = {kw<C>("add"), m, kw<C>("to"), ms, kw<C>("local"), kw<C>("port"),
                        port("P", &C::port), keep_source, epoch<C>()},
              .is = [](const C &x) { return x.add && x.type != binding_kind::forward; },
              .init = [](C &x) { x.add = true, x.type = binding_kind::local; },
              .help = "local binding: dst M*->M delivered on P,\n"
                      "src M->M* to core (keep-source: untranslated)"},
             {.nodes = {kw<C>("del"), m, epoch<C>()},
              .is = [](const C &x) { return !x.add; },
              .init = [](C &x) { x.add = false; },
              .help = "remove M's binding (with E: ensure it is absent as of E)"}}};
}

command_spec<cmd_proxy_arp> proxy_arp_spec() {
    using C = cmd_proxy_arp;
    return {"proxy-arp",
            {{.nodes = {add_del(&C::add), prefix("PREFIX", "proxied prefix", &C::prefix),
                        kw<C>("port"), port("N", &C::port)},
              .help = "answer ARP for PREFIX on port N"}}};
}

command_spec<cmd_announce> arp_spec() {
    using C = cmd_announce;
    node<C> what = value<C>(
        "IP|PREFIX",
        [](word_cursor &c, C &x) { x.prefix = c.prefix("address or prefix to announce"); },
        [](const C &x, std::string &out) { out += address_or_prefix(x.prefix); });
    // Defaults are left out of the canonical text.
    node<C> count = group<C>(
        "count", [](const C &x) { return x.count != C{}.count; },
        {value<C>(
            "K", [](word_cursor &c, C &x) { x.count = uint32_t(c.number("count", 1, 100)); },
            [](const C &x, std::string &out) { out += std::to_string(x.count); })});
    node<C> interval =
        group<C>("interval", [](const C &x) { return x.interval_ms != C{}.interval_ms; },
                 {value<C>(
                     "MS",
                     [](word_cursor &c, C &x) {
                         x.interval_ms = uint32_t(c.number("interval in ms", 1, 60000));
                     },
                     [](const C &x, std::string &out) { out += std::to_string(x.interval_ms); })});
    return {"arp",
            {{.nodes = {kw<C>("announce"), what, kw<C>("port"), port("N", &C::port),
                        spec::any_order<C>({count, interval})},
              .help = "gratuitous ARP: each address with the MAC it is reached at"}}};
}

command_spec<cmd_arrival> arrival_spec() {
    using C = cmd_arrival;
    node<C> vm = address("M", "VM address", &C::vm);
    return {"arrival",
            {{.nodes = {kw<C>("watch"), vm, kw<C>("mac"), unicast_mac("VM's MAC", &C::mac),
                        kw<C>("port"), port("N", &C::port)},
              .is = [](const C &x) { return x.watch; },
              .init = [](C &x) { x.watch = true; },
              .help = "expect VM M (MAC) on port N: its first RARP\n"
                      "or ARP there is its arrival (an event)"},
             {.nodes = {kw<C>("unwatch"), vm},
              .is = [](const C &x) { return !x.watch; },
              .init = [](C &x) { x.watch = false; },
              .help = "stop expecting M"}}};
}

command_spec<cmd_events> events_spec() {
    return {"events",
            {{.help = "this connection also receives events (arrivals),\n"
                      "one JSON line each"}}};
}

command_spec<cmd_batch> batch_spec() {
    using C = cmd_batch;
    using op = C::op;
    return {"batch",
            {{.nodes = {spec::choice<C, op>(&C::action, {"begin", "commit", "abort"},
                                            {op::begin, op::commit, op::abort})},
              .help = "the commands between apply all together or not at all"}}};
}

command_spec<cmd_show> show_spec() {
    using C = cmd_show;
    using W = C::what;
    node<C> filter = spec::optional_value<C>(
        value<C>(
            "M|PREFIX", [](word_cursor &c, C &x) { x.filter = c.prefix("home address or prefix"); },
            [](const C &x, std::string &out) { out += address_or_prefix(*x.filter); }),
        [](const C &x) { return x.filter.has_value(); });
    node<C> after = group<C>(
        "after", [](const C &x) { return x.after.has_value(); },
        {value<C>(
            "M",
            [](word_cursor &c, C &x) { x.after = c.address("home address to continue after"); },
            [](const C &x, std::string &out) { out += x.after->to_string(); })});
    node<C> limit =
        group<C>("limit", [](const C &x) { return x.limit != 0; },
                 {value<C>(
                     "N",
                     [](word_cursor &c, C &x) {
                         x.limit = uint32_t(c.number("limit", 1, C::kShowNatMaxLimit));
                     },
                     [](const C &x, std::string &out) { out += std::to_string(x.limit); })});
    return {
        "show",
        {{.nodes = {spec::choice<C, W>(
              &C::item, {"ports", "addresses", "routes", "neigh", "stats", "proxy-arp", "arrivals"},
              {W::ports, W::addresses, W::routes, W::neigh, W::stats, W::proxy_arp, W::arrivals})},
          .is = [](const C &x) { return x.item != W::nat; }},
         {.nodes = {kw<C>("nat"), filter, after, limit},
          .is = [](const C &x) { return x.item == W::nat; },
          .init = [](C &x) { x.item = W::nat; },
          .help = fmt::format("bindings by home address, N at a time (default\n{}; the reply "
                              "names the next page)",
                              C::kShowNatLimit)}}};
}

command_spec<cmd_stats_reset> stats_spec() {
    return {"stats",
            {{.nodes = {kw<cmd_stats_reset>("reset")}, .help = "restart counters from zero"}}};
}

command_spec<cmd_help> help_spec() { return {"help", {{.help = "this list"}}}; }

// ---- the language: every spec, type-erased ----

// The help column: a syntax shorter than this is followed by its description on its line.
constexpr size_t kHelpColumn = 38;

std::string expected_list(const std::vector<std::string> &words) {
    std::string s;
    for (size_t i = 0; i < words.size(); ++i) {
        if (i) s += i + 1 == words.size() ? " or " : ", ";
        s += "'" + words[i] + "'";
    }
    return s;
}

// The error to report when no form read the line: the one furthest into it; several forms'
// expectations there are one message ("expected 'add', 'replace' or 'del', got 'x'").
std::string pick_error(const std::string &head, const std::vector<syntax_error> &errors) {
    size_t far = 0;
    for (const auto &e : errors) far = std::max(far, e.pos);
    std::vector<std::string> expected;
    std::string got;
    for (const auto &e : errors) {
        if (e.pos != far) continue;
        if (e.expected.empty()) return e.message;
        got = e.got;
        for (const auto &w : e.expected)
            if (std::find(expected.begin(), expected.end(), w) == expected.end())
                expected.push_back(w);
    }
    if (got.empty()) return fmt::format("{}: missing {}", head, expected_list(expected));
    return fmt::format("{}: expected {}, got '{}'", head, expected_list(expected), got);
}

struct language_entry {
    std::string head;
    std::function<command(word_cursor &)> parse;                 // throws syntax_error
    std::function<bool(const command &, std::string &)> format;  // false: not this command
    std::vector<std::string> help;
};

template <class Cmd>
language_entry entry(command_spec<Cmd> s) {
    language_entry e;
    e.head = s.head;
    for (const form<Cmd> &f : s.forms) {
        const std::string syntax =
            f.nodes.empty() ? s.head : s.head + " " + spec::syntax_of(f.nodes);
        std::vector<std::string> lines;
        for (size_t start = 0; !f.help.empty() && start <= f.help.size();) {
            size_t end = f.help.find('\n', start);
            if (end == std::string::npos) end = f.help.size();
            lines.push_back(f.help.substr(start, end - start));
            start = end + 1;
        }
        const std::string indent(kHelpColumn, ' ');
        if (!lines.empty() && syntax.size() + 2 <= kHelpColumn) {
            e.help.push_back(syntax + std::string(kHelpColumn - syntax.size(), ' ') + lines[0]);
            lines.erase(lines.begin());
        } else {
            e.help.push_back(syntax);
        }
        for (const auto &l : lines) e.help.push_back(indent + l);
    }
    auto forms = std::make_shared<std::vector<form<Cmd>>>(std::move(s.forms));
    e.parse = [forms, head = s.head](word_cursor &c) -> command {
        const size_t start = c.pos();
        std::vector<syntax_error> errors;
        for (const form<Cmd> &f : *forms) {
            c.seek(start);
            Cmd cmd{};
            if (f.init) f.init(cmd);
            try {
                spec::read_nodes_partial(f.nodes, c, cmd);
                if (!c.at_end())
                    c.fail(fmt::format("{}: unexpected '{}' after the command", head, c.peek()),
                           false);
                return cmd;
            } catch (syntax_error &err) {
                errors.push_back(std::move(err));
            }
        }
        throw syntax_error{pick_error(head, errors), 0, {}, {}};
    };
    e.format = [forms, head = s.head](const command &any, std::string &out) {
        const Cmd *cmd = std::get_if<Cmd>(&any);
        if (!cmd) return false;
        for (const form<Cmd> &f : *forms) {
            if (f.is && !f.is(*cmd)) continue;
            out = head;
            spec::write_nodes(f.nodes, *cmd, out);
            return true;
        }
        return false;
    };
    return e;
}

const std::vector<language_entry> &language() {
    static const std::vector<language_entry> all = [] {
        std::vector<language_entry> v;
        v.push_back(entry(address_spec()));
        v.push_back(entry(route_spec()));
        v.push_back(entry(neigh_spec()));
        v.push_back(entry(port_spec()));
        v.push_back(entry(nat_spec()));
        v.push_back(entry(proxy_arp_spec()));
        v.push_back(entry(arp_spec()));
        v.push_back(entry(arrival_spec()));
        v.push_back(entry(events_spec()));
        v.push_back(entry(batch_spec()));
        v.push_back(entry(show_spec()));
        v.push_back(entry(stats_spec()));
        v.push_back(entry(help_spec()));
        return v;
    }();
    return all;
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
    auto words = split_words(line);
    if (words.empty()) return {std::nullopt, "empty command (try 'help')"};
    for (const language_entry &e : language()) {
        if (words[0] != e.head) continue;
        word_cursor c(std::move(words));
        c.seek(1);
        try {
            return {e.parse(c), {}};
        } catch (const syntax_error &err) {
            return {std::nullopt, err.message};
        }
    }
    return {std::nullopt, fmt::format("unknown command '{}' (try 'help')", words[0])};
}

std::string format_command(const command &c) {
    std::string out;
    for (const language_entry &e : language())
        if (e.format(c, out)) return out;
    return out;
}

const std::vector<std::string> &command_summary() {
    static const std::vector<std::string> lines = [] {
        std::vector<std::string> v;
        for (const language_entry &e : language()) v.insert(v.end(), e.help.begin(), e.help.end());
        return v;
    }();
    return lines;
}

bool is_config_change(const command &c) {
    return std::holds_alternative<cmd_address>(c) || std::holds_alternative<cmd_route>(c) ||
           std::holds_alternative<cmd_neigh>(c) || std::holds_alternative<cmd_port>(c) ||
           std::holds_alternative<cmd_nat>(c) || std::holds_alternative<cmd_proxy_arp>(c) ||
           std::holds_alternative<cmd_arrival>(c);
}

cmd_nat nat_set(const binding &b, uint64_t epoch) {
    cmd_nat c;
    c.home = b.home;
    c.care_of = b.care_of;
    c.type = b.kind;
    c.port = b.port;
    c.epoch = epoch;
    return c;
}

cmd_nat nat_withdraw(ip4_addr home, uint64_t epoch) {
    cmd_nat c;
    c.add = false;
    c.home = home;
    c.epoch = epoch;
    return c;
}

bool is_batchable(const command &c) {
    return is_config_change(c) || std::holds_alternative<cmd_announce>(c);
}

bool is_read_only(const command &c) {
    return std::holds_alternative<cmd_show>(c) || std::holds_alternative<cmd_help>(c) ||
           std::holds_alternative<cmd_events>(c);
}

}  // namespace ssw
