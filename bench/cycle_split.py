#!/usr/bin/python3
"""Where the forwarders' cycles go: run_bench.py under `perf record -a`, then, for every DPDK
forwarder process of the run, the share of its samples in its own code, in the PMDs, in the
other libraries and in the kernel.

    sudo /usr/bin/python3 bench/cycle_split.py [--perf-data FILE] [--top N] -- RUN_BENCH_ARGS
    sudo /usr/bin/python3 bench/cycle_split.py -- --no-build --cases fwd --only l3fwd-lpm,ssw-route

The figure to compare is `own / PMD`: the forwarder's own cycles per cycle of PMD work. In
case fwd every forwarder receives the same frames from the pcap PMD and hands them to the
null PMD, so the PMD work per packet is the same for all of them, and the ratio needs no
clock: a slower phase of a shared VM stretches a process's own and PMD cycles alike. Mpps
and cycles/packet of two runs minutes apart differ by up to 30% on such a VM; this ratio
moved by about 0.03 between repetitions (bench/README.md). The samples of a process include
its start, where the pcap PMD loads its file: compare variants of one case and one length
of run, not a --quick run with a full one. Needs `perf` (Debian: linux-perf).
"""

import argparse
import collections
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KINDS = ("own", "PMD", "libs", "kernel")


def kind_of(dso, exe_names):
    if dso.startswith("[kernel"):
        return "kernel"
    name = os.path.basename(dso)
    if "/pmds-" in dso or name.startswith("librte_net_"):
        return "PMD"
    if name in exe_names:
        return "own"
    return "libs"


def split(perf_data, top):
    """{(pid, comm): Counter(kind -> samples)} for processes with PMD samples, and their
    own code's hottest symbols."""
    out = subprocess.run(["perf", "script", "-i", perf_data, "-F", "comm,pid,ip,sym,dso"],
                         capture_output=True, text=True, check=True).stdout
    rows = []
    exes = {}
    for line in out.splitlines():
        # "<comm> <pid> <ip> <sym...> (<dso>)"; comm may hold spaces, the pid is numeric.
        if not line.endswith(")") or "(" not in line:
            continue
        head, _, dso = line.rpartition(" (")
        dso = dso[:-1]
        parts = head.split()
        i = next((k for k, p in enumerate(parts) if p.isdigit()), None)
        if i is None or i + 1 >= len(parts):
            continue
        comm, pid, sym = " ".join(parts[:i]), int(parts[i]), " ".join(parts[i + 2:])
        rows.append((pid, comm, sym, dso))
        # A process's own executable: the dso whose file name starts like its comm (the
        # kernel cuts comm to 15 characters).
        base = os.path.basename(dso)
        if comm and base.startswith(comm[:15]):
            exes.setdefault(pid, set()).add(base)
    counts = collections.defaultdict(collections.Counter)
    hot = collections.defaultdict(collections.Counter)
    for pid, comm, sym, dso in rows:
        k = kind_of(dso, exes.get(pid, set()))
        counts[(pid, comm)][k] += 1
        if k == "own":
            hot[(pid, comm)][sym] += 1
    procs = {key: c for key, c in counts.items() if c["PMD"] >= 100}
    return procs, {key: hot[key].most_common(top) for key in procs}


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--perf-data", help="keep perf's samples here (default: a temporary file)")
    ap.add_argument("--top", type=int, default=4, help="hottest own symbols per process")
    ap.add_argument("--frequency", type=int, default=1999, help="samples per second and CPU")
    ap.add_argument("run_bench_args", nargs=argparse.REMAINDER,
                    help="after --: the arguments of run_bench.py")
    a = ap.parse_args(argv)
    args = [x for x in a.run_bench_args if x != "--"] if a.run_bench_args else []
    if shutil.which("perf") is None:
        print("cycle_split.py: needs perf (apt-get install linux-perf)", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("cycle_split.py: needs root (perf record -a, and run_bench.py)", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="ssw-split-")
    data = a.perf_data or os.path.join(tmp, "perf.data")
    if not any(x == "--results" or x.startswith("--results=") for x in args):
        # A run under perf is no benchmark result: bench/RESULTS.md stays as it is.
        args += ["--results", os.path.join(tmp, "RESULTS.md")]
    try:
        cmd = ["perf", "record", "-q", "-a", "-F", str(a.frequency), "-o", data, "--",
               sys.executable, str(REPO / "bench" / "run_bench.py"), *args]
        # run_bench.py's output passes through; its "started NAME (pid N)" lines name the
        # processes (the variant, e.g. ssw-route+alt, where the command name is ssw-router).
        names = {}
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as p:
            for line in p.stdout:
                print(line, end="", flush=True)
                m = re.search(r"started (\S+) \(pid (\d+)\)", line)
                if m:
                    names[int(m.group(2))] = m.group(1)
        code = p.returncode
        if code != 0:
            print(f"cycle_split.py: run_bench.py exited with {code}", file=sys.stderr)
        procs, hot = split(data, a.top)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not procs:
        print("cycle_split.py: no process with PMD samples", file=sys.stderr)
        return 1
    print("\n| pid | variant | command | samples | own | PMD | libs | kernel | own / PMD "
          "| hottest own symbols |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---|")
    by_name = collections.defaultdict(list)
    for (pid, comm), c in sorted(procs.items()):
        n = sum(c.values())
        ratio = c["own"] / c["PMD"]
        name = names.get(pid, "?")
        by_name[name].append(ratio)
        shares = " | ".join(f"{100 * c[k] / n:.1f}%" for k in KINDS)
        syms = ", ".join(f"{s.split('(')[0]} {100 * x / n:.1f}%" for s, x in hot[(pid, comm)])
        print(f"| {pid} | {name} | {comm} | {n} | {shares} | {ratio:.3f} | {syms} |")
    print("\n| variant | own / PMD (median) | runs |")
    print("|---|---:|---:|")
    for name, rs in by_name.items():
        print(f"| {name} | {statistics.median(rs):.3f} | {len(rs)} |")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
