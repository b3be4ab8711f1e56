#include "control/orchestrator/topology.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace ssw {

namespace {

using json = nlohmann::json;

struct topo_error {
    std::string message;
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args &&...args) {
    throw topo_error{fmt::format(f, std::forward<Args>(args)...)};
}

const json &member(const json &obj, const char *key, const std::string &where) {
    if (!obj.is_object() || !obj.contains(key)) fail("{}: missing \"{}\"", where, key);
    return obj.at(key);
}

std::string string_of(const json &v, const std::string &where) {
    if (!v.is_string()) fail("{}: expected a string", where);
    return v.get<std::string>();
}

ip4_addr address_of(const json &v, const std::string &where) {
    auto a = ip4_addr::parse(string_of(v, where));
    if (!a) fail("{}: '{}' is not an IPv4 address", where, v.get<std::string>());
    return *a;
}

}  // namespace

bool topology::load(const std::string &path, topology &out, std::string &error) {
    std::ifstream in(path);
    if (!in) {
        error = fmt::format("cannot read topology {}", path);
        return false;
    }
    std::stringstream ss;
    ss << in.rdbuf();
    if (!parse(ss.str(), out, error)) {
        error = fmt::format("{}: {}", path, error);
        return false;
    }
    return true;
}

bool topology::parse(const std::string &text, topology &out, std::string &error) {
    out = topology{};
    try {
        const json j = json::parse(text);
        const json &routers = member(j, "routers", "topology");
        if (!routers.is_object() || routers.empty())
            fail("\"routers\" must name at least one router");
        for (const auto &[name, r] : routers.items()) {
            const std::string where = "router " + name;
            if (!r.is_object()) fail("{}: expected an object", where);
            // The socket is for sswctl's local orchestrator; an etcd deployment's agents
            // know their own router's.
            out.routers[name] = topo_router{
                name, r.contains("socket") ? string_of(r.at("socket"), where + ".socket") : ""};
        }
        const json &subnets = member(j, "subnets", "topology");
        if (!subnets.is_object()) fail("\"subnets\" must be an object");
        for (const auto &[name, s] : subnets.items()) {
            const std::string where = "subnet " + name;
            topo_subnet sn;
            sn.name = name;
            auto p = ip4_prefix::parse(string_of(member(s, "prefix", where), where + ".prefix"));
            if (!p || p->has_host_bits()) fail("{}: prefix is not a valid network", where);
            sn.prefix = *p;
            sn.router = string_of(member(s, "router", where), where + ".router");
            if (!out.routers.count(sn.router)) fail("{}: unknown router '{}'", where, sn.router);
            const json &port = member(s, "port", where);
            if (!port.is_number_unsigned() || port.get<unsigned>() > 65534)
                fail("{}: bad port", where);
            sn.port = uint16_t(port.get<unsigned>());
            sn.gateway = address_of(member(s, "gateway", where), where + ".gateway");
            if (!sn.prefix.contains(sn.gateway))
                fail("{}: gateway outside {}", where, sn.prefix.to_string());
            if (s.contains("care_of_pool")) {
                const std::string pool = string_of(s.at("care_of_pool"), where + ".care_of_pool");
                const auto dash = pool.find('-');
                if (dash == std::string::npos) fail("{}: care_of_pool must be FIRST-LAST", where);
                auto first = ip4_addr::parse(pool.substr(0, dash));
                auto last = ip4_addr::parse(pool.substr(dash + 1));
                if (!first || !last || *last < *first || !sn.prefix.contains(*first) ||
                    !sn.prefix.contains(*last))
                    fail("{}: care_of_pool '{}' is not a range inside {}", where, pool,
                         sn.prefix.to_string());
                sn.pool_first = *first;
                sn.pool_last = *last;
            }
            for (const auto &[other_name, other] : out.subnets)
                if (other.prefix.overlaps(sn.prefix))
                    fail("{} overlaps subnet {}", where, other_name);
            out.subnets[name] = sn;
            out.by_network[sn.prefix.network().addr] = name;
        }
        if (j.contains("vms")) {
            for (const auto &[name, v] : j.at("vms").items()) {
                // "C": "192.168.11.3", or "C": {"address": "192.168.11.3", "mac": "..."}.
                const std::string where = "vm " + name;
                const bool object = v.is_object();
                const ip4_addr addr = address_of(object ? v.at("address") : v, where);
                if (!out.subnet_of(addr)) fail("vm {}: {} is in no subnet", name, addr.to_string());
                out.vms[name] = addr;
                if (object && v.contains("mac")) {
                    const std::string text = string_of(v.at("mac"), where + " mac");
                    auto mac = mac_addr::parse(text);
                    if (!mac || mac->is_multicast() || mac->is_zero())
                        fail("{}: '{}' is not a unicast MAC address", where, text);
                    for (const auto &[other, a] : out.vm_macs)
                        if (a == *mac)
                            fail("{}: MAC {} is also {}'s", where, text, out.vm_name(other));
                    out.vm_macs[addr] = *mac;
                }
            }
        }
        out.state_path = j.contains("state") ? string_of(j.at("state"), "state") : std::string{};
    } catch (const json::exception &e) {
        error = fmt::format("not valid JSON: {}", e.what());
        return false;
    } catch (const topo_error &e) {
        error = e.message;
        return false;
    }
    return true;
}

const topo_subnet *topology::subnet_of(ip4_addr a) const {
    if (by_network.size() != subnets.size()) {  // not made by parse(): no index
        for (const auto &[name, s] : subnets)
            if (s.prefix.contains(a)) return &s;
        return nullptr;
    }
    auto it = by_network.upper_bound(a);
    if (it == by_network.begin()) return nullptr;
    const topo_subnet *s = subnet(std::prev(it)->second);
    return s && s->prefix.contains(a) ? s : nullptr;
}

const topo_subnet *topology::subnet(const std::string &name) const {
    auto it = subnets.find(name);
    if (it != subnets.end()) return &it->second;
    // A subnet may also be named by its prefix.
    for (const auto &[n, s] : subnets)
        if (s.prefix.to_string() == name) return &s;
    return nullptr;
}

std::optional<ip4_addr> topology::vm_address(const std::string &name_or_address) const {
    if (auto it = vms.find(name_or_address); it != vms.end()) return it->second;
    auto a = ip4_addr::parse(name_or_address);
    if (a && subnet_of(*a)) return a;
    return std::nullopt;
}

std::string topology::vm_name(ip4_addr a) const {
    for (const auto &[name, addr] : vms)
        if (addr == a) return name;
    return a.to_string();
}

}  // namespace ssw
