// ssw-agent: keeps one ssw-router in line with the desired state in etcd (docs/DESIGN.md §6.2).
// One per router, on the router's host; no DPDK.
#include <csignal>
#include <cstdlib>
#include <iostream>

#include <fmt/format.h>
#include <boost/program_options.hpp>

#include "control/agent/agent.h"
#include "control/agent/arrival_listener.h"
#include "control/agent/metrics.h"
#include "control/agent/router_link.h"
#include "control/cluster/store_config.h"

namespace po = boost::program_options;
using namespace ssw;

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop = true; }

}  // namespace

int main(int argc, char **argv) {
    agent::options o;
    cluster::store_flags sf;
    std::string socket = "/run/ssw/ssw-router.sock";
    int64_t resync_ms = 30000;
    std::string metrics;
    bool model = false;
    po::options_description d("Options");
    // clang-format off
    d.add_options()
        ("help,h", "this text")
        ("router", po::value(&o.router)->value_name("NAME"),
            "the router's name in the topology (required)")
        ("socket,s", po::value(&socket)->value_name("PATH")->default_value(socket),
            "the router's control socket")
        ("etcd-config,c", po::value(&sf.config)->value_name("FILE"),
            "etcd endpoints, TLS files and key prefix (JSON, conf/agent.json); the flags "
            "below override it")
        ("endpoints", po::value(&sf.endpoints)->value_name("LIST"),
            "etcd members, comma-separated: host:port, http://host:port or https://host:port")
        ("cacert", po::value(&sf.ca)->value_name("FILE"),
            "CA certificate of the etcd members (PEM), for https endpoints")
        ("cert", po::value(&sf.cert)->value_name("FILE"),
            "client certificate (PEM), when the members require one")
        ("key", po::value(&sf.key)->value_name("FILE"), "the certificate's key")
        ("prefix", po::value(&sf.prefix)->value_name("PREFIX"),
            "the key prefix of this deployment (default /ssw/v1/)")
        ("lease-ttl", po::value(&o.lease_ttl_s)->value_name("S")->default_value(o.lease_ttl_s),
            "seconds the agent's status outlives it (its lease)")
        ("resync-interval", po::value(&resync_ms)->value_name("MS")->default_value(resync_ms),
            "how often the whole router is read and diffed even without changes")
        ("metrics", po::value(&metrics)->value_name("ADDR:PORT"),
            "serve Prometheus metrics at http://ADDR:PORT/metrics: the router's counters "
            "and the agent's (applied revision, lag, re-lists, failures)")
        ("model", po::bool_switch(&model),
            "drive an in-memory model of a router (the router's binding rules, no packets) "
            "instead of --socket: for the scale benchmark, bench/etcd_scale.py");
    // clang-format on
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, d), vm);
        po::notify(vm);
    } catch (const std::exception &e) {
        std::cerr << "ssw-agent: " << e.what() << "\n";
        return 2;
    }
    if (vm.count("help")) {
        std::cout << "Usage: ssw-agent --router NAME [--socket PATH] (--etcd-config FILE | "
                     "--endpoints LIST) [options]\n\n"
                     "Keeps one ssw-router in line with the desired state in etcd: lists it, "
                     "applies the\ndifference through the router's control socket, watches for "
                     "changes, and publishes\nwhat it applied under "
                     "PREFIX/status/NAME on its own lease.\n\n"
                  << d;
        return 0;
    }
    std::string error;
    if (o.router.empty()) {
        std::cerr << "ssw-agent: --router NAME is required\n";
        return 2;
    }
    cluster::store_config sc;
    if (!cluster::resolve_store_config(sf, sc, error)) {
        std::cerr << "ssw-agent: " << error << "\n";
        return 2;
    }
    if (o.lease_ttl_s < 1 || resync_ms < 100) {
        std::cerr << "ssw-agent: --lease-ttl is at least 1 s, --resync-interval at least 100 ms\n";
        return 2;
    }
    if (model && !metrics.empty()) {
        std::cerr << "ssw-agent: --metrics reads a real router; not with --model\n";
        return 2;
    }
    o.resync_interval = std::chrono::milliseconds(resync_ms);
    o.keys = sc.k;
    setenv("GRPC_VERBOSITY", "ERROR", 0);  // gRPC's errors only, unless asked for more
    // gRPC's poll() engine rather than its default epoll1: with a hundred agents on two
    // vCPUs, moves converged 20% sooner (bench/etcd_scale.py). The environment may say else.
    setenv("GRPC_POLL_STRATEGY", "poll", 0);
    auto store = etcd::client::create(sc.client, error);
    if (!store) {
        std::cerr << "ssw-agent: " << error << "\n";
        return 2;
    }
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    std::signal(SIGPIPE, SIG_IGN);
    std::unique_ptr<agent::router_link> link;
    if (model)
        link = std::make_unique<agent::model_link>(o.router, agent::router_model::config{});
    else
        link = std::make_unique<agent::socket_link>(socket);
    agent::agent a(*store, *link, o);
    std::unique_ptr<agent::metrics_server> exporter;
    if (!metrics.empty() &&
        !(exporter = agent::metrics_server::start(metrics, o.router, socket, a.stats(), error))) {
        std::cerr << "ssw-agent: " << error << "\n";
        return 2;
    }
    fmt::print(stderr, "ssw-agent {}: router {}, etcd {}, prefix {}\n", o.router,
               model ? "model (in memory)" : "socket " + socket,
               fmt::join(sc.client.endpoints, ","), sc.k.prefix);
    // The router's arrival events switch moves that await them (not for --model: a model
    // sees no packets).
    std::unique_ptr<agent::arrival_listener> arrivals;
    if (!model) {
        arrivals =
            std::make_unique<agent::arrival_listener>(*store, socket, o.router, o.keys, a.stats());
        arrivals->start();
    }
    a.run(g_stop);
    arrivals.reset();
    fmt::print(stderr, "ssw-agent {}: stopped\n", o.router);
    return 0;
}
