"""End to end: one ssw-router between two Linux hosts, in namespaces.

    h1 (192.0.2.2/24) --- [port 0  ssw-router  port 1] --- h2 (198.51.100.2/24)
                                         port 2 --- h3 (198.51.100.0/24's neighbour on
                                                         its own link, 203.0.113.3/24)

h2 and h3 both hold 10.9.9.9 on their loopback, so a route for 10.9.9.0/24 can be moved
from one to the other while h1 pings it.
"""

import os
import re
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../scripts"))

from sswlab import require_root  # noqa: E402
from sswlab.hosts import HttpServer, http_get, ping, traceroute  # noqa: E402
from sswlab.netns import Topology, run, wait_until  # noqa: E402
from sswlab.router import ROUTER_BIN, SSWCTL_BIN, Router  # noqa: E402

CONFIG = [
    "# two hosts and a third path",
    "address add 192.0.2.1/24 port 0",
    "address add 198.51.100.1/24 port 1",
    "address add 203.0.113.1/24 port 2",
    "route add 10.9.9.0/24 via 198.51.100.2",
]

# What CONFIG installs, as `show routes` lists it: prefix -> (type, via, port). Each address
# brings its /32 (local), its subnet (connected), and the subnet's network and broadcast /32s
# (never forwarded, RFC 1812 5.3.5.2).
ROUTES = {
    "10.9.9.0/24": ("static", "198.51.100.2", 1),
    **{f"{net}.{host}": (kind, "", port)
       for port, net in enumerate(("192.0.2", "198.51.100", "203.0.113"))
       for host, kind in (("0/24", "connected"), ("1/32", "local"), ("0/32", "broadcast"),
                          ("255/32", "broadcast"))},
}
PORT_ADDRESSES = ["192.0.2.1/24", "198.51.100.1/24", "203.0.113.1/24"]


def parse_table(text):
    """Rows of a table as sswctl renders it (control/ctl/table_format.cc): a line of column
    names, then a line per row, each cell starting where its column's name does; "-" is an
    empty cell."""
    lines = text.splitlines()
    starts = [m.start() for m in re.finditer(r"\S+", lines[0])]
    names = lines[0].split()
    return [{n: line[a:b].strip() for n, a, b in zip(names, starts, starts[1:] + [None])}
            for line in lines[1:]]


def build_hosts(topo, router_ns):
    h1, h2, h3 = topo.ns("h1"), topo.ns("h2"), topo.ns("h3")
    topo.veth(router_ns, "p0", h1, "eth0")
    topo.veth(router_ns, "p1", h2, "eth0")
    topo.veth(router_ns, "p2", h3, "eth0")
    for h, addr, gw in ((h1, "192.0.2.2/24", "192.0.2.1"), (h2, "198.51.100.2/24", "198.51.100.1"),
                        (h3, "203.0.113.3/24", "203.0.113.1")):
        h.run(["ip", "addr", "add", addr, "dev", "eth0"])
        h.run(["ip", "route", "add", "default", "via", gw])
    for h in (h2, h3):
        h.run("ip addr add 10.9.9.9/32 dev lo")
    return h1, h2, h3


class RoutingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.topo = Topology("rt")
        try:
            cls.rns = cls.topo.ns("r")
            cls.h1, cls.h2, cls.h3 = build_hosts(cls.topo, cls.rns)
            cls.router = Router(cls.topo, cls.rns, "r", ["p0", "p1", "p2"], CONFIG).start()
        except Exception:
            cls.topo.close()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            code = cls.router.stop()
            assert code == 0, f"router exit code {code} after SIGTERM:\n{cls.router.output()}"
        finally:
            cls.topo.close()

    def test_ping_across_the_router(self):
        r = ping(self.h1, "198.51.100.2", count=20, interval=0.05)
        self.assertEqual(r.sent, 20)
        self.assertEqual(r.loss, 0, r.raw)
        self.assertEqual(r.reply_sources, {"198.51.100.2"})

    def test_http_download_10mb(self):
        srv = HttpServer(self.h2, "198.51.100.2", size=10 * 1024 * 1024)
        try:
            digest, _ = http_get(self.h1, srv.url)
            self.assertEqual(digest, srv.sha256)
        finally:
            srv.stop()

    def test_router_addresses_answer_ping(self):
        for addr in ("192.0.2.1", "198.51.100.1", "203.0.113.1"):
            r = ping(self.h1, addr, count=3, interval=0.1)
            self.assertEqual(r.loss, 0, r.raw)
            self.assertEqual(r.reply_sources, {addr})

    def test_traceroute_sees_the_router(self):
        hops = traceroute(self.h1, "198.51.100.2")
        self.assertEqual(hops[:2], ["192.0.2.1", "198.51.100.2"])

    def test_ttl_expiry_returns_time_exceeded(self):
        before = self.router.drop("ttl_exceeded")
        r = ping(self.h1, "198.51.100.2", count=1, ttl=1)
        self.assertIn(("192.0.2.1", "Time to live exceeded"), r.errors, r.raw)
        self.assertEqual(r.received, 0)
        self.assertGreater(self.router.drop("ttl_exceeded"), before)

    def test_unrouted_destination_returns_net_unreachable(self):
        before = self.router.drop("no_route")
        r = ping(self.h1, "100.64.1.1", count=1)
        self.assertIn(("192.0.2.1", "Destination Net Unreachable"), r.errors, r.raw)
        self.assertGreater(self.router.drop("no_route"), before)

    def test_fragmentation_and_frag_needed(self):
        # Both ends of the link get the smaller MTU, as on a real link (a veth drops frames
        # larger than its own MTU).
        self.router.ctl("port 1 mtu 1000")
        self.h2.run("ip link set eth0 mtu 1000")
        try:
            # DF set and too big: ICMP fragmentation needed carrying the next-hop MTU.
            r = ping(self.h1, "198.51.100.2", count=1, size=1400, df=True)
            self.assertTrue(any("mtu = 1000" in e[1] for e in r.errors), r.raw)
            # Without DF the router fragments; h2 reassembles and answers.
            before = self.router.counter("fragments_sent")
            r = ping(self.h1, "198.51.100.2", count=3, size=1400, interval=0.1)
            self.assertEqual(r.loss, 0, r.raw)
            self.assertGreaterEqual(self.router.counter("fragments_sent") - before, 6)
        finally:
            self.router.ctl("port 1 mtu 1500")
            self.h2.run("ip link set eth0 mtu 1500")

    def test_route_change_while_traffic_flows(self):
        """10.9.9.9 is on h2 and h3; moving the route moves the traffic, with no loss."""
        self.router.ctl("route replace 10.9.9.0/24 via 198.51.100.2")
        result = {}

        def pinger():
            result["r"] = ping(self.h1, "10.9.9.9", count=150, interval=0.02)

        h2_before = self.h2.link_stats("eth0")[0]
        t = threading.Thread(target=pinger)
        t.start()
        time.sleep(1.0)
        h3_before = self.h3.link_stats("eth0")[0]
        self.router.ctl("route replace 10.9.9.0/24 via 203.0.113.3")
        t.join()
        r = result["r"]
        self.assertEqual(r.loss, 0, r.raw)
        # Both hosts carried part of the stream.
        self.assertGreater(self.h2.link_stats("eth0")[0] - h2_before, 20)
        self.assertGreater(self.h3.link_stats("eth0")[0] - h3_before, 20)
        routes = {x["prefix"]: x for x in self.router.ctl("show routes")}
        self.assertEqual(routes["10.9.9.0/24"]["via"], "203.0.113.3")
        self.router.ctl("route replace 10.9.9.0/24 via 198.51.100.2")

    def test_dynamic_neighbors_are_learned(self):
        ping(self.h1, "198.51.100.2", count=1)
        neigh = {n["ip"]: n for n in self.router.ctl("show neigh")}
        self.assertEqual(neigh["198.51.100.2"]["mac"], self.h2.mac("eth0"))
        self.assertIn(neigh["198.51.100.2"]["state"], ("reachable", "probe"))
        self.assertEqual(neigh["192.0.2.2"]["mac"], self.h1.mac("eth0"))

    def test_static_neighbor_is_used_and_never_resolved(self):
        mac = self.h3.mac("eth0")
        self.router.ctl("neigh del 203.0.113.3") if any(
            n["ip"] == "203.0.113.3" for n in self.router.ctl("show neigh")) else None
        # A wrong static MAC breaks the path: the router really uses the static entry.
        self.router.ctl("neigh add 203.0.113.3 lladdr 02:00:00:00:00:99 port 2")
        r = ping(self.h1, "203.0.113.3", count=2, interval=0.1)
        self.assertEqual(r.received, 0, r.raw)
        requests = self.router.counter("arp_requests_sent")
        self.router.ctl(f"neigh add 203.0.113.3 lladdr {mac} port 2")
        r = ping(self.h1, "203.0.113.3", count=3, interval=0.1)
        self.assertEqual(r.loss, 0, r.raw)
        neigh = {n["ip"]: n for n in self.router.ctl("show neigh")}
        self.assertEqual(neigh["203.0.113.3"]["state"], "permanent")
        self.assertEqual(neigh["203.0.113.3"]["mac"], mac)
        self.assertEqual(self.router.counter("arp_requests_sent"), requests,
                         "the router ARPed for a static neighbor")
        self.router.ctl("neigh del 203.0.113.3")

    def test_bad_command_is_refused_and_changes_nothing(self):
        routes = self.router.ctl("show routes")
        res = self.router.sswctl("route", "add", "10.0.0.1/8", "via", "198.51.100.2")
        self.assertEqual(res.returncode, 1)
        self.assertIn("host bits", res.stderr)
        self.assertIn("10.0.0.0/8", res.stderr)
        res = self.router.sswctl("route", "add", "10.1.0.0/16", "via", "172.16.0.1")
        self.assertEqual(res.returncode, 1)
        self.assertIn("not on any connected subnet", res.stderr)
        res = self.router.sswctl("frobnicate")
        self.assertEqual(res.returncode, 1)
        self.assertIn("unknown command", res.stderr)
        self.assertEqual(self.router.ctl("show routes"), routes)

    def test_sswctl_renders_tables(self):
        res = self.router.sswctl("show", "routes", check=True)
        self.assertIn("prefix", res.stdout.splitlines()[0])
        self.assertIn("10.9.9.0/24", res.stdout)
        # Every route of the configuration, with its origin, gateway and port; nothing else.
        rows = parse_table(res.stdout)
        self.assertEqual({r["prefix"]: (r["type"], r["via"], r["port"]) for r in rows},
                         {p: (t, v or "-", str(port)) for p, (t, v, port) in ROUTES.items()})
        self.assertEqual(len(rows), len(ROUTES), res.stdout)
        self.assertEqual({r["prefix"]: (r["type"], r["via"], r["port"])
                          for r in self.router.ctl("show routes")}, ROUTES)

        res = self.router.sswctl("show", "ports", check=True)
        self.assertIn(self.router.port_mac(0), res.stdout)
        self.assertIn("up", res.stdout)
        # Each port: the interface it drives (af_packet takes the interface's MAC), link up,
        # its addresses and settings.
        for rows in (parse_table(res.stdout), self.router.ctl("show ports")):
            self.assertEqual(len(rows), 3, res.stdout)
            for i, row in enumerate(rows):
                got = {k: str(row[k]) for k in ("port", "mac", "link", "mtu", "role",
                                                 "redirects", "addresses")}
                self.assertEqual(got, {"port": str(i), "mac": self.rns.mac(f"p{i}"), "link": "up",
                                       "mtu": "1500", "role": "access", "redirects": "off",
                                       "addresses": PORT_ADDRESSES[i]}, res.stdout)
        self.assertEqual(self.router.ctl("show addresses"),
                         [{"port": i, "address": a} for i, a in enumerate(PORT_ADDRESSES)])


