"""End to end: a real VM in the paper's testbed (scripts/sswlab/testbed.py), live-migrated
across subnets by QEMU while hosts keep TCP connections to it.

A QEMU guest Q (sswlab.guest: TCG, 128 MiB, boots in a few seconds) with M = 192.168.11.5
lives on the home segment, its tap a port of the segment's bridge. It is live-migrated (QMP,
a destination QEMU whose tap is on the target segment's bridge) home -> foreign -> foreign2
-> home, and right after each migration completes the routers are switched by hand with
`sswctl migrate` / `sswctl return` (the local orchestrator): what today's code does when
nothing tells the control plane that the VM has arrived.

Across all three moves, E (external), D (home, the paper's case 4) and B (foreign, case 6)
each keep a TCP echo connection to Q, and every echo must come back, in order, without a
reset. After each move E downloads the guest's 1 MiB page over HTTP and checks every byte.
E pings Q every 10 ms during each move; each move prints QEMU's downtime beside E's ping
interruption (from the first lost request to the first answered one after it), in optimized
and in triangle mode.

The guest image is built on first use (apt-get download of a kernel package: needs the
network once) and cached (sswlab.guest.build_image).
"""

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))

from sswlab import require_root  # noqa: E402
from sswlab.guest import HTTP_PATH, HTTP_PORT, QEMU_BIN, EchoStream, build_image, www_1m  # noqa: E402
from sswlab.hosts import http_get, interruption_ms, parse_ping  # noqa: E402
from sswlab.testbed import Testbed  # noqa: E402

Q = "Q"
Q_IP = "192.168.11.5"
Q_MAC = "52:54:00:00:11:05"
PING_INTERVAL_MS = 10
# (target segment, how the routers are told): home -> foreign -> foreign2 -> home.
MOVES = [("foreign", "migrate"), ("foreign2", "migrate"), ("home", "return")]
PEERS = ("E", "D", "B")  # external, home host, foreign host
WWW_SHA256 = hashlib.sha256(www_1m()).hexdigest()


class RealVmLocalTest(unittest.TestCase):
    """The local control plane: sswctl's own orchestrator, driven by hand after each move."""

    @classmethod
    def make_testbed(cls):
        return Testbed(tag="rv", control="local")

    @classmethod
    def setUpClass(cls):
        if not os.path.exists("/dev/net/tun"):
            raise unittest.SkipTest("no /dev/net/tun: QEMU cannot make the guest's tap")
        if not shutil.which(QEMU_BIN):
            raise unittest.SkipTest(f"no {QEMU_BIN} (apt-get install qemu-system-x86)")
        cls.report = []
        cls.image = build_image()
        cls.tb = cls.make_testbed()
        try:
            t0 = time.monotonic()
            guest = cls.tb.add_guest(Q, "home", f"{Q_IP}/24", "192.168.11.1", Q_MAC,
                                     image=cls.image)
            cls.boot_s = round(time.monotonic() - t0, 2)
            cls.rss_mib = guest.rss_kib() // 1024
        except Exception:
            cls.tb.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.tb.stop_routers(), "a router did not exit cleanly after SIGTERM"
        finally:
            cls.tb.close()
            print(f"\nREAL VM: boot {cls.boot_s} s, RSS {cls.rss_mib} MiB", flush=True)
            for line in cls.report:
                print(line, flush=True)

    def setUp(self):
        # Every test starts with Q at home, on the home bridge and in the orchestrator's state.
        if self.tb.segment_of[Q] != "home":
            res = self.tb.live_migrate(Q, "home")
            self.assertEqual(res["status"], "completed", res)
        if self.tb.where(Q)["data"]["location"] != "home":
            self.assertTrue(self.tb.orchestrate("return", Q)["ok"])

    # -- helpers --
    def start_ping(self):
        """ping from E to Q every 10 ms, in the background, until stop_ping."""
        return self.tb.hosts["E"].popen(
            ["ping", "-n", "-i", str(PING_INTERVAL_MS / 1000), "-w", "60", Q_IP],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def stop_ping(self, proc):
        """SIGINT (ping prints its summary), then its output."""
        try:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=10)
        finally:
            self.tb.topo.stop(proc)
        return out

    def check_http(self, what):
        digest, secs = http_get(self.tb.hosts["E"], f"http://{Q_IP}:{HTTP_PORT}{HTTP_PATH}",
                                timeout=30)
        self.assertEqual(digest, WWW_SHA256, f"{what}: the 1 MiB from Q differs")
        return secs

    def move(self, seg, how, mode):
        """Live-migrates Q to seg, then switches the routers (sswctl migrate --to seg, or
        return); returns one line of the report."""
        ping_proc = self.start_ping()
        try:
            time.sleep(0.5)  # pings answered before the move
            frm = self.tb.segment_of[Q]
            res = self.tb.live_migrate(Q, seg)
            self.assertEqual(res["status"], "completed", res)
            t_switch = time.monotonic()
            out = (self.tb.orchestrate("return", Q) if how == "return" else
                   self.tb.orchestrate("migrate", Q, "--to", seg, "--mode", mode))
            switched = time.monotonic()
            self.assertTrue(out["ok"], f"sswctl {how} {Q} to {seg}: {out}")
            time.sleep(1.5)  # the announcements (three bursts, 100 ms apart) and the recovery
        finally:
            ping_out = self.stop_ping(ping_proc)
        p = parse_ping(ping_out)
        gap = interruption_ms(ping_out, PING_INTERVAL_MS)
        self.assertIsNotNone(gap, f"E's pings to Q never answered:\n{ping_out[-2000:]}")
        # Answered again at the end: the last 50 requests (0.5 s) all have their reply.
        seqs = sorted(int(s) for s in re.findall(r"icmp_seq=(\d+) ttl", ping_out))
        self.assertTrue(seqs and seqs[-1] >= p.sent - 5 and
                        seqs[-50:] == list(range(seqs[-1] - 49, seqs[-1] + 1)),
                        f"{frm} -> {seg}: E's pings not answered after the move:\n"
                        f"{ping_out[-2000:]}")
        where = self.tb.where(Q)["data"]
        self.assertEqual(where["location"], seg, where)
        http_s = self.check_http(f"after {frm} -> {seg} ({mode})")
        return (f"  {mode:9} {frm:>8} -> {seg:<8}: QEMU total {res['total_time']} ms, "
                f"downtime {res['downtime']} ms; E ping interruption {gap} ms "
                f"({p.sent - p.received} of {p.sent} lost); sswctl {how} "
                f"{round((switched - t_switch) * 1000)} ms after completion "
                f"(+ source quit {round((t_switch - res['completed']) * 1000)} ms); "
                f"HTTP 1 MiB {http_s:.2f} s")

    def run_moves(self, mode):
        self.check_http("before the moves")
        streams = {h: EchoStream(self.tb.hosts[h], Q_IP, interval=0.02) for h in PEERS}
        lines = []
        try:
            time.sleep(0.5)
            for seg, how in MOVES:
                lines.append(self.move(seg, how, mode))
                print(lines[-1], file=sys.stderr, flush=True)
        finally:
            results = {h: s.finish() for h, s in streams.items()}
            self.report.extend(lines)
            self.report.append(f"  {mode:9} TCP echo across the moves: " + ", ".join(
                f"{h}->Q {r['echoed']}/{r['sent']} max gap {r['max_gap_ms']} ms"
                f"{'' if r['in_order'] else ' OUT OF ORDER'}"
                f"{'' if r['error'] is None else ' ' + r['error']}" for h, r in results.items()))
        for h, r in results.items():
            self.assertIsNone(r["error"], f"{h}'s TCP connection to Q: {r}")
            self.assertTrue(r["in_order"], f"{h}'s TCP echoes out of order: {r}")
            self.assertEqual(r["echoed"], r["sent"], f"{h}'s TCP echoes lost: {r}")
            self.assertGreater(r["sent"], 50, r)

    # -- tests --
    def test_live_migrations_optimized(self):
        self.run_moves("optimized")

    def test_live_migrations_triangle(self):
        self.run_moves("triangle")


