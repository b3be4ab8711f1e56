// How ssw-agent reaches the router it drives: the router's control socket (socket_link), one
// connection kept open, so that a router that stops or restarts is noticed at once; or, for
// the scale benchmark, an in-memory model of a router (model_link, router_model.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "control/agent/router_model.h"
#include "control/ctl/client.h"
#include "control/orchestrator/orchestrator.h"
#include "control/orchestrator/topology.h"

namespace ssw::agent {

class router_link {
public:
    virtual ~router_link() = default;
    // What the router holds of the configuration `topo` manages.
    virtual bool fetch(const topology &topo, router_holdings &out, std::string &error) = 0;
    // `cmds` as one batch: all applied or none.
    virtual bool apply(const std::vector<std::string> &cmds, std::string &error) = 0;
    // One command (an announcement); false when refused or not sent.
    virtual bool send(const std::string &cmd, std::string &error) = 0;
    // False when the router has gone away since the last call: what it holds is unknown.
    virtual bool intact() = 0;
};

class socket_link : public router_link {
public:
    explicit socket_link(std::string path) : path_(std::move(path)) {}
    bool fetch(const topology &topo, router_holdings &out, std::string &error) override;
    bool apply(const std::vector<std::string> &cmds, std::string &error) override;
    bool send(const std::string &cmd, std::string &error) override;
    bool intact() override;

private:
    router_transport transport();
    bool connect(std::string &error);

    std::string path_;
    std::unique_ptr<control_client> client_;
    bool connected_ = false;
    bool lost_ = false;  // the connection broke since intact() last said so
};

// `ssw-agent --model`: the agent drives a router_model through the same lines it sends a
// router. The model's own addresses are the gateways of the subnets the topology gives the
// router; it never goes away.
class model_link : public router_link {
public:
    model_link(std::string router, router_model::config c)
        : router_(std::move(router)), model_(std::move(c)) {}
    bool fetch(const topology &topo, router_holdings &out, std::string &error) override;
    bool apply(const std::vector<std::string> &cmds, std::string &error) override;
    bool send(const std::string &cmd, std::string &error) override;
    bool intact() override { return true; }
    const router_model &model() const { return model_; }

private:
    router_transport transport();

    std::string router_;
    router_model model_;
};

}  // namespace ssw::agent
