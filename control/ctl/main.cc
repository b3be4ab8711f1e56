// sswctl: the command-line client of ssw-router's control socket.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <boost/program_options.hpp>

#include "control/cluster/mover.h"
#include "control/cluster/store_config.h"
#include "control/ctl/client.h"
#include "control/ctl/table_format.h"
#include "control/orchestrator/orchestrator.h"
#include "control/orchestrator/topology.h"
#include "control/protocol/command.h"
#include "control/protocol/command_file.h"

namespace po = boost::program_options;
using namespace ssw;

namespace {

constexpr const char *kDefaultSocket = "/run/ssw/ssw-router.sock";
constexpr const char *kDefaultTopology = "/etc/ssw/topology.json";

struct orchestration {
    std::string topology = kDefaultTopology;
    std::string state;
    std::string to;
    std::string care_of;
    std::string mode = "optimized";
    bool dry_run = false;
    bool resume = false;
    bool on_arrival = false;
    unsigned arrival_timeout_ms = 120000;
    unsigned phase_timeout_ms = 10000;
    unsigned lock_ttl_s = 10;
};

// migrate's --to, --mode and --care-of, checked; false (with a message) when wrong.
bool migrate_args(const orchestration &o, std::optional<ip4_addr> &care_of) {
    if (o.to.empty()) {
        std::cerr << "sswctl: migrate needs --to SUBNET\n";
        return false;
    }
    if (o.mode != "optimized" && o.mode != "triangle") {
        std::cerr << "sswctl: --mode is 'optimized' or 'triangle'\n";
        return false;
    }
    if (!o.care_of.empty()) {
        care_of = ip4_addr::parse(o.care_of);
        if (!care_of) {
            std::cerr << "sswctl: --care-of '" << o.care_of << "' is not an IPv4 address\n";
            return false;
        }
    }
    return true;
}

// Prints an orchestrator's result (a table, or JSON); returns the exit status.
int report(const std::string &verb, orchestrator::result &res, bool is_move,
           std::chrono::steady_clock::time_point started, bool as_json) {
    // A move: from the command to the last router's acknowledgement.
    const double elapsed_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count();
    if (is_move && res.ok) res.log.push_back(fmt::format("moved in {:.1f} ms", elapsed_ms));
    if (as_json) {
        nlohmann::ordered_json j{{"ok", res.ok}};
        if (!res.ok) j["error"] = res.error;
        if (is_move) j["elapsed_ms"] = std::round(elapsed_ms * 10) / 10;
        j["log"] = res.log;
        if (!res.data.is_null()) j["data"] = res.data;
        std::cout << j.dump(2) << "\n";
    } else {
        if (res.ok && res.data.contains("routers") && res.data["routers"].is_array()) {
            nlohmann::ordered_json head = res.data;
            head.erase("routers");
            std::cout << render_text(head) << render_text(res.data["routers"]);
        }
        for (const auto &line : res.log) std::cout << line << "\n";
    }
    if (!res.ok) {
        std::cerr << "sswctl: " << verb << ": " << res.error << "\n";
        return 1;
    }
    return 0;
}

// migrate | return | where | reconcile: the orchestrator, over every router of a topology.
int orchestrate(const std::vector<std::string> &words, const orchestration &o, bool as_json) {
    const std::string &verb = words[0];
    const size_t want_args = verb == "reconcile" ? 1 : 2;
    if (words.size() != want_args) {
        std::cerr << "sswctl: usage: sswctl " << verb << (want_args == 2 ? " VM" : "")
                  << " (see sswctl --help)\n";
        return 2;
    }
    topology topo;
    std::string error;
    if (!topology::load(o.topology, topo, error)) {
        std::cerr << "sswctl: " << error << "\n";
        return 2;
    }
    const std::string state = !o.state.empty()           ? o.state
                              : !topo.state_path.empty() ? topo.state_path
                                                         : o.topology + ".state";
    auto transport = [](const topo_router &r, const std::vector<std::string> &lines,
                        std::string &err) -> std::optional<std::vector<nlohmann::ordered_json>> {
        control_client c;
        if (r.socket.empty()) {
            err = fmt::format("the topology gives no socket for router {}", r.name);
            return std::nullopt;
        }
        if (!c.connect(r.socket, err, 2000)) return std::nullopt;
        return c.call_many(lines, err, 10000);
    };
    orchestrator orch(topo, state, transport);
    orchestrator::result res;
    const auto started = std::chrono::steady_clock::now();
    if (verb == "migrate") {
        std::optional<ip4_addr> care_of;
        if (!migrate_args(o, care_of)) return 2;
        res = orch.move(words[1], o.to, care_of, o.mode == "triangle", o.dry_run);
    } else if (verb == "return") {
        auto m = topo.vm_address(words[1]);
        const topo_subnet *home = m ? topo.subnet_of(*m) : nullptr;
        if (!home) {
            std::cerr << "sswctl: unknown VM '" << words[1] << "'\n";
            return 2;
        }
        res = orch.move(words[1], home->name, std::nullopt, false, o.dry_run);
    } else if (verb == "where") {
        res = orch.where(words[1]);
    } else {
        res = orch.reconcile(o.dry_run);
    }
    return report(verb, res, (verb == "migrate" || verb == "return") && !o.dry_run, started,
                  as_json);
}

// Whether `words` (and migrate's options) make a verb sswctl can send through etcd; if not,
// says why (`where`: the file line, if any). Checked before etcd is reached, and for every
// line of a file before the first runs.
bool etcd_words_ok(const std::vector<std::string> &words, const orchestration &o,
                   const std::string &where = "") {
    const std::string &verb = words[0];
    const std::string at = where.empty() ? "" : where + ": ";
    const size_t want_args = verb == "reconcile" || verb == "agents" ? 1
                             : verb == "topology"                    ? 0
                                                                     : 2;
    if ((want_args && words.size() != want_args) ||
        (verb == "topology" && !(words.size() == 3 && words[1] == "put") &&
         !(words.size() == 2 && words[1] == "get"))) {
        std::cerr << "sswctl: " << at << "usage: sswctl --endpoints LIST "
                  << (verb == "topology" ? "topology put FILE | topology get"
                                         : verb + (want_args == 2 ? " VM" : ""))
                  << " (see sswctl --help)\n";
        return false;
    }
    std::optional<ip4_addr> care_of;
    if (verb == "migrate" && !o.resume && !migrate_args(o, care_of)) {
        if (!where.empty()) std::cerr << "sswctl: " << where << ": that line is refused\n";
        return false;
    }
    return true;
}

// One verb through etcd (control/cluster/mover.h), its words checked (etcd_words_ok);
// returns the exit status.
int etcd_verb(etcd::client &store, const cluster::store_config &sc,
              const std::vector<std::string> &words, const orchestration &o, bool as_json) {
    const std::string &verb = words[0];
    cluster::move_options mo;
    mo.phase_timeout = std::chrono::milliseconds(o.phase_timeout_ms);
    mo.lock_ttl_s = std::max(1u, o.lock_ttl_s);
    cluster::mover mv(store, sc.k, mo);
    std::optional<std::chrono::milliseconds> on_arrival;
    if (o.on_arrival) on_arrival = std::chrono::milliseconds(o.arrival_timeout_ms);
    const auto started = std::chrono::steady_clock::now();
    orchestrator::result res;
    if (verb == "topology" && words[1] == "put") {
        std::ifstream in(words[2]);
        if (!in) {
            std::cerr << "sswctl: cannot read " << words[2] << "\n";
            return 2;
        }
        std::stringstream ss;
        ss << in.rdbuf();
        res = mv.put_topology(ss.str());
    } else if (verb == "topology") {
        res = mv.get_topology();
    } else if (verb == "migrate" && o.resume) {
        res = mv.resume(words[1]);
    } else if (verb == "migrate") {
        std::optional<ip4_addr> care_of;
        if (!migrate_args(o, care_of)) return 2;
        res = mv.move(words[1], o.to, care_of, o.mode == "triangle", on_arrival);
    } else if (verb == "return") {
        res = mv.return_home(words[1], on_arrival);
    } else if (verb == "where") {
        res = mv.where(words[1]);
    } else if (verb == "agents") {
        res = mv.status();
    } else {
        res = mv.reconcile();
    }
    return report(verb, res, (verb == "migrate" || verb == "return") && res.data.contains("move"),
                  started, as_json);
}

bool is_etcd_verb(const std::string &w) {
    return w == "migrate" || w == "return" || w == "where" || w == "reconcile" || w == "topology" ||
           w == "agents";
}

// A line of `sswctl -c CONF -f FILE`: a verb with its words and its own migrate options
// (--to, --mode, --care-of, --resume, --on-arrival, --arrival-timeout); the command line's are
// the defaults.
bool etcd_line(const std::string &line, std::vector<std::string> &words, orchestration &o,
               std::string &error) {
    std::istringstream in(line);
    std::vector<std::string> all{std::istream_iterator<std::string>(in), {}};
    for (size_t i = 0; i < all.size(); ++i) {
        const std::string &w = all[i];
        if (w == "--resume") {
            o.resume = true;
        } else if (w == "--on-arrival") {
            o.on_arrival = true;
        } else if (w == "--to" || w == "--mode" || w == "--care-of" || w == "--arrival-timeout") {
            if (i + 1 == all.size()) {
                error = w + " needs a value";
                return false;
            }
            if (w == "--arrival-timeout") {
                const std::string &v = all[++i];
                auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), o.arrival_timeout_ms);
                if (ec != std::errc() || p != v.data() + v.size()) {
                    error = "--arrival-timeout takes milliseconds, not '" + v + "'";
                    return false;
                }
                continue;
            }
            (w == "--to" ? o.to : w == "--mode" ? o.mode : o.care_of) = all[++i];
        } else if (w.starts_with("-")) {
            error = "unknown option " + w;
            return false;
        } else {
            words.push_back(w);
        }
    }
    if (words.empty() || !is_etcd_verb(words[0])) {
        error =
            "not a verb of sswctl through etcd (migrate, return, where, reconcile, "
            "topology, agents)";
        return false;
    }
    return true;
}

