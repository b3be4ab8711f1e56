#include "control/cluster/store_config.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ssw::cluster {

bool load_store_config(const std::string &path, store_config &out, std::string &error) {
    std::ifstream in(path);
    if (!in) {
        error = fmt::format("cannot read {}", path);
        return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    try {
        const auto j = nlohmann::json::parse(ss.str());
        if (!j.is_object()) throw std::runtime_error("expected an object");
        for (const auto &[k, v] : j.items()) {
            if (k == "endpoints") {
                out.client.endpoints = v.get<std::vector<std::string>>();
            } else if (k == "ca_file") {
                out.client.ca_file = v.get<std::string>();
            } else if (k == "cert_file") {
                out.client.cert_file = v.get<std::string>();
            } else if (k == "key_file") {
                out.client.key_file = v.get<std::string>();
            } else if (k == "prefix") {
                out.k.prefix = v.get<std::string>();
            } else if (k == "request_timeout_ms") {
                out.client.request_timeout = std::chrono::milliseconds(v.get<uint32_t>());
            } else if (k == "dial_timeout_ms") {
                out.client.dial_timeout = std::chrono::milliseconds(v.get<uint32_t>());
            } else {
                throw std::runtime_error(fmt::format("unknown field \"{}\"", k));
            }
        }
    } catch (const std::exception &e) {
        error = fmt::format("{}: {}", path, e.what());
        return false;
    }
    return valid_prefix(out.k.prefix, error);
}

bool resolve_store_config(const store_flags &f, store_config &out, std::string &error) {
    out = store_config{};
    if (!f.config.empty() && !load_store_config(f.config, out, error)) return false;
    if (!f.endpoints.empty()) out.client.endpoints = split_list(f.endpoints);
    if (!f.ca.empty()) out.client.ca_file = f.ca;
    if (!f.cert.empty()) out.client.cert_file = f.cert;
    if (!f.key.empty()) out.client.key_file = f.key;
    if (!f.prefix.empty()) out.k.prefix = f.prefix;
    if (out.client.endpoints.empty()) {
        error = "no etcd endpoint (--endpoints, or \"endpoints\" in the config file)";
        return false;
    }
    return valid_prefix(out.k.prefix, error);
}

std::vector<std::string> split_list(const std::string &csv) {
    std::vector<std::string> out;
    std::stringstream ss(csv);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

bool valid_prefix(const std::string &prefix, std::string &error) {
    if (prefix.size() < 2 || prefix.front() != '/' || prefix.back() != '/') {
        error = fmt::format("key prefix '{}' must start and end with '/'", prefix);
        return false;
    }
    return true;
}

}  // namespace ssw::cluster
