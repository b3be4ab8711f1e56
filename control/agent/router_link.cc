#include "control/agent/router_link.h"

#include <fmt/format.h>

namespace ssw::agent {

namespace {

// One command (an announcement): false when refused or not sent.
bool send_line(const router_transport &send, const std::string &cmd, std::string &error) {
    auto replies = send(topo_router{}, {cmd}, error);
    if (!replies) return false;
    if (!(*replies)[0].value("ok", false)) {
        error = (*replies)[0].value("error", std::string("refused"));
        return false;
    }
    return true;
}

}  // namespace

bool socket_link::connect(std::string &error) {
    if (connected_ && client_->open()) return true;
    if (connected_) lost_ = true;
    client_ = std::make_unique<control_client>();
    connected_ = client_->connect(path_, error, 1000);
    return connected_;
}

router_transport socket_link::transport() {
    return [this](const topo_router &, const std::vector<std::string> &lines,
                  std::string &error) -> std::optional<std::vector<nlohmann::ordered_json>> {
        if (!connect(error)) return std::nullopt;
        auto replies = client_->call_many(lines, error, 30000);
        if (!replies) {
            connected_ = false;  // a broken connection: the router may have restarted
            lost_ = true;
        }
        return replies;
    };
}

bool socket_link::fetch(const topology &topo, router_holdings &out, std::string &error) {
    return fetch_holdings(transport(), topo, topo_router{"", path_}, cmd_show::kShowNatMaxLimit,
                          out, error);
}

bool socket_link::apply(const std::vector<std::string> &cmds, std::string &error) {
    return apply_batch(transport(), topo_router{"", path_}, cmds, error);
}

bool socket_link::send(const std::string &cmd, std::string &error) {
    return send_line(transport(), cmd, error);
}

bool socket_link::intact() {
    if (connected_ && !client_->open()) {
        connected_ = false;
        lost_ = true;
    }
    const bool was_lost = lost_;
    lost_ = false;
    return !was_lost;
}

router_transport model_link::transport() {
    return [this](const topo_router &, const std::vector<std::string> &lines,
                  std::string &) -> std::optional<std::vector<nlohmann::ordered_json>> {
        std::vector<nlohmann::ordered_json> replies;
        replies.reserve(lines.size());
        for (const auto &line : lines) replies.push_back(model_.call(line));
        return replies;
    };
}

bool model_link::fetch(const topology &topo, router_holdings &out, std::string &error) {
    std::vector<std::pair<uint16_t, ip4_addr>> own;
    for (const auto &[name, s] : topo.subnets)
        if (s.router == router_) own.emplace_back(s.port, s.gateway);
    model_.set_own_addresses(std::move(own));
    return fetch_holdings(transport(), topo, topo_router{router_, ""}, cmd_show::kShowNatMaxLimit,
                          out, error);
}

bool model_link::apply(const std::vector<std::string> &cmds, std::string &error) {
    return apply_batch(transport(), topo_router{router_, ""}, cmds, error);
}

bool model_link::send(const std::string &cmd, std::string &error) {
    return send_line(transport(), cmd, error);
}

}  // namespace ssw::agent
