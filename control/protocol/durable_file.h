// Durable file writes (docs/DESIGN.md §7), shared by the router's journal and snapshot and by
// the orchestrator's state file. No DPDK: sswctl links it.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

namespace ssw {

// Writes all of `data` at `fd`'s offset, looping over short writes and EINTR. False on an
// error, with errno saying which.
bool write_all(int fd, std::string_view data);

// Flushes folder `dir` to disk, so that the files created or renamed in it survive a crash.
// False on an error, with errno saying which.
bool fsync_dir(const std::string &dir);

// Replaces `path` with `data`, all or nothing: written whole to `path`.tmp (created with
// `mode`), fsynced, renamed over `path`, and the folder fsynced. On failure `error` names the
// file, the step and the system's reason, and the temporary file is removed. `path` then
// still holds its old content, unless only the folder's fsync failed: then it holds the new
// content, which a crash may still undo.
bool write_file_atomically(const std::string &path, std::string_view data, std::string &error,
                           mode_t mode = 0600);

}  // namespace ssw
