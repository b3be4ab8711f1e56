// The key-value calls: get, list (paged), put, del, txn, compact.
#include <utility>

#include "control/etcd/etcd_client.h"
#include "control/etcd/etcd_connection.h"

namespace ssw::etcd {

namespace {

using detail::call_kind;

// Keys per page of a list: bounded responses, and a member is not held up by one huge range.
constexpr int64_t list_page = 1000;

etcdserverpb::Compare to_pb(const compare &c) {
    etcdserverpb::Compare out;
    out.set_key(c.key);
    switch (c.cmp) {
        case compare::op::equal: out.set_result(etcdserverpb::Compare::EQUAL); break;
        case compare::op::not_equal: out.set_result(etcdserverpb::Compare::NOT_EQUAL); break;
        case compare::op::greater: out.set_result(etcdserverpb::Compare::GREATER); break;
        case compare::op::less: out.set_result(etcdserverpb::Compare::LESS); break;
    }
    switch (c.what) {
        case compare::target::version:
            out.set_target(etcdserverpb::Compare::VERSION);
            out.set_version(c.number);
            break;
        case compare::target::create_revision:
            out.set_target(etcdserverpb::Compare::CREATE);
            out.set_create_revision(c.number);
            break;
        case compare::target::mod_revision:
            out.set_target(etcdserverpb::Compare::MOD);
            out.set_mod_revision(c.number);
            break;
        case compare::target::value:
            out.set_target(etcdserverpb::Compare::VALUE);
            out.set_value(c.value);
            break;
        case compare::target::lease:
            out.set_target(etcdserverpb::Compare::LEASE);
            out.set_lease(c.number);
            break;
    }
    return out;
}

etcdserverpb::RequestOp to_pb(const request_op &op) {
    etcdserverpb::RequestOp out;
    switch (op.what) {
        case request_op::kind::put: {
            auto *put = out.mutable_request_put();
            put->set_key(op.key);
            put->set_value(op.value);
            put->set_lease(op.lease);
            break;
        }
        case request_op::kind::del: {
            auto *del = out.mutable_request_delete_range();
            del->set_key(op.key);
            if (op.prefix)
                detail::prefix_range(op.key, *del->mutable_key(), *del->mutable_range_end());
            break;
        }
        case request_op::kind::get: {
            auto *get = out.mutable_request_range();
            get->set_key(op.key);
            if (op.prefix)
                detail::prefix_range(op.key, *get->mutable_key(), *get->mutable_range_end());
            break;
        }
    }
    return out;
}

}  // namespace

bool client::get(const std::string &key, std::optional<key_value> &out, int64_t &revision,
                 std::string &error) {
    etcdserverpb::RangeRequest req;
    req.set_key(key);
    etcdserverpb::RangeResponse resp;
    auto call = [&](detail::member &m, grpc::ClientContext &ctx) {
        return m.kv->Range(&ctx, req, &resp);
    };
    if (!impl_->conn->run(call_kind::read, call, error)) return false;
    out.reset();
    if (resp.kvs_size() > 0) out = detail::from_pb(resp.kvs(0));
    revision = resp.header().revision();
    return true;
}

bool client::list(const std::string &prefix, range_result &out, std::string &error,
                  int64_t at_revision) {
    etcdserverpb::RangeRequest req;
    detail::prefix_range(prefix, *req.mutable_key(), *req.mutable_range_end());
    req.set_limit(list_page);
    req.set_revision(at_revision);
    out.kvs.clear();
    out.revision = at_revision;
    for (;;) {
        etcdserverpb::RangeResponse resp;
        auto call = [&](detail::member &m, grpc::ClientContext &ctx) {
            return m.kv->Range(&ctx, req, &resp);
        };
        if (!impl_->conn->run(call_kind::read, call, error)) return false;
        // Every page at the first page's revision: one consistent view of the prefix.
        if (req.revision() == 0) {
            out.revision = resp.header().revision();
            req.set_revision(out.revision);
        }
        for (const auto &kv : resp.kvs()) out.kvs.push_back(detail::from_pb(kv));
        if (!resp.more() || resp.kvs_size() == 0) return true;
        // The next page starts just after the last key of this one.
        req.set_key(resp.kvs(resp.kvs_size() - 1).key() + '\0');
    }
}

bool client::put(const std::string &key, const std::string &value, int64_t &revision,
                 std::string &error, int64_t lease) {
    etcdserverpb::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    req.set_lease(lease);
    etcdserverpb::PutResponse resp;
    auto call = [&](detail::member &m, grpc::ClientContext &ctx) {
        return m.kv->Put(&ctx, req, &resp);
    };
    if (!impl_->conn->run(call_kind::write, call, error)) return false;
    revision = resp.header().revision();
    return true;
}

bool client::del(const std::string &key, int64_t &revision, std::string &error, bool prefix) {
    etcdserverpb::DeleteRangeRequest req;
    req.set_key(key);
    if (prefix) detail::prefix_range(key, *req.mutable_key(), *req.mutable_range_end());
    etcdserverpb::DeleteRangeResponse resp;
    auto call = [&](detail::member &m, grpc::ClientContext &ctx) {
        return m.kv->DeleteRange(&ctx, req, &resp);
    };
    if (!impl_->conn->run(call_kind::write, call, error)) return false;
    revision = resp.header().revision();
    return true;
}

bool client::txn(const std::vector<compare> &compares, const std::vector<request_op> &success,
                 const std::vector<request_op> &failure, txn_result &out, std::string &error) {
    etcdserverpb::TxnRequest req;
    for (const auto &c : compares) *req.add_compare() = to_pb(c);
    for (const auto &op : success) *req.add_success() = to_pb(op);
    for (const auto &op : failure) *req.add_failure() = to_pb(op);
    etcdserverpb::TxnResponse resp;
    auto call = [&](detail::member &m, grpc::ClientContext &ctx) {
        return m.kv->Txn(&ctx, req, &resp);
    };
    if (!impl_->conn->run(call_kind::write, call, error)) return false;
    out.succeeded = resp.succeeded();
    out.revision = resp.header().revision();
    out.gets.clear();
    for (const auto &r : resp.responses()) {
        if (r.response_case() != etcdserverpb::ResponseOp::kResponseRange) continue;
        auto &kvs = out.gets.emplace_back();
        for (const auto &kv : r.response_range().kvs()) kvs.push_back(detail::from_pb(kv));
    }
    return true;
}

bool client::compact(int64_t revision, std::string &error) {
    etcdserverpb::CompactionRequest req;
    req.set_revision(revision);
    etcdserverpb::CompactionResponse resp;
    auto call = [&](detail::member &m, grpc::ClientContext &ctx) {
        return m.kv->Compact(&ctx, req, &resp);
    };
    return impl_->conn->run(call_kind::write, call, error);
}

}  // namespace ssw::etcd
