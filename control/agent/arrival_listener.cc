#include "control/agent/arrival_listener.h"

#include <chrono>

#include <fmt/format.h>

#include "control/agent/agent.h"
#include "control/ctl/client.h"

namespace ssw::agent {

namespace {
constexpr int kReadTimeoutMs = 200;  // how often the thread looks at its stop flag
constexpr int kRetryMs = 500;        // between attempts to reach the router
constexpr int kGiveUpS = 30;         // an arrival that cannot reach the store for this long
}  // namespace

arrival_listener::arrival_listener(etcd::client &store, std::string socket, std::string router,
                                   cluster::keys keys, counters &stats)
    : store_(store),
      socket_(std::move(socket)),
      router_(std::move(router)),
      keys_(std::move(keys)),
      stats_(stats) {}

arrival_listener::~arrival_listener() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void arrival_listener::start() {
    thread_ = std::thread([this] { run(); });
}

void arrival_listener::run() {
    std::string last_error;
    while (!stop_) {
        control_client c;
        std::string error;
        // Subscribed first, then the watches' state: an arrival between the two is in both,
        // and the second sight of it changes nothing.
        if (!c.connect(socket_, error, 1000) || !c.call("events", error, 5000)) {
            if (error != last_error) say(router_, "arrival events: " + error);
            last_error = error;
            std::this_thread::sleep_for(std::chrono::milliseconds(kRetryMs));
            continue;
        }
        last_error.clear();
        if (auto shown = c.call("show arrivals", error, 5000)) on_line(*shown);
        while (!stop_ && c.open()) {
            if (auto line = c.next_line(error, kReadTimeoutMs)) on_line(*line);
        }
    }
}

void arrival_listener::on_line(const nlohmann::ordered_json &j) {
    auto arrival = [&](const nlohmann::ordered_json &e) {
        auto vm = ip4_addr::parse(e.value("vm", ""));
        auto mac = mac_addr::parse(e.value("mac", ""));
        if (vm && mac) on_arrival(*vm, *mac, e.value("via", "?"));
    };
    if (j.value("event", "") == "arrival") {
        ++stats_.arrivals;
        arrival(j);
        return;
    }
    if (j.value("ok", false) && j.contains("data") && j["data"].is_array())
        for (const auto &row : j["data"])
            if (row.value("state", "") == "arrived") arrival(row);
}

bool arrival_listener::read(ip4_addr vm, std::optional<etcd::key_value> &record,
                            std::string &error) {
    // The topology only when it changed since the last read (its mod revision differs).
    etcd::txn_result t;
    const etcd::request_op get_vm = etcd::request_op::get(keys_.vm(vm));
    if (!store_.txn({etcd::compare::mod_is(keys_.topology(), topo_mod_)}, {get_vm},
                    {get_vm, etcd::request_op::get(keys_.topology())}, t, error))
        return false;
    record.reset();
    if (!t.gets.empty() && !t.gets[0].empty()) record = t.gets[0][0];
    if (!t.succeeded) {
        if (t.gets.size() < 2 || t.gets[1].empty()) {
            error = "no topology in etcd";
            return false;
        }
        if (!topology::parse(t.gets[1][0].value, topo_, error)) return false;
        topo_mod_ = t.gets[1][0].mod_revision;
    }
    return true;
}

void arrival_listener::on_arrival(ip4_addr vm, const mac_addr &mac, const std::string &via) {
    // Until the record is switched or found not to await this arrival; through a store that
    // is away for a while (an election) too, as the move waits for nobody else.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kGiveUpS);
    std::string error;
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
        std::optional<etcd::key_value> kv;
        etcd::txn_result t;
        if (read(vm, kv, error)) {
            cluster::vm_record rec;
            if (!kv || !cluster::vm_record::parse(vm, kv->value, rec, error)) return;
            const topo_subnet *to = cluster::arrival_subnet(topo_, rec);
            if (rec.phase != cluster::move_phase::prepare || rec.rollback || !to ||
                to->router != router_ || rec.await_arrival != mac)
                return;  // no move of it awaits this arrival here (now)
            rec.phase = cluster::move_phase::switch_over;
            rec.arrived = fmt::format("{} by {}", router_, via);
            if (store_.txn({etcd::compare::mod_is(keys_.vm(vm), kv->mod_revision)},
                           {etcd::request_op::put(keys_.vm(vm), rec.to_json())}, {}, t, error)) {
                if (t.succeeded) {
                    ++stats_.arrival_switches;
                    say(router_, fmt::format("{} arrived ({}): move {} switched at revision {}",
                                             vm.to_string(), via, rec.move_id, t.revision));
                    return;
                }
                continue;  // written meanwhile: read it again
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(kRetryMs / 5));
    }
    say(router_, fmt::format("arrival of {}: the move was not switched: {}", vm.to_string(),
                             error.empty() ? "stopped" : error));
}

}  // namespace ssw::agent
