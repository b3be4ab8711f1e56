#!/usr/bin/python3
"""Smoke test of the benchmark driver (meson test --suite bench-smoke).

Runs `run_bench.py --quick` on a cheap subset with the binaries of the build directory (the
ssw variants a second time through --alt-router), then checks that it exited 0 and that its
JSON results parse and hold a positive rate for every variant and a clean translation check.
Then `cycle_split.py` on one variant: its table must split ssw-router's samples. The numbers
themselves are not judged: this is not a benchmark. Exits 77 (skipped) without root or
without dpdk-testpmd.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VARIANTS = ["testpmd-io", "ssw-route", "ssw-nat-1k"]
ALT_VARIANTS = ["ssw-route+alt", "ssw-nat-1k+alt"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build-dir", required=True)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("skipped: needs root")
        return 77
    if shutil.which("dpdk-testpmd") is None:
        print("skipped: dpdk-testpmd not on PATH")
        return 77
    with tempfile.TemporaryDirectory(prefix="ssw-bench-smoke-") as tmp:
        out = Path(tmp) / "results.json"
        argv = [sys.executable, str(HERE / "run_bench.py"), "--quick", "--no-build",
                "--build-dir", a.build_dir, "--huge", "no", "--cases", "fwd,storm",
                "--only", ",".join(VARIANTS), "--json", str(out),
                "--alt-router", str(Path(a.build_dir) / "control" / "ssw-router")]
        print("$ " + " ".join(argv), flush=True)
        try:
            r = subprocess.run(argv, timeout=280)
        except subprocess.TimeoutExpired:
            print("FAIL: run_bench.py --quick did not finish in 280 s")
            return 1
        if r.returncode != 0:
            print(f"FAIL: run_bench.py exited {r.returncode}")
            return 1
        data = json.loads(out.read_text())
    problems = list(data.get("failures", []))
    rows = {(r["case"], r["variant"]): r for r in data["results"]}
    for v in VARIANTS + ALT_VARIANTS:
        r = rows.get(("fwd", v))
        if not r or not r.get("mpps") or r["mpps"] <= 0 or not r.get("cycles_per_packet"):
            problems.append(f"fwd/{v}: no rate in {r}")
    for v in ("no updates", "during updates"):
        r = rows.get(("storm", v))
        if not r or not r.get("mpps") or r["mpps"] <= 0:
            problems.append(f"storm/{v}: no rate in {r}")
    check = data.get("storm_check") or {}
    if not check.get("captured") or check.get("wrong") or check.get("untranslated") or check.get("bad_checksums"):
        problems.append(f"storm check: {check}")
    problems += cycle_split(a.build_dir)
    for p in problems:
        print("FAIL: " + p)
    if not problems:
        print("ok: " + ", ".join(f"{c}/{v} {r['mpps']:.2f} Mpps" for (c, v), r in rows.items() if r.get("mpps")))
    return 1 if problems else 0


def cycle_split(build_dir):
    """cycle_split.py on ssw-route: a table row for ssw-router with own and PMD samples."""
    if shutil.which("perf") is None:
        return ["perf not on PATH (scripts/install-deps.sh installs linux-perf)"]
    argv = [sys.executable, str(HERE / "cycle_split.py"), "--", "--quick", "--no-build",
            "--build-dir", build_dir, "--huge", "no", "--cases", "fwd", "--only", "ssw-route"]
    print("$ " + " ".join(argv), flush=True)
    try:
        r = subprocess.run(argv, timeout=200, capture_output=True, text=True)
    except subprocess.TimeoutExpired:
        return ["cycle_split.py did not finish in 200 s"]
    print(r.stdout[-3000:], r.stderr[-3000:], flush=True)
    if r.returncode != 0:
        return [f"cycle_split.py exited {r.returncode}"]
    for line in r.stdout.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        # | pid | variant | command | samples | own | PMD | libs | kernel | own / PMD | symbols |
        if len(cells) >= 10 and cells[1] == "ssw-route" and cells[2] == "ssw-router":
            own, pmd = float(cells[4].rstrip("%")), float(cells[5].rstrip("%"))
            if own > 0 and pmd > 0 and "worker" in cells[9]:
                return []
            return [f"cycle_split.py: ssw-route's row does not split its samples: {line}"]
    return ["cycle_split.py: no row for ssw-route (ssw-router)"]


if __name__ == "__main__":
    sys.exit(main())
