#include "control/agent/router_link.h"

#include <fmt/format.h>

namespace ssw::agent {

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
    auto replies = transport()(topo_router{"", path_}, {cmd}, error);
    if (!replies) return false;
    if (!(*replies)[0].value("ok", false)) {
        error = (*replies)[0].value("error", std::string("refused"));
        return false;
    }
    return true;
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

}  // namespace ssw::agent
