#include "control/agent/metrics.h"

#include <algorithm>
#include <map>
#include <optional>
#include <vector>

#include <fmt/format.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>

#include "control/ctl/client.h"

namespace ssw::agent {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using labels = std::vector<ClientMetric::Label>;

// Families by name, in the order first added.
class families {
public:
    void add(const std::string &name, const std::string &help, MetricType type, labels l,
             double value) {
        auto [it, fresh] = index_.try_emplace(name, out_.size());
        if (fresh) out_.push_back(MetricFamily{name, help, type, {}});
        ClientMetric m;
        m.label = std::move(l);
        if (type == MetricType::Counter)
            m.counter.value = value;
        else
            m.gauge.value = value;
        out_[it->second].metric.push_back(std::move(m));
    }
    std::vector<MetricFamily> take() { return std::move(out_); }

private:
    std::vector<MetricFamily> out_;
    std::map<std::string, size_t> index_;
};

double number(const nlohmann::ordered_json &v) { return v.is_number() ? v.get<double>() : 0; }

class collector : public prometheus::Collectable {
public:
    collector(std::string router, std::string socket, const counters &c)
        : router_(std::move(router)), socket_(std::move(socket)), c_(c) {}

    std::vector<MetricFamily> Collect() const override {
        families f;
        const labels r{{"router", router_}};
        router_metrics(f);
        auto gauge = [&](const char *name, const char *help, double v) {
            f.add(name, help, MetricType::Gauge, r, v);
        };
        auto counter = [&](const char *name, const char *help, double v) {
            f.add(name, help, MetricType::Counter, r, v);
        };
        const double applied = double(c_.applied_revision), seen = double(c_.store_revision);
        gauge("ssw_agent_applied_revision", "revision of desired/ the router holds", applied);
        gauge("ssw_agent_store_revision", "newest revision of desired/ the agent has seen", seen);
        gauge("ssw_agent_lag_revisions", "revisions seen but not applied yet",
              seen > applied ? seen - applied : 0);
        counter("ssw_agent_relists_total", "full lists of desired/ (start, compaction)",
                double(c_.relists));
        counter("ssw_agent_applies_total", "batches applied to the router", double(c_.applies));
        counter("ssw_agent_apply_failures_total", "batches the router refused",
                double(c_.apply_failures));
        counter("ssw_agent_router_reads_total", "full reads of the router",
                double(c_.router_reads));
        counter("ssw_agent_watch_restarts_total", "watches ended and started again",
                double(c_.watch_restarts));
        counter("ssw_agent_announcements_total", "gratuitous ARP bursts for finished moves",
                double(c_.announcements));
        counter("ssw_agent_lease_grants_total", "leases granted (one per loss of the last)",
                double(c_.lease_grants));
        counter("ssw_agent_arrivals_total", "VM arrivals the router reported", double(c_.arrivals));
        counter("ssw_agent_arrival_switches_total", "moves switched on a VM's arrival",
                double(c_.arrival_switches));
        gauge("ssw_agent_lease_alive", "1 while the agent's lease (its status) is alive",
              c_.lease_alive ? 1 : 0);
        gauge("ssw_agent_router_up", "1 while the agent reaches its router", c_.router_up ? 1 : 0);
        return f.take();
    }

private:
    // The router's own counters; ssw_router_up 0 when it does not answer.
    void router_metrics(families &f) const {
        const labels r{{"router", router_}};
        control_client client;
        std::string error;
        std::optional<std::vector<nlohmann::ordered_json>> replies;
        if (client.connect(socket_, error, 500))
            replies = client.call_many({"show stats", "show ports", "show neigh"}, error, 2000);
        const bool up = replies && replies->size() == 3 &&
                        std::all_of(replies->begin(), replies->end(),
                                    [](const auto &x) { return x.value("ok", false); });
        f.add("ssw_router_up", "1 when the router answers on its control socket", MetricType::Gauge,
              r, up ? 1 : 0);
        if (!up) return;
        const auto &stats = (*replies)[0]["data"];
        for (const auto &[name, v] : stats["counters"].items())
            f.add("ssw_router_events_total", "router events by kind (show stats counters)",
                  MetricType::Counter, {{"router", router_}, {"event", name}}, number(v));
        for (const auto &[reason, v] : stats["drops"].items())
            f.add("ssw_router_drops_total", "packets dropped, by reason", MetricType::Counter,
                  {{"router", router_}, {"reason", reason}}, number(v));
        f.add("ssw_router_bindings", "bindings held", MetricType::Gauge, r,
              number(stats["bindings"]));
        f.add("ssw_router_proxy_arp_replies_total", "ARP replies sent for proxied addresses",
              MetricType::Counter, r, number(stats["counters"]["proxy_arp_replies"]));
        for (const auto &p : (*replies)[1]["data"]) {
            const labels pl{{"router", router_},
                            {"port", std::to_string(p.value("port", 0))},
                            {"name", p.value("name", "")}};
            for (const char *k :
                 {"rx_packets", "tx_packets", "rx_missed", "rx_errors", "tx_errors"})
                f.add(fmt::format("ssw_router_port_{}_total", k),
                      fmt::format("per port: {} (show ports)", k), MetricType::Counter, pl,
                      number(p[k]));
            f.add("ssw_router_port_link_up", "1 when the port's link is up", MetricType::Gauge, pl,
                  p.value("link", "") == "up" ? 1 : 0);
        }
        std::map<std::string, double> states;
        for (const auto &n : (*replies)[2]["data"]) states[n.value("state", "?")] += 1;
        for (const char *s : {"incomplete", "reachable", "probe", "failed", "permanent"})
            states.try_emplace(s, 0);
        for (const auto &[state, count] : states)
            f.add("ssw_router_neighbors", "neighbour entries by state", MetricType::Gauge,
                  {{"router", router_}, {"state", state}}, count);
    }

    std::string router_, socket_;
    const counters &c_;
};

}  // namespace

struct metrics_server::impl {
    std::shared_ptr<collector> source;
    std::unique_ptr<prometheus::Exposer> exposer;
};

metrics_server::metrics_server(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
metrics_server::~metrics_server() = default;

std::unique_ptr<metrics_server> metrics_server::start(const std::string &bind,
                                                      const std::string &router,
                                                      const std::string &socket, const counters &c,
                                                      std::string &error) {
    auto p = std::make_unique<impl>();
    p->source = std::make_shared<collector>(router, socket, c);
    try {
        p->exposer = std::make_unique<prometheus::Exposer>(bind, 1);
    } catch (const std::exception &e) {
        error = fmt::format("--metrics {}: cannot listen: {}", bind, e.what());
        return nullptr;
    }
    p->exposer->RegisterCollectable(p->source);
    return std::make_unique<metrics_server>(std::move(p));
}

}  // namespace ssw::agent
