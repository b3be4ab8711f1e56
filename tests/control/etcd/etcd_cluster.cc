#include "tests/control/etcd/etcd_cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

extern char **environ;

namespace ssw::test {

namespace {

using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// Elections in well under a second: a heartbeat every 50 ms, an election after 500 ms without
// one (etcd's defaults are 100/1000).
constexpr const char *heartbeat_ms = "50";
constexpr const char *election_ms = "500";
constexpr auto ready_timeout = 30s;

std::string find_program(const std::string &name) {
    const char *path = std::getenv("PATH");
    std::istringstream dirs(path ? path : "/usr/bin:/bin");
    for (std::string d; std::getline(dirs, d, ':');) {
        std::string p = (d.empty() ? "." : d) + "/" + name;
        if (access(p.c_str(), X_OK) == 0) return p;
    }
    return {};
}

// The environment of the children: ours without etcd's own settings (they would override the
// flags), with GOMAXPROCS=1 (etcd's Go runtime otherwise takes every core).
std::vector<std::string> child_environment() {
    std::vector<std::string> env;
    for (char **e = environ; *e; ++e) {
        std::string s = *e;
        if (s.rfind("ETCD", 0) == 0 || s.rfind("GOMAXPROCS=", 0) == 0) continue;
        env.push_back(s);
    }
    env.push_back("GOMAXPROCS=1");
    return env;
}

// Starts `argv` with stdout and stderr to `log` (appended). The child dies with the calling
// thread. -1 with the cause on failure.
pid_t spawn_process(const std::vector<std::string> &args, const std::string &log,
                    std::string &error) {
    const std::string path = find_program(args.at(0));
    if (path.empty()) {
        error = args[0] + " not found in PATH";
        return -1;
    }
    // Everything the child needs is made before fork: it may only make async-signal-safe calls.
    std::vector<std::string> env = child_environment();
    std::vector<char *> argv, envp;
    for (const auto &a : args) argv.push_back(const_cast<char *>(a.c_str()));
    argv.push_back(nullptr);
    for (auto &e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0) {
        error = "cannot open " + log + ": " + std::strerror(errno);
        if (log_fd >= 0) close(log_fd);
        if (null_fd >= 0) close(null_fd);
        return -1;
    }
    const pid_t parent = getpid();
    const pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);  // the parent went before prctl
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        dup2(null_fd, 0);
        dup2(log_fd, 1);
        dup2(log_fd, 2);
        execve(path.c_str(), argv.data(), envp.data());
        _exit(127);
    }
    const int fork_errno = errno;
    close(log_fd);
    close(null_fd);
    if (pid < 0) {
        error = std::string("fork: ") + std::strerror(fork_errno);
        return -1;
    }
    return pid;
}

// Runs a tool to its end (at most `timeout`), its output to `log`. True when it exits 0.
bool run_tool(const std::vector<std::string> &args, const std::string &log,
              std::chrono::milliseconds timeout, std::string &error) {
    const pid_t pid = spawn_process(args, log, error);
    if (pid < 0) return false;
    const auto deadline = clock::now() + timeout;
    int status = 0;
    for (;;) {
        const pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0) {
            error = args[0] + ": waitpid: " + std::strerror(errno);
            return false;
        }
        if (clock::now() > deadline) {
            ::kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            error = args[0] + " did not finish in time";
            return false;
        }
        std::this_thread::sleep_for(10ms);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::ifstream in(log);
        std::stringstream s;
        s << in.rdbuf();
        error = args[0] + " failed (status " + std::to_string(status) + "): " + s.str();
        return false;
    }
    return true;
}

// Loopback ports nobody listens on: bound to port 0, all held until every one is picked so
// that they differ, then released for etcd.
bool free_ports(int n, std::vector<int> &ports, std::string &error) {
    std::vector<int> fds;
    ports.clear();
    bool ok = true;
    while (int(ports.size()) < n) {
        const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (fd < 0 || bind(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
            getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len) != 0) {
            error = std::string("picking a free port: ") + std::strerror(errno);
            if (fd >= 0) close(fd);
            ok = false;
            break;
        }
        fds.push_back(fd);
        const int port = ntohs(a.sin_port);
        if (port != 2379 && port != 2380) ports.push_back(port);
    }
    for (int fd : fds) close(fd);
    return ok;
}

std::string read_tail(const std::string &path, int lines) {
    std::ifstream in(path);
    std::deque<std::string> tail;
    for (std::string line; std::getline(in, line);) {
        tail.push_back(line);
        if (int(tail.size()) > lines) tail.pop_front();
    }
    std::string out;
    for (const auto &l : tail) out += l + "\n";
    return out;
}

}  // namespace

