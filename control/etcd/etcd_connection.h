// The channels of an etcd client to its cluster's members, and the failover that every call
// goes through (etcd_client.h). Internal to control/etcd: the only header that includes the
// generated stubs. Leases and watches hold the connection too, so they outlive their client.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "control/etcd/etcd_client.h"
#include "rpc.grpc.pb.h"

namespace ssw::etcd::detail {

struct member {
    std::string address;  // host:port, as errors name it
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Lease::Stub> lease;
    std::unique_ptr<etcdserverpb::Watch::Stub> watch;
};

// Which failures send a call on to the next member. A read: UNAVAILABLE or a missed deadline.
// A write: gRPC's UNAVAILABLE only (no connection, or the connection broke under the call),
// not etcd's own UNAVAILABLE answers ("etcdserver: request timed out", "leader changed"),
// after which the write may have been applied, nor a missed deadline; etcd's "no leader" is a
// refusal and safe to repeat. A member that applied a write and died before answering would
// see it repeated: a put then writes twice, and a transaction's compares fail the second time.
enum class call_kind { read, write };
bool worth_another_member(call_kind kind, const grpc::Status &status);

// "etcd 127.0.0.1:2379: failed to connect to all addresses".
std::string describe(const member &m, const grpc::Status &status);
std::string describe(const member &m, const std::string &what);

class connection {
public:
    // Checks the options, reads the TLS files and builds one channel per endpoint (it does not
    // connect). nullptr with a message when the options are wrong.
    static std::shared_ptr<connection> open(const client_options &o, std::string &error);

    const client_options &options() const { return options_; }
    std::size_t size() const { return members_.size(); }
    const member &at(std::size_t i) const { return *members_[i]; }

    // The member calls go to first: the last one that answered.
    std::size_t current() const { return current_.load(std::memory_order_relaxed); }
    void answered(std::size_t i) { current_.store(i, std::memory_order_relaxed); }
    // Member i failed: the next call starts at the member after it (unless another call has
    // moved on already).
    void failed(std::size_t i) {
        std::size_t expected = i;
        current_.compare_exchange_strong(expected, (i + 1) % members_.size(),
                                         std::memory_order_relaxed);
    }

    // Connects member m's channel if it is not, waiting up to dial_timeout: OK when it is
    // ready, or when the attempt failed (the call then fails at once with gRPC's reason);
    // UNAVAILABLE when no attempt ended in time. `timeout` 0: dial_timeout.
    grpc::Status dial(const member &m, std::chrono::milliseconds timeout = {}) const;

    // A context for one call, with its deadline.
    static std::unique_ptr<grpc::ClientContext> context(std::chrono::milliseconds timeout);

    // Runs `call(member, context)` (returning a grpc::Status) on the current member, then on the
    // next ones while the failure is worth another member, each at most once, each bounded by
    // `timeout` (0: request_timeout). False with every member's error when none succeeded.
    template <class Call>
    bool run(call_kind kind, Call &&call, std::string &error,
             std::chrono::milliseconds timeout = {}) {
        if (timeout.count() <= 0) timeout = options_.request_timeout;
        std::string errors;
        const std::size_t start = current();
        for (std::size_t n = 0; n < members_.size(); ++n) {
            const std::size_t i = (start + n) % members_.size();
            grpc::Status status = dial(*members_[i]);
            if (status.ok()) {
                auto ctx = context(timeout);
                status = call(*members_[i], *ctx);
            }
            if (status.ok()) {
                answered(i);
                return true;
            }
            if (!errors.empty()) errors += "; ";
            errors += describe(*members_[i], status);
            if (!worth_another_member(kind, status)) break;
            failed(i);
        }
        error = std::move(errors);
        return false;
    }

private:
    connection() = default;

    client_options options_;
    std::vector<std::unique_ptr<member>> members_;
    std::atomic<std::size_t> current_{0};
};

// The range [key, range_end) of every key under `prefix` ("\0", "\0" for all keys: etcd wants
// a non-empty key).
void prefix_range(const std::string &prefix, std::string &key, std::string &range_end);

key_value from_pb(const mvccpb::KeyValue &kv);

}  // namespace ssw::etcd::detail

namespace ssw::etcd {

struct client::impl {
    std::shared_ptr<detail::connection> conn;
};

}  // namespace ssw::etcd
