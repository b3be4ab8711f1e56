#include "control/ctl/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ssw {

control_client::~control_client() {
    if (fd_ >= 0) close(fd_);
}

bool control_client::open() const {
    if (fd_ < 0) return false;
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (poll(&p, 1, 0) < 0) return false;
    if (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) return false;
    if (p.revents & POLLIN) {
        char c;
        return recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;  // 0: the peer closed
    }
    return true;
}

bool control_client::connect(const std::string &path, std::string &error, int timeout_ms) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) {
        error = fmt::format("socket path too long: {}", path);
        return false;
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
        error = fmt::format("socket: {}", strerror(errno));
        return false;
    }
    // The router may be starting: retry a refused or missing socket until the deadline.
    for (int waited = 0;; waited += 50) {
        if (::connect(fd_, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0) return true;
        if ((errno != ECONNREFUSED && errno != ENOENT) || waited >= timeout_ms) break;
        usleep(50 * 1000);
    }
    error = fmt::format("cannot connect to {}: {}", path, strerror(errno));
    close(fd_);
    fd_ = -1;
    return false;
}

bool control_client::send_all(const std::string &data, std::string &error) {
    for (size_t off = 0; off < data.size();) {
        ssize_t n = send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) {
                pollfd p{fd_, POLLOUT, 0};
                poll(&p, 1, 1000);
                continue;
            }
            error = fmt::format("send: {}", strerror(errno));
            return false;
        }
        off += size_t(n);
    }
    return true;
}

// A router that refuses a client (permission, too many clients) replies at once and hangs
// up, possibly before the command was sent: its reason is still waiting to be read.
std::optional<nlohmann::ordered_json> control_client::refusal_after_failed_send() {
    std::string ignored;
    return read_reply(ignored, 100);
}

std::optional<nlohmann::ordered_json> control_client::read_reply(std::string &error,
                                                                 int timeout_ms) {
    size_t nl;
    while ((nl = buf_.find('\n', pos_)) == std::string::npos) {
        // Drop what was consumed before reading more (not per reply: that would be quadratic).
        buf_.erase(0, pos_);
        pos_ = 0;
        pollfd p{fd_, POLLIN, 0};
        int rc = poll(&p, 1, timeout_ms);
        if (rc == 0) {
            error = fmt::format("no reply within {} ms", timeout_ms);
            return std::nullopt;
        }
        char tmp[65536];
        ssize_t n = read(fd_, tmp, sizeof tmp);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            error = n == 0 ? "the router closed the connection"
                           : fmt::format("read: {}", strerror(errno));
            return std::nullopt;
        }
        buf_.append(tmp, size_t(n));
    }
    const std::string_view reply(buf_.data() + pos_, nl - pos_);
    pos_ = nl + 1;
    // The plain acknowledgement (every queued line of a batch) needs no JSON parser.
    if (reply == "{\"ok\":true}") return nlohmann::ordered_json{{"ok", true}};
    try {
        return nlohmann::ordered_json::parse(reply);
    } catch (const nlohmann::json::exception &e) {
        error = fmt::format("malformed reply: {}", e.what());
        return std::nullopt;
    }
}

std::optional<nlohmann::ordered_json> control_client::call(const std::string &command,
                                                           std::string &error, int timeout_ms) {
    if (!send_all(command + "\n", error)) return refusal_after_failed_send();
    return read_reply(error, timeout_ms);
}

std::optional<std::vector<nlohmann::ordered_json>> control_client::call_many(
    const std::vector<std::string> &commands, std::string &error, int timeout_ms) {
    std::vector<nlohmann::ordered_json> replies;
    replies.reserve(commands.size());
    size_t i = 0;
    const bool ok = call_stream(
        [&](std::string &line) {
            if (i == commands.size()) return false;
            line = commands[i++];
            return true;
        },
        [&](size_t, nlohmann::ordered_json &&r) { replies.push_back(std::move(r)); }, error,
        timeout_ms);
    if (!ok) return std::nullopt;
    return replies;
}

bool control_client::call_stream(
    const std::function<bool(std::string &)> &next,
    const std::function<void(size_t, nlohmann::ordered_json &&)> &on_reply, std::string &error,
    int timeout_ms) {
    // Replies are read while sending, so neither side's buffers fill up and stall.
    size_t sent = 0, answered = 0;
    std::string chunk, line;
    bool more = true;
    while (more) {
        more = next(line);
        if (more) {
            chunk += line;
            chunk += '\n';
            ++sent;
        }
        if (chunk.size() < 65536 && more) continue;
        if (!chunk.empty() && !send_all(chunk, error)) {
            if (auto r = refusal_after_failed_send()) error = r->value("error", error);
            return false;
        }
        chunk.clear();
        // Take whatever replies have arrived, without waiting.
        for (;;) {
            pollfd p{fd_, POLLIN, 0};
            if (buf_.find('\n', pos_) == std::string::npos && poll(&p, 1, 0) <= 0) break;
            auto r = read_reply(error, timeout_ms);
            if (!r) return false;
            on_reply(answered++, std::move(*r));
        }
    }
    while (answered < sent) {
        auto r = read_reply(error, timeout_ms);
        if (!r) return false;
        on_reply(answered++, std::move(*r));
    }
    return true;
}

}  // namespace ssw
