// Real etcd members for tests: one or three, on loopback ports picked free (never the system
// etcd's 2379/2380), data in a fresh folder under /dev/shm (or /tmp), optionally with TLS and
// client-certificate authentication (certificates made with the openssl command line).
//
// Members are this process's children, started with fork/exec and killed by their PIDs when
// the cluster goes. They also die with the thread that started them (PR_SET_PDEATHSIG), so a
// test that crashes or times out leaves none behind: start and restart members from the
// thread that runs the tests.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <string>
#include <vector>

#include "control/etcd/etcd_client.h"

namespace ssw::test {

class etcd_cluster {
public:
    // The files of the TLS setup (tls only): the cluster's CA; the members' certificate
    // (IP SAN 127.0.0.1); a client certificate of that CA; and a CA foreign to the cluster
    // with a client certificate of its own.
    struct tls_files {
        std::string ca, server_cert, server_key;
        std::string client_cert, client_key;
        std::string other_ca, other_client_cert, other_client_key;
    };

    etcd_cluster() = default;
    ~etcd_cluster();  // kills the members it started, removes its folder
    etcd_cluster(const etcd_cluster &) = delete;
    etcd_cluster &operator=(const etcd_cluster &) = delete;

    // Starts `members` members (1 or 3) and waits until each answers a read. False with the
    // cause (and the tail of a failing member's log) otherwise.
    bool start(int members, bool tls, std::string &error);

    int size() const { return int(members_.size()); }
    // "http://127.0.0.1:PORT" (or https), one per member.
    std::vector<std::string> endpoints() const;
    std::string endpoint(int i) const;
    // Options of a client of every member, with the valid client certificate when tls.
    etcd::client_options client_options() const;
    const tls_files &tls() const { return tls_; }
    const std::string &dir() const { return dir_; }

    // Sends `signal` to member i. SIGKILL and SIGTERM also wait for it to exit; SIGSTOP and
    // SIGCONT only send.
    void kill(int i, int signal = SIGKILL);
    // Starts member i again on its data (killing it first if it runs) and waits until it
    // answers a read.
    bool restart(int i, std::string &error);
    bool running(int i) const { return members_[i].pid > 0; }
    pid_t pid(int i) const { return members_[i].pid; }
    // Waits until member i answers a read through its own endpoint.
    bool wait_ready(int i, std::string &error);
    // The leader's index, by `etcdctl endpoint status` on the running members; -1 if none.
    int leader(std::string &error);
    std::string log_tail(int i, int lines = 20) const;

private:
    struct member {
        std::string name, data_dir, log;
        int client_port = 0, peer_port = 0;
        pid_t pid = -1;
    };

    bool make_certificates(std::string &error);
    bool spawn(int i, std::string &error);
    std::vector<std::string> member_args(int i) const;

    std::string dir_;
    bool tls_on_ = false;
    tls_files tls_;
    std::vector<member> members_;
};

}  // namespace ssw::test
