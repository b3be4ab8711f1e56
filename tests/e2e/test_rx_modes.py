"""End to end: workers that sleep in epoll (--rx-mode interrupt) lose no wake-up.

    h1 (192.0.2.2) --- [A: port 0, port 1] --- 10.0.0.0/30 --- [B: port 0, port 1] --- h2 (198.51.100.2)

A runs on lcore 0, B on lcore 1. Both sleep as soon as a poll finds nothing, for at most
--max-sleep-ms 10000: a packet whose wake-up is lost waits for that timeout (or for the next
packet; the tests send the next one only after the reply, so there is none). So the tests
send one packet at a time after an idle gap and assert that every reply comes, well below
the timeout; and that the routers did sleep between packets (else they would pass by polling)
and never slept into a timeout while packets came every 20 ms.
"""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))

from sswlab import require_root  # noqa: E402
from sswlab.netns import Topology, run  # noqa: E402
from sswlab.router import ROUTER_BIN, Router  # noqa: E402

MAX_SLEEP_MS = 10000
# Far above any RTT on a loaded two-core machine (tens of ms at worst), far below the time a
# lost wake-up costs (MAX_SLEEP_MS).
BOUND_S = 2.0

# Echo requests one at a time from a raw socket: the next leaves a random 0..max_gap seconds
# after the reply to the previous one. Every tenth goes to the second target (the router's
# own address: answered by the slow path, sent through worker 0's inject ring).
PINGER = r"""
import json, os, random, select, socket, struct, sys, time
first, second, n, max_gap, wait = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
def checksum(b):
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s & 0xffff) + (s >> 16); s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
ident, rng = os.getpid() & 0xffff, random.Random(20261204)
rtts, lost = [], []
for seq in range(n):
    dst = second if seq % 10 == 9 else first
    body = b"ssw-wakeup-test!"
    msg = struct.pack("!BBHHH", 8, 0, 0, ident, seq & 0xffff) + body
    msg = struct.pack("!BBHHH", 8, 0, checksum(msg), ident, seq & 0xffff) + body
    t0 = time.monotonic()
    s.sendto(msg, (dst, 0))
    got = None
    while got is None and time.monotonic() - t0 < wait:
        if not select.select([s], [], [], max(0, wait - (time.monotonic() - t0)))[0]:
            break
        data, (src, _) = s.recvfrom(2048)
        ihl = (data[0] & 15) * 4
        kind, _, _, rid, rseq = struct.unpack("!BBHHH", data[ihl:ihl + 8])
        if kind == 0 and rid == ident and rseq == seq & 0xffff and src == dst:
            got = time.monotonic() - t0
    (lost.append((seq, dst)) if got is None else rtts.append((got, seq, dst)))
    time.sleep(rng.uniform(0, max_gap))
rtts.sort(reverse=True)
print(json.dumps({"replies": len(rtts), "lost": lost[:20], "n_lost": len(lost),
                  "slowest": rtts[:5], "median": rtts[len(rtts) // 2][0] if rtts else None}))
"""

# h2 echoes what it receives; h1 sends one short segment after each idle pause.
ECHO_SERVER = r"""
import socket
srv = socket.create_server(("198.51.100.2", 7007))
conn, _ = srv.accept()
while (data := conn.recv(4096)):
    conn.sendall(data)
"""
TCP_CLIENT = r"""
import json, random, socket, sys, time
n, lo, hi = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
for attempt in range(100):  # the server may not be listening yet
    try:
        c = socket.create_connection(("198.51.100.2", 7007), timeout=10); break
    except OSError:
        time.sleep(0.1)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
rng, rtts = random.Random(7), []
for i in range(n):
    time.sleep(rng.uniform(lo, hi))
    msg = f"segment {i:04d} after a pause".encode()
    t0 = time.monotonic()
    c.sendall(msg)
    got = b""
    while len(got) < len(msg):
        got += c.recv(4096)
    rtts.append(time.monotonic() - t0)
    assert got == msg, (got, msg)
print(json.dumps({"echoed": len(rtts), "max": max(rtts)}))
"""


def build(topo, mode_args, lcores=("0", "1")):
    ra, rb = topo.ns("ra"), topo.ns("rb")
    h1, h2 = topo.ns("h1"), topo.ns("h2")
    topo.veth(ra, "p0", h1, "eth0")
    topo.veth(ra, "p1", rb, "p0")
    topo.veth(rb, "p1", h2, "eth0")
    for h, addr, gw in ((h1, "192.0.2.2/24", "192.0.2.1"), (h2, "198.51.100.2/24", "198.51.100.1")):
        h.run(["ip", "addr", "add", addr, "dev", "eth0"])
        h.run(["ip", "route", "add", "default", "via", gw])
    a = Router(topo, ra, "wa", ["p0", "p1"], [
        "address add 192.0.2.1/24 port 0", "address add 10.0.0.1/30 port 1",
        "route add 198.51.100.0/24 via 10.0.0.2"], lcores=lcores[0], extra_args=mode_args)
    b = Router(topo, rb, "wb", ["p0", "p1"], [
        "address add 10.0.0.2/30 port 0", "address add 198.51.100.1/24 port 1",
        "route add 0.0.0.0/0 via 10.0.0.1"], lcores=lcores[1], extra_args=mode_args)
    return h1, h2, a.start(), b.start()


