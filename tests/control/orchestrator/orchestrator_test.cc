// The orchestrator's moves, returns, rollbacks and reconciliations, against in-memory routers
// that speak the command language (parse_command) over a fake transport.
#include "tests/control/orchestrator/orchestrator_fixture.h"

namespace ssw {
namespace {

using namespace orchestrator_test;

// ---- moves against in-memory routers ----

// A router that keeps its bindings and proxy entries in maps and answers as ssw-router does:
// show nat / show proxy-arp, batches applied all or nothing at commit, epochs (stale updates
// refused, tombstones kept), duplicate proxy entries refused, announcements acknowledged.
struct fake_router {
    std::map<ip4_addr, held_binding> bindings;
    std::map<ip4_addr, uint64_t> tombstones;
    std::set<std::pair<uint16_t, ip4_prefix>> proxies;
    bool unreachable = false;
    int refuse_commits = 0;        // refuse this many batch commits from now
    std::vector<strings> batches;  // the commands of every batch committed (or refused)
    strings announcements;

    bool in_batch = false;
    strings queued;

    // Applies one configuration command to the maps; false with a message when refused.
    bool apply(const std::string &line, std::string &error) {
        auto p = parse_command(line);
        if (!p.cmd) {
            error = p.error;
            return false;
        }
        if (const auto *c = std::get_if<cmd_proxy_arp>(&*p.cmd)) {
            const std::pair<uint16_t, ip4_prefix> e{c->port, c->prefix};
            if (c->add ? !proxies.insert(e).second : proxies.erase(e) == 0) {
                error = c->add ? "proxy-arp entry exists" : "no proxy-arp entry";
                return false;
            }
            return true;
        }
        const auto *c = std::get_if<cmd_nat>(&*p.cmd);
        if (!c) {
            error = "unsupported by the fake router: " + line;
            return false;
        }
        auto it = bindings.find(c->home);
        const bool exists = it != bindings.end();
        uint64_t held = exists                      ? it->second.epoch
                        : tombstones.count(c->home) ? tombstones[c->home]
                                                    : 0;
        if (c->epoch && *c->epoch < held) {
            error = "stale update";
            return false;
        }
        if (!c->add) {
            if (!exists && !c->epoch) {
                error = "no binding";
                return false;
            }
            if (exists) bindings.erase(it);
            tombstones[c->home] = c->epoch.value_or(held);
            return true;
        }
        const binding b{c->home, c->care_of, c->type,
                        c->type == binding_kind::forward ? uint16_t(0) : c->port};
        if (c->epoch && *c->epoch == held) {
            if (exists && it->second.b == b) return true;
            error = "same epoch, different binding";
            return false;
        }
        bindings[c->home] = {b, c->epoch.value_or(held + 1)};
        tombstones.erase(c->home);
        return true;
    }

