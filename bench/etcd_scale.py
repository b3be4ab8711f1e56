#!/usr/bin/python3
"""The etcd control plane at scale: many agents, one 3-member etcd cluster, concurrent movers.

    python3 bench/etcd_scale.py [--routers 10,100] [--moves 500] [--movers 20] [--mode optimized]

For each router count N it starts a 3-member etcd cluster (tmpfs data, loopback ports it
picks), puts a topology of N routers with one subnet each and --vms-per-router VMs per subnet,
and starts N ssw-agents with --model (each applies to an in-memory model of a router with the
router's epoch rules, control/agent/router_model.h; DPDK routers are too heavy for a hundred
on one machine). Then --movers processes move VMs (each its own VMs, to random subnets) with
`sswctl migrate` until --moves moves are done, and it reports:

- convergence per move, as sswctl measures it (its first write to the last required
  acknowledgement of the last phase): p50, p90, p99, max;
- moves per second (wall clock, all movers together), failed moves;
- CPU (share of one core) and peak RSS of each etcd member, and of all agents together;
- at the end, that every agent is in sync with the last revision and reports no failure.

The first router count is the baseline: the others are reported as ratios to it. A
benchmark, not a test: nothing here passes or fails on a time; it exits 1 when a move
failed or an agent reported a failure (meson test etcd_scale_smoke runs it small). Every process it starts is
stopped by its PID, also on failure or Ctrl-C.
"""

import argparse
import json
import os
import random
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--routers", default="10,100", help="router counts, comma-separated")
    ap.add_argument("--moves", type=int, default=500, help="moves per router count")
    ap.add_argument("--movers", default="1,20",
                    help="concurrent movers, comma-separated: each count is a run on the same "
                         "cluster (1: convergence without queueing; 20: throughput)")
    ap.add_argument("--vms-per-router", type=int, default=5)
    ap.add_argument("--mode", choices=("optimized", "triangle"), default="optimized",
                    help="optimized: every router holds each moved VM's binding (each move "
                         "waits for all N); triangle: the home and foreign routers only")
    ap.add_argument("--build-dir", default=os.environ.get("SSW_BUILD", str(REPO / "build")))
    ap.add_argument("--results", help="write the Markdown report here (default: stdout only)")
    return ap.parse_args()


ARGS = parse_args()
os.environ.setdefault("SSW_BUILD", os.path.abspath(ARGS.build_dir))
sys.path.insert(0, str(REPO / "scripts"))
from sswlab.etcd import AGENT_BIN, EtcdCluster  # noqa: E402
from sswlab.router import SSWCTL_BIN  # noqa: E402


PHASE_LINE = re.compile(r"^(prepare|switch|done): revision \d+, acknowledged by .*\(([\d.]+) ms\)$")


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, file=sys.stderr, flush=True)


def topology(n, per):
    """n routers (at most 4096), subnet s<i> of router R<i> on port 0: a /20 each, with a
    pool of 3825 care-of addresses (a released one is held for a minute before reuse)."""
    t = {"routers": {}, "subnets": {}, "vms": {}}
    for i in range(1, n + 1):
        hi, lo = i // 16, (i % 16) * 16
        t["routers"][f"R{i}"] = {}
        t["subnets"][f"s{i}"] = {"prefix": f"10.{hi}.{lo}.0/20", "router": f"R{i}", "port": 0,
                                 "gateway": f"10.{hi}.{lo}.1",
                                 "care_of_pool": f"10.{hi}.{lo + 1}.0-10.{hi}.{lo + 15}.254"}
        for j in range(per):
            t["vms"][f"vm{i}-{j}"] = f"10.{hi}.{lo}.{10 + j}"
    return t


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Run:
    def __init__(self, n, tmp):
        self.n, self.tmp = n, tmp
        self.agents = []
        self.etcd = EtcdCluster(n=3, name=f"scale{n}-")
        self.conf = self.etcd.config_file(os.path.join(tmp, f"etcd{n}.json"))

    def sswctl(self, *args, timeout=120):
        return subprocess.run([SSWCTL_BIN, "-c", self.conf, "--json", *args],
                              capture_output=True, text=True, timeout=timeout)

    def start_agents(self):
        for i in range(1, self.n + 1):
            logf = open(os.path.join(self.tmp, f"agent-{self.n}-R{i}.log"), "w")
            p = subprocess.Popen([AGENT_BIN, "--router", f"R{i}", "--model", "-c", self.conf,
                                  "--lease-ttl", "10"], stdout=logf, stderr=subprocess.STDOUT)
            self.agents.append((p, logf))

    def agent_rows(self):
        res = self.sswctl("agents")
        return json.loads(res.stdout)["data"]["routers"] if res.returncode == 0 else []

    def wait_in_sync(self, timeout=120):
        deadline = time.monotonic() + timeout
        rows = []
        while time.monotonic() < deadline:
            rows = self.agent_rows()
            if len(rows) == self.n and all(r.get("agent") == "in sync" for r in rows):
                return rows
            time.sleep(0.5)
        bad = [r for r in rows if r.get("agent") != "in sync"]
        raise RuntimeError(f"agents not in sync after {timeout} s: {bad[:5]}")

    def close(self):
        for p, logf in self.agents:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, logf in self.agents:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            logf.close()
        self.etcd.close()


