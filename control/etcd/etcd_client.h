// A client of etcd v3 (KV, transactions, leases, watches) over gRPC, for ssw-agent and sswctl
// (docs/DESIGN.md §6.2). The stubs are generated at build time from etcd's own .proto files, as
// Debian ships them (control/etcd/meson.build). No DPDK.
//
// Endpoints: several members of one cluster; a request that finds its member unreachable is
// sent to the next one, each member tried once per call (reads also after a missed deadline;
// writes only on gRPC's UNAVAILABLE, not after etcd's own "request timed out": see
// etcd_connection.h).
// TLS: an "https://" endpoint, with the cluster's CA and, for client-certificate
// authentication, a certificate and key. Every call is synchronous; on each member it tries,
// it waits up to options.dial_timeout for a connection and options.request_timeout for the
// answer. On failure it returns false with a message naming the member and the cause. A
// client is safe to use from several threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ssw::etcd {

struct client_options {
    // "host:port", "http://host:port" or "https://host:port"; all of one scheme.
    std::vector<std::string> endpoints;
    std::string ca_file;    // PEM; required for https
    std::string cert_file;  // PEM client certificate; with key_file, or neither
    std::string key_file;
    std::chrono::milliseconds dial_timeout{2000};
    std::chrono::milliseconds request_timeout{5000};
};

struct key_value {
    std::string key, value;
    int64_t create_revision = 0, mod_revision = 0, version = 0, lease = 0;
};

// A condition of a transaction on one key's create/mod revision, version or value.
struct compare {
    enum class target { version, create_revision, mod_revision, value, lease };
    enum class op { equal, not_equal, greater, less };
    std::string key;
    target what = target::mod_revision;
    op cmp = op::equal;
    int64_t number = 0;  // for every target but value
    std::string value;   // for target::value

    // The key does not exist (its create revision is 0).
    static compare absent(std::string key) {
        return {std::move(key), target::create_revision, op::equal, 0, {}};
    }
    // The key was last written at `rev` (0: it does not exist).
    static compare mod_is(std::string key, int64_t rev) {
        return {std::move(key), target::mod_revision, op::equal, rev, {}};
    }
};

// An operation of a transaction.
struct request_op {
    enum class kind { put, del, get };
    kind what = kind::put;
    std::string key, value;
    int64_t lease = 0;    // put: attach to this lease (0: none)
    bool prefix = false;  // del, get: every key that starts with `key`

    static request_op put(std::string k, std::string v, int64_t lease = 0) {
        return {kind::put, std::move(k), std::move(v), lease, false};
    }
    static request_op del(std::string k, bool prefix = false) {
        return {kind::del, std::move(k), {}, 0, prefix};
    }
    static request_op get(std::string k, bool prefix = false) {
        return {kind::get, std::move(k), {}, 0, prefix};
    }
};

struct txn_result {
    bool succeeded = false;  // the compares held: the success ops ran, else the failure ops
    int64_t revision = 0;    // the store's revision after the transaction
    std::vector<std::vector<key_value>> gets;  // one per get op that ran, in order
};

struct range_result {
    int64_t revision = 0;  // the revision the range was read at
    std::vector<key_value> kvs;
};

struct watch_event {
    enum class type { put, del };
    type what = type::put;
    key_value kv;  // for del: the key and the deletion's mod_revision
};

class client;

// A watch on a key prefix from a start revision. next() delivers events in revision order.
// When the store has compacted past the revision the watch needs, next() fails with
// compacted() true and compact_revision() set: list again, then watch from the list's
// revision + 1. When the member goes away or loses its leader, next() fails too (broken):
// watch again from the last revision seen + 1, which reaches another member.
class watch {
public:
    ~watch();
    watch(const watch &) = delete;
    watch &operator=(const watch &) = delete;

    // Waits up to `timeout` for events. True with events (possibly none, on timeout or a
    // progress notice); `revision` is then the newest revision the watch has seen. False when
    // the watch ended: see compacted() and the error.
    bool next(std::vector<watch_event> &events, int64_t &revision,
              std::chrono::milliseconds timeout, std::string &error);
    bool compacted() const;
    int64_t compact_revision() const;
    // Ends the watch now; a next() in another thread returns false.
    void cancel();

    struct impl;
    explicit watch(std::unique_ptr<impl> p);

private:
    std::unique_ptr<impl> impl_;
};

// A lease kept alive by a thread of its own until it is dropped (then revoked) or the store
// cannot be reached for longer than its TTL (then alive() turns false: the keys on it are gone).
class lease {
public:
    ~lease();  // revokes it: the keys on it go at once
    lease(const lease &) = delete;
    lease &operator=(const lease &) = delete;

    int64_t id() const;
    int64_t ttl_seconds() const;
    bool alive() const;

    struct impl;
    explicit lease(std::unique_ptr<impl> p);

private:
    std::unique_ptr<impl> impl_;
};

class client {
public:
    // Checks the options (endpoints, files readable) and builds channels; does not wait for a
    // member. nullptr with a message when the options are wrong.
    static std::unique_ptr<client> create(const client_options &o, std::string &error);
    ~client();
    client(const client &) = delete;
    client &operator=(const client &) = delete;

    // One key; `out` empty when absent. `revision`: the store's revision the read saw.
    bool get(const std::string &key, std::optional<key_value> &out, int64_t &revision,
             std::string &error);
    // Every key under `prefix`, at `at_revision` (0: the newest), in key order, all pages.
    bool list(const std::string &prefix, range_result &out, std::string &error,
              int64_t at_revision = 0);
    bool put(const std::string &key, const std::string &value, int64_t &revision,
             std::string &error, int64_t lease = 0);
    bool del(const std::string &key, int64_t &revision, std::string &error, bool prefix = false);
    bool txn(const std::vector<compare> &compares, const std::vector<request_op> &success,
             const std::vector<request_op> &failure, txn_result &out, std::string &error);

    // A lease of `ttl_seconds`, kept alive until the returned object is dropped.
    std::unique_ptr<lease> grant_lease(int64_t ttl_seconds, std::string &error);
    // A lease nobody keeps alive: it ends, with the keys on it, after `ttl_seconds`.
    bool grant_expiring_lease(int64_t ttl_seconds, int64_t &id, std::string &error);
    // Seconds a lease has left; -1 when it has expired or never existed.
    bool lease_time_to_live(int64_t id, int64_t &seconds, std::string &error);

    // Watches every key under `prefix` from `start_revision`.
    std::unique_ptr<watch> watch_prefix(const std::string &prefix, int64_t start_revision,
                                        std::string &error);

    // Compacts the store's history up to `revision` (tests and operations).
    bool compact(int64_t revision, std::string &error);

    const client_options &options() const;

    struct impl;

private:
    explicit client(std::unique_ptr<impl> p);
    bool grant(int64_t ttl_seconds, int64_t &id, int64_t &ttl, std::string &error);
    std::unique_ptr<impl> impl_;
};

// The end of the key range that holds every key starting with `prefix` (etcd's range_end).
std::string prefix_end(const std::string &prefix);

}  // namespace ssw::etcd