    ojson answer(const std::string &line) {
        auto ok = [](ojson data = nullptr) {
            ojson j{{"ok", true}};
            if (!data.is_null()) j["data"] = data;
            return j;
        };
        auto fail = [](const std::string &e) { return ojson{{"ok", false}, {"error", e}}; };
        if (line == "batch begin") {
            in_batch = true;
            queued.clear();
            return ok();
        }
        if (line == "batch commit") {
            in_batch = false;
            batches.push_back(queued);
            if (refuse_commits > 0) {
                --refuse_commits;
                return fail("disk full");
            }
            fake_router copy = *this;
            for (size_t i = 0; i < queued.size(); ++i) {
                std::string e;
                if (!copy.apply(queued[i], e))
                    return fail("command " + std::to_string(i + 1) + ": " + e +
                                "; nothing applied");
            }
            bindings = copy.bindings;
            tombstones = copy.tombstones;
            proxies = copy.proxies;
            return ok(ojson{{"applied", queued.size()}});
        }
        if (in_batch) {
            queued.push_back(line);
            return ok();
        }
        if (line.rfind("show nat", 0) == 0) {
            auto p = parse_command(line);
            if (!p.cmd) return fail(p.error);
            const auto &c = std::get<cmd_show>(*p.cmd);
            const uint32_t limit = c.limit ? c.limit : cmd_show::kShowNatLimit;
            ojson rows = ojson::array();
            ojson j = ok();
            for (const auto &[m, h] : bindings) {
                if ((c.filter && !c.filter->contains(m)) || (c.after && !(*c.after < m))) continue;
                if (rows.size() == limit) {
                    cmd_show rest = c;
                    rest.after = ip4_addr::parse(rows.back()["home"].get<std::string>());
                    j["next"] = format_command(command{rest});
                    break;
                }
                rows.push_back(ojson{{"home", m.to_string()},
                                     {"care_of", h.b.care_of.to_string()},
                                     {"type", to_string(h.b.kind)},
                                     {"port", h.b.is_local() ? ojson(h.b.port) : ojson(nullptr)},
                                     {"epoch", h.epoch},
                                     {"packets", 0},
                                     {"last_hit_s", nullptr}});
            }
            j["data"] = rows;
            return j;
        }
        if (line == "show proxy-arp") {
            ojson rows = ojson::array();
            for (const auto &[port, p] : proxies)
                rows.push_back(ojson{{"port", port}, {"prefix", p.to_string()}});
            return ok(rows);
        }
        if (line == "show arrivals") return ok(ojson::array());  // the local orchestrator sets none
        if (line.rfind("arp announce ", 0) == 0) {
            announcements.push_back(line);
            return ok(ojson{{"addresses", 1}, {"frames", 3}});
        }
        std::string e;
        if (!apply(line, e)) return fail(e);
        return ok();
    }
    router_holdings holdings() const { return {bindings, proxies, {}}; }
};

struct call {
    std::string router;
    strings lines;
};

class Orchestrator : public StateDir {
protected:
    void SetUp() override {
        StateDir::SetUp();
        topo_ = load_testbed();
        for (const auto &[name, r] : topo_.routers) net_[name];
    }
    orchestrator make() {
        return orchestrator(topo_, path_,
                            [this](const topo_router &r, const strings &lines,
                                   std::string &error) -> std::optional<std::vector<ojson>> {
                                fake_router &fr = net_.at(r.name);
                                calls_.push_back({r.name, lines});
                                if (fr.unreachable) {
                                    error = "connection refused";
                                    return std::nullopt;
                                }
                                std::vector<ojson> replies;
                                for (const auto &l : lines) replies.push_back(fr.answer(l));
                                return replies;
                            });
    }
    // The routers that received a batch, in order, with the batch's commands.
    std::vector<std::pair<std::string, strings>> batches(size_t from = 0) const {
        std::vector<std::pair<std::string, strings>> out;
        for (size_t i = from; i < calls_.size(); ++i) {
            const auto &c = calls_[i];
            if (c.lines.empty() || c.lines.front() != "batch begin") continue;
            EXPECT_EQ(c.lines.back(), "batch commit");
            out.emplace_back(c.router, strings(c.lines.begin() + 1, c.lines.end() - 1));
        }
        return out;
    }
    std::vector<std::string> batch_order(size_t from = 0) const {
        std::vector<std::string> out;
        for (const auto &[r, cmds] : batches(from)) out.push_back(r);
        return out;
    }
    std::vector<std::pair<std::string, std::string>> announcements(size_t from = 0) const {
        std::vector<std::pair<std::string, std::string>> out;
        for (size_t i = from; i < calls_.size(); ++i)
            for (const auto &l : calls_[i].lines)
                if (l.rfind("arp announce", 0) == 0) out.emplace_back(calls_[i].router, l);
        return out;
    }
    // Every router holds exactly what desired() says for the state file.
    void expect_consistent() {
        const auto want = desired(topo_, load());
        for (const auto &[name, r] : net_) {
            EXPECT_EQ(r.bindings, want.at(name).bindings) << name;
            EXPECT_EQ(r.proxies, want.at(name).proxies) << name;
        }
    }
    orchestrator::result move(const std::string &vm, const std::string &to, bool triangle = false,
                              bool dry_run = false,
                              std::optional<ip4_addr> care_of = std::nullopt) {
        orchestrator o = make();
        return o.move(vm, to, care_of, triangle, dry_run);
    }

