#!/usr/bin/env python3
"""The paper's testbed demo: builds Figure 4 (plus R4) in network namespaces with four
ssw-router processes, runs the eight communication cases of Figure 3 in optimized and
triangle mode, moves VM C, measures Table I beside the paper's figures, and removes
everything it created.

    scripts/demo_testbed.py [--web-seconds N] [--pings N]
"""

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sswlab import require_root  # noqa: E402
from sswlab.hosts import HttpServer, http_get, ping  # noqa: E402
from sswlab.testbed import HOSTS, Testbed, addr  # noqa: E402

CASES = [
    ("1  C* to E", "C", "E"), ("2  E to C*", "E", "C"), ("3  C* to D", "C", "D"),
    ("4  D to C*", "D", "C"), ("5  C* to B", "C", "B"), ("6  B to C*", "B", "C"),
    ("7  C* to V* (same foreign segment)", "C", "V"),
]
CASE_8 = ("8  C* to V** (another foreign subnet)", "C", "V")

PAPER = {"ping_home": 2.573, "ping_triangle": 3.192, "ping_optimized": 2.034,
         "web_home": 3.4, "web_optimized": 3.1}

# A client for the web test: GETs at a fixed rate, each response timed to its last byte.
WEB_CLIENT = r"""
import http.client, sys, time
host, path, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
times, start, n = [], time.monotonic(), 0
while time.monotonic() - start < seconds:
    due = start + n / rate
    if due > time.monotonic():
        time.sleep(due - time.monotonic())
    t0 = time.monotonic()
    c = http.client.HTTPConnection(host, 8080, timeout=10)
    c.request("GET", path)
    body = c.getresponse().read()
    times.append((time.monotonic() - t0) * 1000)
    c.close()
    n += 1
print(" ".join(f"{t:.3f}" for t in times))
"""


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


def mean_ping(tb, n):
    p = ping(tb.hosts["E"], addr("C"), count=n, interval=0.1, wait=2, timeout=n * 0.1 + 30)
    return p.mean_rtt, p.loss


def web_test(tb, seconds):
    res = tb.hosts["E"].run(["/usr/bin/python3", "-c", WEB_CLIENT, addr("C"), "/web-1mb.bin", "10",
                             str(seconds)], check=False, timeout=seconds + 60)
    times = [float(x) for x in res.stdout.split()]
    return (statistics.mean(times) if times else None), len(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pings", type=int, default=50, help="pings per RTT measurement (default 50)")
    ap.add_argument("--web-seconds", type=float, default=10,
                    help="duration of each web test at 10 GET/s (the paper ran 100 s; default 10)")
    args = ap.parse_args()
    require_root()
    print("Building the testbed: R1 (edge), R2 (foreign 192.168.10.0/24), R3 (home "
          "192.168.11.0/24), R4 (foreign 192.168.12.0/24); hosts E, B, D, G; VMs C, V ...", flush=True)
    tb = Testbed()
    ok = True
    try:
        servers = {h: HttpServer(tb.hosts[h], addr(h), size=256 * 1024, port=8080) for h in HOSTS}
        web = HttpServer(tb.hosts["C"], addr("C"), size=1024 * 1024, port=8081, name="web-1mb.bin")
        web.stop()  # the web test reuses C's server on 8080: put the 1 MB file beside it
        os.replace(os.path.join(web.dir, "web-1mb.bin"), os.path.join(servers["C"].dir, "web-1mb.bin"))

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
        ours = {}
        ours["ping_home"], _ = mean_ping(tb, args.pings)
        ours["web_home"], n_home = web_test(tb, args.web_seconds)
        moves = [("home -> foreign, triangle", tb.move("C", "foreign", "triangle"))]
        ours["ping_triangle"], _ = mean_ping(tb, args.pings)
        moves.append(("triangle -> optimized", tb.move("C", "foreign", "optimized")))
        ours["ping_optimized"], _ = mean_ping(tb, args.pings)
        ours["web_optimized"], n_opt = web_test(tb, args.web_seconds)
        moves.append(("return home", tb.move("C", "home")))
        rows = [("Ping: non migrated", "ping_home"), ("Ping: migrated (scenario ii, triangle)", "ping_triangle"),
                ("Ping: migrated (scenario iii, optimized)", "ping_optimized"),
                (f"Web: non migrated ({n_home} GETs)", "web_home"),
                (f"Web: migrated, scenario iii ({n_opt} GETs)", "web_optimized")]
        print(f"{'':44} {'paper':>9} {'ssw':>9}")
        for label, key in rows:
            v = ours[key]
            print(f"{label:44} {PAPER[key]:>7.3f}ms {v if v is not None else float('nan'):>7.3f}ms")
            ok &= v is not None
        print("\nMoves of C (sswctl, from the command to the last router's acknowledgement): "
              + ", ".join(f"{what} {out.get('elapsed_ms', float('nan')):.1f} ms" for what, out in moves))
        print("\nssw's figures are for namespaces on one 2-vCPU machine, routers sleeping when idle "
              "(each hop adds up to --idle-sleep-us); the paper's for four physical servers with Xen.")
        for s in servers.values():
            s.stop()
        for name, r in tb.routers.items():
            ok &= r.stop() == 0
    finally:
        tb.close()
    print("\nTestbed removed." + ("" if ok else " SOME CHECKS FAILED."))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
