// Watches: one Watch stream per watch, on gRPC's asynchronous API with a completion queue of
// its own, which next() drives in the caller's thread: an event costs one wake-up of the
// thread that wants it, not a reader thread's and then the caller's (a hundred agents on one
// machine spent most of their time in those hand-offs).
#include <algorithm>
#include <atomic>
#include <mutex>

#include "control/etcd/etcd_client.h"
#include "control/etcd/etcd_connection.h"

namespace ssw::etcd {

using stream_type =
    grpc::ClientAsyncReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;

namespace {

// What a completion is for: one operation of each kind at a time.
enum tag : intptr_t { kStart = 1, kWrite, kRead, kFinish };
void *as_tag(tag t) { return reinterpret_cast<void *>(t); }

}  // namespace

struct watch::impl {
    std::shared_ptr<detail::connection> conn;
    const detail::member *m = nullptr;
    int64_t start_revision = 0;
    grpc::ClientContext ctx;
    grpc::CompletionQueue cq;
    std::unique_ptr<stream_type> stream;
    etcdserverpb::WatchResponse resp;  // what the outstanding read fills
    bool reading = false;              // a read is outstanding
    bool finishing = false;            // Finish() was called, its completion not yet seen
    bool stream_ended = false;         // Finish() completed: stream_status says why
    grpc::Status stream_status;

    std::atomic<bool> canceled{false};  // by cancel(), from any thread
    bool done = false;                  // the end is (or is about to be) reported by next()
    std::string error;
    int64_t last_revision = 0;
    mutable std::mutex mu;  // compacted and compact_revision, read from other threads
    bool compacted = false;
    int64_t compact_revision = 0;

