#!/usr/bin/python3
"""Forwarding benchmarks of ssw-router against DPDK's own forwarders, in one invocation.

    sudo /usr/bin/python3 bench/run_bench.py [--quick] [--repeat N] [--cases fwd,memif,...]

Builds what it needs (ssw-router, sswctl, nat_lookup_bench and worker_bench in --build-dir, a
release build; DPDK's l3fwd in a
temporary copy), runs every case --repeat times (the variants of a case in turn, so that a
drift of the machine's load touches all of them alike), and reports the median Mpps, cycles
per packet and the ratio to the baselines measured in the same invocation. Writes
bench/RESULTS.md (or --results) and, with --json, the raw samples. See bench/README.md.

Every process it starts is stopped by its PID, every network namespace it creates is
removed, also on failure or Ctrl-C; every wait has a timeout.
"""

import argparse
import atexit
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

# The cases and the report are in bench/benchlib/ (its __init__ puts scripts/ on sys.path,
# for sswlab, the namespace/router library of the tests).
from benchlib import cases, report
from benchlib.bench import Bench
from benchlib.common import ALT, CASES, ERRORS, REPO, log
from benchlib.lab import Lab
from benchlib.machine import machine_info
from sswlab.eal import hugepages_free_mb
from sswlab.netns import run


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="smoke mode: 1 repetition, short windows, small tables")
    ap.add_argument("--repeat", type=int, help="repetitions of every variant (default 3, quick 1)")
    ap.add_argument("--cases", default=",".join(CASES),
                    help=f"comma-separated subset of {','.join(CASES)} (default: all)")
    ap.add_argument("--only", default="",
                    help="comma-separated variant names to keep (e.g. testpmd-io,ssw-route)")
    ap.add_argument("--build-dir", default=os.environ.get("SSW_BUILD", str(REPO / "build-bench")),
                    help="meson build directory (default $SSW_BUILD or build-bench)")
    ap.add_argument("--no-build", action="store_true", help="use the binaries in --build-dir as they are")
    ap.add_argument("--alt-router", type=os.path.abspath, metavar="PATH",
                    help="another ssw-router build (e.g. of a fast-path change): case fwd runs "
                         f"each ssw variant again with it, right after, as VARIANT{ALT}")
    ap.add_argument("--duration", type=float, help="measurement window, seconds (default 5, quick 1)")
    ap.add_argument("--warmup", type=float, help="warm-up before a window, seconds (default 2, quick 0.5)")
    # 4096: the pcap PMD copies each stored frame into a fresh mbuf, reading the stored
    # mbuf's header and then its data, two dependent misses once the stored frames leave the
    # cache. On a 2-vCPU Xeon VM (1 MiB L2), testpmd io replayed 1024 and 4096 frames at 24.8
    # and 24.7 Mpps, 8192 at 13.4, 16384 at 4.2 and 65536 at 4.0: the generator, not the
    # forwarder, set every rate.
    ap.add_argument("--frames", type=int, default=4096,
                    help="distinct frames in the pcap files (default 4096, so that the pcap "
                         "PMD's stored frames stay in cache)")
    ap.add_argument("--nat-frames", type=int,
                    help="distinct frames for the 1M-binding cases (default 262144 when enough "
                         "hugepages are free, else --frames)")
    ap.add_argument("--router-arg", action="append", default=[], dest="router_args", metavar="ARG",
                    help="case table1: one more argument for each ssw-router of the testbed, "
                         "e.g. --router-arg=--rx-mode=interrupt (repeatable)")
    ap.add_argument("--table1-polled-path", action="store_true",
                    help="case table1: a third back-end, ssw with R1 and R3 (C's home path) in "
                         "poll mode on a vCPU each: the best ssw gets on this machine")
    ap.add_argument("--rounds", type=int,
                    help="case table1: rounds of ssw then Linux, each on a fresh testbed "
                         "(default 2, quick 1)")
    ap.add_argument("--storm-batch", type=int, default=10000, help="updates per sswctl batch")
    ap.add_argument("--check-seconds", type=float, help="length of the captured storm run (default 2, quick 1)")
    ap.add_argument("--huge", choices=["auto", "yes", "no"], default="auto",
                    help="EAL memory: hugepages, --no-huge, or hugepages when enough are free")
    ap.add_argument("--results", help="Markdown report (default bench/RESULTS.md; none with --quick)")
    ap.add_argument("--json", help="also write every sample as JSON here")
    ap.add_argument("--workdir", help="scratch directory (default: a new one under /tmp, removed at the end)")
    ap.add_argument("--keep-workdir", action="store_true", help="keep the scratch directory (logs)")
    a = ap.parse_args(argv)
    a.cases = [c.strip() for c in a.cases.split(",") if c.strip()]
    for c in a.cases:
        if c not in CASES:
            ap.error(f"unknown case '{c}' (cases: {', '.join(CASES)})")
    a.only = [v.strip() for v in a.only.split(",") if v.strip()]
    a.repeat = a.repeat or (1 if a.quick else 3)
    a.rounds = a.rounds or (1 if a.quick else 2)
    a.duration = a.duration or (1.0 if a.quick else 5.0)
    a.warmup = a.warmup if a.warmup is not None else (0.5 if a.quick else 2.0)
    a.check_seconds = a.check_seconds or (1.0 if a.quick else 2.0)
    if a.alt_router and not os.access(a.alt_router, os.X_OK):
        ap.error(f"--alt-router {a.alt_router}: not an executable file")
    # An A/B run is an experiment: it leaves RESULTS.md alone unless --results says otherwise.
    if a.results is None and not a.quick and not a.alt_router:
        a.results = str(REPO / "bench" / "RESULTS.md")
    return a