class StartupTest(unittest.TestCase):
    """Refusals that happen before or while the router starts."""

    def setUp(self):
        self.topo = Topology("st")
        self.rns = self.topo.ns("r")
        self.h1 = self.topo.ns("h1")
        self.topo.veth(self.rns, "p0", self.h1, "eth0")

    def tearDown(self):
        self.topo.close()

    def start_failing(self, config):
        r = Router(self.topo, self.rns, "bad", ["p0"], config)
        r.start(wait=False)
        code = r.wait()
        return code, r.output(), r.config_path

    def test_bad_syntax_line_is_named(self):
        code, out, path = self.start_failing(["address add 192.0.2.1/24 port 0",
                                              "", "route add 10.0.0.0/8 vai 192.0.2.9"])
        self.assertNotEqual(code, 0)
        self.assertIn(f"{path}:3:", out)
        self.assertIn("'vai'", out)

    def test_refused_line_is_named(self):
        code, out, path = self.start_failing(["address add 192.0.2.1/24 port 5"])
        self.assertNotEqual(code, 0)
        self.assertIn(f"{path}:1:", out)
        self.assertIn("port 5 does not exist", out)

    def test_options(self):
        res = run([ROUTER_BIN, "--", "--help"], check=False)
        self.assertEqual(res.returncode, 0)
        self.assertIn("--config", res.stdout)
        self.assertIn("--idle-sleep-us", res.stdout)
        res = run([ROUTER_BIN, "--version"], check=False)
        self.assertEqual(res.returncode, 0)
        self.assertIn("ssw-router", res.stdout)
        res = run([ROUTER_BIN, "--", "--no-such-option"], check=False)
        self.assertEqual(res.returncode, 2)
        self.assertIn("no-such-option", res.stderr)
        res = run([ROUTER_BIN, "--", "--config", "/nonexistent/ssw.conf"], check=False)
        self.assertEqual(res.returncode, 2)
        self.assertIn("/nonexistent/ssw.conf", res.stderr)
        res = run([SSWCTL_BIN, "-s", "/nonexistent.sock", "show", "ports"], check=False)
        self.assertEqual(res.returncode, 2)
        self.assertIn("cannot connect", res.stderr)
        res = run([SSWCTL_BIN, "--help"], check=False)
        self.assertEqual(res.returncode, 0)
        self.assertIn("--json", res.stdout)


class MultiWorkerTest(unittest.TestCase):
    """Two workers, af_packet with two queue pairs per port: both carry traffic."""

    def test_two_workers_share_the_load(self):
        with Topology("mw") as topo:
            rns = topo.ns("r")
            h1, h2, _ = build_hosts(topo, rns)
            r = Router(topo, rns, "mw", ["p0", "p1", "p2"], CONFIG, lcores="0,1", qpairs=2).start()
            srv = HttpServer(h2, "198.51.100.2", size=2 * 1024 * 1024)
            # Many connections: the kernel's fanout hashes flows over both queue pairs.
            for _ in range(12):
                digest, _ = http_get(h1, srv.url)
                self.assertEqual(digest, srv.sha256)
            per_worker = r.stats()["per_worker"]
            self.assertEqual(len(per_worker), 2)
            for w in per_worker:
                self.assertGreater(w["forwarded"], 0, per_worker)
            srv.stop()
            self.assertEqual(r.stop(), 0)


if __name__ == "__main__":
    require_root()
    unittest.main(verbosity=2)