    ~impl() {
        ctx.TryCancel();
        // Every operation started must complete before the queue goes.
        using clock = std::chrono::system_clock;
        while ((reading || finishing) && pump(clock::now() + std::chrono::seconds(5))) {
        }
        if (stream && !stream_ended && !finishing) {
            stream->Finish(&stream_status, as_tag(kFinish));
            finishing = true;
            while (finishing && pump(clock::now() + std::chrono::seconds(5))) {
            }
        }
        cq.Shutdown();
        void *t;
        bool ok;
        while (cq.Next(&t, &ok)) {
        }
    }
    void cancel() {
        canceled = true;
        ctx.TryCancel();
    }
    // Waits until `deadline` for one completion and handles it; false on timeout. A read
    // completed leaves its response in `resp` with `got` set; a failed read starts Finish().
    bool pump(std::chrono::system_clock::time_point deadline, bool *got = nullptr) {
        void *t = nullptr;
        bool ok = false;
        if (cq.AsyncNext(&t, &ok, deadline) != grpc::CompletionQueue::GOT_EVENT) return false;
        switch (reinterpret_cast<intptr_t>(t)) {
            case kRead:
                reading = false;
                if (ok) {
                    if (got) *got = true;
                } else {
                    stream->Finish(&stream_status, as_tag(kFinish));
                    finishing = true;
                }
                break;
            case kFinish:
                finishing = false;
                stream_ended = true;
                break;
            default:  // kStart and kWrite: waited for by start()
                if (got) *got = ok;
                break;
        }
        return true;
    }
    void read() {
        resp.Clear();
        stream->Read(&resp, as_tag(kRead));
        reading = true;
    }
    // Starts the call and sends the create request; then reads until etcd confirms.
    bool start(const etcdserverpb::WatchRequest &req, std::chrono::milliseconds timeout,
               std::string &why);
    bool absorb(const etcdserverpb::WatchResponse &r, std::vector<watch_event> &events);
};

// One response into `events` and the watch's state. True for a progress notice.
bool watch::impl::absorb(const etcdserverpb::WatchResponse &r, std::vector<watch_event> &events) {
    if (r.canceled() || r.compact_revision() > 0) {
        done = true;
        if (r.compact_revision() > 0) {
            {
                std::lock_guard l(mu);
                compacted = true;
                compact_revision = r.compact_revision();
            }
            error = detail::describe(
                *m, "watch needs revision " + std::to_string(last_revision + 1) +
                        ", history compacted up to revision " + std::to_string(compact_revision));
        } else {
            error = detail::describe(
                *m, "watch canceled by etcd: " +
                        (r.cancel_reason().empty() ? std::string("no reason") : r.cancel_reason()));
        }
        return false;
    }
    // The revision a response vouches for: its events' revisions. The header's revision is
    // the store's, which can be ahead of events still to come while the watch catches up
    // (etcd sends history in batches). Only a progress notice (no events: the watch has
    // caught up) and the creation of a watch from now vouch for the header's revision.
    if (r.created()) {
        if (start_revision == 0) last_revision = std::max(last_revision, r.header().revision());
        return false;
    }
    if (r.events_size() == 0) {
        last_revision = std::max(last_revision, r.header().revision());
        return true;
    }
    for (const auto &e : r.events()) {
        watch_event ev;
        ev.what =
            e.type() == mvccpb::Event::DELETE ? watch_event::type::del : watch_event::type::put;
        ev.kv = detail::from_pb(e.kv());
        last_revision = std::max(last_revision, ev.kv.mod_revision);
        events.push_back(std::move(ev));
    }
    return false;
}

bool watch::impl::start(const etcdserverpb::WatchRequest &req, std::chrono::milliseconds timeout,
                        std::string &why) {
    const auto deadline = std::chrono::system_clock::now() + timeout;
    auto step = [&](tag t) {  // waits for the start or the write, as it is the only one due
        bool ok = false;
        return pump(deadline, &ok) && ok && t != kRead;
    };
    stream = m->watch->PrepareAsyncWatch(&ctx, &cq);
    stream->StartCall(as_tag(kStart));
    if (!step(kStart)) {
        why = "watch not started in time";
        return false;
    }
    stream->Write(req, as_tag(kWrite));
    if (!step(kWrite)) {
        why = "watch request not sent";
        return false;
    }
    read();
    bool got = false;
    while (!got && !stream_ended && pump(deadline, &got)) {
    }
    if (stream_ended) {
        why = stream_status.error_message();
        return false;
    }
    if (!got || !resp.created()) {
        why = "watch not created in time";
        return false;
    }
    if (resp.canceled()) {
        why = "watch refused: " + resp.cancel_reason();
        return false;
    }
    std::vector<watch_event> none;
    absorb(resp, none);
    return true;
}

watch::watch(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
watch::~watch() = default;

bool watch::next(std::vector<watch_event> &events, int64_t &revision,
                 std::chrono::milliseconds timeout, std::string &error) {
    events.clear();
    auto &w = *impl_;
    const auto deadline = std::chrono::system_clock::now() + timeout;
    for (;;) {
        if (w.canceled) {
            w.done = true;
            error = detail::describe(*w.m, "watch canceled");
            return false;
        }
        if (w.done) {
            error = w.error;
            return false;
        }
        if (w.stream_ended) {
            w.done = true;
            w.error = detail::describe(*w.m, "watch broken: " + w.stream_status.error_message());
            continue;
        }
        if (!w.reading && !w.finishing) w.read();
        bool got = false;
        const bool woke = w.pump(deadline, &got);
        bool progress = false;
        if (got) {
            progress = w.absorb(w.resp, events);
            if (!w.done) w.read();  // the next response, while the caller works
        }
        revision = w.last_revision;
        // Events before the end are delivered first; the next call reports the end.
        if (!events.empty()) return true;
        if (w.done && !w.canceled) {
            error = w.error;
            return false;
        }
        if (progress || !woke) return true;
    }
}

bool watch::compacted() const {
    std::lock_guard l(impl_->mu);
    return impl_->compacted;
}

int64_t watch::compact_revision() const {
    std::lock_guard l(impl_->mu);
    return impl_->compact_revision;
}

void watch::cancel() { impl_->cancel(); }

std::unique_ptr<watch> client::watch_prefix(const std::string &prefix, int64_t start_revision,
                                            std::string &error) {
    auto &conn = *impl_->conn;
    etcdserverpb::WatchRequest req;
    auto *create = req.mutable_create_request();
    detail::prefix_range(prefix, *create->mutable_key(), *create->mutable_range_end());
    create->set_start_revision(start_revision);
    create->set_progress_notify(true);
    create->set_prev_kv(false);

    std::string errors;
    auto failed = [&](const std::string &why) {
        if (!errors.empty()) errors += "; ";
        errors += why;
    };
    const std::size_t start = conn.current();
    for (std::size_t n = 0; n < conn.size(); ++n) {
        const std::size_t i = (start + n) % conn.size();
        auto p = std::make_unique<watch::impl>();
        p->conn = impl_->conn;
        p->m = &conn.at(i);
        p->start_revision = start_revision;
        p->last_revision = start_revision > 0 ? start_revision - 1 : 0;
        // etcd ends the stream when its member has no leader: the watch then breaks instead
        // of going quiet, and the owner watches again through another member.
        p->ctx.AddMetadata("hasleader", "true");
        if (grpc::Status d = conn.dial(*p->m); !d.ok()) {
            failed(detail::describe(*p->m, d));
            conn.failed(i);
            continue;
        }
        std::string why;
        if (p->start(req, conn.options().request_timeout, why)) {
            conn.answered(i);
            return std::make_unique<watch>(std::move(p));
        }
        failed(detail::describe(*p->m, why));
        if (why.starts_with("watch refused")) break;  // by etcd: no other member would take it
        const bool again = !p->stream_ended ||
                           detail::worth_another_member(detail::call_kind::read, p->stream_status);
        p.reset();  // cancels the stream
        if (!again) break;
        conn.failed(i);
    }
    error = std::move(errors);
    return nullptr;
}

}  // namespace ssw::etcd
