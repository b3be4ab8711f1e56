#!/usr/bin/env python3
"""The paper's testbed demo: builds Figure 4 (plus R4) in network namespaces with four
ssw-router processes (or, with --backend linux, Linux forwarding with stateless nftables
rules: sswlab.kernel_testbed), runs the eight communication cases of Figure 3 in optimized
and triangle mode, moves VM C, measures Table I beside the paper's figures, and removes
everything it created.

    scripts/demo_testbed.py [--web-seconds N] [--pings N] [--backend ssw|linux]
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sswlab import require_root, table1  # noqa: E402
from sswlab.hosts import HttpServer, http_get, ping  # noqa: E402
from sswlab.kernel_testbed import KernelTestbed  # noqa: E402
from sswlab.testbed import HOSTS, Testbed, addr  # noqa: E402

CASES = [
    ("1  C* to E", "C", "E"), ("2  E to C*", "E", "C"), ("3  C* to D", "C", "D"),
    ("4  D to C*", "D", "C"), ("5  C* to B", "C", "B"), ("6  B to C*", "B", "C"),
    ("7  C* to V* (same foreign segment)", "C", "V"),
]
CASE_8 = ("8  C* to V** (another foreign subnet)", "C", "V")


def check_case(tb, servers, src, dst):
    h = tb.hosts
    p = ping(h[src], addr(dst), count=3, interval=0.05, wait=2)
    ok_ping = p.loss == 0 and p.reply_sources == {addr(dst)}
    try:
        digest, _ = http_get(h[src], f"http://{addr(dst)}:8080/{servers[dst].name}", timeout=20)
        ok_http = digest == servers[dst].sha256
    except AssertionError:
        ok_http = False
    return ok_ping, ok_http, p.mean_rtt


def run_cases(tb, servers, mode):
    results = []
    tb.move("C", "foreign", mode)
    tb.move("V", "foreign", mode)
    for name, src, dst in CASES:
        results.append((name, *check_case(tb, servers, src, dst)))
    tb.move("V", "foreign2", mode)
    results.append((CASE_8[0], *check_case(tb, servers, CASE_8[1], CASE_8[2])))
    tb.move("V", "home")
    tb.move("C", "home")
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pings", type=int, default=50, help="pings per RTT measurement (default 50)")
    ap.add_argument("--web-seconds", type=float, default=10,
                    help="duration of each web test at 10 GET/s (the paper ran 100 s; default 10)")
    ap.add_argument("--backend", choices=("ssw", "linux"), default="ssw",
                    help="the routers: ssw-router processes (default), or Linux's forwarding")
    args = ap.parse_args()
    require_root()
    print(f"Building the testbed ({args.backend}): R1 (edge), R2 (foreign 192.168.10.0/24), R3 "
          "(home 192.168.11.0/24), R4 (foreign 192.168.12.0/24); hosts E, B, D, G; VMs C, V ...",
          flush=True)
    tb = Testbed() if args.backend == "ssw" else KernelTestbed()
    ok = True
    try:
        servers = {h: HttpServer(tb.hosts[h], addr(h), size=256 * 1024, port=8080) for h in HOSTS}
        servers["web"] = table1.web_server(tb)

        table = {}
        for mode in ("optimized", "triangle"):
            table[mode] = run_cases(tb, servers, mode)
        print("\nThe eight communication cases of Figure 3 (ping: replies from the home address; "
              "HTTP: content checksum)")
        print(f"{'case':40} {'optimized':31} {'triangle':31}")
        for i in range(len(table["optimized"])):
            row = []
            for mode in ("optimized", "triangle"):
                name, okp, okh, rtt = table[mode][i]
                ok &= okp and okh
                row.append(f"ping {'ok' if okp else 'FAIL'} {rtt or 0:5.2f} ms, HTTP {'ok' if okh else 'FAIL'}")
            print(f"{table['optimized'][i][0]:40} {row[0]:31} {row[1]:31}")

        print("\nTable I: mean ping RTT E -> C, and mean response time of 1 MB HTTP GETs at 10/s",
              flush=True)
        ours, moves = table1.measure(tb, args.pings, args.web_seconds)
        print(f"{'':44} {'paper':>9} {args.backend:>9}")
        for key, label in table1.LABELS.items():
            row = ours[key]
            if key.startswith("web"):
                label += f" ({len(row.ms)} GETs)"
            v = row.mean
            print(f"{label:44} {table1.PAPER[key]:>7.3f}ms {v if v is not None else float('nan'):>7.3f}ms")
            ok &= v is not None
        how = ("sswctl, from the command to the last router's acknowledgement"
               if args.backend == "ssw" else "rules on every router, and the first ARP bursts")
        print(f"\nMoves of C ({how}): "
              + ", ".join(f"{what} {out.get('elapsed_ms', float('nan')):.1f} ms" for what, out in moves))
        print(f"\n{args.backend}'s figures are for namespaces on one 2-vCPU machine"
              + (", routers asleep in epoll when idle (a packet that finds one asleep pays a "
                 "thread wake-up; bench case table1 compares with Linux)"
                 if args.backend == "ssw" else "")
              + "; the paper's for four physical servers with Xen.")
        for s in servers.values():
            s.stop()
        ok &= tb.stop_routers()
    finally:
        tb.close()
    print("\nTestbed removed." + ("" if ok else " SOME CHECKS FAILED."))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
