// write_file_atomically: the file holds all of the new data after a write; a write that fails
// leaves the old file as it was, no temporary file behind, and an error naming the file and the
// system's reason.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "control/protocol/durable_file.h"
#include "tests/test_support.h"

namespace ssw {
namespace {

namespace fs = std::filesystem;

class DurableFile : public ::testing::Test {
protected:
    static std::string read(const std::string &path) { return test::read_file(path); }
    static void write_plain(const std::string &path, const std::string &data) {
        test::write_file(path, data);
    }
    // The names in the folder: what a write left behind.
    std::set<std::string> entries() const {
        std::set<std::string> out;
        for (const auto &e : fs::directory_iterator(dir_)) out.insert(e.path().filename());
        return out;
    }
    test::temp_dir tmp_{"ssw-durable"};
    std::string dir_ = tmp_.path(), path_ = dir_ + "/state";
};

TEST_F(DurableFile, WritesNewFileAndReplacesOldOne) {
    std::string err;
    ASSERT_TRUE(write_file_atomically(path_, "first\n", err)) << err;
    EXPECT_EQ(read(path_), "first\n");
    ASSERT_TRUE(write_file_atomically(path_, "second, longer than the first\n", err)) << err;
    EXPECT_EQ(read(path_), "second, longer than the first\n");
    ASSERT_TRUE(write_file_atomically(path_, "", err)) << err;
    EXPECT_EQ(read(path_), "");
    EXPECT_EQ(entries(), std::set<std::string>{"state"}) << "no temporary file left";
}

TEST_F(DurableFile, CreatesWithTheModeGiven) {
    const mode_t mask = umask(0);
    umask(mask);
    std::string err;
    ASSERT_TRUE(write_file_atomically(path_, "x", err)) << err;
    struct stat st {};
    ASSERT_EQ(stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u & ~mask) << "private by default";
    const std::string shared = dir_ + "/shared";
    ASSERT_TRUE(write_file_atomically(shared, "x", err, 0644)) << err;
    ASSERT_EQ(stat(shared.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0644u & ~mask);
}

TEST_F(DurableFile, LargeDataWrittenWhole) {
    std::mt19937 rng(19);
    std::string data(6 * 1024 * 1024 + 13, '\0');
    for (char &c : data) c = char(rng());
    std::string err;
    ASSERT_TRUE(write_file_atomically(path_, data, err)) << err;
    const std::string back = read(path_);
    ASSERT_EQ(back.size(), data.size());
    EXPECT_TRUE(back == data);
    EXPECT_EQ(entries(), std::set<std::string>{"state"});
}

TEST_F(DurableFile, RelativePathUsesTheCurrentFolder) {
    const fs::path was = fs::current_path();
    fs::current_path(dir_);
    std::string err;
    const bool ok = write_file_atomically("here.json", "{}\n", err);
    fs::current_path(was);
    ASSERT_TRUE(ok) << err;
    EXPECT_EQ(read(dir_ + "/here.json"), "{}\n");
}

TEST_F(DurableFile, MissingFolderFailsNamingThePath) {
    const std::string path = dir_ + "/missing/dir/state.json";
    std::string err;
    EXPECT_FALSE(write_file_atomically(path, "data", err));
    EXPECT_NE(err.find(path), std::string::npos) << err;
    EXPECT_NE(err.find(strerror(ENOENT)), std::string::npos) << err;
    EXPECT_TRUE(entries().empty()) << "nothing created";
}

TEST_F(DurableFile, PathThatIsAFolderIsLeftAlone) {
    ASSERT_TRUE(fs::create_directory(path_));
    write_plain(path_ + "/inside", "kept");
    std::string err;
    EXPECT_FALSE(write_file_atomically(path_, "data", err));
    EXPECT_NE(err.find(path_), std::string::npos) << err;
    EXPECT_NE(err.find(strerror(EISDIR)), std::string::npos) << err;
    EXPECT_TRUE(fs::is_directory(path_));
    EXPECT_EQ(read(path_ + "/inside"), "kept");
    EXPECT_EQ(entries(), std::set<std::string>{"state"}) << "the temporary file is removed";
}

TEST_F(DurableFile, UncreatableTemporaryKeepsTheOldFile) {
    write_plain(path_, "old");
    ASSERT_TRUE(fs::create_directory(path_ + ".tmp"));  // the temporary name is taken
    std::string err;
    EXPECT_FALSE(write_file_atomically(path_, "new", err));
    EXPECT_NE(err.find(path_ + ".tmp"), std::string::npos) << err;
    EXPECT_NE(err.find(strerror(EISDIR)), std::string::npos) << err;
    EXPECT_EQ(read(path_), "old");
}

// Sets RLIMIT_FSIZE for the test's duration: a write past it is cut short, and the next one
// fails with EFBIG (SIGXFSZ ignored).
class file_size_limit {
public:
    explicit file_size_limit(rlim_t bytes) {
        getrlimit(RLIMIT_FSIZE, &old_);
        old_handler_ = signal(SIGXFSZ, SIG_IGN);
        rlimit lim = old_;
        lim.rlim_cur = bytes;
        ok_ = setrlimit(RLIMIT_FSIZE, &lim) == 0;
    }
    ~file_size_limit() {
        setrlimit(RLIMIT_FSIZE, &old_);
        signal(SIGXFSZ, old_handler_);
    }
    bool ok() const { return ok_; }

private:
    rlimit old_{};
    sighandler_t old_handler_ = SIG_DFL;
    bool ok_ = false;
};

TEST_F(DurableFile, FailedWriteKeepsTheOldFileAndRemovesTheTemporary) {
    const std::string old = "the old state\n";
    std::string err;
    ASSERT_TRUE(write_file_atomically(path_, old, err)) << err;
    const std::string big(1 << 20, 'n');
    bool ok = true;
    {
        const file_size_limit limit(64 * 1024);
        ASSERT_TRUE(limit.ok());
        // The first write() stops at the limit (a short write); only the loop's next one
        // reports why. A write that took the short count for success would store 64 KiB.
        ok = write_file_atomically(path_, big, err);
    }
    EXPECT_FALSE(ok);
    EXPECT_NE(err.find(path_ + ".tmp"), std::string::npos) << err;
    EXPECT_NE(err.find(strerror(EFBIG)), std::string::npos) << err;
    EXPECT_EQ(read(path_), old);
    EXPECT_EQ(entries(), std::set<std::string>{"state"}) << "the temporary file is removed";
}

TEST_F(DurableFile, WriteAllWritesEverything) {
    const std::string data(3 * 1024 * 1024, 'w');
    const int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    EXPECT_TRUE(write_all(fd, "head:"));
    EXPECT_TRUE(write_all(fd, data));
    close(fd);
    EXPECT_EQ(read(path_), "head:" + data);
}

TEST_F(DurableFile, WriteAllReportsErrors) {
    EXPECT_FALSE(write_all(-1, "x"));
    EXPECT_EQ(errno, EBADF);
    EXPECT_TRUE(write_all(-1, "")) << "nothing to write";
}

}  // namespace
}  // namespace ssw
