// The command language: one command per line, the same for the startup file, the control
// socket and sswctl. Each command is a typed value (below) with one spec (command.cc, built
// with command_spec.h) from which its parser, its canonical text and its help line all come.
// parse_command checks syntax only; whether a command can be applied to the router's
// current state is the executor's business (control/router/executor.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "dataplane/net/binding.h"
#include "dataplane/net/net_types.h"

namespace ssw {

struct cmd_address {
    bool add = true;
    ip4_addr addr;
    uint8_t len = 0;
    uint16_t port = 0;
};

struct cmd_route {
    enum class op { add, replace, del };
    enum class target { via, port, blackhole };
    op action = op::add;
    ip4_prefix prefix;
    target kind = target::via;
    ip4_addr gateway;
    uint16_t port = 0;
};

struct cmd_neigh {
    bool add = true;
    ip4_addr ip;
    mac_addr mac;
    uint16_t port = 0;
};

struct cmd_port {
    enum class setting { mtu, role, redirects };
    uint16_t port = 0;
    setting what = setting::mtu;
    uint16_t mtu = 0;
    port_role role = port_role::access;
    bool redirects = false;  // redirects on|off
};

struct cmd_nat {
    bool add = true;
    ip4_addr home;
    ip4_addr care_of;
    binding_kind type = binding_kind::forward;
    uint16_t port = 0;
    std::optional<uint64_t> epoch;
};

// `nat add` of binding `b` at `epoch`, and `nat del M epoch E`: a withdrawal, M's binding
// absent as of E.
cmd_nat nat_set(const binding &b, uint64_t epoch);
cmd_nat nat_withdraw(ip4_addr home, uint64_t epoch);

struct cmd_proxy_arp {
    bool add = true;
    ip4_prefix prefix;
    uint16_t port = 0;
};

struct cmd_announce {
    ip4_prefix prefix;  // a single address is a /32
    uint16_t port = 0;
    uint32_t count = 3;
    uint32_t interval_ms = 200;
};

// `arrival watch M mac X port N`: a move of VM M to this router's port N is staged; the
// first RARP or ARP from X there is M's arrival (dataplane/slow_path/arrivals.h).
struct cmd_arrival {
    bool watch = true;  // false: unwatch
    ip4_addr vm;
    mac_addr mac;
    uint16_t port = 0;
};

// `events`: the control socket connection that sends it also receives the router's events
// (arrivals), one JSON line each, between its replies.
struct cmd_events {};

struct cmd_show {
    enum class what { ports, addresses, routes, neigh, stats, nat, proxy_arp, arrivals };
    what item = what::ports;
    // show nat [PREFIX] [after M] [limit N]: the bindings whose home address is in PREFIX (an
    // address is a /32), from the first after M, at most N (default kShowNatLimit).
    std::optional<ip4_prefix> filter;
    std::optional<ip4_addr> after;
    uint32_t limit = 0;  // 0: the default
    static constexpr uint32_t kShowNatLimit = 10000, kShowNatMaxLimit = 100000;
};

struct cmd_stats_reset {};
struct cmd_help {};

struct cmd_batch {
    enum class op { begin, commit, abort };
    op action = op::begin;
};

using command =
    std::variant<cmd_address, cmd_route, cmd_neigh, cmd_port, cmd_nat, cmd_proxy_arp, cmd_announce,
                 cmd_arrival, cmd_events, cmd_show, cmd_stats_reset, cmd_help, cmd_batch>;

// Commands that only read: allowed anywhere, never part of a batch.
bool is_read_only(const command &c);
// Commands that change the configuration (what the journal records); not show, help, stats
// reset, arp announce (an action), batch.
bool is_config_change(const command &c);
// What a batch may hold: configuration changes and announcements (they go out at the commit).
bool is_batchable(const command &c);

// The canonical text of a command: parse_command(format_command(c)) gives c back.
std::string format_command(const command &c);

struct parse_result {
    std::optional<command> cmd;
    std::string error;  // set when cmd is empty
};

parse_result parse_command(std::string_view line);

// True for lines a command file may contain that are not commands: blank, or '#' comments.
bool is_blank_or_comment(std::string_view line);

// The one-line summary of every command, for `help` and --help.
const std::vector<std::string> &command_summary();

// Splits on blanks (spaces, tabs).
std::vector<std::string_view> split_words(std::string_view line);

}  // namespace ssw