// The same verbs (and topology, agents) through etcd: sswctl writes the desired state, the
// agents apply it (control/cluster/mover.h). Never talks to a router. With a FILE, each of
// its lines in turn on one connection, stopping at the first refused.
int orchestrate_etcd(const std::vector<std::string> &words, const std::string &file,
                     const orchestration &o, const cluster::store_flags &sf, bool as_json) {
    if (o.dry_run) {
        std::cerr << "sswctl: --dry-run is for the local orchestrator (-t); with etcd, "
                     "'sswctl where VM' shows what each router must hold\n";
        return 2;
    }
    std::vector<command_line> lines;
    std::string error;
    if (!file.empty() && !read_command_file(file, lines, error)) {
        std::cerr << "sswctl: " << error << "\n";
        return 2;
    }
    // Every line checked before the first runs: a malformed file changes nothing.
    std::vector<std::pair<std::vector<std::string>, orchestration>> steps;
    for (const command_line &line : lines) {
        std::vector<std::string> line_words;
        orchestration line_o = o;
        if (!etcd_line(line.text, line_words, line_o, error)) {
            std::cerr << fmt::format("sswctl: {}: {}\n", line.where(), error);
            return 2;
        }
        if (!etcd_words_ok(line_words, line_o, line.where())) return 2;
        steps.emplace_back(std::move(line_words), std::move(line_o));
    }
    if (file.empty() && !etcd_words_ok(words, o)) return 2;
    // gRPC's own log lines (e.g. a refused TLS handshake) would repeat the error sswctl prints.
    setenv("GRPC_VERBOSITY", "NONE", 0);
    setenv("GRPC_POLL_STRATEGY", "poll", 0);  // as ssw-agent (control/agent/main.cc)
    cluster::store_config sc;
    if (!cluster::resolve_store_config(sf, sc, error)) {
        std::cerr << "sswctl: " << error << "\n";
        return 2;
    }
    auto store = etcd::client::create(sc.client, error);
    if (!store) {
        std::cerr << "sswctl: " << error << "\n";
        return 2;
    }
    if (file.empty()) return etcd_verb(*store, sc, words, o, as_json);
    for (const auto &[line_words, line_o] : steps)
        if (int rc = etcd_verb(*store, sc, line_words, line_o, as_json); rc != 0) return rc;
    return 0;
}

