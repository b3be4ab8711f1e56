// ssw-router: the forwarding engine. `ssw-router [EAL options] -- [options]`.
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_pdump.h>
#include <rte_version.h>
#include <boost/program_options.hpp>

#include "control/protocol/command.h"
#include "control/protocol/command_file.h"
#include "control/router/control_server.h"
#include "control/router/executor.h"
#include "control/router/journal.h"
#include "control/router/telemetry.h"
#include "dataplane/log.h"
#include "dataplane/router.h"

namespace po = boost::program_options;
using namespace ssw;

namespace {

constexpr const char *kDefaultSocket = "/run/ssw/ssw-router.sock";

struct options {
    std::string config;
    std::string state_dir;
    std::string socket = kDefaultSocket;
    std::string rx_mode = "adaptive";
    std::vector<std::string> port_rx_modes;
    router_config router;
    control_limits limits;
    control_access access;
};

po::options_description describe(options &o) {
    po::options_description d("Options (after --)");
    auto &rc = o.router;
    // clang-format off
    d.add_options()
        ("help,h", "print this help and exit")
        ("version,V", "print the version and exit")
        ("config,c", po::value(&o.config)->value_name("FILE"),
            "commands to apply at start, one per line (as sent by sswctl); a line that is "
            "refused stops the start, naming the line")
        ("socket,s", po::value(&o.socket)->value_name("PATH")->default_value(kDefaultSocket),
            "control socket")
        ("state-dir", po::value(&o.state_dir)->value_name("DIR"),
            "keep the configuration durable in DIR: every acknowledged change is journaled "
            "(fsync) before it applies; on start the router restores DIR's snapshot and journal "
            "(the --config file is used only while DIR holds no snapshot)")
        ("burst", po::value(&rc.burst)->value_name("N")->default_value(rc.burst),
            "rx burst size (1..64)")
        ("rx-mode", po::value(&o.rx_mode)->value_name("MODE")->default_value(o.rx_mode),
            "how workers wait for packets: poll (spin always: lowest latency, a whole core "
            "each), interrupt (sleep in epoll on the rx queues as soon as a poll finds "
            "nothing), adaptive (poll for --poll-us after the last packet, then sleep as "
            "interrupt does). Queues with nothing to wait on (only af_packet has a descriptor) "
            "sleep with a timed back-off instead; `show ports` says which each queue does")
        ("port-rx-mode", po::value(&o.port_rx_modes)->value_name("PORT=MODE")->composing(),
            "another mode for one port (repeatable); a worker runs the most awake mode of "
            "the queues it owns (poll, then adaptive, then interrupt)")
        ("poll-us", po::value(&rc.poll_us)->value_name("US")->default_value(rc.poll_us),
            "adaptive mode: how long a worker keeps polling after its last packet")
        ("max-sleep-ms", po::value(&rc.max_sleep_ms)->value_name("MS")->default_value(rc.max_sleep_ms),
            "longest sleep in epoll without a packet (the loop's housekeeping)")
        ("idle-sleep-us", po::value(&rc.idle_sleep_us)->value_name("US")->default_value(rc.idle_sleep_us),
            "queues with no descriptor to wait on: longest sleep, in microseconds (back-off "
            "from 10 us); 0 polls them always")
        ("mbufs", po::value(&rc.mbufs)->value_name("N")->default_value(rc.mbufs),
            "packet buffers in the pool")
        ("max-routes", po::value(&rc.max_routes)->value_name("N")->default_value(rc.max_routes),
            "route table capacity")
        ("tbl8-groups", po::value(&rc.tbl8_groups)->value_name("N")->default_value(rc.tbl8_groups),
            "rte_lpm tbl8 groups (one per /24 holding longer prefixes)")
        ("max-neighbors", po::value(&rc.neighbor.max_entries)->value_name("N")->default_value(rc.neighbor.max_entries),
            "neighbor table capacity")
        ("arp-reachable-ms", po::value(&rc.neighbor.reachable_ms)->value_name("MS")->default_value(rc.neighbor.reachable_ms),
            "time a neighbor stays reachable before it is probed")
        ("arp-retrans-ms", po::value(&rc.neighbor.retrans_ms)->value_name("MS")->default_value(rc.neighbor.retrans_ms),
            "interval between ARP requests while resolving or probing")
        ("arp-hold", po::value(&rc.neighbor.hold_max)->value_name("N")->default_value(rc.neighbor.hold_max),
            "packets held per unresolved next hop")
        ("icmp-rate", po::value(&rc.icmp_rate)->value_name("N")->default_value(rc.icmp_rate),
            "ICMP errors per second (shared by the workers; the slow path has its own)")
        ("nat-capacity", po::value(&rc.nat_capacity)->value_name("N")->default_value(rc.nat_capacity),
            "binding table capacity (a /8 is 16777216): ~100 bytes of DPDK memory per "
            "binding of capacity, and ~100 bytes of heap per binding held")
        ("proxy-arp-rate", po::value(&rc.proxy_arp_rate)->value_name("N")->default_value(rc.proxy_arp_rate),
            "proxy-ARP replies per second per port")
        ("max-clients", po::value(&o.limits.max_clients)->value_name("N")->default_value(o.limits.max_clients),
            "control socket clients at once")
        ("max-command-bytes", po::value(&o.limits.max_line)->value_name("N")->default_value(o.limits.max_line),
            "longest command line accepted")
        ("client-idle-s", po::value(&o.limits.idle_timeout_s)->value_name("S")->default_value(o.limits.idle_timeout_s),
            "disconnect a control client silent this long (0: never)")
        ("socket-group", po::value(&o.access.group)->value_name("GROUP"),
            "group owning the control socket (mode 0660); its members, root and the router's "
            "user may use it (checked with SO_PEERCRED)");
    // clang-format on
    return d;
}

// --rx-mode and --port-rx-mode into the router's configuration; empty, else what is wrong.
std::string parse_rx_modes(options &o) {
    const auto mode = parse_rx_mode(o.rx_mode);
    if (!mode) return fmt::format("--rx-mode: '{}' is not poll, interrupt or adaptive", o.rx_mode);
    o.router.mode = *mode;
    for (const std::string &pm : o.port_rx_modes) {
        const std::string_view s = pm;
        const size_t eq = std::min(s.find('='), s.size());  // no '=': an empty mode, refused
        unsigned port = 0;
        const auto [p, ec] = std::from_chars(s.data(), s.data() + eq, port);
        const std::optional<rx_mode> m = parse_rx_mode(s.substr(std::min(eq + 1, s.size())));
        if (ec != std::errc() || p != s.data() + eq || port >= RTE_MAX_ETHPORTS || !m)
            return fmt::format("--port-rx-mode: '{}' is not PORT=poll|interrupt|adaptive", pm);
        o.router.port_modes.emplace_back(uint16_t(port), *m);
    }
    return {};
}

void print_help(const po::options_description &d) {
    std::cout << "Usage: ssw-router [EAL options] -- [options]\n\n"
                 "A DPDK IPv4 router: every EAL lcore runs a forwarding worker; a control thread\n"
                 "serves the control socket (see sswctl) and the slow path (ARP, ICMP).\n"
                 "Ports are the DPDK ports the EAL options create, numbered from 0, e.g.\n"
                 "  ssw-router -l 1 --no-pci --file-prefix r1 \\\n"
                 "    --vdev net_af_packet0,iface=veth0 --vdev net_af_packet1,iface=veth1 \\\n"
                 "    -- --config r1.conf --socket /run/ssw/r1.sock\n\n"
              << d << "\nCommands (config file and control socket):\n";
    for (const auto &line : command_summary()) std::cout << "  " << line << "\n";
}

std::atomic<router *> running_router{nullptr};

std::atomic<int> stop_signal{0};

void on_signal(int sig) {
    stop_signal = sig;
    if (router *r = running_router.load()) r->request_stop();
}

constexpr size_t kCompactRecords = 4096;
constexpr size_t kCompactBytes = 64 << 20;

// Applies the configuration at start: the saved snapshot if there is one, else the startup
// file; then the journal's records. A refused line names where it came from.
bool restore(executor &ex, const std::vector<command_line> &startup, const journal::contents &saved,
             const std::string &state_dir) {
    if (saved.torn_bytes)
        SSW_LOG(WARNING,
                "{}: dropped {} bytes of a journal write a crash interrupted (never acknowledged)",
                state_dir, saved.torn_bytes);
    if (saved.has_snapshot) {
        if (!startup.empty())
            SSW_LOG(INFO,
                    "restoring {} (the --config file applies only while the state directory "
                    "holds no snapshot)",
                    state_dir);
        for (size_t i = 0; i < saved.snapshot.size(); ++i) {
            reply rep = ex.execute_line(saved.snapshot[i]);
            if (!rep.ok) {
                SSW_LOG(ERR, "{}/snapshot line {} ('{}') refused: {}", state_dir, i + 1,
                        saved.snapshot[i], rep.error);
                return false;
            }
        }
    } else {
        for (const auto &cl : startup) {
            reply rep = ex.execute_line(cl.text);
            if (!rep.ok) {
                SSW_LOG(ERR, "{}: {}", cl.where(), rep.error);
                return false;
            }
        }
    }
    for (size_t i = 0; i < saved.records.size(); ++i) {
        const auto &rec = saved.records[i];
        reply rep;
        if (rec.size() == 1) {
            rep = ex.execute_line(rec[0]);
        } else {
            std::vector<command> cmds;
            for (const auto &line : rec) {
                parse_result p = parse_command(line);
                if (!p.cmd) {
                    rep = reply::failure(p.error);
                    break;
                }
                cmds.push_back(*p.cmd);
            }
            if (rep.ok) rep = ex.execute_batch(cmds);
        }
        if (!rep.ok) {
            SSW_LOG(ERR, "{}/journal record {} refused on replay: {}", state_dir, i + 1, rep.error);
            return false;
        }
    }
    if (!saved.records.empty()) SSW_LOG(INFO, "replayed {} journal records", saved.records.size());
    return true;
}

struct control_thread_args {
    control_server *server;
    router *r;
    executor *ex;
};

void *control_main(void *arg) {
    auto *a = static_cast<control_thread_args *>(arg);
    a->server->run(*a->r, *a->ex);
    return nullptr;
}

// Ensures the socket's directory exists (e.g. /run/ssw).
void make_parent_dir(const std::string &path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos || slash == 0) return;
    mkdir(path.substr(0, slash).c_str(), 0755);
}

