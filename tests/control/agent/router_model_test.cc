// ssw-agent --model's router (control/agent/router_model.h) against a real router (the
// executor on DPDK null ports): the same random stream of binding, proxy-ARP and announce
// commands, single and in batches, must be accepted or refused alike and leave the same
// bindings (with their epochs) and proxy-ARP entries after every step.
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "control/agent/router_model.h"
#include "tests/dataplane/worker_fixture.h"

namespace ssw {
namespace {

using test::A;

class RouterModel : public test::router_fixture {
protected:
    void SetUp() override {
        test::router_fixture::SetUp();
        ok("address add 10.0.0.1/24 port 0");
        ok("address add 10.1.0.1/24 port 1");
        agent::router_model::config c;
        c.ports = r_->port_count();
        c.nat_capacity = r_->nat().capacity();
        c.own = {{0, A("10.0.0.1")}, {1, A("10.1.0.1")}};
        model_ = std::make_unique<agent::router_model>(c);
    }

    // The bindings, proxy entries and arrival watches as `show` lists them, without the packet
    // counts and the watches' state (the model sees no packets).
    static std::string tables(const nlohmann::ordered_json &nat,
                              const nlohmann::ordered_json &proxies,
                              const nlohmann::ordered_json &arrivals) {
        std::string out;
        for (const auto &row : nat)
            out += fmt::format("{} {} {} {} {}\n", row["home"].get<std::string>(),
                               row["care_of"].get<std::string>(), row["type"].get<std::string>(),
                               row["port"].dump(), row["epoch"].dump());
        for (const auto &row : proxies)
            out +=
                fmt::format("proxy {} {}\n", row["port"].dump(), row["prefix"].get<std::string>());
        for (const auto &row : arrivals)
            out += fmt::format("arrival {} {} {}\n", row["vm"].get<std::string>(),
                               row["mac"].get<std::string>(), row["port"].dump());
        return out;
    }
    std::string router_tables() {
        return tables(ok("show nat limit 1000").data, ok("show proxy-arp").data,
                      ok("show arrivals").data);
    }
    std::string model_tables() {
        auto nat = model_->call("show nat limit 1000"), proxies = model_->call("show proxy-arp"),
             arrivals = model_->call("show arrivals");
        EXPECT_TRUE(nat["ok"].get<bool>() && proxies["ok"].get<bool>() &&
                    arrivals["ok"].get<bool>());
        return tables(nat["data"], proxies["data"], arrivals["data"]);
    }

    // Both sides take one line and must agree on accepting it; counted in accepted_/refused_.
    void one(const std::string &line) {
        reply r = run(line);
        ++(r.ok ? accepted_ : refused_);
        auto m = model_->call(line);
        ASSERT_EQ(r.ok, m["ok"].get<bool>())
            << "'" << line << "': router " << (r.ok ? "accepted" : "refused: " + r.error)
            << ", model " << m.dump();
        if (r.ok && (line.starts_with("nat") || line.starts_with("arrival"))) {
            EXPECT_EQ(r.data.dump(), m.contains("data") ? m["data"].dump() : "null") << line;
        }
    }
    // As the control socket: a line that does not parse refuses the whole batch.
    void batch(const std::vector<std::string> &lines) {
        std::vector<command> cmds;
        bool parsed = true;
        ASSERT_TRUE(model_->call("batch begin")["ok"].get<bool>());
        for (const auto &l : lines) {
            parse_result p = parse_command(l);
            parsed &= p.cmd.has_value();
            if (p.cmd) cmds.push_back(*p.cmd);
            ASSERT_EQ(model_->call(l)["ok"].get<bool>(), p.cmd.has_value()) << l;
        }
        reply r = parsed ? ex_->execute_batch(cmds) : reply::failure("a line did not parse");
        auto m = model_->call("batch commit");
        ASSERT_EQ(r.ok, m["ok"].get<bool>())
            << fmt::format("batch [{}]", fmt::join(lines, "; ")) << ": router "
            << (r.ok ? "accepted" : "refused: " + r.error) << ", model " << m.dump();
    }

