#!/usr/bin/env python3
"""The paper's testbed demo: builds Figure 4 (plus R4) in network namespaces with four
ssw-router processes (or, with --backend linux, Linux forwarding with stateless nftables
rules: sswlab.kernel_testbed), runs the eight communication cases of Figure 3 in optimized
and triangle mode, moves VM C, measures Table I beside the paper's figures, and removes
everything it created.

With ssw-routers the VMs move through etcd (--control etcd, the default): the demo starts its
own etcd member (TLS with client certificates made by openssl, on loopback ports it picks,
data in tmpfs) and an ssw-agent per router, and prints each move's convergence (sswctl's
first write to the last acknowledgement it needs) beside the ping interruption E -> C.
--control local moves them with sswctl's own orchestrator, through the routers' sockets.

Then Table I again with a real VM: a QEMU guest (sswlab.guest; kernel and initramfs built from
Debian packages on first use) live-migrated by QEMU, each move staged by the libvirt hook
(conf/libvirt/qemu) and switched by the guest's own RARP (--control etcd; skipped where the
machine has no /dev/net/tun or QEMU, or with --no-guest).

    scripts/demo_testbed.py [--web-seconds N] [--pings N] [--backend ssw|linux]
                            [--control etcd|local] [--no-guest]
"""

import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sswlab import require_root, table1  # noqa: E402
from sswlab.hosts import HttpServer, http_get, interruption_ms, ping  # noqa: E402
from sswlab.kernel_testbed import KernelTestbed  # noqa: E402
from sswlab.guest import HTTP_PATH, HTTP_PORT, QEMU_BIN  # noqa: E402
from sswlab.testbed import HOSTS, Testbed, addr  # noqa: E402

GUEST, GUEST_IP, GUEST_MAC = "Q", "192.168.11.5", "52:54:00:00:11:05"

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


