"""Operations: counters in DPDK telemetry (dpdk-telemetry.py), live capture with
dpdk-dumpcap, log levels through DPDK's logging, graceful shutdown on SIGTERM and SIGINT."""

import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))

from sswlab import require_root  # noqa: E402
from sswlab.hosts import ping  # noqa: E402
from sswlab.netns import Topology, run, wait_until  # noqa: E402
from sswlab.router import Router, hugepages_available  # noqa: E402

CONFIG = ["address add 192.0.2.1/24 port 0", "address add 198.51.100.1/24 port 1",
          "nat add 192.0.2.77 to 198.51.100.2", "proxy-arp add 192.0.2.64/26 port 0"]


def telemetry(prefix, *cmds):
    """Runs dpdk-telemetry.py against the router's telemetry socket; returns {cmd: answer}
    (a reply is keyed by the command without its parameter, so they are matched in order)."""
    res = run(["dpdk-telemetry.py", "-f", prefix], input="\n".join(cmds) + "\n", check=True, timeout=30)
    answers = []
    for line in res.stdout.splitlines():
        line = line.strip().lstrip("-> ").strip()
        if line.startswith("{"):
            answers.extend(json.loads(line).values())
    return dict(zip(cmds, answers))


class OperationsTest(unittest.TestCase):
    def setUp(self):
        self.topo = t = Topology("op")
        self.rns, self.h1, self.h2 = t.ns("r"), t.ns("h1"), t.ns("h2")
        t.veth(self.rns, "p0", self.h1, "eth0")
        t.veth(self.rns, "p1", self.h2, "eth0")
        self.h1.run("ip addr add 192.0.2.2/24 dev eth0")
        self.h1.run("ip route add default via 192.0.2.1")
        self.h2.run("ip addr add 198.51.100.2/24 dev eth0")
        self.h2.run("ip route add default via 198.51.100.1")

    def tearDown(self):
        self.topo.close()

    def router(self, *extra):
        return Router(self.topo, self.rns, "op", ["p0", "p1"], CONFIG, extra_args=list(extra))

    def test_telemetry_reports_counters(self):
        r = self.router().start()
        p = ping(self.h1, "192.0.2.77", count=5, interval=0.05)  # through the binding
        self.assertEqual(p.loss, 0, p.raw)
        ping(self.h1, "100.64.0.1", count=2, interval=0.05)      # no route: dropped
        t = telemetry(r.prefix, "/ssw/stats", "/ssw/ports", "/ssw/nat", "/ssw/nat,192.0.2.77",
                      "/ssw/proxy_arp", "/ssw/neigh")
        stats = t["/ssw/stats"]
        self.assertGreaterEqual(stats["forwarded"] + stats["held_packets_sent"], 10)
        self.assertEqual(stats["drop_no_route"], 2)
        self.assertEqual(stats["rx_packets"], r.counter("rx_packets"))
        self.assertEqual(t["/ssw/ports"]["0"]["mac"], r.port_mac(0))
        self.assertEqual(t["/ssw/nat"]["bindings"], 1)
        self.assertGreaterEqual(t["/ssw/nat,192.0.2.77"]["packets"], 10)
        self.assertEqual(t["/ssw/proxy_arp"]["entries"], 1)
        self.assertIn("192.0.2.2", [n["ip"] for n in t["/ssw/neigh"].values()])
        self.assertEqual(r.stop(), 0)

    def test_telemetry_counts_every_binding(self):
        # More bindings than one page of `show nat` (10,000): /ssw/nat counts them all, and
        # sums the packets of a binding that sorts after the first pages.
        r = self.router().start()
        n = 25000
        batch = os.path.join(r.dir, "bindings.batch")
        with open(batch, "w") as f:
            for i in range(n):
                f.write(f"nat add 10.{1 + i // 65536}.{i // 256 % 256}.{i % 256} "
                        f"to 100.{64 + i // 65536}.{i // 256 % 256}.{i % 256}\n")
        res = r.sswctl("batch", batch)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertEqual(ping(self.h1, "192.0.2.77", count=5, interval=0.05).loss, 0)
        t = telemetry(r.prefix, "/ssw/nat", "/ssw/nat,10.1.97.167", "/ssw/nat,10.9.9.9")
        self.assertEqual(t["/ssw/nat"]["bindings"], n + 1)
        self.assertGreaterEqual(t["/ssw/nat"]["packets"], 10)  # 192.0.2.77 sorts last
        self.assertEqual(t["/ssw/nat,10.1.97.167"]["care_of"], "100.64.97.167")
        self.assertEqual(t["/ssw/nat,10.9.9.9"]["error"], "no binding")
        self.assertEqual(r.stop(), 0)

    def test_dumpcap_captures_from_a_running_router(self):
        if not hugepages_available():
            self.skipTest("dpdk-dumpcap needs a hugepage primary process; no hugepages here")
        r = self.router().start()
        pinger = self.h1.popen(["ping", "-n", "-i", "0.05", "-c", "200", "198.51.100.2"])
        out = os.path.join(r.dir, "capture.pcapng")
        res = run(["dpdk-dumpcap", "--file-prefix", r.prefix, "-i", "net_af_packet0", "-c", "20",
                   "-w", out, "-q"], check=False, timeout=60)
        pinger.terminate()
        pinger.wait()
        self.assertEqual(res.returncode, 0, res.stderr)
        lines = run(["tcpdump", "-r", out, "-n"], check=True).stdout.splitlines()
        self.assertEqual(len(lines), 20)
        self.assertTrue(any("192.0.2.2 > 198.51.100.2: ICMP echo request" in l for l in lines), lines[:3])
        self.assertEqual(r.stop(), 0)

    def test_log_levels(self):
        quiet = self.router().start()
        quiet.ctl("route add 10.1.0.0/16 via 198.51.100.2")
        self.assertEqual(quiet.stop(), 0)
        self.assertNotIn("applied: route add 10.1.0.0/16", quiet.output())
        self.assertIn("ssw: 2 ports, 1 workers", quiet.output())
        verbose = self.router().__class__(self.topo, self.rns, "op-debug", ["p0", "p1"], CONFIG)
        verbose.argv.insert(1, "--log-level=ssw:debug")
        verbose.start()
        verbose.ctl("route add 10.1.0.0/16 via 198.51.100.2")
        self.assertEqual(verbose.stop(), 0)
        self.assertIn("applied: route add 10.1.0.0/16 via 198.51.100.2", verbose.output())

    def test_sigterm_and_sigint_stop_cleanly(self):
        for sig, name in ((signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "SIGINT")):
            r = self.router().start()
            ping(self.h1, "198.51.100.2", count=2, interval=0.05)
            r.proc.send_signal(sig)
            self.assertEqual(r.wait(timeout=10), 0, r.output())
            self.assertIn(f"stopped ({name}); ports closed", r.output())
            self.assertFalse(os.path.exists(r.socket), "the control socket was left behind")
            # The ports were released: a new router takes the same interfaces at once.
        r = self.router().start()
        self.assertEqual(ping(self.h1, "198.51.100.2", count=2, interval=0.05).loss, 0)
        self.assertEqual(r.stop(), 0)

    def test_full_af_packet_ring_drops_are_counted(self):
        """Frames the kernel drops because a port's af_packet ring is full (the router stopped
        with SIGSTOP, so nothing drains it) are the port's rx_missed: every frame sent is
        either received or missed, and `stats reset` restarts the count."""
        r = self.router().start()
        ping(self.h1, "198.51.100.2", count=2, interval=0.05)
        before = r.ctl("show ports")[0]
        mac = before["mac"]
        sent = 3000  # far more than the PMD's ring holds (512 frames by default)
        r.proc.send_signal(signal.SIGSTOP)
        try:
            self.h1.run(["/usr/bin/python3", "-c", FLOOD, "eth0", mac, str(sent)], timeout=60)
        finally:
            r.proc.send_signal(signal.SIGCONT)

        def counted():
            now = r.ctl("show ports")[0]
            got = now["rx_packets"] - before["rx_packets"]
            missed = now["rx_missed"] - before["rx_missed"]
            return (got, missed) if got + missed >= sent else None
        got, missed = wait_until(counted, 10, what="every frame of the flood received or missed")
        self.assertGreaterEqual(missed, sent - 1024, (got, missed))
        self.assertGreater(got, 0)
        self.assertLessEqual(got + missed, sent + 10, "other frames than the flood were counted")
        r.ctl("stats reset")
        self.assertEqual(r.ctl("show ports")[0]["rx_missed"], 0)
        self.assertEqual(r.stop(), 0)


# Frames of an ethertype nobody uses (IEEE 802 local experimental), as fast as a raw socket
# sends them.
FLOOD = r"""
import socket, sys
ifname, mac, n = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", "")), int(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
frame = mac + s.getsockname()[4][:6] + b"\x88\xb5" + bytes(46)
for _ in range(n):
    s.send(frame)
"""


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