    topology topo_;
    std::map<std::string, fake_router> net_;
    std::vector<call> calls_;
};

TEST_F(Orchestrator, MoveToForeign) {
    auto res = move("C", "foreign");
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_EQ(res.data["epoch"], 1);
    EXPECT_EQ(res.data["care_of"], "192.168.10.100");
    EXPECT_EQ(res.data["mode"], "optimized");
    // Every router is asked first; no change before all have answered.
    ASSERT_GE(calls_.size(), 4u);
    for (size_t i = 0; i < 4; ++i)
        EXPECT_EQ(calls_[i].lines,
                  (strings{"show nat limit 100000", "show proxy-arp", "show arrivals"}));
    // Then one batch each: the new foreign router, the home router, the others.
    const auto b = batches();
    ASSERT_EQ(b.size(), 4u);
    EXPECT_EQ(batch_order(), (strings{"R2", "R3", "R1", "R4"}));
    EXPECT_EQ(b[0].second,
              (strings{"proxy-arp add 192.168.11.0/24 port 1",
                       "nat add 192.168.11.3 to 192.168.10.100 local port 1 epoch 1"}));
    EXPECT_EQ(b[1].second, (strings{"proxy-arp add 192.168.11.3/32 port 1",
                                    "nat add 192.168.11.3 to 192.168.10.100 epoch 1"}));
    EXPECT_EQ(b[2].second, strings{"nat add 192.168.11.3 to 192.168.10.100 epoch 1"});
    EXPECT_EQ(b[3].second, strings{"nat add 192.168.11.3 to 192.168.10.100 epoch 1"});
    // Then the announcements: the home prefix on the foreign segment, M on the home one.
    EXPECT_EQ(announcements(), (std::vector<std::pair<std::string, std::string>>{
                                   {"R2", "arp announce 192.168.11.0/24 port 1 interval 100"},
                                   {"R3", "arp announce 192.168.11.3 port 1 interval 100"}}));
    const orchestrator_state st = load();
    ASSERT_EQ(st.vms.count(kC), 1u);
    EXPECT_EQ(st.vms.at(kC), (vm_state{kC, "foreign", A("192.168.10.100"), false, 1}));
    expect_consistent();

    // where() reports it.
    orchestrator o = make();
    auto w = o.where("C");
    ASSERT_TRUE(w.ok) << w.error;
    EXPECT_EQ(w.data["location"], "foreign");
    EXPECT_EQ(w.data["care_of"], "192.168.10.100");
    EXPECT_EQ(w.data["epoch"], 1);
    ASSERT_EQ(w.data["routers"].size(), 4u);
    for (const auto &row : w.data["routers"])
        EXPECT_EQ(row["expected"], row["holds"]) << row.dump();
    EXPECT_EQ(w.data["routers"][1]["holds"],
              "nat add 192.168.11.3 to 192.168.10.100 local port 1 epoch 1");
    EXPECT_FALSE(o.where("Z").ok);
}

TEST_F(Orchestrator, DryRunOnlyAsks) {
    auto res = move("C", "foreign", false, true);
    ASSERT_TRUE(res.ok) << res.error;
    for (const auto &c : calls_)
        EXPECT_EQ(c.lines, (strings{"show nat limit 100000", "show proxy-arp", "show arrivals"}))
            << c.router;
    EXPECT_FALSE(fs::exists(path_)) << "no state written";
    for (const auto &[name, r] : net_) EXPECT_TRUE(r.bindings.empty() && r.proxies.empty()) << name;
    // It says what it would send.
    EXPECT_EQ(res.data["routers"]["R2"],
              (ojson{"proxy-arp add 192.168.11.0/24 port 1",
                     "nat add 192.168.11.3 to 192.168.10.100 local port 1 epoch 1"}));
    EXPECT_FALSE(res.log.empty());
}

TEST_F(Orchestrator, RepeatedMoveChangesNothing) {
    ASSERT_TRUE(move("C", "foreign").ok);
    const size_t mark = calls_.size();
    auto res = move("C", "foreign");
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_TRUE(batches(mark).empty()) << "no changes sent";
    EXPECT_EQ(res.data["epoch"], 1) << "the epoch is kept";
    EXPECT_EQ(load().vms.at(kC).epoch, 1u);
    expect_consistent();
}

TEST_F(Orchestrator, TriangleMove) {
    auto res = move("C", "foreign", true);
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_EQ(batch_order(), (strings{"R2", "R3"})) << "no binding at R1 or R4";
    EXPECT_EQ(net_["R2"].bindings.at(kC), local(kC, "192.168.10.100", 1, 1, true));
    EXPECT_EQ(net_["R3"].bindings.at(kC), fwd(kC, "192.168.10.100", 1));
    EXPECT_TRUE(net_["R1"].bindings.empty());
    EXPECT_TRUE(net_["R4"].bindings.empty());
    EXPECT_TRUE(load().vms.at(kC).triangle);
    expect_consistent();
    // Switching to optimized mode in place is a move of its own: a new epoch.
    res = move("C", "foreign");
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_EQ(res.data["epoch"], 2);
    EXPECT_EQ(net_["R1"].bindings.at(kC), fwd(kC, "192.168.10.100", 2));
    expect_consistent();
}

TEST_F(Orchestrator, ForeignToForeign) {
    ASSERT_TRUE(move("C", "foreign").ok);
    const size_t mark = calls_.size();
    auto res = move("C", "foreign2");
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_EQ(res.data["epoch"], 2);
    EXPECT_EQ(res.data["care_of"], "192.168.12.100");
    // New foreign router, home, the others, the old foreign router last.
    const auto b = batches(mark);
    EXPECT_EQ(batch_order(mark), (strings{"R4", "R3", "R1", "R2"}));
    ASSERT_EQ(b.size(), 4u);
    EXPECT_EQ(b[0].second,
              (strings{"proxy-arp add 192.168.11.0/24 port 1",
                       "nat add 192.168.11.3 to 192.168.12.100 local port 1 epoch 2"}));
    EXPECT_EQ(b[1].second, strings{"nat add 192.168.11.3 to 192.168.12.100 epoch 2"});
    EXPECT_EQ(b[2].second, strings{"nat add 192.168.11.3 to 192.168.12.100 epoch 2"});
    EXPECT_EQ(b[3].second, (strings{"nat add 192.168.11.3 to 192.168.12.100 epoch 2",
                                    "proxy-arp del 192.168.11.0/24 port 1"}));
    EXPECT_EQ(announcements(mark), (std::vector<std::pair<std::string, std::string>>{
                                       {"R4", "arp announce 192.168.11.0/24 port 1 interval 100"},
                                       {"R3", "arp announce 192.168.11.3 port 1 interval 100"},
                                       {"R2", "arp announce 192.168.11.3 port 1 interval 100"}}));
    expect_consistent();
}

TEST_F(Orchestrator, ReturnHomeRemovesBindings) {
    ASSERT_TRUE(move("C", "foreign").ok);
    const size_t mark = calls_.size();
    auto res = move("C", "home");
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_EQ(batch_order(mark), (strings{"R3", "R1", "R4", "R2"}));
    const auto b = batches(mark);
    ASSERT_EQ(b.size(), 4u);
    EXPECT_EQ(b[0].second,
              (strings{"nat del 192.168.11.3 epoch 2", "proxy-arp del 192.168.11.3/32 port 1"}));
    EXPECT_EQ(b[1].second, strings{"nat del 192.168.11.3 epoch 2"});
    EXPECT_EQ(b[3].second,
              (strings{"nat del 192.168.11.3 epoch 2", "proxy-arp del 192.168.11.0/24 port 1"}));
    for (const auto &[name, r] : net_) {
        EXPECT_TRUE(r.bindings.empty()) << name;
        EXPECT_TRUE(r.proxies.empty()) << name;
        EXPECT_EQ(r.tombstones.at(kC), 2u) << name << ": the deletion keeps its epoch";
    }
    EXPECT_EQ(announcements(mark), (std::vector<std::pair<std::string, std::string>>{
                                       {"R3", "arp announce 192.168.11.0/24 port 1 interval 100"},
                                       {"R2", "arp announce 192.168.11.3 port 1 interval 100"}}));
    const auto st = load();
    EXPECT_EQ(st.vms.at(kC).location, "home");
    EXPECT_TRUE(st.vms.at(kC).care_of.is_zero());
    EXPECT_EQ(st.vms.at(kC).epoch, 2u);
    // Moving again goes on from that epoch.
    res = move("C", "foreign");
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_EQ(res.data["epoch"], 3);
    expect_consistent();
}

TEST_F(Orchestrator, TwoVmsOnOneSegmentShareTheProxy) {
    ASSERT_TRUE(move("C", "foreign").ok);
    const size_t mark = calls_.size();
    auto res = move("V", "foreign");
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_EQ(res.data["care_of"], "192.168.10.101") << "the next free care-of address";
    const auto b = batches(mark);
    ASSERT_FALSE(b.empty());
    EXPECT_EQ(b[0].first, "R2");
    EXPECT_EQ(b[0].second, strings{"nat add 192.168.11.4 to 192.168.10.101 local port 1 epoch 1"})
        << "the home prefix is proxied already";
    expect_consistent();
    // C returns home: V still needs the home prefix proxied on the foreign segment.
    ASSERT_TRUE(move("C", "home").ok);
    EXPECT_EQ(net_["R2"].proxies.count({1, P("192.168.11.0/24")}), 1u);
    EXPECT_EQ(net_["R2"].bindings.count(kV), 1u);
    EXPECT_EQ(net_["R2"].bindings.count(kC), 0u);
    expect_consistent();
    // A care-of address in use is refused; an explicit free one is taken.
    res = move("C", "foreign", false, false, A("192.168.10.101"));
    EXPECT_FALSE(res.ok);
    EXPECT_NE(res.error.find("in use by V"), std::string::npos) << res.error;
    res = move("C", "foreign", false, false, A("192.168.10.150"));
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_EQ(net_["R1"].bindings.at(kC).b.care_of, A("192.168.10.150"));
    expect_consistent();
}

// A care-of address names the VM at its new place; it must not be an address a host already
// has. Here the topology names a VM E whose home address lies inside the foreign subnet's
// care-of pool.

TEST_F(Orchestrator, CareOfIsNeverANamedVmsAddress) {
    nlohmann::json j = nlohmann::json::parse(std::ifstream(testbed_topology()));
    j["vms"]["E"] = "192.168.10.100";
    std::string err;
    ASSERT_TRUE(topology::parse(j.dump(), topo_, err)) << err;
    auto res = move("C", "foreign");
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_NE(res.data["care_of"], "192.168.10.100") << "E's address handed out as C's care-of";
}

TEST_F(Orchestrator, RefusalsBeforeAnyChange) {
    auto res = move("Z", "foreign");
    EXPECT_FALSE(res.ok);
    EXPECT_NE(res.error.find("unknown VM 'Z'"), std::string::npos) << res.error;
    res = move("C", "mars");
    EXPECT_FALSE(res.ok);
    EXPECT_NE(res.error.find("unknown subnet 'mars'"), std::string::npos) << res.error;
    res = move("C", "foreign", false, false, A("192.168.12.5"));
    EXPECT_FALSE(res.ok);
    EXPECT_NE(res.error.find("outside foreign"), std::string::npos) << res.error;
    res = move("C", "external");
    EXPECT_FALSE(res.ok) << "the external subnet has no care-of pool";
    EXPECT_NE(res.error.find("no free care-of address"), std::string::npos) << res.error;
    EXPECT_TRUE(batches().empty());
    EXPECT_FALSE(fs::exists(path_));
}

TEST_F(Orchestrator, UnreachableRouterFailsBeforeAnyChange) {
    net_["R4"].unreachable = true;
    auto res = move("C", "foreign");
    EXPECT_FALSE(res.ok);
    EXPECT_NE(res.error.find("R4 unreachable (connection refused); nothing changed"),
              std::string::npos)
        << res.error;
    EXPECT_TRUE(batches().empty());
    for (const auto &[name, r] : net_) EXPECT_TRUE(r.bindings.empty()) << name;
    EXPECT_FALSE(fs::exists(path_));
    // A dry run still shows the plan, and says who is unreachable.
    res = move("C", "foreign", false, true);
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_TRUE(res.data["routers"]["R4"].contains("error"));
    EXPECT_EQ(res.data["routers"]["R2"].size(), 2u);
}

TEST_F(Orchestrator, RefusalRollsBackTheRoutersAlreadyChanged) {
    ASSERT_TRUE(move("C", "foreign").ok);
    std::map<std::string, router_holdings> before;
    for (const auto &[name, r] : net_) before[name] = r.holdings();
    // Moving on to foreign2: R4 (the new foreign router) first, then R3, which refuses.
    net_["R3"].refuse_commits = 1;
    const size_t mark = calls_.size();
    auto res = move("C", "foreign2");
    EXPECT_FALSE(res.ok);
    EXPECT_NE(res.error.find("R3"), std::string::npos) << "names the router: " << res.error;
    EXPECT_NE(res.error.find("disk full"), std::string::npos) << "and why: " << res.error;
    EXPECT_NE(res.error.find("rolled back"), std::string::npos) << res.error;
    // R4 changed, R3 refused; both get a batch that restores what they held, at epoch 3
    // (the move's epoch 2, plus one); R1 and R2 are never touched.
    const auto b = batches(mark);
    std::vector<std::string> order;
    for (const auto &[r, cmds] : b) order.push_back(r);
    EXPECT_EQ(order, (strings{"R4", "R3", "R4", "R3"}));
    ASSERT_EQ(b.size(), 4u);
    EXPECT_EQ(b[2].second, (strings{"nat add 192.168.11.3 to 192.168.10.100 epoch 3",
                                    "proxy-arp del 192.168.11.0/24 port 1"}));
    EXPECT_EQ(b[3].second, strings{"nat add 192.168.11.3 to 192.168.10.100 epoch 3"});
    for (const auto &[name, r] : net_) {
        EXPECT_EQ(r.proxies, before[name].proxies) << name;
        ASSERT_EQ(r.bindings.size(), 1u) << name;
        EXPECT_EQ(r.bindings.at(kC).b, before[name].bindings.at(kC).b)
            << name << ": the binding it held";
    }
    EXPECT_EQ(net_["R4"].bindings.at(kC).epoch, 3u);
    EXPECT_EQ(net_["R1"].bindings.at(kC).epoch, 1u);
    EXPECT_TRUE(announcements(mark).empty()) << "a failed move announces nothing";
    // The state keeps the VM where it was, at the rollback's epoch, so the next move is newer.
    const auto st = load();
    EXPECT_EQ(st.vms.at(kC).location, "foreign");
    EXPECT_EQ(st.vms.at(kC).care_of, A("192.168.10.100"));
    EXPECT_EQ(st.vms.at(kC).epoch, 3u);
    res = move("C", "foreign2");
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_EQ(res.data["epoch"], 4);
    expect_consistent();
}

TEST_F(Orchestrator, ReconcileRepairsALostRouter) {
    ASSERT_TRUE(move("C", "foreign").ok);
    // R1 restarted without its state; R4 holds a binding of a managed address nobody moved,
    // and things the orchestrator does not manage, which stay.
    net_["R1"].bindings.clear();
    net_["R4"].bindings[kV] = fwd(kV, "192.168.10.199", 5);
    const ip4_addr unmanaged = A("10.50.0.1");
    net_["R4"].bindings[unmanaged] = fwd(unmanaged, "10.51.0.1", 1);
    net_["R2"].proxies.insert({0, P("10.99.0.0/16")});

    size_t mark = calls_.size();
    orchestrator o = make();
    auto dry = o.reconcile(true);
    EXPECT_TRUE(dry.ok) << dry.error;
    EXPECT_TRUE(batches(mark).empty()) << "a dry run sends nothing";
    EXPECT_EQ(dry.data["routers"]["R1"], (ojson{"nat add 192.168.11.3 to 192.168.10.100 epoch 1"}));

    mark = calls_.size();
    auto res = o.reconcile(false);
    ASSERT_TRUE(res.ok) << res.error;
    const auto b = batches(mark);
    ASSERT_EQ(b.size(), 2u);
    EXPECT_EQ(b[0].first, "R1");
    EXPECT_EQ(b[0].second, strings{"nat add 192.168.11.3 to 192.168.10.100 epoch 1"});
    EXPECT_EQ(b[1].first, "R4");
    EXPECT_EQ(b[1].second, strings{"nat del 192.168.11.4 epoch 5"});
    EXPECT_EQ(net_["R1"].bindings.at(kC), fwd(kC, "192.168.10.100", 1));
    EXPECT_EQ(net_["R4"].bindings.count(kV), 0u);
    EXPECT_EQ(net_["R4"].bindings.count(unmanaged), 1u) << "not the orchestrator's";
    EXPECT_EQ(net_["R2"].proxies.count({0, P("10.99.0.0/16")}), 1u) << "not the orchestrator's";
    // Now everything is in sync.
    mark = calls_.size();
    res = o.reconcile(false);
    ASSERT_TRUE(res.ok) << res.error;
    EXPECT_TRUE(batches(mark).empty());
    // An unreachable router is reported, the others still repaired.
    net_["R3"].unreachable = true;
    net_["R1"].bindings.clear();
    res = o.reconcile(false);
    EXPECT_FALSE(res.ok);
    EXPECT_EQ(net_["R1"].bindings.count(kC), 1u);
}

// A router's bindings are read a page at a time: a stale binding on the last page (after
// unmanaged ones sorted before it) is found and removed as on the first.
TEST_F(Orchestrator, ReadsEveryPageOfBindings) {
    ASSERT_TRUE(move("C", "foreign").ok);
    for (uint32_t i = 1; i <= 5; ++i) {
        const ip4_addr a(A("10.50.0.0").host() + i);
        net_["R4"].bindings[a] = fwd(a, "10.51.0.1", 1);  // not the orchestrator's
    }
    net_["R4"].bindings[kV] = fwd(kV, "192.168.10.199", 5);  // stale, sorts last

    const size_t mark = calls_.size();
    orchestrator o = make();
    o.fetch_page = 2;
    auto res = o.reconcile(false);
    ASSERT_TRUE(res.ok) << res.error;
    strings asked;
    for (size_t i = mark; i < calls_.size(); ++i)
        if (calls_[i].router == "R4" && calls_[i].lines.front().rfind("show nat", 0) == 0)
            asked.push_back(calls_[i].lines.front());
    EXPECT_EQ(asked,
              (strings{"show nat limit 2", "show nat after 10.50.0.2 limit 2",
                       "show nat after 10.50.0.4 limit 2", "show nat after 192.168.11.3 limit 2"}));
    EXPECT_EQ(net_["R4"].bindings.count(kV), 0u);
    EXPECT_EQ(net_["R4"].bindings.size(), 6u);  // the five unmanaged and C's
    EXPECT_EQ(net_["R4"].bindings.count(kC), 1u);
}

}  // namespace
}  // namespace ssw