def measure(n):
    """Every --movers count in turn on one cluster of n routers; a result per count."""
    tmp = tempfile.mkdtemp(prefix=f"ssw-scale{n}-", dir="/dev/shm")
    topo = topology(n, ARGS.vms_per_router)
    run = Run(n, tmp)
    try:
        path = os.path.join(tmp, "topology.json")
        with open(path, "w") as f:
            json.dump(topo, f)
        res = run.sswctl("topology", "put", path)
        if res.returncode != 0:
            raise RuntimeError(f"topology put: {res.stdout}{res.stderr}")
        run.start_agents()
        run.wait_in_sync()
        where = {vm: "s" + vm[2:].split("-")[0] for vm in topo["vms"]}  # home at first
        return [moves(run, topo, tmp, where, int(k)) for k in ARGS.movers.split(",")]
    finally:
        run.close()
        subprocess.run(["rm", "-rf", tmp])


def moves(run, topo, tmp, where, movers):
    """--moves moves by `movers` concurrent movers; `where` follows the VMs."""
    n = run.n
    log(f"{n} routers: {n} agents in sync; {ARGS.moves} moves by {movers} mover(s)")
    vms = sorted(topo["vms"])
    subnets = sorted(topo["subnets"])
    home = {vm: "s" + vm[2:].split("-")[0] for vm in vms}
    lock = threading.Lock()
    samples, failures = [], []
    phases = {"prepare": [], "switch": [], "done": []}  # each phase's own duration, ms
    rng = random.Random(n * 100 + movers)
    # Each mover's moves, drawn beforehand: its own VMs in turn, each to a random other
    # subnet (its home: a return). One `sswctl -f` per mover runs them on one connection,
    # as an orchestrating service would, not a process per move.
    plans = []
    for k in range(movers):
        mine, lines = vms[k::movers], []
        for i in range(ARGS.moves // movers + (k < ARGS.moves % movers)):
            vm = mine[i % len(mine)]
            to = rng.choice([s for s in subnets if s != where[vm]])
            where[vm] = to
            lines.append(f"return {vm}" if to == home[vm] else
                         f"migrate {vm} --to {to} --mode {ARGS.mode}")
        plans.append(lines)

    def mover(k):
        todo = plans[k]
        while todo:
            path = os.path.join(tmp, f"moves-{k}.txt")
            with open(path, "w") as f:
                f.write("\n".join(todo) + "\n")
            r = run.sswctl("-f", path, timeout=600)
            outs, text, pos = [], r.stdout, 0
            dec = json.JSONDecoder()
            while True:
                while pos < len(text) and text[pos].isspace():
                    pos += 1
                if pos >= len(text):
                    break
                obj, pos = dec.raw_decode(text, pos)
                outs.append(obj)
            with lock:
                for line, out in zip(todo, outs):
                    if out.get("ok") and "convergence_ms" in out.get("data", {}):
                        samples.append((out["data"]["convergence_ms"], out["elapsed_ms"]))
                        # "switch: revision R, acknowledged by ... (T ms)", T since the
                        # first write: each phase's share is the difference.
                        last = 0.0
                        for entry in out["log"]:
                            m = PHASE_LINE.match(entry)
                            if m:
                                phases[m.group(1)].append(float(m.group(2)) - last)
                                last = float(m.group(2))
                    elif not out.get("ok"):
                        failures.append(f"{line}: {out.get('error')}")
            if len(outs) < len(todo) and not (outs and not outs[-1].get("ok")):
                with lock:
                    failures.append(f"sswctl -f stopped: {r.stderr.strip()[-200:]}")
                return
            todo = todo[len(outs):]

    pids = {f"etcd member {i}": p.pid for i, p in enumerate(run.etcd.procs)}
    agent_pids = [p.pid for p, _ in run.agents]
    cpu0 = {k: cpu_ticks(p) for k, p in pids.items()}
    acpu0 = sum(cpu_ticks(p) for p in agent_pids)
    peak = {k: 0 for k in pids}
    stop_sampling = threading.Event()

    def sample_rss():
        while not stop_sampling.is_set():
            for k, p in pids.items():
                peak[k] = max(peak[k], rss_kib(p))
            stop_sampling.wait(0.2)

    sampler = threading.Thread(target=sample_rss)
    sampler.start()
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    threads = [threading.Thread(target=mover, args=(k,)) for k in range(movers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sswctl_cpu = (kids1.ru_utime + kids1.ru_stime - kids0.ru_utime - kids0.ru_stime)
    stop_sampling.set()
    sampler.join()
    hz = os.sysconf("SC_CLK_TCK")
    cpu = {k: (cpu_ticks(p) - cpu0[k]) / hz / elapsed * 100 for k, p in pids.items()}
    agents_cpu = (sum(cpu_ticks(p) for p in agent_pids) - acpu0) / hz / elapsed * 100
    agents_rss = sum(rss_kib(p) for p in agent_pids)
    rows = run.wait_in_sync(timeout=60)
    failed_agents = [r for r in rows if r.get("failures")]
    conv = sorted(s[0] for s in samples)
    walls = sorted(s[1] for s in samples)

    def pct(v, q):
        return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")

    result = {
        "routers": n, "movers": movers, "vms": len(vms), "moves": len(samples), "failed": len(failures),
        "elapsed_s": elapsed, "moves_per_s": len(samples) / elapsed,
        "p50": pct(conv, 0.50), "p90": pct(conv, 0.90), "p99": pct(conv, 0.99),
        "max": conv[-1] if conv else float("nan"), "mean": statistics.fmean(conv),
        "move_p50": pct(walls, 0.50), "move_p99": pct(walls, 0.99),
        "phase_p50": {k: pct(sorted(v), 0.5) for k, v in phases.items()},
        "etcd_cpu": cpu, "etcd_rss_mib": {k: v / 1024 for k, v in peak.items()},
        "agents_cpu": agents_cpu, "sswctl_cpu_ms": sswctl_cpu * 1000 / max(1, ARGS.moves), "agents_rss_mib": agents_rss / 1024,
        "agents_with_failures": len(failed_agents), "failures": failures[:5],
    }
    log(json.dumps(result))
    return result


def report(results):
    first = results[0]["routers"]
    base = {r["movers"]: r for r in results if r["routers"] == first}
    lines = [
        f"Command: `python3 bench/etcd_scale.py --routers {ARGS.routers} --moves {ARGS.moves} "
        f"--movers {ARGS.movers} --vms-per-router {ARGS.vms_per_router} --mode {ARGS.mode}`",
        "",
        "3 etcd members (GOMAXPROCS=1 each, tmpfs, --unsafe-no-fsync), one `ssw-agent --model` "
        "per router, movers running `sswctl -f` (their moves in turn, one etcd connection "
        f"each), {ARGS.mode} mode ("
        + ("each move's switch phase waits for every router" if ARGS.mode == "optimized"
           else "each move waits for the home and foreign routers only") + "). "
        "Convergence: sswctl's first write to the last required acknowledgement; whole move: "
        "the command, lock and checks included. All on the same 2 vCPUs. "
        f"Ratios: to the {first}-router run with as many movers, in the same invocation.",
        "",
        "| routers | movers | VMs | moves (failed) | moves/s | convergence p50 / p90 / p99 / "
        "max (ms) | phases p50: prepare / switch / done (ms) | whole move p50 / p99 (ms) "
        "| sswctl CPU per move (ms) | etcd CPU per member (% of a core) | etcd peak RSS (MiB) "
        "| agents CPU / RSS (all) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['routers']} | {r['movers']} | {r['vms']} | {r['moves']} ({r['failed']}) | "
            f"{r['moves_per_s']:.1f} | {r['p50']:.1f} / {r['p90']:.1f} / {r['p99']:.1f} / "
            f"{r['max']:.1f} | "
            + " / ".join(f"{v:.1f}" for v in r["phase_p50"].values()) + " | "
            f"{r['move_p50']:.0f} / {r['move_p99']:.0f} | "
            f"{r['sswctl_cpu_ms']:.1f} | "
            + " / ".join(f"{v:.0f}" for v in r["etcd_cpu"].values()) + " | "
            + " / ".join(f"{v:.0f}" for v in r["etcd_rss_mib"].values()) + " | "
            f"{r['agents_cpu']:.0f}% / {r['agents_rss_mib']:.0f} MiB |")
    others = [r for r in results if r["routers"] != first and r["movers"] in base]
    if others:
        lines += ["", "| routers | movers | p50 ratio | p99 ratio | moves/s ratio | "
                      "etcd CPU ratio |", "|---|---|---|---|---|---|"]
        for r in others:
            b = base[r["movers"]]
            lines.append(
                f"| {r['routers']} / {first} | {r['movers']} | {r['p50'] / b['p50']:.2f} | "
                f"{r['p99'] / b['p99']:.2f} | {r['moves_per_s'] / b['moves_per_s']:.2f} | "
                f"{sum(r['etcd_cpu'].values()) / sum(b['etcd_cpu'].values()):.2f} |")
    for r in results:
        if r["failures"] or r["agents_with_failures"]:
            lines += ["", f"{r['routers']} routers, {r['movers']} movers: {r['failed']} failed "
                          f"moves, {r['agents_with_failures']} agents reporting failures; "
                          "first: " + "; ".join(r["failures"])]
    return "\n".join(lines) + "\n"


def main():
    results = [r for n in ARGS.routers.split(",") for r in measure(int(n))]
    text = report(results)
    print(text)
    if ARGS.results:
        Path(ARGS.results).write_text(text)
    # Failed moves or agents reporting failures: the figures are not those of working moves.
    if any(r["failed"] or r["agents_with_failures"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    main()
