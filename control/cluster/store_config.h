// Where the etcd cluster is and how to reach it, for ssw-agent and sswctl: a JSON file
// (conf/agent.json is an example) whose fields flags may override.
//
//   { "endpoints": ["https://10.0.0.1:2379", "https://10.0.0.2:2379"],
//     "ca_file": "/etc/ssw/etcd-ca.pem", "cert_file": "...", "key_file": "...",
//     "prefix": "/ssw/v1/", "request_timeout_ms": 5000 }
#pragma once

#include <string>
#include <vector>

#include "control/cluster/state.h"
#include "control/etcd/etcd_client.h"

namespace ssw::cluster {

struct store_config {
    etcd::client_options client;
    keys k;
};

// Reads `path` into `out` (fields absent from the file keep their value); false with a
// message naming the file and the field.
bool load_store_config(const std::string &path, store_config &out, std::string &error);

// What the command line says of the store: a config file and flags over it.
struct store_flags {
    std::string config, endpoints, ca, cert, key, prefix;
};
// The file (if any), then every flag given over it; false with a message when the result is
// not usable (no endpoint, a bad prefix).
bool resolve_store_config(const store_flags &f, store_config &out, std::string &error);

// "a,b,c" -> {a, b, c}, without empty items.
std::vector<std::string> split_list(const std::string &csv);

// Checks a key prefix: it starts and ends with '/'.
bool valid_prefix(const std::string &prefix, std::string &error);

}  // namespace ssw::cluster