def sleep_counters(r):
    w = r.ctl("show stats")["per_worker"][0]
    return w["idle_sleeps"], w["idle_timeouts"]


class InterruptModeTest(unittest.TestCase):
    def test_no_wakeup_is_lost(self):
        n = int(os.environ.get("SSW_WAKEUP_PINGS", "10000"))
        with Topology("wk") as topo:
            h1, h2, a, b = build(topo, ["--rx-mode", "interrupt", "--max-sleep-ms", str(MAX_SLEEP_MS)])
            for r in (a, b):
                for p in r.ctl("show ports"):
                    self.assertEqual((p["rx_mode"], p["rx_wait"]), ("interrupt", "epoll"), p)
            # Neighbours resolved, so that no first packet waits for ARP.
            res = h1.run(["ping", "-c", "3", "-i", "0.2", "-W", "5", "198.51.100.2"], check=False)
            self.assertEqual(res.returncode, 0, res.stdout)
            before = {r.name: sleep_counters(r) for r in (a, b)}

            res = h1.run(["/usr/bin/python3", "-c", PINGER, "198.51.100.2", "192.0.2.1", str(n),
                          "0.02", str(MAX_SLEEP_MS / 1000 + 2)], timeout=n * 0.05 + 120)
            out = json.loads(res.stdout)
            self.assertEqual(out["n_lost"], 0, out)
            self.assertEqual(out["replies"], n, out)
            self.assertLess(out["slowest"][0][0], BOUND_S, out)
            for r in (a, b):
                sleeps, timeouts = sleep_counters(r)
                # They slept between packets: the replies needed wake-ups ...
                self.assertGreaterEqual(sleeps - before[r.name][0], n // 2, r.name)
                # ... and no sleep lasted until its timeout: packets came every <= 20 ms.
                self.assertEqual(timeouts - before[r.name][1], 0, r.name)

            # Single TCP segments after idle pauses, some longer than the routers' sleeps.
            server = h2.popen(["/usr/bin/python3", "-c", ECHO_SERVER])
            try:
                res = h1.run(["/usr/bin/python3", "-c", TCP_CLIENT, "20", "0.05", "3.0"], timeout=180)
            finally:
                topo.stop(server)
            out = json.loads(res.stdout)
            self.assertEqual(out["echoed"], 20)
            self.assertLess(out["max"], BOUND_S, out)

            # Stopping wakes sleeping workers at once (the stop eventfd), not after a sleep.
            for r in (a, b):
                t0 = time.monotonic()
                self.assertEqual(r.stop(), 0, r.output())
                self.assertLess(time.monotonic() - t0, MAX_SLEEP_MS / 2000, r.name)


class ModeSelectionTest(unittest.TestCase):
    def test_each_queue_says_how_it_waits(self):
        """A null port has no descriptor: timed back-off, said so; --port-rx-mode overrides the
        router's mode for one port, and a worker runs the most awake mode of its queues."""
        with Topology("wm") as topo:
            rns, h1 = topo.ns("r"), topo.ns("h1")
            topo.veth(rns, "p0", h1, "eth0")
            r = Router(topo, rns, "wm", ["p0"], ["address add 192.0.2.1/24 port 1"],
                       vdevs=["net_null0"], extra_args=["--rx-mode", "adaptive"]).start()
            ports = r.ctl("show ports")
            self.assertEqual(ports[0]["rx_mode"], "adaptive")
            self.assertTrue(ports[0]["rx_wait"].startswith("timed (net_null"), ports[0])
            self.assertEqual((ports[1]["rx_mode"], ports[1]["rx_wait"]), ("adaptive", "epoll"))
            self.assertEqual(r.ctl("show stats")["per_worker"][0]["rx_mode"], "adaptive")
            self.assertEqual(r.stop(), 0)

            r = Router(topo, rns, "wm2", ["p0"], ["address add 192.0.2.1/24 port 0"],
                       extra_args=["--rx-mode", "interrupt", "--port-rx-mode", "0=poll"]).start()
            self.assertEqual(r.ctl("show ports")[0]["rx_mode"], "poll")
            self.assertEqual(r.ctl("show ports")[0]["rx_wait"], "-")
            self.assertEqual(r.ctl("show stats")["per_worker"][0]["rx_mode"], "poll")
            self.assertEqual(r.stop(), 0)

            # A port that does not exist is refused at start, by name.
            r = Router(topo, rns, "wm3", ["p0"], [], extra_args=["--port-rx-mode", "3=poll"])
            r.start(wait=False)
            self.assertNotEqual(r.wait(), 0)
            self.assertIn("--port-rx-mode: port 3 does not exist (the router has 1)", r.output())

    def test_bad_modes_are_refused(self):
        for args, said in ((["--rx-mode", "fast"], "'fast' is not poll, interrupt or adaptive"),
                           (["--port-rx-mode", "0"], "'0' is not PORT=poll|interrupt|adaptive"),
                           (["--port-rx-mode", "x=poll"], "'x=poll' is not"),
                           (["--port-rx-mode", "0=sleepy"], "'0=sleepy' is not")):
            res = run([ROUTER_BIN, "--", *args], check=False)
            self.assertEqual(res.returncode, 2, args)
            self.assertIn(said, res.stderr)
        res = run([ROUTER_BIN, "--", "--help"], check=False)
        for opt in ("--rx-mode", "--port-rx-mode", "--poll-us", "--max-sleep-ms"):
            self.assertIn(opt, res.stdout)


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
