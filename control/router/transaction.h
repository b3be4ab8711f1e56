// A transaction's two logs (docs/DESIGN.md §5): for every change a command made to the
// control model, how to undo it; and for every change the dataplane must see, the update to
// publish once the whole command (or batch) is accepted. Both are typed records, not
// closures: a staged binding costs its two records and two steps, about 36 bytes, where a
// pair of std::function (each with a heap block for its captures) cost about 200.
#pragma once

#include <cstdint>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "control/protocol/command.h"
#include "control/router/model.h"

namespace ssw {

// Records of the types Ts, in the order they were pushed. Each type's records sit in an
// array of their own (a small record is not padded to the largest); the order is one 8-byte
// step per record.
template <typename... Ts>
class typed_log {
public:
    template <typename T>
    void push(T record) {
        auto &items = std::get<std::vector<T>>(items_);
        steps_.push_back({index_of<T, Ts...>(), uint32_t(items.size())});
        items.push_back(std::move(record));
    }
    // Room for n more records of type T, for a batch that knows what it will stage.
    template <typename T>
    void reserve(size_t n) {
        std::get<std::vector<T>>(items_).reserve(std::get<std::vector<T>>(items_).size() + n);
    }
    void reserve_steps(size_t n) { steps_.reserve(steps_.size() + n); }

    size_t size() const { return steps_.size(); }
    // f(record) for the i-th record, whatever its type.
    template <typename F>
    void visit(size_t i, F &&f) const {
        visit_step(steps_[i], f, std::index_sequence_for<Ts...>{});
    }
    // The i-th record if it is a T, else null.
    template <typename T>
    const T *get_if(size_t i) const {
        const step s = steps_[i];
        if (s.type != index_of<T, Ts...>()) return nullptr;
        return &std::get<std::vector<T>>(items_)[s.index];
    }
    template <typename F>
    void for_each_reverse(F &&f) const {
        for (size_t i = steps_.size(); i-- > 0;) visit(i, f);
    }
    // Empties the log and gives its memory back.
    void clear() {
        steps_ = {};
        std::apply([](auto &...items) { ((items = {}), ...); }, items_);
    }

private:
    struct step {
        uint32_t type;
        uint32_t index;
    };
    template <typename T, typename U, typename... Us>
    static constexpr uint32_t index_of() {
        if constexpr (std::is_same_v<T, U>)
            return 0;
        else
            return 1 + index_of<T, Us...>();
    }
    template <typename F, size_t... I>
    void visit_step(step s, F &f, std::index_sequence<I...>) const {
        ((s.type == I ? (f(std::get<I>(items_)[s.index]), 0) : 0), ...);
    }

    std::vector<step> steps_;
    std::tuple<std::vector<Ts>...> items_;
};

// How to undo one change of the control model.
namespace undo {
struct route {  // the route at `prefix` before (none: it was added)
    ip4_prefix prefix;
    std::optional<route_entry> before;
};
struct address_added {
    uint16_t port;
};
struct address_removed {
    uint16_t port;
    uint32_t pos;
    interface_address ia;
};
struct static_neighbor {  // the static entry for `ip` before (none: it was added)
    ip4_addr ip;
    std::optional<std::pair<mac_addr, uint16_t>> before;
};
struct port {
    uint16_t port;
    port_settings before;
};
struct binding_added {  // a binding where there was none, nor a deleted epoch
    uint32_t home;
    uint32_t care_of;
};
struct binding_replaced {  // any other binding set: what was there before
    uint32_t home;
    uint32_t care_of;
    std::optional<binding_entry> before;
    std::optional<uint64_t> before_deleted;
};
struct binding_removed {
    binding_entry before;
    std::optional<uint64_t> before_deleted;
};
struct withdrawal {  // a delete of an absent binding: only its deleted epoch moved
    uint32_t home;
    std::optional<uint64_t> before_deleted;
};
struct proxy {
    bool added;
    uint16_t port;
    ip4_prefix prefix;
};
struct arrival {  // a watch set or removed: the one before, if any
    ip4_addr vm;
    std::optional<arrival_spec> before;
};
}  // namespace undo

using undo_log =
    typed_log<undo::route, undo::address_added, undo::address_removed, undo::static_neighbor,
              undo::port, undo::binding_added, undo::binding_replaced, undo::binding_removed,
              undo::withdrawal, undo::proxy, undo::arrival>;

// One update of the dataplane's tables, published after the transaction is accepted.
namespace publish {
struct route_set {
    ip4_prefix prefix;
    next_hop nh;
};
struct route_remove {
    ip4_prefix prefix;
};
struct address_add {
    uint16_t port;
    interface_address ia;
};
struct address_remove {
    uint16_t port;
    interface_address ia;
};
struct neighbor_static {
    ip4_addr ip;
    mac_addr mac;
    uint16_t port;
};
struct neighbor_remove {
    ip4_addr ip;
};
struct neighbor_forget_learned {  // a VM left this router's segment
    ip4_addr ip;
};
struct port_mtu {
    uint16_t port;
    uint16_t mtu;
};
struct port_role_set {
    uint16_t port;
    port_role role;
};
struct port_redirects {
    uint16_t port;
    bool on;
};
struct binding_set {
    binding b;
};
struct binding_remove {
    ip4_addr home;
    bool local;
};
struct proxy {
    bool add;
    uint16_t port;
    ip4_prefix prefix;
};
struct announce {
    cmd_announce c;
};
struct arrival {  // watch (spec) or unwatch (none)
    ip4_addr vm;
    std::optional<arrival_spec> spec;
};
}  // namespace publish

using publish_log =
    typed_log<publish::route_set, publish::route_remove, publish::address_add,
              publish::address_remove, publish::neighbor_static, publish::neighbor_remove,
              publish::neighbor_forget_learned, publish::port_mtu, publish::port_role_set,
              publish::port_redirects, publish::binding_set, publish::binding_remove,
              publish::proxy, publish::announce, publish::arrival>;

// Changes staged by one or more commands, not yet visible to the dataplane.
struct transaction {
    undo_log undo;        // model changes, undone in reverse on a refusal
    publish_log publish;  // dataplane updates, published in order on acceptance
};

}  // namespace ssw