etcd_cluster::~etcd_cluster() {
    for (int i = 0; i < size(); ++i)
        if (running(i)) kill(i, SIGKILL);
    if (!dir_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(dir_, ec);
    }
}

bool etcd_cluster::start(int members, bool tls, std::string &error) {
    if (!members_.empty() || (members != 1 && members != 3)) {
        error = "etcd_cluster: start once, with 1 or 3 members";
        return false;
    }
    std::string tmpl = (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    tmpl += "/ssw-etcd-XXXXXX";
    if (!mkdtemp(tmpl.data())) {
        error = "mkdtemp " + tmpl + ": " + std::strerror(errno);
        return false;
    }
    dir_ = tmpl;
    tls_on_ = tls;
    if (tls && !make_certificates(error)) return false;
    std::vector<int> ports;
    if (!free_ports(2 * members, ports, error)) return false;
    for (int i = 0; i < members; ++i) {
        member m;
        m.name = "m" + std::to_string(i);
        m.data_dir = dir_ + "/" + m.name;
        m.log = dir_ + "/" + m.name + ".log";
        m.client_port = ports[2 * i];
        m.peer_port = ports[2 * i + 1];
        members_.push_back(m);
    }
    for (int i = 0; i < members; ++i)
        if (!spawn(i, error)) return false;
    for (int i = 0; i < members; ++i)
        if (!wait_ready(i, error)) return false;
    return true;
}

std::vector<std::string> etcd_cluster::member_args(int i) const {
    const member &m = members_[i];
    const std::string client_url = endpoint(i);
    const std::string peer_url = "http://127.0.0.1:" + std::to_string(m.peer_port);
    std::string initial;
    for (const auto &p : members_) {
        if (!initial.empty()) initial += ",";
        initial += p.name + "=http://127.0.0.1:" + std::to_string(p.peer_port);
    }
    std::vector<std::string> args = {
        "etcd",
        "--name=" + m.name,
        "--data-dir=" + m.data_dir,
        "--listen-client-urls=" + client_url,
        "--advertise-client-urls=" + client_url,
        "--listen-peer-urls=" + peer_url,
        "--initial-advertise-peer-urls=" + peer_url,
        "--initial-cluster=" + initial,
        "--initial-cluster-state=new",
        "--initial-cluster-token=" + dir_,
        std::string("--heartbeat-interval=") + heartbeat_ms,
        std::string("--election-timeout=") + election_ms,
        "--unsafe-no-fsync",
        "--logger=zap",
        "--log-outputs=stderr",
    };
    if (tls_on_) {
        args.insert(args.end(),
                    {"--client-cert-auth", "--trusted-ca-file=" + tls_.ca,
                     "--cert-file=" + tls_.server_cert, "--key-file=" + tls_.server_key});
    }
    return args;
}

bool etcd_cluster::spawn(int i, std::string &error) {
    member &m = members_[i];
    m.pid = spawn_process(member_args(i), m.log, error);
    if (m.pid < 0) error = "etcd member " + m.name + ": " + error;
    return m.pid > 0;
}

std::string etcd_cluster::endpoint(int i) const {
    return std::string(tls_on_ ? "https" : "http") +
           "://127.0.0.1:" + std::to_string(members_[i].client_port);
}

std::vector<std::string> etcd_cluster::endpoints() const {
    std::vector<std::string> out;
    for (int i = 0; i < size(); ++i) out.push_back(endpoint(i));
    return out;
}

etcd::client_options etcd_cluster::client_options() const {
    etcd::client_options o;
    o.endpoints = endpoints();
    if (tls_on_) {
        o.ca_file = tls_.ca;
        o.cert_file = tls_.client_cert;
        o.key_file = tls_.client_key;
    }
    return o;
}

void etcd_cluster::kill(int i, int signal) {
    member &m = members_[i];
    if (m.pid <= 0) return;
    ::kill(m.pid, signal);
    if (signal == SIGKILL || signal == SIGTERM) {
        int status;
        waitpid(m.pid, &status, 0);
        m.pid = -1;
    }
}

bool etcd_cluster::restart(int i, std::string &error) {
    if (running(i)) kill(i, SIGKILL);
    return spawn(i, error) && wait_ready(i, error);
}

bool etcd_cluster::wait_ready(int i, std::string &error) {
    member &m = members_[i];
    etcd::client_options o = client_options();
    o.endpoints = {endpoint(i)};
    o.dial_timeout = 500ms;
    o.request_timeout = 1000ms;
    auto c = etcd::client::create(o, error);
    if (!c) return false;
    const auto deadline = clock::now() + ready_timeout;
    std::string last;
    for (;;) {
        std::optional<etcd::key_value> kv;
        int64_t rev;
        if (c->get("ssw-test-ready", kv, rev, last)) return true;
        int status;
        if (m.pid <= 0 || waitpid(m.pid, &status, WNOHANG) == m.pid) {
            m.pid = -1;
            error = "etcd member " + m.name + " exited; its log ends:\n" + log_tail(i);
            return false;
        }
        if (clock::now() > deadline) {
            error = "etcd member " + m.name + " not ready (" + last + "); its log ends:\n" +
                    log_tail(i);
            return false;
        }
        std::this_thread::sleep_for(50ms);
    }
}

int etcd_cluster::leader(std::string &error) {
    std::string eps;
    std::map<std::string, int> index;
    for (int i = 0; i < size(); ++i) {
        if (!running(i)) continue;
        if (!eps.empty()) eps += ",";
        eps += endpoint(i);
        index[endpoint(i)] = i;
    }
    std::vector<std::string> args = {"etcdctl", "--endpoints=" + eps, "--dial-timeout=1s",
                                     "--command-timeout=2s"};
    if (tls_on_) {
        args.insert(args.end(), {"--cacert=" + tls_.ca, "--cert=" + tls_.client_cert,
                                 "--key=" + tls_.client_key});
    }
    args.insert(args.end(), {"endpoint", "status", "-w", "json"});
    const std::string out = dir_ + "/endpoint-status.json";
    std::filesystem::remove(out);
    if (!run_tool(args, out, 10s, error)) return -1;
    try {
        std::ifstream in(out);
        const auto status = nlohmann::json::parse(in);
        for (const auto &s : status) {
            const auto &st = s.at("Status");
            if (st.at("header").at("member_id") == st.at("leader"))
                return index.at(s.at("Endpoint").get<std::string>());
        }
    } catch (const std::exception &e) {
        error = std::string("etcdctl endpoint status: ") + e.what();
        return -1;
    }
    error = "no leader";
    return -1;
}

std::string etcd_cluster::log_tail(int i, int lines) const {
    return read_tail(members_[i].log, lines);
}

bool etcd_cluster::make_certificates(std::string &error) {
    const std::string d = dir_ + "/tls";
    std::filesystem::create_directories(d);
    const std::string log = d + "/openssl.log";
    const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt",
                                         "ec_paramgen_curve:prime256v1", "-nodes"};
    auto openssl = [&](std::vector<std::string> args) {
        args.insert(args.begin(), "openssl");
        return run_tool(args, log, 20s, error);
    };
    auto with = [](std::vector<std::string> a, const std::vector<std::string> &b) {
        a.insert(a.end(), b.begin(), b.end());
        return a;
    };
    auto write = [&](const std::string &name, const std::string &text) {
        std::ofstream(d + "/" + name) << text;
        return d + "/" + name;
    };
    const std::string ca_ext =
        write("ca.cnf",
              "[req]\ndistinguished_name=dn\n[dn]\n[ca]\nbasicConstraints=critical,CA:TRUE\n"
              "keyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n");
    const std::string server_ext =
        write("server.ext",
              "subjectAltName=IP:127.0.0.1\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
              "extendedKeyUsage=serverAuth,clientAuth\n");
    const std::string client_ext =
        write("client.ext",
              "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");

    auto make_ca = [&](const std::string &name) {
        return openssl(
            with({"req", "-x509", "-config", ca_ext, "-extensions", "ca"},
                 with(ec, {"-keyout", d + "/" + name + ".key", "-out", d + "/" + name + ".crt",
                           "-days", "2", "-subj", "/CN=ssw-test-" + name})));
    };
    auto make_cert = [&](const std::string &name, const std::string &ca, const std::string &cn,
                         const std::string &ext) {
        const std::string base = d + "/" + name;
        return openssl(with({"req", "-new", "-config", ca_ext},
                            with(ec, {"-keyout", base + ".key", "-out", base + ".csr", "-subj",
                                      "/CN=" + cn}))) &&
               openssl({"x509", "-req", "-in", base + ".csr", "-CA", d + "/" + ca + ".crt",
                        "-CAkey", d + "/" + ca + ".key", "-CAcreateserial", "-out", base + ".crt",
                        "-days", "2", "-extfile", ext});
    };
    if (!make_ca("ca") || !make_ca("other-ca") ||
        !make_cert("server", "ca", "127.0.0.1", server_ext) ||
        !make_cert("client", "ca", "ssw-test-client", client_ext) ||
        !make_cert("other-client", "other-ca", "ssw-test-client", client_ext)) {
        error = "making test certificates: " + error;
        return false;
    }
    tls_ = {d + "/ca.crt",           d + "/server.crt",      d + "/server.key",
            d + "/client.crt",       d + "/client.key",      d + "/other-ca.crt",
            d + "/other-client.crt", d + "/other-client.key"};
    return true;
}

}  // namespace ssw::test