def move_with_pings(tb, vm, seg, mode="optimized", interval_ms=10):
    """Moves vm while E pings it every interval_ms; returns (sswctl's result, the longest
    interruption in ms)."""
    p = tb.hosts["E"].popen(["ping", "-n", "-i", str(interval_ms / 1000), "-W", "1",
                             addr(vm)], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    out = tb.move(vm, seg, mode)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    text = p.communicate(timeout=10)[0]
    return out, interruption_ms(text, interval_ms)


def moves_through_etcd(tb):
    """Three moves of C with pings; prints convergence beside interruption. True if all
    moved."""
    print("\nMoves of C through etcd (convergence: sswctl's first write to the last "
          "acknowledgement it needs; interruption: E -> C, pings every 10 ms)")
    print(f"{'move':34} {'convergence':>12} {'sswctl':>9} {'interruption':>13}")
    ok = True
    for what, seg in (("home -> foreign (optimized)", "foreign"),
                      ("foreign -> foreign2", "foreign2"), ("return home", "home")):
        out, gap = move_with_pings(tb, "C", seg)
        data = out.get("data", {})
        ok &= out.get("ok", False) and gap is not None
        print(f"{what:34} {data.get('convergence_ms', float('nan')):>9.1f} ms "
              f"{out.get('elapsed_ms', float('nan')):>6.1f} ms "
              f"{gap if gap is not None else float('nan'):>10.0f} ms")
    return ok


def print_table1(ours, column):
    """Table I rows beside the paper's; False when a row has no measurement."""
    ok = True
    print(f"{'':44} {'paper':>9} {column:>9}")
    for key, label in table1.LABELS.items():
        row = ours[key]
        if key.startswith("web"):
            label += f" ({len(row.ms)} GETs)"
        v = row.mean
        print(f"{label:44} {table1.PAPER[key]:>7.3f}ms {v if v is not None else float('nan'):>7.3f}ms")
        ok &= v is not None
    return ok


def table1_real_guest(tb, args):
    """Table I with a real QEMU guest Q (192.168.11.5) on the home segment, live-migrated by
    QEMU: each move staged by the libvirt hook and switched by Q's RARP. True when every row
    was measured."""
    print(f"\nTable I with a real VM: QEMU guest {GUEST} ({GUEST_IP}), live-migrated; each move "
          "staged by the libvirt hook, switched by the guest's own RARP", flush=True)
    rss_mib = tb.add_guest(GUEST, "home", f"{GUEST_IP}/24", "192.168.11.1",
                           GUEST_MAC).rss_kib() // 1024

    def move(seg, mode):
        if tb.segment_of[GUEST] == seg:  # a change of mode only: the VM stays where it is
            return tb.orchestrate("migrate", GUEST, "--to", seg, "--mode", mode)
        return tb.migrate_on_arrival(GUEST, seg, mode)

    ours, moves = table1.measure(tb, args.pings, args.web_seconds, warmup_pings=3, vm=GUEST,
                                 web=(HTTP_PORT, HTTP_PATH), move=move)
    ok = print_table1(ours, "ssw+QEMU")
    print(f"\nMoves of {GUEST} (QEMU's own figures; where its arrival was seen): " + ", ".join(
        f"{what}: " + (f"total {r['total_time']} ms, downtime {r['downtime']} ms, arrived "
                       f"{r['where'].get('arrived', '?')}" if "where" in r else
                       f"no migration, sswctl {r.get('elapsed_ms', float('nan')):.1f} ms")
        for what, r in moves))
    print(f"(the guest: {rss_mib} MiB RSS, emulated by QEMU's TCG without KVM; its times "
          "include QEMU's emulated CPU and NIC)")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pings", type=int, default=50, help="pings per RTT measurement (default 50)")
    ap.add_argument("--web-seconds", type=float, default=10,
                    help="duration of each web test at 10 GET/s (the paper ran 100 s; default 10)")
    ap.add_argument("--backend", choices=("ssw", "linux"), default="ssw",
                    help="the routers: ssw-router processes (default), or Linux's forwarding")
    ap.add_argument("--control", choices=("etcd", "local"), default="etcd",
                    help="ssw: moves through etcd and an agent per router (default), or "
                         "sswctl's own orchestrator")
    ap.add_argument("--no-guest", action="store_true",
                    help="skip Table I with a real QEMU guest")
    args = ap.parse_args()
    require_root()
    print(f"Building the testbed ({args.backend}): R1 (edge), R2 (foreign 192.168.10.0/24), R3 "
          "(home 192.168.11.0/24), R4 (foreign 192.168.12.0/24); hosts E, B, D, G; VMs C, V ...",
          flush=True)
    if args.backend == "ssw" and args.control == "etcd":
        print("... and an etcd member (TLS, client certificates) with an ssw-agent per router",
              flush=True)
    tb = (Testbed(control=args.control, etcd_tls=True) if args.backend == "ssw"
          else KernelTestbed())
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
        ok &= print_table1(ours, args.backend)
        how = ("sswctl, from the command to the last router's acknowledgement"
               if args.backend == "ssw" else "rules on every router, and the first ARP bursts")
        if args.backend == "ssw" and args.control == "etcd":
            how += ", through etcd"
        print(f"\nMoves of C ({how}): "
              + ", ".join(f"{what} {out.get('elapsed_ms', float('nan')):.1f} ms" for what, out in moves))
        print(f"\n{args.backend}'s figures are for namespaces on one 2-vCPU machine"
              + (", routers asleep in epoll when idle (a packet that finds one asleep pays a "
                 "thread wake-up; bench case table1 compares with Linux)"
                 if args.backend == "ssw" else "")
              + "; the paper's for four physical servers with Xen.")
        if args.backend == "ssw" and args.control == "etcd":
            ok &= moves_through_etcd(tb)
            if args.no_guest:
                print("\nTable I with a real VM: skipped (--no-guest)")
            elif not os.path.exists("/dev/net/tun") or not os.path.exists(QEMU_BIN):
                print("\nTable I with a real VM: skipped (no /dev/net/tun or no QEMU here)")
            else:
                ok &= table1_real_guest(tb, args)
        for s in servers.values():
            s.stop()
        ok &= tb.stop_routers()
    finally:
        tb.close()
    print("\nTestbed removed." + ("" if ok else " SOME CHECKS FAILED."))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