void print_help(const po::options_description &d) {
    std::cout
        << "Usage: sswctl [options] COMMAND...\n"
           "       sswctl [options] -f FILE\n"
           "       sswctl [options] batch FILE\n\n"
           "Sends one command (or each command of FILE, stopping at the first refused)\n"
           "to an ssw-router and prints the reply as a table, or as JSON with --json.\n"
           "`batch FILE` applies the commands of FILE all together or not at all.\n\n"
           "Orchestrator, over every router of a topology (-t, conf/README.md):\n"
           "  sswctl -t TOPO migrate VM --to SUBNET [--care-of ADDR] [--mode optimized|triangle]\n"
           "  sswctl -t TOPO return VM          move VM back to its home subnet\n"
           "  sswctl -t TOPO where VM           location, epoch, and what each router holds\n"
           "  sswctl -t TOPO reconcile          repair routers that differ from the VMs' state\n"
           "  (--dry-run prints the commands per router instead of sending them)\n\n"
           "The same through etcd, where ssw-agent applies them (--endpoints or -c FILE):\n"
           "  sswctl -c CONF topology put FILE   the deployment's topology, into etcd\n"
           "  sswctl -c CONF topology get\n"
           "  sswctl -c CONF migrate VM --to SUBNET [...] | return VM | where VM\n"
           "  sswctl -c CONF migrate --resume VM finish (or roll back) a move whose sswctl died\n"
           "  sswctl -c CONF migrate VM --to SUBNET --on-arrival\n"
           "                                     stage the move; the VM's own RARP/ARP at the new\n"
           "                                     subnet's router switches it (live migration)\n"
           "  sswctl -c CONF reconcile           every agent re-reads and repairs its router\n"
           "  sswctl -c CONF agents              what each router's agent has applied\n"
           "  sswctl -c CONF -f FILE             each line of FILE (e.g. 'migrate VM --to S',\n"
           "                                     'return VM') in turn, on one connection\n"
           "Exit status: 0 done, 1 refused by the router, 2 usage or connection error.\n\n"
        << d << "\nCommands:\n";
    for (const auto &line : command_summary()) std::cout << "  " << line << "\n";
}

