"""End to end: the service switch functions of one router, with Linux hosts in namespaces.

    E 203.0.113.10 --- port 0 (access)  [ssw-router]  port 1 (core) --- X 10.0.0.2, 10.0.0.4
                                            port 2 (access)
                                               |  bridge "seg"
                              B 192.168.10.2   C 192.168.11.3/24 (a moved VM: M)

- forward binding  M2=192.168.11.4 -> M2*=10.0.0.4 (X holds 10.0.0.4): E talks to M2, X sees
  10.0.0.4, E sees M2 in every reply.
- local binding    M=192.168.11.3 -> M*=192.168.10.3 on port 2: X talks to M*, C receives
  packets for M, and X sees only M*.
- proxy-ARP for the home prefix 192.168.11.0/24 on port 2 (the foreign segment).
"""

import json
import os
import re
import sys
import tempfile
import unittest
from types import SimpleNamespace

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))

from sswlab import require_root  # noqa: E402
from sswlab.hosts import (HttpServer, arping, http_get, ping, udp_echo_server,  # noqa: E402
                          udp_query)
from sswlab.netns import Topology, run, wait_until  # noqa: E402
from sswlab.router import Router  # noqa: E402
from sswlab.testbed import Testbed  # noqa: E402

M, MSTAR = "192.168.11.3", "192.168.10.3"
M2, M2STAR = "192.168.11.4", "10.0.0.4"

CONFIG = [
    "address add 203.0.113.1/24 port 0",
    "address add 10.0.0.1/24 port 1",
    "address add 192.168.10.1/24 port 2",
    "port 1 role core",
    f"nat add {M2} to {M2STAR}",
    f"nat add {M} to {MSTAR} local port 2",
    "proxy-arp add 192.168.11.0/24 port 2",
]


def capture(topo, ns, ifname, name):
    """tcpdump on ns/ifname (IPv4), returned once it is listening: the testbed's capture
    (Testbed.capture, which needs only a directory for the pcap), in this test's topology."""
    return Testbed.capture(SimpleNamespace(dir=topo.tmpdir("ssw-capture-")), ns, ifname, name)


def pcap_lines(path):
    """The captured packets, one line each (tcpdump -n -q)."""
    return run(["tcpdump", "-r", path, "-n", "-q"], check=False).stdout.splitlines()


class ServiceSwitchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = t = Topology("ss")
        try:
            r, e, x, b, c = (t.ns(n) for n in ("r", "e", "x", "b", "c"))
            cls.e, cls.x, cls.b, cls.c = e, x, b, c
            seg = t.ns("seg")  # the foreign segment's switch
            t.veth(r, "p0", e, "eth0")
            t.veth(r, "p1", x, "eth0")
            t.veth(r, "p2", seg, "r")
            t.veth(b, "eth0", seg, "b")
            t.veth(c, "eth0", seg, "c")
            t.bridge(seg, "br0", ["r", "b", "c"])
            e.run("ip addr add 203.0.113.10/24 dev eth0")
            e.run("ip route add default via 203.0.113.1")
            x.run("ip addr add 10.0.0.2/24 dev eth0")
            x.run(f"ip addr add {M2STAR}/24 dev eth0")
            x.run("ip route add default via 10.0.0.1")
            b.run("ip addr add 192.168.10.2/24 dev eth0")
            b.run("ip route add default via 192.168.10.1")
            # C kept its home configuration: M/24, gateway 192.168.11.1.
            c.run(f"ip addr add {M}/24 dev eth0")
            c.run("ip route add default via 192.168.11.1")
            cls.router = Router(t, r, "ss", ["p0", "p1", "p2"], CONFIG).start()
            cls.rmac = [cls.router.port_mac(i) for i in range(3)]
        except Exception:
            t.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            assert cls.router.stop() == 0, cls.router.output()
        finally:
            cls.topo.close()

    # -- forward binding --

    def test_forward_binding_ping_sees_home_address(self):
        r = ping(self.e, M2, count=5, interval=0.05)
        self.assertEqual(r.loss, 0, r.raw)
        self.assertEqual(r.reply_sources, {M2})

    def test_forward_binding_tcp_and_far_side_sees_care_of(self):
        srv = HttpServer(self.x, M2STAR, size=1024 * 1024, port=8081)
        try:
            digest, _ = http_get(self.e, f"http://{M2}:8081/{srv.name}")
            self.assertEqual(digest, srv.sha256)
            # X saw the connection to its care-of address 10.0.0.4 (the server is bound
            # there), and E saw answers from M2 (curl connected to M2).
        finally:
            srv.stop()
        rows = self.router.ctl(f"show nat {M2}")
        self.assertEqual(len(rows), 1)
        self.assertGreater(rows[0]["packets"], 100)
        self.assertIsNotNone(rows[0]["last_hit_s"])

    def test_udp_and_translated_icmp_error(self):
        srv = udp_echo_server(self.x, M2STAR, 5353)
        wait_until(lambda: "5353" in self.x.run("ss -lun").stdout, what="udp server")
        self.assertEqual(udp_query(self.e, M2, 5353), ("reply", M2, "ssw-udp-probe"))
        # Port 5354 is closed: X's port unreachable quotes (E -> 10.0.0.4); the router must
        # rewrite the quote to (E -> M2), or E's kernel would not match it to the socket.
        self.assertEqual(udp_query(self.e, M2, 5354), ("refused",))
        srv.terminate()

    def test_ttl_expiry_at_router_quotes_original(self):
        r = ping(self.e, M2, count=1, ttl=1)
        self.assertIn(("203.0.113.1", "Time to live exceeded"), r.errors, r.raw)

    # -- local binding --

    def test_local_binding_delivers_and_hides_home_address(self):
        r = ping(self.x, MSTAR, count=5, interval=0.05)
        self.assertEqual(r.loss, 0, r.raw)
        self.assertEqual(r.reply_sources, {MSTAR})
        srv = HttpServer(self.c, M, size=1024 * 1024, port=8082)
        try:
            digest, _ = http_get(self.x, f"http://{MSTAR}:8082/{srv.name}")
            self.assertEqual(digest, srv.sha256)
        finally:
            srv.stop()

    def test_native_host_reaches_moved_vm_by_home_address(self):
        # B (foreign subnet) talks to M through the router (case 6), and C to B (case 5).
        r = ping(self.b, M, count=3, interval=0.1)
        self.assertEqual(r.loss, 0, r.raw)
        self.assertEqual(r.reply_sources, {M})
        r = ping(self.c, "192.168.10.2", count=3, interval=0.1)
        self.assertEqual(r.loss, 0, r.raw)

    def test_redirects_let_a_native_host_reach_the_moved_vm_directly(self):
        # Cases 5/6: B's packets for M come in and go out on the same port. With redirects on,
        # the router tells B (whose gateway it is) to send to M directly; Linux accepts it
        # (accept_redirects, shared_media) and ARPs for M on the segment, where C answers.
        self.router.ctl("port 2 redirects on")
        try:
            before = self.router.counter("redirects_sent")
            r = ping(self.b, M, count=3, interval=0.2)
            self.assertEqual(r.loss, 0, r.raw)
            self.assertGreater(self.router.counter("redirects_sent"), before)
            route = self.b.run(["ip", "route", "get", M]).stdout
            self.assertIn(f"via {M}", route, "B did not take the redirect")
            # B's requests now go straight to C; C's replies still pass the router: Linux takes
            # a redirect only from the gateway it uses (C's is the home gateway 192.168.11.1,
            # which the router only proxies), see README.
            fwd = self.router.counter("forwarded")
            r = ping(self.b, M, count=5, interval=0.05)
            self.assertEqual(r.loss, 0, r.raw)
            self.assertEqual(r.reply_sources, {M})
            self.assertLessEqual(self.router.counter("forwarded") - fwd, 5, "B's requests still pass the router")
        finally:
            self.router.ctl("port 2 redirects off")
            self.b.run(["ip", "route", "flush", "cache"])

    def test_keep_source_variant_leaves_source_untranslated(self):
        try:
            self.router.ctl(f"nat add {M} to {MSTAR} local port 2 keep-source")
            # X now gets replies from M (not M*): ping sees a reply from the wrong address.
            r = ping(self.x, MSTAR, count=3, interval=0.1)
            self.assertEqual(r.reply_sources, {M}, r.raw)
        finally:
            self.router.ctl(f"nat add {M} to {MSTAR} local port 2")
        r = ping(self.x, MSTAR, count=3, interval=0.1)
        self.assertEqual(r.reply_sources, {MSTAR}, r.raw)

    # -- what the core sees --

    def test_core_link_carries_care_of_addresses_only(self):
        """Captured on X's end of the core link while hosts ping across both bindings: X's
        pings to the moved VM go out to M* and come back from M*, the VM's own pings leave the
        router from M*, and E's pings to M2 reach the core as M2*. No packet on the core
        carries a home address (docs/DESIGN.md §2.1)."""
        proc, path = capture(self.topo, self.x, "eth0", "core")
        try:
            to_vm = ping(self.x, MSTAR, count=5, interval=0.05)
            from_vm = ping(self.c, "10.0.0.2", count=5, interval=0.05)
            to_m2 = ping(self.e, M2, count=5, interval=0.05)
            # Three pings of 5 requests and 5 replies; tcpdump -U writes each as it comes.
            wait_until(lambda: sum(" ICMP echo " in l for l in pcap_lines(path)) >= 30,
                       timeout=10, what="the core capture to hold the 30 pings")
        finally:
            proc.terminate()
            proc.wait(timeout=5)
            proc.stderr.close()
        self.assertEqual((to_vm.loss, to_vm.reply_sources), (0, {MSTAR}), to_vm.raw)
        self.assertEqual((from_vm.loss, from_vm.reply_sources), (0, {"10.0.0.2"}), from_vm.raw)
        self.assertEqual((to_m2.loss, to_m2.reply_sources), (0, {M2}), to_m2.raw)
        lines = pcap_lines(path)
        seen = {}
        for line in lines:
            m = re.search(r"IP ([\d.]+) > ([\d.]+): ICMP (echo request|echo reply)", line)
            if m:
                seen[m.groups()] = seen.get(m.groups(), 0) + 1
            addrs = set(re.findall(r"\d+\.\d+\.\d+\.\d+", line))
            self.assertFalse(addrs & {M, M2}, f"the core link carried a home address: {line}")
        self.assertEqual(seen, {
            # X to the moved VM, by its care-of address, and the VM's replies from M*.
            ("10.0.0.2", MSTAR, "echo request"): 5,
            (MSTAR, "10.0.0.2", "echo reply"): 5,
            # The VM's pings, its source translated M -> M* on the way to the core.
            (MSTAR, "10.0.0.2", "echo request"): 5,
            ("10.0.0.2", MSTAR, "echo reply"): 5,
            # E's pings to M2 travel the core as M2*.
            ("203.0.113.10", M2STAR, "echo request"): 5,
            (M2STAR, "203.0.113.10", "echo reply"): 5,
        }, "\n".join(lines))

    # -- proxy-ARP --

    def test_proxy_arp_answers_exactly_when_it_should(self):
        port2 = self.rmac[2]
        c_mac = self.c.mac("eth0")
        before = self.router.counter("proxy_arp_replies")
        # The home gateway and another home address: the router answers.
        self.assertEqual(arping(self.b, "eth0", "192.168.11.1"), {port2})
        self.assertEqual(arping(self.c, "eth0", "192.168.11.50"), {port2})
        # M is a local binding on this segment: only C answers for itself (case 7).
        self.assertEqual(arping(self.b, "eth0", M), {c_mac})
        # C's own probe (duplicate address detection) for M: nobody else answers.
        self.assertEqual(arping(self.c, "eth0", M, dad=True), set())
        # Outside the proxied prefix, and on a port without proxy-ARP: no answer.
        self.assertEqual(arping(self.b, "eth0", "192.168.12.1"), set())
        self.assertEqual(arping(self.e, "eth0", "192.168.11.1"), set())
        self.assertGreaterEqual(self.router.counter("proxy_arp_replies") - before, 4)
        # An announcement by a host of its own proxied address gets no reply.
        self.assertEqual(arping(self.c, "eth0", M, unsolicited=True), set())

    def test_gratuitous_arp_updates_host_caches(self):
        # B holds stale entries: the home gateway at an old MAC, and C at C's MAC.
        c_mac = self.c.mac("eth0")
        self.b.run("ip neigh replace 192.168.11.1 lladdr 02:00:00:00:00:01 dev eth0 nud stale")
        self.b.run(f"ip neigh replace {M} lladdr {c_mac} dev eth0 nud stale")
        # A confirmed entry for M (any test that reached C leaves one) would be announced too,
        # with C's own MAC (docs/DESIGN.md §2.3); without it the router announces 253.
        if any(n["ip"] == M for n in self.router.ctl("show neigh")):
            self.router.ctl(f"neigh del {M}")
        before = self.router.counter("garp_sent")
        data = self.router.ctl("arp announce 192.168.11.0/24 port 2 count 2 interval 50")
        self.assertEqual(data["addresses"], 253)  # 254 hosts minus M (a local binding here)
        wait_until(lambda: self.b.neigh("192.168.11.1")[0] == self.rmac[2], timeout=3,
                   what="B's cache to point the home gateway at the router")
        self.assertEqual(self.b.neigh(M)[0], c_mac, "the router announced a local binding")
        wait_until(lambda: self.router.counter("garp_sent") - before == 506, timeout=3,
                   what="two bursts of 253 announcements")
        self.assertIn("answers ARP for no address",
                      self.router.ctl_error("arp announce 192.168.12.0/24 port 2"))
        self.assertIn("answers ARP for no address", self.router.ctl_error(f"arp announce {M} port 2"))

    # -- commands --

    def test_epochs_order_updates(self):
        A, AS = "192.168.11.77", "192.168.10.77"
        self.router.ctl(f"nat add {A} to {AS} local port 2 epoch 5")
        self.assertIn("stale", self.router.ctl_error(f"nat add {A} to 192.168.10.78 epoch 4"))
        self.assertEqual(self.router.ctl(f"nat add {A} to {AS} local port 2 epoch 5"), {"changed": False})
        self.assertIn("different", self.router.ctl_error(f"nat add {A} to 192.168.10.78 epoch 5"))
        self.router.ctl(f"nat add {A} to 192.168.10.78 epoch 6")
        self.assertEqual(self.router.ctl(f"show nat {A}")[0]["care_of"], "192.168.10.78")
        self.assertIn("stale", self.router.ctl_error(f"nat del {A} epoch 5"))
        self.router.ctl(f"nat del {A} epoch 7")
        # Deleted at epoch 7: an add delayed from epoch 6 must not bring it back.
        self.assertIn("stale", self.router.ctl_error(f"nat add {A} to {AS} epoch 6"))
        self.assertEqual(self.router.ctl(f"show nat {A}"), [])
        # Without an epoch, the next one is taken.
        self.assertEqual(self.router.ctl(f"nat add {A} to {AS}")["epoch"], 8)
        self.router.ctl(f"nat del {A}")

    def test_care_of_address_conflicts_are_refused(self):
        self.assertIn("already used", self.router.ctl_error(f"nat add 192.168.11.99 to {MSTAR}"))
        self.assertIn("already used", self.router.ctl_error(f"nat add 192.168.11.99 to {M2}"))
        self.assertIn("own addresses", self.router.ctl_error("nat add 192.168.11.99 to 10.0.0.1"))

    def test_show_nat_pages(self):
        homes = ["192.168.11.81", "192.168.11.82", "192.168.11.83"]
        for i, h in enumerate(homes):
            self.router.ctl(f"nat add {h} to 10.0.0.{81 + i}")
        try:
            res = self.router.sswctl("--json", "show", "nat", "192.168.11.80/28", "limit", "2")
            rep = json.loads(res.stdout)
            self.assertEqual([r["home"] for r in rep["data"]], homes[:2])
            self.assertEqual(rep["next"], "show nat 192.168.11.80/28 after 192.168.11.82 limit 2")
            self.assertEqual([r["home"] for r in self.router.ctl(rep["next"])], homes[2:])
            res = self.router.sswctl("show", "nat", "192.168.11.80/28", "limit", "2")
            self.assertEqual(res.returncode, 0)
            self.assertIn("more: show nat 192.168.11.80/28 after 192.168.11.82 limit 2", res.stderr)
            self.assertEqual(len(self.router.ctl("show nat 192.168.11.80/28")), 3)
        finally:
            for h in homes:
                self.router.ctl(f"nat del {h}")

    def test_batch_is_all_or_nothing(self):
        before = self.router.ctl("show nat")
        with tempfile.NamedTemporaryFile("w", suffix=".batch", delete=False) as f:
            f.write("nat add 192.168.11.60 to 10.0.0.60\n"
                    "nat add 192.168.11.61 to 10.0.0.61\n"
                    "proxy-arp add 192.168.11.60/32 port 0\n"
                    f"nat add 192.168.11.62 to {MSTAR}\n")  # refused: M*'s care-of in use
            bad = f.name
        res = self.router.sswctl("batch", bad)
        self.assertEqual(res.returncode, 1)
        self.assertIn("command 4", res.stderr)
        self.assertIn("nothing applied", res.stderr)
        self.assertEqual(self.router.ctl("show nat"), before)
        self.assertEqual(self.router.ctl("show proxy-arp"), [{"port": 2, "prefix": "192.168.11.0/24"}])
        # A line the router cannot parse is refused as it is queued: named by file and line.
        with open(bad, "w") as f:
            f.write("nat add 192.168.11.60 to 10.0.0.60\n\n# a comment\nnat frobnicate\n"
                    "nat add 192.168.11.61 to 10.0.0.61\n")
        res = self.router.sswctl("batch", bad)
        self.assertEqual(res.returncode, 1)
        self.assertIn(f"{bad}:4: ", res.stderr)
        self.assertEqual(self.router.ctl("show nat"), before)
        with open(bad, "w") as f:
            f.write("nat add 192.168.11.60 to 10.0.0.60\n# a comment\n"
                    "nat add 192.168.11.61 to 10.0.0.61\nnat del 192.168.11.60\n")
        res = self.router.sswctl("batch", bad)
        self.assertEqual(res.returncode, 0, res.stderr)
        homes = {row["home"] for row in self.router.ctl("show nat")}
        self.assertIn("192.168.11.61", homes)
        self.assertNotIn("192.168.11.60", homes)
        self.router.ctl("nat del 192.168.11.61")
        os.unlink(bad)


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
