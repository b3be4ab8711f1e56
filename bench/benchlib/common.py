"""What every part of the benchmark shares: the addresses of its topology, its error, its
log line, and small helpers."""

import socket
import statistics
import struct
import subprocess
import time
from pathlib import Path

from sswlab.netns import CommandError
from sswlab.router import RouterError

REPO = Path(__file__).resolve().parent.parent.parent
L3FWD_SRC = Path("/usr/share/dpdk/examples")

# Addresses of the benchmark topology. Port 0 (rx) is the access side, port 1 (tx) the core.
PCAP_MAC = "02:70:63:61:70:00"  # the pcap PMD's MAC: 02 "pcap" <n-th pcap device>, n = 0
SRC_MAC = "02:00:00:00:00:01"
SRC_IP = "192.0.2.10"
NEXT_HOP_MAC = "02:00:00:00:00:02"
ROUTE_DST_NET = 0xC6120100  # 198.18.1.0/24: l3fwd's default LPM table sends it to port 1
HOME_BASE = 16 << 24  # M: 16.0.0.1 ...
CARE_OF_BASE = 32 << 24  # initial M*: 32.0.0.1 ...
STORM_CARE_OF_BASE = 48 << 24  # M* handed out by the update storm, each used once
MEMIF_FWD_MAC = "02:00:00:00:aa:01"

ROUTER_CONF = """\
address add 192.0.2.1/24 port 0
address add 10.0.0.1/24 port 1
neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1
route add 0.0.0.0/0 via 10.0.0.2
port 1 role core
"""

ALT = "+alt"  # the suffix of a variant run with --alt-router's build
CASES = ["lookup", "worker", "fwd", "stages", "memif", "storm", "scaling", "idle", "table1"]


class BenchError(Exception):
    pass


# What fails a case (reported, the other cases still run): ours, a command that failed or
# timed out (sswlab.netns.run), a router that refused a command.
ERRORS = (BenchError, CommandError, RouterError, subprocess.TimeoutExpired)


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def ip_str(v):
    return socket.inet_ntoa(struct.pack("!I", v))


def ip_int(s):
    return struct.unpack("!I", socket.inet_aton(s))[0]


def median(xs):
    return statistics.median(xs) if xs else None