// Prints a reply; returns whether the router accepted the command.
bool show(const nlohmann::ordered_json &rep, bool as_json, const std::string &where) {
    const bool ok = rep.value("ok", false);
    if (as_json) {
        std::cout << rep.dump(2) << "\n";
    } else if (ok) {
        if (rep.contains("data")) std::cout << render_text(rep["data"]);
        // A listing cut short (show nat): the rest is one command away.
        if (rep.contains("next"))
            std::cerr << "sswctl: more: " << rep["next"].get<std::string>() << "\n";
    }
    if (!ok) {
        std::cerr << "sswctl: " << (where.empty() ? "" : where + ": ")
                  << rep.value("error", std::string("refused")) << "\n";
    }
    return ok;
}

// `batch FILE`: the file's commands between `batch begin` and `batch commit`, streamed (a /8
// of bindings is 16M lines: neither the lines nor their replies are held). A line refused
// while queueing names itself; else the commit's verdict stands. A file that cannot be read
// to its end aborts the batch.
int send_batch(control_client &client, const std::string &path, std::ifstream &in, bool as_json,
               int timeout_ms) {
    // Line numbers of the lines sent and not answered yet (0: begin, commit or abort).
    std::deque<unsigned> pending;
    unsigned line_no = 0;
    enum class stage { begin, lines, end, done } at = stage::begin;
    bool read_failed = false;
    auto next = [&](std::string &out) {
        switch (at) {
            case stage::begin:
                at = stage::lines;
                out = "batch begin";
                pending.push_back(0);
                return true;
            case stage::lines:
                while (std::getline(in, out)) {
                    ++line_no;
                    if (is_blank_or_comment(out)) continue;
                    pending.push_back(line_no);
                    return true;
                }
                at = stage::end;
                [[fallthrough]];
            case stage::end:
                at = stage::done;
                read_failed = in.bad();
                out = read_failed ? "batch abort" : "batch commit";
                pending.push_back(0);
                return true;
            case stage::done: break;
        }
        return false;
    };
    std::optional<nlohmann::ordered_json> refused, verdict;
    unsigned refused_line = 0;
    auto on_reply = [&](size_t, nlohmann::ordered_json &&r) {
        const unsigned line = pending.front();
        pending.pop_front();
        if (line == 0) {
            verdict = std::move(r);  // the last one is the commit's
        } else if (!refused && !r.value("ok", false)) {
            refused = std::move(r);
            refused_line = line;
        }
    };
    std::string error;
    if (!client.call_stream(next, on_reply, error, timeout_ms)) {
        std::cerr << "sswctl: " << error << "\n";
        return 2;
    }
    if (read_failed) {
        std::cerr << "sswctl: error reading " << path << " at line " << line_no + 1
                  << "; nothing applied\n";
        return 2;
    }
    if (refused) return show(*refused, as_json, fmt::format("{}:{}", path, refused_line)) ? 0 : 1;
    return show(*verdict, as_json, path) ? 0 : 1;
}

}  // namespace

