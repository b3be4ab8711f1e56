#!/usr/bin/python3
"""Live migrations of a real VM across subnets: what ssw adds to QEMU's own downtime.

    python3 bench/vm_migration.py [--rounds 6] [--mode optimized|triangle]

The paper's testbed with four ssw-routers, three etcd members and an ssw-agent per router
(sswlab.testbed), and a QEMU guest Q (sswlab.guest: TCG, 128 MiB) on the home segment. Each
round live-migrates Q home -> foreign -> foreign2 -> home (three migrations), in two ways that
alternate round by round on the same testbed:

- arrival: the move staged by the libvirt hook before the migration (conf/libvirt/qemu, run
  as libvirt runs it on the destination), switched by the guest's own RARP at the new
  subnet's router (sswctl migrate --on-arrival; docs/DESIGN.md §6.2);
- by hand (the baseline): `sswctl migrate` (or `return`) through etcd right after QMP says
  the migration completed, what an operator's script without ssw's arrival detection does.

During every migration E pings Q every 5 ms, keeps a TCP echo stream to Q, and fetches Q's
1 MiB page over HTTP back to back. Per migration: QEMU's downtime (query-migrate), E's ping
interruption (first lost request to the first answered one after it), and the difference,
which is what the routers and the control plane add. Reported per way: p50 of the
interruption and its ratio to the baseline's in the same run, p50 and max of the extra; TCP
resets and lost HTTP requests over all migrations. A benchmark, not a test: it exits 1 only when a migration or a move
fails, a TCP stream breaks or an HTTP request is lost.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=6,
                    help="rounds of three migrations, half of them each way (default 6: 18)")
    ap.add_argument("--mode", choices=("optimized", "triangle"), default="optimized")
    ap.add_argument("--build-dir", default=os.environ.get("SSW_BUILD", str(REPO / "build")))
    return ap.parse_args()


ARGS = parse_args()
# sswlab finds the binaries when it is imported.
os.environ.setdefault("SSW_BUILD", os.path.abspath(ARGS.build_dir))
sys.path.insert(0, str(REPO / "scripts"))

from sswlab import require_root  # noqa: E402
from sswlab.guest import HTTP_PATH, HTTP_PORT, QEMU_BIN, EchoStream, www_1m  # noqa: E402
from sswlab.hosts import interruption_ms  # noqa: E402
from sswlab.testbed import Testbed  # noqa: E402

Q, Q_IP, Q_MAC = "Q", "192.168.11.5", "52:54:00:00:11:05"
PING_MS = 5
ROUTE = ("foreign", "foreign2", "home")
WAYS = ("arrival", "hand")

HTTP_LOOP = r"""
import os, sys, urllib.request
url, stop_file, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
ok = lost = 0
while not os.path.exists(stop_file):
    try:
        body = urllib.request.urlopen(url, timeout=10).read()
        ok, lost = (ok + 1, lost) if len(body) == want else (ok, lost + 1)
    except OSError:
        lost += 1
