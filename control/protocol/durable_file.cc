#include "control/protocol/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>  // rename
#include <cstring>

#include <fmt/format.h>

namespace ssw {

namespace {

// The folder holding `path`.
std::string folder_of(const std::string &path) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

// Closes `fd` after a failure, keeping the failure's errno.
void close_keeping_errno(int fd) {
    const int saved = errno;
    close(fd);
    errno = saved;
}

}  // namespace

bool write_all(int fd, std::string_view data) {
    for (size_t off = 0; off < data.size();) {
        const ssize_t n = write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        if (n == 0) {  // no progress, and no reason given: do not spin
            errno = EIO;
            return false;
        }
        off += size_t(n);
    }
    return true;
}

bool fsync_dir(const std::string &dir) {
    const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    if (fsync(fd) != 0) {
        close_keeping_errno(fd);
        return false;
    }
    return close(fd) == 0;
}

bool write_file_atomically(const std::string &path, std::string_view data, std::string &error,
                           mode_t mode) {
    const std::string tmp = path + ".tmp";
    // Names the step that failed and why (errno), and removes the temporary file.
    const auto fail = [&](const std::string &what) {
        error = fmt::format("cannot {}: {}", what, strerror(errno));
        unlink(tmp.c_str());
        return false;
    };
    const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) return fail("create " + tmp);
    if (!write_all(fd, data) || fsync(fd) != 0) {
        close_keeping_errno(fd);
        return fail("write " + tmp);
    }
    // NFS and the like may report a write error only here.
    if (close(fd) != 0) return fail("write " + tmp);
    if (rename(tmp.c_str(), path.c_str()) != 0) return fail("rename " + tmp + " to " + path);
    const std::string dir = folder_of(path);
    if (!fsync_dir(dir)) {
        error = fmt::format("wrote {}, but cannot flush its folder {} to disk: {}", path, dir,
                            strerror(errno));
        return false;
    }
    return true;
}

}  // namespace ssw
