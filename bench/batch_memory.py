#!/usr/bin/env python3
"""Memory of one large batch: the router's peak while it applies N bindings in one
`sswctl batch` (all or nothing), against what it holds once the batch is committed.

A batch is staged whole before anything is published (docs/DESIGN.md §5): the commands, the
undo log and the publish log live until the commit. This measures what that costs.

    sudo /usr/bin/python3 bench/batch_memory.py [--bindings 16777215] [--build-dir build]

The router runs with --no-huge, so its binding table is ordinary heap and counted in its
resident memory; `start` is the resident memory before the batch (the table, allocated and
zeroed at start, included). Reported, from /proc/PID/status: start (VmRSS), peak (VmHWM)
and held after the commit (VmRSS), and the ratios peak / held, and of the growth above
start, (peak - start) / (held - start). Memory only: no timing is asserted or compared.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../scripts"))

from sswlab import require_root  # noqa: E402
from sswlab.netns import Topology, run  # noqa: E402
from sswlab import router as sswrouter  # noqa: E402


def status_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def write_batch(path, n):
    """n bindings: home 10.0.0.1 + i, care-of 11.0.0.1 + i (a table's contents only: no
    packet is sent to any of them)."""
    with open(path, "w", buffering=1 << 20) as f:
        for i in range(1, n + 1):
            a, b, c = i >> 16, (i >> 8) & 255, i & 255
            f.write(f"nat add 10.{a}.{b}.{c} to 11.{a}.{b}.{c}\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bindings", type=int, default=16777215, help="at most 16777215")
    ap.add_argument("--build-dir", default=None, help="where ssw-router and sswctl are built")
    args = ap.parse_args()
    require_root()
    if not 0 < args.bindings <= 16777215:
        ap.error("--bindings: 1..16777215 (home addresses are 10.0.0.1 + i)")
    if args.build_dir:
        built = os.path.join(os.path.abspath(args.build_dir), "control")
        sswrouter.ROUTER_BIN = os.path.join(built, "ssw-router")
        sswrouter.SSWCTL_BIN = os.path.join(built, "sswctl")

    with Topology("bm") as topo:
        ns = topo.ns("r")
        capacity = 1 << max(10, (args.bindings - 1).bit_length())
        r = sswrouter.Router(topo, ns, "bm", [], vdevs=["net_null0", "net_null1"],
                             huge=False, memory_mb=256,
                             extra_args=["--nat-capacity", str(capacity)])
        r.start()
        pid = r.proc.pid
        batch = os.path.join(r.dir, "bindings.batch")
        write_batch(batch, args.bindings)
        start = status_kb(pid, "VmRSS")
        t0 = time.monotonic()
        res = run([sswrouter.SSWCTL_BIN, "-s", r.socket, "--timeout", "1800", "batch", batch],
                  check=False, timeout=3600)
        seconds = time.monotonic() - t0
        if res.returncode != 0:
            print(f"batch failed: {res.stdout}{res.stderr}", file=sys.stderr)
            r.stop()
            return 1
        peak, held = status_kb(pid, "VmHWM"), status_kb(pid, "VmRSS")
        count = r.ctl("show nat limit 1")
        os.unlink(batch)
        r.stop()
        if not count:
            print("no binding held after the batch", file=sys.stderr)
            return 1

    mib = lambda kb: kb / 1024  # noqa: E731
    print(f"batch of {args.bindings} bindings (--nat-capacity {capacity}, --no-huge), "
          f"{seconds:.0f} s")
    print(f"  router resident at start  {mib(start):9.0f} MiB (binding table included)")
    print(f"  peak during the batch     {mib(peak):9.0f} MiB")
    print(f"  held after the commit     {mib(held):9.0f} MiB")
    print(f"  peak / held               {peak / held:9.2f}")
    if held > start:
        print(f"  growth: peak / held       {(peak - start) / (held - start):9.2f} "
              f"({mib(peak - start):.0f} / {mib(held - start):.0f} MiB above start)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
