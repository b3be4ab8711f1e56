#include "control/router/control_server.h"

#include <fcntl.h>
#include <grp.h>
#include <malloc.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "control/router/executor.h"
#include "dataplane/log.h"
#include "dataplane/router.h"
#include "dataplane/slow_path/slow_path.h"

namespace ssw {

namespace {

// The reply to a line queued in a batch: the same every time, so not built each time.
const std::string kQueued = "{\"ok\":true}";

// Batches at least this long give their memory back to the system when done (malloc_trim).
constexpr size_t kTrimAfterCommands = 65536;

// An events subscriber that lets this much go unread is disconnected (it would only fall
// further behind); it can reconnect and read `show arrivals`.
constexpr size_t kMaxEventBacklog = 1 << 20;

std::string event_line(const arrival_event &e) {
    return json{{"event", "arrival"},       {"seq", e.seq},   {"vm", e.vm.to_string()},
                {"mac", e.mac.to_string()}, {"port", e.port}, {"via", to_string(e.via)},
                {"waited_ms", e.waited_ms}}
        .dump();
}

bool make_address(const std::string &path, sockaddr_un &addr, std::string &error) {
    std::memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path) {
        error = fmt::format("socket path '{}' is empty or longer than {} bytes", path,
                            sizeof addr.sun_path - 1);
        return false;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    return true;
}

}  // namespace

control_server::~control_server() {
    for (auto &c : clients_) close(c.fd);
    if (listen_fd_ >= 0) {
        close(listen_fd_);
        unlink(path_.c_str());
    }
}

bool control_server::open(const std::string &path, const control_limits &limits,
                          const control_access &access, std::string &error) {
    sockaddr_un addr;
    if (!make_address(path, addr, error)) return false;
    limits_ = limits;
    gid_ = getegid();
    if (!access.group.empty()) {
        const group *g = getgrnam(access.group.c_str());
        if (!g) {
            error = fmt::format("socket group '{}' does not exist", access.group);
            return false;
        }
        gid_ = g->gr_gid;
    }

    struct stat st;
    if (lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            error = fmt::format("{} exists and is not a socket", path);
            return false;
        }
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bool alive =
            probe >= 0 && connect(probe, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
        if (probe >= 0) close(probe);
        if (alive) {
            error = fmt::format("{} is in use by another running router", path);
            return false;
        }
        unlink(path.c_str());  // left behind by a router that died
    }
    listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) {
        error = fmt::format("socket: {}", strerror(errno));
        return false;
    }
    // Owner and group only (0660), from the moment the file exists.
    mode_t old = umask(0117);
    int rc = bind(listen_fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
    umask(old);
    if (rc != 0 || listen(listen_fd_, 16) != 0) {
        error = fmt::format("cannot listen on {}: {}", path, strerror(errno));
        close(listen_fd_);
        listen_fd_ = -1;
        return false;
    }
    if (chown(path.c_str(), uid_t(-1), gid_) != 0 || chmod(path.c_str(), 0660) != 0) {
        error = fmt::format("cannot give {} to group {}: {}", path, gid_, strerror(errno));
        close(listen_fd_);
        listen_fd_ = -1;
        unlink(path.c_str());
        return false;
    }
    path_ = path;
    return true;
}

std::string control_server::check_peer(int fd) const {
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
        return "cannot read the peer's credentials";
    if (cred.uid == 0 || cred.uid == geteuid() || cred.gid == gid_) return {};
    // Supplementary groups are not in SO_PEERCRED: read them from the peer process.
    std::ifstream status(fmt::format("/proc/{}/status", cred.pid));
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("Groups:", 0) != 0) continue;
        std::istringstream groups(line.substr(7));
        unsigned g;
        while (groups >> g)
            if (g == gid_) return {};
    }
    return fmt::format(
        "permission denied: uid {} is neither root, the router's user, nor in "
        "group {} of the control socket",
        cred.uid, gid_);
}

void control_server::queue_reply(client &c, const std::string &line) {
    c.out += line;
    c.out += '\n';
}

void control_server::accept_clients() {
    for (;;) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        client c;
        c.fd = fd;
        c.last_active_ms = slow_path::now_ms();
        if (std::string why = check_peer(fd); !why.empty()) {
            queue_reply(c, reply::failure(why).to_json().dump());
            c.closing = true;
        } else if (clients_.size() >= limits_.max_clients) {
            queue_reply(
                c, reply::failure(fmt::format("too many clients (at most {})", limits_.max_clients))
                       .to_json()
                       .dump());
            c.closing = true;
        }
        clients_.push_back(std::move(c));
    }
}

void control_server::read_client(client &c, executor &ex) {
    char buf[4096];
    for (;;) {
        ssize_t n = read(c.fd, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            // Hung up. A partial command without its newline is discarded, never executed.
            c.in.clear();
            c.closing = true;
            return;
        }
        if (n < 0) break;
        c.last_active_ms = slow_path::now_ms();
        c.in.append(buf, size_t(n));
        size_t start = 0, nl;
        while ((nl = c.in.find('\n', start)) != std::string::npos) {
            std::string_view line(c.in.data() + start, nl - start);
            if (line.size() > limits_.max_line)
                queue_reply(
                    c, reply::failure(fmt::format("command longer than {} bytes", limits_.max_line))
                           .to_json()
                           .dump());
            else
                queue_reply(c, handle_line(c, line, ex));
            start = nl + 1;
        }
        c.in.erase(0, start);
        if (c.in.size() > limits_.max_line) {
            queue_reply(
                c, reply::failure(fmt::format("command longer than {} bytes", limits_.max_line))
                       .to_json()
                       .dump());
            c.in.clear();
            c.closing = true;
            return;
        }
    }
}

