#include "dataplane/log.h"

namespace ssw {

int log_type = RTE_LOGTYPE_USER1;

void init_logging() {
    int t = rte_log_register_type_and_pick_level("ssw", RTE_LOG_INFO);
    if (t >= 0) log_type = t;
}

void log_line(uint32_t level, const std::string &text) {
    rte_log(level, uint32_t(log_type), "ssw: %s\n", text.c_str());
}

}  // namespace ssw
