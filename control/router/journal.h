// Durable configuration: a snapshot plus an append-only journal in a state directory.
//
// Every change the router acknowledges is first appended to the journal and fsynced; every
// so often the whole configuration is written as a snapshot (to a temporary file, fsynced,
// renamed over the old one, the directory fsynced) and the journal emptied. On start the
// router replays the snapshot and then the journal.
//
// Records are framed with their length and a CRC32-C, and the header has a CRC of its own:
// "R <len> <crc> <header crc>\n<len bytes>\n".
// The snapshot and the journal carry a generation: the journal starts with "J <gen>", and
// a journal older than the snapshot (a crash after the snapshot was written, before the
// journal was emptied) holds nothing the snapshot lacks, so it is ignored.
// A record cut short at the end of the file is a write the crash interrupted: it was never
// acknowledged, so it is dropped (and the file truncated). Anything else that does not
// verify — a bad checksum, a malformed header before the end, a damaged snapshot — is
// corruption: opening fails with a message that says where and how to recover, and never
// silently starts empty.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ssw {

class journal {
public:
    struct contents {
        bool has_snapshot = false;
        std::vector<std::string> snapshot;              // command lines
        std::vector<std::vector<std::string>> records;  // each: one command, or a batch
        size_t torn_bytes = 0;                          // dropped from an interrupted write
    };

    ~journal();
    // Opens (creating) the state directory and reads what it holds.
    bool open(const std::string &dir, contents &out, std::string &error);
    // Appends one record and makes it durable.
    bool append(const std::vector<std::string> &lines, std::string &error);
    // Replaces the snapshot with `lines` and empties the journal.
    bool compact(const std::vector<std::string> &lines, std::string &error);

    size_t records() const { return records_; }
    size_t bytes() const { return bytes_; }
    const std::string &dir() const { return dir_; }

private:
    bool restart_journal(std::string &error);

    std::string dir_;
    uint64_t generation_ = 0;
    int fd_ = -1;  // the journal, open for appending
    size_t records_ = 0;
    size_t bytes_ = 0;
};

// The framing, exposed for tests.
std::string frame_record(const std::string &payload);

}  // namespace ssw
