// A binding of a VM's home address M to its care-of address M* (DESIGN.md §1): the value
// type shared by the dataplane's table and the control plane (no DPDK here).
#pragma once

#include <cstdint>

#include "dataplane/net_types.h"

namespace ssw {

enum class binding_kind : uint8_t {
    // Every router but the foreign one: dst M -> M* before routing; src M* -> M when the
    // packet leaves on an access port.
    forward,
    // The foreign router: dst M* -> M and M delivered on `port` (the binding is M's host
    // route); src M -> M* when the packet leaves on a core port.
    local,
    // As local, but the source is left as M (the paper's triangle scenario, DESIGN.md §1).
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

struct binding {
    ip4_addr home;     // M
    ip4_addr care_of;  // M*
    binding_kind kind = binding_kind::forward;
    uint16_t port = 0;  // local kinds: where M is delivered

    bool is_local() const { return kind != binding_kind::forward; }
    bool operator==(const binding &) const = default;
};

}  // namespace ssw
