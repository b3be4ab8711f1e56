// The durable configuration: records and snapshots survive re-opening; a write the crash cut
// short is dropped; anything else damaged makes open fail with a message saying where; a
// journal older than the snapshot (a crash inside compact) is ignored.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "control/router/journal.h"
#include "tests/test_support.h"

namespace ssw {
namespace {

namespace fs = std::filesystem;
using lines = std::vector<std::string>;

class Journal : public ::testing::Test {
protected:
    std::string read(const std::string &name) const { return test::read_file(dir_ + "/" + name); }
    void write(const std::string &name, const std::string &data) const {
        test::write_file(dir_ + "/" + name, data);
    }
    static void write_at(const std::string &path, const std::string &data) {
        test::write_file(path, data);
    }
    // Opens a fresh journal object on the directory; expects success.
    journal::contents reopen() {
        j_ = std::make_unique<journal>();
        journal::contents c;
        std::string err;
        EXPECT_TRUE(j_->open(dir_, c, err)) << err;
        return c;
    }
    // Expects open to fail; returns the message.
    std::string open_error() {
        j_ = std::make_unique<journal>();
        journal::contents c;
        std::string err;
        EXPECT_FALSE(j_->open(dir_, c, err));
        EXPECT_FALSE(err.empty());
        return err;
    }
    void append(const lines &l) {
        std::string err;
        ASSERT_TRUE(j_->append(l, err)) << err;
    }
    void compact(const lines &l) {
        std::string err;
        ASSERT_TRUE(j_->compact(l, err)) << err;
    }

