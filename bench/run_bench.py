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
import collections
import datetime
import json
import math
import mmap
import os
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
L3FWD_SRC = Path("/usr/share/dpdk/examples")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Addresses of the benchmark topology. Port 0 (rx) is the access side, port 1 (tx) the core.
PCAP_MAC = "02:70:63:61:70:00"  # the pcap PMD's MAC: 02 "pcap" <n-th pcap device>, n = 0
SRC_MAC = "02:00:00:00:00:01"
SRC_IP = "192.0.2.10"
NEXT_HOP_MAC = "02:00:00:00:00:02"
ROUTE_DST_NET = 0xC6120100  # 198.18.1.0/24: l3fwd's default LPM table sends it to port 1
HOME_BASE = 16 << 24  # M: 16.0.0.1 ...
CARE_OF_BASE = 32 << 24  # initial M*: 32.0.0.1 ...
STORM_CARE_OF_BASE = 48 << 24  # M* handed out by the update storm, each used once
MEMIF_FWD_MAC = "02:00:00:00:aa:01"

ROUTER_CONF = """\
address add 192.0.2.1/24 port 0
address add 10.0.0.1/24 port 1
neigh add 10.0.0.2 lladdr 02:00:00:00:00:02 port 1
route add 0.0.0.0/0 via 10.0.0.2
port 1 role core
"""

ALT = "+alt"  # the suffix of a variant run with --alt-router's build
CASES = ["lookup", "worker", "fwd", "stages", "memif", "storm", "scaling", "idle"]


class BenchError(Exception):
    pass


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def ip_str(v):
    return socket.inet_ntoa(struct.pack("!I", v))


def ip_int(s):
    return struct.unpack("!I", socket.inet_aton(s))[0]


def median(xs):
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------------------------------------
# pcap files


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(dmac, smac, src, dst, sport, dport):
    """A 60-byte Ethernet frame (64 on the wire with the FCS): IPv4/UDP, checksums correct. The
    payload's first 4 bytes carry the original destination, so that a capture after
    translation can be checked packet by packet."""
    payload = struct.pack("!I", dst) + bytes(14)
    udp_len = 8 + len(payload)
    ip = bytearray(struct.pack("!BBHHHBBHII", 0x45, 0, 20 + udp_len, 0, 0x4000, 64, 17, 0, src, dst))
    ip[10:12] = struct.pack("!H", _csum(bytes(ip)))
    pseudo = struct.pack("!IIBBH", src, dst, 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0)
    c = _csum(pseudo + udp + payload) or 0xFFFF
    udp = struct.pack("!HHHH", sport, dport, udp_len, c)
    return dmac + smac + b"\x08\x00" + bytes(ip) + udp + payload


def write_pcap(path, dsts, dmac=PCAP_MAC):
    dm = bytes.fromhex(dmac.replace(":", ""))
    sm = bytes.fromhex(SRC_MAC.replace(":", ""))
    src = ip_int(SRC_IP)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, d in enumerate(dsts):
            fr = udp_frame(dm, sm, src, d, 1024 + (i & 0x3FFF), 9)
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)))
            f.write(fr)


def read_pcap(path):
    """Yields every frame of a pcap file (either timestamp resolution), as bytes."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size < 24:
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            magic = struct.unpack_from("<I", data, 0)[0]
            if magic not in (0xA1B2C3D4, 0xA1B23C4D):
                raise BenchError(f"{path}: not a little-endian pcap file")
            off, end = 24, len(data)
            while off + 16 <= end:
                incl = struct.unpack_from("<I", data, off + 8)[0]
                yield data[off + 16 : off + 16 + incl]
                off += 16 + incl


# ---------------------------------------------------------------------------------------------
# the machine


def read_cpu_mhz():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1])
    raise BenchError("no 'cpu MHz' in /proc/cpuinfo")


def proc_cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds; None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def thread_cpu_seconds(pid):
    """{thread name: utime + stime in seconds} for every thread of a process."""
    out = {}
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            head, _, rest = (task / "stat").read_text().rpartition(")")
            name = head.split("(", 1)[1]
            f = rest.split()
            out[f"{name}/{task.name}"] = (int(f[11]) + int(f[12])) / CLK_TCK
        except (OSError, IndexError, ValueError):
            pass
    return out


def host_busy_seconds():
    """CPU-seconds spent not idle by all CPUs since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / CLK_TCK


def hugepages_free_mb():
    """Free hugepage memory that DPDK can map: none without a hugetlbfs mount (the EAL then
    fails outright, however many pages are reserved)."""
    try:
        with open("/proc/mounts") as f:
            if not any(line.split()[2] == "hugetlbfs" for line in f):
                return 0
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        free = int(info["HugePages_Free"].split()[0])
        size_kb = int(info["Hugepagesize"].split()[0])
        return free * size_kb // 1024
    except (OSError, KeyError, ValueError):
        return 0


def machine_info():
    info = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            info[k.strip()] = v.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    def git(*a):
        try:
            return subprocess.run(["git", "-C", str(REPO), *a], capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "?"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "dataplane", "control")
    try:
        dpdk = subprocess.run(["pkg-config", "--modversion", "libdpdk"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        dpdk = "?"
    return {
        "model": info.get("Model name", "?"),
        "cpus": info.get("CPU(s)", "?"),
        "family": info.get("CPU family", "?"),
        "kernel": os.uname().release,
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(dirty),
        "dpdk": dpdk,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_mhz": read_cpu_mhz(),
        "loadavg_start": os.getloadavg(),
    }


# ---------------------------------------------------------------------------------------------
# processes, namespaces and clean-up


class Proc:
    def __init__(self, name, popen, log_path, prefix=None):
        self.name, self.p, self.log, self.prefix = name, popen, log_path, prefix

    @property
    def pid(self):
        return self.p.pid

    def alive(self):
        return self.p.poll() is None

    def tail(self, n=15):
        try:
            lines = Path(self.log).read_text(errors="replace").splitlines()
            return "\n".join("    " + l for l in lines[-n:])
        except OSError:
            return "    (no log)"


class Lab:
    """Everything this invocation starts, so that all of it is stopped and removed."""

    def __init__(self, workdir, tag):
        self.workdir = Path(workdir)
        self.logs = self.workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.tag = tag
        self.procs = []
        self.netns = []
        self.prefixes = []
        self.counter = 0

    def prefix(self, name):
        self.counter += 1
        p = f"{self.tag}-{name}{self.counter}"
        self.prefixes.append(p)
        return p

    def start(self, name, argv, netns=None, stdin_pipe=False, prefix=None, env=None):
        self.counter += 1
        log_path = self.logs / f"{self.counter:03d}-{name}.log"
        if netns:
            argv = ["ip", "netns", "exec", netns] + argv
        with open(log_path, "w") as lf:
            lf.write("$ " + shlex.join(argv) + "\n")
            lf.flush()
            p = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT,
                                 stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                                 start_new_session=True, env={**os.environ, **env} if env else None)
        proc = Proc(name, p, log_path, prefix)
        self.procs.append(proc)
        log(f"  started {name} (pid {p.pid})")  # cycle_split.py names processes by this line
        return proc

    def stop(self, proc, timeout=15):
        if proc.alive():
            try:
                proc.p.send_signal(signal.SIGTERM)
                proc.p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log(f"{proc.name} (pid {proc.pid}) ignored SIGTERM for {timeout}s: SIGKILL")
                proc.p.kill()
                try:
                    proc.p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass
        if proc.p.stdin:
            try:
                proc.p.stdin.close()
            except OSError:
                pass
        if proc in self.procs:
            self.procs.remove(proc)
        self._remove_dpdk_files(proc.prefix)
        return proc.p.returncode

    def stop_all(self):
        for proc in list(reversed(self.procs)):
            self.stop(proc, timeout=10)

    def _remove_dpdk_files(self, prefix):
        if not prefix:
            return
        shutil.rmtree(f"/var/run/dpdk/{prefix}", ignore_errors=True)
        hp = Path("/dev/hugepages")
        if hp.is_dir():
            for f in hp.glob(f"{prefix}map_*"):
                try:
                    f.unlink()
                except OSError:
                    pass

    def add_netns(self, name):
        run(["ip", "netns", "add", name], timeout=10)
        self.netns.append(name)
        return name

    def cleanup(self):
        self.stop_all()
        for ns in reversed(self.netns):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10)
        self.netns.clear()
        for p in self.prefixes:
            self._remove_dpdk_files(p)


