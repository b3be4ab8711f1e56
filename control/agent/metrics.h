// ssw-agent --metrics ADDR:PORT: Prometheus text at http://ADDR:PORT/metrics (prometheus-cpp's
// Exposer). At each scrape it reads its router through a control connection of its own (show
// stats, show ports, show neigh): the router's counters, drops by reason, bindings, port
// counters and neighbour states; and adds the agent's own (applied revision, lag behind etcd,
// re-lists, apply failures). Metric names: docs/DESIGN.md §6.2.
#pragma once

#include <memory>
#include <string>

#include "control/agent/agent.h"

namespace ssw::agent {

class metrics_server {
public:
    // Listens on `bind` ("127.0.0.1:9105"); nullptr with a message when it cannot.
    static std::unique_ptr<metrics_server> start(const std::string &bind, const std::string &router,
                                                 const std::string &socket, const counters &c,
                                                 std::string &error);
    ~metrics_server();

    struct impl;
    explicit metrics_server(std::unique_ptr<impl> p);

private:
    std::unique_ptr<impl> impl_;
};

}  // namespace ssw::agent
