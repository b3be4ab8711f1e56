// The client's options, channels and failover (etcd_connection.h); its calls are in
// etcd_kv.cc, etcd_lease.cc and etcd_watch.cc.
#include "control/etcd/etcd_client.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include <absl/synchronization/mutex.h>

#include "control/etcd/etcd_connection.h"

namespace ssw::etcd {

namespace detail {

namespace {

// Keepalive pings find a member that went away without closing its connections (a host down,
// a partition) while a watch or lease stream waits. etcd refuses pings more often than every
// 5 s (--grpc-keepalive-min-time) and pings without a call in progress.
constexpr int keepalive_time_ms = 10000;
constexpr int keepalive_timeout_ms = 5000;
// A member that comes back is tried again within this (gRPC's default grows to 120 s).
constexpr int max_reconnect_backoff_ms = 1000;
// How long a call waits for a failed member to reconnect before it goes to the next one.
constexpr std::chrono::milliseconds failed_member_look{200};

bool read_pem_file(const std::string &path, std::string &out, std::string &error) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        error = "cannot read " + path + ": " + std::strerror(errno);
        return false;
    }
    std::ostringstream s;
    s << in.rdbuf();
    if (in.bad()) {
        error = "cannot read " + path;
        return false;
    }
    out = s.str();
    if (out.find("-----BEGIN ") == std::string::npos) {
        error = path + " is not a PEM file";
        return false;
    }
    return true;
}

enum class scheme { plain, tls };

// "host:port", "http://host:port" or "https://host:port" (a trailing '/' allowed).
bool parse_endpoint(const std::string &endpoint, std::string &address, scheme &s,
                    std::string &error) {
    std::string rest = endpoint;
    s = scheme::plain;
    if (rest.rfind("https://", 0) == 0) {
        s = scheme::tls;
        rest = rest.substr(8);
    } else if (rest.rfind("http://", 0) == 0) {
        rest = rest.substr(7);
    } else if (rest.find("://") != std::string::npos) {
        error = "endpoint " + endpoint + ": the scheme is neither http nor https";
        return false;
    }
    if (!rest.empty() && rest.back() == '/') rest.pop_back();
    const auto colon = rest.rfind(':');
    if (rest.empty() || colon == std::string::npos || colon == 0 || colon + 1 == rest.size() ||
        rest.find('/') != std::string::npos) {
        error = "endpoint " + endpoint + ": not host:port";
        return false;
    }
    address = rest;
    return true;
}

}  // namespace

std::shared_ptr<connection> connection::open(const client_options &o, std::string &error) {
    auto fail = [&](const std::string &why) {
        error = "etcd: " + why;
        return nullptr;
    };
    if (o.endpoints.empty()) return fail("no endpoints");
    if (o.dial_timeout.count() <= 0 || o.request_timeout.count() <= 0)
        return fail("dial_timeout and request_timeout must be positive");
    std::vector<std::string> addresses;
    std::optional<scheme> common;
    for (const auto &e : o.endpoints) {
        std::string address, why;
        scheme s;
        if (!parse_endpoint(e, address, s, why)) return fail(why);
        if (common && *common != s)
            return fail("endpoints mix http and https: " + o.endpoints.front() + ", " + e);
        common = s;
        addresses.push_back(address);
    }
    const bool tls = *common == scheme::tls;
    if (o.cert_file.empty() != o.key_file.empty())
        return fail("cert_file and key_file go together: give both or neither");
    if (!tls && (!o.ca_file.empty() || !o.cert_file.empty()))
        return fail("ca_file, cert_file and key_file are for https endpoints");
    if (tls && o.ca_file.empty()) return fail("https endpoints need ca_file");

    std::shared_ptr<grpc::ChannelCredentials> creds;
    if (tls) {
        grpc::SslCredentialsOptions ssl;
        std::string why;
        if (!read_pem_file(o.ca_file, ssl.pem_root_certs, why) ||
            (!o.cert_file.empty() && (!read_pem_file(o.cert_file, ssl.pem_cert_chain, why) ||
                                      !read_pem_file(o.key_file, ssl.pem_private_key, why))))
            return fail(why);
        creds = grpc::SslCredentials(ssl);
    } else {
        creds = grpc::InsecureChannelCredentials();
    }

    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_reconnect_backoff_ms);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, keepalive_time_ms);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, keepalive_timeout_ms);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
    args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
    // etcd's responses can be large (a page of a list, a watch's catch-up).
    args.SetMaxReceiveMessageSize(-1);

    std::shared_ptr<connection> c(new connection());
    c->options_ = o;
    for (const auto &address : addresses) {
        auto m = std::make_unique<member>();
        m->address = address;
        m->channel = grpc::CreateCustomChannel(address, creds, args);
        m->kv = etcdserverpb::KV::NewStub(m->channel);
        m->lease = etcdserverpb::Lease::NewStub(m->channel);
        m->watch = etcdserverpb::Watch::NewStub(m->channel);
        c->members_.push_back(std::move(m));
    }
    return c;
}