print(ok, lost)
"""


def migrate(tb, seg, way, mode):
    """One migration of Q to seg; returns (QEMU's result, the move's where data)."""
    if way == "arrival":
        res = tb.migrate_on_arrival(Q, seg, mode)
        return res, res["where"]
    res = tb.live_migrate(Q, seg)
    if res["status"] != "completed":
        raise RuntimeError(f"QEMU's migration to {seg}: {res}")
    out = (tb.orchestrate("return", Q) if seg == "home" else
           tb.orchestrate("migrate", Q, "--to", seg, "--mode", mode))
    if not out["ok"]:
        raise RuntimeError(f"sswctl moving Q to {seg}: {out.get('error')}")
    return res, tb.where(Q)["data"]


def one(tb, seg, way, mode):
    """A migration with E's pings around it; returns a row of the report."""
    e = tb.hosts["E"]
    pinger = e.popen(["ping", "-n", "-i", str(PING_MS / 1000), Q_IP], stdout=subprocess.PIPE,
                     stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(0.3)
        res, where = migrate(tb, seg, way, mode)
        time.sleep(1.0)
    finally:
        pinger.send_signal(signal.SIGINT)
        out, _ = pinger.communicate(timeout=10)
        tb.topo.stop(pinger)
    gap = interruption_ms(out, PING_MS)
    if gap is None:
        raise RuntimeError(f"E's pings to Q never answered ({way}, to {seg})")
    return {"way": way, "to": seg, "downtime": res["downtime"], "total": res["total_time"],
            "gap": gap, "extra": gap - res["downtime"], "arrived": where.get("arrived", "")}


def main():
    args = ARGS
    require_root()
    if not os.path.exists("/dev/net/tun") or not os.path.exists(QEMU_BIN):
        print("skipped: no /dev/net/tun or no QEMU (apt-get install qemu-system-x86)",
              file=sys.stderr)
        return 77
    tb = Testbed(tag="bv", control="etcd", etcd_members=3)
    rows, failures = [], []
    try:
        tb.add_guest(Q, "home", f"{Q_IP}/24", "192.168.11.1", Q_MAC)
        stop_file = os.path.join(tb.dir, "http-stop")
        http = tb.hosts["E"].popen(
            ["/usr/bin/python3", "-c", HTTP_LOOP, f"http://{Q_IP}:{HTTP_PORT}{HTTP_PATH}",
             stop_file, str(len(www_1m()))], stdout=subprocess.PIPE, text=True)
        echo = EchoStream(tb.hosts["E"], Q_IP, interval=0.02)
        try:
            for r in range(args.rounds):
                way = WAYS[r % 2]
                for seg in ROUTE:
                    row = one(tb, seg, way, args.mode)
                    rows.append(row)
                    print(f"  round {r + 1} {way:7} -> {seg:8}: QEMU downtime {row['downtime']:3} "
                          f"ms, E's ping interruption {row['gap']:3} ms, extra {row['extra']:4} "
                          f"ms {row['arrived']}", flush=True)
        finally:
            stream = echo.finish()
            open(stop_file, "w").close()
            http_out, _ = http.communicate(timeout=60)
            tb.topo.stop(http)
        ok_gets, lost_gets = (int(x) for x in http_out.split())
        if stream["error"] or not stream["in_order"] or stream["echoed"] != stream["sent"]:
            failures.append(f"TCP echo stream: {stream}")
        if lost_gets:
            failures.append(f"{lost_gets} HTTP requests lost")
        tb.stop_routers()
    finally:
        tb.close()

    print(f"\n{len(rows)} live migrations of a QEMU guest ({args.mode} mode), E pinging every "
          f"{PING_MS} ms:\n")
    print("| switch | migrations | QEMU downtime p50 | E's interruption p50 | interruption / "
          "by hand's | extra p50 | extra max |")
    print("|---|---|---|---|---|---|---|")
    base = statistics.median(r["gap"] for r in rows if r["way"] == "hand")
    for way in WAYS:
        mine = [r for r in rows if r["way"] == way]
        gap = statistics.median(r["gap"] for r in mine)
        print(f"| {'on arrival' if way == 'arrival' else 'by hand'} | {len(mine)} | "
              f"{statistics.median(r['downtime'] for r in mine):.0f} ms | {gap:.0f} ms | "
              f"{gap / base:.2f} | {statistics.median(r['extra'] for r in mine):.0f} ms | "
              f"{max(r['extra'] for r in mine)} ms |")
    print("\n(extra: E's interruption minus QEMU's downtime, what the routers and the control "
          "plane add; it can be below zero, as QEMU's downtime also covers the guest's "
          "own pause and the pings are 5 ms apart)")
    print(f"\nTCP echo stream E -> Q across all migrations: {stream['echoed']}/{stream['sent']} "
          f"echoed, {'in order' if stream['in_order'] else 'OUT OF ORDER'}, "
          f"{'no reset' if not stream['error'] else stream['error']}; HTTP GETs of 1 MiB: "
          f"{ok_gets} complete, {lost_gets} lost")
    for f in failures:
        print(f"FAILED: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
