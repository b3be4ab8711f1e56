// A client of a router's control socket: one command line out, one JSON reply line back.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace ssw {

class control_client {
public:
    control_client() = default;
    control_client(const control_client &) = delete;
    control_client &operator=(const control_client &) = delete;
    control_client(control_client &&o) noexcept : fd_(o.fd_), buf_(std::move(o.buf_)) { o.fd_ = -1; }
    ~control_client();

    // Connects to `path`, waiting at most timeout_ms for the socket to answer.
    bool connect(const std::string &path, std::string &error, int timeout_ms = 5000);
    // Sends one command and waits for its reply. nullopt (with error) when the connection
    // fails or the reply is not JSON.
    std::optional<nlohmann::ordered_json> call(const std::string &command, std::string &error,
                                               int timeout_ms = 30000);

private:
    int fd_ = -1;
    std::string buf_;
};

}  // namespace ssw
