#!/usr/bin/env python3
"""Two-host routing demo: h1 (192.0.2.0/24) -- ssw-router -- h2 (198.51.100.0/24), all in
network namespaces this script creates and removes. Shows ping, traceroute, an HTTP
download and the router's own view (sswctl)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sswlab import require_root  # noqa: E402
from sswlab.hosts import HttpServer, http_get, ping, traceroute  # noqa: E402
from sswlab.netns import Topology  # noqa: E402
from sswlab.router import Router  # noqa: E402


def section(title):
    print(f"\n=== {title}")


def main():
    require_root()
    with Topology("demo") as topo:
        rns, h1, h2 = topo.ns("router"), topo.ns("h1"), topo.ns("h2")
        topo.veth(rns, "p0", h1, "eth0")
        topo.veth(rns, "p1", h2, "eth0")
        h1.run("ip addr add 192.0.2.2/24 dev eth0")
        h1.run("ip route add default via 192.0.2.1")
        h2.run("ip addr add 198.51.100.2/24 dev eth0")
        h2.run("ip route add default via 198.51.100.1")
        config = ["address add 192.0.2.1/24 port 0", "address add 198.51.100.1/24 port 1"]
        r = Router(topo, rns, "demo", ["p0", "p1"], config).start()
        section("router startup configuration")
        print("\n".join(config))

        section("h1 pings h2 (198.51.100.2)")
        p = ping(h1, "198.51.100.2", count=10, interval=0.1)
        print(f"{p.sent} sent, {p.received} received, mean RTT {p.mean_rtt:.3f} ms, "
              f"replies from {sorted(p.reply_sources)}")

        section("traceroute from h1")
        for i, hop in enumerate(traceroute(h1, "198.51.100.2"), 1):
            print(f"{i:2}  {hop}")

        section("HTTP GET of 10 MB from h2")
        srv = HttpServer(h2, "198.51.100.2", size=10 * 1024 * 1024)
        digest, secs = http_get(h1, srv.url)
        print(f"sha256 {'matches' if digest == srv.sha256 else 'DIFFERS'}; "
              f"{10 * 8 / secs:.0f} Mbit/s in {secs:.3f} s")
        srv.stop()

        for what in ("ports", "routes", "neigh", "stats"):
            section(f"sswctl show {what}")
            print(r.sswctl("show", what, check=True).stdout, end="")
        code = r.stop()
        section(f"router stopped (exit code {code}); namespaces removed")
        return 0 if p.loss == 0 and digest == srv.sha256 and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
