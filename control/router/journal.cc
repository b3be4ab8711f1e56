#include "control/router/journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <rte_hash_crc.h>

#include "control/protocol/durable_file.h"

namespace ssw {

namespace {

constexpr const char *kJournal = "journal";
constexpr const char *kSnapshot = "snapshot";
constexpr const char *kSnapshotMagic = "SSW-SNAPSHOT 1";

uint32_t crc_of(const std::string &s) {
    return rte_hash_crc(s.data(), uint32_t(s.size()), 0xffffffffu);
}

std::string join(const std::vector<std::string> &lines) {
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i) out += '\n';
        out += lines[i];
    }
    return out;
}

std::vector<std::string> split_lines(const std::string &s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string line;
    while (std::getline(ss, line)) out.push_back(line);
    return out;
}

bool read_file(const std::string &path, std::string &out, bool &exists) {
    std::ifstream in(path, std::ios::binary);
    exists = bool(in);
    if (!in) return errno == ENOENT;
    std::stringstream ss;
    ss << in.rdbuf();
    out = ss.str();
    return !in.bad();
}

std::string recovery(const std::string &dir) {
    return fmt::format(
        "to recover, move {} aside (the router then starts from its --config "
        "file, and 'sswctl reconcile' restores bindings managed by the "
        "orchestrator), or keep the intact part as the error says",
        dir);
}

}  // namespace

std::string frame_record(const std::string &payload) {
    // The header has a checksum of its own: a complete header that does not verify is
    // damage, not a write the crash cut short (whose header would be incomplete, or intact).
    const std::string header = fmt::format("R {} {:08x}", payload.size(), crc_of(payload));
    return fmt::format("{} {:08x}\n", header, crc_of(header)) + payload + "\n";
}

journal::~journal() {
    if (fd_ >= 0) close(fd_);
}