def run(argv, timeout, check=True, **kw):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise BenchError(f"timed out after {timeout}s: {shlex.join(argv)}")
    if check and r.returncode != 0:
        raise BenchError(f"failed ({r.returncode}): {shlex.join(argv)}\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    return r


def wait_until(what, pred, timeout, procs=()):
    """Polls pred() until it returns a true value; fails when a watched process exits or the
    time runs out."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        for p in procs:
            if not p.alive():
                raise BenchError(f"{p.name} exited ({p.p.returncode}) while waiting for {what}; log {p.log}:\n{p.tail()}")
        try:
            v = pred()
            if v:
                return v
        except (OSError, ValueError, KeyError, BenchError) as e:
            last_error = e
        time.sleep(0.1)
    detail = f" (last error: {last_error})" if last_error else ""
    logs = "".join(f"\n  {p.name} log {p.log}:\n{p.tail()}" for p in procs)
    raise BenchError(f"timed out after {timeout}s waiting for {what}{detail}{logs}")


# ---------------------------------------------------------------------------------------------
# talking to the processes


class Telemetry:
    """DPDK's telemetry socket (what dpdk-telemetry.py uses): /ethdev/stats of a port."""

    def __init__(self, prefix):
        self.path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
        self.s = None

    def query(self, cmd):
        if self.s is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.settimeout(5)
            s.connect(self.path)
            s.recv(4096)  # the greeting
            self.s = s
        self.s.send(cmd.encode())
        return json.loads(self.s.recv(1 << 16))

    def stats(self, port):
        return self.query(f"/ethdev/stats,{port}")["/ethdev/stats"]

    def close(self):
        if self.s:
            self.s.close()
            self.s = None


class Control:
    """ssw-router's control socket: the commands sswctl sends, one JSON reply per line."""

    def __init__(self, path):
        self.path = path
        self.s = None
        self.buf = b""

    def call(self, line, timeout=30):
        if self.s is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(self.path)
            self.s = s
        self.s.settimeout(timeout)
        self.s.sendall(line.encode() + b"\n")
        while b"\n" not in self.buf:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise BenchError("control socket closed")
            self.buf += chunk
        reply, _, self.buf = self.buf.partition(b"\n")
        r = json.loads(reply)
        if not r.get("ok"):
            raise BenchError(f"router refused '{line}': {r.get('error')}")
        return r.get("data")

    def close(self):
        if self.s:
            self.s.close()
            self.s = None


# ---------------------------------------------------------------------------------------------
# the benchmark


class Bench:
    def __init__(self, args, lab):
        self.a = args
        self.lab = lab
        self.wd = lab.workdir
        self.build = Path(args.build_dir).resolve()
        self.router = self.build / "control" / "ssw-router"
        self.sswctl = self.build / "control" / "sswctl"
        self.lookup_bench = self.build / "bench" / "nat_lookup_bench"
        self.worker_bench = self.build / "bench" / "worker_bench"
        # ssw-router with per-stage cycle counters (-Dstage_cycles=true), for case stages.
        self.stage_build = Path(str(self.build) + "-stages")
        self.stage_router = self.stage_build / "control" / "ssw-router"
        self.buildtype = "?"  # meson's, once build_all has looked
        self.l3fwd = None
        self.tsc_hz = read_cpu_mhz() * 1e6
        self.results = []  # rows: dict(case, variant, samples=[...], ...)
        self.notes = []
        self.pcaps = {}
        self.binding_files = {}

    # ---- building ----

    def build_all(self, cases):
        if not self.a.no_build:
            if not (self.build / "build.ninja").exists():
                # Release (-O3, no assertions), as l3fwd and testpmd are built.
                log(f"meson setup {self.build}")
                run(["meson", "setup", str(self.build), "--buildtype=release", "-Dtests=false",
                     "-Dbench=true"], timeout=600, cwd=REPO)
            targets = ["control/ssw-router", "control/sswctl"]
            if "lookup" in cases:
                targets.append("bench/nat_lookup_bench")
            if "worker" in cases:
                targets.append("bench/worker_bench")
            log(f"ninja -C {self.build} {' '.join(targets)}")
            run(["ninja", "-C", str(self.build), *targets], timeout=1800)
            if "stages" in cases:
                if not (self.stage_build / "build.ninja").exists():
                    log(f"meson setup {self.stage_build} (-Dstage_cycles=true)")
                    run(["meson", "setup", str(self.stage_build), "--buildtype=release", "-Dtests=false",
                         "-Dbench=false", "-Dstage_cycles=true"], timeout=600, cwd=REPO)
                log(f"ninja -C {self.stage_build} control/ssw-router")
                run(["ninja", "-C", str(self.stage_build), "control/ssw-router"], timeout=1800)
        exes = [self.router, self.sswctl] + ([self.lookup_bench] if "lookup" in cases else []) \
            + ([self.worker_bench] if "worker" in cases else []) \
            + ([self.stage_router] if "stages" in cases else [])
        for exe in exes:
            if not exe.exists():
                raise BenchError(f"{exe} is missing (build it, or drop --no-build)")
        r = run(["meson", "introspect", "--buildoptions", str(self.build)], timeout=60, check=False)
        try:
            for o in json.loads(r.stdout):
                if o["name"] == "buildtype":
                    self.buildtype = o["value"]
        except (ValueError, KeyError):
            pass
        wants_l3fwd = self.want("l3fwd-lpm") or self.want("l3fwd-lpm-long")
        if any(c in cases for c in ("fwd", "memif", "scaling")) and wants_l3fwd:
            self.build_l3fwd()

    def build_l3fwd(self):
        """DPDK's l3fwd, from the dpdk-doc examples, in a temporary copy, patched to mask the rx
        offloads with what the device can do (vdevs have no rx checksum offload) and to take
        its mbuf pool's size from SSW_BENCH_MBUFS (the pcap PMD holds every frame of its file
        in an mbuf: a file of 262144 frames needs more than l3fwd's 8192)."""
        src = L3FWD_SRC / "l3fwd"
        if not (src / "main.c").exists():
            self.notes.append(f"l3fwd skipped: {src} not found (apt-get install dpdk-doc)")
            return
        dst = self.wd / "examples"
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst / "l3fwd")
        shutil.copytree(L3FWD_SRC / "common", dst / "common")
        main_c = dst / "l3fwd" / "main.c"
        text = main_c.read_text()
        patches = [
            ("\t\tret = rte_eth_dev_configure(portid, nb_rx_queue,",
             "\t\tlocal_port_conf.rxmode.offloads &= dev_info.rx_offload_capa;\n"
             "\t\tret = rte_eth_dev_configure(portid, nb_rx_queue,"),
            ("\t\t\trxq_conf.offloads = port_conf.rxmode.offloads;",
             "\t\t\trxq_conf.offloads = port_conf.rxmode.offloads & dev_info.rx_offload_capa;"),
            ("\t(unsigned)8192)",
             '\t(unsigned)strtoul(getenv("SSW_BENCH_MBUFS") ? getenv("SSW_BENCH_MBUFS") : "8192", NULL, 10))'),
        ]
        for old, new in patches:
            if text.count(old) != 1:
                raise BenchError(f"l3fwd patch does not apply (expected once in main.c): {old.strip()}")
            text = text.replace(old, new)
        main_c.write_text(text)
        log("building l3fwd (patched copy of /usr/share/dpdk/examples/l3fwd)")
        run(["make", "-C", str(dst / "l3fwd"), f"-j{os.cpu_count() or 1}"], timeout=600)
        self.l3fwd = dst / "l3fwd" / "build" / "l3fwd"
        if not self.l3fwd.exists():
            raise BenchError("l3fwd build produced no binary")

    # ---- helpers ----

    def want(self, variant):
        return not self.a.only or variant in self.a.only

    @staticmethod
    def mbufs_for(frames):
        # The pcap PMD holds every frame of its file in an mbuf; rings and caches need more.
        return frames + 16383

    def mem_args(self, need_mb):
        """EAL memory options: hugepages (unlinked after mapping, so nothing is left behind)
        when enough are free, else anonymous memory."""
        mode = self.a.huge
        if mode == "auto":
            mode = "yes" if hugepages_free_mb() >= need_mb + 128 else "no"
            if mode == "no":
                self.notes.append("hugepages: too few free at some start; that process ran with "
                                  "--no-huge (4 KiB pages for DPDK's memory)")
        if mode == "yes":
            return ["--huge-unlink"]
        return ["--no-huge", "-m", str(need_mb)]

    def pcap(self, key, dsts_fn, frames):
        key = f"{key}-{frames}"
        if key not in self.pcaps:
            path = self.wd / f"{key}.pcap"
            rng = random.Random(f"{key}/{frames}")
            write_pcap(path, [dsts_fn(rng) for _ in range(frames)])
            self.pcaps[key] = path
        return self.pcaps[key]

    def route_pcap(self, frames, part=0):
        return self.pcap(f"route-{part}", lambda r: ROUTE_DST_NET + r.randrange(1, 255), frames)

    def nat_pcap(self, n, frames, part=0):
        return self.pcap(f"nat{n}-{part}", lambda r: HOME_BASE + 1 + r.randrange(n), frames)

    def bindings_file(self, n):
        if n not in self.binding_files:
            path = self.wd / f"bindings{n}.txt"
            with open(path, "w") as f:
                for i in range(n):
                    f.write(f"nat add {ip_str(HOME_BASE + 1 + i)} to {ip_str(CARE_OF_BASE + 1 + i)}\n")
            self.binding_files[n] = path
        return self.binding_files[n]

    def measure(self, count, cpu_procs, all_procs, snap=None):
        """Warm-up, then one window: packets counted by count() before and after (and snap()
        taken right after each count, returned as snaps)."""
        time.sleep(self.a.warmup)
        for p in all_procs:
            if not p.alive():
                raise BenchError(f"{p.name} exited during warm-up:\n{p.tail()}")
        c0, t0 = count(), time.monotonic()
        s0 = snap() if snap else None
        cpu0 = [proc_cpu_seconds(p.pid) for p in cpu_procs]
        ours0 = [proc_cpu_seconds(p.pid) for p in all_procs]
        host0 = host_busy_seconds()
        time.sleep(self.a.duration)
        c1, t1 = count(), time.monotonic()
        s1 = snap() if snap else None
        cpu1 = [proc_cpu_seconds(p.pid) for p in cpu_procs]
        ours1 = [proc_cpu_seconds(p.pid) for p in all_procs]
        host1 = host_busy_seconds()
        if None in cpu1 or None in ours1:
            raise BenchError("a process exited during the measurement")
        secs = t1 - t0
        pkts = c1 - c0
        cpu = sum(cpu1) - sum(cpu0)
        ours = sum(ours1) - sum(ours0)
        extra = {"snaps": (s0, s1)} if snap else {}
        return {
            **extra,
            "mpps": pkts / secs / 1e6,
            "packets": pkts,
            "seconds": round(secs, 3),
            "cpu_seconds": round(cpu, 3),
            "cycles_per_packet": self.tsc_hz * cpu / pkts if pkts else None,
            # CPU time the rest of the machine took in the window, in cores.
            "others_cores": round(max(0.0, (host1 - host0) - ours) / secs, 2),
        }

    def add_sample(self, case, variant, sample, **extra):
        row = next((r for r in self.results if r["case"] == case and r["variant"] == variant), None)
        if row is None:
            row = {"case": case, "variant": variant, "samples": []}
            self.results.append(row)
        row["samples"].append(sample)
        row.update(extra)
        log(f"  {case}/{variant}: {sample.get('mpps') or 0:.2f} Mpps"
            + (f", {sample['cycles_per_packet']:.0f} cycles/packet" if sample.get("cycles_per_packet") else "")
            + (f", others {sample['others_cores']} cores" if "others_cores" in sample else ""))
        return row

    def ratio(self, case, variant, base_variant, key="mpps"):
        """variant / base in Mpps; with key="cycles_per_packet", base cycles / variant cycles
        (packets per CPU-second, less sensitive to CPU taken by others). The median of the
        ratios of each repetition, whose variants run back to back: this VM's speed drifts
        by up to 2x between repetitions, which a ratio of medians would mix in."""
        a = self.row(case, variant)
        b = self.row(case, base_variant)
        if not a or not b:
            return None
        ratios = [(x[key] / y[key] if key == "mpps" else y[key] / x[key])
                  for x, y in zip(a["samples"], b["samples"]) if x.get(key) and y.get(key)]
        return median(ratios) if ratios else None

    def row(self, case, variant):
        return next((r for r in self.results if r["case"] == case and r["variant"] == variant), None)

    def summarize(self):
        for r in self.results:
            s = [x for x in r["samples"] if x.get("mpps") is not None]
            if s:
                r["mpps"] = median([x["mpps"] for x in s])
                cyc = [x["cycles_per_packet"] for x in s if x.get("cycles_per_packet")]
                r["cycles_per_packet"] = median(cyc)
                r["others_cores"] = median([x.get("others_cores", 0) for x in s])
            st = [x["stages"] for x in r["samples"] if x.get("stages")]
            if st:
                r["stages"] = {k: median([x[k] for x in st]) for k in st[0]}

    # ---- starting forwarders ----

    def start_testpmd(self, name, lcores_args, vdevs, fwd_args, mbufs, mem_mb):
        prefix = self.lab.prefix(name)
        argv = ["dpdk-testpmd", *lcores_args, "--no-pci", "--file-prefix", prefix,
                *self.mem_args(mem_mb)]
        for v in vdevs:
            argv += ["--vdev", v]
        argv += ["--", f"--total-num-mbufs={mbufs}", *fwd_args]
        # Non-interactive testpmd forwards until its stdin ends or it gets SIGTERM.
        proc = self.lab.start(name, argv, stdin_pipe=True, prefix=prefix)
        tel = Telemetry(prefix)
        return proc, tel

    def start_l3fwd(self, name, lcores, vdevs, config, mbufs, mem_mb):
        prefix = self.lab.prefix(name)
        argv = [str(self.l3fwd), "-l", lcores, "--no-pci", "--file-prefix", prefix, *self.mem_args(mem_mb)]
        for v in vdevs:
            argv += ["--vdev", v]
        argv += ["--", "-p", "0x3", f"--config={config}", "--parse-ptype"]
        proc = self.lab.start(name, argv, prefix=prefix, env={"SSW_BENCH_MBUFS": str(mbufs)})
        return proc, Telemetry(prefix)

    def start_ssw(self, name, lcores, vdevs, conf_text, mbufs, mem_mb, extra=(), netns=None,
                  idle_sleep_us=0, ready_timeout=120, router=None):
        prefix = self.lab.prefix(name)
        conf = self.wd / f"{prefix}.conf"
        conf.write_text(conf_text)
        sock = self.wd / f"{prefix}.sock"
        argv = [str(router or self.router), "-l", lcores, "--no-pci", "--file-prefix", prefix,
                *self.mem_args(mem_mb)]
        for v in vdevs:
            argv += ["--vdev", v]
        argv += ["--", "--config", str(conf), "--socket", str(sock), "--mbufs", str(mbufs),
                 "--idle-sleep-us", str(idle_sleep_us), *extra]
        proc = self.lab.start(name, argv, netns=netns, prefix=prefix)
        ctl = Control(str(sock))
        wait_until(f"{name}'s control socket", lambda: sock.exists() and ctl.call("show stats") is not None,
                   ready_timeout, [proc])
        return proc, ctl, sock

    def ssw_count(self, ctl):
        return lambda: ctl.call("show stats")["counters"]["tx_packets"]

    @staticmethod
    def tel_count(tel, port, field="opackets"):
        return lambda: tel.stats(port)[field]

    def wait_flowing(self, name, count, procs, timeout=60):
        wait_until(f"{name} to forward", lambda: count() or None, timeout, procs)

    def check_pcap_mac(self, ctl):
        ports = ctl.call("show ports")
        mac = ports[0]["mac"].lower()
        if mac != PCAP_MAC:
            raise BenchError(f"ssw's port 0 has MAC {mac}, the pcap frames are addressed to {PCAP_MAC}")

    def ssw_drops(self, ctl):
        return {k: v for k, v in ctl.call("show stats")["drops"].items() if v}

    def check_translated(self, ctl, pcap):
        """The bindings of the first destinations of the pcap file counted packets: the
        traffic was translated (the counters cannot tell otherwise)."""
        homes = []
        for fr in read_pcap(pcap):
            homes.append(ip_str(struct.unpack_from("!I", fr, 30)[0]))
            if len(homes) == 8:
                break
        for h in homes:
            rows = ctl.call(f"show nat {h}")
            if not rows or not rows[0].get("packets"):
                raise BenchError(f"the binding of {h} translated no packet: {rows}")

    def load_bindings(self, sock, n):
        path = self.bindings_file(n)
        t0 = time.monotonic()
        run([str(self.sswctl), "-s", str(sock), "batch", str(path)], timeout=1800)
        return time.monotonic() - t0

    def run_gbench(self, case, exe, quick_filter, eal_huge, eal_nohuge, shuffle=False):
        """Runs a Google Benchmark program of ours (its flags, then `--` and EAL options:
        hugepages when enough are free, else anonymous memory); returns the median of each
        benchmark (Google Benchmark's JSON entries, named without the size argument) and
        the EAL memory used."""
        out = self.wd / f"{case}.json"
        if hugepages_free_mb() >= 1024 and self.a.huge != "no":
            eal = ["-l", "1", "--no-pci", "--in-memory", *eal_huge]
            mem = "hugepages (--in-memory)"
        else:
            eal = ["--no-huge", *eal_nohuge, "--no-shconf", "--no-pci", "-l", "1"]
            mem = "--no-huge"
        argv = [str(exe), f"--benchmark_min_time={0.01 if self.a.quick else 0.5}",
                f"--benchmark_repetitions={self.a.repeat}", "--benchmark_report_aggregates_only=true",
                f"--benchmark_out={out}", "--benchmark_out_format=json"]
        if shuffle:
            # Repetitions of all cases in a random order: the VM's speed drifts, and a drift
            # then moves every case alike instead of the cases that ran during it.
            argv.append("--benchmark_enable_random_interleaving=true")
        if self.a.quick:
            argv.append(f"--benchmark_filter={quick_filter}")
        argv += ["--", *eal]
        log(f"{case}: " + shlex.join(argv))
        run(argv, timeout=1800)
        medians = []
        for b in json.loads(out.read_text())["benchmarks"]:
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
                continue
            # floor/1M/1048576 -> floor/1M; nat_table/update_with_reader/1K/1024/real_time -> .../1K
            b["name"] = re.sub(r"(/\d+)?(/real_time)?$", "", b.get("run_name", b["name"]))
            medians.append(b)
        # Back to the order the cases were declared in (the JSON follows the shuffled runs).
        medians.sort(key=lambda b: (b.get("family_index", 0), b.get("per_family_instance_index", 0)))
        return medians, mem

    def add_gbench_row(self, case, name, sample):
        self.results = [x for x in self.results if not (x["case"] == case and x["variant"] == name)]
        self.results.append({"case": case, "variant": name, "samples": [sample], **sample})

    # ---- case lookup: nat_lookup_bench ----

    def case_lookup(self):
        medians, self.lookup_memory = self.run_gbench("lookup", self.lookup_bench, "/1K", [], ["-m", "2048"],
                                                       shuffle=True)
        for b in medians:
            self.add_gbench_row("lookup", b["name"], {
                "mitems_per_s": b.get("items_per_second", 0) / 1e6, "vs_floor": b.get("vs_floor"),
                "label": b.get("label", ""), "bytes_per_binding": b.get("bytes_per_binding"),
                "reader_vs_alone": b.get("reader_vs_alone"), "error": b.get("error_message")})
        log(f"lookup: {len([x for x in self.results if x['case'] == 'lookup'])} cases")

    # ---- case worker: worker_bench, the router's own cycles per packet ----

    def case_worker(self):
        medians, _ = self.run_gbench("worker", self.worker_bench, "io|route|nat/1K", ["-m", "512"], ["-m", "1024"])
        for b in medians:
            self.add_gbench_row("worker", b["name"], {
                "mpps": b.get("items_per_second", 0) / 1e6, "cyc": b.get("cyc_per_pkt"),
                "work": b.get("work_cyc_per_pkt"), "vs_io": b.get("vs_io")})
        log(f"worker: {len([x for x in self.results if x['case'] == 'worker'])} cases")

    # ---- case fwd (a): pcap -> forwarder -> null, one lcore ----

    def fwd_variants(self):
        # l3fwd-lpm-long: l3fwd replaying as many frames as ssw-nat-1m (the pcap PMD's cost
        # per frame grows with the file: its mbufs no longer stay in cache), its baseline.
        v = ["testpmd-io", "l3fwd-lpm", "ssw-route", "ssw-nat-1k", "l3fwd-lpm-long", "ssw-nat-1m"]
        if self.a.alt_router:  # each ssw variant again right after it, with the other build
            v = [y for x in v for y in ([x, x + ALT] if x.startswith("ssw") else [x])]
        long_differs = self.a.nat_frames != self.a.frames and self.want("ssw-nat-1m")
        return [x for x in v if self.want(x.removesuffix(ALT))
                and (not x.startswith("l3fwd") or self.l3fwd)
                and (x != "l3fwd-lpm-long" or long_differs)]

    def run_fwd(self, variant, lcores="1", queues=1, stages=False):
        """One forwarder, rx from pcap (infinite), tx to null. queues > 1: that many rx pcap
        files (rx queues) on port 0, of which the forwarder polls one per lcore. stages: ssw
        built with stage counters; the sample then holds its cycles per packet by stage."""
        router = self.stage_router if stages else None
        name = variant
        if variant.endswith(ALT):
            router, variant = self.a.alt_router, variant.removesuffix(ALT)
        nat_n = {"ssw-nat-1k": 1 << 10, "ssw-nat-1m": 1 << 20}.get(variant)
        long = (nat_n and nat_n > 4096) or variant == "l3fwd-lpm-long"
        frames = self.a.nat_frames if long else self.a.frames
        # One file per rx queue; with several, the frames are split among them.
        if nat_n:
            pcaps = [self.nat_pcap(nat_n, frames // queues, q) for q in range(queues)]
        else:
            pcaps = [self.route_pcap(frames // queues, q) for q in range(queues)]
        rx = "net_pcap0," + ",".join(f"rx_pcap={p}" for p in pcaps) + ",infinite_rx=1"
        vdevs = [rx, "net_null0,no-rx=1"]
        mbufs = self.mbufs_for(frames)
        mem_mb = mbufs * 2304 // (1 << 20) + (384 if nat_n else 256)
        extra = {}
        lcs = lcores.split(",")
        if variant == "testpmd-io":
            if len(lcs) == 1:
                lc = ["-l", f"0,{lcs[0]}", "--main-lcore", "0"]
            else:  # the main lcore (asleep) shares CPU 0 with forwarding lcore 1
                lc = ["--lcores", "0@0,1@0,2@1", "--main-lcore", "0"]
            n = len(lcs)
            proc, tel = self.start_testpmd("testpmd-io", lc, vdevs,
                                           ["--forward-mode=io", f"--nb-cores={n}",
                                            f"--rxq={n}", f"--txq={n}"], mbufs, mem_mb)
            procs, count = [proc], self.tel_count(tel, 1)
        elif variant in ("l3fwd-lpm", "l3fwd-lpm-long"):
            config = ",".join(f"({p},{q},{lcs[q]})" for p in (0, 1) for q in range(len(lcs)))
            proc, tel = self.start_l3fwd(variant, lcores, vdevs, config, mbufs, mem_mb)
            procs, count = [proc], self.tel_count(tel, 1)
        else:
            nat_extra = ["--nat-capacity", str(nat_n)] if nat_n else []
            proc, ctl, sock = self.start_ssw(name, lcores, vdevs, ROUTER_CONF, mbufs, mem_mb, nat_extra,
                                             router=router)
            self.check_pcap_mac(ctl)
            if nat_n:
                secs = self.load_bindings(sock, nat_n)
                extra["load_seconds"] = round(secs, 1)
                log(f"  {nat_n} bindings loaded with sswctl batch in {secs:.1f}s")
            procs, count = [proc], self.ssw_count(ctl)
        try:
            self.wait_flowing(variant, count, procs)
            snap = (lambda: ctl.call("show stats")) if stages else None
            sample = self.measure(count, procs, self.lab.procs, snap)
            if stages:
                sample["stages"] = self.stage_cycles(*sample.pop("snaps"))
            if variant.startswith("ssw"):
                drops = self.ssw_drops(ctl)
                if drops:
                    sample["drops"] = drops
                if nat_n:
                    self.check_translated(ctl, pcaps[0])
            sample.update(extra)
            return sample
        finally:
            for p in procs:
                self.lab.stop(p)

    def case_fwd(self):
        variants = self.fwd_variants()
        for rep in range(self.a.repeat):
            log(f"fwd: repetition {rep + 1}/{self.a.repeat}")
            for v in variants:
                self.add_sample("fwd", v, self.run_fwd(v))

    # ---- case stages (f): (a)'s ssw variants, cycles per packet by stage ----

    @staticmethod
    def stage_cycles(s0, s1):
        """Cycles per packet by stage over a window, from two `show stats` replies (each holds
        cycles per received packet since the start, to 0.1, and the packets received)."""
        if not s0 or "stage_cycles_per_packet" not in s0:
            raise BenchError("show stats has no stage_cycles_per_packet: not a -Dstage_cycles=true build")
        rx0, rx1 = s0["counters"]["rx_packets"], s1["counters"]["rx_packets"]
        if rx1 <= rx0:
            raise BenchError("no packets received in the window")
        return {k: (s1["stage_cycles_per_packet"][k] * rx1 - v * rx0) / (rx1 - rx0)
                for k, v in s0["stage_cycles_per_packet"].items()}

    def case_stages(self):
        variants = [v for v in ("ssw-route", "ssw-nat-1k", "ssw-nat-1m") if self.want(v)]
        for rep in range(self.a.repeat):
            log(f"stages: repetition {rep + 1}/{self.a.repeat}")
            for v in variants:
                sample = self.run_fwd(v, stages=True)
                self.add_sample("stages", v, sample)
                log("    " + ", ".join(f"{k} {c:.1f}" for k, c in sample["stages"].items()))

    # ---- case memif (b): testpmd txonly -> memif -> forwarder -> null | memif -> testpmd ----

    def run_memif(self, fwd, sink):
        a_sock = self.wd / f"memif-{fwd}-{sink}-a.sock"
        b_sock = self.wd / f"memif-{fwd}-{sink}-b.sock"
        for s in (a_sock, b_sock):
            s.unlink(missing_ok=True)
        a_server = f"net_memif0,role=server,id=0,socket={a_sock},socket-abstract=no,mac={MEMIF_FWD_MAC}"
        egress = ("net_null0,no-rx=1" if sink == "null" else
                  f"net_memif1,role=server,id=0,socket={b_sock},socket-abstract=no,rsize=14,mac=02:00:00:00:aa:02")
        vdevs = [a_server, egress]
        mbufs = 32767
        mem_mb = 512
        procs = []
        try:
            if fwd == "testpmd-macswap":
                p, tel = self.start_testpmd("fwd-macswap", ["-l", "0,1", "--main-lcore", "0"], vdevs,
                                            ["--forward-mode=macswap", "--nb-cores=1"], mbufs, mem_mb)
                procs.append(p)
                count = self.tel_count(tel, 1)
                wait_until("macswap's memif socket", a_sock.exists, 60, [p])
            elif fwd == "l3fwd-lpm":
                p, tel = self.start_l3fwd("fwd-l3fwd", "1", vdevs, "(0,0,1),(1,0,1)", mbufs, mem_mb)
                procs.append(p)
                count = self.tel_count(tel, 1)
                wait_until("l3fwd's memif socket", a_sock.exists, 60, [p])
            else:
                p, ctl, _ = self.start_ssw("fwd-ssw", "1", vdevs, ROUTER_CONF, mbufs, mem_mb)
                procs.append(p)
                count = self.ssw_count(ctl)
            sink_count = None
            if sink == "testpmd":
                wait_until("the egress memif socket", b_sock.exists, 60, procs)
                sp, stel = self.start_testpmd(
                    "sink-rxonly", ["--lcores", "0@0,1@0", "--main-lcore", "0"],
                    [f"net_memif0,role=client,id=0,socket={b_sock},socket-abstract=no,rsize=14,mac=02:00:00:00:bb:02"],
                    ["--forward-mode=rxonly", "--nb-cores=1"], 16383, 256)
                procs.append(sp)
                sink_count = self.tel_count(stel, 0, "ipackets")
            gp, gtel = self.start_testpmd(
                "gen-txonly", ["--lcores", "0@0,1@0", "--main-lcore", "0"],
                [f"net_memif0,role=client,id=0,socket={a_sock},socket-abstract=no,mac=02:00:00:00:bb:01"],
                ["--forward-mode=txonly", "--nb-cores=1", f"--eth-peer=0,{MEMIF_FWD_MAC}",
                 f"--tx-ip={SRC_IP},{ip_str(ROUTE_DST_NET + 1)}", "--txpkts=60"], 16383, 256)
            procs.append(gp)
            gen_count = self.tel_count(gtel, 0)
            self.wait_flowing(fwd, count, procs)
            # One window, three counters: forwarded, offered by the generator, received by the sink.
            extra_counts = {"gen": gen_count}
            if sink_count:
                extra_counts["sink"] = sink_count
            before = {k: f() for k, f in extra_counts.items()}
            t0 = time.monotonic()
            sample = self.measure(count, [procs[0]], self.lab.procs)
            dt = time.monotonic() - t0
            for k, f in extra_counts.items():
                # Over the warm-up and the window: a little longer than the forwarder's window.
                sample[f"{k}_mpps"] = (f() - before[k]) / dt / 1e6
            if fwd == "ssw":
                drops = self.ssw_drops(ctl)
                if drops:
                    sample["drops"] = drops
            return sample
        finally:
            for p in reversed(procs):
                self.lab.stop(p)

    def case_memif(self):
        fwds = [f for f in ["testpmd-macswap", "l3fwd-lpm", "ssw"]
                if self.want(f) and (f != "l3fwd-lpm" or self.l3fwd)]
        sinks = ["null", "testpmd"] if not self.a.quick else ["null"]
        for rep in range(self.a.repeat):
            log(f"memif: repetition {rep + 1}/{self.a.repeat}")
            for sink in sinks:
                for f in fwds:
                    self.add_sample("memif", f"{f} -> {sink}", self.run_memif(f, sink))

    # ---- case storm (c): forwarding with 1M bindings while they are rewritten ----

    class Storm(threading.Thread):
        """Re-binds random home addresses to fresh care-of addresses, in `sswctl batch` files
        of `batch` updates with increasing epochs, as fast as the router takes them.

        The files are written before the storm starts (prepare): writing one in Python takes
        about as long as the router takes to apply it, on the control thread's CPU, and would
        halve the rate measured. Should they run out, the rest are written on the way."""

        def __init__(self, bench, sock, n, batch, history):
            super().__init__(daemon=True)
            self.b, self.sock, self.n, self.batch = bench, sock, n, batch
            self.history = history  # M index -> list of care-of addresses it was given
            self.epoch = {}
            self.next_care_of = STORM_CARE_OF_BASE + 1
            self.stop_flag = threading.Event()
            self.applied = 0
            self.batches = 0
            self.error = None
            self.elapsed = 0.0
            self.rng = random.Random(1)
            self.ready = collections.deque()  # (path, {M index: care-of}) written, not applied
            self.written = 0
            self.written_on_the_way = 0

        def write_batch(self):
            path = self.b.wd / f"storm-{id(self)}-{self.written}.txt"
            self.written += 1
            given, lines = {}, []
            for i in self.rng.sample(range(self.n), self.batch):
                e = self.epoch.get(i, 1) + 1
                self.epoch[i] = e
                c = self.next_care_of
                self.next_care_of += 1
                given[i] = c
                lines.append(f"nat add {ip_str(HOME_BASE + 1 + i)} to {ip_str(c)} epoch {e}\n")
            path.write_text("".join(lines))
            return path, given

        def prepare(self, seconds, rate=200_000):
            """Writes the files for `seconds` of updates at `rate` per second."""
            for _ in range(max(1, math.ceil(seconds * rate / self.batch))):
                self.ready.append(self.write_batch())

        def run(self):
            t0 = time.monotonic()
            try:
                while not self.stop_flag.is_set():
                    if self.ready:
                        path, given = self.ready.popleft()
                    else:
                        path, given = self.write_batch()
                        self.written_on_the_way += 1
                    r = subprocess.run([str(self.b.sswctl), "-s", str(self.sock), "batch", str(path)],
                                       capture_output=True, text=True, timeout=120)
                    if r.returncode != 0:
                        self.error = f"sswctl batch failed ({r.returncode}): {r.stderr.strip()[:500]}"
                        return
                    for i, c in given.items():
                        self.history.setdefault(i, []).append(c)
                    path.unlink(missing_ok=True)
                    self.applied += self.batch
                    self.batches += 1
            except Exception as e:  # reported by the caller
                self.error = repr(e)
            finally:
                self.elapsed = time.monotonic() - t0
                for path, _ in self.ready:
                    path.unlink(missing_ok=True)

    def storm_config(self, n):
        return ROUTER_CONF + self.bindings_file(n).read_text()

    def case_storm(self):
        n = (1 << 14) if self.a.quick else (1 << 20)
        batch = 1000 if self.a.quick else self.a.storm_batch
        frames = self.a.frames if self.a.quick else self.a.nat_frames
        pcap = self.nat_pcap(n, frames)
        mbufs = self.mbufs_for(frames)
        mem_mb = mbufs * 2304 // (1 << 20) + 384
        vdevs = [f"net_pcap0,rx_pcap={pcap},infinite_rx=1", "net_null0,no-rx=1"]
        for rep in range(self.a.repeat):
            log(f"storm: repetition {rep + 1}/{self.a.repeat} ({n} bindings in the startup file)")
            t0 = time.monotonic()
            proc, ctl, sock = self.start_ssw("storm", "1", vdevs, self.storm_config(n), mbufs, mem_mb,
                                             ["--nat-capacity", str(n)], ready_timeout=1200)
            startup = time.monotonic() - t0
            try:
                count = self.ssw_count(ctl)
                self.wait_flowing("storm", count, [proc])
                quiet = self.measure(count, [proc], self.lab.procs)
                quiet["startup_seconds"] = round(startup, 1)
                self.add_sample("storm", "no updates", quiet)
                storm = self.Storm(self, sock, n, batch, {})
                storm.prepare(self.a.warmup + self.a.duration + 1)
                storm.start()
                stormy = self.measure(count, [proc], self.lab.procs)
                storm.stop_flag.set()
                storm.join(timeout=180)
                if storm.is_alive():
                    raise BenchError("the update storm did not stop within 180 s")
                if storm.error:
                    raise BenchError(f"update storm: {storm.error}")
                stormy["updates"] = storm.applied
                stormy["updates_per_s"] = storm.applied / storm.elapsed if storm.elapsed else 0
                stormy["storm_seconds"] = round(storm.elapsed, 2)
                if storm.written_on_the_way:
                    stormy["batches_written_during_storm"] = storm.written_on_the_way
                drops = self.ssw_drops(ctl)
                if drops:
                    stormy["drops"] = drops
                self.add_sample("storm", "during updates", stormy)
                log(f"  storm: {storm.applied} updates in {storm.elapsed:.1f}s = "
                    f"{stormy['updates_per_s'] / 1e3:.0f}k/s")
            finally:
                self.lab.stop(proc)
        self.storm_check(n, batch, pcap, mbufs, mem_mb)

    def storm_check(self, n, batch, pcap, mbufs, mem_mb):
        """A shorter run with the tx port captured to a pcap file: every packet's destination
        must be a care-of address its original destination (carried in the payload) held at
        some point, and sampled packets must have correct IPv4 and UDP checksums."""
        out = self.wd / "storm-out.pcap"
        out.unlink(missing_ok=True)
        vdevs = [f"net_pcap0,rx_pcap={pcap},infinite_rx=1", f"net_pcap1,tx_pcap={out}"]
        log("storm check: capturing the tx port while bindings change")
        history = {}
        proc, ctl, sock = self.start_ssw("storm-check", "1", vdevs, self.storm_config(n), mbufs, mem_mb,
                                         ["--nat-capacity", str(n)], ready_timeout=1200)
        storm = self.Storm(self, sock, n, batch, history)
        try:
            storm.prepare(self.a.check_seconds + 1)
            storm.start()
            time.sleep(self.a.check_seconds)
            storm.stop_flag.set()
            storm.join(timeout=180)
            if storm.error:
                raise BenchError(f"update storm: {storm.error}")
            tx = ctl.call("show stats")["counters"]["tx_packets"]
        finally:
            self.lab.stop(proc)
        total = ok = untranslated = wrong = bad_sum = summed = 0
        examples = []
        for i, fr in enumerate(read_pcap(out)):
            total += 1
            if len(fr) < 14 + 20 + 8 + 4 or fr[12:14] != b"\x08\x00":
                wrong += 1
                continue
            dst = struct.unpack_from("!I", fr, 30)[0]
            orig = struct.unpack_from("!I", fr, 42)[0]
            m = orig - HOME_BASE - 1
            if dst == orig:
                untranslated += 1
            elif 0 <= m < n and (dst == CARE_OF_BASE + 1 + m or dst in history.get(m, ())):
                ok += 1
            else:
                wrong += 1
                if len(examples) < 5:
                    examples.append(f"{ip_str(orig)} -> {ip_str(dst)}")
            if i % 16 == 0:
                summed += 1
                ip = fr[14:34]
                udp_len = struct.unpack_from("!H", fr, 38)[0]
                pseudo = fr[26:34] + struct.pack("!BBH", 0, 17, udp_len)
                if _csum(ip) != 0 or _csum(pseudo + fr[34:34 + udp_len]) != 0:
                    bad_sum += 1
        result = {"captured": total, "router_tx": tx, "correct": ok, "untranslated": untranslated,
                  "wrong": wrong, "checksums_checked": summed, "bad_checksums": bad_sum,
                  "updates": storm.applied, "updates_per_s": storm.applied / storm.elapsed if storm.elapsed else 0,
                  "examples": examples, "seconds": self.a.check_seconds}
        self.storm_check_result = result
        log(f"  storm check: {total} packets captured, {ok} correct, {untranslated} untranslated, "
            f"{wrong} wrong, {bad_sum}/{summed} bad checksums, {storm.applied} updates")
        out.unlink(missing_ok=True)
        if wrong or untranslated or bad_sum or total == 0:
            raise BenchError(f"storm check failed: {result}")

    # ---- case scaling (d): one and two workers ----

    def case_scaling(self):
        variants = [v for v in ["testpmd-io", "l3fwd-lpm", "ssw-route", "ssw-nat-1k"]
                    if self.want(v) and (v != "l3fwd-lpm" or self.l3fwd)]
        for rep in range(self.a.repeat):
            log(f"scaling: repetition {rep + 1}/{self.a.repeat}")
            for v in variants:
                # The same two-queue port for both: one worker polls one queue (one file).
                self.add_sample("scaling", f"{v} x1", self.run_fwd(v, lcores="1", queues=2))
                self.add_sample("scaling", f"{v} x2", self.run_fwd(v, lcores="0,1", queues=2))

    # ---- case idle (e): idle CPU and RTT over af_packet/veth ----

    def case_idle(self):
        tag = self.lab.tag
        r_ns = self.lab.add_netns(f"{tag}-r")
        h1 = self.lab.add_netns(f"{tag}-h1")
        h2 = self.lab.add_netns(f"{tag}-h2")
        ip = lambda *a: run(["ip", *a], timeout=10)
        ip("-n", r_ns, "link", "add", "p0", "type", "veth", "peer", "name", "eth0", "netns", h1)
        ip("-n", r_ns, "link", "add", "p1", "type", "veth", "peer", "name", "eth0", "netns", h2)
        ip("-n", h1, "link", "add", "d0", "type", "veth", "peer", "name", "d0", "netns", h2)
        for ns in (r_ns, h1, h2):
            run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"], timeout=10)
            ip("-n", ns, "link", "set", "lo", "up")
        for dev in ("p0", "p1"):
            ip("-n", r_ns, "link", "set", dev, "up")
        ip("-n", h1, "addr", "add", "192.0.2.10/24", "dev", "eth0")
        ip("-n", h1, "link", "set", "eth0", "up")
        ip("-n", h1, "route", "add", "default", "via", "192.0.2.1")
        ip("-n", h2, "addr", "add", "10.0.0.2/24", "dev", "eth0")
        ip("-n", h2, "link", "set", "eth0", "up")
        ip("-n", h2, "route", "add", "default", "via", "10.0.0.1")
        # The baseline: the same two hosts on one veth pair, no router.
        ip("-n", h1, "addr", "add", "203.0.113.1/30", "dev", "d0")
        ip("-n", h2, "addr", "add", "203.0.113.2/30", "dev", "d0")
        ip("-n", h1, "link", "set", "d0", "up")
        ip("-n", h2, "link", "set", "d0", "up")
        conf = "address add 192.0.2.1/24 port 0\naddress add 10.0.0.1/24 port 1\n"
        count = 5 if self.a.quick else 50
        idle_window = 2.0 if self.a.quick else 10.0

        def ping(dst):
            r = run(["ip", "netns", "exec", h1, "ping", "-n", "-i", "0.2", "-c", str(count), "-W", "2", dst],
                    timeout=count * 0.2 + 30, check=False)
            rtts = [float(x) for x in re.findall(r"time=([\d.]+) ms", r.stdout)]
            if len(rtts) < count // 2:
                raise BenchError(f"ping {dst}: {len(rtts)}/{count} replies\n{r.stdout[-1500:]}")
            return {"rtt_median_ms": median(rtts), "rtt_mean_ms": statistics.fmean(rtts),
                    "rtt_max_ms": max(rtts), "replies": len(rtts), "sent": count}

        direct = ping("203.0.113.2")
        self.add_sample("idle", "direct veth (no router)", dict(direct, mpps=None))
        sleeps = [0, 200] if self.a.quick else [0, 50, 200, 500, 1000]
        for rep in range(self.a.repeat):
            log(f"idle: repetition {rep + 1}/{self.a.repeat}")
            for us in sleeps:
                vdevs = ["net_af_packet0,iface=p0", "net_af_packet1,iface=p1"]
                proc, ctl, _ = self.start_ssw(f"idle{us}", "1", vdevs, conf, 4095, 256, netns=r_ns,
                                              idle_sleep_us=us)
                try:
                    ping("10.0.0.2")  # ARP both ways, then leave it alone
                    time.sleep(1.0)
                    th0 = thread_cpu_seconds(proc.pid)
                    c0, t0 = proc_cpu_seconds(proc.pid), time.monotonic()
                    time.sleep(idle_window)
                    c1, t1 = proc_cpu_seconds(proc.pid), time.monotonic()
                    th1 = thread_cpu_seconds(proc.pid)
                    if c1 is None:
                        raise BenchError(f"ssw-router exited during the idle window:\n{proc.tail()}")
                    sample = {"mpps": None, "idle_cpu_percent": 100.0 * (c1 - c0) / (t1 - t0)}
                    # Which threads used it (the worker runs as the main thread, named ssw-router).
                    busy = {k.split("/")[0]: 100.0 * (v - th0.get(k, 0)) / (t1 - t0) for k, v in th1.items()}
                    sample["threads_percent"] = {k: round(v, 1) for k, v in
                                                 sorted(busy.items(), key=lambda kv: -kv[1]) if v >= 0.5}
                    sample.update(ping("10.0.0.2"))
                    sample["added_rtt_ms"] = sample["rtt_median_ms"] - direct["rtt_median_ms"]
                    self.add_sample("idle", f"idle-sleep-us {us}", sample)
                    log(f"    idle CPU {sample['idle_cpu_percent']:.1f}%, RTT median "
                        f"{sample['rtt_median_ms']:.3f} ms (direct {direct['rtt_median_ms']:.3f} ms)")
                finally:
                    self.lab.stop(proc)

    # ---- report ----

    def render(self, info, argv):
        def f(v, fmt="{:.2f}"):
            return "–" if v is None else fmt.format(v)

        out = []
        w = out.append
        w("# ssw benchmark results\n")
        w("Written by `bench/run_bench.py`; how to read it: `bench/README.md`.\n")
        w("| | |\n|---|---|")
        w(f"| date | {info['date']} |")
        w(f"| commit | `{info['commit']}`{' (dataplane/ or control/ modified in the working tree)' if info['dirty'] else ''} |")
        w(f"| machine | {info['model']} (family {info['family']}), {info['cpus']} vCPUs, kernel {info['kernel']} |")
        w(f"| DPDK | {info['dpdk']} (Debian packages); l3fwd built from `/usr/share/dpdk/examples/l3fwd` |")
        w(f"| ssw build | `{self.build}` buildtype `{self.buildtype}` |")
        w(f"| TSC | {info['cpu_mhz']:.3f} MHz, the `cpu MHz` of /proc/cpuinfo (constant_tsc, tsc_known_freq) |")
        w(f"| load average | start {' '.join(f'{x:.2f}' for x in info['loadavg_start'])}, end {' '.join(f'{x:.2f}' for x in os.getloadavg())} |")
        w(f"| repetitions | {self.a.repeat} per variant; window {self.a.duration}s after {self.a.warmup}s warm-up; medians |")
        w(f"| command | `{shlex.join(argv)}` |\n")
        w("*cycles/pkt*: CPU-seconds the forwarding process used in the window × TSC Hz / packets. "
          "*× base*: Mpps ratio to a baseline measured in the same repetition (median over the "
          "repetitions), and in parentheses the ratio in "
          "packets per CPU-second (base cycles/pkt ÷ cycles/pkt), which holds better when the "
          "CPU is shared. *others*: cores' worth of CPU that processes not started by the "
          "benchmark used during the window (this machine is shared; above ~0.1 the Mpps are "
          "disturbed).\n")

        def fwd_table(case, rows, bases):
            # One cell per baseline (none when the run had none).
            w("| variant | Mpps (median) | cycles/pkt | " + "".join(f"× {b} | " for b in bases)
              + "samples (Mpps) | others (cores) | notes |")
            w("|---|---:|---:|" + "---:|" * len(bases) + "---|---:|---|")
            for r in rows:
                ratios = [f"{f(self.ratio(case, r['variant'], b))} ({f(self.ratio(case, r['variant'], b, 'cycles_per_packet'))})"
                          for b in bases]
                notes = []
                for s in r["samples"]:
                    if s.get("drops"):
                        notes.append("drops " + ", ".join(f"{k} {v}" for k, v in s["drops"].items()))
                    if s.get("load_seconds"):
                        notes.append(f"loaded in {s['load_seconds']}s")
                    if s.get("startup_seconds"):
                        notes.append(f"started with the bindings in {s['startup_seconds']}s")
                    if s.get("batches_written_during_storm"):
                        notes.append(f"{s['batches_written_during_storm']} batch files written "
                                     "during the storm (the prepared ones ran out)")
                    if s.get("gen_mpps") is not None:
                        notes.append(f"offered {s['gen_mpps']:.2f}" + (f", sink {s['sink_mpps']:.2f}" if "sink_mpps" in s else ""))
                w(f"| {r['variant']} | {f(r.get('mpps'))} | {f(r.get('cycles_per_packet'), '{:.0f}')} | "
                  + "".join(x + " | " for x in ratios) + ", ".join(f(s.get("mpps")) for s in r["samples"])
                  + f" | {f(r.get('others_cores'))} | {'; '.join(dict.fromkeys(notes))} |")
            w("")

        rows = lambda case: [r for r in self.results if r["case"] == case]
        if rows("lookup"):
            w("## NAT lookup (nat_lookup_bench), one core, bulk of 32\n")
            w(f"Random keys, random lookups among present keys (hit), absent keys (miss) or half of each (mixed). "
              f"Medians of {self.a.repeat} repetitions; `vs floor`: rate / the floor's rate (one "
              f"independent random 8-byte read per lookup from an array as large as nat_table's "
              f"memory), measured in the same run; `× rte_hash`: rate / rte_hash_lf's for the same "
              f"lookups. Repetitions of all cases run in a random order. EAL memory: "
              f"{getattr(self, 'lookup_memory', '?')}.\n")
            w("`nat_table/*_churned`: the same lookups on a second table of the same bindings after "
              "2 rebindings per key (a table that has lived through migrations: keys displaced from "
              "a full bucket stay displaced, ~15% of them against 5% in a fresh table); `× rte_hash` "
              "against rte_hash's fresh table. Their hits are home addresses, which rebinding "
              "never moves (only care-of keys churn).\n")
            w("`nat_table/update_with_reader`: M updates/s by one writer (`nat_table::set`, RCU "
              "reclamation included) on the churned table while a reader thread looks up without "
              "pause; `reader` is that reader's lookup rate as a fraction of "
              "`nat_table/hit_churned`'s alone. "
              "`nat_table/update_batched_with_reader`: the same, the updates applied 256 at a time "
              "as the control thread applies a batch, each one's table lines fetched a few updates "
              "ahead (`nat_table::pipelined`, `prepare_set`).\n")
            w("| case | M lookups/s | vs floor | × rte_hash | bytes/binding | notes |")
            w("|---|---:|---:|---:|---:|---|")
            for r in rows("lookup"):
                label = f" ({r['label']})" if r.get("label") else ""
                # nat_table/hit/1M -> rte_hash_lf/hit/1M: DPDK's answer to the same lookups
                # (its fresh table for our churned one too).
                theirs = self.row("lookup", r["variant"].replace("nat_table/", "rte_hash_lf/", 1)
                                  .replace("_churned/", "/"))
                vs_rte = (r["mitems_per_s"] / theirs["mitems_per_s"]
                          if r["variant"].startswith("nat_table/") and theirs and theirs.get("mitems_per_s")
                          else None)
                notes = []
                if r.get("reader_vs_alone") is not None:
                    notes.append(f"updates/s; reader {r['reader_vs_alone']:.2f}× alone")
                if r.get("error"):
                    notes.append(f"skipped: {r['error']}")
                w(f"| {r['variant']}{label} | {f(r['mitems_per_s'], '{:.1f}')} | {f(r.get('vs_floor'), '{:.3f}')} "
                  f"| {f(vs_rte, '{:.2f}')} | {f(r.get('bytes_per_binding'), '{:.0f}')} | {'; '.join(notes)} |")
            w("")
        if rows("worker"):
            w("## The router's own cost per packet (worker_bench), one core, bursts of 32\n")
            w(f"A router on two null ports, driven without a PMD: each burst is 32 fresh mbufs with "
              f"a stored 64-byte frame copied in (what the pcap PMD does), then `io` sends them "
              f"(the floor), the others run the worker on them (the configuration of (a); "
              f"`nat/1M-miss`: 1M bindings held, every packet to an unbound address). `work`: "
              f"cycles per packet above io's, measured in the same run. Medians of {self.a.repeat}.\n")
            w("| case | Mpps | cycles/pkt | work cycles/pkt | vs io |")
            w("|---|---:|---:|---:|---:|")
            for r in rows("worker"):
                w(f"| {r['variant']} | {f(r['mpps'])} | {f(r['cyc'], '{:.1f}')} | {f(r.get('work'), '{:.1f}')} "
                  f"| {f(r.get('vs_io'), '{:.3f}')} |")
            w("")
        if rows("fwd"):
            w("## (a) One lcore, 64-byte UDP, pcap (infinite_rx) → forwarder → null\n")
            w(f"{self.a.frames} distinct frames for testpmd, l3fwd and plain routing (destinations "
              f"in 198.18.1.0/24, l3fwd's route to port 1); the NAT cases send to random home "
              f"addresses of their bindings ({self.a.frames} frames for 1K, {self.a.nat_frames} for "
              f"1M: the pcap PMD holds every frame in an mbuf, so a 1M-binding run touches "
              f"{self.a.nat_frames} of its bindings, in a fixed order). l3fwd-lpm-long: l3fwd "
              f"replaying {self.a.nat_frames} frames too, ssw-nat-1m's baseline: the pcap PMD's "
              f"cost per frame grows with its file (a fresh mbuf and a copy of a stored frame that "
              f"no longer stay in cache). ssw: `--idle-sleep-us 0`, "
              f"egress port role core, every packet translated by a forward binding in the NAT cases "
              f"(loaded with `sswctl batch`, time in notes). testpmd and l3fwd counted by telemetry "
              f"(`/ethdev/stats` of the null port), ssw by `show stats` (tx_packets).\n")
            fwd_table("fwd", rows("fwd"), [b for b in ("testpmd-io", "l3fwd-lpm", "l3fwd-lpm-long")
                                           if self.row("fwd", b)])
        if rows("stages"):
            w("## (f) Where a packet's cycles go: (a)'s ssw variants, stage by stage\n")
            w(f"The variants of (a), run again with an ssw-router built with `-Dstage_cycles=true` "
              f"(`{self.stage_build}`): the worker reads the TSC once per stage per burst and "
              f"`show stats` reports cycles per received packet by stage; shown here over the "
              f"measurement window (medians of {self.a.repeat}). rx: `rte_eth_rx_burst` and the "
              f"loop around it; parse: Ethernet and IPv4 checks; dnat: the bulk destination "
              f"lookup in the binding table; route: the LPM lookups, and with bindings the "
              f"per-packet decisions (next hop, TTL, MTU, source translation's need); snat: the "
              f"bulk source lookup; rewrite: translations, checksums, TTL, Ethernet header, hit "
              f"counters and queueing (plain routing decides TTL and MTU here too, in the same "
              f"pass); neighbor: what a run of packets to one next hop shares, once per run (its "
              f"MAC; in plain routing also the route's checks and its port's settings); tx: "
              f"`rte_eth_tx_burst` and freeing. Each stage mark reads the TSC (slow in a virtual "
              f"machine) and keeps the CPU from overlapping one stage with the next, so a packet "
              f"costs more here than without the marks; these runs also come minutes after (a)'s, "
              f"and this VM's speed drifts (last two columns): compare the stages with each other. "
              f"rx includes the pcap PMD's work for each frame (a fresh mbuf, the stored frame "
              f"copied in): the 1M-binding variant replays {self.a.nat_frames} stored frames against "
              f"the others' {self.a.frames}, and their mbufs do not stay in the caches, so its rx "
              f"stage is larger for the generator's sake, not the router's (in (a) too).\n")
            names = list(next(r["stages"] for r in rows("stages") if r.get("stages")))
            w("| variant | Mpps | " + " | ".join(names) + " | sum | cycles/pkt (process) | cycles/pkt in (a) |")
            w("|---|---:|" + "---:|" * (len(names) + 3))
            for r in rows("stages"):
                st = r.get("stages") or {}
                a_row = self.row("fwd", r["variant"])
                w(f"| {r['variant']} | {f(r.get('mpps'))} | "
                  + " | ".join(f(st.get(k), '{:.1f}') for k in names)
                  + f" | {f(sum(st.values()) if st else None, '{:.1f}')} | {f(r.get('cycles_per_packet'), '{:.0f}')} "
                  f"| {f(a_row and a_row.get('cycles_per_packet'), '{:.0f}')} |")
            w("")
        if rows("memif"):
            w("## (b) testpmd txonly → memif → forwarder → null, or → memif → testpmd rxonly\n")
            w("Generator: testpmd txonly, 60-byte frames (64 with FCS) to the forwarder's MAC, one "
              "flow, on CPU 0. Forwarder on CPU 1. With the testpmd sink, the sink's lcore shares "
              "CPU 0 with the generator (three busy pollers on two vCPUs). Rates at the forwarder's "
              "egress; notes: offered by the generator, received by the sink.\n")
            bases = []
            for sink in ("null", "testpmd"):
                for b in ("testpmd-macswap", "l3fwd-lpm"):
                    if self.row("memif", f"{b} -> {sink}"):
                        bases.append(f"{b} -> {sink}")
            fwd_table("memif", rows("memif"), bases)
        if rows("storm"):
            w("## (c) Update storm: 1M bindings, forwarding while bindings are rewritten\n")
            w(f"Bindings loaded from the startup file (`--config`); then a window without updates "
              f"and a window while `sswctl batch` files of {self.a.storm_batch} updates "
              f"(`nat add M to M* epoch E`, random M, fresh M*, increasing epochs) are pushed "
              f"back to back; the files are written before the window, so that writing them "
              f"(Python, on the control thread's CPU) does not count against the router.\n")
            fwd_table("storm", rows("storm"), ["no updates"] if self.row("storm", "no updates") else [])
            ups = [s.get("updates_per_s") for s in (self.row("storm", "during updates") or {"samples": []})["samples"]]
            ups = [u for u in ups if u]
            if ups:
                w(f"Updates applied during the storm windows: median {median(ups) / 1e3:.0f}k/s "
                  f"(samples: {', '.join(f'{u / 1e3:.0f}k' for u in ups)}).\n")
            c = getattr(self, "storm_check_result", None)
            if c:
                w(f"**Translation check** ({c['seconds']}s, tx port captured with `tx_pcap`): "
                  f"{c['captured']} packets captured ({c['router_tx']} sent by the router), "
                  f"{c['correct']} translated to a care-of address their home address held at some "
                  f"point, {c['untranslated']} untranslated, {c['wrong']} wrong; "
                  f"{c['bad_checksums']} bad checksums among {c['checksums_checked']} checked "
                  f"(every 16th packet, IPv4 and UDP); {c['updates']} updates "
                  f"({c['updates_per_s'] / 1e3:.0f}k/s while the capture ran; writing the "
                  f"capture competes for the CPU).\n")
        if rows("scaling"):
            w("## (d) Scaling: one worker vs two (`-l 1` vs `-l 0,1`), port 0 with two rx queues\n")
            w(f"The pcap port has two rx queues (two rx_pcap files of {self.a.frames // 2} frames) "
              "in both runs; one worker polls one of them, two workers one each. Two workers "
              "take both vCPUs: the control thread, the benchmark driver and everything else on "
              "the machine then run on the forwarding cores.\n")
            w("| forwarder | 1 worker Mpps | 2 workers Mpps | 2 / 1 | cycles/pkt 1 | cycles/pkt 2 | others (cores) |")
            w("|---|---:|---:|---:|---:|---:|---:|")
            for v in dict.fromkeys(r["variant"].rsplit(" ", 1)[0] for r in rows("scaling")):
                r1, r2 = self.row("scaling", f"{v} x1"), self.row("scaling", f"{v} x2")
                w(f"| {v} | {f(r1 and r1.get('mpps'))} | {f(r2 and r2.get('mpps'))} | "
                  f"{f(self.ratio('scaling', f'{v} x2', f'{v} x1'))} | "
                  f"{f(r1 and r1.get('cycles_per_packet'), '{:.0f}')} | {f(r2 and r2.get('cycles_per_packet'), '{:.0f}')} | "
                  f"{f(r2 and r2.get('others_cores'))} |")
            w("")
        if rows("idle"):
            w("## (e) Idle cost and round-trip time, af_packet on veth, no traffic\n")
            w("ssw-router in its own network namespace between two host namespaces (veth pairs, "
              "af_packet PMD). Idle CPU: utime+stime of the router process over "
              f"{2 if self.a.quick else 10}s without traffic (100% = one core). RTT: `ping -i 0.2` "
              "from one host to the other through the router (medians of the pings, then of the "
              "repetitions); the router is idle between pings, so with a sleep above 0 each ping "
              "may find the worker asleep. `direct veth`: the same hosts on one veth pair.\n")
            w("| router | idle CPU % | by thread (%) | RTT median ms | RTT mean ms | RTT max ms | added RTT ms |")
            w("|---|---:|---|---:|---:|---:|---:|")
            for r in rows("idle"):
                s = r["samples"]
                cpu = median([x["idle_cpu_percent"] for x in s if x.get("idle_cpu_percent") is not None])
                added = median([x["added_rtt_ms"] for x in s if x.get("added_rtt_ms") is not None])
                threads = {}
                for x in s:
                    for k, v in x.get("threads_percent", {}).items():
                        threads.setdefault(k, []).append(v)
                by_thread = ", ".join(f"{k} {median(v):.1f}" for k, v in threads.items())
                w(f"| {r['variant']} | {f(cpu, '{:.1f}')} | {by_thread} | {f(median([x['rtt_median_ms'] for x in s]), '{:.3f}')} | "
                  f"{f(median([x['rtt_mean_ms'] for x in s]), '{:.3f}')} | {f(max(x['rtt_max_ms'] for x in s), '{:.3f}')} | "
                  f"{f(added, '{:.3f}')} |")
            w("")
        if self.notes:
            w("## Notes\n")
            for n in dict.fromkeys(self.notes):
                w(f"- {n}")
            w("")
        return "\n".join(out)


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
        subprocess.run([str(REPO / "scripts" / "setup-hugepages.sh")], check=False, timeout=60)
    if a.nat_frames is None:
        a.nat_frames = (262144 if not a.quick and a.huge != "no" and hugepages_free_mb() >= 1200
                        else a.frames)
    tag = f"sswb{os.getpid()}"
    workdir = Path(a.workdir) if a.workdir else Path(tempfile.mkdtemp(prefix=f"{tag}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    lab = Lab(workdir, tag)
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
                getattr(bench, f"case_{case}")()
            except BenchError as e:
                log(f"case {case} FAILED: {e}")
                failures.append(f"{case}: {e}")
            finally:
                lab.cleanup()
    except KeyboardInterrupt as e:
        failures.append(f"interrupted ({e})")
        log("interrupted: cleaning up")
        interrupted = True
    except BenchError as e:
        failures.append(str(e))
        log(f"FAILED: {e}")
    finally:
        lab.cleanup()
    bench.summarize()
    for f in failures:
        bench.notes.append("FAILED: " + f.splitlines()[0])
    report = bench.render(info, ["sudo", "/usr/bin/python3", "bench/run_bench.py", *argv])
    print("\n" + report)
    if a.results and interrupted:
        log(f"interrupted: {a.results} left as it was")
    elif a.results:
        Path(a.results).write_text(report + "\n")
        log(f"wrote {a.results}")
    if a.json:
        Path(a.json).write_text(json.dumps({"info": info, "buildtype": getattr(bench, "buildtype", "?"),
                                            "results": bench.results, "notes": bench.notes,
                                            "storm_check": getattr(bench, "storm_check_result", None),
                                            "failures": failures}, indent=1, default=str))
        log(f"wrote {a.json}")
    if a.keep_workdir or failures:
        log(f"logs kept in {workdir}/logs")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