// gRPC connects a channel in the background but completes a connection only while a thread
// polls the channel: a call in progress, a state watch, or its backup poller every 5 s. A
// call on a channel in TRANSIENT_FAILURE fails at once and polls nothing, so a member that
// has come back would be found late. Watching the state here drives the attempts: a
// connection in progress gets up to the dial timeout; a failed channel a short look for a
// reconnection (gRPC retries within max_reconnect_backoff_ms), then the call fails with
// gRPC's reason and goes to the next member.
grpc::Status connection::dial(const member &m, std::chrono::milliseconds timeout) const {
    grpc_connectivity_state s = m.channel->GetState(true);
    if (s == GRPC_CHANNEL_READY) return grpc::Status::OK;
    if (timeout.count() <= 0) timeout = options_.dial_timeout;
    const auto now = std::chrono::system_clock::now();
    if (s == GRPC_CHANNEL_TRANSIENT_FAILURE) {
        const auto look = now + std::min(timeout, failed_member_look);
        while (s == GRPC_CHANNEL_TRANSIENT_FAILURE && m.channel->WaitForStateChange(s, look))
            s = m.channel->GetState(true);
        if (s == GRPC_CHANNEL_TRANSIENT_FAILURE) return grpc::Status::OK;
    }
    const auto deadline = now + timeout;
    while (s == GRPC_CHANNEL_IDLE || s == GRPC_CHANNEL_CONNECTING) {
        if (!m.channel->WaitForStateChange(s, deadline))
            return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                "no connection within " + std::to_string(timeout.count()) + " ms");
        s = m.channel->GetState(true);
    }
    return grpc::Status::OK;
}

std::unique_ptr<grpc::ClientContext> connection::context(std::chrono::milliseconds timeout) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + timeout);
    return ctx;
}

bool worth_another_member(call_kind kind, const grpc::Status &status) {
    switch (status.error_code()) {
        case grpc::StatusCode::UNAVAILABLE: {
            if (kind == call_kind::read) return true;
            const std::string &m = status.error_message();
            return m.rfind("etcdserver: ", 0) != 0 || m == "etcdserver: no leader";
        }
        case grpc::StatusCode::DEADLINE_EXCEEDED: return kind == call_kind::read;
        default: return false;
    }
}

std::string describe(const member &m, const std::string &what) {
    return "etcd " + m.address + ": " + what;
}

std::string describe(const member &m, const grpc::Status &status) {
    std::string what = status.error_message();
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
        what = "no answer in time (" + what + ")";
    else if (what.empty())
        what = "gRPC status " + std::to_string(static_cast<int>(status.error_code()));
    return describe(m, what);
}

void prefix_range(const std::string &prefix, std::string &key, std::string &range_end) {
    if (prefix.empty()) {
        key = std::string(1, '\0');
        range_end = key;
        return;
    }
    key = prefix;
    range_end = prefix_end(prefix);
}

key_value from_pb(const mvccpb::KeyValue &kv) {
    key_value out;
    out.key = kv.key();
    out.value = kv.value();
    out.create_revision = kv.create_revision();
    out.mod_revision = kv.mod_revision();
    out.version = kv.version();
    out.lease = kv.lease();
    return out;
}

}  // namespace detail

std::string prefix_end(const std::string &prefix) {
    std::string end = prefix;
    while (!end.empty()) {
        auto &last = reinterpret_cast<unsigned char &>(end.back());
        if (last < 0xff) {
            ++last;
            return end;
        }
        end.pop_back();
    }
    // Every byte is 0xff (or there is none): no end, every key from `prefix` on.
    return std::string(1, '\0');
}

std::unique_ptr<client> client::create(const client_options &o, std::string &error) {
    // Debian's abseil is built with deadlock detection on: every absl::Mutex gRPC takes
    // records the lock order in a graph (about a tenth of an agent's time per event, by
    // perf). A check for debugging lock order, not for production: off.
    absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
    auto conn = detail::connection::open(o, error);
    if (!conn) return nullptr;
    auto p = std::make_unique<impl>();
    p->conn = std::move(conn);
    return std::unique_ptr<client>(new client(std::move(p)));
}

client::client(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
client::~client() = default;

const client_options &client::options() const { return impl_->conn->options(); }

}  // namespace ssw::etcd