    std::unique_ptr<agent::router_model> model_;
    int accepted_ = 0, refused_ = 0;
};

// A random command of the kinds an agent sends, over a few addresses, so that epochs,
// withdrawals, owners, own addresses and bad ports all collide often.
std::string random_command(std::mt19937 &rng) {
    auto pick = [&](auto... xs) {
        const std::vector<std::string> v{xs...};
        return v[rng() % v.size()];
    };
    auto addr = [&] {
        return pick("192.168.11.3", "192.168.11.4", "192.168.11.5", "192.168.12.7", "10.0.0.5",
                    "10.0.0.6", "10.1.0.5", "10.0.0.1", "0.0.0.0", "224.0.0.9");
    };
    auto epoch = [&]() -> std::string {
        if (rng() % 4 == 0) return "";
        return fmt::format(" epoch {}", rng() % 7);
    };
    switch (rng() % 12) {
        case 0:
        case 1:
        case 2: {
            std::string type = pick("", " local port 0", " local port 1", " local port 2",
                                    " local port 7", " local port 1 keep-source");
            return fmt::format("nat add {} to {}{}{}", addr(), addr(), type, epoch());
        }
        case 3:
        case 4: return fmt::format("nat del {}{}", addr(), epoch());
        case 5:
        case 6:
            return fmt::format(
                "proxy-arp {} {} port {}", pick("add", "del"),
                pick("192.168.11.0/24", "192.168.11.3", "192.168.12.0/24", "10.0.0.5"), rng() % 4);
        case 7:
        case 8:
            if (rng() % 3 == 0) return fmt::format("arrival unwatch {}", addr());
            return fmt::format("arrival watch {} mac {} port {}", addr(),
                               pick("52:54:00:00:00:01", "52:54:00:00:00:02"), rng() % 4);
        default:
            return fmt::format("arp announce {} port {} count 1 interval 10",
                               pick("192.168.11.3", "192.168.11.0/24", "192.168.12.0/24",
                                    "10.0.0.0/24", "10.0.0.0/19", "192.168.11.4/31"),
                               rng() % 4);
    }
}

TEST_F(RouterModel, AgreesWithTheRouterOnARandomStream) {
    std::mt19937 rng(20261204);
    int batches = 0;
    size_t most_bindings = 0;
    for (int step = 0; step < 3000; ++step) {
        if (rng() % 5 == 0) {
            std::vector<std::string> lines;
            for (unsigned i = 0, n = 1 + rng() % 5; i < n; ++i)
                lines.push_back(random_command(rng));
            ASSERT_NO_FATAL_FAILURE(batch(lines));
            ++batches;
        } else {
            const std::string line = random_command(rng);
            ASSERT_NO_FATAL_FAILURE(one(line));
        }
        ASSERT_EQ(router_tables(), model_tables()) << "after step " << step;
        most_bindings = std::max(most_bindings, ex_->model().bindings.size());
    }
    // The stream reached the cases that matter: both verdicts, several bindings at once.
    EXPECT_GT(accepted_, 500);
    EXPECT_GT(refused_, 500);
    EXPECT_GT(batches, 400);
    EXPECT_GE(most_bindings, 3u);
}

TEST_F(RouterModel, CapacityAndPagingAsTheRouter) {
    const uint32_t cap = r_->nat().capacity();
    for (uint32_t i = 0; i < cap; ++i)
        one(fmt::format("nat add 172.16.{}.{} to 172.17.{}.{}", i / 250, 1 + i % 250, i / 250,
                        1 + i % 250));
    one("nat add 172.18.0.1 to 172.19.0.1");  // full: refused on both
    EXPECT_EQ(router_tables(), model_tables());
    // Pages: each names the next, and together they are the whole table.
    std::string line = "show nat limit 7", all;
    int pages = 0;
    for (;;) {
        auto m = model_->call(line);
        reply r = run(line);
        ASSERT_EQ(r.next, m.value("next", std::string()));
        EXPECT_EQ(
            tables(r.data, nlohmann::ordered_json::array(), nlohmann::ordered_json::array()),
            tables(m["data"], nlohmann::ordered_json::array(), nlohmann::ordered_json::array()));
        all += tables(m["data"], nlohmann::ordered_json::array(), nlohmann::ordered_json::array());
        ++pages;
        if (r.next.empty()) break;
        line = r.next;
    }
    EXPECT_EQ(pages, int((cap + 6) / 7));
    EXPECT_EQ(all, model_tables());
}

}  // namespace
}  // namespace ssw
