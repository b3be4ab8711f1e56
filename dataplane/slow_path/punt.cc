#include "dataplane/slow_path/punt.h"

namespace ssw {

int punt_field_offset = -1;

bool register_punt_field() {
    if (punt_field_offset >= 0) return true;
    static const rte_mbuf_dynfield desc = {
        .name = "ssw_punt_meta",
        .size = sizeof(punt_meta),
        .align = alignof(punt_meta),
        .flags = 0,
    };
    punt_field_offset = rte_mbuf_dynfield_register(&desc);
    return punt_field_offset >= 0;
}

}  // namespace ssw