bool journal::open(const std::string &dir, contents &out, std::string &error) {
    dir_ = dir;
    out = contents{};
    if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        error = fmt::format("cannot create state directory {}: {}", dir, strerror(errno));
        return false;
    }
    // The snapshot: all or nothing.
    std::string snap;
    bool exists = false;
    const std::string snap_path = dir + "/" + kSnapshot;
    if (!read_file(snap_path, snap, exists)) {
        error = fmt::format("cannot read {}: {}", snap_path, strerror(errno));
        return false;
    }
    if (exists) {
        const size_t nl = snap.find('\n');
        size_t len = 0;
        unsigned crc = 0;
        unsigned long long gen = 0;
        char version[32] = {};
        if (nl == std::string::npos ||
            sscanf(snap.substr(0, nl).c_str(), "SSW-SNAPSHOT %31s %llu %zu %x", version, &gen, &len,
                   &crc) != 4 ||
            snap.compare(0, strlen(kSnapshotMagic), kSnapshotMagic) != 0 ||
            nl + 1 + len != snap.size() || crc_of(snap.substr(nl + 1)) != crc) {
            error = fmt::format("state snapshot {} is damaged (bad header, length or checksum); {}",
                                snap_path, recovery(dir));
            return false;
        }
        out.has_snapshot = true;
        out.snapshot = split_lines(snap.substr(nl + 1));
        generation_ = gen;
    }
    // The journal: records; a torn last one is dropped.
    std::string data;
    const std::string path = dir + "/" + kJournal;
    if (!read_file(path, data, exists)) {
        error = fmt::format("cannot read {}: {}", path, strerror(errno));
        return false;
    }
    // The journal's first line names the generation it follows: records of an older one are
    // already in the snapshot (a crash came between writing it and emptying the journal).
    size_t off = 0, good = 0;
    bool stale = false;
    if (!data.empty()) {
        const size_t nl = data.find('\n');
        unsigned long long gen = 0;
        if (nl == std::string::npos) {
            data.clear();  // the header itself was being written: nothing after it
        } else if (sscanf(data.substr(0, nl).c_str(), "J %llu", &gen) != 1 || gen > generation_) {
            error = fmt::format("journal {} does not follow the snapshot (bad first line); {}",
                                path, recovery(dir));
            return false;
        } else {
            stale = gen < generation_;
            off = good = nl + 1;
        }
    }
    while (!stale && off < data.size()) {
        const size_t nl = data.find('\n', off);
        if (nl == std::string::npos) break;  // header cut short: torn
        size_t len = 0;
        unsigned crc = 0, hcrc = 0;
        const std::string line = data.substr(off, nl - off);
        const size_t last_space = line.rfind(' ');
        if (sscanf(line.c_str(), "R %zu %x %x", &len, &crc, &hcrc) != 3 ||
            last_space == std::string::npos || crc_of(line.substr(0, last_space)) != hcrc) {
            error = fmt::format(
                "journal {} is damaged at byte {} (record {}: bad header); {} — e.g. "
                "'truncate -s {} {}' keeps the {} records before it",
                path, off, out.records.size() + 1, recovery(dir), off, path, out.records.size());
            return false;
        }
        const size_t end = nl + 1 + len + 1;
        if (end > data.size()) break;  // payload cut short: torn
        const std::string payload = data.substr(nl + 1, len);
        if (crc_of(payload) != crc || data[end - 1] != '\n') {
            error = fmt::format(
                "journal {} is damaged at byte {} (record {}: checksum mismatch); {} — e.g. "
                "'truncate -s {} {}' keeps the {} records before it",
                path, off, out.records.size() + 1, recovery(dir), off, path, out.records.size());
            return false;
        }
        out.records.push_back(split_lines(payload));
        off = good = end;
    }
    out.torn_bytes = stale ? 0 : data.size() - good;
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0) {
        error = fmt::format("cannot open {} for writing: {}", path, strerror(errno));
        return false;
    }
    if (stale || good == 0) return restart_journal(error);
    if (ftruncate(fd_, off_t(good)) != 0 || lseek(fd_, 0, SEEK_END) < 0 || fsync(fd_) != 0) {
        error = fmt::format("cannot write {}: {}", path, strerror(errno));
        return false;
    }
    records_ = out.records.size();
    bytes_ = good;
    return true;
}

bool journal::restart_journal(std::string &error) {
    const std::string header = fmt::format("J {}\n", generation_);
    if (ftruncate(fd_, 0) != 0 || lseek(fd_, 0, SEEK_SET) != 0 || !write_all(fd_, header) ||
        fsync(fd_) != 0) {
        error = fmt::format("cannot reset the journal in {}: {}", dir_, strerror(errno));
        return false;
    }
    records_ = 0;
    bytes_ = header.size();
    return true;
}

bool journal::append(const std::vector<std::string> &lines, std::string &error) {
    const std::string rec = frame_record(join(lines));
    if (!write_all(fd_, rec) || fdatasync(fd_) != 0) {
        error = fmt::format("cannot write the journal in {}: {}", dir_, strerror(errno));
        // Leave no partial record behind: the next start would drop it anyway, but the
        // records after it would then look like corruption.
        ftruncate(fd_, off_t(bytes_));
        lseek(fd_, 0, SEEK_END);
        return false;
    }
    ++records_;
    bytes_ += rec.size();
    return true;
}

bool journal::compact(const std::vector<std::string> &lines, std::string &error) {
    // The snapshot of the next generation first; the journal is emptied after. A crash in
    // between leaves a journal of the old generation, which open() then ignores.
    const uint64_t gen = generation_ + 1;
    const std::string payload = join(lines);
    const std::string text =
        fmt::format("{} {} {} {:08x}\n", kSnapshotMagic, gen, payload.size(), crc_of(payload)) +
        payload;
    if (!write_file_atomically(dir_ + "/" + kSnapshot, text, error)) {
        error = "cannot write the snapshot: " + error;
        return false;
    }
    generation_ = gen;
    return restart_journal(error);
}

}  // namespace ssw