def main(argv):
    a = parse_args(argv)
    if os.geteuid() != 0:
        print("run_bench.py: needs root (DPDK, hugepages, network namespaces)", file=sys.stderr)
        return 2
    if shutil.which("dpdk-testpmd") is None and any(c in a.cases for c in ("fwd", "memif", "scaling")):
        print("run_bench.py: dpdk-testpmd not on PATH (apt-get install dpdk)", file=sys.stderr)
        return 2
    if a.huge != "no":
        # Reserves and mounts hugepages where it can (idempotent); mem_args falls back to
        # --no-huge where it could not.
        run([str(REPO / "scripts" / "setup-hugepages.sh")], check=False, timeout=60, capture=False)
    if a.nat_frames is None:
        a.nat_frames = (262144 if not a.quick and a.huge != "no" and hugepages_free_mb() >= 1200
                        else a.frames)
    tag = f"sswb{os.getpid()}"
    workdir = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix=f"{tag}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    lab = Lab(workdir)
    bench = Bench(a, lab)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    atexit.register(lab.cleanup)
    info = machine_info()
    failures = []
    interrupted = False
    try:
        bench.build_all(a.cases)
        log(f"build {bench.build} ({bench.buildtype}); workdir {workdir}; TSC {bench.tsc_hz / 1e6:.3f} MHz")
        for case in CASES:
            if case not in a.cases:
                continue
            log(f"=== case {case}")
            try:
                cases.FUNCTIONS[case](bench)
            except ERRORS as e:
                log(f"case {case} FAILED: {e}")
                failures.append(f"{case}: {e}")
            finally:
                lab.cleanup()
    except KeyboardInterrupt as e:
        failures.append(f"interrupted ({e})")
        log("interrupted: cleaning up")
        interrupted = True
    except ERRORS as e:
        failures.append(str(e))
        log(f"FAILED: {e}")
    finally:
        lab.cleanup()
    bench.summarize()
    for f in failures:
        bench.notes.append("FAILED: " + f.splitlines()[0])
    report.write(bench, info, ["sudo", "/usr/bin/python3", "bench/run_bench.py", *argv], failures,
                 interrupted)
    if a.keep_workdir or failures:
        log(f"logs kept in {workdir}/logs")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
