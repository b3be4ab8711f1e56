// Leases: granted, kept alive over a LeaseKeepAlive stream by a thread of their own, revoked
// when dropped.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "control/etcd/etcd_client.h"
#include "control/etcd/etcd_connection.h"

namespace ssw::etcd {

namespace {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Revoking on the way out must not hold up the owner's shutdown for long.
constexpr milliseconds revoke_timeout{1000};

}  // namespace

struct lease::impl {
    std::shared_ptr<detail::connection> conn;
    int64_t id = 0;
    int64_t ttl = 0;               // seconds, as granted
    milliseconds interval{};       // between keepalives: a third of the TTL
    milliseconds response_wait{};  // for the answer to one keepalive

    mutable std::mutex mu;
    std::condition_variable cv;
    bool stopping = false;
    // No keepalive succeeded for a TTL, or the store says the lease is gone; never undone.
    mutable bool dead = false;
    clock::time_point expires;  // the last successful keepalive's send time + its TTL
    grpc::ClientContext *stream_ctx = nullptr;  // the current stream's, to cancel on stop

    ~impl();
    bool dead_locked() const {
        if (!dead && clock::now() >= expires) dead = true;
        return dead;
    }
    void keep();
    bool keep_on(std::size_t i);

    std::thread keeper;
};

lease::impl::~impl() {
    {
        std::lock_guard l(mu);
        stopping = true;
        if (stream_ctx) stream_ctx->TryCancel();
    }
    cv.notify_all();
    if (keeper.joinable()) keeper.join();
    // Best effort: the keys on the lease go now rather than when the TTL runs out.
    etcdserverpb::LeaseRevokeRequest req;
    req.set_id(id);
    etcdserverpb::LeaseRevokeResponse resp;
    std::string error;
    conn->run(
        detail::call_kind::read,
        [&](detail::member &m, grpc::ClientContext &ctx) {
            return m.lease->LeaseRevoke(&ctx, req, &resp);
        },
        error, std::min(revoke_timeout, conn->options().request_timeout));
}

// The keeper thread: a stream on the current member, then on the next one when it fails,
// until the lease is dropped or dead.
void lease::impl::keep() {
    std::size_t i = conn->current();
    for (;;) {
        const bool answered = keep_on(i);
        std::unique_lock l(mu);
        if (stopping || dead_locked()) return;
        conn->failed(i);
        i = (i + 1) % conn->size();
        // Every member failed without an answer: pause before going round again.
        if (!answered)
            cv.wait_for(l, std::min(interval, milliseconds(200)), [&] { return stopping; });
    }
}

// One LeaseKeepAlive stream on member i: a keepalive every `interval`, each answered within
// `response_wait`. Returns when the stream fails, goes unanswered, or the lease is dropped or
// dead; true if any keepalive was answered. On gRPC's asynchronous API, driven by this thread
// only when a keepalive is due: no thread sits in a blocking read, where gRPC would wake it
// for every response of the whole channel (the agent's watch events included).
bool lease::impl::keep_on(std::size_t i) {
    const detail::member &m = conn->at(i);
    if (!conn->dial(m, response_wait).ok()) return false;
    grpc::ClientContext ctx;
    ctx.AddMetadata("hasleader", "true");  // etcd ends the stream if its member has no leader
    {
        std::lock_guard l(mu);
        if (stopping) return false;
        stream_ctx = &ctx;
    }
    grpc::CompletionQueue cq;
    auto stream = m.lease->PrepareAsyncLeaseKeepAlive(&ctx, &cq);
    int pending = 0;  // operations started and not yet completed
    // Waits for the completion of `tag` for up to response_wait; false when it failed or
    // did not come (it is then still pending).
    auto wait_for = [&](void *tag) {
        const auto deadline = std::chrono::system_clock::now() + response_wait;
        for (;;) {
            void *got = nullptr;
            bool ok = false;
            if (cq.AsyncNext(&got, &ok, deadline) != grpc::CompletionQueue::GOT_EVENT) return false;
            --pending;
            if (got == tag) return ok;
        }
    };
    void *const started = &ctx, *const written = &cq, *const read = &pending;  // distinct tags
    stream->StartCall(started);
    ++pending;
    bool answered = false;
    if (wait_for(started)) {
        etcdserverpb::LeaseKeepAliveRequest req;
        req.set_id(id);
        etcdserverpb::LeaseKeepAliveResponse resp;
        for (;;) {
            clock::time_point sent;
            {
                std::lock_guard l(mu);
                if (stopping || dead_locked()) break;
                sent = clock::now();
            }
            stream->Write(req, written);
            ++pending;
            if (!wait_for(written)) break;
            stream->Read(&resp, read);
            ++pending;
            if (!wait_for(read)) break;  // the member does not answer: try another
            std::unique_lock l(mu);
            if (resp.ttl() <= 0)
                dead = true;
            else
                expires = std::max(expires, sent + std::chrono::seconds(resp.ttl()));
            answered = true;
            cv.wait_until(l, sent + interval, [&] { return stopping || dead; });
        }
    }
    ctx.TryCancel();  // every pending operation completes, failed
    void *got = nullptr;
    bool ok = false;
    while (pending > 0 && cq.Next(&got, &ok)) --pending;
    grpc::Status status;
    stream->Finish(&status, &status);
    cq.Next(&got, &ok);
    cq.Shutdown();
    while (cq.Next(&got, &ok)) {
    }
    std::lock_guard l(mu);
    stream_ctx = nullptr;
    return answered;
}

lease::lease(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
lease::~lease() = default;

int64_t lease::id() const { return impl_->id; }
int64_t lease::ttl_seconds() const { return impl_->ttl; }

bool lease::alive() const {
    std::lock_guard l(impl_->mu);
    return !impl_->dead_locked();
}

std::unique_ptr<lease> client::grant_lease(int64_t ttl_seconds, std::string &error) {
    const auto asked = clock::now();
    // Repeating a grant is harmless: a lease granted twice expires unused.
    int64_t id = 0, ttl = 0;
    if (!grant(ttl_seconds, id, ttl, error)) return nullptr;
    auto p = std::make_unique<lease::impl>();
    p->conn = impl_->conn;
    p->id = id;
    p->ttl = ttl;
    const milliseconds ttl_ms = std::chrono::seconds(p->ttl);
    p->interval = std::max(ttl_ms / 3, milliseconds(100));
    p->response_wait =
        std::min(impl_->conn->options().request_timeout, std::max(ttl_ms / 2, milliseconds(200)));
    p->expires = asked + ttl_ms;
    p->keeper = std::thread(&lease::impl::keep, p.get());
    return std::make_unique<lease>(std::move(p));
}

bool client::grant(int64_t ttl_seconds, int64_t &id, int64_t &ttl, std::string &error) {
    etcdserverpb::LeaseGrantRequest req;
    req.set_ttl(ttl_seconds);
    etcdserverpb::LeaseGrantResponse resp;
    auto call = [&](detail::member &m, grpc::ClientContext &ctx) {
        return m.lease->LeaseGrant(&ctx, req, &resp);
    };
    if (!impl_->conn->run(detail::call_kind::read, call, error)) return false;
    if (!resp.error().empty() || resp.ttl() <= 0) {
        error = "etcd: lease not granted: " + (resp.error().empty() ? "TTL 0" : resp.error());
        return false;
    }
    id = resp.id();
    ttl = resp.ttl();
    return true;
}

bool client::grant_expiring_lease(int64_t ttl_seconds, int64_t &id, std::string &error) {
    int64_t ttl = 0;
    return grant(ttl_seconds, id, ttl, error);
}

bool client::lease_time_to_live(int64_t id, int64_t &seconds, std::string &error) {
    etcdserverpb::LeaseTimeToLiveRequest req;
    req.set_id(id);
    etcdserverpb::LeaseTimeToLiveResponse resp;
    auto call = [&](detail::member &m, grpc::ClientContext &ctx) {
        return m.lease->LeaseTimeToLive(&ctx, req, &resp);
    };
    if (!impl_->conn->run(detail::call_kind::read, call, error)) return false;
    seconds = resp.ttl() < 0 ? -1 : resp.ttl();
    return true;
}

}  // namespace ssw::etcd