    test::temp_dir tmp_{"ssw-journal-test"};
    std::string root_ = tmp_.path(), dir_ = root_ + "/state";
    std::unique_ptr<journal> j_;
};

TEST_F(Journal, EmptyDirectoryStartsEmpty) {
    auto c = reopen();
    EXPECT_FALSE(c.has_snapshot);
    EXPECT_TRUE(c.snapshot.empty());
    EXPECT_TRUE(c.records.empty());
    EXPECT_EQ(c.torn_bytes, 0u);
    EXPECT_TRUE(fs::is_directory(dir_));
    EXPECT_EQ(j_->records(), 0u);
    EXPECT_EQ(j_->dir(), dir_);
    // Re-opening an empty journal is still empty.
    c = reopen();
    EXPECT_TRUE(c.records.empty());
    EXPECT_FALSE(c.has_snapshot);
}

TEST_F(Journal, RecordsSurviveReopen) {
    reopen();
    append({"address add 10.0.0.1/24 port 0"});
    append(
        {"nat add 192.168.11.3 to 192.168.10.3 epoch 4", "proxy-arp add 192.168.11.3/32 port 1"});
    append({"port 1 role core"});
    EXPECT_EQ(j_->records(), 3u);
    const size_t bytes = j_->bytes();
    auto c = reopen();
    EXPECT_FALSE(c.has_snapshot);
    ASSERT_EQ(c.records.size(), 3u);
    EXPECT_EQ(c.records[0], lines{"address add 10.0.0.1/24 port 0"});
    EXPECT_EQ(c.records[1], (lines{"nat add 192.168.11.3 to 192.168.10.3 epoch 4",
                                   "proxy-arp add 192.168.11.3/32 port 1"}));
    EXPECT_EQ(c.records[2], lines{"port 1 role core"});
    EXPECT_EQ(c.torn_bytes, 0u);
    EXPECT_EQ(j_->records(), 3u);
    EXPECT_EQ(j_->bytes(), bytes);
    // Appending after a re-open continues the journal.
    append({"port 2 mtu 9000"});
    c = reopen();
    ASSERT_EQ(c.records.size(), 4u);
    EXPECT_EQ(c.records[3], lines{"port 2 mtu 9000"});
}

TEST_F(Journal, CompactReplacesSnapshotAndEmptiesJournal) {
    reopen();
    append({"a"});
    append({"b"});
    compact({"address add 10.0.0.1/24 port 0", "route add 0.0.0.0/0 via 10.0.0.254"});
    EXPECT_EQ(j_->records(), 0u);
    append({"c"});
    auto c = reopen();
    EXPECT_TRUE(c.has_snapshot);
    EXPECT_EQ(c.snapshot,
              (lines{"address add 10.0.0.1/24 port 0", "route add 0.0.0.0/0 via 10.0.0.254"}));
    ASSERT_EQ(c.records.size(), 1u);
    EXPECT_EQ(c.records[0], lines{"c"});
    // A second compaction: the newest snapshot wins, the journal is empty again.
    compact({"x", "y", "z"});
    c = reopen();
    EXPECT_EQ(c.snapshot, (lines{"x", "y", "z"}));
    EXPECT_TRUE(c.records.empty());
    // An empty snapshot is a snapshot.
    compact({});
    c = reopen();
    EXPECT_TRUE(c.has_snapshot);
    EXPECT_TRUE(c.snapshot.empty());
    EXPECT_FALSE(fs::exists(dir_ + "/snapshot.tmp"));
}

TEST_F(Journal, FramingIsLengthAndCrc) {
    const std::string f = frame_record("nat del 192.168.11.3 epoch 9");
    EXPECT_EQ(f.rfind("R 28 ", 0), 0u) << f;
    EXPECT_EQ(f.back(), '\n');
    EXPECT_NE(frame_record("a"), frame_record("b")) << "the CRC covers the payload";
    // A journal assembled by hand from frames reads back.
    reopen();
    const std::string header = read("journal");
    ASSERT_EQ(header.rfind("J ", 0), 0u) << header;
    write("journal", header + frame_record("one") + frame_record("two\nthree"));
    auto c = reopen();
    ASSERT_EQ(c.records.size(), 2u);
    EXPECT_EQ(c.records[1], (lines{"two", "three"}));
}

TEST_F(Journal, TornTailDropped) {
    reopen();
    append({"first"});
    append({"second"});
    const std::string intact = read("journal");
    append({"third record, cut short by a crash"});
    const std::string full = read("journal");
    ASSERT_GT(full.size(), intact.size());
    // Cut inside the last record's payload, inside its header, and just before its final
    // newline: each time the two complete records survive and the file is truncated.
    for (size_t cut : {full.size() - 5, intact.size() + 3, full.size() - 1, intact.size() + 1}) {
        write("journal", full.substr(0, cut));
        auto c = reopen();
        ASSERT_EQ(c.records.size(), 2u) << "cut at " << cut;
        EXPECT_EQ(c.records[1], lines{"second"});
        EXPECT_EQ(c.torn_bytes, cut - intact.size()) << "cut at " << cut;
        EXPECT_GT(c.torn_bytes, 0u);
        EXPECT_EQ(read("journal"), intact) << "the torn bytes are gone from the file";
        // And the journal goes on from there.
        append({"after"});
        c = reopen();
        ASSERT_EQ(c.records.size(), 3u);
        EXPECT_EQ(c.records[2], lines{"after"});
        EXPECT_EQ(c.torn_bytes, 0u);
    }
    // A partial header appended to an intact journal.
    write("journal", intact + "R 12");
    auto c = reopen();
    EXPECT_EQ(c.records.size(), 2u);
    EXPECT_EQ(c.torn_bytes, 4u);
    EXPECT_EQ(read("journal"), intact);
}

TEST_F(Journal, DamagedMiddleRecordFailsWithItsOffset) {
    reopen();
    append({"first"});
    const size_t second_at = read("journal").size();
    append({"second"});
    append({"third"});
    std::string data = read("journal");
    // Flip a payload byte of the second record.
    const size_t payload = data.find("second");
    ASSERT_NE(payload, std::string::npos);
    data[payload + 2] ^= 0x20;
    write("journal", data);
    std::string err = open_error();
    EXPECT_NE(err.find("byte " + std::to_string(second_at)), std::string::npos) << err;
    EXPECT_NE(err.find("checksum"), std::string::npos) << err;
    EXPECT_NE(err.find("record 2"), std::string::npos) << err;
    // The file is left for a person to look at.
    EXPECT_EQ(read("journal"), data);

    // A damaged record header in the middle.
    data = read("journal");
    data[payload + 2] ^= 0x20;  // repair
    data[second_at] = 'X';
    write("journal", data);
    err = open_error();
    EXPECT_NE(err.find("byte " + std::to_string(second_at)), std::string::npos) << err;
    EXPECT_NE(err.find("bad header"), std::string::npos) << err;
}

TEST_F(Journal, DamagedSnapshotFails) {
    reopen();
    compact({"address add 10.0.0.1/24 port 0", "port 0 role core"});
    const std::string good = read("snapshot");
    ASSERT_FALSE(good.empty());
    // A flipped payload byte (bad checksum).
    std::string bad = good;
    bad[bad.size() - 3] ^= 0x01;
    write("snapshot", bad);
    std::string err = open_error();
    EXPECT_NE(err.find("snapshot"), std::string::npos) << err;
    EXPECT_NE(err.find("damaged"), std::string::npos) << err;
    // Truncated.
    write("snapshot", good.substr(0, good.size() - 4));
    err = open_error();
    EXPECT_NE(err.find("damaged"), std::string::npos) << err;
    // Only the header line, or not even that.
    write("snapshot", good.substr(0, good.find('\n')));
    open_error();
    // A bad magic.
    std::string magic = good;
    magic[0] = 'X';
    write("snapshot", magic);
    open_error();
    // Intact again: opens.
    write("snapshot", good);
    auto c = reopen();
    EXPECT_EQ(c.snapshot, (lines{"address add 10.0.0.1/24 port 0", "port 0 role core"}));
}

TEST_F(Journal, JournalOfAnOlderGenerationIgnored) {
    reopen();
    compact({"generation one"});  // snapshot generation 1, journal "J 1"
    append({"recorded in generation 1"});
    const std::string old_journal = read("journal");
    ASSERT_EQ(old_journal.rfind("J 1\n", 0), 0u) << old_journal;
    // A crash in compact after the snapshot of generation 2 was renamed into place, before
    // the journal was emptied: the new snapshot holds everything, the old journal is stale.
    compact({"generation one", "recorded in generation 1"});
    write("journal", old_journal);
    auto c = reopen();
    EXPECT_EQ(c.snapshot, (lines{"generation one", "recorded in generation 1"}));
    EXPECT_TRUE(c.records.empty()) << "the stale journal's records are ignored";
    EXPECT_EQ(c.torn_bytes, 0u);
    // The stale journal was reset for the new generation, and appends go on.
    EXPECT_EQ(read("journal"), "J 2\n");
    append({"new"});
    c = reopen();
    ASSERT_EQ(c.records.size(), 1u);
    EXPECT_EQ(c.records[0], lines{"new"});

    // The same crash written by hand: a snapshot of generation N+1 beside a journal of N.
    const std::string snap = read("snapshot");
    std::string hand = snap;
    const size_t sp = hand.find(" 2 ");
    ASSERT_NE(sp, std::string::npos) << hand;
    hand.replace(sp, 3, " 3 ");  // the generation field; the checksum covers the payload only
    write("snapshot", hand);
    write("journal", "J 2\n" + frame_record("older"));
    c = reopen();
    EXPECT_TRUE(c.records.empty());
    EXPECT_EQ(read("journal"), "J 3\n");
}

TEST_F(Journal, JournalNewerThanSnapshotRefused) {
    reopen();
    compact({"s"});
    write("journal", "J 7\n" + frame_record("from the future"));
    const std::string err = open_error();
    EXPECT_NE(err.find("does not follow the snapshot"), std::string::npos) << err;
    write("journal", "garbage\n");
    open_error();
}

TEST_F(Journal, HeaderCutShortIsAnEmptyJournal) {
    reopen();
    write("journal", "J ");  // the header itself was being written
    auto c = reopen();
    EXPECT_TRUE(c.records.empty());
    EXPECT_EQ(read("journal"), "J 0\n");
}

TEST_F(Journal, UnusableDirectoryFails) {
    // A regular file where the state directory should be (fails even for root).
    write_at(dir_, "not a directory");
    const std::string err = open_error();
    EXPECT_NE(err.find(dir_), std::string::npos) << err;
}

// A damaged length field in a middle record: the record then seems to run past the end of
// the file, like a write the crash cut short; the header's own checksum tells them apart.
TEST_F(Journal, DamagedLengthOfAMiddleRecordFails) {
    reopen();
    append({"first"});
    const size_t second_at = read("journal").size();
    append({"nat add 192.168.11.3 to 1.2.3.4"});  // 31 bytes
    append({"third"});
    std::string data = read("journal");
    ASSERT_EQ(data.compare(second_at, 5, "R 31 "), 0) << data;
    data[second_at + 2] = '9';  // R 91: past the end of the file
    write("journal", data);
    const std::string err = open_error();
    EXPECT_NE(err.find("byte " + std::to_string(second_at)), std::string::npos) << err;
    EXPECT_EQ(read("journal"), data) << "the damaged journal must be left as it was";
}

}  // namespace
}  // namespace ssw
