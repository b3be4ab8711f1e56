// Logging through DPDK's log (rte_log) under the "ssw" log type, so levels are set like any
// DPDK component's: --log-level ssw:debug. Never used per packet.
#pragma once

#include <string>

#include <fmt/format.h>
#include <rte_log.h>

namespace ssw {

// Registers the "ssw" log type (INFO by default); call once after rte_eal_init.
void init_logging();
extern int log_type;

void log_line(uint32_t level, const std::string &text);

#define SSW_LOG(level, ...) ::ssw::log_line(RTE_LOG_##level, fmt::format(__VA_ARGS__))

}  // namespace ssw
