"""Bench: one invocation's state (options, binaries, samples, notes) and what the cases
share: building, starting the forwarders (testpmd, l3fwd, ssw-router), counting their
packets and measuring a window."""

import json
import os
import random
import re
import shlex
import shutil
import struct
import time
from pathlib import Path

from sswlab import router as sswrouter
from sswlab.eal import hugepages_free_mb
from sswlab.netns import cpu_seconds, run

from .common import (CARE_OF_BASE, HOME_BASE, L3FWD_SRC, PCAP_MAC, REPO, ROUTE_DST_NET,
                     BenchError, ip_str, log, median)
from .lab import Telemetry, wait_for
from .machine import host_busy_seconds, read_cpu_mhz
from .pcap import read_pcap, write_pcap


class Bench:
    def __init__(self, args, lab):
        self.a = args
        self.lab = lab
        self.wd = lab.workdir
        self.build = Path(args.build_dir).resolve()
        self.router = self.build / "control" / "ssw-router"
        self.sswctl = self.build / "control" / "sswctl"
        sswrouter.SSWCTL_BIN = str(self.sswctl)  # what Router.sswctl runs
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
        self.lookup_memory = "?"  # case lookup: the EAL memory nat_lookup_bench ran with
        self.storm_check_result = None  # case storm: the translation check

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
        cpu0 = [cpu_seconds(p.pid) for p in cpu_procs]
        ours0 = [cpu_seconds(p.pid) for p in all_procs]
        host0 = host_busy_seconds()
        time.sleep(self.a.duration)
        c1, t1 = count(), time.monotonic()
        s1 = snap() if snap else None
        cpu1 = [cpu_seconds(p.pid) for p in cpu_procs]
        ours1 = [cpu_seconds(p.pid) for p in all_procs]
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
        row = self.row(case, variant)
        if row is None:
            row = {"case": case, "variant": variant, "samples": []}
            self.results.append(row)
        row["samples"].append(sample)
        row.update(extra)
        log(f"  {case}/{variant}:"
            + (f" {sample['mpps']:.2f} Mpps" if sample.get("mpps") is not None else "")
            + (f" {sample['ms']:.3f} ms" if sample.get("ms") is not None else "")
            + (f", {sample['cycles_per_packet']:.0f} cycles/packet" if sample.get("cycles_per_packet") else "")
            + (f", others {sample['others_cores']} cores" if "others_cores" in sample else ""))
        return row

    def ratio(self, case, variant, base_variant, key="mpps"):
        """variant / base in Mpps; with key="cycles_per_packet", base cycles / variant cycles
        (packets per CPU-second, less sensitive to CPU taken by others), and so with any other
        cost (e.g. a time in ms: base / variant). The median of the
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

    def rows(self, case):
        return [r for r in self.results if r["case"] == case]

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
        return proc, Telemetry(prefix)

    def start_l3fwd(self, name, lcores, vdevs, config, mbufs, mem_mb):
        prefix = self.lab.prefix(name)
        argv = [str(self.l3fwd), "-l", lcores, "--no-pci", "--file-prefix", prefix, *self.mem_args(mem_mb)]
        for v in vdevs:
            argv += ["--vdev", v]
        argv += ["--", "-p", "0x3", f"--config={config}", "--parse-ptype"]
        proc = self.lab.start(name, argv, prefix=prefix, env={"SSW_BENCH_MBUFS": str(mbufs)})
        return proc, Telemetry(prefix)

    def start_ssw(self, name, lcores, vdevs, conf_text, mbufs, mem_mb, extra=(), ns=None, ports=(),
                  idle_sleep_us=0, ready_timeout=120, router=None):
        """An ssw-router (this build's, or `router`) on vdevs, or in namespace ns on af_packet
        ports; returns once it answers on its control socket, the Proc with .router (sswlab)
        and .ctl (its control connection)."""
        conf = self.wd / f"{self.lab.unique(name)}.conf"
        conf.write_text(conf_text)
        extra_args = ["--mbufs", str(mbufs), "--idle-sleep-us", str(idle_sleep_us), *extra]
        proc = self.lab.start_router(name, router or self.router, lcores, vdevs, conf,
                                     self.mem_args(mem_mb), extra_args, ns=ns, ports=ports)
        self.lab.wait_router(proc, ready_timeout)
        return proc

    @staticmethod
    def ssw_count(ctl):
        return lambda: ctl.ctl("show stats")["counters"]["tx_packets"]

    @staticmethod
    def tel_count(tel, port, field="opackets"):
        return lambda: tel.stats(port)[field]

    def wait_flowing(self, name, count, procs, timeout=60):
        wait_for(f"{name} to forward", lambda: count() or None, timeout, procs)

    @staticmethod
    def check_pcap_mac(ctl):
        ports = ctl.ctl("show ports")
        mac = ports[0]["mac"].lower()
        if mac != PCAP_MAC:
            raise BenchError(f"ssw's port 0 has MAC {mac}, the pcap frames are addressed to {PCAP_MAC}")

    @staticmethod
    def ssw_drops(ctl):
        return {k: v for k, v in ctl.ctl("show stats")["drops"].items() if v}

    @staticmethod
    def check_translated(ctl, pcap):
        """The bindings of the first destinations of the pcap file counted packets: the
        traffic was translated (the counters cannot tell otherwise)."""
        homes = []
        for fr in read_pcap(pcap):
            homes.append(ip_str(struct.unpack_from("!I", fr, 30)[0]))
            if len(homes) == 8:
                break
        for h in homes:
            rows = ctl.ctl(f"show nat {h}")
            if not rows or not rows[0].get("packets"):
                raise BenchError(f"the binding of {h} translated no packet: {rows}")

    def load_bindings(self, proc, n):
        """n bindings into a running router with `sswctl batch`; returns the seconds taken."""
        path = self.bindings_file(n)
        t0 = time.monotonic()
        proc.router.sswctl("batch", str(path), check=True, timeout=1800)
        return time.monotonic() - t0

    # ---- Google Benchmark programs (cases lookup and worker) ----

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