// After rte_eal_init: brings the router up, serves until SIGTERM/SIGINT, brings it down.
// Returns the exit status.
int run(const options &opt, const std::vector<command_line> &startup) {
    router r;
    std::string error;
    if (!r.init(opt.router, error)) {
        SSW_LOG(ERR, "{}", error);
        return 1;
    }
    // Everything after this point closes the ports on the way out.
    struct port_closer {
        router &r;
        ~port_closer() { r.close_ports(); }
    } closer{r};

    executor ex(r);
    journal jr;
    journal::contents saved;
    if (!opt.state_dir.empty() && !jr.open(opt.state_dir, saved, error)) {
        SSW_LOG(ERR, "{}", error);
        return 2;
    }
    if (!restore(ex, startup, saved, opt.state_dir)) return 2;
    if (!opt.state_dir.empty()) {
        // From here on every acknowledged change is in the journal first; the journal is
        // folded into a new snapshot now and whenever it grows long.
        if (!jr.compact(ex.snapshot_commands(), error)) {
            SSW_LOG(ERR, "{}", error);
            return 2;
        }
        ex.set_persist([&jr, &ex](const std::vector<std::string> &lines, std::string &err) {
            if (!jr.append(lines, err)) return false;
            std::string e2;
            if ((jr.records() >= kCompactRecords || jr.bytes() >= kCompactBytes) &&
                !jr.compact(ex.snapshot_commands(), e2))
                SSW_LOG(WARNING, "snapshot failed (the journal keeps growing): {}", e2);
            return true;
        });
    }
    control_server server;
    make_parent_dir(opt.socket);
    if (!server.open(opt.socket, opt.limits, opt.access, error)) {
        SSW_LOG(ERR, "{}", error);
        return 1;
    }
    telemetry_bridge telemetry;
    if (!telemetry.start(error))
        SSW_LOG(WARNING, "{}", error);
    else
        server.add_wakeup(telemetry.wake_fd(), [&] { telemetry.serve(ex); });
    // Live capture with dpdk-dumpcap; needs the shared configuration (not --no-shconf).
    const bool pdump = rte_pdump_init() == 0;
    if (!pdump) SSW_LOG(INFO, "dpdk-dumpcap capture unavailable (no shared configuration)");

    running_router = &r;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    SSW_LOG(INFO, "{} ports, {} workers, control socket {}", r.port_count(), r.worker_count(),
            opt.socket);
    r.launch_workers();
    pthread_t ctl;
    control_thread_args args{&server, &r, &ex};
    int rc = rte_ctrl_thread_create(&ctl, "ssw-control", nullptr, control_main, &args);
    if (rc != 0) {
        SSW_LOG(ERR, "cannot start the control thread");
        r.request_stop();
    }
    r.run_main_worker();
    r.wait_workers();
    if (rc == 0) pthread_join(ctl, nullptr);
    running_router = nullptr;
    if (pdump) rte_pdump_uninit();
    SSW_LOG(INFO, "stopped ({}); ports closed", stop_signal == SIGINT ? "SIGINT" : "SIGTERM");
    return rc == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv) {
    // Our options follow "--"; everything before belongs to the EAL.
    int sep = argc;
    for (int i = 1; i < argc; ++i) {
        if (std::string_view(argv[i]) == "--") {
            sep = i;
            break;
        }
    }
    options opt;
    po::options_description desc = describe(opt);
    po::variables_map vm;
    std::vector<std::string> app_args(argv + std::min(sep + 1, argc), argv + argc);
    // `ssw-router --help` without "--" works too.
    for (int i = 1; i < sep; ++i) {
        std::string_view a = argv[i];
        if (a == "--help" || a == "-h" || a == "--version" || a == "-V") app_args.emplace_back(a);
    }
    try {
        po::store(po::command_line_parser(app_args).options(desc).run(), vm);
        po::notify(vm);
    } catch (const po::error &e) {
        std::cerr << "ssw-router: " << e.what() << " (see ssw-router --help)\n";
        return 2;
    }
    if (vm.count("help")) {
        print_help(desc);
        return 0;
    }
    if (vm.count("version")) {
        std::cout << "ssw-router " << SSW_VERSION << " (" << rte_version() << ")\n";
        return 0;
    }
    if (opt.router.burst == 0 || opt.router.burst > kMaxBurst) {
        std::cerr << fmt::format("ssw-router: --burst must be 1..{}\n", kMaxBurst);
        return 2;
    }
    if (std::string error = parse_rx_modes(opt); !error.empty()) {
        std::cerr << "ssw-router: " << error << " (see ssw-router --help)\n";
        return 2;
    }

    // Read and check the startup file before touching any device.
    std::vector<command_line> startup;
    if (!opt.config.empty()) {
        std::string error;
        if (!read_command_file(opt.config, startup, error)) {
            std::cerr << "ssw-router: " << error << "\n";
            return 2;
        }
        for (const auto &cl : startup) {
            parse_result p = parse_command(cl.text);
            if (!p.cmd) {
                std::cerr << fmt::format("ssw-router: {}: {}\n", cl.where(), p.error);
                return 2;
            }
        }
    }

    std::vector<char *> eal_argv(argv, argv + sep);
    int rc = rte_eal_init(int(eal_argv.size()), eal_argv.data());
    if (rc < 0) {
        // rte_errno is not always set: the EAL's own messages above say what went wrong
        // (e.g. another process uses this --file-prefix).
        std::cerr << fmt::format(
            "ssw-router: EAL initialisation failed{} (see the EAL messages above)\n",
            rte_errno ? fmt::format(": {}", rte_strerror(rte_errno)) : std::string());
        return 1;
    }
    init_logging();
    const int status = run(opt, startup);
    // The EAL never removes its runtime directory (/var/run/dpdk/PREFIX); a router that
    // exits takes its own with it, so that restarts and tests leave nothing behind.
    const std::string runtime_dir = rte_eal_get_runtime_dir();
    const bool primary = rte_eal_process_type() == RTE_PROC_PRIMARY;
    rte_eal_cleanup();
    std::error_code ec;
    if (primary) std::filesystem::remove_all(runtime_dir, ec);
    return status;
}
