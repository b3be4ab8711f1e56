// Watches: one Watch stream per watch, read by a thread of its own into a queue that next()
// takes from.
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "control/etcd/etcd_client.h"
#include "control/etcd/etcd_connection.h"

namespace ssw::etcd {

using stream_type =
    grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>;

struct watch::impl {
    std::shared_ptr<detail::connection> conn;
    const detail::member *m = nullptr;
    int64_t start_revision = 0;
    grpc::ClientContext ctx;
    std::unique_ptr<stream_type> stream;
    std::thread reader;

    mutable std::mutex mu;
    std::condition_variable cv;
    std::deque<etcdserverpb::WatchResponse> queue;
    bool created = false;
    bool stream_ended = false;  // the reader is done
    grpc::Status stream_status;
    bool canceled = false;  // by cancel()
    bool done = false;      // the end is (or is about to be) reported by next()
    std::string error;
    bool compacted = false;
    int64_t compact_revision = 0;
    int64_t last_revision = 0;

    ~impl() {
        cancel();
        if (reader.joinable()) reader.join();
    }
    void cancel() {
        std::lock_guard l(mu);
        canceled = true;
        ctx.TryCancel();
        cv.notify_all();
    }
    void read_all();
    bool absorb(const etcdserverpb::WatchResponse &r, std::vector<watch_event> &events);
};

void watch::impl::read_all() {
    etcdserverpb::WatchResponse resp;
    while (stream->Read(&resp)) {
        std::lock_guard l(mu);
        if (resp.created()) created = true;
        queue.push_back(std::move(resp));
        cv.notify_all();
        resp.Clear();
    }
    grpc::Status status = stream->Finish();
    std::lock_guard l(mu);
    stream_ended = true;
    stream_status = std::move(status);
    cv.notify_all();
}

// One response into `events` and the watch's state; under mu. True for a progress notice.
bool watch::impl::absorb(const etcdserverpb::WatchResponse &r, std::vector<watch_event> &events) {
    if (r.canceled() || r.compact_revision() > 0) {
        done = true;
        if (r.compact_revision() > 0) {
            compacted = true;
            compact_revision = r.compact_revision();
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

watch::watch(std::unique_ptr<impl> p) : impl_(std::move(p)) {}
watch::~watch() = default;

bool watch::next(std::vector<watch_event> &events, int64_t &revision,
                 std::chrono::milliseconds timeout, std::string &error) {
    events.clear();
    auto &w = *impl_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock l(w.mu);
    for (;;) {
        w.cv.wait_until(l, deadline,
                        [&] { return w.canceled || w.done || w.stream_ended || !w.queue.empty(); });
        if (w.canceled) {
            w.done = true;
            error = detail::describe(*w.m, "watch canceled");
            return false;
        }
        bool progress = false;
        while (!w.done && !w.queue.empty()) {
            progress |= w.absorb(w.queue.front(), events);
            w.queue.pop_front();
        }
        if (!w.done && w.stream_ended) {
            w.done = true;
            w.error = detail::describe(*w.m, "watch broken: " + w.stream_status.error_message());
        }
        revision = w.last_revision;
        // Events before the end are delivered first; the next call reports the end.
        if (!events.empty()) return true;
        if (w.done) {
            error = w.error;
            return false;
        }
        if (progress || std::chrono::steady_clock::now() >= deadline) return true;
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
        p->stream = p->m->watch->Watch(&p->ctx);
        if (!p->stream->Write(req)) {
            grpc::Status status = p->stream->Finish();
            failed(detail::describe(*p->m, status));
            if (!detail::worth_another_member(detail::call_kind::read, status)) break;
            conn.failed(i);
            continue;
        }
        p->reader = std::thread(&watch::impl::read_all, p.get());
        std::unique_lock l(p->mu);
        p->cv.wait_for(l, conn.options().request_timeout,
                       [&] { return p->created || p->stream_ended; });
        if (p->created && !p->queue.front().canceled()) {
            l.unlock();
            conn.answered(i);
            return std::make_unique<watch>(std::move(p));
        }
        if (p->created) {  // refused by etcd: no other member would take it
            failed(detail::describe(*p->m, "watch refused: " + p->queue.front().cancel_reason()));
            break;
        }
        bool again = true;
        if (p->stream_ended) {
            failed(detail::describe(*p->m, p->stream_status));
            again = detail::worth_another_member(detail::call_kind::read, p->stream_status);
        } else {
            failed(detail::describe(*p->m, "watch not created in time"));
        }
        l.unlock();
        p.reset();  // cancels the stream and joins its reader
        if (!again) break;
        conn.failed(i);
    }
    error = std::move(errors);
    return nullptr;
}

}  // namespace ssw::etcd
