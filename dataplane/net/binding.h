// The service switch's value types, shared by the dataplane, the router's control plane,
// the command language and the orchestrator (no DPDK here): a binding of a VM's home address
// M to its care-of address M* (docs/DESIGN.md §2), its kind, and the port roles that decide
// where source translation happens. Their names in commands and JSON are defined here once.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "dataplane/net/net_types.h"

namespace ssw {

enum class binding_kind : uint8_t {
    // Every router but the foreign one: dst M -> M* before routing; src M* -> M when the
    // packet leaves on an access port.
    forward,
    // The foreign router: dst M* -> M and M delivered on `port` (the binding is M's host
    // route); src M -> M* when the packet leaves on a core port.
    local,
    // As local, but the source is left as M (the paper's triangle scenario, docs/DESIGN.md §2).
    local_keep_source,
};
inline const char *to_string(binding_kind k) {
    switch (k) {
        case binding_kind::forward: return "forward";
        case binding_kind::local: return "local";
        case binding_kind::local_keep_source: return "local-keep-source";
    }
    return "?";
}
inline std::optional<binding_kind> parse_binding_kind(std::string_view s) {
    for (auto k : {binding_kind::forward, binding_kind::local, binding_kind::local_keep_source})
        if (s == to_string(k)) return k;
    return std::nullopt;
}

// A port's role: `core` towards other routers, `access` towards a host segment (the edge
// router's external port too). Source translation depends on the egress port's role.
enum class port_role : uint8_t { access, core };
inline const char *to_string(port_role r) { return r == port_role::core ? "core" : "access"; }
inline std::optional<port_role> parse_port_role(std::string_view s) {
    for (auto r : {port_role::access, port_role::core})
        if (s == to_string(r)) return r;
    return std::nullopt;
}

struct binding {
    ip4_addr home;     // M
    ip4_addr care_of;  // M*
    binding_kind kind = binding_kind::forward;
    uint16_t port = 0;  // local kinds: where M is delivered

    bool is_local() const { return kind != binding_kind::forward; }
    bool operator==(const binding &) const = default;
};

}  // namespace ssw
