// The control socket and the control thread's loop. A Unix stream socket; each line a client
// sends is one command, answered by one line of JSON ({"ok":true,"data":...} or
// {"ok":false,"error":"..."}); a connection that sent `events` also receives the router's
// events ({"event":"arrival",...}) as they happen. The same loop runs the slow path, so it never
// blocks on a client: sockets are non-blocking and replies are buffered.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "control/protocol/command.h"

namespace ssw {

class router;
class executor;
class slow_path;

struct control_limits {
    size_t max_line = 64 * 1024;  // bytes in one command
    size_t max_clients = 64;
    unsigned idle_timeout_s = 300;  // a client silent this long is disconnected; 0: never
};

// Who may use the socket: root, the router's own user, and members of `group` (the socket
// file belongs to it, mode 0660). Checked from the peer's credentials (SO_PEERCRED), so a
// socket file made world-writable by mistake still admits nobody else.
struct control_access {
    std::string group;  // empty: the router's group
};

class control_server {
public:
    ~control_server();
    // Binds and listens on `path`. Refuses when another process answers on it; removes a
    // stale socket file left by a process that died.
    bool open(const std::string &path, const control_limits &limits, const control_access &access,
              std::string &error);
    // Serves clients and runs the slow path until the router stops.
    void run(router &r, executor &ex);
    // Also wakes for `fd` and then calls `fn` on the control thread (e.g. telemetry).
    void add_wakeup(int fd, std::function<void()> fn) { wakeups_.emplace_back(fd, std::move(fn)); }

private:
    struct client {
        int fd = -1;
        std::string in;
        std::string out;
        bool closing = false;  // close once `out` is written
        // Between `batch begin` and `batch commit`: the commands queued, and whether one was
        // refused (then the commit is refused whole).
        uint64_t last_active_ms = 0;
        bool events = false;  // sent `events`: arrivals are queued to it as they happen
        bool in_batch = false;
        bool batch_refused = false;
        std::vector<command> batch;
    };
    std::string handle_line(client &c, std::string_view line, executor &ex);
    void accept_clients();
    // Empty when the peer may use the socket; else why not.
    std::string check_peer(int fd) const;
    void read_client(client &c, executor &ex);
    void write_client(client &c);
    void queue_reply(client &c, const std::string &line);
    // Queues the arrivals the slow path saw since the last call to every events subscriber.
    void send_events(slow_path &slow);

    int listen_fd_ = -1;
    std::string path_;
    control_limits limits_;
    unsigned gid_ = 0;  // the socket's group
    std::vector<client> clients_;
    std::vector<std::pair<int, std::function<void()>>> wakeups_;
};

}  // namespace ssw