int main(int argc, char **argv) {
    std::string socket_path = kDefaultSocket;
    std::string file;
    std::vector<std::string> words;
    unsigned timeout_s = 60;
    orchestration orch;
    cluster::store_flags sf;
    po::options_description desc("Options");
    // clang-format off
    desc.add_options()
        ("help,h", "print this help and exit")
        ("version,V", "print the version and exit")
        ("socket,s", po::value(&socket_path)->value_name("PATH")->default_value(kDefaultSocket),
            "the router's control socket")
        ("json,j", "print the router's JSON reply")
        ("timeout", po::value(&timeout_s)->value_name("SECONDS")->default_value(timeout_s),
            "how long to wait for each reply (a batch's commit applies it whole)")
        ("file,f", po::value(&file)->value_name("FILE"), "send each command of FILE in turn")
        ("topology,t", po::value(&orch.topology)->value_name("FILE")->default_value(kDefaultTopology),
            "orchestrator: the deployment's topology (JSON)")
        ("state", po::value(&orch.state)->value_name("FILE"),
            "orchestrator: VM location state (default: the topology's \"state\")")
        ("to", po::value(&orch.to)->value_name("SUBNET"), "migrate: target subnet (name or prefix)")
        ("care-of", po::value(&orch.care_of)->value_name("ADDR"),
            "migrate: care-of address (default: the first free one of the subnet's pool)")
        ("mode", po::value(&orch.mode)->value_name("MODE")->default_value("optimized"),
            "migrate: optimized (every router translates) or triangle (only the home router)")
        ("dry-run,n", "orchestrator: print the commands per router, change nothing")
        ("etcd-config,c", po::value(&sf.config)->value_name("FILE"),
            "etcd: endpoints, TLS files and key prefix (JSON, conf/agent.json); with it (or "
            "--endpoints) migrate, return, where and reconcile go through etcd")
        ("endpoints", po::value(&sf.endpoints)->value_name("LIST"),
            "etcd: members, comma-separated (host:port, http://... or https://...)")
        ("cacert", po::value(&sf.ca)->value_name("FILE"), "etcd: the members' CA (PEM)")
        ("cert", po::value(&sf.cert)->value_name("FILE"), "etcd: client certificate (PEM)")
        ("key", po::value(&sf.key)->value_name("FILE"), "etcd: the certificate's key")
        ("prefix", po::value(&sf.prefix)->value_name("PREFIX"),
            "etcd: the deployment's key prefix (default /ssw/v1/)")
        ("resume", "etcd: migrate --resume VM finishes (or rolls back) a move whose sswctl died")
        ("on-arrival", po::bool_switch(&orch.on_arrival),
            "etcd: migrate, return: stage the move, and switch it when the VM arrives (its "
            "RARP or ARP at the new subnet's router, e.g. after a QEMU live migration); "
            "needs the VM's MAC in the topology")
        ("arrival-timeout", po::value(&orch.arrival_timeout_ms)->value_name("MS")
            ->default_value(orch.arrival_timeout_ms),
            "etcd: how long --on-arrival waits for the VM before it rolls the move back")
        ("phase-timeout", po::value(&orch.phase_timeout_ms)->value_name("MS")
            ->default_value(orch.phase_timeout_ms),
            "etcd: how long a move's phase waits for the routers' acknowledgements")
        ("lock-ttl", po::value(&orch.lock_ttl_s)->value_name("S")->default_value(orch.lock_ttl_s),
            "etcd: how long the lock of a move whose sswctl died outlives it");
    // clang-format on
    po::options_description hidden;
    hidden.add_options()("command", po::value(&words));
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("command", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error &e) {
        std::cerr << "sswctl: " << e.what() << " (see sswctl --help)\n";
        return 2;
    }
    if (vm.count("help")) {
        print_help(desc);
        return 0;
    }
    if (vm.count("version")) {
        std::cout << "sswctl " << SSW_VERSION << "\n";
        return 0;
    }
    const bool as_json = vm.count("json") > 0;
    orch.dry_run = vm.count("dry-run") > 0;
    orch.resume = vm.count("resume") > 0;
    if (const char *t = getenv("SSW_TOPOLOGY"); t && vm["topology"].defaulted()) orch.topology = t;
    if (const char *c = getenv("SSW_ETCD_CONFIG"); c && sf.config.empty()) sf.config = c;
    const bool etcd = !sf.config.empty() || !sf.endpoints.empty();
    const bool verb = !words.empty() && (words[0] == "migrate" || words[0] == "return" ||
                                         words[0] == "where" || words[0] == "reconcile");
    if (etcd && !file.empty() && words.empty())
        return orchestrate_etcd({}, file, orch, sf, as_json);
    if (etcd && !words.empty() && is_etcd_verb(words[0]))
        return orchestrate_etcd(words, "", orch, sf, as_json);
    if (orch.resume || orch.on_arrival) {
        std::cerr << "sswctl: " << (orch.resume ? "--resume" : "--on-arrival")
                  << " is for moves through etcd (--endpoints or --etcd-config)\n";
        return 2;
    }
    if (verb) return orchestrate(words, orch, as_json);
    if (words.empty() && file.empty()) {
        std::cerr << "sswctl: give either a COMMAND or -f FILE (see sswctl --help)\n";
        return 2;
    }
    std::vector<command_line> commands;
    if (!file.empty() && !words.empty()) {
        std::cerr << "sswctl: give either a COMMAND or -f FILE (see sswctl --help)\n";
        return 2;
    }
    if (!file.empty()) {
        std::string error;
        if (!read_command_file(file, commands, error)) {
            std::cerr << "sswctl: " << error << "\n";
            return 2;
        }
    } else if (!(words.size() == 2 && words[0] == "batch")) {
        std::string text;
        for (const auto &w : words) text += (text.empty() ? "" : " ") + w;
        commands.push_back({"", 0, text});
    }

    const bool batch = file.empty() && words.size() == 2 && words[0] == "batch";
    std::ifstream batch_file;
    if (batch) {
        batch_file.open(words[1]);
        if (!batch_file) {
            std::cerr << "sswctl: cannot read " << words[1] << ": " << strerror(errno) << "\n";
            return 2;
        }
    }

    control_client client;
    std::string error;
    if (!client.connect(socket_path, error)) {
        std::cerr << "sswctl: " << error << "\n";
        return 2;
    }
    const int timeout_ms = int(std::min(timeout_s, 86400u) * 1000);
    if (batch) return send_batch(client, words[1], batch_file, as_json, timeout_ms);
    for (const auto &cl : commands) {
        auto rep = client.call(cl.text, error, timeout_ms);
        if (!rep) {
            std::cerr << "sswctl: " << error << "\n";
            return 2;
        }
        if (!show(*rep, as_json, cl.line ? cl.where() : "")) return 1;
    }
    return 0;
}
