"""End to end: a real QEMU guest of the lab (scripts/sswlab/guest.py) on a bridge in a
namespace answers ping, HTTP and TCP echo from a host there, and live-migrates to a QEMU whose
tap is on another bridge of the same L2 segment: the migration completes, a TCP connection
open across it loses no byte, and the destination's bridge sees the RARPs QEMU sends and the
guest's gratuitous ARPs. Needs no ssw build: its own small topology, no routers.

    lan: br-a ==(veth ab-a/ab-b)== br-b      one segment, two bridges (two "hypervisors")
          |  \\ tap-vm (source)      \\ tap-vm-dst (destination, after the migration)
          h-a
          |
    h:   eth0 192.0.2.1/24                   the guest: 192.0.2.10/24, gateway h

The guest image is built on first use (apt-get download of a kernel package: needs the
network once) and cached (sswlab.guest.build_image).
"""

import hashlib
import os
import select
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))

from sswlab import require_root  # noqa: E402
from sswlab.guest import (HTTP_PATH, HTTP_PORT, QEMU_BIN, EchoStream, Guest,  # noqa: E402
                          build_image, www_1m)
from sswlab.hosts import ping  # noqa: E402
from sswlab.netns import Topology, run, wait_until  # noqa: E402

GUEST_IP = "192.0.2.10"
HOST_IP = "192.0.2.1"
MAC = "52:54:00:5a:00:10"

HTTP_GET = r"""
import hashlib, sys, urllib.request
data = urllib.request.urlopen(sys.argv[1], timeout=30).read()
print(len(data), hashlib.sha256(data).hexdigest())
"""


def start_capture(ns, ifname, path, bpf, timeout=10.0):
    """tcpdump on ns/ifname writing to path; returns once it captures (it says "listening
    on"), so that nothing sent afterwards is missed."""
    proc = ns.popen(["tcpdump", "-i", ifname, "-n", "--immediate-mode", "-U", "-w", path, bpf],
                    stderr=subprocess.PIPE, bufsize=0)
    deadline = time.monotonic() + timeout
    said = b""
    while b"listening on" not in said:
        left = deadline - time.monotonic()
        chunk = os.read(proc.stderr.fileno(), 4096) if left > 0 and select.select(
            [proc.stderr], [], [], left)[0] else b""
        if not chunk:
            raise RuntimeError(f"tcpdump on {ifname} did not start capturing: {said.decode()}")
        said += chunk
    return proc


class GuestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists("/dev/net/tun"):
            raise unittest.SkipTest("no /dev/net/tun: QEMU cannot make its tap")
        if not shutil.which(QEMU_BIN):
            raise unittest.SkipTest(f"no {QEMU_BIN} (apt-get install qemu-system-x86)")
        t0 = time.monotonic()
        cls.image = build_image()
        cls.metrics = {"image_s": round(time.monotonic() - t0, 2)}
        cls.topo = t = Topology("gq")
        try:
            cls.lan = t.ns("lan")
            t.bridge(cls.lan, "br-a")
            t.bridge(cls.lan, "br-b")
            t.veth(cls.lan, "ab-a", cls.lan, "ab-b")
            cls.lan.run(["ip", "link", "set", "dev", "ab-a", "master", "br-a"])
            cls.lan.run(["ip", "link", "set", "dev", "ab-b", "master", "br-b"])
            cls.h = t.ns("h")
            t.veth(cls.h, "eth0", cls.lan, "h-a")
            cls.lan.run(["ip", "link", "set", "dev", "h-a", "master", "br-a"])
            cls.h.run(["ip", "addr", "add", f"{HOST_IP}/24", "dev", "eth0"])
            cls.guest = Guest(cls.lan, "br-a", f"{GUEST_IP}/24", HOST_IP, MAC, name="vm",
                              image=cls.image)
            cls.metrics["boot_s"] = round(cls.guest.wait_ready(60), 2)
            cls.metrics["rss_mib"] = cls.guest.rss_kib() // 1024
        except Exception:
            t.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.topo.close()
        print(f"\nGUEST: {cls.metrics}", flush=True)

    def check_services(self, what):
        r = ping(self.h, GUEST_IP, count=3, interval=0.2, wait=2)
        self.assertEqual(r.loss, 0, f"{what}: ping lost\n{r.raw}")
        self.assertEqual(r.reply_sources, {GUEST_IP})
        url = f"http://{GUEST_IP}:{HTTP_PORT}{HTTP_PATH}"
        out = self.h.run([sys.executable, "-c", HTTP_GET, url], timeout=60).stdout.split()
        self.assertEqual(out, [str(len(www_1m())), hashlib.sha256(www_1m()).hexdigest()],
                         f"{what}: HTTP GET {url}")
        echo = EchoStream(self.h, GUEST_IP)
        time.sleep(0.5)
        res = echo.finish()
        self.assertIsNone(res["error"], f"{what}: echo {res}")
        self.assertTrue(res["in_order"] and res["echoed"] == res["sent"] > 5, f"{what}: {res}")

    def test_guest_serves_ping_http_and_echo(self):
        self.check_services(f"guest on {self.guest.bridge}")

    def test_live_migration_keeps_tcp_and_announces(self):
        src = self.guest
        other = "br-b" if src.bridge == "br-a" else "br-a"
        dst = src.destination(other)
        pcap = os.path.join(dst.dir, "announce.pcap")
        cap = start_capture(self.lan, other, pcap, "arp or rarp")
        echo = EchoStream(self.h, GUEST_IP)
        time.sleep(0.5)
        res = src.migrate(dst)
        self.assertEqual(res["status"], "completed", res)
        self.__class__.guest = dst
        wait_until(lambda: dst.status() == "running", timeout=10, what="destination running")
        self.assertEqual(src.status(), "postmigrate")
        time.sleep(1.5)  # QEMU's announcements: 5 rounds over ~1.3 s
        stream = echo.finish()
        src.quit()
        announced = time.time()
        dst.announce_self(rounds=2)
        time.sleep(0.5)
        self.topo.stop(cap)
        self.metrics.update(total_time_ms=res["total_time"], downtime_ms=res["downtime"],
                            echo=stream, dst_rss_mib=dst.rss_kib() // 1024)
        self.assertIsInstance(res["downtime"], int, res)
        self.assertIn("RESUME", [e["event"] for e in dst.qmp.events])
        self.assertIsNone(stream["error"], stream)
        self.assertTrue(stream["in_order"], stream)
        self.assertEqual(stream["echoed"], stream["sent"], stream)

        # "-tt": each line starts with its time (s since the epoch, as time.time()).
        lines = run(["tcpdump", "-r", pcap, "-n", "-e", "-tt"], check=False).stdout.splitlines()
        rarps = [float(l.split()[0]) for l in lines if f" {MAC} > " in l and "Reverse" in l]
        garps = [float(l.split()[0]) for l in lines
                 if f" {MAC} > " in l and f"who-has {GUEST_IP} tell {GUEST_IP}" in l]
        after = [t for t in rarps if t >= announced]
        self.metrics.update(rarps_migration=len(rarps) - len(after),
                            rarps_announce_self=len(after), garps=len(garps))
        self.assertGreaterEqual(len(rarps) - len(after), 1, "no RARP after the migration\n" +
                                "\n".join(lines))
        self.assertGreaterEqual(len(garps), 1, "no gratuitous ARP from the guest\n" +
                                "\n".join(lines))
        self.assertGreaterEqual(len(after), 1, "no RARP after announce-self\n" + "\n".join(lines))
        self.check_services(f"migrated guest on {other}")


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