class RealVmOnArrivalTest(RealVmLocalTest):
    """The etcd control plane (three members, an ssw-agent per router). Each move is staged
    by conf/libvirt/qemu, run as libvirt runs it on the destination host before an incoming
    migration, and switched by the VM's own arrival: the destination QEMU's RARP (or the
    guest's gratuitous ARP) at the router of the new subnet, which its agent turns into the
    move's switch (Testbed.migrate_on_arrival). Nobody switches anything by hand: after the
    hook, the test only runs QMP migrate."""

    ROUTER_OF = {"home": "R3", "foreign": "R2", "foreign2": "R4"}

    @classmethod
    def make_testbed(cls):
        return Testbed(tag="ra", control="etcd", etcd_members=3)

    @classmethod
    def setUpClass(cls):
        cls.interruptions = []
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        extra = sorted(g - d for g, d in cls.interruptions)
        if extra:
            cls.report.append(f"  on arrival: E's interruption beyond QEMU's downtime over "
                              f"{len(extra)} moves: p50 {extra[len(extra) // 2]} ms, max "
                              f"{extra[-1]} ms")
        super().tearDownClass()

    def setUp(self):
        if self.tb.segment_of[Q] != "home":
            self.move("home", "return", "optimized")
        elif self.tb.where(Q)["data"]["location"] != "home":
            self.assertTrue(self.tb.orchestrate("return", Q)["ok"])

    def move(self, seg, how, mode):
        ping_proc = self.start_ping()
        try:
            time.sleep(0.5)
            frm = self.tb.segment_of[Q]
            res = self.tb.migrate_on_arrival(Q, seg, mode)
            time.sleep(1.5)
        finally:
            ping_out = self.stop_ping(ping_proc)
        where = res["where"]
        self.assertEqual(where["location"], seg, where)
        self.assertRegex(where.get("arrived", ""), f"^{self.ROUTER_OF[seg]} by (rarp|arp)$", where)
        gap = interruption_ms(ping_out, PING_INTERVAL_MS)
        self.assertIsNotNone(gap, f"E's pings to Q never answered:\n{ping_out[-2000:]}")
        http_s = self.check_http(f"after {frm} -> {seg} ({mode})")
        self.interruptions.append((gap, res["downtime"]))
        return (f"  {mode:9} {frm:>8} -> {seg:<8}: QEMU total {res['total_time']} ms, "
                f"downtime {res['downtime']} ms; E ping interruption {gap} ms (beyond "
                f"QEMU's downtime: {gap - res['downtime']} ms); arrived: {where['arrived']}; "
                f"HTTP 1 MiB {http_s:.2f} s")

if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
