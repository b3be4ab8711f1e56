#!/usr/bin/python3
"""Smoke test of the benchmark driver (meson test --suite bench-smoke).

Runs `run_bench.py --quick` on a cheap subset with the binaries of the build directory, then
checks that it exited 0 and that its JSON results parse and hold a positive rate for every
variant and a clean translation check. The numbers themselves are not judged: this is not a
benchmark. Exits 77 (skipped) without root or without dpdk-testpmd.
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
                "--only", ",".join(VARIANTS), "--json", str(out)]
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
    for v in VARIANTS:
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
    for p in problems:
        print("FAIL: " + p)
    if not problems:
        print("ok: " + ", ".join(f"{c}/{v} {r['mpps']:.2f} Mpps" for (c, v), r in rows.items() if r.get("mpps")))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
