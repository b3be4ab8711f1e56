#include "control/router/telemetry.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>

#include <fmt/format.h>
#include <rte_telemetry.h>

#include "control/router/executor.h"

namespace ssw {

namespace {

using ojson = nlohmann::ordered_json;

telemetry_bridge *bridge = nullptr;

// Scalars of a JSON object into a telemetry dict (strings and unsigned integers).
void put_scalar(rte_tel_data *d, const std::string &key, const ojson &v) {
    if (v.is_number_unsigned())
        rte_tel_data_add_dict_u64(d, key.c_str(), v.get<uint64_t>());
    else if (v.is_number_integer())
        rte_tel_data_add_dict_int(d, key.c_str(), v.get<int>());
    else if (v.is_number_float())
        rte_tel_data_add_dict_string(d, key.c_str(),
                                     fmt::format("{:.1f}", v.get<double>()).c_str());
    else if (v.is_string())
        rte_tel_data_add_dict_string(d, key.c_str(), v.get<std::string>().c_str());
    else if (v.is_boolean())
        rte_tel_data_add_dict_string(d, key.c_str(), v.get<bool>() ? "true" : "false");
    else if (v.is_null())
        rte_tel_data_add_dict_string(d, key.c_str(), "");
}

void put_object(rte_tel_data *d, const ojson &obj) {
    for (const auto &[k, v] : obj.items()) put_scalar(d, k, v);
}

// Rows as a dict of containers keyed "0", "1", ...: in 22.11 an array may not hold dicts,
// and dict keys may not hold the dots of an address.
void put_rows(rte_tel_data *d, const ojson &rows) {
    rte_tel_data_start_dict(d);
    size_t i = 0;
    for (const auto &row : rows) {
        rte_tel_data *c = rte_tel_data_alloc();
        if (!c) return;
        rte_tel_data_start_dict(c);
        put_object(c, row);
        if (rte_tel_data_add_dict_container(d, std::to_string(i++).c_str(), c, 0) != 0) {
            rte_tel_data_free(c);
            return;  // full (RTE_TEL_MAX_DICT_ENTRIES)
        }
    }
}

int handle(const char *cmd, const char *params, rte_tel_data *d) {
    const std::string name = std::string(cmd).substr(5);  // "/ssw/..."
    ojson a = bridge ? bridge->ask(name, params ? params : "") : ojson();
    if (a.is_null()) return -1;
    if (name == "ports" || name == "neigh") {
        put_rows(d, a);
    } else {
        rte_tel_data_start_dict(d);
        put_object(d, a);
    }
    return 0;
}

}  // namespace

telemetry_bridge::telemetry_bridge() { wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

telemetry_bridge::~telemetry_bridge() {
    bridge = nullptr;
    if (wake_fd_ >= 0) close(wake_fd_);
}

bool telemetry_bridge::start(std::string &error) {
    bridge = this;
    const struct {
        const char *cmd, *help;
    } cmds[] = {
        {"/ssw/stats", "Events and drops by reason. No parameters"},
        {"/ssw/ports", "Per port: MAC, link, role, packets. No parameters"},
        {"/ssw/nat", "Bindings and translated packets. Parameter: a home address for one binding"},
        {"/ssw/proxy_arp", "Proxy-ARP entries and replies, gratuitous ARP sent. No parameters"},
        {"/ssw/neigh", "Neighbor entries. No parameters"},
    };
    for (const auto &c : cmds) {
        if (rte_telemetry_register_cmd(c.cmd, handle, c.help) != 0) {
            error = fmt::format("cannot register telemetry command {}", c.cmd);
            return false;
        }
    }
    return true;
}

ojson telemetry_bridge::ask(const std::string &cmd, const std::string &param) {
    std::lock_guard<std::mutex> one(asking_);
    std::unique_lock<std::mutex> lk(m_);
    cmd_ = cmd;
    param_ = param;
    pending_ = true;
    done_ = false;
    uint64_t one_ = 1;
    if (write(wake_fd_, &one_, sizeof one_) < 0) return nullptr;
    if (!cv_.wait_for(lk, std::chrono::seconds(2), [this] { return done_; })) {
        pending_ = false;
        return nullptr;
    }
    return std::move(answer_);
}

void telemetry_bridge::serve(executor &ex) {
    uint64_t v;
    while (read(wake_fd_, &v, sizeof v) > 0) {
    }
    std::lock_guard<std::mutex> lk(m_);
    if (!pending_) return;
    // Typed commands, not text: a view is the same function `show ...` calls.
    auto show = [&](cmd_show::what item) {
        cmd_show c;
        c.item = item;
        return ex.execute(c).data;
    };
    ojson a;
    if (cmd_ == "stats") {
        const ojson s = show(cmd_show::what::stats);
        a["workers"] = s["workers"];
        a["dropped"] = s["dropped"];
        for (const auto &[k, val] : s["counters"].items()) a[k] = val;
        for (const auto &[k, val] : s["drops"].items()) a["drop_" + k] = val;
    } else if (cmd_ == "ports") {
        a = show(cmd_show::what::ports);
    } else if (cmd_ == "nat") {
        if (param_.empty()) {
            // Every binding, not a page of `show nat`.
            const executor::nat_totals t = ex.nat_summary();
            a = ojson{{"bindings", t.bindings}, {"packets", t.packets}};
        } else if (const auto m = ip4_addr::parse(param_); !m) {
            a = ojson{{"error", fmt::format("'{}' is not an IPv4 address", param_)}};
        } else {
            cmd_show one;
            one.item = cmd_show::what::nat;
            one.filter = ip4_prefix{*m, 32};
            const reply r = ex.execute(one);
            a = r.ok && !r.data.empty() ? r.data[0]
                                        : ojson{{"error", r.ok ? "no binding" : r.error}};
        }
    } else if (cmd_ == "proxy_arp") {
        const ojson s = show(cmd_show::what::stats)["counters"];
        a["entries"] = show(cmd_show::what::proxy_arp).size();
        for (const char *k : {"proxy_arp_replies", "proxy_arp_suppressed", "garp_sent"})
            a[k] = s[k];
    } else if (cmd_ == "neigh") {
        a = show(cmd_show::what::neigh);
    }
    answer_ = std::move(a);
    pending_ = false;
    done_ = true;
    cv_.notify_all();
}

}  // namespace ssw
