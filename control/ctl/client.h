// A client of a router's control socket: one command line out, one JSON reply line back.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ssw {

class control_client {
public:
    control_client() = default;
    control_client(const control_client &) = delete;
    control_client &operator=(const control_client &) = delete;
    control_client(control_client &&o) noexcept
        : fd_(o.fd_), buf_(std::move(o.buf_)), pos_(o.pos_) {
        o.fd_ = -1;
    }
    ~control_client();

    // Connects to `path`, waiting at most timeout_ms for the socket to answer.
    bool connect(const std::string &path, std::string &error, int timeout_ms = 5000);
    // Sends one command and waits for its reply. nullopt (with error) when the connection
    // fails or the reply is not JSON.
    std::optional<nlohmann::ordered_json> call(const std::string &command, std::string &error,
                                               int timeout_ms = 30000);

    // Sends every command, then reads one reply per command (pipelined: a batch of 100k
    // lines costs no round trip each). nullopt on a connection error.
    std::optional<std::vector<nlohmann::ordered_json>> call_many(
        const std::vector<std::string> &commands, std::string &error, int timeout_ms = 60000);
    // call_many without holding the commands or the replies: next(line) yields the commands
    // one by one (false: no more), on_reply(i, reply) gets the reply to the i-th as it
    // arrives, in order. Memory stays bounded however long the stream (a /8 of bindings is
    // 16M lines). False on a connection error.
    bool call_stream(const std::function<bool(std::string &)> &next,
                     const std::function<void(size_t, nlohmann::ordered_json &&)> &on_reply,
                     std::string &error, int timeout_ms = 60000);

    // The next line the router sends (after `events`: an event, or the reply to a command
    // sent since). nullopt with an error on a timeout (the connection stays open()) or when
    // the connection fails.
    std::optional<nlohmann::ordered_json> next_line(std::string &error, int timeout_ms) {
        return read_reply(error, timeout_ms);
    }

    // True when connected and the router has not closed its end (it stopped or restarted):
    // a check that does not wait.
    bool open() const;

private:
    bool send_all(const std::string &data, std::string &error);
    std::optional<nlohmann::ordered_json> read_reply(std::string &error, int timeout_ms);
    std::optional<nlohmann::ordered_json> refusal_after_failed_send();

    int fd_ = -1;
    std::string buf_;  // received, not yet returned from buf_[pos_] on
    size_t pos_ = 0;
};

}  // namespace ssw