std::string control_server::handle_line(client &c, std::string_view line, executor &ex) {
    parse_result p = parse_command(line);
    const auto *batch = p.cmd ? std::get_if<cmd_batch>(&*p.cmd) : nullptr;
    if (!c.in_batch) {
        if (p.cmd && std::holds_alternative<cmd_events>(*p.cmd)) {
            c.events = true;
            return reply::success(json{{"events", json::array({"arrival"})}}).to_json().dump();
        }
        if (!batch) return (p.cmd ? ex.execute(*p.cmd) : reply::failure(p.error)).to_json().dump();
        if (batch->action != cmd_batch::op::begin)
            return reply::failure("no batch in progress").to_json().dump();
        c.in_batch = true;
        c.batch_refused = false;
        c.batch.clear();
        return reply{}.to_json().dump();
    }
    if (!batch) {
        std::string error = p.error;
        if (p.cmd && !is_batchable(*p.cmd)) error = "only configuration commands can be batched";
        if (!error.empty()) {
            c.batch_refused = true;
            return reply::failure(error).to_json().dump();
        }
        c.batch.push_back(std::move(*p.cmd));
        return kQueued;
    }
    switch (batch->action) {
        case cmd_batch::op::begin:
            c.batch_refused = true;
            return reply::failure("a batch is already in progress").to_json().dump();
        case cmd_batch::op::abort:
            c.in_batch = false;
            c.batch.clear();
            return reply{}.to_json().dump();
        case cmd_batch::op::commit: {
            c.in_batch = false;
            std::vector<command> cmds = std::move(c.batch);
            c.batch.clear();
            if (c.batch_refused)
                return reply::failure("the batch has refused commands; nothing applied")
                    .to_json()
                    .dump();
            std::string out = ex.execute_batch(cmds).to_json().dump();
            // A large batch's commands and undo and publish steps (a few hundred bytes per
            // command) are free now, but malloc keeps them (they lie between the model's
            // tables, which grew meanwhile): hand them back to the system.
            const bool large = cmds.size() >= kTrimAfterCommands;
            std::vector<command>().swap(cmds);
            std::vector<command>().swap(c.batch);
            if (large) malloc_trim(0);
            return out;
        }
    }
    return {};
}

void control_server::write_client(client &c) {
    while (!c.out.empty()) {
        ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            c.out.clear();
            c.closing = true;
            return;
        }
        c.out.erase(0, size_t(n));
    }
}

void control_server::send_events(slow_path &slow) {
    for (const arrival_event &e : slow.arrivals().take_events()) {
        SSW_LOG(INFO, "arrival of {} ({}) on port {} by {}, {} ms after the watch",
                e.vm.to_string(), e.mac.to_string(), e.port, to_string(e.via), e.waited_ms);
        const std::string line = event_line(e);
        for (auto &c : clients_) {
            if (!c.events || c.closing) continue;
            if (c.out.size() > kMaxEventBacklog) {
                c.out.clear();
                c.closing = true;
                continue;
            }
            queue_reply(c, line);
        }
    }
}

void control_server::run(router &r, executor &ex) {
    slow_path &slow = r.slow();
    std::vector<pollfd> fds;
    while (!r.stopping()) {
        fds.clear();
        fds.push_back({listen_fd_, POLLIN, 0});
        fds.push_back({slow.wake_fd(), POLLIN, 0});
        for (const auto &w : wakeups_) fds.push_back({w.first, POLLIN, 0});
        const size_t first_client = fds.size();
        for (auto &c : clients_)
            fds.push_back({c.fd, short(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});

        // Block only when no punt is waiting; wake for the next timer, and at least every
        // 100 ms to notice a stop request.
        int timeout = slow.prepare_to_wait() ? slow.timeout_ms(100) : 0;
        poll(fds.data(), fds.size(), timeout);
        slow.done_waiting();

        while (slow.poll() > 0) {
        }
        slow.tick();
        r.rcu().reclaim();
        send_events(slow);

        for (size_t w = 0; w < wakeups_.size(); ++w)
            if (fds[2 + w].revents & POLLIN) wakeups_[w].second();
        if (fds[0].revents & POLLIN) accept_clients();
        for (size_t i = 0; i < clients_.size(); ++i) {
            client &c = clients_[i];
            const size_t k = first_client + i;
            short rev = k < fds.size() && fds[k].fd == c.fd ? fds[k].revents : 0;
            if (!c.closing && (rev & (POLLIN | POLLHUP | POLLERR))) read_client(c, ex);
            write_client(c);
        }
        if (limits_.idle_timeout_s) {
            const uint64_t now = slow_path::now_ms();
            for (auto &c : clients_) {
                if (c.closing || c.events ||
                    now - c.last_active_ms < uint64_t(limits_.idle_timeout_s) * 1000)
                    continue;
                queue_reply(c, reply::failure(fmt::format("idle for {} s: closing the connection",
                                                          limits_.idle_timeout_s))
                                   .to_json()
                                   .dump());
                c.closing = true;
                write_client(c);
            }
        }
        for (size_t i = 0; i < clients_.size();) {
            if (clients_[i].closing && clients_[i].out.empty()) {
                close(clients_[i].fd);
                clients_.erase(clients_.begin() + long(i));
            } else {
                ++i;
            }
        }
    }
}

}  // namespace ssw
